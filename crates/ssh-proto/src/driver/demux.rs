//! Sorting a connection's events: channel traffic into per-channel buffers, the rest into a
//! queue for the driver's front end.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use super::{Driven, Incoming};
use crate::connection::{ChannelError, ChannelId, ExitStatus, GlobalReply, OpenFailure};
use crate::{DisconnectReason, Event};

/// Default read-ahead of a channel's standard error (see [`Incoming`]).
pub const STDERR_READ_AHEAD: usize = 128 << 20;

/// Answers kept for want-reply requests whose waiter went away (a timeout, a cancelled
/// future): beyond this many, the oldest go.
const UNCLAIMED_REPLIES: usize = 64;

/// Whether a channel we opened is open yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opening {
    /// The peer has not answered.
    Pending,
    /// Confirmed (or opened by the peer and accepted).
    Open,
    /// Refused by the peer.
    Failed {
        /// The peer's reason code.
        reason: OpenFailure,
        /// The peer's description.
        description: String,
    },
}

/// What a driver keeps per channel; `W` is how the driver wakes whoever waits on it.
#[derive(Debug)]
pub struct ChannelBuffers<W> {
    /// The open's outcome.
    pub opening: Opening,
    /// Received data.
    pub stdout: Incoming,
    /// Received extended data of type 1 (standard error).
    pub stderr: Incoming,
    /// The peer sent EOF (or closed).
    pub eof: bool,
    /// The peer closed the channel.
    pub closed: bool,
    /// The handle is gone: data is consumed as it arrives and the entry goes at close.
    pub dropped: bool,
    /// Standard error goes into `stdout` (Paramiko's `set_combine_stderr`).
    pub combine_stderr: bool,
    /// Standard output is no longer wanted (`shutdown_read`): consumed as it arrives.
    pub discard_stdout: bool,
    /// The exit status or signal, once the channel closed with one.
    pub exit: Option<ExitStatus>,
    /// Answers to our want-reply requests not taken yet: the request's number (see
    /// [`Demux::request_sent`]) and its outcome. The peer answers in order.
    replies: VecDeque<(u64, bool)>,
    /// Numbers of the next want-reply request sent and of the next answer received.
    requests_sent: u64,
    replies_received: u64,
    /// The driver's waiters.
    pub waiters: W,
}

/// How a channel's incoming streams are handled (Paramiko's `set_combine_stderr`,
/// `shutdown_read`, and the standard error read-ahead).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamSetting {
    /// Standard error goes into standard output (what is buffered moves over now).
    CombineStderr,
    /// Standard output is not wanted any more: dropped, and consumed as it arrives.
    ShutdownRead,
    /// Standard error may be read ahead up to this many bytes.
    StderrReadAhead(usize),
}

impl<W> ChannelBuffers<W> {
    /// Applies `setting`; returns the window credit it freed (bytes dropped or no longer
    /// held back), for `channel_consumed`.
    pub fn configure(&mut self, setting: StreamSetting) -> usize {
        match setting {
            StreamSetting::CombineStderr => {
                self.combine_stderr = true;
                if self.discard_stdout { self.stderr.clear() } else { self.stdout.append(&mut self.stderr) }
            }
            StreamSetting::ShutdownRead => {
                self.discard_stdout = true;
                self.stdout.clear() + if self.combine_stderr { self.stderr.clear() } else { 0 }
            }
            StreamSetting::StderrReadAhead(n) => self.stderr.set_read_ahead(n),
        }
    }
}

impl<W: Default> ChannelBuffers<W> {
    /// A channel in state `opening`, with nothing received.
    pub fn new(opening: Opening) -> Self {
        Self {
            opening,
            stdout: Incoming::new(0),
            stderr: Incoming::new(STDERR_READ_AHEAD),
            eof: false,
            closed: false,
            dropped: false,
            combine_stderr: false,
            discard_stdout: false,
            exit: None,
            replies: VecDeque::new(),
            requests_sent: 0,
            replies_received: 0,
            waiters: W::default(),
        }
    }
}

/// What changed on a channel, for the driver to wake its waiters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// News for its readers: data, EOF, a request's reply.
    News,
    /// Room for its writers: window.
    Room,
    /// Both: opened, refused, closed, or the connection ended.
    Both,
    /// The entry is gone (closed after its handle was dropped): wake everyone still
    /// waiting on it, they will find it missing.
    Gone,
}

