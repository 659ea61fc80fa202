//! Pair-harness tests of the transport: handshakes across the algorithm tables, rekeying
//! under traffic, fragmentation, and hostile input.

use std::time::{Duration, Instant};

use proptest::prelude::*;

use crate::algorithm::{
    Algorithm, AlgorithmList, Algorithms, Cipher, Compression, HostKeyAlgorithm, KexAlgorithm, Mac,
};
use crate::hostkey::tests::fixture;
use crate::testing::{Direction, Pair};
use crate::{DisconnectReason, Error, Event, Initiator, client, server};

fn all_host_keys() -> Vec<crate::HostKey> {
    ["ed25519", "ecdsa256", "ecdsa384", "ecdsa521", "rsa2048", "dsa"].into_iter().map(fixture).collect()
}

fn configs(algs: Algorithms) -> (client::Config, server::Config) {
    let mut c = client::Config::default();
    c.transport.algorithms = algs.clone();
    let mut s = server::Config::new(all_host_keys());
    s.transport.algorithms = algs;
    // These tests never authenticate; some run for simulated hours.
    s.auth.timeout = None;
    (c, s)
}

fn only(kex: KexAlgorithm, hk: HostKeyAlgorithm, cipher: Cipher, mac: Mac, comp: Compression) -> Algorithms {
    Algorithms {
        kex: AlgorithmList::new([kex]),
        host_key: AlgorithmList::new([hk]),
        cipher: AlgorithmList::new([cipher]),
        mac: AlgorithmList::new([mac]),
        compression: AlgorithmList::new([comp]),
    }
}

fn handshake(algs: Algorithms, seed: u64) -> Pair {
    let (c, s) = configs(algs);
    let mut p = Pair::new(c, s, Instant::now(), seed).unwrap();
    p.client.request_service("ssh-userauth").unwrap();
    p.drive().unwrap();
    p
}

fn assert_established(p: &Pair, what: &str) {
    assert!(p.client.is_established() && p.server.is_established(), "{what}: not established");
    assert!(
        p.client_events.iter().any(|e| matches!(e, Event::ServiceAccepted { service } if service == "ssh-userauth")),
        "{what}: service not accepted: {:?}",
        p.client_events
    );
    assert_eq!(p.client.session_id(), p.server.session_id(), "{what}");
    assert_eq!(p.client.negotiated(), p.server.negotiated(), "{what}");
}

#[test]
fn every_kex_with_every_host_key() {
    for &kex in AlgorithmList::<KexAlgorithm>::all().as_slice() {
        for hk in all_host_keys().iter().flat_map(|k| k.algorithms()) {
            let p = handshake(only(kex, hk, Cipher::Aes128Gcm, Mac::HmacSha256, Compression::None), 1);
            let what = format!("{} / {}", kex.name(), hk.name());
            assert_established(&p, &what);
            let n = p.client.negotiated().unwrap();
            assert_eq!((n.kex, n.host_key), (kex, hk), "{what}");
            assert_eq!(p.client.server_host_key().unwrap().algorithm(), hk);
        }
    }
}

#[test]
fn every_cipher_mac_and_compression() {
    for &cipher in AlgorithmList::<Cipher>::all().as_slice() {
        for &mac in AlgorithmList::<Mac>::all().as_slice() {
            for &comp in AlgorithmList::<Compression>::all().as_slice() {
                let p =
                    handshake(only(KexAlgorithm::Curve25519Sha256, HostKeyAlgorithm::Ed25519, cipher, mac, comp), 2);
                let what = format!("{} / {} / {}", cipher.name(), mac.name(), comp.name());
                assert_established(&p, &what);
                let n = p.server.negotiated().unwrap();
                assert_eq!(n.cipher_c2s, cipher);
                assert_eq!(n.mac_s2c, if cipher.is_aead() { None } else { Some(mac) }, "{what}");
                assert_eq!(n.compression_c2s, comp);
            }
        }
    }
}

#[test]
fn default_configuration_negotiates_pq_hybrid_strict_kex() {
    let (c, s) = (client::Config::default(), server::Config::new(vec![fixture("ed25519")]));
    let mut p = Pair::new(c, s, Instant::now(), 3).unwrap();
    p.drive().unwrap();
    let n = p.client.negotiated().unwrap();
    assert_eq!(n.kex, KexAlgorithm::MlKem768X25519Sha256);
    assert_eq!(n.cipher_c2s, Cipher::Aes128Gcm);
    assert!(n.strict_kex);
    // The server announced server-sig-algs and ping; the client can ping.
    assert!(p.client_events.iter().any(|e| matches!(e, Event::ExtInfo { ping: true, server_sig_algs: Some(_) })));
    p.client.send_ping(b"hello").unwrap();
    p.drive().unwrap();
    assert!(p.client_events.iter().any(|e| matches!(e, Event::Pong { data } if &data[..] == b"hello")));
}

