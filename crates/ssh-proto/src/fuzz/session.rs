//! Bodies for the post-handshake state machines: user authentication (server deciding,
//! client attempting) and the connection protocol with an open session channel.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{Call, Chunks, Contract, Endpoint, Input, finish};
use crate::algorithm::{Cipher, Compression, Mac};
use crate::auth::{AuthAttempt, AuthReply, InfoRequest, Prompt};
use crate::client::Identity;
use crate::connection::{
    ChannelError, ChannelId, ChannelKind, ChannelRequest, ExitStatus, GlobalReply, GlobalRequest, OpenFailure,
    PtyRequest, TerminalModes,
};
use crate::testing::Pair;
use crate::{Event, KeyPair, SeededRng, client, server};

/// Window and packet size of both ends' channels in the session bodies: small, so the
/// fuzzer reaches the limits with short inputs.
pub(super) const WINDOW: u32 = 8 * 1024;
pub(super) const MAX_PACKET: u32 = 2 * 1024;

/// The channel and auth commands both roles share.
pub(super) trait ChannelOps {
    fn open(&mut self, kind: &ChannelKind) -> Result<ChannelId, ChannelError>;
    fn accept(&mut self, id: ChannelId) -> Result<(), ChannelError>;
    fn reject(&mut self, id: ChannelId) -> Result<(), ChannelError>;
    fn send(&mut self, id: ChannelId, code: Option<u32>, data: &[u8]) -> Result<usize, ChannelError>;
    fn consumed(&mut self, id: ChannelId, n: usize) -> Result<(), ChannelError>;
    fn eof(&mut self, id: ChannelId) -> Result<(), ChannelError>;
    fn close_channel(&mut self, id: ChannelId) -> Result<(), ChannelError>;
    fn request(&mut self, id: ChannelId, r: &ChannelRequest, want: bool) -> Result<(), ChannelError>;
    fn request_reply(
        &mut self,
        id: ChannelId,
        t: crate::connection::RequestToken,
        ok: bool,
    ) -> Result<(), ChannelError>;
    fn global(&mut self, r: &GlobalRequest, want: bool) -> Result<(), ChannelError>;
    fn global_reply(&mut self, t: crate::connection::GlobalToken, r: GlobalReply) -> Result<(), ChannelError>;
    fn info(&self, id: ChannelId) -> Option<crate::connection::ChannelInfo>;
    fn channels(&self) -> usize;
    fn ids(&self) -> Vec<ChannelId>;
    /// The role's own decision events.
    fn answer_own(&mut self, ev: &Event, policy: u8);
    /// The role's own commands (authentication).
    fn command_own(&mut self, which: u8, data: &[u8]);
}

macro_rules! channel_ops {
    ($t:ty, |$c:ident, $ev:ident, $policy:ident| $answer:block, |$c2:ident, $which:ident, $data:ident| $command:block) => {
        impl ChannelOps for $t {
            fn open(&mut self, kind: &ChannelKind) -> Result<ChannelId, ChannelError> {
                self.open_channel(kind)
            }
            fn accept(&mut self, id: ChannelId) -> Result<(), ChannelError> {
                self.accept_channel(id)
            }
            fn reject(&mut self, id: ChannelId) -> Result<(), ChannelError> {
                self.reject_channel(id, OpenFailure::AdministrativelyProhibited, "fuzz")
            }
            fn send(&mut self, id: ChannelId, code: Option<u32>, data: &[u8]) -> Result<usize, ChannelError> {
                match code {
                    None => self.channel_send(id, data),
                    Some(c) => self.channel_send_extended(id, c, data),
                }
            }
            fn consumed(&mut self, id: ChannelId, n: usize) -> Result<(), ChannelError> {
                self.channel_consumed(id, n)
            }
            fn eof(&mut self, id: ChannelId) -> Result<(), ChannelError> {
                self.channel_eof(id)
            }
            fn close_channel(&mut self, id: ChannelId) -> Result<(), ChannelError> {
                self.channel_close(id)
            }
            fn request(&mut self, id: ChannelId, r: &ChannelRequest, want: bool) -> Result<(), ChannelError> {
                self.channel_request(id, r, want)
            }
            fn request_reply(
                &mut self,
                id: ChannelId,
                t: crate::connection::RequestToken,
                ok: bool,
            ) -> Result<(), ChannelError> {
                self.channel_request_reply(id, t, ok)
            }
            fn global(&mut self, r: &GlobalRequest, want: bool) -> Result<(), ChannelError> {
                self.global_request(r, want).map(|_| ())
            }
            fn global_reply(&mut self, t: crate::connection::GlobalToken, r: GlobalReply) -> Result<(), ChannelError> {
                self.global_request_reply(t, r)
            }
            fn info(&self, id: ChannelId) -> Option<crate::connection::ChannelInfo> {
                self.channel_info(id)
            }
            fn channels(&self) -> usize {
                self.channel_count()
            }
            fn ids(&self) -> Vec<ChannelId> {
                self.channel_ids()
            }
            fn answer_own(&mut self, $ev: &Event, $policy: u8) {
                let $c = self;
                $answer
            }
            fn command_own(&mut self, $which: u8, $data: &[u8]) {
                let $c2 = self;
                $command
            }
        }
    };
}