impl Change {
    /// Whether readers should look.
    pub fn news(self) -> bool {
        !matches!(self, Change::Room)
    }

    /// Whether writers should look.
    pub fn room(self) -> bool {
        !matches!(self, Change::News)
    }
}

/// One of a channel's two incoming streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelStream {
    /// Data (a command's standard output).
    Stdout,
    /// Extended data of type 1 (standard error).
    Stderr,
}

/// Where a connection on a remotely forwarded port came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Forwarded {
    /// The address the server listens on, as requested.
    pub address: String,
    /// The port the server listens on.
    pub port: u32,
    /// Address of the peer that connected to the server.
    pub originator: String,
    /// Its port.
    pub originator_port: u32,
}

/// Sends `data` on `stream` of channel `id` (for stderr: extended data of type 1), as
/// much as the window and output buffer take: `Some(Ok(n))` with `n > 0`, `None` when
/// the writer must wait for room, or the error.
pub fn send<C: Driven + ?Sized>(
    conn: &mut C,
    id: ChannelId,
    stream: ChannelStream,
    data: &[u8],
) -> Option<Result<usize, ChannelError>> {
    let sent = match stream {
        ChannelStream::Stdout => conn.channel_send(id, data),
        ChannelStream::Stderr => conn.channel_send_extended(id, 1, data),
    };
    match sent {
        Ok(0) | Err(ChannelError::Blocked(_) | ChannelError::OutputFull) => None,
        Ok(n) => Some(Ok(n)),
        Err(e) => Some(Err(e)),
    }
}

/// What a driver's reader got from its stream.
#[derive(Debug)]
pub enum Input<'a> {
    /// Bytes from the peer.
    Bytes(&'a [u8]),
    /// The stream ended.
    End,
    /// Reading failed (the error's text).
    Failed(String),
}

/// How the connection ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ended {
    /// The disconnect reason (ours, the peer's, or `ConnectionLost`).
    pub reason: DisconnectReason,
    /// Its description.
    pub description: String,
}

/// A connection's events, sorted: every channel's traffic into its [`ChannelBuffers`] (window
/// credit returned as the application reads, see [`Incoming`]), the rest into `events`
/// for the driver's front end. A driver keeps one beside each connection, so channel
/// semantics (what a dropped channel does with late data, how standard error joins
/// standard output, which peer requests get an automatic "no") are the same in every driver.
///
/// ```
/// use ssh_proto::driver::{Demux, FrontEnd};
///
/// let demux: Demux<()> = Demux::new(FrontEnd::NONE);
/// assert!(demux.events.is_empty() && demux.ended.is_none());
/// ```
#[derive(Debug)]
pub struct Demux<W> {
    /// The channels the application knows about.
    pub channels: HashMap<ChannelId, ChannelBuffers<W>>,
    /// Connection-level events for the front end (host key, auth, global requests,
    /// channel open requests and, when the front end answers them, channel requests).
    pub events: VecDeque<Event>,
    /// How the connection ended, once it has.
    pub ended: Option<Ended>,
    /// What the front end answers itself; the rest is refused here.
    pub front_end: FrontEnd,
    events_pushed: bool,
}

/// Which of the peer's requests a front end answers itself (a server answers all three, a
/// client channel opens once it accepts forwarded connections). Those it does not answer
/// are refused as they arrive, so the peer never waits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrontEnd {
    /// Channel requests of the peer (`exec`, `pty-req`, `keepalive@openssh.com`…).
    pub channel_requests: bool,
    /// Global requests of the peer.
    pub global_requests: bool,
    /// Channel opens of the peer.
    pub channel_opens: bool,
}

impl FrontEnd {
    /// Answers everything (a server).
    pub const ALL: FrontEnd = FrontEnd { channel_requests: true, global_requests: true, channel_opens: true };
    /// Answers nothing (a client before it accepts anything).
    pub const NONE: FrontEnd = FrontEnd { channel_requests: false, global_requests: false, channel_opens: false };
}

/// Events a front end may have waiting before requests that want no reply are dropped.
pub const MAX_QUEUED_EVENTS: usize = 256;

impl<W> Demux<W> {
    /// Empty, for a front end that answers what `front_end` says.
    pub fn new(front_end: FrontEnd) -> Self {
        Self { channels: HashMap::new(), events: VecDeque::new(), ended: None, front_end, events_pushed: false }
    }