/// Sends `n` pings of growing size and checks that every pong comes back, in order.
fn ping_traffic(p: &mut Pair, from: usize, n: usize) {
    for i in from..from + n {
        let data = vec![(i % 251) as u8; 1 + (i * 977) % 30_000];
        p.client.send_ping(&data).unwrap();
        if i % 7 == 0 {
            p.step().unwrap();
        }
    }
}

fn pongs(p: &Pair) -> Vec<usize> {
    p.client_events
        .iter()
        .filter_map(|e| match e {
            Event::Pong { data } => Some(data.len()),
            _ => None,
        })
        .collect()
}

#[test]
fn rekey_both_ways_mid_traffic() {
    let mut p = handshake(Algorithms::default(), 4);
    ping_traffic(&mut p, 0, 50);
    p.client.rekey().unwrap();
    ping_traffic(&mut p, 50, 50);
    p.drive().unwrap();
    p.server.rekey().unwrap();
    ping_traffic(&mut p, 100, 50);
    p.client.rekey().unwrap();
    p.server.rekey().unwrap(); // both at once
    ping_traffic(&mut p, 150, 50);
    p.drive().unwrap();
    let expected: Vec<usize> = (0..200).map(|i| 1 + (i * 977) % 30_000).collect();
    assert_eq!(pongs(&p), expected, "pongs lost or reordered across rekeys");
    assert_eq!(p.client.key_exchanges(), 4);
    assert_eq!(p.server.key_exchanges(), 4);
    let rekeys = p.client_events.iter().filter(|e| matches!(e, Event::KeysExchanged { initial: false, .. })).count();
    assert_eq!(rekeys, 3);
    // Only one host key event for the whole connection.
    assert_eq!(p.client_events.iter().filter(|e| matches!(e, Event::HostKey { .. })).count(), 1);
    // Strict kex is a property of the connection: rekeys keep resetting sequence numbers
    // (OpenSSH does, and a peer that did not would fail to decrypt after a rekey).
    assert!(p.client.negotiated().is_some_and(|n| n.strict_kex), "client lost strict kex on rekey");
    assert!(p.server.negotiated().is_some_and(|n| n.strict_kex), "server lost strict kex on rekey");
}

/// Strict kex, agreed in the first exchange, stays in force through every rekey (sequence
/// numbers reset at each NEWKEYS, OpenSSH PROTOCOL 1.9 b, as Paramiko and OpenSSH 9.6+ do;
/// the Paramiko interop tests of ssh-blocking check the wire); a connection that did not
/// agree on it never gains it.
#[test]
fn strict_kex_holds_across_rekeys() {
    for strict in [true, false] {
        let (mut c, s) = configs(Algorithms::default());
        c.transport.strict_kex = strict;
        let mut p = Pair::new(c, s, Instant::now(), 9).unwrap();
        p.client.request_service("ssh-userauth").unwrap();
        p.drive().unwrap();
        ping_traffic(&mut p, 0, 10);
        p.client.rekey().unwrap();
        ping_traffic(&mut p, 10, 10);
        p.drive().unwrap();
        p.server.rekey().unwrap();
        ping_traffic(&mut p, 20, 10);
        p.drive().unwrap();
        assert_eq!(pongs(&p).len(), 30, "strict {strict}");
        assert_eq!(p.client.key_exchanges(), 3);
        for n in [p.client.negotiated().unwrap(), p.server.negotiated().unwrap()] {
            assert_eq!(n.strict_kex, strict);
        }
        let flags: Vec<bool> = p
            .client_events
            .iter()
            .filter_map(|e| match e {
                Event::KeysExchanged { negotiated, .. } => Some(negotiated.strict_kex),
                _ => None,
            })
            .collect();
        assert_eq!(flags, [strict; 3]);
    }
}

