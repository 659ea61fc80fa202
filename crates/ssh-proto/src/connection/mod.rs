//! The connection protocol (RFC 4254), shared by both roles: channels with per-channel flow
//! control, channel and global requests, keepalive and idle timeouts.
//!
//! Flow control is explicit. `channel_send` accepts what the peer's window (and our output
//! bound) allows and says [`ChannelError::Blocked`] when that is nothing;
//! [`Event::ChannelWritable`] follows when more fits. Received data is handed out as
//! `Bytes` views of the receive buffer, and the window the peer may fill is replenished only
//! when the application reports consumption (`channel_consumed`), so a slow reader pushes
//! back on its own channel and never on the others.
//!
//! Replies to requests are owed in order (RFC 4254 §§4, 5.4): answers the application gives
//! out of order are held until the earlier ones are given.

mod channel;
mod global;
pub mod modes;
mod open;
mod request;

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes};

pub use channel::{ChannelInfo, ChannelState};
pub use global::{GlobalReply, GlobalRequest, MAX_HOST_KEYS};
pub use modes::TerminalModes;
pub use open::{ChannelKind, OpenFailure};
pub use request::{ChannelRequest, ExitStatus, PtyRequest};

use crate::algorithm::HostKeyAlgorithm;
use crate::error::{Error, Limit, TimeoutKind};
use crate::event::Event;
use crate::keys;
use crate::transport::{Received, Side, Timer, Transport};
use crate::wire::connection::{
    self as wire, ChannelData, ChannelOpen, DATA_HEADER, EXTENDED_DATA_HEADER, OpenConfirmation,
    OpenFailure as WireOpenFailure, WindowAdjust,
};
use crate::wire::{Reader, WireWrite, msg};
use channel::Channel;

/// A `string` field as text (invalid UTF-8 replaced: names and paths from a peer are
/// shown and looked up, never trusted as valid).
fn text(r: &mut Reader<'_>) -> Result<String, crate::wire::WireError> {
    Ok(String::from_utf8_lossy(r.string()?).into_owned())
}

/// The rest of a message whose type this crate does not know.
fn rest(r: &mut Reader<'_>) -> Result<Bytes, crate::wire::WireError> {
    let data = r.remaining();
    r.bytes(data.len())?;
    Ok(Bytes::copy_from_slice(data))
}

/// Channel data at least this long is handed out without a copy (when it is also a good
/// part of the buffer it would pin, see [`MAX_PIN_RATIO`]).
const ZERO_COPY_MIN: usize = 16 * 1024;
/// Most receive-buffer bytes a zero-copy data view may keep alive, per byte of data.
const MAX_PIN_RATIO: usize = 8;

/// A channel: our local channel number, and which use of that number it is. Numbers are
/// reused once a channel closes; the generation keeps a command that was meant for the old
/// channel (answering an event raised before the close) from reaching the new one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelId {
    number: u32,
    generation: u32,
}

impl ChannelId {
    /// The local channel number (the one on the wire).
    pub fn number(self) -> u32 {
        self.number
    }
}

impl fmt::Display for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "channel {}", self.number)
    }
}

/// Identifies a channel request of the peer that waits for the application's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RequestToken(pub(crate) u64);

/// Identifies a global request: the peer's one waiting for an answer, or ours waiting for a
/// reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GlobalToken(pub(crate) u64);

/// Liveness probing (OpenSSH `ServerAliveInterval`/`ServerAliveCountMax` on a client,
/// `ClientAliveInterval`/`ClientAliveCountMax` on a server): when nothing has arrived for
/// `interval`, send `keepalive@openssh.com`; after `count_max` unanswered probes, give up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keepalive {
    /// Silence before a probe.
    pub interval: Duration,
    /// Unanswered probes before the connection is declared dead.
    pub count_max: u32,
}

/// Connection-protocol settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionConfig {
    /// Receive window of each channel we open or accept (default 2 MiB, as OpenSSH).
    pub window: u32,
    /// Largest data packet we accept per channel (default 64 KiB).
    pub max_packet: u32,
    /// Most channels at once, including ones waiting for an answer (default 1024). Opens
    /// beyond it are refused with `RESOURCE_SHORTAGE`.
    pub max_channels: usize,
    /// Most requests of the peer (per channel, and global) waiting for the application's
    /// answer; a peer that piles up more is disconnected (default 64).
    pub max_pending_requests: usize,
    /// Keepalive probing (default off).
    pub keepalive: Option<Keepalive>,
    /// Close the connection after this long without channel activity (default off).
    pub idle_timeout: Option<Duration>,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        Self {
            window: 2 * 1024 * 1024,
            max_packet: 64 * 1024,
            max_channels: 1024,
            max_pending_requests: 64,
            keepalive: None,
            idle_timeout: None,
        }
    }
}

impl ConnectionConfig {
    /// Checks the settings against the transport's limits: a peer filling our announced
    /// maximum packet must stay within the packet size we accept.
    pub(crate) fn validate(&self, limits: &crate::Limits) -> Result<(), Error> {
        let bad = |why: &str| Err(Error::Config(why.to_owned()));
        if self.window == 0 {
            return bad("channel window must not be zero");
        }
        if self.max_packet < 512 || self.max_packet as usize > limits.max_packet.saturating_sub(1024) {
            return bad("channel max_packet must be at least 512 and 1 KiB below the transport's max_packet");
        }
        if self.max_channels == 0 || self.max_pending_requests == 0 {
            return bad("max_channels and max_pending_requests must be at least 1");
        }
        Ok(())
    }
}

