//! Heap held by an authenticated connection with one idle session channel, measured with a
//! byte-counting global allocator (the target: at most 16 KiB beyond the I/O
//! buffers). Each end is measured alone: `shrink_buffers` frees its I/O buffers (that much
//! is "the buffers"), then dropping it frees the rest.
//!
//! `cargo test -p ssh-proto --test memory -- --nocapture` prints the numbers.

use std::alloc::System;
use std::sync::Arc;
use std::time::Instant;

use cap::Cap;
use ssh_proto::connection::ChannelRequest;
use ssh_proto::testing::Pair;
use ssh_proto::{Event, HostKey, SeededRng, client, server};

// `unsafe_code` is forbidden in this workspace: the counting allocator comes from `cap`.
#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

fn live() -> isize {
    ALLOCATOR.allocated() as isize
}

/// The counter is global: tests of this file take turns.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// An authenticated pair with one session channel that ran `exec` and then went idle. The
/// configurations are returned too: a server shares one with all its connections, so it is
/// not part of a connection's cost.
fn idle_session() -> (Pair, Arc<client::Config>, Arc<server::Config>) {
    let key = HostKey::generate_ed25519(&mut SeededRng::new(1));
    let mut s = server::Config::new(vec![key]);
    s.auth.timeout = None;
    let (client_config, server_config) = (Arc::new(client::Config::default()), Arc::new(s));
    let mut p = Pair::authenticated(client_config.clone(), server_config.clone(), Instant::now(), 2).unwrap();
    let c = p.client.open_session().unwrap();
    p.drive().unwrap();
    let sid = p
        .server_events
        .iter()
        .find_map(|e| match e {
            Event::ChannelOpenRequest { id, .. } => Some(*id),
            _ => None,
        })
        .unwrap();
    p.server.accept_channel(sid).unwrap();
    p.drive().unwrap();
    p.client.channel_request(c, &ChannelRequest::Exec { command: "sleep 3600".into() }, true).unwrap();
    p.drive().unwrap();
    let token = p
        .server_events
        .iter()
        .find_map(|e| match e {
            Event::ChannelRequest { token: Some(t), .. } => Some(*t),
            _ => None,
        })
        .unwrap();
    p.server.channel_request_reply(sid, token, true).unwrap();
    // Some traffic both ways, consumed, so the buffers reach their working size.
    for _ in 0..4 {
        p.server.channel_send(sid, &[7u8; 8000]).unwrap();
        p.client.channel_send(c, &[9u8; 8000]).unwrap();
        p.drive().unwrap();
        p.client.channel_consumed(c, 8000).unwrap();
        p.server.channel_consumed(sid, 8000).unwrap();
    }
    p.drive().unwrap();
    p.client_events.clear();
    p.server_events.clear();
    p.client_events.shrink_to_fit();
    p.server_events.shrink_to_fit();
    assert_eq!((p.client.channel_count(), p.server.channel_count()), (1, 1));
    (p, client_config, server_config)
}

/// Placeholders to swap in, so dropping the measured connection is the only thing freed.
fn spare_server() -> server::Connection {
    let cfg = Arc::new(server::Config::new(vec![HostKey::generate_ed25519(&mut SeededRng::new(5))]));
    server::Connection::new(cfg, Instant::now(), Box::new(SeededRng::new(6))).unwrap()
}

fn spare_client() -> client::Connection {
    client::Connection::new(Arc::new(client::Config::default()), Instant::now(), Box::new(SeededRng::new(7))).unwrap()
}

#[test]
fn idle_authenticated_connection_with_a_session_channel() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (p, _client_config, _server_config) = idle_session();
    let Pair { mut client, mut server, .. } = p;
    let freed = |f: &mut dyn FnMut()| {
        let before = live();
        f();
        (before - live()) as usize
    };
    let server_buffers = freed(&mut || server.shrink_buffers());
    let client_buffers = freed(&mut || client.shrink_buffers());
    assert_eq!((server.buffer_capacity(), client.buffer_capacity()), (0, 0));
    let (mut spare_s, mut spare_c) = (Some(spare_server()), Some(spare_client()));
    let server_beyond = freed(&mut || drop(std::mem::replace(&mut server, spare_s.take().unwrap())));
    let client_beyond = freed(&mut || drop(std::mem::replace(&mut client, spare_c.take().unwrap())));
    let (server_heap, client_heap) = (server_buffers + server_beyond, client_buffers + client_beyond);
    println!(
        "idle authenticated connection with one session channel:\n  server: {server_heap} B heap, \
         {server_buffers} B of it I/O buffers, {server_beyond} B beyond\n  client: {client_heap} B heap, \
         {client_buffers} B of it I/O buffers, {client_beyond} B beyond"
    );
    // The target is 16 KiB; 2 KiB was measured (2026-12-01). The bound is kept at
    // 8 KiB so a regression shows long before the target is at risk.
    assert!(server_beyond <= 8 * 1024, "server holds {server_beyond} B beyond its buffers");
    assert!(client_beyond <= 8 * 1024, "client holds {client_beyond} B beyond its buffers");
}

/// Small channel data must not pin receive buffers: a peer that interleaves 1-byte data
/// packets with 16 KiB of padding, read by an application that holds every event, costs
/// about the data, not 16 KiB per byte.
#[test]
fn held_small_data_does_not_pin_receive_buffers() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (mut p, _c, _s) = idle_session();
    let sid = p.server.channel_ids()[0];
    let cid = p.client.channel_ids()[0];
    let mut held = Vec::new();
    let before = live();
    for _ in 0..200 {
        p.server.channel_send(sid, b"x").unwrap();
        p.server.send_ignore(&[0u8; 16 * 1024]).unwrap();
        p.drive().unwrap();
        for ev in p.client_events.drain(..) {
            if let Event::ChannelData { id, data } = ev {
                assert_eq!(id, cid);
                held.push(data);
            }
        }
    }
    let grown = live() - before;
    assert_eq!(held.len(), 200);
    println!("200 held 1-byte data events: heap grew {grown} B");
    assert!(grown < 256 * 1024, "held data pins {grown} B of receive buffers");
    drop(held);
}
