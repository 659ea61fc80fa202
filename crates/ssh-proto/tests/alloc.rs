//! Steady-state packets allocate nothing (DESIGN.md: "Hot paths allocate nothing per packet
//! in steady state").
//!
//! A counting global allocator (`assert_no_alloc`, thread-local counters, so tests running
//! in parallel do not see each other) watches 1000 packets of 32 KiB `SSH_MSG_IGNORE`
//! (500 each way, client→server and server→client alternating), after a handshake and
//! 200 packets of warm-up (buffers reach their working size then). The driver loop itself does not
//! allocate: one data buffer, and every `Bytes` from `poll_transmit` is dropped before the
//! next send, so the connection can reuse its output buffer.
//!
//! On failure the message names the first call that allocated (`send_ignore`,
//! `poll_transmit`, `handle_input`, or dropping the transmitted `Bytes`).

use std::time::Instant;

use assert_no_alloc::{AllocDisabler, assert_no_alloc, reset_violation_count, violation_count};
use ssh_proto::algorithm::{Algorithm, AlgorithmList, Algorithms, Cipher, HostKeyAlgorithm, KexAlgorithm, Mac};
use ssh_proto::testing::Pair;
use ssh_proto::{HostKey, RekeyPolicy, SeededRng, client, server};

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

/// IGNORE payload = message number + string length + data = 32 KiB.
const DATA: usize = 32 * 1024 - 5;
/// Round trips (one packet each way) to let buffers reach their working size.
const WARM_UP: usize = 100;
/// Round trips watched: 1000 packets in all.
const MEASURED: usize = 500;

fn connected(cipher: Cipher, mac: Option<Mac>) -> (client::Connection, server::Connection, Instant) {
    let algorithms = Algorithms {
        kex: AlgorithmList::new([KexAlgorithm::Curve25519Sha256]),
        host_key: AlgorithmList::new([HostKeyAlgorithm::Ed25519]),
        cipher: AlgorithmList::new([cipher]),
        mac: mac.map_or_else(AlgorithmList::default, |m| AlgorithmList::new([m])),
        ..Algorithms::default()
    };
    // 2 × 1300 × 32 KiB stays far below the default 1 GiB rekey limit; set it anyway so the
    // test never measures a key exchange.
    let no_rekey = RekeyPolicy { bytes: u64::MAX, time: None };
    let mut c = client::Config::default();
    c.transport.algorithms = algorithms.clone();
    c.transport.rekey = no_rekey;
    let mut s = server::Config::new(vec![HostKey::generate_ed25519(&mut SeededRng::new(1))]);
    s.transport.algorithms = algorithms;
    s.transport.rekey = no_rekey;
    let mut pair = Pair::new(c, s, Instant::now(), 3).unwrap();
    pair.drive().unwrap();
    let n = pair.client.negotiated().unwrap();
    assert_eq!((n.cipher_c2s, n.cipher_s2c), (cipher, cipher));
    let Pair { client, server, now, .. } = pair;
    (client, server, now)
}

/// How bytes travel between the two ends.
#[derive(Clone, Copy, Debug)]
enum Delivery {
    /// One packet per `poll_transmit`, handed over whole.
    Whole,
    /// One packet per `poll_transmit`, handed over in pieces of this size (a socket read).
    Chunks(usize),
    /// This many packets queued before one `poll_transmit`.
    Coalesced(usize),
}

/// Which call is running, for the failure message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    SendIgnore,
    PollTransmit,
    HandleInput,
    DropBytes,
    PollEvent,
}

/// One packet (or a batch) each way. `probe` is called after every step with its name, so a
/// failing run can tell which step allocated.
fn round_trip(
    client: &mut client::Connection,
    server: &mut server::Connection,
    data: &[u8],
    now: Instant,
    delivery: Delivery,
    probe: &mut dyn FnMut(Step),
) {
    let packets = match delivery {
        Delivery::Coalesced(n) => n,
        _ => 1,
    };
    for _ in 0..packets {
        client.send_ignore(data).unwrap();
        probe(Step::SendIgnore);
    }
    let wire = client.poll_transmit().unwrap();
    probe(Step::PollTransmit);
    deliver(&wire, delivery, |piece| server.handle_input(piece, now).unwrap());
    probe(Step::HandleInput);
    drop(wire);
    probe(Step::DropBytes);
    assert!(server.poll_event().is_none());
    probe(Step::PollEvent);

    for _ in 0..packets {
        server.send_ignore(data).unwrap();
        probe(Step::SendIgnore);
    }
    let wire = server.poll_transmit().unwrap();
    probe(Step::PollTransmit);
    deliver(&wire, delivery, |piece| client.handle_input(piece, now).unwrap());
    probe(Step::HandleInput);
    drop(wire);
    probe(Step::DropBytes);
    assert!(client.poll_event().is_none());
    probe(Step::PollEvent);
}