/// Why a channel command did nothing. These never end the connection, except
/// [`ChannelError::Connection`], which reports that it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChannelError {
    /// No such channel (never opened, or already closed).
    Unknown(ChannelId),
    /// The channel is not open (the open is not confirmed or accepted yet).
    NotOpen(ChannelId),
    /// We already sent EOF or CLOSE on this channel.
    Finished(ChannelId),
    /// Nothing fits now (the peer's window or our output bound is full): wait for
    /// [`Event::ChannelWritable`].
    Blocked(ChannelId),
    /// The connection protocol is not running yet (not authenticated).
    NotReady,
    /// A token that matches nothing pending.
    StaleToken,
    /// `ConnectionConfig::max_channels` channels are in use.
    TooManyChannels,
    /// The output queue is full (`Limits::max_pending_output`, or `Limits::max_deferred`
    /// during a key exchange); nothing was sent. Retry after `poll_transmit` or the next
    /// `ChannelWritable`.
    OutputFull,
    /// The connection has failed or closed.
    Connection(Error),
}

impl fmt::Display for ChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown(id) => write!(f, "{id} does not exist"),
            Self::NotOpen(id) => write!(f, "{id} is not open"),
            Self::Finished(id) => write!(f, "{id}: already sent EOF or CLOSE"),
            Self::Blocked(id) => write!(f, "{id}: blocked by flow control"),
            Self::NotReady => f.write_str("the connection protocol is not running (not authenticated)"),
            Self::StaleToken => f.write_str("no such pending request"),
            Self::TooManyChannels => f.write_str("too many channels"),
            Self::OutputFull => f.write_str("output queue full"),
            Self::Connection(e) => write!(f, "connection: {e}"),
        }
    }
}

impl std::error::Error for ChannelError {}

impl From<Error> for ChannelError {
    fn from(e: Error) -> Self {
        match e {
            Error::OutputFull => Self::OutputFull,
            e => Self::Connection(e),
        }
    }
}

/// What one of our want-reply global requests was, to interpret its reply.
#[derive(Debug)]
enum GlobalOut {
    /// Our keepalive probe: the reply only proves liveness.
    Keepalive,
    /// `hostkeys-prove-00@openssh.com` for these blobs.
    Prove(Vec<Bytes>),
    /// An application request; `port0` when it was `tcpip-forward` asking for any port.
    App { token: u64, port0: bool },
}

/// The connection-protocol state of one connection.
#[derive(Debug)]
pub(crate) struct ConnectionLayer {
    cfg: ConnectionConfig,
    /// Indexed by local channel number.
    channels: Vec<Option<Box<Channel>>>,
    live: usize,
    generations: u32,
    global_out: VecDeque<GlobalOut>,
    global_in: VecDeque<(u64, Option<GlobalReply>)>,
    active: bool,
    no_more_sessions: bool,
    /// A send was cut short by the output bound (not a window): tell the waiting channels
    /// when room frees.
    room_blocked: bool,
    probes_outstanding: u32,
    /// We sent channel traffic since the idle timer was armed (commands carry no time, so
    /// the timer is re-armed when it fires instead).
    sent_activity: bool,
}

fn stale() -> ChannelError {
    ChannelError::StaleToken
}

impl ConnectionLayer {
    pub(crate) fn new(cfg: ConnectionConfig) -> Self {
        Self {
            cfg,
            channels: Vec::new(),
            live: 0,
            generations: 0,
            global_out: VecDeque::new(),
            global_in: VecDeque::new(),
            active: false,
            no_more_sessions: false,
            room_blocked: false,
            probes_outstanding: 0,
            sent_activity: false,
        }
    }

    pub(crate) fn is_active(&self) -> bool {
        self.active
    }

    /// Starts the connection protocol (authentication succeeded).
    pub(crate) fn activate(&mut self, t: &mut Transport, now: Instant) {
        self.sent_activity = false;
        self.active = true;
        self.arm_keepalive(t, now);
        self.touch(t, now);
    }

    fn arm_keepalive(&self, t: &mut Transport, now: Instant) {
        t.set_timer(Timer::Keepalive, self.cfg.keepalive.map(|k| now + k.interval));
    }

    /// Channel activity from the peer: restarts the idle timer.
    fn touch(&self, t: &mut Transport, now: Instant) {
        t.set_timer(Timer::Idle, self.cfg.idle_timeout.map(|d| now + d));
    }

    /// Channel activity of ours (a command, which knows no time): noted for the idle timer.
    fn touch_sent(&mut self) {
        self.sent_activity = true;
    }

    /// The idle timer fired: idle unless we sent channel traffic since it was armed.
    pub(crate) fn on_idle(&mut self, t: &mut Transport, now: Instant) -> Result<(), Error> {
        if !self.active {
            return Ok(());
        }
        if std::mem::take(&mut self.sent_activity) {
            self.touch(t, now);
            return Ok(());
        }
        Err(Error::Timeout(TimeoutKind::Idle))
    }

