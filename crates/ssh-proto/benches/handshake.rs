//! A full handshake (curve25519-sha256, ssh-ed25519, aes128-gcm@openssh.com) in the pair
//! harness, next to the cost of its public-key primitives in the same run:
//! 2 × X25519 key generation + 2 × X25519 DH (client and server), 1 Ed25519 signature
//! (server) and 1 Ed25519 verification (client, key decoded from its 32 bytes). Hashing
//! (exchange hash, key derivation) is a few SHA-256 blocks and left out.
//!
//! Target (the issue): the handshake within 1.5 × its primitives.
//!
//! Besides the `primitives` sum, each primitive is measured alone, and so is the Ed25519
//! signature as the core makes it (through `ssh-key`, which re-derives the public key from
//! the seed on every call), to explain where a gap comes from.
//!
//! `cargo bench -p ssh-proto --bench handshake`

mod common;

use std::hint::black_box;
use std::time::Instant;

use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use ssh_proto::SeededRng;
use ssh_proto::algorithm::{Cipher, KexAlgorithm};
use ssh_proto::testing::Pair;
use x25519_dalek::{EphemeralSecret, PublicKey};

const GROUP: &str = "handshake";

fn x25519_keygen(rng: &mut SeededRng) -> (EphemeralSecret, PublicKey) {
    let s = EphemeralSecret::random_from_rng(rng);
    let p = PublicKey::from(&s);
    (s, p)
}

fn main() {
    let mut c = common::criterion();
    let mut g = c.benchmark_group(GROUP);

    let (client_cfg, server_cfg) = common::configs(KexAlgorithm::Curve25519Sha256, Cipher::Aes128Gcm, None);
    g.bench_function("pair", |b| {
        b.iter(|| {
            let mut pair = Pair::new(client_cfg.clone(), server_cfg.clone(), Instant::now(), 11).unwrap();
            pair.drive().unwrap();
            assert!(pair.client.is_established() && pair.server.is_established());
            pair
        })
    });

    let mut rng = SeededRng::new(5);
    let signing = SigningKey::from_bytes(&[9; 32]);
    let public = signing.verifying_key().to_bytes();
    let exchange_hash = [0x42u8; 32];
    let seed = *signing.as_bytes();
    g.bench_function("primitives", |b| {
        b.iter(|| {
            let (cs, cp) = x25519_keygen(&mut rng);
            let (ss, sp) = x25519_keygen(&mut rng);
            let k_server = ss.diffie_hellman(&cp);
            let k_client = cs.diffie_hellman(&sp);
            assert_eq!(k_server.as_bytes(), k_client.as_bytes());
            let sig = signing.sign(black_box(&exchange_hash));
            let vk = VerifyingKey::from_bytes(black_box(&public)).unwrap();
            vk.verify(&exchange_hash, &sig).unwrap();
        })
    });

    g.bench_function("x25519-keygen", |b| b.iter(|| x25519_keygen(&mut rng).1));
    let (_, peer) = x25519_keygen(&mut rng);
    g.bench_function("x25519-keygen+dh", |b| b.iter(|| x25519_keygen(&mut rng).0.diffie_hellman(black_box(&peer))));
    g.bench_function("ed25519-sign", |b| b.iter(|| signing.sign(black_box(&exchange_hash))));
    // What the core pays: ssh-key rebuilds a SigningKey from the seed (SHA-512 + one
    // base-point multiplication) and decompresses the stored public key before each signature.
    g.bench_function("ed25519-sign-from-seed", |b| {
        b.iter(|| {
            let k = SigningKey::from_bytes(black_box(&seed));
            let _ = VerifyingKey::from_bytes(black_box(&public)).unwrap();
            k.sign(&exchange_hash)
        })
    });
    let sig = signing.sign(&exchange_hash);
    g.bench_function("ed25519-verify", |b| {
        b.iter(|| VerifyingKey::from_bytes(black_box(&public)).unwrap().verify(&exchange_hash, &sig).unwrap())
    });
    g.finish();
    c.final_summary();

    if !common::measuring() {
        return;
    }
    let get = |f: &str| common::median_ns(GROUP, f);
    println!("\nhandshake (curve25519-sha256 + ssh-ed25519 + aes128-gcm), medians of this run:");
    for f in [
        "pair",
        "primitives",
        "x25519-keygen",
        "x25519-keygen+dh",
        "ed25519-sign",
        "ed25519-sign-from-seed",
        "ed25519-verify",
    ] {
        match get(f) {
            Some(ns) => println!("  {f:<24} {:>9.1} µs", ns / 1e3),
            None => println!("  {f:<24} (no estimate found)"),
        }
    }
    if let (Some(pair), Some(prim)) = (get("pair"), get("primitives")) {
        println!("  pair / primitives = {:.2} × (target ≤ 1.5 ×)", pair / prim);
    }
}
