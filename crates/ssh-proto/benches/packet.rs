//! Sealing + opening one 32 KiB packet through the public API, next to the raw primitive
//! doing the same cryptographic work, per cipher suite.
//!
//! `ssh-proto`: a connected client/server pair (handshake in the pair harness with forced
//! algorithms) driven by hand: `client.send_ignore(31 KiB + 1019 B)` (an IGNORE payload of
//! exactly 32 768 bytes), `client.poll_transmit()`, `server.handle_input(..)`.
//!
//! `primitive`: the same crypto on a buffer of the same packet length (same padding,
//! same MAC/AEAD coverage), sealed and opened in place, with no framing around it:
//! - aes-gcm: `encrypt_inout_detached` + `decrypt_inout_detached` (AAD = length field);
//! - chacha20-poly1305@openssh.com: the whole construction (length with K_1, Poly1305 key
//!   from block 0 of K_2, payload from block 1, Poly1305 over length ‖ ciphertext) both ways;
//! - aes-ctr + hmac: `Ctr128BE<Aes>::apply_keystream` + `Hmac::<Sha*>` over `seq ‖ packet`
//!   (encrypt-then-MAC or MAC-then-encrypt as the suite says), both ways.
//!
//! Throughput is payload bytes (32 KiB) per seal + open. After the run the ratio
//! `ssh-proto / primitive - 1` (framing overhead, from criterion's medians) is printed per
//! suite, and the same ratio with the two 32 KiB copies the API implies taken out
//! (payload into the output buffer, wire bytes into the receive buffer; measured in the
//! `memcpy-32KiB` group). Target (the issue): at most 15 % for aes-gcm and
//! chacha20-poly1305.
//!
//! `cargo bench -p ssh-proto --bench packet`

mod common;

use std::hint::black_box;

use aes::{Aes128, Aes256};
use aes_gcm::aead::{AeadInOut, Nonce, Tag};
use aes_gcm::{Aes128Gcm, Aes256Gcm, KeyInit};
use chacha20::ChaCha20Legacy;
use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use criterion::{Criterion, Throughput};
use hmac::Hmac;
use poly1305::Poly1305;
use sha2::{Sha256, Sha512};
use ssh_proto::algorithm::{Algorithm, Cipher, Mac};
use subtle::ConstantTimeEq;

/// The IGNORE payload: message number + string length + data = 32 KiB.
const PAYLOAD: usize = 32 * 1024;
const DATA: usize = PAYLOAD - 5;

#[derive(Clone, Copy)]
struct Suite {
    cipher: Cipher,
    mac: Option<Mac>,
}

const SUITES: &[Suite] = &[
    Suite { cipher: Cipher::Aes128Gcm, mac: None },
    Suite { cipher: Cipher::Aes256Gcm, mac: None },
    Suite { cipher: Cipher::ChaCha20Poly1305, mac: None },
    Suite { cipher: Cipher::Aes128Ctr, mac: Some(Mac::HmacSha256Etm) },
    Suite { cipher: Cipher::Aes128Ctr, mac: Some(Mac::HmacSha256) },
    Suite { cipher: Cipher::Aes256Ctr, mac: Some(Mac::HmacSha512) },
];

impl Suite {
    fn name(self) -> String {
        match self.mac {
            None => self.cipher.name().to_owned(),
            Some(m) => format!("{}+{}", self.cipher.name(), m.name()),
        }
    }

    fn etm(self) -> bool {
        self.mac.is_some_and(Mac::is_etm)
    }

    /// `packet_length` of our 32 KiB IGNORE packet (RFC 4253 §6 padding, as the framing does).
    fn packet_len(self) -> usize {
        let block = self.cipher.block_size().max(8);
        let unpadded = 1 + PAYLOAD + if self.cipher.is_aead() || self.etm() { 0 } else { 4 };
        let mut pad = block - unpadded % block;
        if pad < 4 {
            pad += block;
        }
        1 + PAYLOAD + pad
    }

    fn tag_len(self) -> usize {
        match self.mac {
            None => 16,
            Some(m) => m.tag_len(),
        }
    }
}

fn bench_ours(c: &mut Criterion, group: &str, suite: Suite) {
    let (mut client, mut server, now) = common::connected(suite.cipher, suite.mac);
    let data = vec![0x5a; DATA];
    // One packet first: the wire size must be the one the primitive is given.
    client.send_ignore(&data).unwrap();
    let wire = client.poll_transmit().unwrap();
    assert_eq!(wire.len(), 4 + suite.packet_len() + suite.tag_len(), "{}", suite.name());
    server.handle_input(&wire, now).unwrap();
    drop(wire);

    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Bytes(PAYLOAD as u64));
    g.bench_function("ssh-proto", |b| {
        b.iter(|| {
            client.send_ignore(black_box(&data)).unwrap();
            let wire = client.poll_transmit().unwrap();
            server.handle_input(black_box(&wire), now).unwrap();
        })
    });
    g.finish();
    assert!(server.poll_event().is_none() && server.poll_transmit().is_none() && !server.is_closed());
}