    fn ready(&self, t: &Transport) -> Result<(), ChannelError> {
        if t.is_closed() {
            Err(ChannelError::Connection(Error::Closed))
        } else if !self.active {
            Err(ChannelError::NotReady)
        } else {
            Ok(())
        }
    }

    fn get(&self, id: ChannelId) -> Result<&Channel, ChannelError> {
        self.channels
            .get(id.number as usize)
            .and_then(|c| c.as_deref())
            .filter(|c| c.generation == id.generation)
            .ok_or(ChannelError::Unknown(id))
    }

    fn get_mut(&mut self, id: ChannelId) -> Result<&mut Channel, ChannelError> {
        self.channels
            .get_mut(id.number as usize)
            .and_then(|c| c.as_deref_mut())
            .filter(|c| c.generation == id.generation)
            .ok_or(ChannelError::Unknown(id))
    }

    /// The channel a peer message names, and its id; an unknown number is a protocol error.
    fn peer_channel(&mut self, number: u8, recipient: u32) -> Result<(ChannelId, &mut Channel), Error> {
        let ch = self
            .channels
            .get_mut(recipient as usize)
            .and_then(|c| c.as_deref_mut())
            .ok_or(Error::UnknownChannel { msg: number, channel: recipient })?;
        Ok((ChannelId { number: recipient, generation: ch.generation }, ch))
    }

