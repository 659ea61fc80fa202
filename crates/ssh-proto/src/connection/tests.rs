//! Pair-harness tests of the connection protocol, both roles.

use std::time::{Duration, Instant};

use bytes::Bytes;
use proptest::prelude::*;

use super::*;
use crate::error::{DisconnectReason, Error};
use crate::event::Event;
use crate::hostkey::tests::fixture;
use crate::testing::Pair;
use crate::wire::connection::ChannelData;
use crate::{client, server};

fn configs() -> (client::Config, server::Config) {
    let mut s = server::Config::new(vec![fixture("ed25519"), fixture("ecdsa256"), fixture("rsa2048")]);
    s.auth.timeout = None;
    (client::Config::default(), s)
}

fn authed() -> Pair {
    let (c, s) = configs();
    Pair::authenticated(c, s, Instant::now(), 31).unwrap()
}

fn authed_with(edit: impl FnOnce(&mut client::Config, &mut server::Config)) -> Pair {
    let (mut c, mut s) = configs();
    edit(&mut c, &mut s);
    Pair::authenticated(c, s, Instant::now(), 32).unwrap()
}

/// The server's id for the channel whose open it was last asked about.
fn pending_open(p: &Pair) -> Option<(ChannelId, ChannelKind)> {
    p.server_events.iter().rev().find_map(|e| match e {
        Event::ChannelOpenRequest { id, kind } => Some((*id, kind.clone())),
        _ => None,
    })
}

/// Opens a session from the client; returns (client id, server id).
fn session(p: &mut Pair) -> (ChannelId, ChannelId) {
    let c = p.client.open_session().unwrap();
    p.drive().unwrap();
    let (s, kind) = pending_open(p).unwrap();
    assert_eq!(kind, ChannelKind::Session);
    p.server.accept_channel(s).unwrap();
    p.drive().unwrap();
    assert!(p.client_events.iter().any(|e| matches!(e, Event::ChannelOpened { id } if *id == c)));
    (c, s)
}

fn data_of(events: &[Event], id: ChannelId) -> Vec<u8> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::ChannelData { id: i, data } if *i == id => Some(data.to_vec()),
            _ => None,
        })
        .flatten()
        .collect()
}

fn disconnected(events: &[Event]) -> Option<(DisconnectReason, Option<Error>)> {
    events.iter().find_map(|e| match e {
        Event::Disconnected { reason, error, .. } => Some((*reason, error.clone())),
        _ => None,
    })
}