fn bench_primitive(c: &mut Criterion, group: &str, suite: Suite) {
    let len = suite.packet_len();
    let mut packet = vec![0x5a; 4 + len];
    packet[..4].copy_from_slice(&(len as u32).to_be_bytes());
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Bytes(PAYLOAD as u64));
    let mut seq = 3u32;
    match suite.cipher {
        Cipher::Aes128Gcm => {
            let k = Aes128Gcm::new_from_slice(&[1; 16]).unwrap();
            g.bench_function("primitive", |b| b.iter(|| gcm(&k, black_box(&mut packet))));
        }
        Cipher::Aes256Gcm => {
            let k = Aes256Gcm::new_from_slice(&[1; 32]).unwrap();
            g.bench_function("primitive", |b| b.iter(|| gcm(&k, black_box(&mut packet))));
        }
        Cipher::ChaCha20Poly1305 => {
            let (k2, k1) = ([1u8; 32], [2u8; 32]);
            g.bench_function("primitive", |b| {
                b.iter(|| {
                    seq = seq.wrapping_add(1);
                    chacha_seal_open(&k2, &k1, seq, black_box(&mut packet));
                })
            });
        }
        Cipher::Aes128Ctr | Cipher::Aes256Ctr => {
            let key = vec![1u8; suite.cipher.key_len()];
            let iv = [2u8; 16];
            let etm = suite.etm();
            match (suite.cipher, suite.mac) {
                (Cipher::Aes128Ctr, Some(Mac::HmacSha256 | Mac::HmacSha256Etm)) => {
                    let mut tx = ctr::Ctr128BE::<Aes128>::new_from_slices(&key, &iv).unwrap();
                    let mut rx = ctr::Ctr128BE::<Aes128>::new_from_slices(&key, &iv).unwrap();
                    let mac = Hmac::<Sha256>::new_from_slice(&[3; 32]).unwrap();
                    g.bench_function("primitive", |b| {
                        b.iter(|| {
                            seq = seq.wrapping_add(1);
                            ctr_hmac(&mut tx, &mut rx, &mac, etm, seq, black_box(&mut packet));
                        })
                    });
                }
                (Cipher::Aes256Ctr, Some(Mac::HmacSha512 | Mac::HmacSha512Etm)) => {
                    let mut tx = ctr::Ctr128BE::<Aes256>::new_from_slices(&key, &iv).unwrap();
                    let mut rx = ctr::Ctr128BE::<Aes256>::new_from_slices(&key, &iv).unwrap();
                    let mac = Hmac::<Sha512>::new_from_slice(&[3; 64]).unwrap();
                    g.bench_function("primitive", |b| {
                        b.iter(|| {
                            seq = seq.wrapping_add(1);
                            ctr_hmac(&mut tx, &mut rx, &mac, etm, seq, black_box(&mut packet));
                        })
                    });
                }
                _ => unreachable!("no primitive written for {}", suite.name()),
            }
        }
        _ => unreachable!("no primitive written for {}", suite.name()),
    }
    g.finish();
}

/// AES-GCM with the length field as AAD, sealed then opened in place.
fn gcm<A: AeadInOut>(k: &A, packet: &mut [u8]) {
    let nonce = Nonce::<A>::default();
    let (aad, body) = packet.split_at_mut(4);
    let tag: Tag<A> = k.encrypt_inout_detached(&nonce, aad, body.into()).unwrap();
    k.decrypt_inout_detached(&nonce, aad, body.into(), &tag).unwrap();
}

/// chacha20-poly1305@openssh.com, seal then open, written out straight.
fn chacha_seal_open(k2: &[u8; 32], k1: &[u8; 32], seq: u32, packet: &mut [u8]) {
    let nonce = u64::from(seq).to_be_bytes();
    let poly_key = |main: &mut ChaCha20Legacy| {
        let mut pk = [0u8; 32];
        main.apply_keystream(&mut pk);
        main.seek(64u64);
        pk
    };
    // Seal.
    let (len, body) = packet.split_at_mut(4);
    ChaCha20Legacy::new(k1.into(), &nonce.into()).apply_keystream(len);
    let mut main = ChaCha20Legacy::new(k2.into(), &nonce.into());
    let pk = poly_key(&mut main);
    main.apply_keystream(body);
    let tag = Poly1305::new(&pk.into()).compute_unpadded(packet);
    // Open: length from a copy, tag check, then the payload.
    let mut len = [0u8; 4];
    len.copy_from_slice(&packet[..4]);
    ChaCha20Legacy::new(k1.into(), &nonce.into()).apply_keystream(&mut len);
    black_box(len);
    let mut main = ChaCha20Legacy::new(k2.into(), &nonce.into());
    let pk = poly_key(&mut main);
    let expected = Poly1305::new(&pk.into()).compute_unpadded(packet);
    assert!(bool::from(expected.as_slice().ct_eq(tag.as_slice())));
    main.apply_keystream(&mut packet[4..]);
    // Undo the length encryption so the next round sees the same input.
    ChaCha20Legacy::new(k1.into(), &nonce.into()).apply_keystream(&mut packet[..4]);
}