    fn allocate(&mut self, mut ch: Channel) -> Option<ChannelId> {
        if self.live >= self.cfg.max_channels {
            return None;
        }
        self.generations = self.generations.wrapping_add(1);
        ch.generation = self.generations;
        let slot = match self.channels.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                self.channels.push(None);
                self.channels.len() - 1
            }
        };
        let number = u32::try_from(slot).ok()?;
        let generation = ch.generation;
        *self.channels.get_mut(slot)? = Some(Box::new(ch));
        self.live += 1;
        Some(ChannelId { number, generation })
    }

    fn free(&mut self, id: ChannelId) -> Option<Box<Channel>> {
        self.get(id).ok()?;
        let ch = self.channels.get_mut(id.number as usize)?.take()?;
        self.live -= 1;
        // Keep the table short once the tail empties.
        while self.channels.last().is_some_and(Option::is_none) {
            self.channels.pop();
        }
        Some(ch)
    }

    // ---- commands: channels --------------------------------------------------------------

    pub(crate) fn open(&mut self, t: &mut Transport, kind: &ChannelKind) -> Result<ChannelId, ChannelError> {
        self.ready(t)?;
        let ch = Channel::new(ChannelState::Opening, self.cfg.window, self.cfg.max_packet);
        let id = self.allocate(ch).ok_or(ChannelError::TooManyChannels)?;
        let open = ChannelOpen {
            kind: kind.name(),
            sender: id.number,
            window: self.cfg.window,
            max_packet: self.cfg.max_packet,
            data: &[],
        };
        if let Err(e) = t.send_command(|w| {
            open.encode_header(w);
            kind.encode_data(w);
        }) {
            self.free(id);
            return Err(e.into());
        }
        self.touch_sent();
        Ok(id)
    }

    pub(crate) fn accept(&mut self, t: &mut Transport, id: ChannelId) -> Result<(), ChannelError> {
        self.ready(t)?;
        let (window, max_packet) = (self.cfg.window, self.cfg.max_packet);
        let ch = self.get_mut(id)?;
        if ch.state != ChannelState::PendingAccept {
            return Err(ChannelError::NotOpen(id));
        }
        let conf = OpenConfirmation { recipient: ch.remote_id, sender: id.number, window, max_packet, data: &[] };
        t.send_command(|w| conf.encode(w))?;
        ch.state = ChannelState::Open;
        Ok(())
    }

    pub(crate) fn reject(
        &mut self,
        t: &mut Transport,
        id: ChannelId,
        reason: OpenFailure,
        description: &str,
    ) -> Result<(), ChannelError> {
        self.ready(t)?;
        let ch = self.get(id)?;
        if ch.state != ChannelState::PendingAccept {
            return Err(ChannelError::NotOpen(id));
        }
        let f = WireOpenFailure {
            recipient: ch.remote_id,
            reason: reason.code(),
            description: description.as_bytes(),
            language: b"",
        };
        t.send_command(|w| f.encode(w))?;
        self.free(id);
        Ok(())
    }

    /// Sends as much of `data` as fits; `code` is the extended data type (1 = stderr).
    pub(crate) fn send_data(
        &mut self,
        t: &mut Transport,
        id: ChannelId,
        code: Option<u32>,
        data: &[u8],
    ) -> Result<usize, ChannelError> {
        self.ready(t)?;
        let header = if code.is_some() { EXTENDED_DATA_HEADER } else { DATA_HEADER };
        let max_payload = t.max_payload();
        // A field borrow, not `get_mut`: `room_blocked` is updated while `ch` is in use.
        let ch = self
            .channels
            .get_mut(id.number as usize)
            .and_then(|c| c.as_deref_mut())
            .filter(|c| c.generation == id.generation)
            .ok_or(ChannelError::Unknown(id))?;
        if ch.state != ChannelState::Open {
            return Err(ChannelError::NotOpen(id));
        }
        if ch.eof_sent || ch.close_sent {
            return Err(ChannelError::Finished(id));
        }
        if data.is_empty() {
            return Ok(0);
        }
        let mut sent = 0usize;
        let mut room_limited = false;
        while sent < data.len() {
            let room = t.data_room().saturating_sub(header + 64);
            let window = ch.send_window.min(ch.send_max_packet) as usize;
            let n = (data.len() - sent).min(window).min(max_payload.saturating_sub(header)).min(room);
            if n == 0 {
                room_limited = window > 0;
                break;
            }
            let chunk = data.get(sent..sent + n).unwrap_or_default();
            let packet = ChannelData { recipient: ch.remote_id, code, data: chunk };
            t.send_sized(header + n, |w| packet.encode(w))?;
            ch.send_window -= n as u32;
            sent += n;
        }
        if sent < data.len() {
            ch.want_writable = true;
            self.room_blocked |= room_limited;
        }
        if sent == 0 {
            return Err(ChannelError::Blocked(id));
        }
        self.touch_sent();
        Ok(sent)
    }

    /// A channel that closed meanwhile has nothing to replenish: no effect then.
    pub(crate) fn consumed(&mut self, t: &mut Transport, id: ChannelId, n: usize) -> Result<(), ChannelError> {
        self.ready(t)?;
        let Ok(ch) = self.get_mut(id) else { return Ok(()) };
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        if let Some(bytes) = ch.consume(n)
            && !ch.eof_received
        {
            let adjust = WindowAdjust { recipient: ch.remote_id, bytes };
            if let Err(e) = t.send_command(|w| adjust.encode(w)) {
                // Not sent: the credit stays ours to return later.
                ch.recv_window -= bytes;
                ch.unadjusted += bytes;
                return Err(e.into());
            }
        }
        Ok(())
    }

    /// Like `close`, no effect on a channel that is already gone.
    pub(crate) fn eof(&mut self, t: &mut Transport, id: ChannelId) -> Result<(), ChannelError> {
        self.ready(t)?;
        let Ok(ch) = self.get_mut(id) else { return Ok(()) };
        if ch.state != ChannelState::Open {
            return Err(ChannelError::NotOpen(id));
        }
        if ch.eof_sent || ch.close_sent {
            return Ok(());
        }
        t.send_command(|w| wire::encode_recipient(msg::CHANNEL_EOF, ch.remote_id, w))?;
        ch.eof_sent = true;
        Ok(())
    }

    /// Closing a channel that is already gone (the peer's CLOSE came first) has no effect.
    pub(crate) fn close(&mut self, t: &mut Transport, id: ChannelId) -> Result<(), ChannelError> {
        self.ready(t)?;
        let Ok(ch) = self.get_mut(id) else { return Ok(()) };
        match ch.state {
            ChannelState::Open => {}
            // Not confirmed yet: the CLOSE goes out once it is (RFC 4254 §5.3 needs the
            // peer's number); remember the wish.
            ChannelState::Opening => {
                ch.close_sent = true;
                return Ok(());
            }
            ChannelState::PendingAccept => return Err(ChannelError::NotOpen(id)),
        }
        if ch.close_sent {
            return Ok(());
        }
        t.send_command(|w| wire::encode_recipient(msg::CHANNEL_CLOSE, ch.remote_id, w))?;
        ch.close_sent = true;
        self.touch_sent();
        Ok(())
    }

    pub(crate) fn request(
        &mut self,
        t: &mut Transport,
        id: ChannelId,
        req: &ChannelRequest,
        want_reply: bool,
    ) -> Result<(), ChannelError> {
        self.ready(t)?;
        let ch = self.get_mut(id)?;
        if ch.state != ChannelState::Open {
            return Err(ChannelError::NotOpen(id));
        }
        if ch.close_sent {
            return Err(ChannelError::Finished(id));
        }
        // Requests come from the application, as many as it likes (a loop of `env` or
        // `signal`): they wait for the peer to take output, as channel data does.
        if t.output_full() {
            return Err(ChannelError::OutputFull);
        }
        t.send_command(|w| {
            wire::ChannelRequest::encode_header(ch.remote_id, req.name(), want_reply, w);
            req.encode_data(w);
        })?;
        if want_reply {
            ch.requests_out.push_back(req.name().into());
        }
        Ok(())
    }

    pub(crate) fn request_reply(
        &mut self,
        t: &mut Transport,
        id: ChannelId,
        token: RequestToken,
        success: bool,
    ) -> Result<(), ChannelError> {
        self.ready(t)?;
        let ch = self.get_mut(id)?;
        let slot = ch.requests_in.iter_mut().find(|(tok, ans)| *tok == token.0 && ans.is_none()).ok_or_else(stale)?;
        slot.1 = Some(success);
        Self::flush_request_replies(t, ch)?;
        Ok(())
    }

    fn flush_request_replies(t: &mut Transport, ch: &mut Channel) -> Result<(), Error> {
        while let Some((_, Some(ok))) = ch.requests_in.front() {
            let number = if *ok { msg::CHANNEL_SUCCESS } else { msg::CHANNEL_FAILURE };
            if !ch.close_sent {
                t.send(|w| wire::encode_recipient(number, ch.remote_id, w))?;
            }
            ch.requests_in.pop_front();
        }
        Ok(())
    }

    pub(crate) fn info(&self, id: ChannelId) -> Option<ChannelInfo> {
        self.get(id).ok().map(Channel::info)
    }

    pub(crate) fn exit_status(&self, id: ChannelId) -> Option<&ExitStatus> {
        self.get(id).ok().and_then(|c| c.exit.as_ref())
    }

    pub(crate) fn channel_count(&self) -> usize {
        self.live
    }

    pub(crate) fn ids(&self) -> Vec<ChannelId> {
        self.channels
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.as_ref().map(|c| ChannelId { number: i as u32, generation: c.generation }))
            .collect()
    }

    // ---- commands: global requests ---------------------------------------------------------

    pub(crate) fn global_request(
        &mut self,
        t: &mut Transport,
        req: &GlobalRequest,
        want_reply: bool,
    ) -> Result<Option<GlobalToken>, ChannelError> {
        self.ready(t)?;
        t.send_command(|w| {
            wire::GlobalRequest::encode_header(req.name(), want_reply, w);
            req.encode_data(w);
        })?;
        if !want_reply {
            return Ok(None);
        }
        let token = t.next_token;
        t.next_token += 1;
        let port0 = matches!(req, GlobalRequest::TcpipForward { port: 0, .. });
        let entry = match req {
            GlobalRequest::HostKeysProve { keys } => GlobalOut::Prove(keys.clone()),
            _ => GlobalOut::App { token, port0 },
        };
        self.global_out.push_back(entry);
        Ok(Some(GlobalToken(token)))
    }

    pub(crate) fn global_reply(
        &mut self,
        t: &mut Transport,
        token: GlobalToken,
        reply: GlobalReply,
    ) -> Result<(), ChannelError> {
        self.ready(t)?;
        let slot = self.global_in.iter_mut().find(|(tok, ans)| *tok == token.0 && ans.is_none()).ok_or_else(stale)?;
        slot.1 = Some(reply);
        self.flush_global_replies(t)?;
        Ok(())
    }

    fn flush_global_replies(&mut self, t: &mut Transport) -> Result<(), Error> {
        while let Some((_, Some(reply))) = self.global_in.front() {
            match reply {
                GlobalReply::Success { bound_port, data } => t.send(|w| {
                    w.put_u8(msg::REQUEST_SUCCESS);
                    if let Some(p) = bound_port {
                        w.put_u32(*p);
                    }
                    w.put_slice(data);
                })?,
                GlobalReply::Failure => t.send(|w| w.put_u8(msg::REQUEST_FAILURE))?,
            }
            self.global_in.pop_front();
        }
        Ok(())
    }

    /// Answers a global request of the peer ourselves, in order with the application's.
    fn answer_global(&mut self, t: &mut Transport, reply: GlobalReply) -> Result<(), Error> {
        t.check_reply_room()?;
        self.global_in.push_back((u64::MAX, Some(reply)));
        self.flush_global_replies(t)
    }

    // ---- timers and output ---------------------------------------------------------------

    /// Something arrived from the peer: it is alive.
    pub(crate) fn received(&mut self, t: &mut Transport, now: Instant) {
        if self.active {
            self.probes_outstanding = 0;
            self.arm_keepalive(t, now);
        }
    }

    pub(crate) fn on_keepalive(&mut self, t: &mut Transport, now: Instant) -> Result<(), Error> {
        let Some(k) = self.cfg.keepalive.filter(|_| self.active) else { return Ok(()) };
        if self.probes_outstanding >= k.count_max {
            return Err(Error::Timeout(TimeoutKind::Keepalive));
        }
        t.send(|w| wire::GlobalRequest::encode_header(GlobalRequest::Keepalive.name(), true, w))?;
        self.global_out.push_back(GlobalOut::Keepalive);
        self.probes_outstanding += 1;
        self.arm_keepalive(t, now);
        Ok(())
    }

    /// Output room freed (the driver took bytes, or a key exchange ended): wake the
    /// channels that were cut short by it.
    pub(crate) fn room_freed(&mut self, t: &mut Transport) {
        if !self.room_blocked || !t.data_room_ample() {
            return;
        }
        self.room_blocked = false;
        for (i, slot) in self.channels.iter_mut().enumerate() {
            if let Some(ch) = slot.as_deref_mut()
                && ch.want_writable
                && ch.send_window > 0
            {
                ch.want_writable = false;
                let id = ChannelId { number: i as u32, generation: ch.generation };
                t.events.push_back(Event::ChannelWritable { id });
            }
        }
    }

    // ---- input ---------------------------------------------------------------------------

    /// Handles a connection-protocol message (80–127).
    pub(crate) fn handle(&mut self, t: &mut Transport, number: u8, pkt: &Received, now: Instant) -> Result<(), Error> {
        let payload = &pkt.payload;
        let bad = Transport::wire_error(number);
        if !self.active {
            return Err(Error::UnexpectedMessage {
                msg: number,
                expected: "authentication before the connection protocol",
            });
        }
        match number {
            msg::CHANNEL_DATA | msg::CHANNEL_EXTENDED_DATA => {
                let d = ChannelData::decode(payload).map_err(bad)?;
                let (offset, len, code) = (d.data_offset(), d.data.len(), d.code);
                let recipient = d.recipient;
                let (id, ch) = self.peer_channel(number, recipient)?;
                if ch.state != ChannelState::Open {
                    return Err(Error::UnexpectedMessage { msg: number, expected: "data on an open channel" });
                }
                if ch.eof_received {
                    return Err(Error::ChannelProtocol {
                        channel: recipient,
                        violation: ChannelViolation::DataAfterEof,
                    });
                }
                let n = u32::try_from(len).unwrap_or(u32::MAX);
                if n > ch.recv_window {
                    return Err(Error::ChannelProtocol {
                        channel: recipient,
                        violation: ChannelViolation::WindowExceeded,
                    });
                }
                if n > ch.recv_max_packet {
                    return Err(Error::ChannelProtocol {
                        channel: recipient,
                        violation: ChannelViolation::PacketTooLarge,
                    });
                }
                ch.recv_window -= n;
                if ch.close_sent {
                    // We are closing: the data goes nowhere, but the window still counts.
                    let _ = ch.consume(n);
                    return Ok(());
                }
                if n > 0 {
                    // A view pins the receive buffer it came from: hand out views only of
                    // data that is a good part of that buffer, copy the rest, so data held
                    // by a slow reader never keeps more than ~8× its size alive.
                    let data = if len >= ZERO_COPY_MIN && len.saturating_mul(MAX_PIN_RATIO) >= pkt.shares {
                        payload.slice(offset..offset + len)
                    } else {
                        Bytes::copy_from_slice(payload.get(offset..offset + len).unwrap_or_default())
                    };
                    t.events.push_back(match code {
                        None => Event::ChannelData { id, data },
                        Some(code) => Event::ChannelExtendedData { id, code, data },
                    });
                }
                self.touch(t, now);
                Ok(())
            }
            msg::CHANNEL_WINDOW_ADJUST => {
                let a = WindowAdjust::decode(payload).map_err(bad)?;
                // A peer may send an adjust after its CLOSE (Paramiko does when a reader
                // thread races its transport thread), and after its CLOSE the number is
                // gone here. OpenSSH ignores such adjusts; so do we: they carry nothing.
                if self.channels.get(a.recipient as usize).is_none_or(Option::is_none) {
                    return Ok(());
                }
                let (id, ch) = self.peer_channel(number, a.recipient)?;
                if ch.state != ChannelState::Open {
                    return Err(Error::UnexpectedMessage { msg: number, expected: "window adjust on an open channel" });
                }
                ch.send_window = ch.send_window.checked_add(a.bytes).ok_or(Error::ChannelProtocol {
                    channel: a.recipient,
                    violation: ChannelViolation::WindowOverflow,
                })?;
                if ch.want_writable && ch.send_window > 0 && !ch.close_sent && !ch.eof_sent {
                    ch.want_writable = false;
                    t.events.push_back(Event::ChannelWritable { id });
                }
                Ok(())
            }
            msg::CHANNEL_EOF => {
                let recipient = wire::decode_recipient(payload, number).map_err(bad)?;
                let (id, ch) = self.peer_channel(number, recipient)?;
                if ch.state != ChannelState::Open {
                    return Err(Error::UnexpectedMessage { msg: number, expected: "EOF on an open channel" });
                }
                if ch.eof_received {
                    return Err(Error::ChannelProtocol {
                        channel: recipient,
                        violation: ChannelViolation::DataAfterEof,
                    });
                }
                ch.eof_received = true;
                if !ch.close_sent {
                    t.events.push_back(Event::ChannelEof { id });
                }
                Ok(())
            }
            msg::CHANNEL_CLOSE => {
                let recipient = wire::decode_recipient(payload, number).map_err(bad)?;
                let (id, ch) = self.peer_channel(number, recipient)?;
                if ch.state != ChannelState::Open {
                    return Err(Error::UnexpectedMessage { msg: number, expected: "CLOSE on an open channel" });
                }
                if !ch.close_sent {
                    t.send(|w| wire::encode_recipient(msg::CHANNEL_CLOSE, ch.remote_id, w))?;
                }
                let exit = self.free(id).and_then(|c| c.exit);
                t.events.push_back(Event::ChannelClosed { id, exit });
                self.touch(t, now);
                Ok(())
            }
            msg::CHANNEL_OPEN => self.peer_open(t, payload, now),
            msg::CHANNEL_OPEN_CONFIRMATION => {
                let c = OpenConfirmation::decode(payload).map_err(bad)?;
                let (id, ch) = self.peer_channel(number, c.recipient)?;
                if ch.state != ChannelState::Opening {
                    return Err(Error::UnexpectedMessage {
                        msg: number,
                        expected: "confirmation of a channel we opened",
                    });
                }
                ch.state = ChannelState::Open;
                ch.remote_id = c.sender;
                ch.send_window = c.window;
                ch.send_max_packet = c.max_packet;
                if ch.close_sent {
                    // Closed by the application before the confirmation arrived.
                    t.send(|w| wire::encode_recipient(msg::CHANNEL_CLOSE, c.sender, w))?;
                } else {
                    t.events.push_back(Event::ChannelOpened { id });
                }
                Ok(())
            }
            msg::CHANNEL_OPEN_FAILURE => {
                let f = WireOpenFailure::decode(payload).map_err(bad)?;
                let (id, ch) = self.peer_channel(number, f.recipient)?;
                if ch.state != ChannelState::Opening {
                    return Err(Error::UnexpectedMessage { msg: number, expected: "failure of a channel we opened" });
                }
                self.free(id);
                let description: String = String::from_utf8_lossy(f.description).chars().take(1024).collect();
                t.events.push_back(Event::ChannelOpenFailed {
                    id,
                    reason: OpenFailure::from_code(f.reason),
                    description,
                });
                Ok(())
            }
            msg::CHANNEL_REQUEST => self.peer_request(t, payload),
            msg::CHANNEL_SUCCESS | msg::CHANNEL_FAILURE => {
                let recipient = wire::decode_recipient(payload, number).map_err(bad)?;
                let (id, ch) = self.peer_channel(number, recipient)?;
                let Some(request) = ch.requests_out.pop_front() else {
                    return Err(Error::UnexpectedMessage {
                        msg: number,
                        expected: "a reply only to a want-reply request",
                    });
                };
                t.events.push_back(Event::ChannelRequestResult {
                    id,
                    request: request.into(),
                    success: number == msg::CHANNEL_SUCCESS,
                });
                Ok(())
            }
            msg::GLOBAL_REQUEST => self.peer_global(t, payload),
            msg::REQUEST_SUCCESS | msg::REQUEST_FAILURE => {
                let Some(out) = self.global_out.pop_front() else {
                    return Err(Error::UnexpectedMessage {
                        msg: number,
                        expected: "a reply only to a want-reply request",
                    });
                };
                let data = if number == msg::REQUEST_SUCCESS {
                    Some(wire::decode_request_success(payload).map_err(bad)?)
                } else {
                    Reader::new(payload.get(1..).unwrap_or_default()).finish().map_err(bad)?;
                    None
                };
                match out {
                    GlobalOut::Keepalive => Ok(()),
                    GlobalOut::Prove(blobs) => {
                        let keys = match data {
                            Some(d) => verify_proofs(t, &blobs, d),
                            None => Vec::new(),
                        };
                        t.events.push_back(Event::HostKeysProved { keys });
                        Ok(())
                    }
                    GlobalOut::App { token, port0 } => {
                        let reply = match data {
                            None => GlobalReply::Failure,
                            Some(d) => {
                                let mut r = Reader::new(d);
                                let bound_port = if port0 { Some(r.u32().map_err(bad)?) } else { None };
                                GlobalReply::Success {
                                    bound_port,
                                    data: payload.slice(payload.len() - r.remaining().len()..),
                                }
                            }
                        };
                        t.events.push_back(Event::GlobalRequestResult { token: GlobalToken(token), reply });
                        Ok(())
                    }
                }
            }
            // Unassigned connection-protocol numbers (RFC 4253 §11.4).
            _ => t.send_unimplemented(pkt.seq),
        }
    }

    fn peer_open(&mut self, t: &mut Transport, payload: &Bytes, now: Instant) -> Result<(), Error> {
        let bad = Transport::wire_error(msg::CHANNEL_OPEN);
        let o = ChannelOpen::decode(payload).map_err(bad)?;
        let kind = ChannelKind::decode(o.kind, o.data).map_err(bad)?;
        if matches!(kind, ChannelKind::Session) && self.no_more_sessions {
            // OpenSSH disconnects too: the client promised not to.
            return Err(Error::UnexpectedMessage {
                msg: msg::CHANNEL_OPEN,
                expected: "no session after no-more-sessions",
            });
        }
        let mut ch = Channel::new(ChannelState::PendingAccept, self.cfg.window, self.cfg.max_packet);
        ch.remote_id = o.sender;
        ch.send_window = o.window;
        ch.send_max_packet = o.max_packet;
        match self.allocate(ch) {
            Some(id) => {
                t.events.push_back(Event::ChannelOpenRequest { id, kind });
                self.touch(t, now);
                Ok(())
            }
            None => {
                t.check_reply_room()?;
                let f = WireOpenFailure {
                    recipient: o.sender,
                    reason: OpenFailure::ResourceShortage.code(),
                    description: b"too many channels",
                    language: b"",
                };
                t.send(|w| f.encode(w))
            }
        }
    }

    fn peer_request(&mut self, t: &mut Transport, payload: &Bytes) -> Result<(), Error> {
        let number = msg::CHANNEL_REQUEST;
        let bad = Transport::wire_error(number);
        let r = wire::ChannelRequest::decode(payload).map_err(bad)?;
        let request = ChannelRequest::decode(r.name, r.data).map_err(bad)?;
        let max_pending = self.cfg.max_pending_requests;
        let token = t.next_token;
        t.next_token += 1;
        let (id, ch) = self.peer_channel(number, r.recipient)?;
        if ch.state != ChannelState::Open {
            return Err(Error::UnexpectedMessage { msg: number, expected: "a request on an open channel" });
        }
        // Answered here: exit status (kept for the close event) and probes.
        let auto = match &request {
            ChannelRequest::Exit(status) => {
                ch.exit = Some(status.clone());
                Some(true)
            }
            ChannelRequest::Keepalive => Some(false),
            _ => None,
        };
        if ch.close_sent {
            // We are closing: no reply goes out any more and nobody acts on the request.
            return Ok(());
        }
        if r.want_reply {
            if ch.requests_in.len() >= max_pending {
                return Err(Error::LimitExceeded(Limit::PendingRequests));
            }
            if auto.is_some() {
                t.check_reply_room()?;
            }
            ch.requests_in.push_back((token, auto));
        }
        if auto.is_some() {
            return Self::flush_request_replies(t, ch);
        }
        let token = r.want_reply.then_some(RequestToken(token));
        t.events.push_back(Event::ChannelRequest { id, token, request });
        Ok(())
    }

    fn peer_global(&mut self, t: &mut Transport, payload: &Bytes) -> Result<(), Error> {
        let bad = Transport::wire_error(msg::GLOBAL_REQUEST);
        let g = wire::GlobalRequest::decode(payload).map_err(bad)?;
        let request = GlobalRequest::decode(g.name, g.data).map_err(bad)?;
        if g.want_reply && self.global_in.len() >= self.cfg.max_pending_requests {
            return Err(Error::LimitExceeded(Limit::PendingRequests));
        }
        let auto = match &request {
            GlobalRequest::Keepalive => Some(GlobalReply::Failure),
            GlobalRequest::NoMoreSessions => {
                self.no_more_sessions = true;
                Some(GlobalReply::Success { bound_port: None, data: Bytes::new() })
            }
            // Each proof is a signature: at most one per host key we have.
            GlobalRequest::HostKeysProve { keys } => Some(match prove_host_keys(t, keys) {
                Some(data) => GlobalReply::Success { bound_port: None, data: data.into() },
                None => GlobalReply::Failure,
            }),
            GlobalRequest::HostKeys { keys } => {
                if t.is_client() {
                    let keys = keys.iter().filter_map(|b| ssh_key::PublicKey::from_bytes(b).ok()).collect();
                    t.events.push_back(Event::HostKeysAnnounced { keys });
                }
                Some(GlobalReply::Failure)
            }
            _ => None,
        };
        match (auto, g.want_reply) {
            (Some(reply), true) => self.answer_global(t, reply),
            (Some(_), false) => Ok(()),
            (None, want_reply) => {
                let token = t.next_token;
                t.next_token += 1;
                if want_reply {
                    self.global_in.push_back((token, None));
                }
                t.events.push_back(Event::GlobalRequest { token: want_reply.then_some(GlobalToken(token)), request });
                Ok(())
            }
        }
    }
}

