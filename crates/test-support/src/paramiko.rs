//! Paramiko peers: a server (`python/paramiko_server.py`) and a client
//! (`python/paramiko_client.py`), both killed on drop and bounded in time.

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};

use crate::peers::python;
use crate::process::{ChildGuard, run, tail};

fn script(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/python")).join(name)
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

fn string(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or_default().to_owned()
}

/// Algorithm names per kind, as Paramiko lists them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParamikoAlgorithms {
    /// `paramiko.__version__`.
    pub version: String,
    /// Key exchange methods.
    pub kex: Vec<String>,
    /// Host key algorithms (a client's list includes the `-cert-v01` forms).
    pub keys: Vec<String>,
    /// Ciphers.
    pub ciphers: Vec<String>,
    /// MACs.
    pub macs: Vec<String>,
    /// Compression methods.
    pub compression: Vec<String>,
}

impl ParamikoAlgorithms {
    fn from_json(v: &Value) -> Self {
        Self {
            version: string(v, "paramiko"),
            kex: strings(v, "kex"),
            keys: strings(v, "keys"),
            ciphers: strings(v, "ciphers"),
            macs: strings(v, "macs"),
            compression: strings(v, "compression"),
        }
    }
}

/// What Paramiko (as a client) supports: `paramiko_client.py --list`, once per process.
pub fn paramiko_algorithms() -> Result<ParamikoAlgorithms, String> {
    static CACHE: OnceLock<Result<ParamikoAlgorithms, String>> = OnceLock::new();
    CACHE
        .get_or_init(|| {
            let out = run(
                Command::new(python()).arg("-u").arg(script("paramiko_client.py")).arg("--list"),
                Duration::from_secs(60),
            )?;
            if !out.status.success() {
                return Err(format!("paramiko_client.py --list failed: {}", tail(&out.stderr, 2000)));
            }
            let v: Value = serde_json::from_str(out.stdout.trim())
                .map_err(|e| format!("paramiko_client.py --list printed {:?}: {e}", out.stdout))?;
            Ok(ParamikoAlgorithms::from_json(&v))
        })
        .clone()
}

/// [`ParamikoServer`] settings.
#[derive(Clone, Debug, Default)]
pub struct ParamikoServerOptions {
    /// Private host key files (Paramiko 5 serves Ed25519, ECDSA and RSA; no DSS).
    pub host_keys: Vec<PathBuf>,
    /// Paramiko `disabled_algorithms`: (`kex` | `keys` | `ciphers` | `macs` | `compression`, names).
    pub disabled: Vec<(String, Vec<String>)>,
    /// Offer `zlib@openssh.com` and `zlib` (`Transport.use_compression(True)`).
    pub compression: bool,
    /// Paramiko DEBUG logging to its log file.
    pub debug: bool,
    /// Public key files allowed to log in (then sessions run the toy command language).
    pub authorized_keys: Vec<PathBuf>,
    /// A password allowed to log in.
    pub password: Option<String>,
}

/// A Paramiko server on 127.0.0.1. Exits when dropped (stdin closed, then killed).
pub struct ParamikoServer {
    child: ChildGuard,
    stdin: Option<ChildStdin>,
    port: u16,
    offered: ParamikoAlgorithms,
    log: tempfile::NamedTempFile,
}

impl std::fmt::Debug for ParamikoServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParamikoServer").field("port", &self.port).field("pid", &self.child.id()).finish()
    }
}

impl ParamikoServer {
    /// Starts the server and waits (bounded) for it to print its port.
    pub fn start(options: &ParamikoServerOptions) -> Result<Self, String> {
        let log = tempfile::Builder::new()
            .prefix("interop-paramiko-server-")
            .suffix(".log")
            .tempfile()
            .map_err(|e| format!("temp log: {e}"))?;
        let mut cmd = Command::new(python());
        cmd.arg("-u").arg(script("paramiko_server.py"));
        for k in &options.host_keys {
            cmd.arg("--host-key").arg(k);
        }
        for (kind, names) in &options.disabled {
            cmd.arg("--disable").arg(format!("{kind}={}", names.join(",")));
        }
        if options.compression {
            cmd.arg("--compression");
        }
        if options.debug {
            cmd.arg("--debug");
        }
        for k in &options.authorized_keys {
            cmd.arg("--authorized-key").arg(k);
        }
        if let Some(p) = &options.password {
            cmd.arg("--password").arg(p);
        }
        let stderr = log.reopen().map_err(|e| format!("log: {e}"))?;
        let child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", python()))?;
        let mut child = ChildGuard::new(child, "paramiko_server.py");
        let stdin = child.child_mut().stdin.take();
        let stdout = child.child_mut().stdout.take().ok_or("no stdout")?;
        let lines = line_reader(stdout);
        let first = match lines.recv_timeout(Duration::from_secs(30)) {
            Ok(l) => l,
            Err(_) => {
                drop(child);
                let text = std::fs::read_to_string(log.path()).unwrap_or_default();
                return Err(format!("paramiko_server.py printed no port within 30 s; stderr: {}", tail(&text, 3000)));
            }
        };
        let v: Value =
            serde_json::from_str(first.trim()).map_err(|e| format!("paramiko_server.py printed {first:?}: {e}"))?;
        let port = v.get("port").and_then(Value::as_u64).and_then(|p| u16::try_from(p).ok()).ok_or("no port")?;
        Ok(Self { child, stdin, port, offered: ParamikoAlgorithms::from_json(&v), log })
    }

