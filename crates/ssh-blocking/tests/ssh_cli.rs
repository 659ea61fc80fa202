//! The CLI contract of `examples/ssh.rs`: OpenSSH's client flags and behaviour. `-G`
//! output is compared with the real `ssh -G`; sessions run against OpenSSH's sshd (and,
//! for passwords, our server), checking streams, exit codes, forwarding and errors.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ssh_blocking::ssh_proto::keys::file::{PrivateKeyFormat, encode_private_key};
use ssh_blocking::ssh_proto::{HostKey, KeyPair, SeededRng, server};
use ssh_blocking::{AuthDecision, Server, ServerHandler, ServerSession};
use test_support::process::{ChildGuard, Finished, run, run_with_input};
use test_support::{EchoServer, Peer, Sshd, SshdOptions, pattern, require_peers};

/// The example under test: ssh-blocking's `ssh`, or ssh-tokio's `ssh-tokio` when
/// ssh-tokio's tests include this file (both keep the same contract).
const EXAMPLE: &str = match env!("CARGO_PKG_NAME").as_bytes() {
    b"ssh-tokio" => "ssh-tokio",
    _ => "ssh",
};

/// `target/<profile>/examples/ssh` (or `ssh-tokio`), built by `cargo test` with the examples.
fn ssh_example() -> PathBuf {
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

fn current_user() -> String {
    run(Command::new("id").arg("-un"), Duration::from_secs(10)).expect("id -un").stdout.trim().to_owned()
}

fn key_file(dir: &Path, key: &KeyPair) -> PathBuf {
    let path = dir.join("id_test");
    let text = encode_private_key(key.private_key(), PrivateKeyFormat::OpenSsh, None, &mut SeededRng::new(3)).unwrap();
    std::fs::write(&path, text.as_bytes()).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    path
}

/// An sshd with a user key authorized, and the arguments that log in to it.
struct Target {
    sshd: Sshd,
    dir: tempfile::TempDir,
    key: PathBuf,
}

impl Target {
    fn start(extra: &[&str]) -> Self {
        let sshd = Sshd::start_with(SshdOptions {
            extra_config: extra.iter().map(|s| (*s).to_owned()).collect(),
            ..Default::default()
        })
        .unwrap();
        let key = KeyPair::generate_ed25519(&mut SeededRng::new(17));
        sshd.authorize_key(&key.public_key().to_openssh().unwrap()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let key = key_file(dir.path(), &key);
        Self { sshd, dir, key }
    }

    /// `-F none -p PORT -i KEY` and a temporary known_hosts with accept-new, batch mode.
    fn args(&self) -> Vec<String> {
        [
            "-F",
            "none",
            "-p",
            &self.sshd.port().to_string(),
            "-i",
            self.key.to_str().unwrap(),
            "-o",
            &format!("UserKnownHostsFile={}", self.dir.path().join("known_hosts").display()),
            "-o",
            "StrictHostKeyChecking=accept-new",
            "-o",
            "BatchMode=yes",
            "-l",
            &current_user(),
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
    }

    fn run(&self, extra: &[&str], input: &[u8]) -> Finished {
        let mut cmd = Command::new(ssh_example());
        cmd.args(self.args()).args(extra);
        run_with_input(&mut cmd, input, Duration::from_secs(120)).unwrap()
    }
}

#[test]
fn dash_g_matches_openssh() {
    require_peers!(Peer::Ssh);
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k1");
    std::fs::write(&key, "").unwrap();
    let key = key.to_str().unwrap().to_owned();
    let cases: Vec<Vec<&str>> = vec![
        vec!["-F", "none", "-p", "2222", "-l", "bob", "-o", "Ciphers=aes128-ctr", "-C", "-A", "host"],
        vec!["-F", "none", "-L", "8080:localhost:80", "-L", "[::1]:9000:[::1]:90", "-R", "0:127.0.0.1:22", "h"],
        vec!["-F", "none", "-o", "Port=3", "-p", "4", "-oUser=first", "alice@h"],
        vec!["-F", "none", "ssh://carol@h2:2022"],
        vec!["-F", "none", "-J", "me@j1:22,j2", "-c", "aes256-ctr", "-m", "hmac-sha2-256", "h3"],
        vec!["-F", "none", "-o", "SetEnv=A=1", "-o", "SendEnv=LC_*", "-o", "ServerAliveInterval=9", "h4"],
        vec!["-F", "none", "-tt", "-N", "-v", "-i", &key, "-i", "/nonexistent/key", "h5"],
        vec!["-F", "none", "-T", "-t", "-n", "-o", "RekeyLimit=1G 10m", "-o", "ConnectTimeout=4", "h6"],
        vec!["-F", "none", "-o", "RequestTTY=force", "-T", "-o", "PreferredAuthentications=password", "h7"],
        vec!["-Fnone", "-p22", "-vv", "-o", "ProxyCommand=nc %h %p", "-o", "PasswordAuthentication=no", "h8"],
    ];
    for args in &cases {
        let theirs =
            run(Command::new("ssh").arg("-G").args(args).stdin(Stdio::null()), Duration::from_secs(20)).unwrap();
        let ours = run(Command::new(ssh_example()).arg("-G").args(args).stdin(Stdio::null()), Duration::from_secs(20))
            .unwrap();
        assert!(theirs.status.success() && ours.status.success(), "{args:?}: {} / {}", theirs.stderr, ours.stderr);
        let (a, b): (Vec<&str>, Vec<&str>) = (theirs.stdout.lines().collect(), ours.stdout.lines().collect());
        let missing: Vec<_> = a.iter().filter(|l| !b.contains(l)).collect();
        let extra: Vec<_> = b.iter().filter(|l| !a.contains(l)).collect();
        assert!(a == b, "ssh -G {args:?}: - openssh {missing:?} + ours {extra:?}");
    }
    // Refused the way ssh refuses them: exit 255, a message naming the problem.
    for bad in [&["-o", "Frobnicate=yes", "h"][..], &["-p"], &["-Q", "h"], &["-F", "none"]] {
        let ours =
            run(Command::new(ssh_example()).arg("-G").args(bad).stdin(Stdio::null()), Duration::from_secs(20)).unwrap();
        assert_eq!(ours.status.code(), Some(255), "{bad:?}");
        assert!(!ours.stderr.trim().is_empty(), "{bad:?}");
    }
}

#[test]
fn exec_streams_and_exit_codes_against_sshd() {
    require_peers!(Peer::Sshd);
    let t = Target::start(&["AcceptEnv SSHRS_*"]);
    let out = t.run(&["127.0.0.1", "printf out; printf err >&2; exit 3"], b"");
    assert_eq!(out.status.code(), Some(3), "{}", out.stderr);
    assert_eq!(out.stdout, "out");
    assert!(out.stderr.contains("err"), "{}", out.stderr);

    // The command's words are joined as ssh joins them.
    let out = t.run(&["127.0.0.1", "echo", "a", "b"], b"");
    assert_eq!((out.status.code(), out.stdout.as_str()), (Some(0), "a b\n"));

    // stdin streams to the command: 8 MiB through cat, and a checksum on the far side.
    let data: Vec<u8> = (0..8u32 << 20).map(|i| b'a' + (i % 23) as u8).collect();
    let out = t.run(&["-o", "RekeyLimit=1M", "127.0.0.1", "cat"], &data);
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    assert!(out.stdout.as_bytes() == data, "cat returned {} of {} bytes", out.stdout.len(), data.len());
    let out = t.run(&["127.0.0.1", "wc -c"], &data);
    assert_eq!(out.stdout.trim(), data.len().to_string());

    // SetEnv and SendEnv (sshd accepts SSHRS_*).
    let mut cmd = Command::new(ssh_example());
    cmd.args(t.args()).args([
        "-o",
        "SetEnv=SSHRS_A=set",
        "-o",
        "SendEnv=SSHRS_B",
        "127.0.0.1",
        "echo $SSHRS_A $SSHRS_B",
    ]);
    cmd.env("SSHRS_B", "sent");
    let out = run(&mut cmd, Duration::from_secs(60)).unwrap();
    assert_eq!(out.stdout, "set sent\n", "{}", out.stderr);

    // -tt: a pty although stdin is no terminal; -T and plain exec: none.
    let out = t.run(&["-tt", "127.0.0.1", "tty"], b"");
    assert!(out.stdout.starts_with("/dev/pts/"), "{:?} {}", out.stdout, out.stderr);
    let out = t.run(&["-T", "127.0.0.1", "tty"], b"");
    assert_eq!(out.stdout.trim(), "not a tty");
    // -t alone without a terminal: no pty, and ssh's notice.
    let out = t.run(&["-t", "127.0.0.1", "tty"], b"");
    assert!(out.stderr.contains("Pseudo-terminal will not be allocated"), "{}", out.stderr);

    // -J through the same sshd.
    let jump = format!("{}@127.0.0.1:{}", current_user(), t.sshd.port());
    let out = t.run(&["-J", &jump, "127.0.0.1", "echo jumped"], b"");
    assert_eq!(out.stdout, "jumped\n", "{}", out.stderr);
}

#[test]
fn failures_exit_255_with_one_line() {
    require_peers!(Peer::Sshd);
    let t = Target::start(&[]);
    let started = Instant::now();
    // A closed port.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut cmd = Command::new(ssh_example());
    cmd.args(["-F", "none", "-o", "BatchMode=yes", "-p", &free.to_string(), "127.0.0.1", "true"]);
    let out = run(&mut cmd, Duration::from_secs(30)).unwrap();
    assert_eq!(out.status.code(), Some(255));
    assert!(out.stderr.contains(&format!("connect to host 127.0.0.1 port {free}")), "{}", out.stderr);
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);

    // A key the server does not know: the allowed methods are named.
    let other = KeyPair::generate_ed25519(&mut SeededRng::new(4));
    let stranger = tempfile::tempdir().unwrap();
    let other_key = key_file(stranger.path(), &other);
    let mut args = t.args();
    let i = args.iter().position(|a| a == "-i").unwrap();
    args[i + 1] = other_key.to_string_lossy().into_owned();
    let out =
        run(Command::new(ssh_example()).args(&args).args(["127.0.0.1", "true"]), Duration::from_secs(30)).unwrap();
    assert_eq!(out.status.code(), Some(255));
    assert!(out.stderr.contains("Permission denied (publickey"), "{}", out.stderr);

    // A changed host key under StrictHostKeyChecking=yes: refused, known_hosts untouched.
    let kh = t.dir.path().join("known_hosts");
    let forged = format!("[127.0.0.1]:{} {}\n", t.sshd.port(), other.public_key().to_openssh().unwrap());
    std::fs::write(&kh, &forged).unwrap();
    let out = t.run(&["-o", "StrictHostKeyChecking=yes", "127.0.0.1", "true"], b"");
    assert_eq!(out.status.code(), Some(255));
    assert!(out.stderr.contains("Host key verification failed."), "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&kh).unwrap(), forged);
    std::fs::remove_file(&kh).unwrap();

    // A remote command killed by a signal: 255, as ssh.
    let out = t.run(&["127.0.0.1", "kill -TERM $$"], b"");
    assert_eq!(out.status.code(), Some(255), "{}", out.stderr);
    assert!(started.elapsed() < Duration::from_secs(60));
}

/// Runs the example with `-N` (or a long command) in the background, returning it and a
/// reader of its stderr lines.
fn spawn(t: &Target, extra: &[&str]) -> (ChildGuard, std::sync::mpsc::Receiver<String>) {
    let mut cmd = Command::new(ssh_example());
    cmd.args(t.args()).args(extra).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let err = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (ChildGuard::new(child, "ssh example"), rx)
}

fn round_trip(port: u16, len: usize) {
    let data: Vec<u8> = pattern(len, 1);
    let got = test_support::round_trip(([127, 0, 0, 1], port).into(), &data).unwrap();
    assert!(got == data, "{} of {} bytes came back", got.len(), data.len());
}

#[test]
fn forwarding_and_agent_against_sshd() {
    require_peers!(Peer::Sshd, Peer::SshAgent, Peer::SshAdd);
    let t = Target::start(&[]);
    let echo = EchoServer::start().unwrap();

    // -N -L to a port picked here.
    let local = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let spec = format!("{local}:127.0.0.1:{}", echo.addr().port());
    let (guard, _err) = spawn(&t, &["-N", "-L", &spec, "127.0.0.1"]);
    round_trip(local, 4 << 20);
    drop(guard);

    // -N -R 0:…: the allocated port is announced on stderr, and sshd listens on it.
    let spec = format!("0:127.0.0.1:{}", echo.addr().port());
    let (guard, err) = spawn(&t, &["-N", "-R", &spec, "127.0.0.1"]);
    let line = err.recv_timeout(Duration::from_secs(30)).expect("an 'Allocated port' line");
    let port: u16 = line
        .strip_prefix("Allocated port ")
        .and_then(|r| r.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected stderr line {line:?}"));
    round_trip(port, 4 << 20);
    drop(guard);

    // -A with a real agent: the remote ssh-add lists its key.
    let agent = test_support::SshAgent::start(t.dir.path()).unwrap();
    agent.add(&t.key).unwrap();
    let sock = agent.socket().to_owned();
    let mut cmd = Command::new(ssh_example());
    cmd.args(t.args()).args(["-A", "127.0.0.1", "ssh-add -l"]).env("SSH_AUTH_SOCK", &sock);
    let out = run(&mut cmd, Duration::from_secs(60)).unwrap();
    assert_eq!(out.status.code(), Some(0), "{} {}", out.stdout, out.stderr);
    assert!(out.stdout.contains("ED25519"), "{}", out.stdout);
}

/// A server that only takes a password, for the prompt paths.
struct PasswordOnly;

impl ServerHandler for PasswordOnly {
    fn check_auth_password(&self, user: &str, password: &str) -> AuthDecision {
        if user == "pat" && password == "correct horse" { AuthDecision::Accept } else { AuthDecision::Reject }
    }
    fn check_exec_request(&self, _command: &[u8]) -> bool {
        true
    }
    fn exec(&self, session: &mut ServerSession, command: &[u8]) -> ssh_blocking::ssh_proto::connection::ExitStatus {
        let _ = session.channel.write_all(command);
        ssh_blocking::ssh_proto::connection::ExitStatus::Code(0)
    }
}

#[test]
fn password_from_ssh_askpass() {
    let host = HostKey::generate_ed25519(&mut SeededRng::new(8));
    let server = Server::bind("127.0.0.1:0", server::Config::new(vec![host]), PasswordOnly).unwrap();
    let port = server.local_addr().unwrap().port();
    let stop = server.stop_handle().unwrap();
    let serving = std::thread::spawn(move || server.serve());
    let dir = tempfile::tempdir().unwrap();
    let askpass = dir.path().join("askpass");
    std::fs::write(&askpass, "#!/bin/sh\necho \"$1\" >> \"$(dirname \"$0\")/asked\"\necho 'correct horse'\n").unwrap();
    std::fs::set_permissions(&askpass, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let base = |extra: &[&str]| {
        let mut cmd = Command::new(ssh_example());
        cmd.args(["-F", "none", "-p", &port.to_string(), "-o", "StrictHostKeyChecking=no"]);
        cmd.arg("-o").arg(format!("UserKnownHostsFile={}", dir.path().join("kh").display()));
        cmd.args(extra).env("SSH_ASKPASS", &askpass).env("SSH_ASKPASS_REQUIRE", "force").env_remove("SSH_AUTH_SOCK");
        cmd
    };
    let out = run(&mut base(&["pat@127.0.0.1", "hello"]), Duration::from_secs(60)).unwrap();
    assert_eq!((out.status.code(), out.stdout.as_str()), (Some(0), "hello"), "{}", out.stderr);
    let asked = std::fs::read_to_string(dir.path().join("asked")).unwrap();
    assert_eq!(asked, "pat@127.0.0.1's password: \n");
    // BatchMode asks nothing and fails, naming what the server allows; so does a wrong user.
    let out = run(&mut base(&["-o", "BatchMode=yes", "pat@127.0.0.1", "hello"]), Duration::from_secs(60)).unwrap();
    assert_eq!(out.status.code(), Some(255));
    assert!(
        out.stderr.starts_with("pat@127.0.0.1: Permission denied (") && out.stderr.contains("password"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read_to_string(dir.path().join("asked")).unwrap().lines().count(), 1, "BatchMode asked");
    let out = run(&mut base(&["mallory@127.0.0.1", "hello"]), Duration::from_secs(60)).unwrap();
    assert_eq!(out.status.code(), Some(255), "{}", out.stderr);
    stop.stop();
    let _ = serving.join();
}
