//! The CLI contract of `examples/sshd.rs`, driven by OpenSSH's `ssh` (and, where OpenSSH
//! cannot show it, our own client): flags, the `listening on` line, exit codes, exec streams
//! and status, environment, pseudo-terminals, forwarding both ways, agent forwarding,
//! password authentication, algorithm options, and a clean SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use ssh_blocking::ssh_proto::connection::ExitStatus as SshExit;
use ssh_blocking::{Client, ConnectOptions, UnknownHostPolicy};
use test_support::process::{ChildGuard, run};
use test_support::{EchoServer, Peer, pattern, require_peers};

const TIMEOUT: Duration = Duration::from_secs(60);
const MIB: usize = 1 << 20;

/// The example under test: ssh-blocking's `sshd`, or ssh-tokio's `sshd-tokio` when
/// ssh-tokio's tests include this file (both keep the same contract).
const EXAMPLE: &str = match env!("CARGO_PKG_NAME").as_bytes() {
    b"ssh-tokio" => "sshd-tokio",
    _ => "sshd",
};

/// `target/<profile>/examples/sshd` (or `sshd-tokio`).
fn sshd_example() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>");
    let bin = profile_dir.join("examples").join(format!("{EXAMPLE}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} not built: `cargo test -p {}` without --test filters builds the examples, or `cargo build -p {} --example {EXAMPLE}`",
        bin.display(),
        env!("CARGO_PKG_NAME"),
        env!("CARGO_PKG_NAME")
    );
    bin
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// What a finished process printed, standard output kept as bytes.
struct Out {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: String,
}

impl Out {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

/// Runs `cmd` with `input` on stdin (then EOF), killing it after `timeout`.
fn run_bytes(cmd: &mut Command, input: Vec<u8>, timeout: Duration) -> Out {
    let start = Instant::now();
    let child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let mut guard = ChildGuard::new(child, format!("{cmd:?}"));
    let mut stdin = guard.child_mut().stdin.take().unwrap();
    let writer = thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let mut stdout = guard.child_mut().stdout.take().unwrap();
    let mut stderr = guard.child_mut().stderr.take().unwrap();
    let out = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        v
    });
    let err = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stderr.read_to_end(&mut v);
        String::from_utf8_lossy(&v).into_owned()
    });
    let status = loop {
        if let Some(st) = guard.try_wait() {
            break st;
        }
        if start.elapsed() > timeout {
            guard.kill();
            let stderr = err.join().unwrap();
            panic!("{} timed out after {timeout:?}; stderr: {stderr}", guard.what());
        }
        thread::sleep(Duration::from_millis(5));
    };
    let _ = writer.join();
    Out { status, stdout: out.join().unwrap(), stderr: err.join().unwrap() }
}

fn keygen(path: &Path, args: &[&str]) {
    let mut all = vec!["-q", "-N", "", "-C", "sshd-cli-test", "-f", s(path)];
    all.extend_from_slice(args);
    let out = run(Command::new("ssh-keygen").args(&all), TIMEOUT).unwrap();
    assert!(out.status.success(), "ssh-keygen {args:?}: {}", out.stderr);
}

/// A temporary directory with a host key, a user key and an authorized_keys file listing it.
struct Keys {
    dir: tempfile::TempDir,
    host_keys: Vec<PathBuf>,
    id: PathBuf,
    authorized_keys: PathBuf,
}

impl Keys {
    fn new() -> Self {
        Self::with_host_keys(&[("host_ed25519", &["-t", "ed25519"])])
    }

    fn with_host_keys(specs: &[(&str, &[&str])]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let host_keys: Vec<PathBuf> = specs
            .iter()
            .map(|(name, args)| {
                let p = dir.path().join(name);
                keygen(&p, args);
                p
            })
            .collect();
        let id = dir.path().join("id_ed25519");
        keygen(&id, &["-t", "ed25519"]);
        let authorized_keys = dir.path().join("authorized_keys");
        // Options in front of the key are skipped, not honoured (documented).
        let line = std::fs::read_to_string(id.with_extension("pub")).unwrap();
        std::fs::write(
            &authorized_keys,
            format!("# a comment\n\nssh-ed25519 AAAAnotakey junk\nno-pty,command=\"echo \\\"x y\\\"\" {line}"),
        )
        .unwrap();
        Self { dir, host_keys, id, authorized_keys }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Daemon arguments for these keys.
    fn args(&self) -> Vec<String> {
        let mut a = vec!["-p".to_owned(), "0".to_owned()];
        for k in &self.host_keys {
            a.extend(["-h".to_owned(), s(k).to_owned()]);
        }
        a.extend(["-a".to_owned(), s(&self.authorized_keys).to_owned()]);
        a
    }

    fn start(&self, extra: &[&str]) -> Daemon {
        let mut args = self.args();
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        Daemon::start(&args, &[], self)
    }
}

/// The running example, killed on drop.
struct Daemon {
    guard: ChildGuard,
    addr: SocketAddr,
    /// Later stdout lines (there must be none).
    stdout_rest: mpsc::Receiver<String>,
    stderr: Arc<Mutex<String>>,
    known_hosts: PathBuf,
}

impl Daemon {
    fn start(args: &[String], envs: &[(&str, &Path)], keys: &Keys) -> Self {
        let mut cmd = Command::new(sshd_example());
        cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let child = cmd.spawn().unwrap();
        let mut guard = ChildGuard::new(child, "sshd example");
        let stdout = guard.child_mut().stdout.take().unwrap();
        let mut stderr_pipe = guard.child_mut().stderr.take().unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no `listening on` line; stderr: {}", stderr.lock().unwrap()));
        let addr: SocketAddr = line
            .strip_prefix("listening on ")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("bad ready line {line:?}"));
        assert_eq!(addr.ip().to_string(), "127.0.0.1", "default bind address");
        assert_ne!(addr.port(), 0, "the real bound port");
        // known_hosts with exactly this server's host keys: StrictHostKeyChecking=yes proves
        // the key served is the one loaded.
        let known_hosts = keys.dir.path().join(format!("known_hosts_{}", addr.port()));
        let lines: String = keys
            .host_keys
            .iter()
            .map(|k| {
                let public = std::fs::read_to_string(k.with_extension("pub")).unwrap();
                format!("[127.0.0.1]:{} {}\n", addr.port(), public.trim())
            })
            .collect();
        std::fs::write(&known_hosts, lines).unwrap();
        Self { guard, addr, stdout_rest: rx, stderr, known_hosts }
    }