#[test]
fn exec_session_end_to_end() {
    let mut p = authed();
    let (c, s) = session(&mut p);
    p.client.channel_request(c, &ChannelRequest::Env { name: "LANG".into(), value: "C".into() }, false).unwrap();
    p.client.channel_request(c, &ChannelRequest::Exec { command: Bytes::from_static(b"ls -l") }, true).unwrap();
    p.drive().unwrap();
    let reqs: Vec<(Option<RequestToken>, ChannelRequest)> = p
        .server_events
        .iter()
        .filter_map(|e| match e {
            Event::ChannelRequest { id, token, request } if *id == s => Some((*token, request.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0], (None, ChannelRequest::Env { name: "LANG".into(), value: "C".into() }));
    assert_eq!(reqs[1].1, ChannelRequest::Exec { command: Bytes::from_static(b"ls -l") });
    p.server.channel_request_reply(s, reqs[1].0.unwrap(), true).unwrap();
    p.drive().unwrap();
    assert!(p.client_events.iter().any(|e| matches!(e,
        Event::ChannelRequestResult { id, request, success: true } if *id == c && request == "exec")));

    // stdout, stderr, stdin both ways.
    assert_eq!(p.server.channel_send(s, b"total 0\n").unwrap(), 8);
    assert_eq!(p.server.channel_send_extended(s, 1, b"warning\n").unwrap(), 8);
    assert_eq!(p.client.channel_send(c, b"input").unwrap(), 5);
    p.client.channel_eof(c).unwrap();
    p.drive().unwrap();
    assert_eq!(data_of(&p.client_events, c), b"total 0\n");
    assert!(p.client_events.iter().any(|e| matches!(e,
        Event::ChannelExtendedData { id, code: 1, data } if *id == c && &data[..] == b"warning\n")));
    assert_eq!(data_of(&p.server_events, s), b"input");
    assert!(p.server_events.iter().any(|e| matches!(e, Event::ChannelEof { id } if *id == s)));
    // EOF, exit-status, close — in that order, as OpenSSH sends them.
    p.server.channel_eof(s).unwrap();
    p.server.channel_request(s, &ChannelRequest::Exit(ExitStatus::Code(3)), false).unwrap();
    p.server.channel_close(s).unwrap();
    p.drive().unwrap();
    let closed: Vec<_> = p
        .client_events
        .iter()
        .filter_map(|e| match e {
            Event::ChannelClosed { id, exit } => Some((*id, exit.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(closed, [(c, Some(ExitStatus::Code(3)))]);
    assert!(p.server_events.iter().any(|e| matches!(e, Event::ChannelClosed { id, exit: None } if *id == s)));
    assert_eq!(p.client.channel_count(), 0);
    assert_eq!(p.server.channel_count(), 0);
    // The number is free again; the old id is unknown, also once the number is reused.
    assert_eq!(p.client.channel_send(c, b"x"), Err(ChannelError::Unknown(c)));
    let (c2, _) = session(&mut p);
    assert_eq!(c2.number(), c.number(), "channel numbers are reused");
    assert_ne!(c2, c);
    assert_eq!(p.client.channel_send(c, b"x"), Err(ChannelError::Unknown(c)));
    // Closing or consuming on a channel that is gone has no effect (events about it may
    // still be in the application's hands), and never touches the new one.
    p.client.channel_close(c).unwrap();
    p.client.channel_consumed(c, 10).unwrap();
    assert!(!p.client.channel_info(c2).unwrap().close_sent);
}

#[test]
fn exit_signal_and_every_request_type_round_trip() {
    let mut p = authed();
    let (c, s) = session(&mut p);
    let modes = TerminalModes(vec![(modes::opcode::ECHO, 0), (modes::opcode::TTY_OP_OSPEED, 38400)]);
    let requests = vec![
        ChannelRequest::Pty(PtyRequest {
            term: "xterm".into(),
            cols: 80,
            rows: 24,
            width_px: 640,
            height_px: 480,
            modes,
        }),
        ChannelRequest::X11 {
            single_connection: true,
            auth_protocol: "MIT-MAGIC-COOKIE-1".into(),
            auth_cookie: "00ff".into(),
            screen: 0,
        },
        ChannelRequest::Env { name: "A".into(), value: "b".into() },
        ChannelRequest::Shell,
        ChannelRequest::Subsystem { name: "sftp".into() },
        ChannelRequest::WindowChange { cols: 100, rows: 30, width_px: 0, height_px: 0 },
        ChannelRequest::XonXoff { client_can_do: true },
        ChannelRequest::Signal { name: "INT".into() },
        ChannelRequest::Break { length_ms: 500 },
        ChannelRequest::AuthAgent,
        ChannelRequest::Eow,
        ChannelRequest::Other { name: "custom@example.com".into(), data: Bytes::from_static(b"\0\0\0\x01z") },
    ];
    for r in &requests {
        p.client.channel_request(c, r, true).unwrap();
    }
    p.drive().unwrap();
    let got: Vec<(RequestToken, ChannelRequest)> = p
        .server_events
        .iter()
        .filter_map(|e| match e {
            Event::ChannelRequest { id, token: Some(t), request } if *id == s => Some((*t, request.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(got.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>(), requests);
    // Answer in reverse order: replies still go out in request order.
    for (i, (t, _)) in got.iter().enumerate().rev() {
        p.server.channel_request_reply(s, *t, i % 2 == 0).unwrap();
    }
    p.drive().unwrap();
    let results: Vec<(String, bool)> = p
        .client_events
        .iter()
        .filter_map(|e| match e {
            Event::ChannelRequestResult { request, success, .. } => Some((request.clone(), *success)),
            _ => None,
        })
        .collect();
    let expected: Vec<(String, bool)> =
        requests.iter().enumerate().map(|(i, r)| (r.name().to_owned(), i % 2 == 0)).collect();
    assert_eq!(results, expected);
    // A keepalive channel request is answered by the core (failure, like OpenSSH).
    p.server.channel_request(s, &ChannelRequest::Keepalive, true).unwrap();
    let signal = ExitStatus::Signal { name: "KILL".into(), core_dumped: true, message: "killed".into() };
    p.server.channel_request(s, &ChannelRequest::Exit(signal.clone()), false).unwrap();
    p.server.channel_close(s).unwrap();
    p.drive().unwrap();
    assert!(p.server_events.iter().any(|e| matches!(e,
        Event::ChannelRequestResult { request, success: false, .. } if request == "keepalive@openssh.com")));
    assert!(p.client_events.iter().any(|e| matches!(e, Event::ChannelClosed { exit: Some(x), .. } if *x == signal)));
}

#[test]
fn every_channel_type_opens_both_ways() {
    let kinds = vec![
        ChannelKind::DirectTcpip {
            host: "db".into(),
            port: 5432,
            originator: "127.0.0.1".into(),
            originator_port: 40000,
        },
        ChannelKind::ForwardedTcpip {
            address: "".into(),
            port: 8080,
            originator: "10.0.0.1".into(),
            originator_port: 1,
        },
        ChannelKind::X11 { originator: "127.0.0.1".into(), originator_port: 6010 },
        ChannelKind::AuthAgent,
        ChannelKind::DirectStreamlocal { path: "/run/db.sock".into() },
        ChannelKind::ForwardedStreamlocal { path: "/tmp/fwd.sock".into() },
        ChannelKind::Other { name: "tun@openssh.com".into(), data: Bytes::from_static(b"\0\0\0\x01\0\0\0\x02") },
    ];
    let mut p = authed();
    for kind in &kinds {
        // client -> server
        let c = p.client.open_channel(kind).unwrap();
        p.drive().unwrap();
        let (s, got) = pending_open(&p).unwrap();
        assert_eq!(&got, kind);
        p.server.accept_channel(s).unwrap();
        p.drive().unwrap();
        assert!(p.client_events.iter().any(|e| matches!(e, Event::ChannelOpened { id } if *id == c)));
        // server -> client
        let s2 = p.server.open_channel(kind).unwrap();
        p.drive().unwrap();
        let (c2, got) = p
            .client_events
            .iter()
            .rev()
            .find_map(|e| match e {
                Event::ChannelOpenRequest { id, kind } => Some((*id, kind.clone())),
                _ => None,
            })
            .unwrap();
        assert_eq!(&got, kind);
        p.client.reject_channel(c2, OpenFailure::ConnectFailed, "refused").unwrap();
        p.drive().unwrap();
        assert!(p.server_events.iter().any(|e| matches!(e,
            Event::ChannelOpenFailed { id, reason: OpenFailure::ConnectFailed, description } if *id == s2 && description == "refused")));
    }
    assert_eq!(p.client.channel_count(), kinds.len());
}

#[test]
fn flow_control_blocks_then_writable_after_consumption() {
    let mut p = authed_with(|_, s| {
        s.connection.window = 100_000;
        s.connection.max_packet = 32 * 1024;
    });
    let (c, s) = session(&mut p);
    let info = p.client.channel_info(c).unwrap();
    assert_eq!((info.send_window, info.send_max_packet), (100_000, 32 * 1024));
    let big = vec![7u8; 300_000];
    assert_eq!(p.client.channel_send(c, &big).unwrap(), 100_000);
    assert_eq!(p.client.channel_send(c, &big), Err(ChannelError::Blocked(c)));
    p.drive().unwrap();
    let got = data_of(&p.server_events, s);
    assert_eq!(got.len(), 100_000);
    // Packets respect the announced maximum.
    assert!(p.server_events.iter().all(|e| !matches!(e, Event::ChannelData { data, .. } if data.len() > 32 * 1024)));
    // Not consumed yet: no window adjustment, still blocked.
    assert_eq!(p.client.channel_info(c).unwrap().send_window, 0);
    // The peer used more than three packets' worth: whatever is consumed goes back at once.
    p.server.channel_consumed(s, 10_000).unwrap();
    p.drive().unwrap();
    assert_eq!(p.client.channel_info(c).unwrap().send_window, 10_000);
    p.server.channel_consumed(s, 90_000).unwrap();
    p.drive().unwrap();
    assert_eq!(p.client.channel_info(c).unwrap().send_window, 100_000);
    assert!(p.client_events.iter().any(|e| matches!(e, Event::ChannelWritable { id } if *id == c)));
    // Consuming more than was delivered changes nothing.
    p.server.channel_consumed(s, 1 << 30).unwrap();
    let info = p.server.channel_info(s).unwrap();
    assert_eq!(info.recv_window + info.unconsumed, 100_000);
}

#[test]
fn a_stalled_reader_never_delays_another_channel() {
    const TOTAL: usize = 100 * 1024 * 1024;
    let mut p = authed();
    let (ca, sa) = session(&mut p);
    let (cb, sb) = session(&mut p);
    p.client_events.clear();
    p.server_events.clear();
    // Channel A: fill its window; its reader never consumes.
    let chunk = vec![0x5au8; 256 * 1024];
    while p.client.channel_send(ca, &chunk).is_ok() {}
    let mut moved = 0usize;
    let mut a_bytes = 0usize;
    let mut rounds = 0;
    while moved < TOTAL {
        rounds += 1;
        assert!(rounds < 100_000, "no progress on channel B after {moved} bytes");
        while moved + p.server.channel_info(sb).map_or(0, |i| i.unconsumed as usize) < TOTAL {
            match p.client.channel_send(cb, &chunk) {
                Ok(_) => {}
                Err(ChannelError::Blocked(_)) => break,
                Err(e) => panic!("{e}"),
            }
        }
        p.step().unwrap();
        for ev in p.server_events.drain(..) {
            match ev {
                Event::ChannelData { id, data } if id == sa => a_bytes += data.len(),
                Event::ChannelData { id, data } => {
                    assert_eq!(id, sb);
                    moved += data.len();
                    p.server.channel_consumed(sb, data.len()).unwrap();
                }
                _ => {}
            }
        }
        p.client_events.clear();
    }
    assert!(moved >= TOTAL);
    assert_eq!(a_bytes, ConnectionConfig::default().window as usize, "A delivered exactly its window");
    let a = p.server.channel_info(sa).unwrap();
    assert_eq!(a.recv_window, 0, "channel A's peer used its whole window");
    assert_eq!(p.client.channel_info(ca).unwrap().send_window, 0);
}

#[test]
fn window_overrun_is_a_protocol_error() {
    let mut p = authed_with(|_, s| s.connection.window = 1000);
    let (c, _) = session(&mut p);
    let remote = p.client.channel_info(c).unwrap().remote_id;
    let data = [1u8; 1001];
    p.client.transport_mut().send(|w| ChannelData { recipient: remote, code: None, data: &data }.encode(w)).unwrap();
    let _ = p.drive();
    let (reason, error) = disconnected(&p.server_events).unwrap();
    assert_eq!(reason, DisconnectReason::ProtocolError);
    assert!(matches!(error, Some(Error::ChannelProtocol { violation: ChannelViolation::WindowExceeded, .. })));
    assert_eq!(disconnected(&p.client_events).unwrap().0, DisconnectReason::ProtocolError);
}

#[test]
fn data_after_eof_or_close_and_unknown_channels_are_protocol_errors() {
    // After EOF.
    let mut p = authed();
    let (c, _) = session(&mut p);
    let remote = p.client.channel_info(c).unwrap().remote_id;
    p.client.channel_eof(c).unwrap();
    p.client.transport_mut().send(|w| ChannelData { recipient: remote, code: None, data: b"late" }.encode(w)).unwrap();
    let _ = p.drive();
    assert!(matches!(
        disconnected(&p.server_events),
        Some((
            DisconnectReason::ProtocolError,
            Some(Error::ChannelProtocol { violation: ChannelViolation::DataAfterEof, .. })
        ))
    ));
    // After the peer's CLOSE the number is gone: a late window adjust is ignored (as
    // OpenSSH does; Paramiko sends them), late data is an unknown channel.
    let mut p = authed();
    let (c, _) = session(&mut p);
    let remote = p.client.channel_info(c).unwrap().remote_id;
    p.client.channel_close(c).unwrap();
    p.drive().unwrap();
    p.client.transport_mut().send(|w| WindowAdjust { recipient: remote, bytes: 4096 }.encode(w)).unwrap();
    p.drive().unwrap();
    assert!(disconnected(&p.server_events).is_none(), "a late window adjust must not end the connection");
    p.client.transport_mut().send(|w| ChannelData { recipient: remote, code: None, data: b"late" }.encode(w)).unwrap();
    let _ = p.drive();
    assert!(matches!(
        disconnected(&p.server_events),
        Some((DisconnectReason::ProtocolError, Some(Error::UnknownChannel { .. })))
    ));
    // Data before the open is answered.
    let mut p = authed();
    p.client.open_session().unwrap();
    p.drive().unwrap();
    let (s, _) = pending_open(&p).unwrap();
    let _ = s;
    // The client has no remote number yet; the server never confirmed. Send on the server's
    // pending channel number instead.
    p.client.transport_mut().send(|w| ChannelData { recipient: 0, code: None, data: b"early" }.encode(w)).unwrap();
    let _ = p.drive();
    assert!(matches!(
        disconnected(&p.server_events),
        Some((DisconnectReason::ProtocolError, Some(Error::UnexpectedMessage { .. })))
    ));
}

#[test]
fn channel_messages_before_authentication_are_refused() {
    let (c, s) = configs();
    let mut p = Pair::new(c, s, Instant::now(), 33).unwrap();
    p.drive().unwrap();
    assert_eq!(p.client.open_session(), Err(ChannelError::NotReady));
    p.client
        .transport_mut()
        .send(|w| {
            wire::ChannelOpen { kind: "session", sender: 0, window: 1000, max_packet: 1000, data: &[] }
                .encode_header(w);
        })
        .unwrap();
    let _ = p.drive();
    assert_eq!(disconnected(&p.server_events).unwrap().0, DisconnectReason::ProtocolError);
}

#[test]
fn open_flood_is_refused_with_resource_shortage() {
    let mut p = authed_with(|_, s| s.connection.max_channels = 8);
    for _ in 0..20 {
        p.client.open_session().unwrap();
    }
    p.drive().unwrap();
    let pending = p.server_events.iter().filter(|e| matches!(e, Event::ChannelOpenRequest { .. })).count();
    let refused = p
        .client_events
        .iter()
        .filter(|e| matches!(e, Event::ChannelOpenFailed { reason: OpenFailure::ResourceShortage, .. }))
        .count();
    assert_eq!((pending, refused), (8, 12));
    assert!(!p.server.is_closed());
}

#[test]
fn unanswered_request_flood_is_bounded() {
    let mut p = authed_with(|_, s| s.connection.max_pending_requests = 16);
    let (c, _) = session(&mut p);
    for _ in 0..17 {
        p.client.channel_request(c, &ChannelRequest::Shell, true).unwrap();
    }
    let _ = p.drive();
    let (reason, error) = disconnected(&p.server_events).unwrap();
    assert_eq!(reason, DisconnectReason::ProtocolError);
    assert_eq!(error, Some(Error::LimitExceeded(crate::Limit::PendingRequests)));
    // Global requests too.
    let mut p = authed_with(|_, s| s.connection.max_pending_requests = 4);
    for _ in 0..5 {
        p.client.global_request(&GlobalRequest::Other { name: "x@y".into(), data: Bytes::new() }, true).unwrap();
    }
    let _ = p.drive();
    assert_eq!(disconnected(&p.server_events).unwrap().1, Some(Error::LimitExceeded(crate::Limit::PendingRequests)));
}

#[test]
fn global_requests_port_forwarding_and_unknown() {
    let mut p = authed();
    let t1 = p
        .client
        .global_request(&GlobalRequest::TcpipForward { address: "localhost".into(), port: 0 }, true)
        .unwrap()
        .unwrap();
    let t2 = p
        .client
        .global_request(&GlobalRequest::TcpipForward { address: "".into(), port: 2222 }, true)
        .unwrap()
        .unwrap();
    let t3 = p
        .client
        .global_request(&GlobalRequest::Other { name: "nope@example".into(), data: Bytes::new() }, true)
        .unwrap()
        .unwrap();
    p.drive().unwrap();
    let asked: Vec<(GlobalToken, GlobalRequest)> = p
        .server_events
        .iter()
        .filter_map(|e| match e {
            Event::GlobalRequest { token: Some(t), request } => Some((*t, request.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(asked.len(), 3);
    assert_eq!(asked[0].1, GlobalRequest::TcpipForward { address: "localhost".into(), port: 0 });
    // Answer out of order.
    p.server.global_request_reply(asked[2].0, GlobalReply::Failure).unwrap();
    p.server.global_request_reply(asked[1].0, GlobalReply::Success { bound_port: None, data: Bytes::new() }).unwrap();
    p.drive().unwrap();
    assert!(
        !p.client_events.iter().any(|e| matches!(e, Event::GlobalRequestResult { .. })),
        "replies wait for the first"
    );
    p.server
        .global_request_reply(asked[0].0, GlobalReply::Success { bound_port: Some(40123), data: Bytes::new() })
        .unwrap();
    p.drive().unwrap();
    let results: Vec<(GlobalToken, GlobalReply)> = p
        .client_events
        .iter()
        .filter_map(|e| match e {
            Event::GlobalRequestResult { token, reply } => Some((*token, reply.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        results,
        [
            (t1, GlobalReply::Success { bound_port: Some(40123), data: Bytes::new() }),
            (t2, GlobalReply::Success { bound_port: None, data: Bytes::new() }),
            (t3, GlobalReply::Failure),
        ]
    );
    // A forwarded connection arrives for the bound port.
    let kind = ChannelKind::ForwardedTcpip {
        address: "localhost".into(),
        port: 40123,
        originator: "127.0.0.1".into(),
        originator_port: 5,
    };
    p.server.open_channel(&kind).unwrap();
    p.drive().unwrap();
    assert!(p.client_events.iter().any(|e| matches!(e, Event::ChannelOpenRequest { kind: k, .. } if *k == kind)));
    // Cancel.
    p.client
        .global_request(&GlobalRequest::CancelTcpipForward { address: "localhost".into(), port: 40123 }, false)
        .unwrap();
    p.drive().unwrap();
    assert!(p.server_events.iter().any(|e| matches!(
        e,
        Event::GlobalRequest { token: None, request: GlobalRequest::CancelTcpipForward { port: 40123, .. } }
    )));
}

#[test]
fn keepalive_detects_a_dead_peer_and_live_traffic_keeps_it_alive() {
    let k = Keepalive { interval: Duration::from_secs(15), count_max: 3 };
    let mut p = authed_with(|c, _| c.connection.keepalive = Some(k));
    // An answering peer: probes go out and are answered; nothing ends.
    p.advance(Duration::from_secs(16)).unwrap();
    p.advance(Duration::from_secs(16)).unwrap();
    p.advance(Duration::from_secs(16)).unwrap();
    p.advance(Duration::from_secs(16)).unwrap();
    assert!(!p.client.is_closed());
    // A dead peer: drop everything from the server.
    p.tamper = Some(Box::new(|dir, bytes| {
        if dir == crate::testing::Direction::ToClient {
            bytes.clear();
        }
    }));
    for _ in 0..3 {
        p.advance(Duration::from_secs(16)).unwrap();
        assert!(!p.client.is_closed());
    }
    let _ = p.advance(Duration::from_secs(16));
    assert!(p.client.is_closed());
    assert_eq!(disconnected(&p.client_events).unwrap().1, Some(Error::Timeout(crate::TimeoutKind::Keepalive)));
}

#[test]
fn idle_timeout_counts_channel_activity_only() {
    let mut p = authed_with(|_, s| s.connection.idle_timeout = Some(Duration::from_secs(60)));
    let (c, s) = session(&mut p);
    for _ in 0..5 {
        p.advance(Duration::from_secs(50)).unwrap();
        p.client.channel_send(c, b"tick").unwrap();
        p.drive().unwrap();
        p.server.channel_consumed(s, 4).unwrap();
    }
    assert!(!p.server.is_closed());
    // Pings are not channel activity.
    p.advance(Duration::from_secs(40)).unwrap();
    p.client.send_ignore(b"noise").unwrap();
    let _ = p.advance(Duration::from_secs(30));
    assert!(p.server.is_closed());
    assert_eq!(
        disconnected(&p.server_events).unwrap(),
        (DisconnectReason::ByApplication, Some(Error::Timeout(crate::TimeoutKind::Idle)))
    );
}

#[test]
fn host_keys_are_announced_and_proved() {
    let mut p = authed();
    let keys = p
        .client_events
        .iter()
        .find_map(|e| match e {
            Event::HostKeysAnnounced { keys } => Some(keys.clone()),
            _ => None,
        })
        .expect("hostkeys-00 announcement");
    assert_eq!(keys.len(), 3);
    p.client.prove_host_keys(&keys).unwrap();
    p.drive().unwrap();
    let proved = p.client_events.iter().find_map(|e| match e {
        Event::HostKeysProved { keys } => Some(keys.clone()),
        _ => None,
    });
    assert_eq!(proved, Some(keys));
    // A key the server does not have: the whole proof is refused.
    let stranger = crate::KeyPair::generate_ed25519(&mut crate::SeededRng::new(9)).public_key().clone();
    p.client.prove_host_keys(&[stranger]).unwrap();
    p.drive().unwrap();
    assert!(p.client_events.iter().any(|e| matches!(e, Event::HostKeysProved { keys } if keys.is_empty())));
}

#[test]
fn no_more_sessions_is_enforced() {
    let mut p = authed();
    session(&mut p);
    p.client.no_more_sessions().unwrap();
    p.drive().unwrap();
    // A direct-tcpip channel is still fine.
    p.client
        .open_channel(&ChannelKind::DirectTcpip {
            host: "h".into(),
            port: 1,
            originator: "o".into(),
            originator_port: 2,
        })
        .unwrap();
    p.drive().unwrap();
    assert!(!p.server.is_closed());
    p.client.open_session().unwrap();
    let _ = p.drive();
    assert!(p.server.is_closed());
}

#[test]
fn rekey_during_channel_traffic_loses_nothing() {
    let mut p = authed();
    let (c, s) = session(&mut p);
    let mut sent = Vec::new();
    for i in 0..200u32 {
        if i % 50 == 25 {
            p.client.rekey().unwrap();
        }
        if i % 70 == 10 {
            p.server.rekey().unwrap();
        }
        let chunk: Vec<u8> = (0..1000).map(|j| (i as usize * 31 + j) as u8).collect();
        let n = p.client.channel_send(c, &chunk).unwrap();
        assert_eq!(n, chunk.len());
        sent.extend_from_slice(&chunk);
        if i % 3 == 0 {
            p.step().unwrap();
        }
    }
    p.drive().unwrap();
    assert_eq!(data_of(&p.server_events, s), sent);
    assert!(p.client.key_exchanges() >= 4);
}

#[test]
fn sends_during_a_key_exchange_are_bounded_by_the_deferral_limit() {
    let mut p = authed_with(|c, _| c.transport.limits.max_deferred = 256 * 1024);
    let (c, s) = session(&mut p);
    p.client.rekey().unwrap();
    let chunk = vec![1u8; 64 * 1024];
    let mut queued = 0;
    loop {
        match p.client.channel_send(c, &chunk) {
            Ok(n) => queued += n,
            Err(ChannelError::Blocked(_)) => break,
            Err(e) => panic!("{e}"),
        }
        assert!(queued <= 256 * 1024);
    }
    assert!(queued > 0 && !p.client.is_closed());
    p.drive().unwrap();
    assert!(p.client_events.iter().any(|e| matches!(e, Event::ChannelWritable { id } if *id == c)));
    assert_eq!(data_of(&p.server_events, s).len(), queued);
}

#[test]
fn closing_before_the_confirmation_closes_after_it() {
    let mut p = authed();
    let c = p.client.open_session().unwrap();
    p.client.channel_close(c).unwrap();
    p.drive().unwrap();
    let (s, _) = pending_open(&p).unwrap();
    p.server.accept_channel(s).unwrap();
    p.drive().unwrap();
    assert!(p.client_events.iter().any(|e| matches!(e, Event::ChannelClosed { id, .. } if *id == c)));
    assert!(p.server_events.iter().any(|e| matches!(e, Event::ChannelClosed { id, .. } if *id == s)));
    assert!(!p.client_events.iter().any(|e| matches!(e, Event::ChannelOpened { .. })));
}

#[test]
fn request_decoders_never_panic_and_round_trip() {
    for (name, data) in
        [("pty-req", &b"\0\0\0\x05xterm"[..]), ("exit-signal", b"\0\0\0\x03KILL\x01\0\0\0\0"), ("env", b"")]
    {
        let _ = ChannelRequest::decode(name, data);
    }
    let mut modes = Vec::new();
    modes.put_u8(modes::opcode::ECHO);
    assert!(TerminalModes::decode(&modes).is_err(), "truncated argument");
}

/// One scripted conversation on a session channel, delivered in `chunks`: both ends' events.
fn scripted(chunks: Vec<usize>, script: &[(u8, usize)]) -> (Vec<Event>, Vec<Event>) {
    let mut p = authed();
    let (c, s) = session(&mut p);
    p.chunks = chunks;
    p.client_events.clear();
    p.server_events.clear();
    for &(op, n) in script {
        let data: Vec<u8> = (0..n).map(|i| (i * 7 + n) as u8).collect();
        let _ = match op {
            0 => p.client.channel_send(c, &data).map(|_| ()),
            1 => p.server.channel_send(s, &data).map(|_| ()),
            2 => p.client.channel_request(c, &ChannelRequest::Exec { command: data.into() }, true),
            3 => p.server.channel_consumed(s, n),
            4 => p.client.channel_consumed(c, n),
            _ => {
                p.step().unwrap();
                Ok(())
            }
        };
    }
    p.drive().unwrap();
    (p.client_events, p.server_events)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// The same conversation in any fragmentation raises the same events on both ends.
    #[test]
    fn fragmentation_gives_identical_events(
        chunks in proptest::collection::vec(1usize..3000, 1..6),
        script in proptest::collection::vec((0u8..6, 1usize..5000), 1..30),
    ) {
        prop_assert_eq!(scripted(Vec::new(), &script), scripted(chunks, &script));
    }

    /// The same channel traffic in any fragmentation gives the same events, and no byte is
    /// lost or duplicated whatever the interleaving of sends and consumption.
    #[test]
    fn fragmentation_and_interleaving_preserve_channel_data(
        chunks in proptest::collection::vec(1usize..2000, 1..8),
        ops in proptest::collection::vec((0u8..3, 1usize..40_000), 1..60),
    ) {
        let mut p = authed_with(|_, s| {
            s.connection.window = 50_000;
            s.connection.max_packet = 16 * 1024;
        });
        let (c, s) = session(&mut p);
        p.chunks = chunks;
        p.server_events.clear();
        let mut sent = Vec::new();
        let mut received = Vec::new();
        let mut counter = 0u8;
        for (op, n) in ops {
            match op {
                0 => {
                    let data: Vec<u8> = (0..n).map(|_| { counter = counter.wrapping_add(1); counter }).collect();
                    match p.client.channel_send(c, &data) {
                        Ok(k) => { sent.extend_from_slice(&data[..k]); counter = counter.wrapping_sub((n - k) as u8); }
                        Err(ChannelError::Blocked(_)) => { counter = counter.wrapping_sub(n as u8); }
                        Err(e) => return Err(TestCaseError::fail(e.to_string())),
                    }
                }
                1 => { p.step().unwrap(); }
                _ => {
                    let info = p.server.channel_info(s).unwrap();
                    p.server.channel_consumed(s, n.min(info.unconsumed as usize)).unwrap();
                }
            }
            for ev in p.server_events.drain(..) {
                if let Event::ChannelData { data, .. } = ev { received.extend_from_slice(&data); }
            }
            let info = p.server.channel_info(s).unwrap();
            prop_assert!(info.recv_window as usize + info.unconsumed as usize <= 50_000);
            let ci = p.client.channel_info(c).unwrap();
            prop_assert!(ci.send_window <= 50_000);
        }
        // Drain: consume everything until all sent data arrived.
        for _ in 0..1000 {
            p.drive().unwrap();
            for ev in p.server_events.drain(..) {
                if let Event::ChannelData { data, .. } = ev { received.extend_from_slice(&data); }
            }
            let info = p.server.channel_info(s).unwrap();
            p.server.channel_consumed(s, info.unconsumed as usize).unwrap();
            if received.len() == sent.len() { break; }
        }
        prop_assert_eq!(received, sent);
    }
}

#[test]
fn shrinking_idle_buffers_loses_nothing() {
    let mut p = authed();
    let (c, s) = session(&mut p);
    p.client.channel_send(c, b"before").unwrap();
    p.drive().unwrap();
    p.client.shrink_buffers();
    p.server.shrink_buffers();
    assert_eq!((p.client.buffer_capacity(), p.server.buffer_capacity()), (0, 0));
    p.server.channel_send(s, b"after").unwrap();
    p.client.channel_send(c, b" and after").unwrap();
    // Shrinking with output pending keeps it.
    p.client.shrink_buffers();
    p.drive().unwrap();
    assert_eq!(data_of(&p.server_events, s), b"before and after");
    assert_eq!(data_of(&p.client_events, c), b"after");
}

#[test]
fn oversized_packets_window_overflow_and_late_auth_messages() {
    use crate::wire::connection::WindowAdjust;
    // A data packet larger than the maximum we announced.
    let mut p = authed_with(|_, s| s.connection.max_packet = 4096);
    let (c, _) = session(&mut p);
    let remote = p.client.channel_info(c).unwrap().remote_id;
    p.client
        .transport_mut()
        .send(|w| ChannelData { recipient: remote, code: None, data: &[0; 4097] }.encode(w))
        .unwrap();
    let _ = p.drive();
    assert!(matches!(
        disconnected(&p.server_events),
        Some((
            DisconnectReason::ProtocolError,
            Some(Error::ChannelProtocol { violation: ChannelViolation::PacketTooLarge, .. })
        ))
    ));
    // A window adjustment past 2^32 - 1.
    let mut p = authed();
    let (c, _) = session(&mut p);
    let remote = p.client.channel_info(c).unwrap().remote_id;
    p.client.transport_mut().send(|w| WindowAdjust { recipient: remote, bytes: u32::MAX }.encode(w)).unwrap();
    let _ = p.drive();
    assert!(matches!(
        disconnected(&p.server_events),
        Some((_, Some(Error::ChannelProtocol { violation: ChannelViolation::WindowOverflow, .. })))
    ));
    // A second USERAUTH_SUCCESS: the client never asked.
    let mut p = authed();
    p.server.transport_mut().send(|w| w.extend_from_slice(&[crate::wire::msg::USERAUTH_SUCCESS])).unwrap();
    let _ = p.drive();
    assert_eq!(disconnected(&p.client_events).unwrap().0, DisconnectReason::ProtocolError);
    // A USERAUTH_REQUEST after success is ignored by the server (RFC 4252 §5.1).
    let mut p = authed();
    let req = crate::wire::auth::UserauthRequest {
        user: "other",
        service: "ssh-connection",
        method: crate::wire::auth::RequestMethod::None,
    };
    p.client.transport_mut().send(|w| req.encode(w)).unwrap();
    p.drive().unwrap();
    assert!(!p.server.is_closed() && p.server.user() == Some("user"));
    assert!(!p.server_events.iter().any(|e| matches!(e, Event::AuthRequest { user, .. } if user == "other")));
}

#[test]
fn automatic_replies_to_a_peer_that_never_reads_are_bounded() {
    let mut p = authed_with(|_, s| s.transport.limits.max_pending_output = 64 * 1024);
    // The server's output is never taken: a flood of probes must end the connection, not
    // grow its output.
    for _ in 0..20_000 {
        p.client.global_request(&GlobalRequest::Keepalive, true).unwrap();
    }
    let mut bytes = Vec::new();
    while let Some(b) = p.client.poll_transmit() {
        bytes.extend_from_slice(&b);
    }
    let r = p.server.handle_input(&bytes, p.now);
    assert_eq!(r, Err(Error::LimitExceeded(crate::Limit::PendingOutput)));
    assert!(p.server.pending_output() < 80 * 1024, "{}", p.server.pending_output());
}

#[test]
fn control_messages_during_a_full_key_exchange_do_not_end_the_connection() {
    let mut p = authed_with(|c, _| c.transport.limits.max_deferred = 256 * 1024);
    let (c1, _) = session(&mut p);
    let (c2, _) = session(&mut p);
    p.client.rekey().unwrap();
    let chunk = vec![1u8; 64 * 1024];
    for c in [c1, c2] {
        while p.client.channel_send(c, &chunk).is_ok() {}
    }
    // Both channels blocked; now control traffic on top: the reserve takes a good part of
    // it, the rest is refused without harm.
    let mut queued = 0;
    for i in 0..60 {
        let exec = ChannelRequest::Exec { command: Bytes::from(vec![b'x'; 1000 + i]) };
        match p.client.channel_request(c1, &exec, false) {
            Ok(()) => queued += 1,
            Err(ChannelError::OutputFull) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert!(queued >= 20, "only {queued} requests fit in the reserve");
    assert!(!p.client.is_closed());
    p.drive().unwrap();
    assert!(!p.client.is_closed() && !p.server.is_closed());
}

/// An application sending requests in a loop (`env`, `signal`) while nothing is
/// transmitted: they stop at the output bound with `OutputFull`, and go on once the output
/// is taken.
#[test]
fn a_request_flood_waits_at_the_output_bound() {
    let mut p = authed_with(|c, _| c.transport.limits.max_pending_output = 1 << 20);
    let (c, _) = session(&mut p);
    let env = ChannelRequest::Env { name: "FLOOD".into(), value: "x".repeat(60 * 1024) };
    let mut sent = 0;
    let refused = loop {
        match p.client.channel_request(c, &env, false) {
            Ok(()) => sent += 1,
            Err(e) => break e,
        }
        assert!(sent < 1000, "3000 × 60 KiB would all be queued");
    };
    assert_eq!(refused, ChannelError::OutputFull);
    let held = p.client.pending_output();
    assert!(((1 << 20)..(1 << 20) + 64 * 1024).contains(&held), "{held} bytes held");
    // 1 MiB holds 17 whole requests of 60 KiB; the 18th crosses the bound.
    assert_eq!(sent, 18);
    while p.client.poll_transmit().is_some() {}
    p.client.channel_request(c, &env, false).unwrap();
}

#[test]
fn our_sends_keep_the_idle_timer_alive() {
    let mut p = authed_with(|_, s| s.connection.idle_timeout = Some(Duration::from_secs(60)));
    let (c, s) = session(&mut p);
    // The server streams; the client reads but never sends (no adjustments are due).
    for _ in 0..6 {
        p.server.channel_send(s, b"output").unwrap();
        p.advance(Duration::from_secs(45)).unwrap();
        p.client_events.clear();
    }
    assert!(!p.server.is_closed(), "sending is activity");
    let _ = c;
    let _ = p.advance(Duration::from_secs(61));
    let _ = p.advance(Duration::from_secs(61));
    assert!(p.server.is_closed(), "silence in both directions is idle");
}

#[test]
fn small_output_bounds_still_wake_blocked_channels() {
    let mut p = authed_with(|c, _| c.transport.limits.max_pending_output = 40 * 1024);
    let (c, s) = session(&mut p);
    let chunk = vec![3u8; 64 * 1024];
    // Fill the output bound without taking the output.
    let mut sent = 0;
    loop {
        match p.client.channel_send(c, &chunk) {
            Ok(n) => sent += n,
            Err(ChannelError::Blocked(_)) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(sent > 0 && sent < 40 * 1024);
    p.drive().unwrap();
    assert!(p.client_events.iter().any(|e| matches!(e, Event::ChannelWritable { id } if *id == c)));
    assert_eq!(data_of(&p.server_events, s).len(), sent);
}

#[test]
fn channel_settings_are_checked_against_the_transport() {
    let (mut c, s) = configs();
    c.connection.max_packet = 256 * 1024;
    assert!(matches!(Pair::new(c, s, Instant::now(), 1), Err(Error::Config(_))));
    // A peer announcing a huge maximum packet gets packets within the transport limit.
    let mut p = authed_with(|_, s| {
        s.transport.limits.max_packet = 1024 * 1024;
        s.connection.max_packet = 1024 * 1024 - 1024;
    });
    let (c, s) = session(&mut p);
    assert_eq!(p.client.channel_info(c).unwrap().send_max_packet, 1024 * 1024 - 1024);
    let big = vec![9u8; 600 * 1024];
    let n = p.client.channel_send(c, &big).unwrap();
    p.drive().unwrap();
    assert_eq!(data_of(&p.server_events, s).len(), n);
    assert!(!p.server.is_closed());
}

#[test]
fn hitting_the_channel_limit_is_not_a_connection_error() {
    let mut p = authed_with(|c, _| c.connection.max_channels = 2);
    p.client.open_session().unwrap();
    p.client.open_session().unwrap();
    assert_eq!(p.client.open_session(), Err(ChannelError::TooManyChannels));
    assert!(!p.client.is_closed());
}