    /// Whether `events` grew, or the connection ended, since the last call.
    pub fn take_events_pushed(&mut self) -> bool {
        std::mem::take(&mut self.events_pushed)
    }

    /// The connection is over: every waiter must look.
    pub fn end(&mut self, ended: Ended, wake: &mut impl FnMut(ChannelId, &mut W, Change)) {
        self.ended = Some(ended);
        self.events_pushed = true;
        for (id, ch) in &mut self.channels {
            wake(*id, &mut ch.waiters, Change::Both);
        }
    }

    /// Tells the waiters of channel `id` about `change`.
    pub fn wake(&mut self, id: ChannelId, change: Change, wake: &mut impl FnMut(ChannelId, &mut W, Change)) {
        if let Some(ch) = self.channels.get_mut(&id) {
            wake(id, &mut ch.waiters, change);
        }
    }

    /// Feeds what the reader got to `conn` and sorts the events it raised. Returns whether
    /// the connection is still open (the reader goes on reading), and the protocol error
    /// that closed it, if one did (the DISCONNECT is already queued; for logs).
    pub fn feed<C: Driven + ?Sized>(
        &mut self,
        conn: &mut C,
        input: Input<'_>,
        now: Instant,
        wake: &mut impl FnMut(ChannelId, &mut W, Change),
    ) -> (bool, Option<crate::Error>) {
        let fed = match input {
            Input::Bytes(data) => conn.handle_input(data, now),
            Input::End => conn.handle_eof(),
            Input::Failed(why) => {
                conn.close(DisconnectReason::ConnectionLost, &format!("read: {why}"));
                Ok(())
            }
        };
        self.dispatch(conn, wake);
        if !conn.is_closed() {
            return (true, fed.err());
        }
        if self.ended.is_none() {
            self.end(Ended { reason: DisconnectReason::ConnectionLost, description: "stream ended".into() }, wake);
        }
        (false, fed.err())
    }

    /// Reads buffered bytes of `stream` of channel `id` into `out`, crediting the window:
    /// `Some(n)` with `n > 0` for data, `Some(0)` at the end (EOF, close, or a channel that
    /// is gone), `None` when the reader must wait.
    pub fn read<C: Driven + ?Sized>(
        &mut self,
        conn: &mut C,
        id: ChannelId,
        stream: ChannelStream,
        out: &mut [u8],
    ) -> Option<usize> {
        let Some(ch) = self.channels.get_mut(&id) else { return Some(0) };
        let incoming = match stream {
            ChannelStream::Stdout => &mut ch.stdout,
            ChannelStream::Stderr => &mut ch.stderr,
        };
        if !incoming.is_empty() && !out.is_empty() {
            let (n, credit) = incoming.take(out);
            if credit > 0 {
                let _ = conn.channel_consumed(id, credit);
            }
            return Some(n);
        }
        (ch.eof || ch.closed || out.is_empty()).then_some(0)
    }