fn user_key() -> KeyPair {
    KeyPair::generate_ed25519(&mut SeededRng::new(0xfeed))
}

channel_ops!(
    client::Connection,
    |c, ev, policy| {
        match ev {
            Event::AuthPrompts(r) => {
                let answers: Vec<&str> = r.prompts.iter().map(|_| "answer").collect();
                let _ = c.auth_info_response(&answers);
            }
            Event::AuthSign { token, algorithm, data, .. } => {
                if policy & 0x40 != 0 {
                    if let Ok(sig) = user_key().sign(*algorithm, data, &mut SeededRng::new(1)) {
                        let _ = c.provide_signature(*token, &sig);
                    }
                } else {
                    let _ = c.signature_failed(*token);
                }
            }
            Event::AuthPasswordChange { .. } => {
                let _ = c.auth_password_change("fuzz", "old", "new");
            }
            Event::GssapiMechanism { .. } | Event::GssapiToken { .. } => {
                let _ = c.gssapi_token(b"token");
                if policy & 0x40 != 0 {
                    let _ = c.gssapi_finish(Some(b"mic"));
                }
            }
            Event::HostKeysAnnounced { keys } => {
                let _ = c.prove_host_keys(keys);
            }
            _ => {}
        }
    },
    |c, which, data| {
        let user = "fuzz";
        let _ = match which % 7 {
            0 => c.auth_none(user),
            1 => c.auth_password(user, &String::from_utf8_lossy(data)),
            2 => c.auth_publickey(user, Identity::Key(std::sync::Arc::new(user_key()))),
            3 => c.auth_publickey(user, Identity::External { key: user_key().public_key().clone(), certificate: None }),
            4 => c.auth_keyboard_interactive(user, ""),
            5 => c.auth_gssapi(user, &[crate::auth::gss::KRB5_MECHANISM]),
            _ => c.no_more_sessions().map_err(|_| crate::Error::Closed),
        };
    }
);

channel_ops!(
    server::Connection,
    |c, ev, policy| {
        if let Event::AuthRequest { token, attempt, .. } = ev {
            let reply = match ((policy >> 4) & 3, attempt) {
                (0, _) => AuthReply::Reject,
                (1, _) => AuthReply::Accept,
                (2, _) => AuthReply::Partial,
                (_, AuthAttempt::Password { .. }) => AuthReply::ChangePassword { prompt: "new one".into() },
                (_, AuthAttempt::KeyboardInteractive { .. } | AuthAttempt::KeyboardInteractiveResponse { .. }) => {
                    AuthReply::Prompts(InfoRequest {
                        name: "n".into(),
                        instruction: "i".into(),
                        prompts: vec![Prompt::new("p", false)],
                    })
                }
                (_, AuthAttempt::Gssapi { mechanisms }) => match mechanisms.first() {
                    Some(m) => AuthReply::GssapiMechanism(m.clone()),
                    None => AuthReply::Reject,
                },
                (_, AuthAttempt::GssapiToken { .. }) => AuthReply::GssapiToken(Bytes::from_static(b"t")),
                _ => AuthReply::Accept,
            };
            // A reply that does not fit is refused and leaves the decision pending: reject then.
            if c.auth_reply(*token, reply).is_err() && !c.is_closed() {
                let _ = c.auth_reply(*token, AuthReply::Reject);
            }
        }
    },
    |c, which, data| {
        let _ = match which % 2 {
            0 => c.send_auth_banner(&String::from_utf8_lossy(data)),
            _ => c.rekey(),
        };
    }
);

