//! The in-memory demo: an embedded server and client core wired back to back (no network,
//! no setup). It runs a handshake for each key-exchange and cipher family, moves data
//! through each cipher, re-exchanges keys in the middle of traffic, and prints what was
//! negotiated and how long each step took.
//!
//! `cargo run --release --example demo`
use std::process::ExitCode;
use std::time::{Duration, Instant};

use ssh_proto::algorithm::{Algorithm, AlgorithmList, Algorithms, Cipher, KexAlgorithm, Mac};
use ssh_proto::testing::Pair;
use ssh_proto::{Event, HostKey, SeededRng, client, server};

fn pair(algorithms: Algorithms, host_key: &HostKey, seed: u64) -> Result<(Pair, Duration), ssh_proto::Error> {
    let mut c = client::Config::default();
    c.transport.algorithms = algorithms.clone();
    let mut s = server::Config::new(vec![host_key.clone()]);
    s.transport.algorithms = algorithms;
    let start = Instant::now();
    let mut p = Pair::new(c, s, start, seed)?;
    p.client.request_service("ssh-userauth")?;
    p.drive()?;
    let took = start.elapsed();
    if !p.client_events.iter().any(|e| matches!(e, Event::ServiceAccepted { .. })) {
        return Err(ssh_proto::Error::ApiMisuse("service was not accepted"));
    }
    Ok((p, took))
}

/// Sends `total` bytes client→server as 32 KiB IGNORE packets, rekeying halfway.
fn transfer(p: &mut Pair, total: usize, rekey_at: Option<usize>) -> Result<Duration, ssh_proto::Error> {
    let chunk = vec![0x5a; 32 * 1024 - 64];
    let start = Instant::now();
    let mut sent = 0;
    let mut rekeyed = false;
    while sent < total {
        p.client.send_ignore(&chunk)?;
        sent += chunk.len();
        if rekey_at.is_some_and(|at| sent >= at) && !rekeyed {
            p.client.rekey()?;
            rekeyed = true;
        }
        while let Some(b) = p.client.poll_transmit() {
            p.server.handle_input(&b, p.now)?;
        }
        p.step()?;
    }
    p.drive()?;
    Ok(start.elapsed())
}

fn ms(d: Duration) -> String {
    format!("{:8.2} ms", d.as_secs_f64() * 1e3)
}

fn run() -> Result<(), ssh_proto::Error> {
    let host_key = HostKey::generate_ed25519(&mut SeededRng::new(0xdead));
    println!("ssh-proto in-memory demo: client and server cores in one process, no sockets\n");
    println!(
        "host key {} {}",
        host_key.public_key().algorithm(),
        host_key.public_key().fingerprint(Default::default())
    );

    println!("\n1. handshake + ssh-userauth service request, per key exchange family");
    let kexes = [
        KexAlgorithm::MlKem768X25519Sha256,
        KexAlgorithm::Sntrup761X25519Sha512,
        KexAlgorithm::Curve25519Sha256,
        KexAlgorithm::EcdhNistp256,
        KexAlgorithm::EcdhNistp521,
        KexAlgorithm::DhGroup14Sha256,
        KexAlgorithm::DhGroup16Sha512,
        KexAlgorithm::DhGexSha256,
    ];
    for (i, kex) in kexes.into_iter().enumerate() {
        if KexAlgorithm::from_name(kex.name()).is_none() {
            println!("   {:<40} (not in this build)", kex.name());
            continue;
        }
        let algs = Algorithms { kex: AlgorithmList::new([kex]), ..Algorithms::default() };
        let (p, took) = pair(algs, &host_key, i as u64)?;
        let n = p.client.negotiated().ok_or(ssh_proto::Error::ApiMisuse("no kex"))?;
        println!("   {:<40} {}   hostkey {}  strict-kex {}", n.kex.name(), ms(took), n.host_key.name(), n.strict_kex);
    }

    println!("\n2. 64 MiB client->server per cipher, with a rekey at 32 MiB");
    let suites = [
        (Cipher::Aes128Gcm, Mac::HmacSha256),
        (Cipher::Aes256Gcm, Mac::HmacSha256),
        (Cipher::ChaCha20Poly1305, Mac::HmacSha256),
        (Cipher::Aes128Ctr, Mac::HmacSha256Etm),
        (Cipher::Aes256Ctr, Mac::HmacSha512Etm),
    ];
    for (i, (cipher, mac)) in suites.into_iter().enumerate() {
        let algs = Algorithms {
            kex: AlgorithmList::new([KexAlgorithm::Curve25519Sha256]),
            cipher: AlgorithmList::new([cipher]),
            mac: AlgorithmList::new([mac]),
            ..Algorithms::default()
        };
        let (mut p, _) = pair(algs, &host_key, 100 + i as u64)?;
        let total = 64 << 20;
        let took = transfer(&mut p, total, Some(total / 2))?;
        let mac = if cipher.is_aead() { "<implicit>".to_owned() } else { mac.name().to_owned() };
        println!(
            "   {:<30} {:<30} {}  {:7.0} MB/s  key exchanges {}",
            cipher.name(),
            mac,
            ms(took),
            total as f64 / took.as_secs_f64() / 1e6,
            p.server.key_exchanges()
        );
    }

    println!("\n3. rekey initiated by each side while traffic flows");
    let (mut p, _) = pair(Algorithms::default(), &host_key, 200)?;
    let start = Instant::now();
    p.server.rekey()?;
    transfer(&mut p, 4 << 20, Some(2 << 20))?;
    println!(
        "   client and server rekeys under 4 MiB of traffic: {}, exchanges {}",
        ms(start.elapsed()),
        p.client.key_exchanges()
    );
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo failed: {e}");
            ExitCode::FAILURE
        }
    }
}
