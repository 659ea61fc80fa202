//! The SSH transport layer (RFC 4253 and extensions), shared by both roles.
//!
//! `Transport` owns the receive buffer, the outgoing buffer, both packet directions and
//! the key-exchange state. It handles every transport-layer message itself and hands the
//! rest (service requests and everything from message 50 up) to the role's connection one
//! packet at a time, so that the layer above can change transport state (delayed
//! compression) exactly between two packets.

pub(crate) mod cipher;
pub(crate) mod compress;
pub(crate) mod kex;
pub(crate) mod packet;
mod timer;
pub(crate) mod version;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use rand_core::CryptoRng;

use crate::algorithm::{Cipher, Compression};
use crate::config::TransportConfig;
use crate::error::{DisconnectReason, Error, Limit, TimeoutKind};
use crate::event::{Event, Initiator};
use crate::hostkey::ServerHostKey;
use crate::wire::transport::{Debug as DebugMsg, Disconnect, ExtInfo, OpaqueData, Unimplemented};
use crate::wire::{NameList, WireError, msg};
use kex::Round;
pub use kex::moduli::{Moduli, Modulus};
pub use kex::negotiate::Negotiated;
pub(crate) use packet::Received;
pub use timer::Timer;
pub use version::{BannerLimits, PeerVersion};

/// Which end of the connection this is, with what only that end needs for key exchange.
#[derive(Clone)]
pub(crate) enum Side {
    Client {
        gex: GexSizes,
    },
    /// The server's whole configuration, shared by all its connections (host keys and
    /// moduli tables are never copied per connection).
    Server(Arc<crate::server::Config>),
}

/// Group sizes a client asks for in diffie-hellman-group-exchange (RFC 4419 §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GexSizes {
    /// Smallest acceptable group (OpenSSH `DH_GRP_MIN`: 2048).
    pub min: u32,
    /// Largest acceptable group (OpenSSH `DH_GRP_MAX`: 8192).
    pub max: u32,
}

impl Default for GexSizes {
    fn default() -> Self {
        Self { min: 2048, max: 8192 }
    }
}

/// What the peer announced in `SSH_MSG_EXT_INFO`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PeerExtensions {
    pub(crate) server_sig_algs: Option<Vec<String>>,
    pub(crate) ping: bool,
}

pub(crate) struct Transport {
    pub(crate) side: Side,
    pub(crate) cfg: Arc<TransportConfig>,
    pub(crate) rng: Box<dyn CryptoRng + Send>,
    pub(crate) local_id: String,
    pub(crate) peer_id: Option<PeerVersion>,
    version: version::VersionReader,
    rx: BytesMut,
    out: BytesMut,
    pub(crate) sealer: packet::Sealer,
    pub(crate) opener: packet::Opener,
    pub(crate) kex: Option<Box<Round>>,
    /// Completed key exchanges.
    pub(crate) kex_count: u64,
    pub(crate) session_id: Option<Bytes>,
    pub(crate) negotiated: Option<Negotiated>,
    /// Client: the host key accepted in the first exchange.
    pub(crate) host_key: Option<ServerHostKey>,
    /// Whether the peer offered ext-info-c / ext-info-s in its first KEXINIT.
    pub(crate) peer_wants_ext_info: bool,
    pub(crate) peer_ext: PeerExtensions,
    /// Upper-layer payloads (u32 length ‖ payload) queued while our KEXINIT is outstanding.
    deferred: BytesMut,
    pub(crate) events: VecDeque<Event>,
    timers: timer::Timers,
    pub(crate) next_token: u64,
    /// The time given with the latest input or timeout, for commands that resume processing.
    pub(crate) now: Instant,
    /// Set once user authentication succeeded (delayed compression may start).
    authenticated: bool,
    /// The layer above waits for an application decision: stop decoding input.
    pub(crate) paused: bool,
    /// Server: USERAUTH_SUCCESS waits in the deferral queue; delayed compression starts
    /// once it is sealed.
    authenticate_when_sent: bool,
    closed: bool,
}