/// Answers decision events by `policy`: bit 0 accept channel opens, bit 1 succeed channel
/// requests, bit 2 succeed global requests, bit 3 consume data at once, bits 4-5 the server's
/// verdict on authentication steps, bit 6 sign/finish on the client.
pub(super) fn answer<C: ChannelOps>(c: &mut C, ev: &Event, policy: u8) {
    match ev {
        Event::ChannelOpenRequest { id, .. } => {
            let _ = if policy & 1 != 0 { c.accept(*id) } else { c.reject(*id) };
        }
        Event::ChannelRequest { id, token: Some(t), .. } => {
            let _ = c.request_reply(*id, *t, policy & 2 != 0);
        }
        Event::GlobalRequest { token: Some(t), request } => {
            let reply = if policy & 4 != 0 {
                let bound_port = matches!(request, GlobalRequest::TcpipForward { port: 0, .. }).then_some(4242);
                GlobalReply::Success { bound_port, data: Bytes::new() }
            } else {
                GlobalReply::Failure
            };
            let _ = c.global_reply(*t, reply);
        }
        Event::ChannelData { id, data } | Event::ChannelExtendedData { id, data, .. } if policy & 8 != 0 => {
            let _ = c.consumed(*id, data.len());
        }
        _ => c.answer_own(ev, policy),
    }
}

/// A channel or authentication command on `current` (the last channel opened or accepted);
/// returns the channel a new open created.
pub(super) fn command<C: ChannelOps>(
    c: &mut C,
    which: u8,
    data: &[u8],
    current: Option<ChannelId>,
) -> Option<ChannelId> {
    let on = |c: &mut C, f: &dyn Fn(&mut C, ChannelId)| {
        if let Some(id) = current {
            f(c, id);
        }
    };
    match which % 16 {
        0 => return c.open(&ChannelKind::Session).ok(),
        1 => {
            let kind =
                ChannelKind::DirectTcpip { host: "h".into(), port: 22, originator: "o".into(), originator_port: 1 };
            return c.open(&kind).ok();
        }
        2 => on(c, &|c, id| {
            let _ = c.send(id, None, data);
        }),
        3 => on(c, &|c, id| {
            let _ = c.send(id, Some(1), data);
        }),
        4 => on(c, &|c, id| {
            let n = c.info(id).map_or(0, |i| i.unconsumed as usize);
            let _ = c.consumed(id, n.min(usize::from(data.first().copied().unwrap_or(255)) * 64));
        }),
        5 => on(c, &|c, id| {
            let _ = c.eof(id);
        }),
        6 => on(c, &|c, id| {
            let _ = c.close_channel(id);
        }),
        7 => on(c, &|c, id| {
            let _ = c.request(id, &ChannelRequest::Exec { command: Bytes::copy_from_slice(data) }, true);
        }),
        8 => on(c, &|c, id| {
            let pty = PtyRequest {
                term: "xterm".into(),
                cols: 80,
                rows: 24,
                modes: TerminalModes(vec![(53, 0)]),
                ..Default::default()
            };
            let _ = c.request(id, &ChannelRequest::Pty(pty), true);
        }),
        9 => on(c, &|c, id| {
            let _ = c.request(
                id,
                &ChannelRequest::Exit(ExitStatus::Code(u32::from(data.first().copied().unwrap_or(0)))),
                false,
            );
        }),
        10 => {
            let _ = c.global(&GlobalRequest::TcpipForward { address: "".into(), port: 0 }, true);
        }
        11 => {
            let _ = c.global(&GlobalRequest::Keepalive, data.first().is_some_and(|b| b & 1 != 0));
        }
        12 => on(c, &|c, id| {
            let _ = c.request(
                id,
                &ChannelRequest::Other { name: "x@fuzz".into(), data: Bytes::copy_from_slice(data) },
                true,
            );
        }),
        // The role's own commands, selected by the high nibble.
        13 => c.command_own(which >> 4, data),
        _ => {}
    }
    None
}