    /// Sends EOF on channel `id` (once: a channel already finished is fine). Writers of
    /// other handles waiting for room are told, since they wait in vain from now on.
    pub fn eof<C: Driven + ?Sized>(
        &mut self,
        conn: &mut C,
        id: ChannelId,
        wake: &mut impl FnMut(ChannelId, &mut W, Change),
    ) -> Result<(), ChannelError> {
        self.wake(id, Change::Room, wake);
        match conn.channel_eof(id) {
            Ok(()) | Err(ChannelError::Finished(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The handle of channel `id` is gone: the channel closes, its late data is consumed
    /// as it arrives, and the entry goes once the peer's close is in (now, if it is).
    pub fn release<C: Driven + ?Sized>(
        &mut self,
        conn: &mut C,
        id: ChannelId,
        wake: &mut impl FnMut(ChannelId, &mut W, Change),
    ) {
        let _ = conn.channel_close(id);
        let Some(ch) = self.channels.get_mut(&id) else { return };
        ch.dropped = true;
        if !ch.closed {
            wake(id, &mut ch.waiters, Change::Both);
        } else if let Some(mut ch) = self.channels.remove(&id) {
            // Handles of its streams may still wait on it: they find it gone.
            wake(id, &mut ch.waiters, Change::Gone);
        }
    }

    /// The exit status of channel `id` once it closed (`Some(None)`: closed without one, or
    /// gone); `None` while it is open.
    pub fn exit_status(&self, id: ChannelId) -> Option<Option<ExitStatus>> {
        match self.channels.get(&id) {
            None => Some(None),
            Some(ch) => ch.closed.then(|| ch.exit.clone()),
        }
    }

    /// The outcome of our open of channel `id`: `None` while the peer has not answered,
    /// then `Ok` or the refusal (the entry goes with it).
    pub fn open_outcome(&mut self, id: ChannelId) -> Option<Result<(), (OpenFailure, String)>> {
        let ch = self.channels.get_mut(&id)?;
        match &ch.opening {
            Opening::Pending => None,
            Opening::Open => Some(Ok(())),
            Opening::Failed { reason, description } => {
                let refused = (*reason, description.clone());
                self.channels.remove(&id);
                Some(Err(refused))
            }
        }
    }

    /// Records that a want-reply request went out on channel `id` (call right after the
    /// connection's `channel_request` succeeded); returns its number for
    /// [`Demux::take_reply`]. Numbers pair requests with answers, so requests of several
    /// waiters, or of one that gave up, never take each other's answers.
    pub fn request_sent(&mut self, id: ChannelId) -> u64 {
        let Some(ch) = self.channels.get_mut(&id) else { return 0 };
        ch.requests_sent += 1;
        ch.requests_sent - 1
    }

    /// The answer to want-reply request number `n` on channel `id`: `None` while it is
    /// pending, `Some(false)` for a refusal or a channel that closed (or is gone) first.
    pub fn take_reply(&mut self, id: ChannelId, n: u64) -> Option<bool> {
        let Some(ch) = self.channels.get_mut(&id) else { return Some(false) };
        match ch.replies.iter().position(|(k, _)| *k == n) {
            Some(at) => ch.replies.remove(at).map(|(_, success)| success),
            None => (ch.closed || n < ch.replies_received).then_some(false),
        }
    }

    /// The peer's oldest channel open waiting for the front end's answer.
    pub fn take_channel_open(&mut self) -> Option<(ChannelId, crate::connection::ChannelKind)> {
        let at = self.events.iter().position(|e| matches!(e, Event::ChannelOpenRequest { .. }))?;
        match self.events.remove(at)? {
            Event::ChannelOpenRequest { id, kind } => Some((id, kind)),
            _ => None,
        }
    }

    /// The reply to our global request `token`, once it came.
    pub fn take_global_reply(&mut self, token: crate::connection::GlobalToken) -> Option<GlobalReply> {
        let at =
            self.events.iter().position(|e| matches!(e, Event::GlobalRequestResult { token: t, .. } if *t == token))?;
        match self.events.remove(at) {
            Some(Event::GlobalRequestResult { reply, .. }) => Some(reply),
            _ => None,
        }
    }

    /// Takes every event `conn` has raised and sorts it; `wake` hears of each channel
    /// change.
    pub fn dispatch<C: Driven + ?Sized>(&mut self, conn: &mut C, wake: &mut impl FnMut(ChannelId, &mut W, Change)) {
        while let Some(ev) = conn.poll_event() {
            self.sort(conn, ev, wake);
        }
    }

    fn sort<C: Driven + ?Sized>(&mut self, conn: &mut C, ev: Event, wake: &mut impl FnMut(ChannelId, &mut W, Change)) {
        let credit = |conn: &mut C, id, n| {
            if n > 0 {
                // Only fails for a channel already gone, which owes nothing.
                let _ = conn.channel_consumed(id, n);
            }
        };
        match ev {
            Event::ChannelOpened { id } => {
                if let Some(ch) = self.channels.get_mut(&id) {
                    ch.opening = Opening::Open;
                    // Its handle went while the open was pending (a timeout, a cancelled
                    // wait): nobody will use it, so it closes at once.
                    if ch.dropped {
                        let _ = conn.channel_close(id);
                    }
                }
                self.wake(id, Change::Both, wake);
            }
            Event::ChannelOpenFailed { id, reason, description } => match self.channels.get_mut(&id) {
                // Nobody waits for the outcome any more: the entry goes.
                Some(ch) if ch.dropped => {
                    if let Some(mut ch) = self.channels.remove(&id) {
                        wake(id, &mut ch.waiters, Change::Gone);
                    }
                }
                Some(ch) => {
                    ch.opening = Opening::Failed { reason, description };
                    wake(id, &mut ch.waiters, Change::Both);
                }
                None => {}
            },
            Event::ChannelData { id, data } => {
                let n = match self.channels.get_mut(&id) {
                    Some(ch) if !ch.dropped && !ch.discard_stdout => ch.stdout.push(data),
                    _ => data.len(),
                };
                credit(conn, id, n);
                self.wake(id, Change::News, wake);
            }
            Event::ChannelExtendedData { id, code, data } => {
                let n = match self.channels.get_mut(&id) {
                    Some(ch) if code == 1 && !ch.dropped => match (ch.combine_stderr, ch.discard_stdout) {
                        (true, true) => data.len(),
                        (true, false) => ch.stdout.push(data),
                        (false, _) => ch.stderr.push(data),
                    },
                    // Other extended data types have no reader: consume them so the window
                    // keeps moving.
                    _ => data.len(),
                };
                credit(conn, id, n);
                self.wake(id, Change::News, wake);
            }
            Event::ChannelEof { id } => {
                if let Some(ch) = self.channels.get_mut(&id) {
                    ch.eof = true;
                }
                self.wake(id, Change::News, wake);
            }
            Event::ChannelRequestResult { id, success, .. } => {
                if let Some(ch) = self.channels.get_mut(&id) {
                    ch.replies.push_back((ch.replies_received, success));
                    ch.replies_received += 1;
                    if ch.replies.len() > UNCLAIMED_REPLIES {
                        ch.replies.pop_front();
                    }
                }
                self.wake(id, Change::News, wake);
            }
            Event::ChannelWritable { id } => self.wake(id, Change::Room, wake),
            Event::ChannelClosed { id, exit } => match self.channels.get_mut(&id) {
                Some(ch) if ch.dropped => {
                    if let Some(mut ch) = self.channels.remove(&id) {
                        wake(id, &mut ch.waiters, Change::Gone);
                    }
                }
                Some(ch) => {
                    ch.closed = true;
                    ch.eof = true;
                    ch.exit = exit;
                    wake(id, &mut ch.waiters, Change::Both);
                }
                None => {}
            },
            // Requests of the peer on our channels that no front end takes (OpenSSH's
            // keepalive@openssh.com among them) get a "no", so the peer never waits.
            Event::ChannelRequest { id, token: Some(token), .. } if !self.front_end.channel_requests => {
                let _ = conn.channel_request_reply(id, token, false);
            }
            // Without a reply wanted there is nothing to answer, and nobody would take it
            // off the queue.
            Event::ChannelRequest { token: None, .. } if !self.front_end.channel_requests => {}
            Event::GlobalRequest { token: Some(token), .. } if !self.front_end.global_requests => {
                let _ = conn.global_request_reply(token, GlobalReply::Failure);
            }
            Event::GlobalRequest { token: None, .. } if !self.front_end.global_requests => {}
            // Requests that want no answer pile up while the front end awaits a decision
            // (the core bounds only those that want one): past a full queue they are
            // dropped, as nothing is owed for them, so a client cannot grow our memory.
            Event::ChannelRequest { token: None, .. } | Event::GlobalRequest { token: None, .. }
                if self.events.len() >= MAX_QUEUED_EVENTS => {}
            Event::ChannelOpenRequest { id, .. } if !self.front_end.channel_opens => {
                let _ = conn.reject_channel(id, OpenFailure::AdministrativelyProhibited, "no handler for this channel");
            }
            Event::Disconnected { reason, description, .. } => self.end(Ended { reason, description }, wake),
            // What a front end waits for.
            ev @ (Event::HostKey { .. }
            | Event::AuthBanner { .. }
            | Event::AuthSuccess { .. }
            | Event::AuthFailure { .. }
            | Event::AuthPasswordChange { .. }
            | Event::AuthPrompts(_)
            | Event::AuthSign { .. }
            | Event::AuthRequest { .. }
            | Event::GlobalRequestResult { .. }
            | Event::ChannelRequest { .. }
            | Event::GlobalRequest { .. }
            | Event::ChannelOpenRequest { .. }) => {
                self.events.push_back(ev);
                self.events_pushed = true;
            }
            // Informational (key exchanges, ext-info, debug, pong, host key announcements).
            _ => {}
        }
    }
}