impl Transport {
    pub(crate) fn new(
        side: Side,
        cfg: Arc<TransportConfig>,
        now: Instant,
        rng: Box<dyn CryptoRng + Send>,
    ) -> Result<Self, Error> {
        cfg.validate()?;
        let client = matches!(side, Side::Client { .. });
        let local_id = cfg.identification();
        let mut t = Self {
            side,
            version: version::VersionReader::new(cfg.limits.banner, client),
            local_id,
            cfg,
            rng,
            peer_id: None,
            // Allocated when bytes come: a server holding thousands of connections that
            // have not spoken yet holds no receive buffers for them.
            rx: BytesMut::new(),
            out: BytesMut::with_capacity(2 * 1024),
            sealer: packet::Sealer::new(),
            opener: packet::Opener::new(),
            kex: None,
            kex_count: 0,
            session_id: None,
            negotiated: None,
            host_key: None,
            peer_wants_ext_info: false,
            peer_ext: PeerExtensions::default(),
            deferred: BytesMut::new(),
            events: VecDeque::new(),
            timers: timer::Timers::default(),
            next_token: 0,
            now,
            authenticated: false,
            paused: false,
            authenticate_when_sent: false,
            closed: false,
        };
        if matches!(&t.side, Side::Server(cfg) if cfg.host_keys.is_empty()) {
            return Err(Error::Config("a server needs at least one host key".into()));
        }
        t.out.extend_from_slice(t.local_id.as_bytes());
        t.out.extend_from_slice(b"\r\n");
        t.timers.set(Timer::Handshake, t.cfg.handshake_timeout.map(|d| now + d));
        // Both sides may send KEXINIT right after the identification (RFC 4253 §7.1).
        t.start_kex()?;
        Ok(t)
    }