/// The state a session body starts in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// `ssh-userauth` accepted, nothing authenticated: the fuzzed end is in user auth.
    Auth,
    /// Authenticated, one session channel open.
    Session,
}

/// A pair past the handshake (under the `none` cipher) in `stage`, events drained.
fn session_pair(fuzz_server: bool, stage: Stage) -> Pair {
    let small = |c: &mut crate::connection::ConnectionConfig| {
        c.window = WINDOW;
        c.max_packet = MAX_PACKET;
        c.max_channels = 8;
        c.max_pending_requests = 8;
    };
    let (mut c, mut s) = super::configs(Cipher::None, Mac::None, Compression::None, fuzz_server);
    small(&mut c.connection);
    small(&mut s.connection);
    s.auth.methods = crate::auth::AuthMethod::ALL.to_vec();
    let mut pair = Pair::new(c, s, Instant::now(), 7).expect("fuzz configuration is valid");
    pair.drive().expect("in-memory handshake");
    match stage {
        Stage::Auth => {
            pair.client.request_service("ssh-userauth").expect("service request");
            pair.drive().expect("service accept");
        }
        Stage::Session => {
            pair.auth_policy = Some(Box::new(|_, _| AuthReply::Accept));
            pair.client.auth_none("fuzz").expect("auth");
            pair.drive().expect("auth");
            pair.client.open_session().expect("open");
            pair.drive().expect("open");
            let sid = pair.server_events.iter().find_map(|e| match e {
                Event::ChannelOpenRequest { id, .. } => Some(*id),
                _ => None,
            });
            pair.server.accept_channel(sid.expect("open request")).expect("accept");
            pair.drive().expect("confirm");
        }
    }
    while pair.client.poll_event().is_some() {}
    while pair.server.poll_event().is_some() {}
    pair.client_events.clear();
    pair.server_events.clear();
    pair.auth_policy = None;
    pair
}

/// The channel a `Stage::Session` pair starts with, if any.
fn first_channel<C: ChannelOps>(c: &C) -> Option<ChannelId> {
    c.ids().first().copied()
}

/// Record kinds of the session bodies.
mod rec {
    /// `u16 len ‖ payload`: the peer seals it and it is delivered.
    pub(super) const SEAL: u8 = 0;
    /// `u8 which ‖ u8 len ‖ data`: a session command on the fuzzed end.
    pub(super) const COMMAND: u8 = 1;
    /// `u8 which ‖ u8 len ‖ data`: a session command on the peer, whose output is delivered.
    pub(super) const PEER: u8 = 2;
    /// `u16 seconds`: advance the clock, fire due timers.
    pub(super) const TIME: u8 = 3;
    /// Move real traffic both ways until idle.
    pub(super) const PUMP: u8 = 4;
    /// `u8 policy`: change the answering policy.
    pub(super) const POLICY: u8 = 5;
}