    /// The port (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// The algorithms it offers in its KEXINIT.
    pub fn offered(&self) -> &ParamikoAlgorithms {
        &self.offered
    }

    /// What it printed to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().is_none()
    }
}

impl Drop for ParamikoServer {
    fn drop(&mut self) {
        // Closing stdin makes it exit; the guard then kills whatever is left.
        self.stdin.take();
    }
}

pub(crate) fn line_reader(r: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// One Paramiko client connection: `None` leaves Paramiko's default list for that kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParamikoCase {
    /// Server port on 127.0.0.1.
    pub port: u16,
    /// Key exchange method.
    pub kex: Option<String>,
    /// Host key algorithm.
    pub key_type: Option<String>,
    /// Cipher.
    pub cipher: Option<String>,
    /// MAC.
    pub mac: Option<String>,
    /// Compression.
    pub compression: Option<String>,
    /// Bound for the whole case (default 20 s when zero).
    pub timeout: Duration,
}

impl ParamikoCase {
    fn timeout(&self) -> Duration {
        if self.timeout.is_zero() { Duration::from_secs(20) } else { self.timeout }
    }

    fn to_json(&self) -> Value {
        json!({
            "port": self.port,
            "kex": self.kex,
            "key_type": self.key_type,
            "cipher": self.cipher,
            "mac": self.mac,
            "compression": self.compression,
            "timeout": self.timeout().as_secs_f64(),
        })
    }
}

/// What the Paramiko client negotiated, from its side ("local" is client to server).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParamikoNegotiated {
    /// Key exchange method.
    pub kex: String,
    /// Host key algorithm.
    pub host_key_type: String,
    /// Cipher client to server.
    pub local_cipher: String,
    /// Cipher server to client.
    pub remote_cipher: String,
    /// MAC client to server (Paramiko negotiates one even for AEAD ciphers).
    pub local_mac: String,
    /// MAC server to client.
    pub remote_mac: String,
    /// Compression client to server.
    pub local_compression: String,
    /// Compression server to client.
    pub remote_compression: String,
    /// Whether strict key exchange was agreed.
    pub strict_kex: bool,
    /// The server's key as `type base64`.
    pub server_key: String,
    /// The server's certificate as `type base64`, when it presented one.
    pub server_cert: Option<String>,
    /// The session identifier.
    pub session_id: Vec<u8>,
    /// The client's TCP port (to find the server's record of the connection).
    pub local_port: u16,
    /// The server's identification line.
    pub remote_version: String,
    /// Whether the server accepted the `ssh-userauth` service request.
    pub service_accepted: bool,
    /// The `Disconnect (code N): …` line Paramiko logged, if the server disconnected.
    pub disconnect: Option<String>,
}

impl ParamikoNegotiated {
    fn from_json(v: &Value) -> Result<Self, String> {
        if v.get("ok").and_then(Value::as_bool) != Some(true) {
            let log = strings(v, "log").join(" | ");
            return Err(format!("paramiko client: {} (log: {log})", string(v, "error")));
        }
        let opt = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        Ok(Self {
            kex: string(v, "kex"),
            host_key_type: string(v, "host_key_type"),
            local_cipher: string(v, "local_cipher"),
            remote_cipher: string(v, "remote_cipher"),
            local_mac: string(v, "local_mac"),
            remote_mac: string(v, "remote_mac"),
            local_compression: string(v, "local_compression"),
            remote_compression: string(v, "remote_compression"),
            strict_kex: v.get("strict_kex").and_then(Value::as_bool).unwrap_or(false),
            server_key: string(v, "server_key"),
            server_cert: opt("server_cert"),
            session_id: hex_decode(&string(v, "session_id")).ok_or("bad session_id hex")?,
            local_port: v.get("local_port").and_then(Value::as_u64).and_then(|p| u16::try_from(p).ok()).unwrap_or(0),
            remote_version: string(v, "remote_version"),
            service_accepted: v.get("service_accepted").and_then(Value::as_bool).unwrap_or(false),
            disconnect: opt("disconnect"),
        })
    }
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// A long-lived Paramiko client process that runs one [`ParamikoCase`] at a time
/// (`paramiko_client.py --serve`): Python and Paramiko start once, not per case. A case that
/// does not answer in time kills the process; the next case starts a new one.
#[derive(Default)]
pub struct ParamikoClient {
    proc: Option<(ChildGuard, ChildStdin, Receiver<String>)>,
}

impl std::fmt::Debug for ParamikoClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParamikoClient").field("pid", &self.proc.as_ref().map(|p| p.0.id())).finish()
    }
}

impl ParamikoClient {
    /// A client; its process starts with the first case.
    pub fn new() -> Self {
        Self::default()
    }

