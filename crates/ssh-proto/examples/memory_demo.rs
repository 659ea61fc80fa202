//! The in-memory demo: an embedded server and client core wired back to back (no network,
//! no setup). For each key-exchange family it runs a handshake and a publickey
//! authentication; for each cipher it opens a session channel, runs a command that streams
//! 64 MiB through the channel's flow control with a key re-exchange in the middle, and
//! checks the bytes; then several channels share one connection. It prints what was
//! negotiated and how long each step took.
//!
//! `cargo run --release --example memory_demo`
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ssh_proto::algorithm::{Algorithm, AlgorithmList, Algorithms, Cipher, KexAlgorithm, Mac};
use ssh_proto::auth::{AuthAttempt, AuthReply};
use ssh_proto::client::Identity;
use ssh_proto::connection::{ChannelError, ChannelId, ChannelRequest, ExitStatus};
use ssh_proto::testing::Pair;
use ssh_proto::{Error, Event, HostKey, KeyPair, SeededRng, client, server};

/// Connects, authenticates `demo` with `user_key`, and returns the pair and how long it took.
fn connect(
    algorithms: Algorithms,
    host_key: &HostKey,
    user_key: &Arc<KeyPair>,
    seed: u64,
) -> Result<(Pair, Duration), Error> {
    let mut c = client::Config::default();
    c.transport.algorithms = algorithms.clone();
    let mut s = server::Config::new(vec![host_key.clone()]);
    s.transport.algorithms = algorithms;
    let start = Instant::now();
    let mut p = Pair::new(c, s, start, seed)?;
    let allowed = user_key.public_key().key_data().clone();
    // The server application: this one key, verified by the core, for user `demo`.
    p.auth_policy = Some(Box::new(move |user, attempt| match attempt {
        AuthAttempt::PublicKey { key, .. } if user == "demo" && *key.key_data() == allowed => AuthReply::Accept,
        _ => AuthReply::Reject,
    }));
    p.client.auth_publickey("demo", Identity::Key(user_key.clone()))?;
    p.drive()?;
    if !p.client.is_authenticated() {
        return Err(Error::ApiMisuse("authentication failed"));
    }
    Ok((p, start.elapsed()))
}

/// A running 64-bit hash over 8-byte words (the same whatever the chunking: a partial
/// word is carried to the next update), to compare what was sent with what arrived.
#[derive(Clone, Copy)]
struct StreamHash {
    h: u64,
    carry: [u8; 8],
    carried: usize,
}

impl StreamHash {
    fn new() -> Self {
        Self { h: 0xcbf2_9ce4_8422_2325, carry: [0; 8], carried: 0 }
    }
    fn word(&mut self, w: u64) {
        self.h = (self.h ^ w).wrapping_mul(0x0000_0100_0000_01b3).rotate_left(29);
    }
    fn update(&mut self, mut data: &[u8]) {
        while self.carried > 0 && !data.is_empty() {
            self.carry[self.carried] = data[0];
            self.carried = (self.carried + 1) % 8;
            data = &data[1..];
            if self.carried == 0 {
                self.word(u64::from_le_bytes(self.carry));
            }
        }
        let mut words = data.chunks_exact(8);
        for w in &mut words {
            self.word(u64::from_le_bytes(w.try_into().unwrap_or_default()));
        }
        for &b in words.remainder() {
            self.carry[self.carried] = b;
            self.carried += 1;
        }
    }
    fn finish(&self) -> (u64, [u8; 8], usize) {
        (self.h, self.carry, self.carried)
    }
}

/// One streaming command per channel: the server sends `size` bytes, the client consumes them.
struct Stream {
    client: ChannelId,
    server: Option<ChannelId>,
    size: usize,
    sent: usize,
    received: usize,
    sent_hash: StreamHash,
    received_hash: StreamHash,
    exit: Option<ExitStatus>,
}

/// The server application's side: accept sessions, answer `exec`, stream the output as the
/// window allows, then exit 0.
fn serve(p: &mut Pair, streams: &mut [Stream], block: &[u8]) -> Result<(), Error> {
    let events: Vec<Event> = p.server_events.drain(..).collect();
    for ev in events {
        match ev {
            Event::ChannelOpenRequest { id, .. } => p.server.accept_channel(id).map_err(channel)?,
            Event::ChannelRequest { id, token, request: ChannelRequest::Exec { command } } => {
                if let Some(t) = token {
                    p.server.channel_request_reply(id, t, true).map_err(channel)?;
                }
                let n: usize = String::from_utf8_lossy(&command).trim_start_matches("stream ").parse().unwrap_or(0);
                if let Some(s) = streams.iter_mut().find(|s| s.server.is_none() && s.size == n) {
                    s.server = Some(id);
                }
            }
            _ => {}
        }
    }
    for s in streams.iter_mut() {
        let Some(id) = s.server else { continue };
        while s.sent < s.size {
            let n = (s.size - s.sent).min(block.len());
            match p.server.channel_send(id, &block[..n]) {
                Ok(k) => {
                    s.sent_hash.update(&block[..k]);
                    s.sent += k;
                }
                Err(ChannelError::Blocked(_)) => break,
                Err(e) => return Err(channel(e)),
            }
        }
        if s.sent == s.size && s.exit.is_none() && p.server.channel_info(id).is_some_and(|i| !i.eof_sent) {
            p.server.channel_eof(id).map_err(channel)?;
            p.server.channel_request(id, &ChannelRequest::Exit(ExitStatus::Code(0)), false).map_err(channel)?;
            p.server.channel_close(id).map_err(channel)?;
        }
    }
    Ok(())
}