fn session_body<E, P>(data: &[u8], fuzz_server: bool, split: impl FnOnce(&mut Pair) -> (&mut E, &mut P))
where
    E: Endpoint + ChannelOps,
    P: Endpoint + ChannelOps,
{
    let mut input = Input::new(data);
    let flags = input.u8();
    let policy = input.u8();
    let mut chunks = Chunks::parse(&mut input);
    let stage = if flags & 1 != 0 { Stage::Session } else { Stage::Auth };
    let mut pair = session_pair(fuzz_server, stage);
    let mut now = pair.now;
    let (e, peer) = split(&mut pair);
    let mut c = Contract::new(flags & 2 == 0);
    c.policy = Some(policy);
    c.current = first_channel(e);
    let mut peer_current = first_channel(peer);
    let peer_policy = 0x0f;
    let zero = Duration::ZERO;
    let mut records = 0;
    while !input.is_empty() && records < 256 {
        records += 1;
        match input.u8() % 6 {
            rec::SEAL => {
                let len = usize::from(input.u16());
                let payload = input.bytes(len);
                if peer.transport().seal_raw(payload).is_err() {
                    continue;
                }
                deliver_from(peer, e, &mut c, &mut chunks, &mut now);
            }
            rec::COMMAND => {
                let which = input.u8();
                let len = usize::from(input.u8());
                let d = input.bytes(len);
                // A command may raise a few events: allow for them in the event bound.
                c.input_bytes += 64;
                let current = c.current;
                let mut opened = None;
                let _ = c.call(e, Call::Command, |e| {
                    opened = e.session_command(which, d, current);
                    Ok(())
                });
                if opened.is_some() {
                    c.current = opened;
                }
            }
            rec::PEER => {
                let which = input.u8();
                let len = usize::from(input.u8());
                let d = input.bytes(len);
                if let Some(id) = peer.session_command(which, d, peer_current) {
                    peer_current = Some(id);
                }
                drain_peer(peer, peer_policy, &mut peer_current);
                deliver_from(peer, e, &mut c, &mut chunks, &mut now);
            }
            rec::TIME => {
                now += Duration::from_secs(u64::from(input.u16()));
                let at = now;
                if e.deadline().is_some_and(|d| d <= at) {
                    let _ = c.call(e, Call::Timeout, |e| e.timeout(at));
                }
                if peer.deadline().is_some_and(|d| d <= at) {
                    let _ = peer.timeout(at);
                }
            }
            rec::PUMP => {
                for _ in 0..16 {
                    c.take_output(e);
                    let out = core::mem::take(&mut c.output);
                    let mut moved = !out.is_empty();
                    if moved {
                        let _ = peer.input(&out, now);
                    }
                    drain_peer(peer, peer_policy, &mut peer_current);
                    let mut back = Vec::new();
                    while let Some(b) = peer.transmit() {
                        back.extend_from_slice(&b);
                    }
                    if !back.is_empty() {
                        moved = true;
                        c.deliver(e, &back, &mut chunks, &mut now, zero);
                    }
                    if !moved {
                        break;
                    }
                }
            }
            rec::POLICY => c.policy = Some(input.u8()),
            _ => {}
        }
        check_channels(e);
    }
    finish(e, &mut c, 0);
}

/// Peer events answered by its own (accepting) policy.
fn drain_peer<P: Endpoint + ChannelOps>(peer: &mut P, policy: u8, current: &mut Option<ChannelId>) {
    for _ in 0..64 {
        let Some(ev) = peer.event() else { break };
        if let Event::ChannelOpened { id } | Event::ChannelOpenRequest { id, .. } = &ev {
            *current = Some(*id);
        }
        answer(peer, &ev, policy);
    }
}

fn deliver_from<E: Endpoint, P: Endpoint>(
    peer: &mut P,
    e: &mut E,
    c: &mut Contract,
    chunks: &mut Chunks,
    now: &mut Instant,
) {
    let mut bytes = Vec::new();
    while let Some(b) = peer.transmit() {
        bytes.extend_from_slice(&b);
    }
    c.deliver(e, &bytes, chunks, now, Duration::ZERO);
}

/// Properties of the connection layer that hold after any call.
fn check_channels<E: ChannelOps>(e: &E) {
    let ids = e.ids();
    assert_eq!(ids.len(), e.channels());
    assert!(ids.len() <= 8, "channel table grew past its limit: {}", ids.len());
    for id in ids {
        let info = e.info(id).expect("a listed channel has info");
        assert!(
            u64::from(info.recv_window) + u64::from(info.unconsumed) <= u64::from(WINDOW),
            "receive window accounting broke: {info:?}"
        );
    }
}

