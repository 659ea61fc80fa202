//! The blocking server: our client and OpenSSH's `ssh` against it, exec with stdin/stdout/
//! stderr/exit status, a handler that panics ending only its own connection.

use std::io::{Read, Write};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use ssh_blocking::ssh_proto::connection::ExitStatus;
use ssh_blocking::ssh_proto::{HostKey, KeyPair, SeededRng, server};
use ssh_blocking::{AuthDecision, Client, ConnectOptions, Server, ServerHandler, ServerSession, UnknownHostPolicy};
use test_support::process::run_with_input;
use test_support::{Peer, require_peers};

struct Handler {
    user_key: ssh_blocking::ssh_proto::ssh_key::PublicKey,
}

impl ServerHandler for Handler {
    fn check_auth_publickey(&self, user: &str, key: &ssh_blocking::ssh_proto::ssh_key::PublicKey) -> AuthDecision {
        if user == "alice" && key.key_data() == self.user_key.key_data() {
            AuthDecision::Accept
        } else {
            AuthDecision::Reject
        }
    }
    fn check_auth_password(&self, user: &str, password: &str) -> AuthDecision {
        if user == "bob" && password == "hunter22" { AuthDecision::Accept } else { AuthDecision::Reject }
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
    fn exec(&self, session: &mut ServerSession, command: &[u8]) -> ExitStatus {
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
    let data: Vec<u8> = (0..16u32 << 20).map(|i| (i.wrapping_mul(2654435761) >> 24) as u8).collect();
    let sent = data.clone();
    let mut stdin = run.stdin;
    let w = std::thread::spawn(move || {
        stdin.write_all(&sent).unwrap();
        stdin.send_eof().unwrap();
    });
    let got = run.stdout.read_all().unwrap();
    w.join().unwrap();
    assert!(got == data, "cat lost or changed bytes ({} of {})", got.len(), data.len());

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
    assert!(matches!(Client::connect(&o), Err(ssh_blocking::Error::AuthFailed { .. })));
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
                let mut s = std::net::TcpStream::connect(target).unwrap();
                let mut r = s.try_clone().unwrap();
                let sent = data.clone();
                let w = std::thread::spawn(move || {
                    s.write_all(&sent).unwrap();
                    s.shutdown(std::net::Shutdown::Write).unwrap();
                });
                let mut got = Vec::new();
                r.read_to_end(&mut got).unwrap();
                w.join().unwrap();
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