/// Ways a peer can break the rules of one channel; each is a protocol error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChannelViolation {
    /// More data than the window allowed.
    WindowExceeded,
    /// A data packet larger than the maximum we announced.
    PacketTooLarge,
    /// Data or EOF after EOF.
    DataAfterEof,
    /// A window adjustment past 2^32 − 1.
    WindowOverflow,
}

impl fmt::Display for ChannelViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::WindowExceeded => "data beyond the window",
            Self::PacketTooLarge => "data packet larger than the maximum packet size",
            Self::DataAfterEof => "data after EOF",
            Self::WindowOverflow => "window adjustment overflows the window",
        })
    }
}

/// The data a host key proof signs (OpenSSH PROTOCOL §2.5).
fn proof_data(session_id: &[u8], blob: &[u8]) -> Vec<u8> {
    let mut d = Vec::with_capacity(session_id.len() + blob.len() + 48);
    d.put_string(b"hostkeys-prove-00@openssh.com");
    d.put_string(session_id);
    d.put_string(blob);
    d
}

/// Server: signatures proving possession of each requested host key, or `None` if one is
/// not ours (OpenSSH fails the whole request then).
fn prove_host_keys(t: &mut Transport, blobs: &[Bytes]) -> Option<Vec<u8>> {
    let Side::Server(cfg) = &t.side else { return None };
    let cfg = cfg.clone();
    let host_keys = &cfg.host_keys;
    if blobs.len() > host_keys.len() {
        return None;
    }
    let sid = t.session_id.clone()?;
    let rsa_alg = match t.negotiated.map(|n| n.host_key.plain()) {
        Some(a @ (HostKeyAlgorithm::RsaSha256 | HostKeyAlgorithm::RsaSha512)) => a,
        _ => HostKeyAlgorithm::RsaSha512,
    };
    let mut out = Vec::new();
    for blob in blobs {
        let key = host_keys.iter().find(|k| k.public_key().to_bytes().is_ok_and(|b| b == blob.as_ref()))?;
        let alg = key.key_pair().algorithms().into_iter().find(|a| a.rsa_hash().is_none() || *a == rsa_alg)?;
        let sig = key.key_pair().sign(alg, &proof_data(&sid, blob), &mut *t.rng).ok()?;
        out.put_string(&sig);
    }
    Some(out)
}

/// Client: the keys whose proof verifies.
fn verify_proofs(t: &Transport, blobs: &[Bytes], data: &[u8]) -> Vec<ssh_key::PublicKey> {
    let Some(sid) = t.session_id.as_deref() else { return Vec::new() };
    let mut r = Reader::new(data);
    let mut keys = Vec::new();
    for blob in blobs {
        let Ok(sig) = r.string() else { break };
        let Ok(key) = ssh_key::PublicKey::from_bytes(blob) else { continue };
        let Some(family) = keys::family_of(key.key_data()) else { continue };
        let signed = proof_data(sid, blob);
        let ok = keys::plain_algorithms(family)
            .into_iter()
            .filter(|a| *a != HostKeyAlgorithm::SshRsa)
            .any(|a| keys::verify(key.key_data(), a, sig, &signed));
        if ok {
            keys.push(key);
        }
    }
    keys
}

#[cfg(test)]
mod tests;