/// A client in user authentication (flags bit 0 clear) or with an open session channel
/// (bit 0 set) under the `none` cipher, fed payloads sealed by its server, commands on
/// either end, time and real traffic.
///
/// Input: `flags` (bit 0: start with a session, bit 1: no-drain), `policy` (how the fuzzed
/// end answers decision events, see [`answer`]), [`Chunks`], then records (kind mod 6):
/// seal a payload on the peer, a session command on the fuzzed end or on the peer, advance
/// the clock, pump, change the policy.
///
/// Properties: those of the connection bodies, plus: the channel table stays within its
/// limit and no channel's receive window accounting goes past the window.
pub fn client_session(data: &[u8]) {
    session_body(data, false, |p| (&mut p.client, &mut p.server));
}

/// The server counterpart of [`client_session`].
pub fn server_session(data: &[u8]) {
    session_body(data, true, |p| (&mut p.server, &mut p.client));
}

/// Seeds: recorded peer traffic for both stages.
pub(super) fn seeds(out: &mut Vec<(&'static str, String, Vec<u8>)>) {
    use crate::wire::WireWrite;
    use crate::wire::msg;
    let seal = |v: &mut Vec<u8>, m: &[u8]| {
        v.push(rec::SEAL);
        v.extend_from_slice(&(m.len() as u16).to_be_bytes());
        v.extend_from_slice(m);
    };
    let cmd = |v: &mut Vec<u8>, kind: u8, which: u8, d: &[u8]| {
        v.extend_from_slice(&[kind, which, d.len() as u8]);
        v.extend_from_slice(d);
    };
    for (target, server_target) in [("client_session", false), ("server_session", true)] {
        // Session stage, peer-driven traffic of every kind.
        let mut s = vec![1u8, 0x0f, 0];
        for which in [7u8, 8, 2, 3, 9, 12, 10, 11, 5, 6] {
            cmd(&mut s, rec::PEER, which, b"data");
        }
        s.push(rec::PUMP);
        out.push((target, "session-peer-all".into(), s));
        // Session stage, fuzzed-end commands, then a flood of data beyond the window.
        let mut s = vec![1u8, 0x0f, 2, 1, 0];
        for which in [0u8, 1, 2, 3, 4, 7, 8, 10, 12, 5, 6] {
            cmd(&mut s, rec::COMMAND, which, b"x");
        }
        s.push(rec::PUMP);
        for _ in 0..6 {
            cmd(&mut s, rec::PEER, 2, &[0x41; 200]);
        }
        s.extend_from_slice(&[rec::TIME, 0x0e, 0x11]);
        out.push((target, "session-commands".into(), s));
        // Raw channel messages sealed by the peer (including a window overrun).
        let mut s = vec![1u8, 0x07, 0];
        seal(&mut s, &[msg::CHANNEL_WINDOW_ADJUST, 0, 0, 0, 0, 0, 0, 0x10, 0]);
        let mut data = vec![msg::CHANNEL_DATA, 0, 0, 0, 0];
        data.put_string(&[0x5a; 100]);
        seal(&mut s, &data);
        seal(&mut s, &[msg::CHANNEL_EOF, 0, 0, 0, 0]);
        seal(&mut s, &[msg::CHANNEL_CLOSE, 0, 0, 0, 0]);
        seal(&mut s, &[msg::CHANNEL_SUCCESS, 0, 0, 0, 9]);
        out.push((target, "session-raw".into(), s));
        // Auth stage: every method attempted by the client (from either end of the pair).
        let policy = if server_target { 0x10 } else { 0x4f };
        let mut s = vec![0u8, policy, 0];
        let auth_end = if server_target { rec::PEER } else { rec::COMMAND };
        for which in [13u8, 0x1d, 0x2d, 0x3d, 0x4d, 0x5d] {
            // 13 with which / 16 = 0..5: none, password, publickey, external, kbd, gssapi.
            cmd(&mut s, auth_end, which, b"pw");
            s.push(rec::PUMP);
        }
        out.push((target, "auth-methods".into(), s));
        for (name, p) in [("auth-partial", 0x20u8), ("auth-prompts", 0x30)] {
            let mut s = vec![0u8, p, 0];
            cmd(&mut s, auth_end, 0x1d, b"pw");
            cmd(&mut s, auth_end, 0x4d, b"");
            s.push(rec::PUMP);
            out.push((target, name.into(), s));
        }
    }
}