/// AES-CTR + HMAC over `seq ‖ packet`: encrypt-then-MAC (length in clear) or
/// MAC-then-encrypt (everything encrypted), sealed with `tx`, opened with `rx`.
fn ctr_hmac<C: StreamCipher, M: hmac::Mac + Clone>(
    tx: &mut C,
    rx: &mut C,
    mac: &M,
    etm: bool,
    seq: u32,
    packet: &mut [u8],
) {
    let mut m = mac.clone();
    if etm {
        tx.apply_keystream(&mut packet[4..]);
        m.update(&seq.to_be_bytes());
        m.update(packet);
        let tag = m.finalize().into_bytes();
        let mut v = mac.clone();
        v.update(&seq.to_be_bytes());
        v.update(packet);
        v.verify_slice(&tag).unwrap();
        rx.apply_keystream(&mut packet[4..]);
    } else {
        m.update(&seq.to_be_bytes());
        m.update(packet);
        let tag = m.finalize().into_bytes();
        tx.apply_keystream(packet);
        rx.apply_keystream(packet);
        let mut v = mac.clone();
        v.update(&seq.to_be_bytes());
        v.update(packet);
        v.verify_slice(&tag).unwrap();
    }
}

/// The two copies the sans-IO API implies and the primitive does not do: the payload into
/// the output buffer (`send_ignore`), and the wire bytes into the receive buffer
/// (`handle_input(&[u8])`). Measured to attribute the overhead.
fn bench_copies(c: &mut Criterion) {
    let src = vec![0x5a; PAYLOAD];
    let mut out = vec![0u8; PAYLOAD];
    let mut rx = vec![0u8; PAYLOAD];
    let mut g = c.benchmark_group(COPY_GROUP);
    g.throughput(Throughput::Bytes(PAYLOAD as u64));
    g.bench_function("2x-copy", |b| {
        b.iter(|| {
            out.copy_from_slice(black_box(&src));
            rx.copy_from_slice(black_box(&out));
            black_box(&mut rx);
        })
    });
    g.finish();
}

const COPY_GROUP: &str = "memcpy-32KiB";

fn main() {
    let mut c = common::criterion();
    bench_copies(&mut c);
    let copies = common::median_ns(COPY_GROUP, "2x-copy");
    let mut rows = Vec::new();
    for &suite in SUITES {
        let group = format!("packet-{}", suite.name());
        bench_ours(&mut c, &group, suite);
        bench_primitive(&mut c, &group, suite);
        rows.push((suite, group));
    }
    c.final_summary();
    if !common::measuring() {
        return;
    }
    println!("\nseal + open of one 32 KiB payload, medians of this run (GB/s = 1e9 B/s of payload):");
    println!(
        "{:<50} {:>9} {:>9} {:>9} {:>9} {:>9} {:>13}",
        "suite", "ours µs", "prim µs", "ours GB/s", "prim GB/s", "overhead", "w/o 2 copies"
    );
    for (suite, group) in rows {
        let (Some(ours), Some(prim)) = (common::median_ns(&group, "ssh-proto"), common::median_ns(&group, "primitive"))
        else {
            println!("{:<50} (no estimates found)", suite.name());
            continue;
        };
        let gbps = |ns: f64| PAYLOAD as f64 / ns;
        let target = if suite.cipher.is_aead() { "  (target ≤ 15 %)" } else { "" };
        let without_copies = copies.map_or(f64::NAN, |cp| ((ours - cp) / prim - 1.0) * 100.0);
        println!(
            "{:<50} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>+7.1} % {:>+11.1} %{target}",
            suite.name(),
            ours / 1e3,
            prim / 1e3,
            gbps(ours),
            gbps(prim),
            (ours / prim - 1.0) * 100.0,
            without_copies,
        );
    }
    if let Some(cp) = copies {
        println!(
            "two 32 KiB memcpys (payload -> output buffer, wire -> receive buffer): {:.2} µs, included in 'ours'",
            cp / 1e3
        );
    }
}