#[test]
fn rekey_by_bytes_and_by_time() {
    let (mut c, s) = configs(Algorithms::default());
    c.transport.rekey.bytes = 64 * 1024;
    let mut p = Pair::new(c, s, Instant::now(), 5).unwrap();
    p.drive().unwrap();
    ping_traffic(&mut p, 0, 40);
    p.drive().unwrap();
    assert!(p.client.key_exchanges() >= 3, "byte limit did not trigger rekeys: {}", p.client.key_exchanges());
    assert_eq!(pongs(&p).len(), 40);

    let before = p.server.key_exchanges();
    p.advance(Duration::from_secs(3601)).unwrap();
    assert!(p.server.key_exchanges() > before, "time limit did not trigger a rekey");
}

#[test]
fn legacy_3des_rekeys_at_rfc4344_block_limit() {
    let algs = only(
        KexAlgorithm::Curve25519Sha256,
        HostKeyAlgorithm::Ed25519,
        Cipher::TripleDesCbc,
        Mac::HmacSha256,
        Compression::None,
    );
    let mut p = handshake(algs, 6);
    // 2^16 blocks of 8 bytes = 512 KiB.
    ping_traffic(&mut p, 0, 60);
    p.drive().unwrap();
    assert!(p.client.key_exchanges() >= 2);
}

#[test]
fn delayed_compression_starts_after_authentication() {
    let algs = only(
        KexAlgorithm::Curve25519Sha256,
        HostKeyAlgorithm::Ed25519,
        Cipher::Aes128Ctr,
        Mac::HmacSha256Etm,
        Compression::ZlibOpenSsh,
    );
    let mut p = handshake(algs, 7);
    p.client.transport_mut().set_authenticated();
    p.server.transport_mut().set_authenticated();
    let moved = p.moved;
    for _ in 0..10 {
        p.client.send_ping(&[b'a'; 20_000]).unwrap();
    }
    p.drive().unwrap();
    assert_eq!(pongs(&p).len(), 10);
    // 200 KB of 'a' each way compressed to almost nothing.
    assert!(p.moved.0 - moved.0 < 10_000, "not compressed: {}", p.moved.0 - moved.0);
    p.client.rekey().unwrap();
    p.client.send_ping(&[b'b'; 5000]).unwrap();
    p.drive().unwrap();
    assert_eq!(pongs(&p).len(), 11);
}

fn run_with_chunks(chunks: Vec<usize>, seed: u64) -> (Vec<Event>, Vec<Event>) {
    let (c, s) = configs(Algorithms::default());
    let mut p = Pair::new(c, s, Instant::now(), seed).unwrap();
    p.chunks = chunks;
    p.client.request_service("ssh-userauth").unwrap();
    p.drive().unwrap();
    ping_traffic(&mut p, 0, 5);
    p.client.rekey().unwrap();
    ping_traffic(&mut p, 5, 5);
    p.drive().unwrap();
    (p.client_events, p.server_events)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// The same byte streams cut into arbitrary pieces (1 byte to 1 MiB) give the same events.
    #[test]
    fn fragmentation_does_not_change_events(chunks in proptest::collection::vec(prop_oneof![1usize..8, 1usize..2000, 1usize..(1 << 20)], 1..20)) {
        let reference = run_with_chunks(Vec::new(), 11);
        let fragmented = run_with_chunks(chunks, 11);
        prop_assert_eq!(reference, fragmented);
    }
}

#[test]
fn one_byte_at_a_time() {
    let reference = run_with_chunks(Vec::new(), 12);
    assert_eq!(run_with_chunks(vec![1], 12), reference);
}

fn disconnected(events: &[Event]) -> Option<(DisconnectReason, Initiator)> {
    events.iter().find_map(|e| match e {
        Event::Disconnected { reason, initiator, .. } => Some((*reason, *initiator)),
        _ => None,
    })
}

#[test]
fn host_key_rejection_disconnects() {
    let (c, s) = configs(Algorithms::default());
    let mut p = Pair::new(c, s, Instant::now(), 13).unwrap();
    p.accept_host_keys = false;
    p.drive().unwrap();
    assert!(p.client.is_closed() && p.server.is_closed());
    assert_eq!(disconnected(&p.client_events), Some((DisconnectReason::HostKeyNotVerifiable, Initiator::Local)));
    assert_eq!(disconnected(&p.server_events), Some((DisconnectReason::HostKeyNotVerifiable, Initiator::Peer)));
}

#[test]
fn mac_failure_disconnects_with_mac_error() {
    let mut p = handshake(Algorithms::default(), 14);
    p.tamper = Some(Box::new(|dir, bytes| {
        if dir == Direction::ToServer && bytes.len() > 20 {
            let n = bytes.len();
            bytes[n - 3] ^= 1;
        }
    }));
    p.client.send_ping(&[0; 100]).unwrap();
    let err = p.drive().unwrap_err();
    assert_eq!(err, Error::Packet(crate::PacketError::MacMismatch));
    assert_eq!(disconnected(&p.server_events), Some((DisconnectReason::MacError, Initiator::Local)));
}