    pub(crate) fn is_client(&self) -> bool {
        matches!(self.side, Side::Client { .. })
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    /// Whether the first key exchange has completed.
    pub(crate) fn is_established(&self) -> bool {
        self.kex_count > 0
    }

    /// Server: USERAUTH_SUCCESS was just queued. zlib@openssh.com starts right after it is
    /// sealed (OpenSSH does the same): now, or when a key exchange releases it.
    pub(crate) fn authenticated_on_send(&mut self) {
        if self.sending_paused() {
            self.authenticate_when_sent = true;
        } else {
            self.set_authenticated();
        }
    }

    /// Called by the user-authentication layer on success (starts zlib@openssh.com).
    pub(crate) fn set_authenticated(&mut self) {
        if self.authenticated {
            return;
        }
        self.authenticated = true;
        if let Some(n) = self.negotiated {
            let (tx, rx) = if self.is_client() {
                (n.compression_c2s, n.compression_s2c)
            } else {
                (n.compression_s2c, n.compression_c2s)
            };
            // A direction about to switch keys starts compressing with the new keys (the
            // switch consults `compression_active`); the others start now. The peer sends
            // its NEWKEYS before it can have seen our SUCCESS.
            if tx == Compression::ZlibOpenSsh && !self.sending_paused() {
                self.sealer.set_compression(true);
            }
            if rx == Compression::ZlibOpenSsh && self.kex.is_none() {
                self.opener.set_compression(true);
            }
        }
    }

    /// Which compression states should be active for freshly installed keys.
    pub(crate) fn compression_active(&self, c: Compression) -> bool {
        match c {
            Compression::None => false,
            Compression::Zlib => true,
            Compression::ZlibOpenSsh => self.authenticated,
        }
    }

    // ---- input ---------------------------------------------------------------------------

    /// Appends received bytes. Processing happens in [`Self::poll_packet`].
    pub(crate) fn receive(&mut self, data: &[u8]) -> Result<(), Error> {
        if self.closed {
            return Err(Error::Closed);
        }
        let limit = self.cfg.limits.max_receive_buffer.max(self.cfg.limits.max_packet + 1024);
        if self.rx.len() + data.len() > limit && self.is_blocked() {
            return Err(self.fail(Error::LimitExceeded(Limit::ReceiveBuffer)));
        }
        self.rx.extend_from_slice(data);
        Ok(())
    }

    /// The peer closed its end of the stream.
    pub(crate) fn receive_eof(&mut self) -> Result<(), Error> {
        if self.closed {
            return Err(Error::Closed);
        }
        let err = match (&self.peer_id, self.version.first_line()) {
            (None, Some(line)) => Error::Version(crate::error::VersionError::NotSsh(line.to_owned())),
            _ => Error::ConnectionLost,
        };
        self.closed = true;
        let description = err.to_string();
        self.events.push_back(Event::Disconnected {
            reason: DisconnectReason::ConnectionLost,
            description,
            initiator: Initiator::Peer,
            error: Some(err.clone()),
        });
        Err(err)
    }

    /// Whether packet processing is paused for an application decision.
    pub(crate) fn is_blocked(&self) -> bool {
        self.paused || self.kex.as_ref().is_some_and(|r| r.awaiting_decision())
    }

    /// Decodes and handles packets until one for the layer above appears.
    pub(crate) fn poll_packet(&mut self, now: Instant) -> Result<Option<Received>, Error> {
        self.now = now;
        if self.closed {
            return Ok(None);
        }
        match self.poll_packet_inner(now) {
            Ok(r) => Ok(r),
            Err(e) => Err(self.fail(e)),
        }
    }

    fn poll_packet_inner(&mut self, now: Instant) -> Result<Option<Received>, Error> {
        loop {
            if self.closed {
                return Ok(None);
            }
            if self.peer_id.is_none() {
                match self.version.poll(&mut self.rx)? {
                    Some(v) => self.peer_id = Some(v),
                    None => return Ok(None),
                }
            }
            if self.is_blocked() {
                return Ok(None);
            }
            let Some(pkt) = self.opener.poll(&mut self.rx, self.cfg.limits.max_packet)? else {
                return Ok(None);
            };
            if self.kex_count == 0 && self.opener.seq == 0 {
                return Err(Error::SequenceWrapped);
            }
            if let Some(upper) = self.dispatch(pkt, now)? {
                return Ok(Some(upper));
            }
            self.maybe_rekey()?;
        }
    }

    fn dispatch(&mut self, pkt: Received, now: Instant) -> Result<Option<Received>, Error> {
        let number = pkt.payload.first().copied().unwrap_or(0);
        let initial = self.kex_count == 0;
        let strict_initial = initial && self.kex.as_ref().is_some_and(|r| r.strict());
        let peer_in_kex = self.kex.as_ref().is_some_and(|r| r.peer_kexinit_seen());
        let bad = |reason| Error::InvalidMessage { msg: number, reason };

        if strict_initial && !(msg::is_kex(number) || number == msg::DISCONNECT) {
            return Err(Error::StrictKexViolation { msg: number, seq: pkt.seq });
        }
        match number {
            msg::DISCONNECT => {
                let d = Disconnect::decode(&pkt.payload).map_err(bad)?;
                let reason = DisconnectReason::from_code(d.reason);
                let description = String::from_utf8_lossy(d.description).into_owned();
                self.closed = true;
                self.events.push_back(Event::Disconnected {
                    reason,
                    description: description.clone(),
                    initiator: Initiator::Peer,
                    error: None,
                });
                Err(Error::PeerDisconnected { reason, description })
            }
            msg::IGNORE => {
                OpaqueData::decode(&pkt.payload, msg::IGNORE).map_err(bad)?;
                Ok(None)
            }
            msg::DEBUG => {
                let d = DebugMsg::decode(&pkt.payload).map_err(bad)?;
                let message: String = String::from_utf8_lossy(d.message).chars().take(1024).collect();
                self.events.push_back(Event::Debug { always_display: d.always_display, message });
                Ok(None)
            }
            msg::UNIMPLEMENTED => {
                let u = Unimplemented::decode(&pkt.payload).map_err(bad)?;
                self.events.push_back(Event::Unimplemented { seq: u.seq });
                Ok(None)
            }
            n if msg::is_kex(n) => {
                self.handle_kex_message(n, pkt, now)?;
                Ok(None)
            }
            _ if initial || peer_in_kex => {
                // Nothing but transport messages may precede the first NEWKEYS, and a peer
                // that sent KEXINIT may send nothing else until its NEWKEYS (RFC 4253 §7.1).
                Err(Error::UnexpectedMessage { msg: number, expected: "key exchange messages" })
            }
            msg::EXT_INFO => {
                self.handle_ext_info(&pkt.payload)?;
                Ok(None)
            }
            msg::PING => {
                let p = OpaqueData::decode(&pkt.payload, msg::PING).map_err(bad)?;
                self.check_reply_room()?;
                self.send(|w| OpaqueData { data: p.data }.encode(msg::PONG, w))?;
                Ok(None)
            }
            msg::PONG => {
                let p = OpaqueData::decode(&pkt.payload, msg::PONG).map_err(bad)?;
                self.events.push_back(Event::Pong { data: Bytes::copy_from_slice(p.data) });
                Ok(None)
            }
            msg::SERVICE_REQUEST | msg::SERVICE_ACCEPT => Ok(Some(pkt)),
            n if n < msg::USERAUTH_FIRST => {
                // Unassigned transport-layer numbers (RFC 4253 §11.4).
                self.send_unimplemented(pkt.seq)?;
                Ok(None)
            }
            _ => Ok(Some(pkt)),
        }
    }

    fn handle_ext_info(&mut self, payload: &[u8]) -> Result<(), Error> {
        let e = ExtInfo::decode(payload).map_err(|reason| Error::InvalidMessage { msg: msg::EXT_INFO, reason })?;
        if let Some(v) = e.get("server-sig-algs") {
            let list = NameList::parse(v).map_err(|reason| Error::InvalidMessage { msg: msg::EXT_INFO, reason })?;
            self.peer_ext.server_sig_algs = Some(list.to_vec());
        }
        self.peer_ext.ping = self.peer_ext.ping || e.get("ping@openssh.com").is_some();
        if self.is_client() {
            self.events.push_back(Event::ExtInfo {
                server_sig_algs: self.peer_ext.server_sig_algs.clone(),
                ping: self.peer_ext.ping,
            });
        }
        Ok(())
    }

    // ---- output --------------------------------------------------------------------------

    /// Takes everything queued for the peer.
    pub(crate) fn poll_transmit(&mut self) -> Option<Bytes> {
        if self.out.is_empty() { None } else { Some(self.out.split().freeze()) }
    }

    /// Bytes waiting for `poll_transmit`.
    pub(crate) fn pending_output(&self) -> usize {
        self.out.len()
    }

    /// Heap held by the I/O buffers: receive, output, key-exchange deferral, (de)compression.
    pub(crate) fn buffer_capacity(&self) -> usize {
        self.rx.capacity()
            + self.out.capacity()
            + self.deferred.capacity()
            + self.sealer.buffer_capacity()
            + self.opener.buffer_capacity()
    }

    /// Gives back the memory of empty I/O buffers (an idle connection); they are allocated
    /// again on the next input or output. Partly filled buffers are kept.
    pub(crate) fn shrink_buffers(&mut self) {
        if self.rx.is_empty() {
            self.rx = BytesMut::new();
        }
        if self.out.is_empty() {
            self.out = BytesMut::new();
        }
        if self.deferred.is_empty() {
            self.deferred = BytesMut::new();
        }
        self.sealer.shrink_buffers();
        self.opener.shrink_buffers();
        if self.events.is_empty() {
            self.events = VecDeque::new();
        }
    }

    /// How many more bytes of upper-layer messages may be queued now without reaching a
    /// limit: the deferral bound during a key exchange, the pending-output bound otherwise.
    pub(crate) fn send_room(&self) -> usize {
        if self.closed {
            0
        } else if self.sending_paused() {
            self.cfg.limits.max_deferred.saturating_sub(self.deferred.len() + 4)
        } else {
            self.cfg.limits.max_pending_output.saturating_sub(self.out.len())
        }
    }

    /// Largest payload one packet may carry: `packet_length` (payload, padding, padding
    /// length) must stay within `max_packet`, with room for the most padding and for zlib
    /// growing an incompressible payload.
    pub(crate) fn max_payload(&self) -> usize {
        self.cfg.limits.max_packet.saturating_sub(1024)
    }

    /// The output bound in force: the deferral limit during a key exchange, the
    /// pending-output limit otherwise.
    fn room_limit(&self) -> usize {
        if self.sending_paused() { self.cfg.limits.max_deferred } else { self.cfg.limits.max_pending_output }
    }

    /// Room for channel data: the output room less a reserve for control messages
    /// (requests, window adjustments, replies), so queued data never makes them overflow
    /// the bound.
    pub(crate) fn data_room(&self) -> usize {
        self.send_room().saturating_sub((self.room_limit() / 8).min(64 * 1024))
    }

    /// Whether enough data room freed up to wake channels that were blocked on it.
    pub(crate) fn data_room_ample(&self) -> bool {
        self.data_room() >= (self.room_limit() / 4).min(64 * 1024)
    }

    /// Seals a message now, whatever the key-exchange state (kex messages, DISCONNECT).
    pub(crate) fn send_now(&mut self, encode: impl FnOnce(&mut BytesMut)) -> Result<(), Error> {
        self.seal_now(0, encode)
    }

    /// [`send_now`](Self::send_now) of a payload of about `payload_hint` bytes.
    fn seal_now(&mut self, payload_hint: usize, encode: impl FnOnce(&mut BytesMut)) -> Result<(), Error> {
        let start = self.sealer.begin(&mut self.out, payload_hint);
        encode(&mut self.out);
        self.sealer.finish(&mut self.out, start, self.cfg.limits.max_packet, &mut *self.rng)?;
        Ok(())
    }

    /// Whether messages from the layer above must wait (our KEXINIT is outstanding).
    pub(crate) fn sending_paused(&self) -> bool {
        self.kex.as_ref().is_some_and(|r| !r.newkeys_sent())
    }

    /// Sends a message of the layer above (or a generic transport message), queueing it
    /// while a key exchange is in progress; it goes out, in order, after our NEWKEYS.
    pub(crate) fn send(&mut self, encode: impl FnOnce(&mut BytesMut)) -> Result<(), Error> {
        self.send_inner(encode, true, 0)
    }

    /// [`send`](Self::send) of a payload of about `payload_hint` bytes (channel data): the
    /// packet is reserved whole.
    pub(crate) fn send_sized(&mut self, payload_hint: usize, encode: impl FnOnce(&mut BytesMut)) -> Result<(), Error> {
        self.send_inner(encode, true, payload_hint)
    }

    /// Like [`send`](Self::send), for a command of the application: when the deferral queue
    /// of a key exchange is full the message is not queued and the call fails with the
    /// non-fatal [`Error::OutputFull`] (retry after `poll_transmit` or `ChannelWritable`).
    pub(crate) fn send_command(&mut self, encode: impl FnOnce(&mut BytesMut)) -> Result<(), Error> {
        self.send_inner(encode, false, 0)
    }

    fn send_inner(
        &mut self,
        encode: impl FnOnce(&mut BytesMut),
        peer_driven: bool,
        payload_hint: usize,
    ) -> Result<(), Error> {
        if self.closed {
            return Err(Error::Closed);
        }
        if self.sending_paused() {
            let at = self.deferred.len();
            self.deferred.put_u32(0);
            encode(&mut self.deferred);
            let len = self.deferred.len() - at - 4;
            if let Some(l) = self.deferred.get_mut(at..at + 4) {
                l.copy_from_slice(&(len as u32).to_be_bytes());
            }
            if self.deferred.len() > self.cfg.limits.max_deferred {
                if !peer_driven {
                    self.deferred.truncate(at);
                    return Err(Error::OutputFull);
                }
                return Err(self.fail(Error::LimitExceeded(Limit::DeferredDuringKex)));
            }
            return Ok(());
        }
        self.seal_now(payload_hint, encode)?;
        self.maybe_rekey().map_err(|e| self.fail(e))
    }

    /// Sends what was queued during the key exchange.
    pub(crate) fn flush_deferred(&mut self) -> Result<(), Error> {
        let mut queued = self.deferred.split();
        while queued.len() >= 4 {
            let len = queued.get_u32() as usize;
            let payload = queued.split_to(len.min(queued.len()));
            self.send_now(|w| w.extend_from_slice(&payload))?;
            if self.authenticate_when_sent && payload.first() == Some(&msg::USERAUTH_SUCCESS) {
                self.authenticate_when_sent = false;
                self.set_authenticated();
            }
        }
        // Give the storage back for the next exchange.
        queued.clear();
        self.deferred.unsplit(queued);
        Ok(())
    }

    pub(crate) fn send_unimplemented(&mut self, seq: u32) -> Result<(), Error> {
        self.check_reply_room()?;
        self.send(|w| Unimplemented { seq }.encode(w))
    }

    /// Whether the output bound in force is reached: commands of the application wait
    /// (`ChannelError::OutputFull`) until the driver takes output.
    pub(crate) fn output_full(&self) -> bool {
        if self.sending_paused() {
            self.deferred.len() >= self.cfg.limits.max_deferred
        } else {
            self.out.len() >= self.cfg.limits.max_pending_output
        }
    }

    /// Automatic replies must not let a peer that does not read grow our output.
    pub(crate) fn check_reply_room(&self) -> Result<(), Error> {
        if self.out.len() + self.deferred.len() > self.cfg.limits.max_pending_output {
            return Err(Error::LimitExceeded(Limit::PendingOutput));
        }
        Ok(())
    }

    /// `SSH_MSG_IGNORE` with `data`.
    pub(crate) fn send_ignore(&mut self, data: &[u8]) -> Result<(), Error> {
        self.send(|w| OpaqueData { data }.encode(msg::IGNORE, w))
    }

    /// `ping@openssh.com`; only valid once the server announced it.
    pub(crate) fn send_ping(&mut self, data: &[u8]) -> Result<(), Error> {
        if !self.peer_ext.ping {
            return Err(Error::ApiMisuse("the peer did not announce ping@openssh.com"));
        }
        self.send(|w| OpaqueData { data }.encode(msg::PING, w))
    }

    // ---- ending --------------------------------------------------------------------------

    /// Ends the connection because of `err`: queues a DISCONNECT with its reason (unless
    /// the peer ended it), raises the final event, and returns the error for the caller.
    pub(crate) fn fail(&mut self, err: Error) -> Error {
        if self.closed || !err.is_fatal() {
            return err;
        }
        let reason = err.disconnect_reason();
        let description = err.to_string();
        if self.peer_id.is_some() && !matches!(err, Error::PeerDisconnected { .. }) {
            let _ = self.send_now(|w| {
                Disconnect { reason: reason.code(), description: description.as_bytes(), language: b"" }.encode(w)
            });
        }
        self.closed = true;
        self.events.push_back(Event::Disconnected {
            reason,
            description,
            initiator: Initiator::Local,
            error: Some(err.clone()),
        });
        err
    }

    /// Application-initiated disconnect.
    pub(crate) fn close(&mut self, reason: DisconnectReason, description: &str) {
        if self.closed {
            return;
        }
        let _ = self.send_now(|w| {
            Disconnect { reason: reason.code(), description: description.as_bytes(), language: b"" }.encode(w)
        });
        self.closed = true;
        self.events.push_back(Event::Disconnected {
            reason,
            description: description.to_owned(),
            initiator: Initiator::Local,
            error: None,
        });
    }

    // ---- time ----------------------------------------------------------------------------

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        self.timers.next().map(|(at, _)| at)
    }