    fn spawn() -> Result<(ChildGuard, ChildStdin, Receiver<String>), String> {
        let child = Command::new(python())
            .arg("-u")
            .arg(script("paramiko_client.py"))
            .arg("--serve")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", python()))?;
        let mut child = ChildGuard::new(child, "paramiko_client.py --serve");
        let stdin = child.child_mut().stdin.take().ok_or("no stdin")?;
        let stdout = child.child_mut().stdout.take().ok_or("no stdout")?;
        Ok((child, stdin, line_reader(stdout)))
    }

    /// Runs one case (bounded by its timeout plus a margin).
    pub fn run(&mut self, case: &ParamikoCase) -> Result<ParamikoNegotiated, String> {
        if self.proc.is_none() {
            self.proc = Some(Self::spawn()?);
        }
        let (_, stdin, lines) = self.proc.as_mut().ok_or("no process")?;
        let mut line = case.to_json().to_string();
        line.push('\n');
        if let Err(e) = stdin.write_all(line.as_bytes()).and_then(|()| stdin.flush()) {
            self.proc = None;
            return Err(format!("paramiko client process: write: {e}"));
        }
        // Python startup and import count against the first case.
        let bound = case.timeout() * 2 + Duration::from_secs(15);
        match lines.recv_timeout(bound) {
            Ok(answer) => {
                let v: Value = serde_json::from_str(answer.trim())
                    .map_err(|e| format!("paramiko client printed {answer:?}: {e}"))?;
                ParamikoNegotiated::from_json(&v)
            }
            Err(RecvTimeoutError::Timeout) => {
                self.proc = None;
                Err(format!("paramiko client did not answer within {bound:?}; killed"))
            }
            Err(RecvTimeoutError::Disconnected) => {
                self.proc = None;
                Err("paramiko client process died".into())
            }
        }
    }

    /// Runs one case in a fresh process (`paramiko_client.py --port …`), as a one-off.
    pub fn run_once(case: &ParamikoCase) -> Result<ParamikoNegotiated, String> {
        let mut cmd = Command::new(python());
        cmd.arg("-u").arg(script("paramiko_client.py")).arg("--port").arg(case.port.to_string());
        for (flag, v) in [
            ("--kex", &case.kex),
            ("--key-type", &case.key_type),
            ("--cipher", &case.cipher),
            ("--mac", &case.mac),
            ("--compression", &case.compression),
        ] {
            if let Some(v) = v {
                cmd.arg(flag).arg(v);
            }
        }
        cmd.arg("--timeout").arg(case.timeout().as_secs_f64().to_string());
        let out = run(&mut cmd, case.timeout() * 2 + Duration::from_secs(15))?;
        let v: Value = serde_json::from_str(out.stdout.trim()).map_err(|e| {
            format!("paramiko_client.py printed {:?} ({e}); stderr: {}", out.stdout, tail(&out.stderr, 2000))
        })?;
        let r = ParamikoNegotiated::from_json(&v);
        match (&r, out.status.success()) {
            (Ok(_), true) | (Err(_), false) => r,
            _ => Err(format!("paramiko_client.py exit status {} does not match its answer {v}", out.status)),
        }
    }
}

/// What Paramiko's `SSHClient.exec_command` gave back (`python/paramiko_exec.py`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParamikoExec {
    /// Standard output (bytes as Latin-1).
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Exit status.
    pub status: i64,
}

/// How [`paramiko_exec`] authenticates.
#[derive(Clone, Debug)]
pub enum ParamikoAuth {
    /// `key_filename=`.
    Key(PathBuf),
    /// `password=`.
    Password(String),
}

/// Runs `command` through Paramiko's SSHClient against 127.0.0.1:`port`, writing `stdin`.
pub fn paramiko_exec(
    port: u16,
    user: &str,
    auth: &ParamikoAuth,
    command: &str,
    stdin: &[u8],
) -> Result<ParamikoExec, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(python());
    cmd.arg("-u").arg(script("paramiko_exec.py")).arg("--port").arg(port.to_string());
    cmd.arg("--user").arg(user).arg("--command").arg(command);
    match auth {
        ParamikoAuth::Key(k) => cmd.arg("--key").arg(k),
        ParamikoAuth::Password(p) => cmd.arg("--password").arg(p),
    };
    if !stdin.is_empty() {
        let p = dir.path().join("stdin");
        std::fs::write(&p, stdin).map_err(|e| e.to_string())?;
        cmd.arg("--stdin-file").arg(&p);
    }
    let out = run(&mut cmd, Duration::from_secs(90))?;
    let v: Value = serde_json::from_str(out.stdout.trim()).map_err(|e| {
        format!("paramiko_exec.py printed {:?} ({e}); stderr: {}", tail(&out.stdout, 500), tail(&out.stderr, 2000))
    })?;
    if v.get("ok").and_then(Value::as_bool) != Some(true) {
        return Err(format!("paramiko: {}; stderr: {}", string(&v, "error"), tail(&out.stderr, 2000)));
    }
    Ok(ParamikoExec {
        stdout: string(&v, "stdout"),
        stderr: string(&v, "stderr"),
        status: v.get("status").and_then(Value::as_i64).unwrap_or(-1),
    })
}
