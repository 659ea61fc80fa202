//! The loopback demo, the README's main job: a server on 127.0.0.1 (ephemeral port, fresh
//! ed25519 host key) and a client in the same process, over real TCP. The client checks the
//! host key against a temporary known_hosts file, logs in with a key, runs a command,
//! downloads and uploads 256 MiB through a session channel with checksums, forwards a local
//! port to an echo service through the server and round-trips data through it, and prints
//! what was negotiated, how long each step took and the throughput.
//!
//! `cargo run --release --example demo`
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use ssh_blocking::ssh_proto::algorithm::Algorithm;
use ssh_blocking::ssh_proto::connection::{ChannelKind, ExitStatus};
use ssh_blocking::ssh_proto::ssh_key::PublicKey;
use ssh_blocking::ssh_proto::{HostKey, KeyPair, server};
use ssh_blocking::{
    AuthDecision, Client, ConnectOptions, LocalForward, Server, ServerHandler, ServerSession, UnknownHostPolicy,
};

const MIB: usize = 1 << 20;
const BULK: usize = 256 * MIB;

/// Deterministic bytes, so both ends can check the stream without keeping it.
fn fill(buf: &mut [u8], offset: usize) {
    for (i, b) in buf.iter_mut().enumerate() {
        let x = (offset + i) as u64;
        *b = (x.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8;
    }
}

/// FNV-1a over 8-byte words (fast enough not to hide the transport's speed), independent
/// of how the stream was cut into reads.
#[derive(Clone, Copy)]
struct Checksum {
    state: u64,
    pending: [u8; 8],
    held: usize,
}

impl Checksum {
    fn new() -> Self {
        Self { state: 0xcbf2_9ce4_8422_2325, pending: [0; 8], held: 0 }
    }
    fn word(&mut self, w: [u8; 8]) {
        self.state = (self.state ^ u64::from_le_bytes(w)).wrapping_mul(0x0100_0000_01b3);
    }
    fn update(&mut self, mut data: &[u8]) {
        if self.held > 0 {
            let k = (8 - self.held).min(data.len());
            self.pending[self.held..self.held + k].copy_from_slice(&data[..k]);
            self.held += k;
            data = &data[k..];
            if self.held < 8 {
                return;
            }
            self.word(self.pending);
            self.held = 0;
        }
        let mut words = data.chunks_exact(8);
        for w in &mut words {
            self.word(w.try_into().unwrap_or([0; 8]));
        }
        let rest = words.remainder();
        self.pending[..rest.len()].copy_from_slice(rest);
        self.held = rest.len();
    }
    /// The sum, with a partial last word padded by zeros.
    fn finish(mut self) -> u64 {
        if self.held > 0 {
            let mut w = [0u8; 8];
            w[..self.held].copy_from_slice(&self.pending[..self.held]);
            self.word(w);
        }
        self.state
    }
}

fn expected(len: usize) -> u64 {
    let mut sum = Checksum::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut done = 0;
    while done < len {
        let n = buf.len().min(len - done);
        fill(&mut buf[..n], done);
        sum.update(&buf[..n]);
        done += n;
    }
    sum.finish()
}

/// The demo server's application: one user, one key, three commands.
struct Demo {
    user_key: PublicKey,
}

impl ServerHandler for Demo {
    fn check_auth_publickey(&self, user: &str, key: &PublicKey) -> AuthDecision {
        if user == "demo" && key.key_data() == self.user_key.key_data() {
            AuthDecision::Accept
        } else {
            AuthDecision::Reject
        }
    }
    fn check_channel_request(&self, kind: &ChannelKind) -> bool {
        match kind {
            ChannelKind::Session => true,
            ChannelKind::DirectTcpip { host, .. } => host == "127.0.0.1",
            _ => false,
        }
    }
    fn check_exec_request(&self, _command: &[u8]) -> bool {
        true
    }
    /// `greet`, `download N` (N bytes of the pattern), `upload` (checksum of stdin).
    fn exec(&self, session: &mut ServerSession, command: &[u8]) -> ExitStatus {
        let ch = &mut session.channel;
        let command = String::from_utf8_lossy(command);
        let mut words = command.split_whitespace();
        match (words.next(), words.next().and_then(|n| n.parse::<usize>().ok())) {
            (Some("greet"), _) => {
                let _ = ch.write_all(b"hello from the ssh-blocking demo server\n");
                ExitStatus::Code(0)
            }
            (Some("download"), Some(len)) => {
                let mut buf = vec![0u8; 256 * 1024];
                let mut sent = 0;
                while sent < len {
                    let n = buf.len().min(len - sent);
                    fill(&mut buf[..n], sent);
                    if ch.write_all(&buf[..n]).is_err() {
                        return ExitStatus::Code(1);
                    }
                    sent += n;
                }
                ExitStatus::Code(0)
            }
            (Some("upload"), _) => {
                let mut sum = Checksum::new();
                let mut buf = vec![0u8; 256 * 1024];
                let mut total = 0usize;
                loop {
                    match ch.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            sum.update(&buf[..n]);
                            total += n;
                        }
                        Err(_) => return ExitStatus::Code(1),
                    }
                }
                let _ = ch.write_all(format!("{total} {:016x}\n", sum.finish()).as_bytes());
                ExitStatus::Code(0)
            }
            _ => {
                let _ = ch.write_stderr(b"unknown command\n");
                ExitStatus::Code(127)
            }
        }
    }
}