#[test]
fn no_common_algorithm_is_reported_with_both_lists() {
    let (mut c, s) = configs(Algorithms::default());
    c.transport.algorithms.cipher = AlgorithmList::new([Cipher::TripleDesCbc]);
    let mut p = Pair::new(c, s, Instant::now(), 15).unwrap();
    // Whichever end notices first reports both lists.
    match p.drive().unwrap_err() {
        Error::NoCommonAlgorithm { kind, ours, theirs } => {
            assert_eq!(kind, crate::algorithm::AlgorithmKind::Cipher);
            let mut lists = [ours, theirs];
            lists.sort_by_key(Vec::len);
            assert_eq!(lists[0], ["3des-cbc"]);
            assert!(lists[1].contains(&"aes128-gcm@openssh.com".to_owned()));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(disconnected(&p.client_events).map(|d| d.0), Some(DisconnectReason::KeyExchangeFailed));
    assert_eq!(disconnected(&p.server_events).map(|d| d.0), Some(DisconnectReason::KeyExchangeFailed));
}

// ---- hostile input -----------------------------------------------------------------------

/// A client connection that already received a server identification, ready for raw
/// plaintext packets.
fn client_after_banner() -> client::Connection {
    let (c, _) = configs(Algorithms::default());
    let now = Instant::now();
    let mut conn = client::Connection::new(std::sync::Arc::new(c), now, Box::new(crate::SeededRng::new(1))).unwrap();
    let _ = conn.poll_transmit();
    conn.handle_input(b"SSH-2.0-evil\r\n", now).unwrap();
    conn
}

fn plain_packet(payload: &[u8], pad: usize) -> Vec<u8> {
    let len = 1 + payload.len() + pad;
    let mut v = (len as u32).to_be_bytes().to_vec();
    v.push(pad as u8);
    v.extend_from_slice(payload);
    v.extend(std::iter::repeat_n(0, pad));
    v
}

fn sent_disconnect(conn: &mut client::Connection) -> Option<u32> {
    // The DISCONNECT is the last plaintext packet queued: reason code after the message number.
    let out = conn.poll_transmit()?;
    let pos = out.windows(2).rposition(|w| w[1] == crate::wire::msg::DISCONNECT && w[0] >= 4)?;
    Some(u32::from_be_bytes(out[pos + 2..pos + 6].try_into().ok()?))
}

#[test]
fn oversized_length_field_is_refused_without_buffering() {
    let mut c = client_after_banner();
    let err = c.handle_input(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0], Instant::now()).unwrap_err();
    assert!(matches!(err, Error::Packet(crate::PacketError::TooLarge { length: u32::MAX, .. })));
    assert_eq!(sent_disconnect(&mut c), Some(DisconnectReason::ProtocolError.code()));
    assert_eq!(c.handle_input(b"more", Instant::now()), Err(Error::Closed));
    assert!(matches!(c.poll_event(), Some(Event::Disconnected { reason: DisconnectReason::ProtocolError, .. })));
}

#[test]
fn zero_length_and_bad_padding_packets() {
    let mut c = client_after_banner();
    assert_eq!(
        c.handle_input(&[0, 0, 0, 0], Instant::now()).unwrap_err(),
        Error::Packet(crate::PacketError::BadLength(0))
    );
    let mut c = client_after_banner();
    // 16 bytes in all, but only 2 bytes of padding (the minimum is 4).
    let p = plain_packet(&[crate::wire::msg::IGNORE, 0, 0, 0, 4, 1, 2, 3, 4], 2);
    assert_eq!(p.len(), 16);
    assert!(matches!(
        c.handle_input(&p, Instant::now()).unwrap_err(),
        Error::Packet(crate::PacketError::BadPadding(2))
    ));
}

#[test]
fn endless_banner_is_bounded() {
    let (c, _) = configs(Algorithms::default());
    let now = Instant::now();
    let mut conn = client::Connection::new(std::sync::Arc::new(c), now, Box::new(crate::SeededRng::new(1))).unwrap();
    let line = vec![b'x'; 1000];
    let mut err = None;
    for _ in 0..100 {
        if let Err(e) = conn.handle_input(&line, now) {
            err = Some(e);
            break;
        }
    }
    assert_eq!(err, Some(Error::Version(crate::VersionError::LineTooLong)));
    let mut conn = client::Connection::new(
        std::sync::Arc::new(configs(Algorithms::default()).0),
        now,
        Box::new(crate::SeededRng::new(1)),
    )
    .unwrap();
    let mut err = None;
    for _ in 0..2000 {
        if let Err(e) = conn.handle_input(b"hello\r\n", now) {
            err = Some(e);
            break;
        }
    }
    assert_eq!(err, Some(Error::Version(crate::VersionError::TooManyLines)));
}

#[test]
fn kexinit_flood_is_a_protocol_error() {
    let mut p = handshake(Algorithms::default(), 21);
    // A second KEXINIT inside one exchange.
    p.client.rekey().unwrap();
    let kexinit = p.client.transport_mut().kex.as_ref().unwrap().ours_payload();
    p.client.transport_mut().seal_raw(&kexinit).unwrap();
    let err = p.drive().unwrap_err();
    assert!(matches!(err, Error::UnexpectedMessage { msg: 20, .. }), "{err:?}");
    assert_eq!(disconnected(&p.server_events).map(|d| d.0), Some(DisconnectReason::ProtocolError));
}

#[test]
fn messages_before_keys_are_refused() {
    // A SERVICE_REQUEST in plaintext before the first NEWKEYS.
    let (c, s) = configs(Algorithms::default());
    let mut p = Pair::new(c, s, Instant::now(), 22).unwrap();
    p.client
        .transport_mut()
        .send_now(|w| crate::wire::transport::Service { name: "ssh-userauth" }.encode(5, w))
        .unwrap();
    assert!(matches!(
        p.drive().unwrap_err(),
        Error::StrictKexViolation { msg: 5, .. } | Error::UnexpectedMessage { msg: 5, .. }
    ));
}

#[test]
fn receive_buffer_is_bounded_while_waiting_for_a_decision() {
    let (c, s) = configs(Algorithms::default());
    let mut p = Pair::new(c, s, Instant::now(), 23).unwrap();
    // Stop before answering the host key event.
    while !p.client_events.iter().any(|e| matches!(e, Event::HostKey { .. })) {
        while let Some(b) = p.client.poll_transmit() {
            p.server.handle_input(&b, p.now).unwrap();
        }
        while let Some(b) = p.server.poll_transmit() {
            p.client.handle_input(&b, p.now).unwrap();
        }
        while let Some(e) = p.client.poll_event() {
            p.client_events.push(e);
        }
    }
    let junk = vec![0u8; 64 * 1024];
    let mut err = None;
    for _ in 0..100 {
        if let Err(e) = p.client.handle_input(&junk, p.now) {
            err = Some(e);
            break;
        }
    }
    assert_eq!(err, Some(Error::LimitExceeded(crate::Limit::ReceiveBuffer)));
}

/// Terrapin (CVE-2023-48795): a man in the middle inserts an IGNORE before the server's
/// KEXINIT and deletes the server's first encrypted packet (EXT_INFO). Without strict kex
/// the sequence numbers line up again and the deletion goes unnoticed (chacha20-poly1305);
/// with strict kex the client refuses the handshake.
fn terrapin(strict: bool) -> (Pair, Result<(), Error>) {
    let algs = only(
        KexAlgorithm::Curve25519Sha256,
        HostKeyAlgorithm::Ed25519,
        Cipher::ChaCha20Poly1305,
        Mac::HmacSha256,
        Compression::None,
    );
    let (mut c, mut s) = configs(algs);
    c.transport.strict_kex = strict;
    s.transport.strict_kex = strict;
    let mut p = Pair::new(c, s, Instant::now(), 24).unwrap();
    p.client.request_service("ssh-userauth").unwrap();
    let mut stage = 0;
    p.tamper = Some(Box::new(move |dir, bytes| {
        if dir != Direction::ToClient {
            return;
        }
        if stage == 0 {
            // After the identification line, before KEXINIT.
            let eol = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
            let ignore = plain_packet(&[2, 0, 0, 0, 0], 6);
            bytes.splice(eol..eol, ignore);
            stage = 1;
        } else if stage == 1 {
            // KEX_ECDH_REPLY and NEWKEYS in plaintext, then the encrypted EXT_INFO: drop it.
            let mut pos = 0;
            for _ in 0..2 {
                pos += 4 + u32::from_be_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
            }
            bytes.truncate(pos);
            stage = 2;
        }
    }));
    let r = p.drive();
    (p, r)
}

#[test]
fn terrapin_prefix_truncation_is_detected_by_strict_kex() {
    let (p, r) = terrapin(false);
    // The attack works against a non-strict handshake: no error, and no EXT_INFO seen.
    assert!(r.is_ok(), "{r:?}");
    assert!(p.client.is_established());
    assert!(!p.client_events.iter().any(|e| matches!(e, Event::ExtInfo { .. })));

    let (p, r) = terrapin(true);
    assert!(matches!(r, Err(Error::StrictKexViolation { msg: 20, seq: 1 })), "{r:?}");
    assert!(!p.client.is_established());
    assert_eq!(disconnected(&p.client_events), Some((DisconnectReason::ProtocolError, Initiator::Local)));
}

#[test]
fn strict_kex_refuses_ignore_during_initial_exchange() {
    let (c, s) = configs(Algorithms::default());
    let mut p = Pair::new(c, s, Instant::now(), 25).unwrap();
    p.step().unwrap(); // KEXINITs crossed: strict mode known on both sides
    p.server.transport_mut().send_now(|w| crate::wire::transport::OpaqueData { data: b"x" }.encode(2, w)).unwrap();
    assert!(matches!(p.drive().unwrap_err(), Error::StrictKexViolation { msg: 2, .. }));
}

#[test]
fn deferred_queue_is_bounded() {
    let mut p = handshake(Algorithms::default(), 26);
    p.client.rekey().unwrap();
    let big = vec![0u8; 200_000];
    let mut err = None;
    for _ in 0..100 {
        if let Err(e) = p.client.send_ignore(&big) {
            err = Some(e);
            break;
        }
    }
    assert_eq!(err, Some(Error::LimitExceeded(crate::Limit::DeferredDuringKex)));
}

#[test]
fn handshake_timeout() {
    let (c, s) = configs(Algorithms::default());
    let mut p = Pair::new(c, s, Instant::now(), 27).unwrap();
    // Nothing is delivered; two minutes pass.
    let deadline = p.client.poll_timeout().unwrap();
    assert_eq!(p.client.next_timer().unwrap().1, crate::transport::Timer::Handshake);
    p.now = deadline;
    assert_eq!(p.client.handle_timeout(p.now), Err(Error::Timeout(crate::TimeoutKind::Handshake)));
}

#[test]
fn ping_flood_without_reading_is_bounded() {
    let (c, mut s) = configs(Algorithms::default());
    s.transport.limits.max_pending_output = 256 * 1024;
    let mut p = Pair::new(c, s, Instant::now(), 28).unwrap();
    p.drive().unwrap();
    let mut result = Ok(());
    for _ in 0..100 {
        p.client.send_ping(&[7; 16 * 1024]).unwrap();
        let bytes = p.client.poll_transmit().unwrap();
        // The server never has its output taken.
        result = p.server.handle_input(&bytes, p.now);
        if result.is_err() {
            break;
        }
    }
    assert_eq!(result, Err(Error::LimitExceeded(crate::Limit::PendingOutput)));
    assert!(p.server.pending_output() < 512 * 1024);
}

#[test]
fn strict_kex_resets_sequence_numbers_at_every_newkeys() {
    // Once strict kex is agreed, OpenSSH resets both sequence numbers at every NEWKEYS for
    // the rest of the connection (PROTOCOL 1.10). Keeping them across a rekey broke every
    // cipher whose nonce or MAC uses them (chacha20-poly1305, CTR/CBC with a MAC) against
    // sshd; AES-GCM hid it.
    let mut p = handshake(Algorithms::default(), 9);
    ping_traffic(&mut p, 0, 30);
    p.drive().unwrap();
    let before = p.client.transport_mut().sealer.seq;
    assert!(before >= 30, "{before}");
    p.client.rekey().unwrap();
    p.drive().unwrap();
    assert_eq!(p.client.key_exchanges(), 2);
    assert!(p.client.negotiated().unwrap().strict_kex, "strict kex holds after the rekey");
    let (sent, received) = (p.client.transport_mut().sealer.seq, p.server.transport_mut().opener.seq);
    assert_eq!(sent, received);
    assert!(sent < 4, "client sequence number {sent} was not reset (was {before})");
    assert!(p.server.transport_mut().sealer.seq < 4);
    ping_traffic(&mut p, 30, 10);
    p.drive().unwrap();
    assert_eq!(pongs(&p).len(), 40);
}
