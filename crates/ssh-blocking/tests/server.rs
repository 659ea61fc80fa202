//! The blocking server: our client and OpenSSH's `ssh` against it, exec with stdin/stdout/
//! stderr/exit status, a handler that panics ending only its own connection.

mod common;

use std::io::{Read, Write};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use ssh_blocking::ssh_proto::auth::AuthMethod;
use ssh_blocking::ssh_proto::connection::{ExitStatus, GlobalReply, GlobalRequest};
use ssh_blocking::ssh_proto::{HostKey, KeyPair, SeededRng, server};
use ssh_blocking::{AuthDecision, Client, ConnectOptions, Server, ServerHandler, ServerSession, UnknownHostPolicy};
use test_support::process::run_with_input;
use test_support::{Peer, pattern, require_peers};

struct Handler {
    user_key: ssh_blocking::ssh_proto::ssh_key::PublicKey,
}

impl ServerHandler for Handler {
    fn check_x11_request(&self, x11: &ssh_blocking::X11Forwarding) -> bool {
        x11.auth_protocol == "MIT-MAGIC-COOKIE-1"
    }
    fn global_request(&self, request: &GlobalRequest) -> GlobalReply {
        match request {
            GlobalRequest::Other { name, data } if name == "echo@example.com" => {
                GlobalReply::Success { bound_port: None, data: data.clone() }
            }
            _ => GlobalReply::Failure,
        }
    }
    fn get_allowed_auths(&self, user: &str) -> Option<Vec<AuthMethod>> {
        match user {
            "alice" => Some(vec![AuthMethod::PublicKey]),
            "bob" => Some(vec![AuthMethod::Password]),
            _ => None,
        }
    }
    fn check_auth_publickey(&self, user: &str, key: &ssh_blocking::ssh_proto::ssh_key::PublicKey) -> AuthDecision {
        if user == "alice" && key.key_data() == self.user_key.key_data() {
            AuthDecision::Accept
        } else {
            AuthDecision::Reject
        }
    }
    fn check_auth_password(&self, user: &str, password: &str) -> AuthDecision {
        // alice's password would do, but her methods leave password out.
        let ok = matches!((user, password), ("bob", "hunter22") | ("alice", "alice-pw"));
        if ok { AuthDecision::Accept } else { AuthDecision::Reject }
    }
    fn check_auth_interactive(&self, user: &str, _submethods: &[String]) -> ssh_blocking::Interactive {
        use ssh_blocking::ssh_proto::auth::{InfoRequest, Prompt};
        if user != "carol" {
            return ssh_blocking::Interactive::Decide(AuthDecision::Reject);
        }
        ssh_blocking::Interactive::Prompts(InfoRequest {
            name: "two questions".into(),
            instruction: String::new(),
            prompts: vec![
                Prompt { text: "Password: ".into(), echo: false },
                Prompt { text: "Code: ".into(), echo: true },
            ],
        })
    }
    fn check_auth_interactive_response(&self, _user: &str, answers: &[&str]) -> ssh_blocking::Interactive {
        let ok = answers == ["pw", "1234"];
        ssh_blocking::Interactive::Decide(if ok { AuthDecision::Accept } else { AuthDecision::Reject })
    }
    fn check_exec_request(&self, _command: &[u8]) -> bool {
        true
    }
    fn check_channel_request(&self, kind: &ssh_blocking::ssh_proto::connection::ChannelKind) -> bool {
        use ssh_blocking::ssh_proto::connection::ChannelKind;
        match kind {
            ChannelKind::Session => true,
            ChannelKind::DirectTcpip { host, .. } => host == "127.0.0.1",
            _ => false,
        }
    }
    /// `cat`: echo stdin; `fail`: stderr and exit 9; `panic`: the handler panics.
    fn check_port_forward_request(&self, address: &str, port: u16) -> Option<std::net::SocketAddr> {
        (address == "127.0.0.1").then(|| (std::net::Ipv4Addr::LOCALHOST, port).into())
    }
    fn check_env_request(&self, name: &str, _value: &str) -> bool {
        name.starts_with("LC_")
    }
    fn check_pty_request(&self, pty: &ssh_blocking::ssh_proto::connection::PtyRequest) -> bool {
        pty.term != "refuse-me"
    }
    fn check_agent_forward_request(&self) -> bool {
        true
    }
    fn exec(&self, session: &mut ServerSession, command: &[u8]) -> ExitStatus {
        // `setup`: what the client set up before the command; `controls`: report each
        // window change until a signal ends the command.
        match command {
            b"setup" => {
                let pty = session.pty.as_ref().map(|p| format!("{} {}x{}", p.term, p.cols, p.rows));
                let line = format!("env={:?} pty={pty:?} agent={}\n", session.env, session.agent_forwarding);
                let _ = session.channel.write_all(line.as_bytes());
                return ExitStatus::Code(0);
            }
            b"controls" => {
                let _ = session.channel.write_all(b"ready\n");
                while let Some(control) = session.control_timeout(Duration::from_secs(20)) {
                    match control {
                        ssh_blocking::SessionControl::WindowChange { cols, rows, .. } => {
                            let _ = session.channel.write_all(format!("resize {cols}x{rows}\n").as_bytes());
                        }
                        ssh_blocking::SessionControl::Signal(name) => {
                            return ExitStatus::Signal { name, core_dumped: false, message: String::new() };
                        }
                        ssh_blocking::SessionControl::Break(_) => {}
                    }
                }
                return ExitStatus::Code(1);
            }
            b"stall" => {
                // Reads nothing until the client closes: its writes fill the window.
                let _ = session.channel.recv_exit_status(Some(Duration::from_secs(20)));
                return ExitStatus::Code(0);
            }
            b"x11" => return common::serve_one_x11_client(session),
            b"agent" => {
                // One identities request through the client's agent: print how many keys.
                let mut agent = match session.open_agent_channel() {
                    Ok(a) => a,
                    Err(e) => {
                        let _ = session.channel.write_stderr(e.to_string().as_bytes());
                        return ExitStatus::Code(2);
                    }
                };
                let _ = agent.write_all(&[0, 0, 0, 1, 11]);
                let mut head = [0u8; 9];
                let _ = agent.read_exact(&mut head);
                let count = u32::from_be_bytes([head[5], head[6], head[7], head[8]]);
                let _ = session.channel.write_all(format!("type {} keys {count}\n", head[4]).as_bytes());
                return ExitStatus::Code(0);
            }
            _ => {}
        }
        if let Some(mode) = command.strip_prefix(b"sink") {
            return sink_input(session, mode);
        }
        if command == b"echo-to-stderr" {
            // Client input back on stderr from a thread of its own (Reader, Stderr as a
            // writer) while this thread writes 4 MiB of stdout.
            let (mut from, mut to) = (session.channel.reader(), session.channel.stderr());
            let echo = std::thread::spawn(move || std::io::copy(&mut from, &mut to).is_ok());
            let ok = session.channel.write_all(&pattern(4 << 20, 7)).is_ok();
            return ExitStatus::Code(if echo.join().unwrap_or(false) && ok { 0 } else { 1 });
        }
        let ch = &mut session.channel;
        match command {
            b"cat" => {
                let mut buf = vec![0u8; 32 * 1024];
                loop {
                    match ch.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if ch.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                    }
                }
                ExitStatus::Code(0)
            }
            b"flood" => {
                // More than the socket buffers hold while the client does not read: the
                // sends that find the socket full leave the rest to the writer thread.
                let ok = ch.write_all(&pattern(24 << 20, 11)).is_ok();
                ExitStatus::Code(if ok { 0 } else { 1 })
            }
            b"fail" => {
                let _ = ch.write_all(b"some output\n");
                let _ = ch.write_stderr(b"went wrong\n");
                ExitStatus::Code(9)
            }
            b"panic" => panic!("handler bug"),
            other => {
                let _ = ch.write_all(other);
                ExitStatus::Code(0)
            }
        }
    }
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// `sink`, `sink-slow`, `sink-closed`, `sink-timeout`, `sink-paced`: the client's input
/// goes through `Reader::copy_to` into a pipe (read fast, read slowly, closed, never sent,
/// or sent slowly under a timeout shorter than the whole copy); the reply says what came
/// out at the pipe's other end and whether the pipe is left non-blocking, or the error.
/// `sink-file`: into a regular file.
fn sink_input(session: &mut ServerSession, mode: &[u8]) -> ExitStatus {
    use sha2::Digest;
    if mode == b"-file" {
        return sink_file(session);
    }
    let (mut pipe_out, pipe_in) = std::io::pipe().unwrap();
    if mode == b"-timeout" || mode == b"-paced" {
        session.channel.set_timeout(Some(Duration::from_millis(300)));
    }
    let slow = mode == b"-slow";
    let drain = (mode != b"-closed").then(|| {
        std::thread::spawn(move || {
            let (mut hash, mut seen, mut buf) = (sha2::Sha256::new(), 0usize, vec![0u8; 64 * 1024]);
            while let Ok(n) = pipe_out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                hash.update(&buf[..n]);
                seen += n;
                if slow {
                    // The pipe fills meanwhile: the rest waits for the copier.
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
            (seen, hash.finalize().iter().map(|b| format!("{b:02x}")).collect::<String>())
        })
    });
    if mode == b"-socket" {
        return sink_socket(session);
    }
    let mut reader = session.channel.reader();
    // Returns once the client's EOF is in and written, closing the duplicate it got.
    let kept = pipe_in.try_clone().unwrap();
    let copied = reader.copy_to(pipe_in);
    let nonblocking = rustix::fs::fcntl_getfl(&kept).unwrap().contains(rustix::fs::OFlags::NONBLOCK);
    drop(kept);
    let line = match copied {
        Ok(copied) => {
            let (seen, sum) = drain.map(|d| d.join().unwrap()).unwrap_or_default();
            format!("copied {copied} seen {seen} sha256 {sum} nonblocking {nonblocking}\n")
        }
        Err(e) => {
            // What the pipe did not take is still there to read; the rest is not wanted.
            let mut left = [0u8; 1];
            let readable = session.channel.read(&mut left).map(|n| n > 0).unwrap_or(false);
            reader.shutdown_read();
            format!("error {:?} then readable {readable}\n", e.kind())
        }
    };
    session.channel.set_timeout(None);
    let _ = session.channel.write_all(line.as_bytes());
    ExitStatus::Code(0)
}

/// `sink-file`: the client's input into a regular file (written by the copying thread
/// alone), then read back.
fn sink_file(session: &mut ServerSession) -> ExitStatus {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sink");
    let file = std::fs::File::create(&path).unwrap();
    let copied = session.channel.reader().copy_to(file);
    let got = std::fs::read(&path).unwrap();
    let line = format!("copied {:?} seen {} sha256 {}\n", copied.map_err(|e| e.kind()), got.len(), sha256_hex(&got));
    let _ = session.channel.write_all(line.as_bytes());
    ExitStatus::Code(0)
}

/// `sink-socket`: the client's input into one end of a socket pair while another thread
/// waits in a blocking read on a duplicate of that end, as a forwarded connection's other
/// direction does: the copy must leave the socket blocking.
fn sink_socket(session: &mut ServerSession) -> ExitStatus {
    use std::os::unix::net::UnixStream;
    let (ours, mut theirs) = UnixStream::pair().unwrap();
    let (mut waiting, closer) = (ours.try_clone().unwrap(), ours.try_clone().unwrap());
    let blocked = std::thread::spawn(move || waiting.read(&mut [0u8; 1]).map_err(|e| e.kind()));
    let drain = std::thread::spawn(move || {
        let mut got = Vec::new();
        let _ = theirs.read_to_end(&mut got);
        // Wakes the blocked reader: it must still be waiting.
        let _ = theirs.write_all(b"x");
        got
    });
    let copied = session.channel.reader().copy_to(ours);
    let nonblocking = rustix::fs::fcntl_getfl(&closer).unwrap().contains(rustix::fs::OFlags::NONBLOCK);
    let _ = closer.shutdown(std::net::Shutdown::Write);
    let got = drain.join().unwrap();
    let line = format!(
        "copied {:?} seen {} sha256 {} nonblocking {nonblocking} blocked read {:?}\n",
        copied.map_err(|e| e.kind()),
        got.len(),
        sha256_hex(&got),
        blocked.join().unwrap()
    );
    let _ = session.channel.write_all(line.as_bytes());
    ExitStatus::Code(0)
}

fn start() -> (std::net::SocketAddr, Arc<KeyPair>, ssh_blocking::StopHandle) {
    let mut rng = SeededRng::new(21);
    let host = HostKey::generate_ed25519(&mut rng);
    let user = Arc::new(KeyPair::generate_ed25519(&mut rng));
    let server =
        Server::bind("127.0.0.1:0", server::Config::new(vec![host]), Handler { user_key: user.public_key().clone() })
            .unwrap();
    let addr = server.local_addr().unwrap();
    let stop = server.stop_handle().unwrap();
    std::thread::spawn(move || server.serve());
    (addr, user, stop)
}

#[test]
fn our_client_against_our_server() {
    let (addr, user, stop) = start();
    let dir = tempfile::tempdir().unwrap();
    let mut o = ConnectOptions::new("127.0.0.1", addr.port(), "alice");
    o.keys = vec![user];
    o.known_hosts = Some(dir.path().join("known_hosts"));
    o.policy = UnknownHostPolicy::AutoAdd;
    let c = Client::connect(&o).unwrap();

    let mut run = c.exec_command("hello there").unwrap();
    assert_eq!(run.stdout.read_all().unwrap(), b"hello there");
    assert_eq!(run.stdout.recv_exit_status(Some(Duration::from_secs(10))).unwrap(), Some(ExitStatus::Code(0)));

    let mut run = c.exec_command("fail").unwrap();
    let mut err = Vec::new();
    run.stderr.read_to_end(&mut err).unwrap();
    assert_eq!(run.stdout.read_all().unwrap(), b"some output\n");
    assert_eq!(err, b"went wrong\n");
    assert_eq!(run.stdout.recv_exit_status(Some(Duration::from_secs(10))).unwrap(), Some(ExitStatus::Code(9)));

    // 16 MiB both ways through the server's cat, fed from another thread.
    let mut run = c.exec_command("cat").unwrap();
    let data: Vec<u8> = pattern(16 << 20, 1);
    let sent = data.clone();
    let mut stdin = run.stdin;
    let w = std::thread::spawn(move || {
        stdin.write_all(&sent).unwrap();
        stdin.send_eof().unwrap();
    });
    let got = run.stdout.read_all().unwrap();
    w.join().unwrap();
    assert!(got == data, "cat lost or changed bytes ({} of {})", got.len(), data.len());

    // The handler reads input and writes stderr on one thread, stdout on another.
    let mut run = c.exec_command("echo-to-stderr").unwrap();
    let input = pattern(4 << 20, 8);
    let (sent, mut stdin) = (input.clone(), run.stdin);
    let w = std::thread::spawn(move || {
        stdin.write_all(&sent).unwrap();
        stdin.send_eof().unwrap();
    });
    let mut stderr = run.stderr;
    let e = std::thread::spawn(move || {
        let mut err = Vec::new();
        stderr.read_to_end(&mut err).map(|_| err)
    });
    let out = run.stdout.read_all().unwrap();
    w.join().unwrap();
    assert!(e.join().unwrap().unwrap() == input, "stderr is not the input");
    assert!(out == pattern(4 << 20, 7), "stdout changed");
    assert_eq!(run.stdout.recv_exit_status(Some(Duration::from_secs(10))).unwrap(), Some(ExitStatus::Code(0)));

    // A panicking handler ends its channel with status 255; the connection lives on.
    let mut run = c.exec_command("panic").unwrap();
    assert_eq!(run.stdout.read_all().unwrap(), b"");
    assert_eq!(run.stdout.recv_exit_status(Some(Duration::from_secs(10))).unwrap(), Some(ExitStatus::Code(255)));
    let mut run = c.exec_command("still here").unwrap();
    assert_eq!(run.stdout.read_all().unwrap(), b"still here");
    c.close();

    // Password login, and a wrong one lists the methods.
    let mut o = ConnectOptions::new("127.0.0.1", addr.port(), "bob");
    o.known_hosts = Some(dir.path().join("known_hosts"));
    o.password = Some("hunter22".into());
    Client::connect(&o).unwrap().close();
    o.password = Some("nope".into());
    match Client::connect(&o) {
        Err(ssh_blocking::Error::AuthFailed { allowed }) => assert_eq!(allowed, ["password"], "bob's methods"),
        other => panic!("expected AuthFailed, got {:?}", other.err()),
    }
    // get_allowed_auths: alice logs in by key only, whatever check_auth_password says.
    let mut o = ConnectOptions::new("127.0.0.1", addr.port(), "alice");
    o.known_hosts = Some(dir.path().join("known_hosts"));
    o.password = Some("alice-pw".into());
    o.look_for_keys = false;
    o.allow_agent = false;
    match Client::connect(&o) {
        Err(ssh_blocking::Error::AuthFailed { allowed }) => assert_eq!(allowed, ["publickey"], "alice's methods"),
        other => panic!("expected AuthFailed, got {:?}", other.err()),
    }
    stop.stop();
}

#[test]
fn openssh_client_against_our_server() {
    require_peers!(Peer::Ssh);
    let (addr, user, stop) = start();
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("id");
    let text = ssh_blocking::ssh_proto::keys::file::encode_private_key(
        user.private_key(),
        ssh_blocking::ssh_proto::keys::file::PrivateKeyFormat::OpenSsh,
        None,
        &mut SeededRng::new(1),
    )
    .unwrap();
    std::fs::write(&key_path, text.as_bytes()).unwrap();
    std::fs::set_permissions(&key_path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let ssh = |cmd: &str, input: &[u8]| {
        run_with_input(
            Command::new("ssh").args([
                "-F",
                "/dev/null",
                "-p",
                &addr.port().to_string(),
                "-i",
                key_path.to_str().unwrap(),
                "-o",
                "BatchMode=yes",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                &format!("UserKnownHostsFile={}", dir.path().join("kh").display()),
                "alice@127.0.0.1",
                cmd,
            ]),
            input,
            Duration::from_secs(60),
        )
        .unwrap()
    };
    let out = ssh("fail", b"");
    assert_eq!(out.status.code(), Some(9), "{}", out.stderr);
    assert_eq!(out.stdout, "some output\n");
    assert!(out.stderr.contains("went wrong"), "{}", out.stderr);
    let data: Vec<u8> = (0..4u32 << 20).map(|i| b'a' + (i % 26) as u8).collect();
    let out = ssh("cat", &data);
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout.len(), data.len());
    assert!(out.stdout.as_bytes() == data);
    stop.stop();
}

/// `-L` through our server to an echo server: several connections at once, checksummed;
/// a target the handler refuses closes the local connection.
#[test]
fn local_forward_through_our_server() {
    let (addr, user, stop) = start();
    let echo = test_support::EchoServer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut o = ConnectOptions::new("127.0.0.1", addr.port(), "alice");
    o.keys = vec![user];
    o.known_hosts = Some(dir.path().join("known_hosts"));
    o.policy = UnknownHostPolicy::AutoAdd;
    let c = Client::connect(&o).unwrap();
    let fwd = ssh_blocking::LocalForward::start(
        Arc::clone(c.session()),
        "127.0.0.1:0".parse().unwrap(),
        "127.0.0.1",
        echo.addr().port(),
    )
    .unwrap();
    let workers: Vec<_> = (0..4u8)
        .map(|k| {
            let target = fwd.local_addr();
            std::thread::spawn(move || {
                let data: Vec<u8> = (0..(1u32 << 20)).map(|i| (i as u8) ^ k).collect();
                let got = test_support::round_trip(target, &data).unwrap();
                assert!(got == data, "connection {k}: {} of {} bytes", got.len(), data.len());
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    // The handler allows only 127.0.0.1: a forward elsewhere is refused by the server and
    // the local connection ends without data.
    let refused =
        ssh_blocking::LocalForward::start(Arc::clone(c.session()), "127.0.0.1:0".parse().unwrap(), "192.0.2.1", 9)
            .unwrap();
    let mut s = std::net::TcpStream::connect(refused.local_addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    assert!(got.is_empty());
    stop.stop();
}

/// Keyboard-interactive: the prompts reach the callback, the answers decide.
#[test]
fn keyboard_interactive_prompts_and_answers() {
    use ssh_blocking::ssh_proto::client;
    use ssh_blocking::{AuthOutcome, Session, Timeouts};
    let (addr, _user, stop) = start();
    let connect = || {
        let tcp = std::net::TcpStream::connect(addr).unwrap();
        Session::handshake(tcp.try_into().unwrap(), client::Config::default(), Timeouts::default(), |_: &_| Ok(()))
            .unwrap()
    };
    let s = connect();
    let mut seen = Vec::new();
    let outcome = s
        .auth_interactive("carol", "", |req| {
            seen.extend(req.prompts.iter().map(|p| (p.text.clone(), p.echo)));
            vec!["pw".to_owned(), "1234".to_owned()]
        })
        .unwrap();
    assert_eq!(outcome, AuthOutcome::Success);
    assert_eq!(seen, [("Password: ".to_owned(), false), ("Code: ".to_owned(), true)]);
    let s = connect();
    let outcome = s.auth_interactive("carol", "", |_| vec!["pw".to_owned(), "wrong".to_owned()]).unwrap();
    assert!(matches!(outcome, AuthOutcome::Failure { .. }), "{outcome:?}");
    stop.stop();
}

fn our_client(addr: std::net::SocketAddr, user: Arc<KeyPair>, dir: &std::path::Path) -> Client {
    let mut o = ConnectOptions::new("127.0.0.1", addr.port(), "alice");
    o.keys = vec![user];
    o.known_hosts = Some(dir.join("known_hosts"));
    o.policy = UnknownHostPolicy::AutoAdd;
    Client::connect(&o).unwrap()
}

/// `-R` through our server: it binds where the handler says, carries each connection back
/// to the client's echo target, and stops listening on cancel; other addresses are refused.
#[test]
fn remote_forward_through_our_server() {
    let (addr, user, stop) = start();
    let echo = test_support::EchoServer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let c = our_client(addr, user, dir.path());
    let fwd =
        ssh_blocking::RemoteForward::start(Arc::clone(c.session()), "127.0.0.1", 0, "127.0.0.1", echo.addr().port())
            .unwrap();
    let port = u16::try_from(fwd.remote_port()).unwrap();
    let workers: Vec<_> = (0..3u8)
        .map(|k| {
            std::thread::spawn(move || {
                let data: Vec<u8> = (0..(2u32 << 20)).map(|i| (i.wrapping_mul(31) as u8) ^ k).collect();
                let got = test_support::round_trip(([127, 0, 0, 1], port).into(), &data).unwrap();
                assert!(got == data, "connection {k}: {} of {} bytes", got.len(), data.len());
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    drop(fwd);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "still listening after the cancel");
    let r = c.session().request_port_forward("0.0.0.0", 0, |_, _| {});
    assert!(matches!(r, Err(ssh_blocking::Error::RequestRefused(_))), "{r:?}");
    stop.stop();
}

/// What a handler sees of a session: accepted env and pty, agent forwarding, then window
/// changes and a signal while the command runs; `select` and non-blocking reads.
#[test]
fn session_setup_controls_and_select() {
    let (addr, user, stop) = start();
    let dir = tempfile::tempdir().unwrap();
    let c = our_client(addr, user, dir.path());
    let s = c.session();

    let mut ch = s.open_session().unwrap();
    ch.set_env("LC_ONE", "1").unwrap();
    ch.set_env("REFUSED", "x").unwrap();
    ch.set_env("LC_TWO", "2").unwrap();
    ch.request_pty("xterm-256color", 90, 30).unwrap();
    ch.resize_pty(91, 31).unwrap();
    ch.request_agent_forwarding().unwrap();
    ch.exec("setup").unwrap();
    let out = String::from_utf8(ch.read_all().unwrap()).unwrap();
    assert_eq!(out, "env=[(\"LC_ONE\", \"1\"), (\"LC_TWO\", \"2\")] pty=Some(\"xterm-256color 91x31\") agent=true\n");
    let ch = s.open_session().unwrap();
    assert!(matches!(ch.request_pty("refuse-me", 1, 1), Err(ssh_blocking::Error::RequestRefused(_))));

    // Controls reach the running command, in order; the signal ends it.
    let mut ch = s.open_session().unwrap();
    ch.exec("controls").unwrap();
    let mut other = s.open_session().unwrap();
    other.exec("controls").unwrap();
    let mut line = [0u8; 6];
    ch.read_exact(&mut line).unwrap();
    assert_eq!(&line, b"ready\n");
    // `other` has its "ready" line waiting too: select names both, then only `ch` after it
    // is drained; a non-blocking read of an idle channel says WouldBlock.
    other.read_exact(&mut line).unwrap();
    assert!(ssh_blocking::select(&[&ch, &other], Some(Duration::from_millis(200))).is_err());
    other.set_nonblocking(true);
    assert_eq!(other.read(&mut line).err().map(|e| e.kind()), Some(std::io::ErrorKind::WouldBlock));
    ch.resize_pty(100, 40).unwrap();
    assert_eq!(ssh_blocking::select(&[&other, &ch], Some(Duration::from_secs(10))).unwrap(), [1]);
    ch.resize_pty(120, 50).unwrap();
    ch.signal("TERM").unwrap();
    assert_eq!(ch.read_all().unwrap(), b"resize 100x40\nresize 120x50\n");
    match ch.recv_exit_status(Some(Duration::from_secs(10))).unwrap() {
        Some(ExitStatus::Signal { name, .. }) => assert_eq!(name, "TERM"),
        other => panic!("expected exit-signal TERM, got {other:?}"),
    }
    other.signal("INT").unwrap();
    other.set_nonblocking(false);
    assert_eq!(other.read_all().unwrap(), b"");
    stop.stop();
}

/// Agent forwarding through our server to a real ssh-agent holding two keys: the
/// handler's agent channel reaches it; a session that did not ask is refused one.
#[test]
fn agent_forwarding_through_our_server() {
    require_peers!(Peer::SshAgent, Peer::SshAdd);
    let (addr, user, stop) = start();
    let dir = tempfile::tempdir().unwrap();
    let agent = test_support::SshAgent::start(dir.path()).unwrap();
    let sock = agent.socket().to_owned();
    for (i, t) in ["ed25519", "ecdsa"].iter().enumerate() {
        let key = dir.path().join(format!("id_{i}"));
        let out = test_support::process::run(
            Command::new("ssh-keygen").args(["-q", "-t", t, "-N", "", "-f"]).arg(&key),
            Duration::from_secs(20),
        )
        .unwrap();
        assert!(out.status.success(), "{}", out.stderr);
        agent.add(&key).unwrap();
    }

    let c = our_client(addr, user, dir.path());
    c.session().forward_agent(&sock).unwrap();
    let mut ch = c.session().open_session().unwrap();
    ch.exec("agent").unwrap();
    let mut err = ch.stderr();
    assert_eq!(ch.read_all().unwrap(), b"", "no agent without the request");
    let mut e = String::new();
    err.read_to_string(&mut e).unwrap();
    assert!(e.contains("agent forwarding was not requested"), "{e}");

    let mut ch = c.session().open_session().unwrap();
    ch.request_agent_forwarding().unwrap();
    ch.exec("agent").unwrap();
    assert_eq!(ch.read_all().unwrap(), b"type 12 keys 2\n");
    stop.stop();
}

/// A subsystem registered by name is served whatever the handler says; `invoke_subsystem`
/// and `invoke_shell` open it; a global request the server does not know is refused.
#[test]
fn registered_subsystem_and_client_conveniences() {
    let mut rng = SeededRng::new(31);
    let host = HostKey::generate_ed25519(&mut rng);
    let user = Arc::new(KeyPair::generate_ed25519(&mut rng));
    let server =
        Server::bind("127.0.0.1:0", server::Config::new(vec![host]), Handler { user_key: user.public_key().clone() })
            .unwrap()
            .subsystem("upper", |session| {
                let mut data = Vec::new();
                let _ = session.channel.read_to_end(&mut data);
                let _ = session.channel.write_all(&data.to_ascii_uppercase());
                ExitStatus::Code(0)
            });
    let addr = server.local_addr().unwrap();
    let stop = server.stop_handle().unwrap();
    std::thread::spawn(move || server.serve());
    let dir = tempfile::tempdir().unwrap();
    let c = our_client(addr, user, dir.path());
    let mut ch = c.invoke_subsystem("upper").unwrap();
    ch.write_all(b"shout this").unwrap();
    ch.send_eof().unwrap();
    assert_eq!(ch.read_all().unwrap(), b"SHOUT THIS");
    assert_eq!(ch.recv_exit_status(Some(Duration::from_secs(10))).unwrap(), Some(ExitStatus::Code(0)));
    assert!(matches!(c.invoke_subsystem("nope"), Err(ssh_blocking::Error::RequestRefused(_))));
    // The handler has no shell: a pty is granted, the shell refused.
    assert!(matches!(c.invoke_shell("xterm", 80, 24), Err(ssh_blocking::Error::RequestRefused(_))));
    assert_eq!(c.session().global_request(&GlobalRequest::Keepalive).unwrap(), GlobalReply::Failure);
    // The handler answers requests of its own protocol, with data.
    let echo = GlobalRequest::Other { name: "echo@example.com".into(), data: b"\0\0\0\x02hi".to_vec().into() };
    match c.session().global_request(&echo).unwrap() {
        GlobalReply::Success { data, .. } => assert_eq!(&data[..], b"\0\0\0\x02hi"),
        GlobalReply::Failure => panic!("the handler's global request was refused"),
    }
    stop.stop();
}

/// Paramiko's `request_port_forward` without a handler and `accept`: connections to the
/// forwarded port wait in a queue; nothing waiting times out as `None`.
#[test]
fn queued_remote_forward_and_accept() {
    let (addr, user, stop) = start();
    let dir = tempfile::tempdir().unwrap();
    let c = our_client(addr, user, dir.path());
    let s = c.session();
    assert!(s.accept(Some(Duration::from_millis(50))).is_none());
    let port = s.request_port_forward_queued("127.0.0.1", 0).unwrap();
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", u16::try_from(port).unwrap())).unwrap();
    tcp.write_all(b"ping").unwrap();
    tcp.shutdown(std::net::Shutdown::Write).unwrap();
    let (mut ch, from) = s.accept(Some(Duration::from_secs(10))).expect("a forwarded connection");
    assert_eq!((from.address.as_str(), from.port), ("127.0.0.1", port));
    assert_eq!(from.originator_port, u32::from(tcp.local_addr().unwrap().port()));
    assert_eq!(ch.read_all().unwrap(), b"ping");
    ch.write_all(b"pong").unwrap();
    drop(ch);
    let mut back = Vec::new();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    tcp.read_to_end(&mut back).unwrap();
    assert_eq!(back, b"pong");
    s.cancel_port_forward("127.0.0.1", port).unwrap();
    stop.stop();
}

/// Records every `tracing` event of the thread it is the default for, as
/// `LEVEL message field=value…`.
struct Capture(Arc<std::sync::Mutex<Vec<String>>>);

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write as _;
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields(event.metadata().level().to_string());
        event.record(&mut fields);
        self.0.lock().unwrap().push(fields.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// The session and the server log what Paramiko's transport logs: the host key, the
/// algorithms, the authentication outcome, a rejected host key at INFO; accepted
/// connections, disconnects and a panicking handler at WARN. The capture is the global
/// default (the server's threads log too), so other tests of this binary may add lines.
#[test]
fn tracing_reports_session_and_server_events() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    tracing::subscriber::set_global_default(Capture(Arc::clone(&seen))).unwrap();
    let (addr, user, stop) = start();
    let dir = tempfile::tempdir().unwrap();
    let mut o = ConnectOptions::new("127.0.0.1", addr.port(), "alice");
    o.keys = vec![Arc::clone(&user)];
    o.known_hosts = Some(dir.path().join("known_hosts"));
    o.policy = UnknownHostPolicy::AutoAdd;
    let c = Client::connect(&o).unwrap();
    let run = c.exec_command("panic").unwrap();
    assert_eq!(run.stdout.recv_exit_status(Some(Duration::from_secs(10))).unwrap(), Some(ExitStatus::Code(255)));
    c.close();
    o.policy = UnknownHostPolicy::Reject;
    o.known_hosts = Some(dir.path().join("empty"));
    assert!(Client::connect(&o).is_err());
    stop.stop();
    let has = |parts: &[&str]| seen.lock().unwrap().iter().any(|line| parts.iter().all(|p| line.contains(p)));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    // The server's side of the closes is logged by its threads, a moment later.
    while !has(&["DEBUG", "disconnected"]) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let all = seen.lock().unwrap().clone();
    for parts in [
        &["DEBUG", "server host key", "key=ssh-ed25519 "][..],
        &["DEBUG", "keys exchanged", "kex=", "cipher="],
        &["DEBUG", "authentication", "Success"],
        &["INFO", "host key rejected"],
        &["DEBUG", "connection accepted", "peer="],
        &["WARN", "handler panicked"],
        &["DEBUG", "disconnected"],
    ] {
        assert!(has(parts), "no event with {parts:?} in {all:#?}");
    }
}

/// X11 forwarding (Paramiko's `request_x11` with a handler, ServerInterface's
/// `check_x11_request`): the accepted request reaches the session, and an X client's
/// channel reaches the client's handler with its address.
#[test]
fn x11_forwarding_through_our_server() {
    let (addr, user, stop) = start();
    let dir = tempfile::tempdir().unwrap();
    let c = our_client(addr, user, dir.path());
    c.session().set_x11_handler(common::answer_x11_channel).unwrap();
    let mut ch = c.session().open_session().unwrap();
    assert!(matches!(
        ch.request_x11("XDM-AUTHORIZATION-1", "00", 0, false),
        Err(ssh_blocking::Error::RequestRefused(_))
    ));
    ch.request_x11("MIT-MAGIC-COOKIE-1", "0123abcd", 1, false).unwrap();
    ch.exec("x11").unwrap();
    let out = String::from_utf8(ch.read_all().unwrap()).unwrap();
    assert_eq!(out, "HELLO DISPLAY from 127.0.0.1:6010 MIT-MAGIC-COOKIE-1 0123abcd 1\n");
    assert_eq!(ch.recv_exit_status(Some(Duration::from_secs(10))).unwrap(), Some(ExitStatus::Code(0)));
    // Without the request, the server's session cannot open one.
    let mut ch = c.session().open_session().unwrap();
    ch.exec("x11").unwrap();
    assert_eq!(ch.read_all().unwrap(), b"");
    assert_eq!(ch.recv_exit_status(Some(Duration::from_secs(10))).unwrap(), Some(ExitStatus::Code(2)));
    stop.stop();
}

/// Each wait wakes only for its own channel and kind of change: 24 channels move data at
/// once, one thread per channel, while another thread reads a channel nothing arrives on;
/// and a writer stalled on a full window learns at once that another handle sent EOF.
#[test]
fn many_channels_at_once_and_a_stalled_writer() {
    let (addr, user, stop) = start();
    let dir = tempfile::tempdir().unwrap();
    let c = Arc::new(our_client(addr, user, dir.path()));
    let idle = c.session().open_session().unwrap();
    idle.exec("stall").unwrap();
    let mut idle_reader = idle.reader();
    let waiting = std::thread::spawn(move || {
        let mut b = [0u8; 1];
        idle_reader.read(&mut b).map(|n| n == 0)
    });
    let workers: Vec<_> = (0..24u64)
        .map(|k| {
            let c = Arc::clone(&c);
            std::thread::spawn(move || {
                let mut run = c.exec_command("cat").unwrap();
                let data = pattern(1 << 20, 100 + k);
                let (sent, mut stdin) = (data.clone(), run.stdin);
                let w = std::thread::spawn(move || {
                    stdin.write_all(&sent).unwrap();
                    stdin.send_eof().unwrap();
                });
                let got = run.stdout.read_all().unwrap();
                w.join().unwrap();
                got == data
            })
        })
        .collect();
    for w in workers {
        assert!(w.join().unwrap(), "a channel's cat changed the bytes");
    }
    assert!(!waiting.is_finished(), "nothing came on the idle channel");

    // The server reads nothing of this one: the writer stalls once the window is full.
    let stalled = c.session().open_session().unwrap();
    stalled.exec("stall").unwrap();
    let mut stdin = stalled.stdin();
    let writer = std::thread::spawn(move || {
        let block = vec![0u8; 1 << 20];
        loop {
            if let Err(e) = stdin.write_all(&block) {
                return e;
            }
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(!writer.is_finished(), "the window should be full by now");
    let started = std::time::Instant::now();
    stalled.send_eof().unwrap();
    let deadline = started + Duration::from_secs(5);
    while !writer.is_finished() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(writer.is_finished(), "the stalled writer did not learn of the EOF");
    let _ = writer.join();
    drop(stalled);
    drop(idle);
    assert!(waiting.join().unwrap().unwrap(), "closing the channel ends its reader");
    stop.stop();
}

/// A shutdown: `stop` ends accepting, `disconnect_all` ends the connections being served,
/// commands running included, and their clients learn it at once.
#[test]
fn stop_and_disconnect_all() {
    let (addr, user, stop) = start();
    let dir = tempfile::tempdir().unwrap();
    let clients: Vec<Client> = (0..3).map(|_| our_client(addr, Arc::clone(&user), dir.path())).collect();
    let mut runs: Vec<_> = clients.iter().map(|c| c.exec_command("controls").unwrap()).collect();
    for run in &mut runs {
        let mut ready = [0u8; 6];
        run.stdout.read_exact(&mut ready).unwrap();
        assert_eq!(&ready, b"ready\n");
    }
    stop.stop();
    let started = std::time::Instant::now();
    stop.disconnect_all();
    for (c, run) in clients.iter().zip(&mut runs) {
        // The rest of the output is nothing: the connection ended.
        let mut rest = Vec::new();
        let _ = run.stdout.read_to_end(&mut rest);
        assert!(rest.is_empty(), "{rest:?}");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while c.session().is_active() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!c.session().is_active(), "the client did not see the disconnect");
    }
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    // Nothing accepts any more.
    let mut o = ConnectOptions::new("127.0.0.1", addr.port(), "alice");
    o.keys = vec![user];
    o.known_hosts = Some(dir.path().join("known_hosts"));
    o.policy = UnknownHostPolicy::AutoAdd;
    o.timeouts.handshake = Some(Duration::from_secs(3));
    assert!(Client::connect(&o).is_err());
}

/// A client's socket that stops being read for a while, once asked to.
struct Stalling {
    inner: std::os::unix::net::UnixStream,
    stall: Arc<std::sync::atomic::AtomicBool>,
}

impl Read for Stalling {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.stall.swap(false, std::sync::atomic::Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(400));
        }
        self.inner.read(buf)
    }
}

/// Output that the server's socket does not take at once (the client stops reading while
/// the window still allows megabytes; a socket pair buffers far less): the sends that find
/// the socket full leave the rest to the writer thread while the handler goes on writing,
/// and everything arrives whole and in order.
#[test]
fn output_the_socket_does_not_take_at_once_arrives_whole() {
    use std::os::unix::net::UnixStream;
    let mut rng = SeededRng::new(23);
    let host = HostKey::generate_ed25519(&mut rng);
    let user = Arc::new(KeyPair::generate_ed25519(&mut rng));
    let (client_end, server_end) = UnixStream::pair().unwrap();
    let config = Arc::new(server::Config::new(vec![host]));
    let handler: Arc<dyn ssh_blocking::ServerHandler> = Arc::new(Handler { user_key: user.public_key().clone() });
    let server = std::thread::spawn(move || {
        ssh_blocking::serve_connection(ssh_blocking::Stream::try_from(server_end).unwrap(), config, handler)
    });
    let stall = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = Stalling { inner: client_end.try_clone().unwrap(), stall: Arc::clone(&stall) };
    let closer = client_end.try_clone().unwrap();
    let stream = ssh_blocking::Stream::from_parts(reader, client_end, move || {
        let _ = closer.shutdown(std::net::Shutdown::Both);
    });
    let dir = tempfile::tempdir().unwrap();
    let mut o = ConnectOptions::new("127.0.0.1", 22, "alice");
    o.keys = vec![user];
    o.known_hosts = Some(dir.path().join("known_hosts"));
    o.policy = UnknownHostPolicy::AutoAdd;
    let c = Client::connect_stream(stream, &o).unwrap();
    for stalled in [true, false] {
        let mut run = c.exec_command("flood").unwrap();
        run.stdout.set_timeout(Some(Duration::from_secs(20)));
        stall.store(stalled, std::sync::atomic::Ordering::SeqCst);
        let got = run.stdout.read_all().unwrap();
        assert_eq!(got.len(), 24 << 20);
        assert!(got == pattern(24 << 20, 11), "stalled {stalled}: the data differs");
        assert_eq!(run.stdout.recv_exit_status(Some(Duration::from_secs(10))).unwrap(), Some(ExitStatus::Code(0)));
    }
    c.close();
    assert!(server.join().is_ok());
}

/// `Reader::copy_to`: input through a pipe read fast and slowly, and through a socket
/// another thread reads too, arrives whole, in order, and ends with EOF; a closed pipe and a silent client are errors, and what the pipe did
/// not take stays readable.
#[test]
fn client_input_copied_into_a_sink() {
    let (addr, user, stop) = start();
    let dir = tempfile::tempdir().unwrap();
    let c = our_client(addr, user, dir.path());
    let send = |command: &str, data: Vec<u8>| {
        let mut run = c.exec_command(command).unwrap();
        let mut stdin = run.stdin;
        let w = std::thread::spawn(move || {
            stdin.write_all(&data)?;
            stdin.send_eof().map_err(std::io::Error::from)
        });
        let out = String::from_utf8(run.stdout.read_all().unwrap()).unwrap();
        (out, w.join().unwrap())
    };
    for (command, size) in [("sink", 48 << 20), ("sink-slow", 6 << 20)] {
        let data = pattern(size, 5);
        let expect = format!("copied {size} seen {size} sha256 {} nonblocking false\n", sha256_hex(&data));
        let (out, sent) = send(command, data);
        assert_eq!(out, expect, "{command}");
        sent.unwrap();
    }
    let data = pattern(3 << 20, 8);
    let expect = format!("copied Ok({}) seen {} sha256 {}\n", data.len(), data.len(), sha256_hex(&data));
    let (out, sent) = send("sink-file", data);
    assert_eq!(out, expect);
    sent.unwrap();
    // A steady trickle for longer than the copy's 300 ms timeout: each wait is short, so
    // it does not time out.
    let data = pattern(16 * 32 * 1024, 9);
    let expect = format!("copied {} seen {} sha256 {} nonblocking false\n", data.len(), data.len(), sha256_hex(&data));
    let mut run = c.exec_command("sink-paced").unwrap();
    let mut stdin = run.stdin;
    let paced = std::thread::spawn(move || {
        for chunk in data.chunks(32 * 1024) {
            stdin.write_all(chunk)?;
            std::thread::sleep(Duration::from_millis(60));
        }
        stdin.send_eof().map_err(std::io::Error::from)
    });
    assert_eq!(String::from_utf8(run.stdout.read_all().unwrap()).unwrap(), expect);
    paced.join().unwrap().unwrap();
    let data = pattern(8 << 20, 7);
    let expect = format!(
        "copied Ok({}) seen {} sha256 {} nonblocking false blocked read Ok(1)\n",
        data.len(),
        data.len(),
        sha256_hex(&data)
    );
    let (out, sent) = send("sink-socket", data);
    assert_eq!(out, expect);
    sent.unwrap();
    // The server drops what the closed pipe did not take, then ends the channel, perhaps
    // before all of it was sent.
    let (out, _) = send("sink-closed", pattern(4 << 20, 6));
    assert_eq!(out, "error BrokenPipe then readable true\n");
    let mut run = c.exec_command("sink-timeout").unwrap();
    assert_eq!(run.stdout.read_all().unwrap(), b"error TimedOut then readable false\n");
    drop(run.stdin);
    c.close();
    stop.stop();
}