fn channel(e: ChannelError) -> Error {
    match e {
        ChannelError::Connection(e) => e,
        _ => Error::ApiMisuse("channel command refused"),
    }
}

/// Runs the streams to completion; rekeys the client once `rekey_at` bytes arrived.
fn run_streams(p: &mut Pair, sizes: &[usize], rekey_at: Option<usize>) -> Result<(Duration, usize), Error> {
    let block: Vec<u8> = (0..64 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let start = Instant::now();
    let mut streams = Vec::new();
    for &size in sizes {
        let id = p.client.open_session().map_err(channel)?;
        streams.push(Stream {
            client: id,
            server: None,
            size,
            sent: 0,
            received: 0,
            sent_hash: StreamHash::new(),
            received_hash: StreamHash::new(),
            exit: None,
        });
    }
    let mut rekeyed = rekey_at.is_none();
    let total: usize = sizes.iter().sum();
    for _ in 0..10_000_000 {
        p.step()?;
        serve(p, &mut streams, &block)?;
        let events: Vec<Event> = p.client_events.drain(..).collect();
        for ev in events {
            match ev {
                Event::ChannelOpened { id } => {
                    let s = streams.iter().find(|s| s.client == id).ok_or(Error::ApiMisuse("unknown channel"))?;
                    let exec = ChannelRequest::Exec { command: format!("stream {}", s.size).into_bytes().into() };
                    p.client.channel_request(id, &exec, true).map_err(channel)?;
                }
                Event::ChannelData { id, data } => {
                    if let Some(s) = streams.iter_mut().find(|s| s.client == id) {
                        s.received_hash.update(&data);
                        s.received += data.len();
                    }
                    p.client.channel_consumed(id, data.len()).map_err(channel)?;
                }
                Event::ChannelClosed { id, exit } => {
                    if let Some(s) = streams.iter_mut().find(|s| s.client == id) {
                        s.exit = exit.or(Some(ExitStatus::Code(255)));
                    }
                }
                _ => {}
            }
        }
        let received: usize = streams.iter().map(|s| s.received).sum();
        if !rekeyed && rekey_at.is_some_and(|at| received >= at) {
            p.client.rekey()?;
            rekeyed = true;
        }
        if streams.iter().all(|s| s.exit.is_some()) {
            break;
        }
    }
    let took = start.elapsed();
    for s in &streams {
        if s.received != s.size
            || s.received_hash.finish() != s.sent_hash.finish()
            || s.exit != Some(ExitStatus::Code(0))
        {
            return Err(Error::ApiMisuse("a stream arrived incomplete or corrupted"));
        }
    }
    Ok((took, total))
}

fn ms(d: Duration) -> String {
    format!("{:8.2} ms", d.as_secs_f64() * 1e3)
}

fn run() -> Result<(), Error> {
    let host_key = HostKey::generate_ed25519(&mut SeededRng::new(0xdead));
    let user_key = Arc::new(KeyPair::generate_ed25519(&mut SeededRng::new(0xbeef)));
    println!("ssh-proto in-memory demo: client and server cores in one process, no sockets\n");
    println!(
        "host key {} {}",
        host_key.public_key().algorithm(),
        host_key.public_key().fingerprint(Default::default())
    );
    println!(
        "user key {} {}",
        user_key.public_key().algorithm(),
        user_key.public_key().fingerprint(Default::default())
    );

    println!("\n1. handshake + publickey authentication (query, then signature), per key exchange family");
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
        let (p, took) = connect(algs, &host_key, &user_key, i as u64)?;
        let n = p.client.negotiated().ok_or(Error::ApiMisuse("no kex"))?;
        println!("   {:<40} {}   hostkey {}  strict-kex {}", n.kex.name(), ms(took), n.host_key.name(), n.strict_kex);
    }

    println!("\n2. exec streaming 64 MiB server->client through a session channel, per cipher, rekey at 32 MiB");
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
        let (mut p, _) = connect(algs, &host_key, &user_key, 100 + i as u64)?;
        let size = 64 << 20;
        let (took, total) = run_streams(&mut p, &[size], Some(size / 2))?;
        let mac = if cipher.is_aead() { "<implicit>".to_owned() } else { mac.name().to_owned() };
        println!(
            "   {:<30} {:<30} {}  {:7.0} MB/s  checksum ok, exit 0, key exchanges {}",
            cipher.name(),
            mac,
            ms(took),
            total as f64 / took.as_secs_f64() / 1e6,
            p.server.key_exchanges()
        );
    }

    println!("\n3. eight channels at once on one connection, rekeys from both sides");
    let (mut p, _) = connect(Algorithms::default(), &host_key, &user_key, 200)?;
    p.server.rekey()?;
    let sizes: Vec<usize> = (1..=8).map(|i| i * (1 << 20)).collect();
    let (took, total) = run_streams(&mut p, &sizes, Some(8 << 20))?;
    println!(
        "   {} MiB over 8 channels: {}  {:7.0} MB/s, every checksum ok, key exchanges {}",
        total >> 20,
        ms(took),
        total as f64 / took.as_secs_f64() / 1e6,
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