fn mbps(bytes: usize, secs: f64) -> f64 {
    bytes as f64 / MIB as f64 / secs
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let start = Instant::now();
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let host_key = HostKey::generate_ed25519(&mut rng);
    let user_key = Arc::new(KeyPair::generate_ed25519(&mut rng));
    let server = Server::bind(
        "127.0.0.1:0",
        server::Config::new(vec![host_key]),
        Demo { user_key: user_key.public_key().clone() },
    )?;
    let addr = server.local_addr()?;
    let stop = server.stop_handle()?;
    let serving = std::thread::spawn(move || server.serve());
    println!("server      listening on {addr} (ed25519 host key, fresh)");

    // First contact adds the host key to a temporary known_hosts; the second connection
    // must match it under the strict policy.
    let dir = std::env::temp_dir().join(format!("ssh-blocking-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let known_hosts = dir.join("known_hosts");
    let mut options = ConnectOptions::new("127.0.0.1", addr.port(), "demo");
    options.keys = vec![user_key];
    options.known_hosts = Some(known_hosts.clone());
    options.policy = UnknownHostPolicy::AcceptNew;
    Client::connect(&options)?.close();
    options.policy = UnknownHostPolicy::Reject;
    let t = Instant::now();
    let client = Client::connect(&options)?;
    let connect = t.elapsed();
    let n = client.session().negotiated().ok_or("no negotiated algorithms")?;
    println!("connect     {:>8.1} ms  known_hosts checked (strict), publickey auth", connect.as_secs_f64() * 1e3);
    println!(
        "algorithms  kex {} | host key {} | cipher {} | mac {}",
        n.kex.name(),
        n.host_key.name(),
        n.cipher_c2s.name(),
        n.mac_c2s.map_or("(aead)", |m| m.name())
    );

    let t = Instant::now();
    let mut run = client.exec_command("greet")?;
    let text = String::from_utf8(run.stdout.read_all()?)?;
    let status = run.stdout.recv_exit_status(None)?;
    println!("command     {:>8.1} ms  {:?} -> {}", t.elapsed().as_secs_f64() * 1e3, text.trim(), status_text(&status));

    let t = Instant::now();
    let mut run = client.exec_command(&format!("download {BULK}"))?;
    let mut sum = Checksum::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut got = 0usize;
    loop {
        let k = run.stdout.read(&mut buf)?;
        if k == 0 {
            break;
        }
        sum.update(&buf[..k]);
        got += k;
    }
    let secs = t.elapsed().as_secs_f64();
    let sum = sum.finish();
    if got != BULK || sum != expected(BULK) {
        return Err(format!("download: {got} bytes, checksum {sum:016x} (want {:016x})", expected(BULK)).into());
    }
    println!("download    {:>8.1} ms  {} MiB, checksum ok, {:.0} MB/s", secs * 1e3, BULK / MIB, mbps(BULK, secs));

    let t = Instant::now();
    let run = client.exec_command("upload")?;
    let mut stdin = run.stdin;
    let writer = std::thread::spawn(move || -> std::io::Result<()> {
        let mut buf = vec![0u8; 256 * 1024];
        let mut sent = 0;
        while sent < BULK {
            let n = buf.len().min(BULK - sent);
            fill(&mut buf[..n], sent);
            stdin.write_all(&buf[..n])?;
            sent += n;
        }
        stdin.send_eof().map_err(std::io::Error::from)
    });
    let mut stdout = run.stdout;
    let reply = String::from_utf8(stdout.read_all()?)?;
    writer.join().map_err(|_| "upload thread panicked")??;
    let secs = t.elapsed().as_secs_f64();
    if reply.trim() != format!("{BULK} {:016x}", expected(BULK)) {
        return Err(format!("upload: server saw {reply:?}").into());
    }
    println!("upload      {:>8.1} ms  {} MiB, checksum ok, {:.0} MB/s", secs * 1e3, BULK / MIB, mbps(BULK, secs));

    // -L: a local port forwarded through the server to an echo service.
    let echo = TcpListener::bind("127.0.0.1:0")?;
    let echo_port = echo.local_addr()?.port();
    std::thread::spawn(move || {
        for s in echo.incoming().flatten() {
            std::thread::spawn(move || {
                if let Ok(mut r) = s.try_clone() {
                    let mut w = s;
                    let _ = std::io::copy(&mut r, &mut w);
                    let _ = w.shutdown(Shutdown::Write);
                }
            });
        }
    });
    let forward = LocalForward::start(Arc::clone(client.session()), "127.0.0.1:0".parse()?, "127.0.0.1", echo_port)?;
    let t = Instant::now();
    let len = 16 * MIB;
    let mut tcp = TcpStream::connect(forward.local_addr())?;
    let mut back = tcp.try_clone()?;
    let writer = std::thread::spawn(move || -> std::io::Result<()> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut sent = 0;
        while sent < len {
            let n = buf.len().min(len - sent);
            fill(&mut buf[..n], sent);
            tcp.write_all(&buf[..n])?;
            sent += n;
        }
        tcp.shutdown(Shutdown::Write)
    });
    let mut sum = Checksum::new();
    let mut got = 0usize;
    loop {
        let k = back.read(&mut buf)?;
        if k == 0 {
            break;
        }
        sum.update(&buf[..k]);
        got += k;
    }
    writer.join().map_err(|_| "forward thread panicked")??;
    let secs = t.elapsed().as_secs_f64();
    if got != len || sum.finish() != expected(len) {
        return Err(format!("forward: {got} bytes back, checksum mismatch").into());
    }
    println!(
        "forward -L  {:>8.1} ms  127.0.0.1:{} -> echo 127.0.0.1:{echo_port}: {} MiB round trip, checksum ok",
        secs * 1e3,
        forward.local_addr().port(),
        len / MIB
    );

    drop(forward);
    client.close();
    stop.stop();
    let _ = serving.join();
    let _ = std::fs::remove_dir_all(&dir);
    println!("total       {:>8.1} ms", start.elapsed().as_secs_f64() * 1e3);
    Ok(())
}

fn status_text(s: &Option<ExitStatus>) -> String {
    match s {
        Some(ExitStatus::Code(c)) => format!("exit {c}"),
        Some(ExitStatus::Signal { name, .. }) => format!("signal {name}"),
        None => "no status".into(),
    }
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
