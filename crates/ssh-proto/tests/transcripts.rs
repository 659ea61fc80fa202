//! Recorded key exchanges with real peers, replayed offline.
//!
//! Each file in `testdata/transcripts/` holds the bytes exchanged when our client, with a
//! fixed RNG seed and fixed algorithms, completed a key exchange and an `ssh-userauth`
//! service request against OpenSSH 9.2 `sshd` or Paramiko 5.1. Replaying the server's bytes
//! into a client with the same seed must reproduce our bytes exactly, verify the server's
//! signature over the exchange hash (so our H equals the peer's), and decrypt the peer's
//! encrypted replies (so our key derivation and cipher equal the peer's).
//!
//! Re-record with `RECORD_TRANSCRIPTS=1 cargo test -p ssh-proto --test transcripts -- --ignored`
//! (needs sshd and python3 with paramiko).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ssh_proto::algorithm::{AlgorithmList, Algorithms};
use ssh_proto::{Event, SeededRng, client};

/// (file stem, peer, kex, cipher, mac, seed)
const CASES: &[(&str, &str, &str, &str, &str, u64)] = &[
    ("openssh-curve25519-chacha", "openssh", "curve25519-sha256", "chacha20-poly1305@openssh.com", "hmac-sha2-256", 1),
    ("openssh-ecdh256-aes128gcm", "openssh", "ecdh-sha2-nistp256", "aes128-gcm@openssh.com", "hmac-sha2-256", 2),
    (
        "openssh-ecdh521-aes256ctr-sha512etm",
        "openssh",
        "ecdh-sha2-nistp521",
        "aes256-ctr",
        "hmac-sha2-512-etm@openssh.com",
        3,
    ),
    (
        "openssh-group14sha256-aes128ctr-sha256",
        "openssh",
        "diffie-hellman-group14-sha256",
        "aes128-ctr",
        "hmac-sha2-256",
        4,
    ),
    (
        "openssh-group16-aes256gcm",
        "openssh",
        "diffie-hellman-group16-sha512",
        "aes256-gcm@openssh.com",
        "hmac-sha2-256",
        5,
    ),
    (
        "openssh-gexsha256-aes192ctr-sha1etm",
        "openssh",
        "diffie-hellman-group-exchange-sha256",
        "aes192-ctr",
        "hmac-sha1-etm@openssh.com",
        6,
    ),
    (
        "openssh-sntrup761-aes128gcm",
        "openssh",
        "sntrup761x25519-sha512@openssh.com",
        "aes128-gcm@openssh.com",
        "hmac-sha2-256",
        7,
    ),
    ("paramiko-mlkem768x25519-aes256ctr-sha256", "paramiko", "mlkem768x25519-sha256", "aes256-ctr", "hmac-sha2-256", 8),
    (
        "paramiko-curve25519-aes128gcm",
        "paramiko",
        "curve25519-sha256@libssh.org",
        "aes128-gcm@openssh.com",
        "hmac-sha2-256",
        9,
    ),
];

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

fn config(kex: &str, cipher: &str, mac: &str) -> client::Config {
    let mut c = client::Config::default();
    c.transport.software_version = "sshrs_transcript".into();
    c.transport.algorithms = Algorithms {
        kex: AlgorithmList::from_names(kex).unwrap(),
        host_key: AlgorithmList::from_names("ssh-ed25519").unwrap(),
        cipher: AlgorithmList::from_names(cipher).unwrap(),
        mac: AlgorithmList::from_names(mac).unwrap(),
        compression: AlgorithmList::from_names("none").unwrap(),
    };
    c
}

/// Records: `[direction: 0 = to server, 1 = to client][u32 length][bytes]`.
fn parse(data: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let (mut to_server, mut to_client) = (Vec::new(), Vec::new());
    let mut pos = 0;
    while pos < data.len() {
        let d = data[pos];
        let len = u32::from_be_bytes(data[pos + 1..pos + 5].try_into().unwrap()) as usize;
        let bytes = data[pos + 5..pos + 5 + len].to_vec();
        pos += 5 + len;
        if d == 0 {
            to_server.extend_from_slice(&bytes);
        } else {
            to_client.push(bytes);
        }
    }
    (to_server, to_client)
}

fn fixture_fingerprint() -> String {
    let text = std::fs::read_to_string(dir().join("hostkeys/host_ed25519.pub")).unwrap();
    ssh_key::PublicKey::from_openssh(text.trim()).unwrap().fingerprint(Default::default()).to_string()
}