    pub(crate) fn next_timer(&self) -> Option<(Instant, Timer)> {
        self.timers.next()
    }

    /// Fires the transport's expired timers and returns the others, for the layers above.
    pub(crate) fn handle_timeout(&mut self, now: Instant) -> Result<Vec<Timer>, Error> {
        if self.closed {
            return Ok(Vec::new());
        }
        let mut upper = Vec::new();
        for t in self.timers.expired(now) {
            match t {
                Timer::Handshake => {
                    if self.kex_count == 0 {
                        return Err(self.fail(Error::Timeout(TimeoutKind::Handshake)));
                    }
                }
                Timer::Rekey => {
                    if self.kex.is_none() {
                        self.start_kex().map_err(|e| self.fail(e))?;
                    }
                }
                Timer::Auth | Timer::Keepalive | Timer::Idle => upper.push(t),
            }
        }
        Ok(upper)
    }

    /// Starts a re-exchange when a byte, packet or block limit is reached.
    pub(crate) fn maybe_rekey(&mut self) -> Result<(), Error> {
        if self.kex.is_some() || self.kex_count == 0 || self.closed {
            return Ok(());
        }
        let Some(n) = self.negotiated else { return Ok(()) };
        let limit = |c: Cipher| -> u64 {
            let mut bytes = self.cfg.rekey.bytes;
            if !c.is_aead() && c != Cipher::None {
                // RFC 4344 §3.2: at most 2^(L/4) blocks of an L-bit block cipher.
                let block = c.block_size() as u64;
                bytes = bytes.min((1u64 << (block * 8 / 4)).saturating_mul(block));
            }
            bytes
        };
        let (tx_c, rx_c) = if self.is_client() { (n.cipher_c2s, n.cipher_s2c) } else { (n.cipher_s2c, n.cipher_c2s) };
        // OpenSSH's MAX_PACKETS: never let a key see 2^31 packets (chacha's nonce is the
        // sequence number).
        const MAX_PACKETS: u64 = 1 << 31;
        let s = self.sealer.counters;
        let o = self.opener.counters;
        if s.bytes >= limit(tx_c) || o.bytes >= limit(rx_c) || s.packets >= MAX_PACKETS || o.packets >= MAX_PACKETS {
            self.start_kex()?;
        }
        Ok(())
    }

    /// Re-exchange keys now (no effect if one is in progress).
    pub(crate) fn rekey(&mut self) -> Result<(), Error> {
        if self.closed {
            return Err(Error::Closed);
        }
        if self.kex.is_none() && self.kex_count > 0 {
            self.start_kex().map_err(|e| self.fail(e))?;
        }
        Ok(())
    }

    pub(crate) fn set_timer(&mut self, t: Timer, at: Option<Instant>) {
        self.timers.set(t, at);
    }

    pub(crate) fn wire_error(msg: u8) -> impl Fn(WireError) -> Error + Copy {
        move |reason| Error::InvalidMessage { msg, reason }
    }

    /// Test hook: a sealed payload as it would go on the wire (used by the fuzz targets
    /// to feed arbitrary messages through real keys).
    #[cfg(any(test, feature = "fuzzing"))]
    #[allow(dead_code)]
    pub(crate) fn seal_raw(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.send_now(|w| w.extend_from_slice(payload))
    }
}

#[cfg(test)]
mod tests;