    fn port(&self) -> String {
        self.addr.port().to_string()
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// `ssh` to this server with `keys`' identity; `extra` goes before the destination.
    fn ssh_cmd(&self, keys: &Keys, extra: &[&str]) -> Command {
        let mut c = Command::new("ssh");
        c.args(["-F", "/dev/null", "-p", &self.port(), "-i", s(&keys.id)]);
        c.args(["-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"]);
        c.args(["-o", &format!("UserKnownHostsFile={}", s(&self.known_hosts))]);
        c.args(["-o", "ConnectTimeout=20"]);
        c.args(extra);
        c.arg("tester@127.0.0.1");
        c.env_remove("SSH_AUTH_SOCK");
        c
    }

    fn ssh(&self, keys: &Keys, extra: &[&str], command: &str, input: Vec<u8>) -> Out {
        let mut c = self.ssh_cmd(keys, extra);
        c.arg(command);
        run_bytes(&mut c, input, TIMEOUT)
    }

    /// Our library client, logged in with `keys`' identity.
    fn client(&self, keys: &Keys) -> Client {
        let mut o = ConnectOptions::new("127.0.0.1", self.addr.port(), "tester");
        o.key_files = vec![keys.id.clone()];
        o.known_hosts = Some(keys.path("client_known_hosts"));
        o.policy = UnknownHostPolicy::AutoAdd;
        Client::connect(&o).unwrap()
    }
}

fn expect_ok(out: &Out, what: &str) {
    assert_eq!(out.code(), Some(0), "{what}: stderr {}", out.stderr);
}

// ---------------------------------------------------------------------------------------

/// Bad command lines: one line on stderr and sshd's exit codes (1 for usage, 255 for a bad
/// value of a known option); nothing on stdout.
#[test]
fn command_line_errors() {
    require_peers!(Peer::SshKeygen);
    let keys = Keys::new();
    let hk = s(&keys.host_keys[0]).to_owned();
    let public = keys.id.with_extension("pub");
    let cases: &[(&[&str], i32, &str)] = &[
        (&["-p", "0", "-h", &hk, "-Z"], 1, "unknown option -- Z"),
        (&["-p", "0", "-h", &hk, "--frobnicate"], 1, "unknown option --frobnicate"),
        (&["-h", &hk], 1, "-p PORT is required"),
        (&["-p", "0"], 1, "no hostkeys"),
        (&["-p", "0", "-h"], 1, "option requires an argument -- h"),
        (&["-p", "99999", "-h", &hk], 1, "Bad port number"),
        (&["-p", "0", "-h", "/nonexistent/key"], 1, "Unable to load host key /nonexistent/key"),
        (&["-p", "0", "-h", s(&public)], 1, "Unable to load host key"),
        (&["-p", "0", "-h", &hk, "--password", "nocolon"], 1, "USER:PASS"),
        (&["-p", "0", "-h", &hk, "-o", "Bogus=1"], 1, "Bad configuration option: Bogus"),
        (&["-p", "0", "-h", &hk, "-o", "Ciphers=bogus-cipher"], 255, "bogus-cipher"),
        (&["-p", "0", "-h", &hk, "-o", "Ciphers=-*"], 255, "no cipher algorithms"),
        (&["-p", "0", "-h", &hk, "-o", "KexAlgorithms=+nope"], 255, "nope"),
        (&["-p", "0", "-h", &hk, "-o", "RekeyLimit=1X"], 255, "Bad RekeyLimit"),
        (&["-p", "0", "-h", &hk, "-o", "RekeyLimit=1K"], 255, "rekey byte limit"),
        (&["-p", "0", "-h", &hk, "-o", "RekeyLimit=1M 1q"], 255, "Bad time"),
        (&["-p", "0", "-h", &hk, "-o", "Compression=maybe"], 255, "yes or no"),
        (&["-p", "0", "-h", &hk, "-o", "Ciphers="], 255, "missing argument"),
        // The host key is ed25519: no host key algorithm left to offer.
        (&["-p", "0", "-h", &hk, "-o", "HostKeyAlgorithms=rsa-sha2-256"], 255, "host key"),
    ];
    for (args, code, says) in cases {
        let out = run(Command::new(sshd_example()).args(*args), TIMEOUT).unwrap();
        assert_eq!(out.status.code(), Some(*code), "{args:?}: stderr {:?}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "{args:?}: one line: {:?}", out.stderr);
        assert!(out.stderr.contains(says), "{args:?}: {:?} should mention {says:?}", out.stderr);
        assert!(out.stdout.is_empty(), "{args:?}: stdout {:?}", out.stdout);
    }
}

/// Good option spellings start, and the ready line is the only stdout line.
#[test]
fn options_accepted_and_ready_line() {
    require_peers!(Peer::SshKeygen, Peer::Ssh);
    let keys = Keys::new();
    let d = keys.start(&[
        "-b",
        "127.0.0.1",
        "-oCiphers=+aes128-cbc",
        "-o",
        "macs -hmac-sha1",
        "-o",
        "KexAlgorithms=^curve25519-sha256",
        "-o",
        "RekeyLimit=1G 1h30m",
        "-o",
        "rekeylimit default none",
        "-o",
        "Compression=delayed",
        "-o",
        "HostKeyAlgorithms=ssh-ed25519",
        "--password=someone:secret:with:colons",
    ]);
    let out = d.ssh(&keys, &[], "echo up", Vec::new());
    expect_ok(&out, "login");
    assert_eq!(out.text(), "up\n");
    // The password may contain colons: only the first one separates the user.
    let mut o = ConnectOptions::new("127.0.0.1", d.addr.port(), "someone");
    o.password = Some("secret:with:colons".into());
    o.known_hosts = Some(keys.path("kh_colons"));
    o.policy = UnknownHostPolicy::AutoAdd;
    Client::connect(&o).unwrap().close();
    assert!(d.stdout_rest.try_recv().is_err(), "only the ready line on stdout");
}

/// Host keys in OpenSSH, PEM and PKCS#8 files, three types: each is served (the client
/// insists on its algorithm and checks it against known_hosts), and HostKeyAlgorithms
/// limits which are offered.
#[test]
fn host_key_formats_and_types() {
    require_peers!(Peer::SshKeygen, Peer::Ssh);
    let keys = Keys::with_host_keys(&[
        ("hk_ed25519", &["-t", "ed25519"]),
        ("hk_ecdsa_pem", &["-t", "ecdsa", "-b", "384", "-m", "PEM"]),
        ("hk_rsa_pkcs8", &["-t", "rsa", "-b", "2048", "-m", "PKCS8"]),
    ]);
    assert!(std::fs::read_to_string(&keys.host_keys[1]).unwrap().starts_with("-----BEGIN EC PRIVATE KEY-----"));
    assert!(std::fs::read_to_string(&keys.host_keys[2]).unwrap().starts_with("-----BEGIN PRIVATE KEY-----"));
    let d = keys.start(&[]);
    for alg in ["ssh-ed25519", "ecdsa-sha2-nistp384", "rsa-sha2-512", "rsa-sha2-256"] {
        let out = d.ssh(&keys, &["-o", &format!("HostKeyAlgorithms={alg}"), "-v"], "echo ok", Vec::new());
        expect_ok(&out, alg);
        assert!(out.stderr.contains(&format!("kex: host key algorithm: {alg}")), "{alg}: {}", out.stderr);
    }
    drop(d);
    let d = keys.start(&["-o", "HostKeyAlgorithms=ecdsa-sha2-nistp384"]);
    let out = d.ssh(&keys, &["-o", "HostKeyAlgorithms=ssh-ed25519"], "true", Vec::new());
    assert_eq!(out.code(), Some(255));
    assert!(out.stderr.contains("no matching host key type"), "{}", out.stderr);
    expect_ok(&d.ssh(&keys, &["-o", "HostKeyAlgorithms=ecdsa-sha2-nistp384"], "true", Vec::new()), "ecdsa");
}

/// exec: stdout and stderr apart, exit codes, 8 MiB of stdin through sha256sum and through
/// cat, EOF passed on, and a command killed by a signal (ssh exits 255 after exit-signal, as
/// with OpenSSH's sshd).
#[test]
fn exec_streams_status_and_signals() {
    require_peers!(Peer::SshKeygen, Peer::Ssh);
    let keys = Keys::new();
    let d = keys.start(&[]);

    let out = d.ssh(&keys, &[], "echo to-out; echo to-err >&2; exit 3", Vec::new());
    assert_eq!(out.code(), Some(3), "{}", out.stderr);
    assert_eq!(out.text(), "to-out\n");
    assert_eq!(out.stderr, "to-err\n");
    let out = d.ssh(&keys, &[], "true", Vec::new());
    assert_eq!((out.code(), out.stdout.len()), (Some(0), 0), "{}", out.stderr);
    let out = d.ssh(&keys, &["-v"], "printf before; exit 255", Vec::new());
    assert_eq!(out.code(), Some(255));
    assert_eq!(out.text(), "before");
    assert!(out.stderr.contains("Exit status 255"), "{}", out.stderr);
    // /bin/sh runs it, in $HOME.
    let out = d.ssh(&keys, &[], "echo $0; pwd", Vec::new());
    expect_ok(&out, "sh");
    let home = std::env::var("HOME").unwrap();
    assert_eq!(out.text(), format!("/bin/sh\n{home}\n"));

    let data = pattern(8 * MIB + 123, 1);
    let out = d.ssh(&keys, &[], "sha256sum", data.clone());
    expect_ok(&out, "sha256sum");
    assert_eq!(out.text().split_whitespace().next(), Some(sha256_hex(&data).as_str()));
    let out = d.ssh(&keys, &[], "cat", data.clone());
    expect_ok(&out, "cat");
    assert_eq!(out.stdout.len(), data.len());
    assert!(out.stdout == data, "cat returned different bytes");
    // Large stderr while stdin is still flowing (cat to stderr): no deadlock, bytes intact.
    let small = pattern(MIB, 2);
    let out = d.ssh(&keys, &[], "cat >&2; echo done", small.clone());
    expect_ok(&out, "cat >&2");
    assert_eq!(out.text(), "done\n");
    assert!(out.stderr.as_bytes() == String::from_utf8_lossy(&small).as_bytes(), "stderr bytes differ");
    // A broken pipe ends the writer (SIGPIPE is at its default for commands).
    let out = d.ssh(&keys, &[], "yes | head -n 3; echo ok", Vec::new());
    expect_ok(&out, "yes | head");
    assert_eq!(out.text(), "y\ny\ny\nok\n");
    // EOF on stdin reaches the command.
    let out = d.ssh(&keys, &[], "wc -c; echo after-eof", b"12345".to_vec());
    expect_ok(&out, "wc");
    assert_eq!(out.text().split_whitespace().collect::<Vec<_>>(), ["5", "after-eof"]);

    for (signal, command) in [("TERM", "kill -TERM $$"), ("KILL", "kill -KILL $$"), ("SEGV", "kill -SEGV $$")] {
        let out = d.ssh(&keys, &["-v"], command, Vec::new());
        assert_eq!(out.code(), Some(255), "{signal}: {}", out.stderr);
        assert!(out.stderr.contains("rtype exit-signal"), "{signal}: {}", out.stderr);
        assert!(!out.stderr.contains("rtype exit-status"), "{signal}: {}", out.stderr);
    }
    // Our client sees the signal's name.
    let c = d.client(&keys);
    for (signal, command) in [("TERM", "kill -TERM $$"), ("USR1", "kill -USR1 $$"), ("KILL", "kill -9 $$")] {
        let run = c.exec_command(command).unwrap();
        let status = run.stdout.recv_exit_status(Some(TIMEOUT)).unwrap();
        assert!(matches!(&status, Some(SshExit::Signal { name, .. }) if name == signal), "{signal}: {status:?}");
    }
    assert!(d.stderr().is_empty(), "daemon stderr: {}", d.stderr());
}

/// Input to a command that does not read yet is held back by the windows, not buffered by
/// the server: its peak memory stays far below what was sent.
#[test]
fn input_to_a_stalled_command_is_not_buffered() {
    require_peers!(Peer::SshKeygen, Peer::Ssh);
    let keys = Keys::new();
    let d = keys.start(&[]);
    expect_ok(&d.ssh(&keys, &[], "true", Vec::new()), "warm-up");
    let hwm = || {
        let status = std::fs::read_to_string(format!("/proc/{}/status", d.guard.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap().to_owned();
        line.split_whitespace().nth(1).unwrap().parse::<usize>().unwrap() * 1024
    };
    let before = hwm();
    let sent = 16 * MIB;
    let out = d.ssh(&keys, &[], "sleep 3; wc -c", vec![7u8; sent]);
    expect_ok(&out, "stalled reader");
    assert_eq!(out.text().trim(), sent.to_string());
    let grown = hwm().saturating_sub(before);
    assert!(grown < 10 * MIB, "the server's peak memory grew by {grown} bytes for {sent} bytes of input");
}

/// Environment variables the client sends reach the command (AcceptEnv *).
#[test]
fn client_environment_reaches_the_command() {
    require_peers!(Peer::SshKeygen, Peer::Ssh);
    let keys = Keys::new();
    let d = keys.start(&[]);
    let out = d.ssh(&keys, &["-o", "SetEnv=FOO=bar \"BAZ=two words\""], "echo \"$FOO|$BAZ\"", Vec::new());
    expect_ok(&out, "SetEnv");
    assert_eq!(out.text(), "bar|two words\n");
    let mut c = d.ssh_cmd(&keys, &["-o", "SendEnv=SSHD_CLI_*"]);
    c.env("SSHD_CLI_X", "from-env").arg("echo $SSHD_CLI_X");
    let out = run_bytes(&mut c, Vec::new(), TIMEOUT);
    expect_ok(&out, "SendEnv");
    assert_eq!(out.text(), "from-env\n");
}

/// Pseudo-terminals: `ssh -tt` and RequestTTY=force give a /dev/pts device with TERM and
/// SSH_TTY; none without; our client's size, window change and a login shell on a pty.
#[test]
fn pseudo_terminals() {
    require_peers!(Peer::SshKeygen, Peer::Ssh);
    let keys = Keys::new();
    let d = keys.start(&[]);
    for flags in [&["-tt"][..], &["-o", "RequestTTY=force"][..]] {
        let mut c = d.ssh_cmd(&keys, flags);
        c.env("TERM", "vt220").arg("tty; stty size; echo \"$TERM $SSH_TTY\"");
        let out = run_bytes(&mut c, Vec::new(), TIMEOUT);
        expect_ok(&out, "ssh -tt");
        let text = out.text().replace('\r', "");
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() >= 3, "{flags:?}: {text:?}");
        assert!(lines[0].starts_with("/dev/pts/"), "{flags:?}: {text:?}");
        // ssh without a local terminal sends a 0x0 size.
        assert_eq!(lines[1], "0 0", "{flags:?}");
        assert_eq!(lines[2], format!("vt220 {}", lines[0]), "{flags:?}");
    }
    let out = d.ssh(&keys, &["-T"], "tty; echo \"[$SSH_TTY]\"", Vec::new());
    assert_eq!(out.text(), "not a tty\n[]\n", "{}", out.stderr);

    let c = d.client(&keys);
    let mut ch = c.session().open_session().unwrap();
    ch.request_pty("xterm-256color", 100, 30).unwrap();
    ch.exec("stty size; echo $TERM").unwrap();
    let text = String::from_utf8(ch.read_all().unwrap()).unwrap().replace('\r', "");
    assert_eq!(text, "30 100\nxterm-256color\n");
    assert_eq!(ch.recv_exit_status(Some(TIMEOUT)).unwrap(), Some(SshExit::Code(0)));

    // A window change resizes the terminal of the running command.
    let mut ch = c.session().open_session().unwrap();
    ch.request_pty("xterm", 80, 24).unwrap();
    ch.exec("stty size; for i in $(seq 100); do s=$(stty size); [ \"$s\" = '40 120' ] && break; sleep 0.05; done; echo \"now $s\"").unwrap();
    let mut first = [0u8; 7];
    ch.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"24 80\r\n");
    ch.resize_pty(120, 40).unwrap();
    let text = String::from_utf8(ch.read_all().unwrap()).unwrap();
    assert_eq!(text, "now 40 120\r\n");

    // A login shell on the pty: argv[0] starts with '-', input is echoed, exit status kept.
    let mut ch = c.session().open_session().unwrap();
    ch.request_pty("dumb", 80, 24).unwrap();
    ch.shell().unwrap();
    ch.write_all(b"echo \"zero=$0\"; exit 7\n").unwrap();
    let text = String::from_utf8_lossy(&ch.read_all().unwrap()).into_owned();
    assert!(text.contains("zero=-"), "{text:?}");
    assert_eq!(ch.recv_exit_status(Some(TIMEOUT)).unwrap(), Some(SshExit::Code(7)));

    // A shell without a pty reads its commands from the pipe.
    let mut c = d.ssh_cmd(&keys, &["-T"]);
    let out = run_bytes(&mut c, b"echo \"piped=$0\"\nexit 4\n".to_vec(), TIMEOUT);
    assert_eq!(out.code(), Some(4), "{}", out.stderr);
    assert!(out.text().starts_with("piped=-"), "{:?}", out.text());
}

fn echo_round_trip(addr: SocketAddr, len: usize, seed: u64) {
    let data = pattern(len, seed);
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut r = s.try_clone().unwrap();
    let sent = data.clone();
    let w = thread::spawn(move || {
        s.write_all(&sent).unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
    });
    let mut got = Vec::new();
    r.read_to_end(&mut got).unwrap();
    w.join().unwrap();
    assert_eq!(got.len(), data.len());
    assert!(sha256_hex(&got) == sha256_hex(&data), "forwarded bytes differ");
}

/// Reads an `ssh -N` child's stderr lines into a channel.
fn stderr_lines(guard: &mut ChildGuard) -> mpsc::Receiver<String> {
    let stderr = guard.child_mut().stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Connects to `addr` until it accepts (the forward is up), within the timeout.
fn wait_listening(addr: SocketAddr, guard: &mut ChildGuard) {
    let start = Instant::now();
    while TcpStream::connect(addr).is_err() {
        assert!(guard.try_wait().is_none(), "ssh exited before forwarding");
        assert!(start.elapsed() < TIMEOUT, "{addr} never listened");
        thread::sleep(Duration::from_millis(50));
    }
}

/// `ssh -N -L` and `ssh -N -R 0:…` with real TCP traffic to an echo server, checksummed;
/// the remote listener is on 127.0.0.1 even when every address is asked for.
#[test]
fn local_and_remote_forwarding() {
    require_peers!(Peer::SshKeygen, Peer::Ssh);
    let keys = Keys::new();
    let d = keys.start(&[]);
    let echo = EchoServer::start().unwrap();

    let local = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let spec = format!("127.0.0.1:{}:127.0.0.1:{}", local.port(), echo.addr().port());
    let mut c = d.ssh_cmd(&keys, &["-N", "-o", "ExitOnForwardFailure=yes", "-L", &spec]);
    let mut fwd = ChildGuard::new(c.stdin(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap(), "ssh -L");
    wait_listening(local, &mut fwd);
    let workers: Vec<_> = (0..3).map(|k| thread::spawn(move || echo_round_trip(local, 2 * MIB, 10 + k))).collect();
    for w in workers {
        w.join().unwrap();
    }
    drop(fwd);

    let spec = format!("0:127.0.0.1:{}", echo.addr().port());
    let mut c = d.ssh_cmd(&keys, &["-N", "-o", "ExitOnForwardFailure=yes", "-R", &spec]);
    let mut fwd = ChildGuard::new(c.stdin(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap(), "ssh -R");
    let lines = stderr_lines(&mut fwd);
    let port: u16 = loop {
        let line = lines.recv_timeout(TIMEOUT).expect("no `Allocated port` line from ssh -R");
        if let Some(rest) = line.strip_prefix("Allocated port ") {
            break rest.split_whitespace().next().unwrap().parse().unwrap();
        }
    };
    let remote: SocketAddr = ([127, 0, 0, 1], port).into();
    wait_listening(remote, &mut fwd);
    let workers: Vec<_> = (0..3).map(|k| thread::spawn(move || echo_round_trip(remote, 2 * MIB, 20 + k))).collect();
    for w in workers {
        w.join().unwrap();
    }
    drop(fwd);

    // `-R *:0:…` (every address) still listens on loopback only (GatewayPorts no).
    let spec = format!("*:0:127.0.0.1:{}", echo.addr().port());
    let mut c = d.ssh_cmd(&keys, &["-N", "-R", &spec]);
    let mut fwd = ChildGuard::new(c.stdin(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap(), "ssh -R *");
    let lines = stderr_lines(&mut fwd);
    let port: u16 = loop {
        let line = lines.recv_timeout(TIMEOUT).expect("no `Allocated port` line from ssh -R *");
        if let Some(rest) = line.strip_prefix("Allocated port ") {
            break rest.split_whitespace().next().unwrap().parse().unwrap();
        }
    };
    let listeners = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let hex_port = format!(":{port:04X} ");
    let ours: Vec<&str> = listeners
        .lines()
        .filter(|l| l.split_whitespace().nth(1).is_some_and(|a| a.ends_with(hex_port.trim())))
        .collect();
    assert!(!ours.is_empty(), "no listener on port {port}");
    assert!(ours.iter().all(|l| l.split_whitespace().nth(1).unwrap().starts_with("0100007F:")), "{ours:?}");
    echo_round_trip(([127, 0, 0, 1], port).into(), 64 * 1024, 30);
}

/// `ssh -A` with a real ssh-agent: inside the session `ssh-add -l` lists the key, a nested
/// login signs through the forwarded agent, and the socket's private directory is removed
/// when the session ends.
#[test]
fn agent_forwarding() {
    require_peers!(Peer::SshKeygen, Peer::Ssh, Peer::SshAgent, Peer::SshAdd);
    let keys = Keys::new();
    let tmp = tempfile::tempdir().unwrap();
    let mut args = keys.args();
    args.extend(["-b".to_owned(), "127.0.0.1".to_owned()]);
    let sock = keys.path("agent.sock");
    // The daemon's own agent never reaches a session.
    let d = Daemon::start(&args, &[("TMPDIR", tmp.path()), ("SSH_AUTH_SOCK", &sock)], &keys);
    let agent = Command::new("ssh-agent").args(["-D", "-a", s(&sock)]).stdout(Stdio::null()).spawn().unwrap();
    let _agent = ChildGuard::new(agent, "ssh-agent");
    let start = Instant::now();
    while !sock.exists() {
        assert!(start.elapsed() < TIMEOUT, "ssh-agent socket never appeared");
        thread::sleep(Duration::from_millis(20));
    }
    let add = run(Command::new("ssh-add").arg(&keys.id).env("SSH_AUTH_SOCK", &sock), TIMEOUT).unwrap();
    assert!(add.status.success(), "ssh-add: {}", add.stderr);
    let fp = run(Command::new("ssh-keygen").arg("-lf").arg(keys.id.with_extension("pub")), TIMEOUT).unwrap();
    let fingerprint = fp.stdout.split_whitespace().nth(1).unwrap().to_owned();
    assert!(fingerprint.starts_with("SHA256:"));

    let nested = format!(
        "ssh -F /dev/null -p {} -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR 127.0.0.1 echo nested-login",
        d.port()
    );
    let script = format!("echo \"$SSH_AUTH_SOCK\"; stat -c %a \"$(dirname \"$SSH_AUTH_SOCK\")\"; ssh-add -l; {nested}");
    let mut c = d.ssh_cmd(&keys, &["-A"]);
    c.env("SSH_AUTH_SOCK", &sock).arg(&script);
    let out = run_bytes(&mut c, Vec::new(), TIMEOUT);
    expect_ok(&out, "ssh -A");
    let text = out.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text:?} / {}", out.stderr);
    let remote_sock = Path::new(lines[0]);
    assert!(remote_sock.starts_with(tmp.path()), "{remote_sock:?} not under TMPDIR");
    assert_eq!(lines[1], "700");
    assert!(lines[2].contains(&fingerprint), "{:?} should list {fingerprint}", lines[2]);
    assert_eq!(lines[3], "nested-login");
    // The session is over: its directory is gone.
    let start = Instant::now();
    while remote_sock.parent().unwrap().exists() {
        assert!(start.elapsed() < Duration::from_secs(10), "{remote_sock:?} left behind");
        thread::sleep(Duration::from_millis(20));
    }
    // Without -A there is no socket.
    let mut c = d.ssh_cmd(&keys, &[]);
    c.env("SSH_AUTH_SOCK", &sock).arg("echo \"[$SSH_AUTH_SOCK]\"");
    let out = run_bytes(&mut c, Vec::new(), TIMEOUT);
    assert_eq!(out.text(), "[]\n");
}

/// Password and keyboard-interactive logins (OpenSSH through SSH_ASKPASS, and our client);
/// a wrong password or another user's password is refused.
#[test]
fn password_authentication() {
    require_peers!(Peer::SshKeygen, Peer::Ssh);
    let keys = Keys::new();
    let d = keys.start(&["--password", "alice:correct horse", "--password", "bob:battery"]);
    let askpass = |password: &str| {
        let p = keys.path(&format!("askpass-{}", sha256_hex(password.as_bytes())));
        std::fs::write(&p, format!("#!/bin/sh\nprintf '%s\\n' '{password}'\n")).unwrap();
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        p
    };
    let login = |user: &str, password: &str, method: &str| {
        let mut c = Command::new("ssh");
        c.args(["-F", "/dev/null", "-p", &d.port(), "-o", "PubkeyAuthentication=no"]);
        c.args(["-o", "StrictHostKeyChecking=yes", "-o", &format!("UserKnownHostsFile={}", s(&d.known_hosts))]);
        c.args(["-o", &format!("PreferredAuthentications={method}"), "-o", "NumberOfPasswordPrompts=1"]);
        c.arg(format!("{user}@127.0.0.1")).arg("echo logged-in");
        c.env("SSH_ASKPASS", askpass(password)).env("SSH_ASKPASS_REQUIRE", "force").env_remove("DISPLAY");
        c.env_remove("SSH_AUTH_SOCK");
        run_bytes(&mut c, Vec::new(), TIMEOUT)
    };
    for method in ["password", "keyboard-interactive"] {
        let out = login("alice", "correct horse", method);
        expect_ok(&out, method);
        assert_eq!(out.text(), "logged-in\n");
        for (user, password) in [("alice", "wrong"), ("alice", "battery"), ("carol", "battery")] {
            let out = login(user, password, method);
            assert_eq!(out.code(), Some(255), "{method} {user}/{password}");
            assert!(out.stderr.contains("Permission denied"), "{method}: {}", out.stderr);
            assert!(out.stdout.is_empty());
        }
    }
    let mut o = ConnectOptions::new("127.0.0.1", d.addr.port(), "bob");
    o.known_hosts = Some(keys.path("kh_password"));
    o.policy = UnknownHostPolicy::AutoAdd;
    o.password = Some("battery".into());
    let c = Client::connect(&o).unwrap();
    let mut run = c.exec_command("echo hi").unwrap();
    assert_eq!(run.stdout.read_all().unwrap(), b"hi\n");
    c.close();
    o.password = Some("nope".into());
    assert!(matches!(Client::connect(&o), Err(ssh_blocking::Error::AuthFailed { .. })));
    // The server lists the methods it can accept.
    o.password = None;
    match Client::connect(&o) {
        Err(ssh_blocking::Error::AuthFailed { allowed }) => {
            assert_eq!(allowed, ["publickey", "keyboard-interactive", "password"]);
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
}

/// Counts `SSH2_MSG_NEWKEYS received` in `ssh -v` output: one per key exchange.
fn key_exchanges(stderr: &str) -> usize {
    stderr.matches("SSH2_MSG_NEWKEYS received").count()
}

/// -o Ciphers / MACs / KexAlgorithms / Compression / RekeyLimit shape what is negotiated: a
/// client insisting on something else fails, and a small RekeyLimit rekeys during a transfer
/// that arrives intact.
#[test]
fn algorithm_options() {
    require_peers!(Peer::SshKeygen, Peer::Ssh);
    let keys = Keys::new();

    let d = keys.start(&["-o", "Ciphers=chacha20-poly1305@openssh.com"]);
    let out = d.ssh(&keys, &["-c", "aes128-ctr"], "true", Vec::new());
    assert_eq!(out.code(), Some(255));
    assert!(out.stderr.contains("no matching cipher found"), "{}", out.stderr);
    let out = d.ssh(&keys, &["-v", "-c", "chacha20-poly1305@openssh.com"], "echo ok", Vec::new());
    expect_ok(&out, "chacha20");
    assert!(out.stderr.contains("cipher: chacha20-poly1305@openssh.com"), "{}", out.stderr);
    drop(d);

    // `-` removes from the default list.
    let d = keys.start(&["-o", "Ciphers=-chacha20-poly1305@openssh.com"]);
    let out = d.ssh(&keys, &["-c", "chacha20-poly1305@openssh.com"], "true", Vec::new());
    assert_eq!(out.code(), Some(255), "{}", out.stderr);
    assert!(out.stderr.contains("no matching cipher found"), "{}", out.stderr);
    expect_ok(&d.ssh(&keys, &["-c", "aes256-gcm@openssh.com"], "true", Vec::new()), "aes256-gcm");
    drop(d);

    let d = keys.start(&[
        "-o",
        "Ciphers=aes128-ctr",
        "-o",
        "MACs=hmac-sha2-256-etm@openssh.com",
        "-o",
        "KexAlgorithms=curve25519-sha256",
        "-o",
        "Compression=yes",
    ]);
    let out = d.ssh(&keys, &["-m", "hmac-sha2-512"], "true", Vec::new());
    assert!(out.code() == Some(255) && out.stderr.contains("no matching MAC found"), "{}", out.stderr);
    let out = d.ssh(&keys, &["-o", "KexAlgorithms=ecdh-sha2-nistp256"], "true", Vec::new());
    assert!(out.code() == Some(255) && out.stderr.contains("no matching key exchange method"), "{}", out.stderr);
    let out = d.ssh(&keys, &["-v", "-C"], "echo ok", Vec::new());
    expect_ok(&out, "negotiated");
    assert!(out.stderr.contains("kex: algorithm: curve25519-sha256"), "{}", out.stderr);
    assert!(
        out.stderr.contains("cipher: aes128-ctr MAC: hmac-sha2-256-etm@openssh.com compression: zlib@openssh.com"),
        "{}",
        out.stderr
    );
    drop(d);

    let d = keys.start(&["-o", "RekeyLimit=1M"]);
    // Sequence numbers matter for chacha20-poly1305's nonce and for every MAC: both must
    // survive rekeys under strict kex.
    for flags in [&["-v"][..], &["-v", "-c", "aes128-ctr", "-m", "hmac-sha2-256"][..]] {
        let data = pattern(6 * MIB, 3);
        let out = d.ssh(&keys, flags, "cat", data.clone());
        expect_ok(&out, "rekeying cat");
        assert!(out.stdout == data, "{flags:?}: data changed across rekeys");
        let n = key_exchanges(&out.stderr);
        // The initial exchange and at least one rekey per ~1.5 MiB each way.
        assert!(n >= 5, "{flags:?}: {n} key exchanges for 6 MiB each way with RekeyLimit=1M");
    }
    // Without the limit: one.
    let out = d.ssh(&keys, &["-v"], "true", Vec::new());
    assert_eq!(key_exchanges(&out.stderr), 1);
}

/// SIGTERM: exits 0 promptly, the listening socket is closed, running commands are hung up,
/// agent directories are removed; the client sees its connection end.
#[test]
fn sigterm_exits_cleanly() {
    require_peers!(Peer::SshKeygen, Peer::Ssh, Peer::SshAgent);
    let keys = Keys::new();
    let tmp = tempfile::tempdir().unwrap();
    let mut d = Daemon::start(&keys.args(), &[("TMPDIR", tmp.path())], &keys);
    let sock = keys.path("agent.sock");
    let agent = Command::new("ssh-agent").args(["-D", "-a", s(&sock)]).stdout(Stdio::null()).spawn().unwrap();
    let _agent = ChildGuard::new(agent, "ssh-agent");
    let start = Instant::now();
    while !sock.exists() {
        assert!(start.elapsed() < TIMEOUT, "ssh-agent socket never appeared");
        thread::sleep(Duration::from_millis(20));
    }
    let mut c = d.ssh_cmd(&keys, &["-A"]);
    c.env("SSH_AUTH_SOCK", &sock).arg("echo $$ $SSH_AUTH_SOCK; sleep 60; echo not-reached");
    let mut session = ChildGuard::new(c.stdin(Stdio::null()).stdout(Stdio::piped()).spawn().unwrap(), "ssh sleep");
    let mut first = String::new();
    BufReader::new(session.child_mut().stdout.take().unwrap()).read_line(&mut first).unwrap();
    let mut words = first.split_whitespace();
    let pid: i32 = words.next().unwrap().parse().unwrap();
    let remote_sock = PathBuf::from(words.next().unwrap());
    assert!(remote_sock.exists(), "{remote_sock:?}");
    assert!(Path::new(&format!("/proc/{pid}")).exists());

    let t = Instant::now();
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(d.guard.id() as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let status = loop {
        if let Some(st) = d.guard.try_wait() {
            break st;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "still running 10 s after SIGTERM");
        thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(0), "stderr: {}", d.stderr());
    assert!(t.elapsed() < Duration::from_secs(5), "took {:?}", t.elapsed());
    assert!(TcpStream::connect(d.addr).is_err(), "still accepting");
    assert!(!remote_sock.exists() && std::fs::read_dir(tmp.path()).unwrap().next().is_none(), "temp files left");
    // The command's process group (sh and the sleep it forked) was hung up, and the
    // client's connection ended.
    let start = Instant::now();
    loop {
        let left = live_in_group(pid);
        if left.is_empty() {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "processes of group {pid} survived: {left:?}");
        thread::sleep(Duration::from_millis(20));
    }
    let start = Instant::now();
    while session.try_wait().is_none() {
        assert!(start.elapsed() < Duration::from_secs(10), "ssh did not notice");
        thread::sleep(Duration::from_millis(20));
    }
}

/// Processes (not zombies) whose process group is `pgrp`.
fn live_in_group(pgrp: i32) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // pid (comm) state ppid pgrp …; comm may hold spaces, so split after the last ')'.
        let Some((_, rest)) = stat.rsplit_once(')') else { continue };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.len() > 2 && fields[0] != "Z" && fields[2] == pgrp.to_string() {
            found.push(pid);
        }
    }
    found
}

/// Our client's `signal` reaches the command: `sleep 30` ends by TERM (INT, HUP) at once.
#[test]
fn client_signal_reaches_the_command() {
    require_peers!(Peer::SshKeygen);
    let keys = Keys::new();
    let d = keys.start(&[]);
    let c = d.client(&keys);
    // `sh -c 'sleep 30'` forks sleep (dash does not exec it): the signal reaches both.
    for (signal, command) in [("TERM", "sleep 30"), ("INT", "exec sleep 30"), ("HUP", "sleep 30; echo not-reached")] {
        let run = c.exec_command(command).unwrap();
        let t = Instant::now();
        run.stdout.signal(signal).unwrap();
        let status = run.stdout.recv_exit_status(Some(Duration::from_secs(20))).unwrap();
        assert!(matches!(&status, Some(SshExit::Signal { name, .. }) if name == signal), "{signal}: {status:?}");
        assert!(t.elapsed() < Duration::from_secs(5), "{signal} took {:?}", t.elapsed());
    }
    // A shell that traps the signal decides for itself.
    let run = c.exec_command("trap 'echo got-term; exit 42' TERM; while :; do sleep 0.05; done").unwrap();
    thread::sleep(Duration::from_millis(300));
    run.stdout.signal("TERM").unwrap();
    let mut out = run.stdout;
    assert_eq!(out.read_all().unwrap(), b"got-term\n");
    assert_eq!(out.recv_exit_status(Some(TIMEOUT)).unwrap(), Some(SshExit::Code(42)));
}

/// The sftp subsystem runs OpenSSH's sftp-server: a file goes up and comes back unchanged.
#[test]
fn sftp_subsystem() {
    require_peers!(Peer::SshKeygen, Peer::Ssh);
    let server = ["/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server", "/usr/libexec/sftp-server"];
    if !server.iter().any(|p| Path::new(p).is_file()) {
        assert!(!test_support::interop_required(), "SSH_INTEROP=require, but no sftp-server is installed");
        eprintln!("SKIPPED: sftp_subsystem: no OpenSSH sftp-server installed");
        return;
    }
    let keys = Keys::new();
    let d = keys.start(&[]);
    let data = pattern(3 * MIB, 4);
    let up = keys.path("up.bin");
    std::fs::write(&up, &data).unwrap();
    let remote = keys.path("remote.bin");
    let back = keys.path("back.bin");
    let batch = keys.path("batch");
    std::fs::write(&batch, format!("put {} {}\nget {} {}\n", s(&up), s(&remote), s(&remote), s(&back))).unwrap();
    let mut c = Command::new("sftp");
    c.args(["-F", "/dev/null", "-P", &d.port(), "-i", s(&keys.id), "-b", s(&batch)]);
    c.args(["-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"]);
    c.args(["-o", &format!("UserKnownHostsFile={}", s(&d.known_hosts))]);
    c.arg("tester@127.0.0.1");
    let out = run_bytes(&mut c, Vec::new(), TIMEOUT);
    assert_eq!(out.code(), Some(0), "sftp: {}", out.stderr);
    assert!(std::fs::read(&back).unwrap() == data, "sftp round trip changed the file");
    assert!(std::fs::read(&remote).unwrap() == data);
}

/// Only -a keys log in (any user name); a key not listed is refused.
#[test]
fn authorized_keys_decide_publickey_logins() {
    require_peers!(Peer::SshKeygen, Peer::Ssh);
    let keys = Keys::new();
    let d = keys.start(&[]);
    for user in ["tester", "root", "someone-else"] {
        let mut c = d.ssh_cmd(&keys, &["-l", user]);
        c.arg("echo in");
        let out = run_bytes(&mut c, Vec::new(), TIMEOUT);
        expect_ok(&out, user);
    }
    let other = keys.path("other_id");
    keygen(&other, &["-t", "ed25519"]);
    let mut c = Command::new("ssh");
    c.args(["-F", "/dev/null", "-p", &d.port(), "-i", s(&other), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"]);
    c.args(["-o", "StrictHostKeyChecking=yes", "-o", &format!("UserKnownHostsFile={}", s(&d.known_hosts))]);
    c.args(["tester@127.0.0.1", "echo in"]).env_remove("SSH_AUTH_SOCK");
    let out = run_bytes(&mut c, Vec::new(), TIMEOUT);
    assert_eq!(out.code(), Some(255));
    assert!(out.stderr.contains("Permission denied (publickey)"), "{}", out.stderr);
    // The file is read at each attempt: adding the key lets it in.
    let mut text = std::fs::read_to_string(&keys.authorized_keys).unwrap();
    text.push_str(&std::fs::read_to_string(other.with_extension("pub")).unwrap());
    std::fs::write(&keys.authorized_keys, text).unwrap();
    let out = run_bytes(&mut c, Vec::new(), TIMEOUT);
    expect_ok(&out, "newly authorized key");
}