#[test]
fn replay_recorded_transcripts() {
    let expected_fp = fixture_fingerprint();
    for &(name, _peer, kex, cipher, mac, seed) in CASES {
        let data = std::fs::read(dir().join("transcripts").join(format!("{name}.bin"))).unwrap();
        let (recorded_out, inputs) = parse(&data);
        let now = Instant::now();
        let mut conn =
            client::Connection::new(Arc::new(config(kex, cipher, mac)), now, Box::new(SeededRng::new(seed))).unwrap();
        conn.request_service("ssh-userauth").unwrap();
        let mut out = Vec::new();
        let mut accepted = false;
        let mut drain = |conn: &mut client::Connection, out: &mut Vec<u8>| {
            while let Some(ev) = conn.poll_event() {
                match ev {
                    Event::HostKey { token, key } => {
                        assert_eq!(key.fingerprint(), expected_fp, "{name}");
                        conn.accept_host_key(token).unwrap();
                    }
                    Event::ServiceAccepted { .. } => accepted = true,
                    Event::Disconnected { .. } => panic!("{name}: {ev:?}"),
                    _ => {}
                }
            }
            while let Some(b) = conn.poll_transmit() {
                out.extend_from_slice(&b);
            }
        };
        drain(&mut conn, &mut out);
        for chunk in &inputs {
            conn.handle_input(chunk, now).unwrap_or_else(|e| panic!("{name}: {e}"));
            drain(&mut conn, &mut out);
        }
        assert!(accepted, "{name}: the peer's encrypted SERVICE_ACCEPT was not decoded");
        assert_eq!(out, recorded_out, "{name}: our bytes differ from the recording");
        let n = conn.negotiated().unwrap();
        assert_eq!(n.kex, AlgorithmList::from_names(kex).unwrap().as_slice()[0], "{name}");
    }
}

// ---- recording -------------------------------------------------------------------------

struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_port(port: u16) {
    let end = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < end, "peer did not start on port {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn start_peer(kind: &str, tmp: &Path, port: u16) -> Peer {
    let key = tmp.join("host_ed25519");
    std::fs::copy(dir().join("hostkeys/host_ed25519"), &key).unwrap();
    Command::new("chmod").arg("600").arg(&key).status().unwrap();
    let child = if kind == "openssh" {
        let cfg = tmp.join("sshd_config");
        std::fs::write(
            &cfg,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile {}/pid\nLogLevel ERROR\nUsePAM no\nStrictModes no\n\
                 KexAlgorithms +diffie-hellman-group14-sha256,diffie-hellman-group16-sha512,diffie-hellman-group-exchange-sha256\n",
                key.display(),
                tmp.display()
            ),
        )
        .unwrap();
        std::fs::create_dir_all("/run/sshd").unwrap();
        Command::new("/usr/sbin/sshd").args(["-D", "-e", "-f"]).arg(&cfg).spawn().unwrap()
    } else {
        let script = format!(
            "import socket, threading, paramiko\n\
             key = paramiko.Ed25519Key.from_private_key_file({key:?})\n\
             class S(paramiko.ServerInterface):\n    def get_allowed_auths(self, u): return 'publickey'\n\
             l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); l.bind(('127.0.0.1', {port})); l.listen(5)\n\
             while True:\n    c, _ = l.accept()\n    t = paramiko.Transport(c); t.add_server_key(key)\n    try: t.start_server(server=S())\n    except Exception: pass\n",
            key = key.display().to_string()
        );
        Command::new("python3").args(["-c", &script]).stdin(Stdio::null()).spawn().unwrap()
    };
    wait_port(port);
    Peer(child)
}

fn record_one(port: u16, kex: &str, cipher: &str, mac: &str, seed: u64) -> Vec<u8> {
    let mut sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    sock.set_nodelay(true).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let now = Instant::now();
    let mut conn =
        client::Connection::new(Arc::new(config(kex, cipher, mac)), now, Box::new(SeededRng::new(seed))).unwrap();
    conn.request_service("ssh-userauth").unwrap();
    let mut log = Vec::new();
    let record = |d: u8, b: &[u8], log: &mut Vec<u8>| {
        log.push(d);
        log.extend_from_slice(&(b.len() as u32).to_be_bytes());
        log.extend_from_slice(b);
    };
    let mut buf = vec![0u8; 65536];
    loop {
        let mut done = false;
        while let Some(ev) = conn.poll_event() {
            match ev {
                Event::HostKey { token, .. } => conn.accept_host_key(token).unwrap(),
                Event::ServiceAccepted { .. } => done = true,
                Event::Disconnected { .. } => panic!("{ev:?}"),
                _ => {}
            }
        }
        while let Some(b) = conn.poll_transmit() {
            record(0, &b, &mut log);
            sock.write_all(&b).unwrap();
        }
        if done {
            return log;
        }
        let n = sock.read(&mut buf).unwrap();
        assert!(n > 0, "peer closed");
        record(1, &buf[..n], &mut log);
        conn.handle_input(&buf[..n], now).unwrap();
    }
}

#[test]
#[ignore = "re-records testdata/transcripts from live peers; set RECORD_TRANSCRIPTS=1"]
fn record_transcripts() {
    if std::env::var("RECORD_TRANSCRIPTS").is_err() {
        return;
    }
    let tmp = std::env::temp_dir().join(format!("ssh-proto-transcripts-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    for kind in ["openssh", "paramiko"] {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let _peer = start_peer(kind, &tmp, port);
        for &(name, peer, kex, cipher, mac, seed) in CASES.iter().filter(|c| c.1 == kind) {
            assert_eq!(peer, kind);
            let log = record_one(port, kex, cipher, mac, seed);
            std::fs::write(dir().join("transcripts").join(format!("{name}.bin")), log).unwrap();
        }
    }
    std::fs::remove_dir_all(&tmp).unwrap();
}