fn deliver(wire: &[u8], delivery: Delivery, mut input: impl FnMut(&[u8])) {
    match delivery {
        Delivery::Chunks(n) => wire.chunks(n).for_each(input),
        Delivery::Whole | Delivery::Coalesced(_) => input(wire),
    }
}

fn assert_steady_state_allocation_free(cipher: Cipher, mac: Option<Mac>, delivery: Delivery, rounds: usize) {
    let (mut client, mut server, now) = connected(cipher, mac);
    let data = vec![0x5a; DATA];
    let batch = match delivery {
        Delivery::Coalesced(n) => n,
        _ => 1,
    };
    for _ in 0..WARM_UP.div_ceil(batch) {
        round_trip(&mut client, &mut server, &data, now, delivery, &mut |_| {});
    }

    reset_violation_count();
    assert_no_alloc(|| {
        for _ in 0..rounds {
            round_trip(&mut client, &mut server, &data, now, delivery, &mut |_| {});
        }
    });
    let allocations = violation_count();
    if allocations == 0 {
        assert!(!client.is_closed() && !server.is_closed());
        return;
    }

    // Find the first step that allocates (the counter is read without allocating; the
    // step is recorded in a Copy value).
    reset_violation_count();
    let mut first: Option<(usize, Step)> = None;
    assert_no_alloc(|| {
        for i in 0..10 {
            let mut seen = 0;
            round_trip(&mut client, &mut server, &data, now, delivery, &mut |step| {
                let n = violation_count();
                if n > seen && first.is_none() {
                    first = Some((i, step));
                }
                seen = n;
            });
            reset_violation_count();
        }
    });
    panic!(
        "{} {:?} {delivery:?}: {allocations} allocator calls in {rounds} round trips \
         after {WARM_UP} of warm-up; first one in round {:?}",
        cipher.name(),
        mac,
        first,
    );
}

#[test]
fn aes128_gcm_steady_state_allocates_nothing() {
    assert_steady_state_allocation_free(Cipher::Aes128Gcm, None, Delivery::Whole, MEASURED);
}

#[test]
fn aes256_gcm_steady_state_allocates_nothing() {
    assert_steady_state_allocation_free(Cipher::Aes256Gcm, None, Delivery::Whole, MEASURED);
}

#[test]
fn chacha20_poly1305_steady_state_allocates_nothing() {
    assert_steady_state_allocation_free(Cipher::ChaCha20Poly1305, None, Delivery::Whole, MEASURED);
}

#[test]
fn aes128_ctr_hmac_sha256_etm_steady_state_allocates_nothing() {
    assert_steady_state_allocation_free(Cipher::Aes128Ctr, Some(Mac::HmacSha256Etm), Delivery::Whole, MEASURED);
}

#[test]
fn aes256_ctr_hmac_sha512_steady_state_allocates_nothing() {
    assert_steady_state_allocation_free(Cipher::Aes256Ctr, Some(Mac::HmacSha512), Delivery::Whole, MEASURED);
}

/// The counter itself works: an allocation inside the watched window is seen.
#[test]
fn the_counting_allocator_sees_allocations() {
    reset_violation_count();
    assert_no_alloc(|| drop(std::hint::black_box(vec![1u8; 100])));
    assert!(violation_count() >= 1);
    reset_violation_count();
}

/// Input arriving in socket-sized pieces (a partial packet waits in the receive buffer).
#[test]
fn fragmented_input_allocates_nothing() {
    assert_steady_state_allocation_free(Cipher::ChaCha20Poly1305, None, Delivery::Chunks(1460), MEASURED / 5);
    assert_steady_state_allocation_free(Cipher::Aes128Gcm, None, Delivery::Chunks(16 * 1024), MEASURED / 5);
}

/// Several packets per `poll_transmit` (a driver that writes less often than it sends).
#[test]
fn coalesced_output_allocates_nothing() {
    assert_steady_state_allocation_free(Cipher::Aes128Gcm, None, Delivery::Coalesced(4), MEASURED / 5);
}
