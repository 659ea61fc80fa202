//! The async server: our async client and OpenSSH's `ssh` against it. Authentication by
//! every method with `get_allowed_auths`, exec with stdin/stdout/stderr/exit status, the
//! setup before a command and controls while it runs, a registered subsystem, forwarding
//! both ways, a handler that panics ending only its channel, decisions that await holding
//! up only their own connection, the algorithm matrix and a checked 1 GiB with forced
//! rekeys from `ssh`.

use std::io::Read as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ssh_tokio::ssh_proto::algorithm::{Algorithm, Compression, HostKeyAlgorithm};
use ssh_tokio::ssh_proto::auth::{AuthMethod, InfoRequest, Prompt};
use ssh_tokio::ssh_proto::connection::{ChannelKind, ExitStatus, GlobalReply, GlobalRequest, PtyRequest};
use ssh_tokio::ssh_proto::keys::file::{PrivateKeyFormat, encode_private_key};
use ssh_tokio::ssh_proto::ssh_key::PublicKey;
use ssh_tokio::ssh_proto::{HostKey, KeyPair, RekeyPolicy, SeededRng, ServerHostKey, client, server};
use ssh_tokio::{
    AuthDecision, AuthOutcome, Error, Interactive, Server, ServerHandler, ServerSession, Session, SessionControl,
    StopHandle, X11Forwarding,
};
use test_support::process::{run, run_with_input};
use test_support::{EchoServer, Peer, SshdAlgorithms, default_workers, pattern, require_peers, run_matrix};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(120);
/// How long the `slow` user's password check and the `slow-check` command's exec check take.
const SLOW: Duration = Duration::from_millis(1500);
const LINE: &[u8] = b"0123456789abcdef\n";

struct Handler {
    user_key: PublicKey,
}

impl ServerHandler for Handler {
    async fn get_allowed_auths(&self, user: &str) -> Option<Vec<AuthMethod>> {
        match user {
            "alice" => Some(vec![AuthMethod::PublicKey]),
            "bob" => Some(vec![AuthMethod::Password]),
            _ => None,
        }
    }
    async fn check_auth_publickey(&self, user: &str, key: &PublicKey) -> AuthDecision {
        if user == "alice" && key.key_data() == self.user_key.key_data() {
            AuthDecision::Accept
        } else {
            AuthDecision::Reject
        }
    }
    async fn check_auth_password(&self, user: &str, password: &str) -> AuthDecision {
        if user == "slow" {
            // A database lookup: only this connection waits for it.
            tokio::time::sleep(SLOW).await;
        }
        // alice's password would do, but her methods leave password out.
        let ok = matches!((user, password), ("bob", "hunter22") | ("alice", "alice-pw") | ("slow", "pw"));
        if ok { AuthDecision::Accept } else { AuthDecision::Reject }
    }
    async fn check_auth_interactive(&self, user: &str, _submethods: &[String]) -> Interactive {
        if user != "carol" {
            return Interactive::Decide(AuthDecision::Reject);
        }
        Interactive::Prompts(InfoRequest {
            name: "two questions".into(),
            instruction: String::new(),
            prompts: vec![
                Prompt { text: "Password: ".into(), echo: false },
                Prompt { text: "Code: ".into(), echo: true },
            ],
        })
    }
    async fn check_auth_interactive_response(&self, _user: &str, answers: &[&str]) -> Interactive {
        let ok = answers == ["pw", "1234"];
        Interactive::Decide(if ok { AuthDecision::Accept } else { AuthDecision::Reject })
    }
    async fn check_channel_request(&self, kind: &ChannelKind) -> bool {
        match kind {
            ChannelKind::Session => true,
            ChannelKind::DirectTcpip { host, .. } => host == "127.0.0.1",
            _ => false,
        }
    }
    async fn check_port_forward_request(&self, address: &str, port: u16) -> Option<SocketAddr> {
        (address == "127.0.0.1" || address == "localhost").then(|| (std::net::Ipv4Addr::LOCALHOST, port).into())
    }
    async fn global_request(&self, request: &GlobalRequest) -> GlobalReply {
        match request {
            GlobalRequest::Other { name, data } if name == "echo@example.com" => {
                GlobalReply::Success { bound_port: None, data: data.clone() }
            }
            _ => GlobalReply::Failure,
        }
    }
    async fn check_env_request(&self, name: &str, _value: &str) -> bool {
        name.starts_with("LC_")
    }
    async fn check_pty_request(&self, pty: &PtyRequest) -> bool {
        pty.term != "refuse-me"
    }
    async fn check_x11_request(&self, x11: &X11Forwarding) -> bool {
        x11.auth_protocol == "MIT-MAGIC-COOKIE-1"
    }
    async fn check_exec_request(&self, command: &[u8]) -> bool {
        if command == b"slow-check" {
            tokio::time::sleep(SLOW).await;
        }
        true
    }
    /// `cat`: echo stdin; `fail`: stderr and exit 9; `panic`: the handler panics;
    /// `thread`: the name of the thread the handler runs on;
    /// `setup`: what was set up before; `controls`: report window changes until a signal;
    /// `yes N`: N bytes of a repeated line; anything else: echoed.
    async fn exec(&self, session: &mut ServerSession, command: &[u8]) -> ExitStatus {
        let ch = &mut session.channel;
        match command {
            b"cat" => {
                let mut buf = vec![0u8; 32 * 1024];
                while let Ok(n @ 1..) = ch.read(&mut buf).await {
                    if ch.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                ExitStatus::Code(0)
            }
            b"fail" => {
                let _ = ch.write_all(b"some output\n").await;
                let _ = ch.stderr().write_all(b"went wrong\n").await;
                ExitStatus::Code(9)
            }
            b"panic" => panic!("handler bug"),
            b"thread" => {
                let name = std::thread::current().name().unwrap_or_default().to_owned();
                let _ = ch.write_all(name.as_bytes()).await;
                ExitStatus::Code(0)
            }
            b"x11" => {
                // An X client "connects": its channel goes to the client, which answers.
                let Ok(mut x) = session.open_x11_channel("10.0.0.9", 6010).await else { return ExitStatus::Code(2) };
                let _ = x.write_all(b"hello X").await;
                let _ = x.shutdown().await;
                let mut answer = Vec::new();
                let _ = x.read_to_end(&mut answer).await;
                let cookie = session.x11.as_ref().map(|x| x.auth_cookie.clone()).unwrap_or_default();
                let line = format!("{} (cookie {cookie})", String::from_utf8_lossy(&answer));
                let _ = session.channel.write_all(line.as_bytes()).await;
                ExitStatus::Code(0)
            }
            b"setup" => {
                let pty = session.pty.as_ref().map(|p| format!("{} {}x{}", p.term, p.cols, p.rows));
                let line = format!("env={:?} pty={pty:?}\n", session.env);
                let _ = session.channel.write_all(line.as_bytes()).await;
                ExitStatus::Code(0)
            }
            b"controls" => {
                let _ = session.channel.write_all(b"ready\n").await;
                while let Some(control) = session.control().await {
                    match control {
                        SessionControl::WindowChange { cols, rows, .. } => {
                            let _ = session.channel.write_all(format!("resize {cols}x{rows}\n").as_bytes()).await;
                        }
                        SessionControl::Signal(name) => {
                            return ExitStatus::Signal { name, core_dumped: false, message: String::new() };
                        }
                        SessionControl::Break(_) => {}
                    }
                }
                ExitStatus::Code(1)
            }
            _ if command.starts_with(b"yes ") => {
                let n: u64 = std::str::from_utf8(&command[4..]).ok().and_then(|s| s.parse().ok()).unwrap_or(0);
                let block: Vec<u8> = LINE.iter().copied().cycle().take(LINE.len() * 4096).collect();
                let mut left = n;
                while left > 0 {
                    let take = left.min(block.len() as u64) as usize;
                    if ch.write_all(&block[..take]).await.is_err() {
                        return ExitStatus::Code(1);
                    }
                    left -= take as u64;
                }
                ExitStatus::Code(0)
            }
            other => {
                let _ = ch.write_all(other).await;
                ExitStatus::Code(0)
            }
        }
    }
}

struct Running {
    addr: SocketAddr,
    user: Arc<KeyPair>,
    stop: StopHandle,
}

async fn start_with(config: server::Config, user: Arc<KeyPair>) -> Running {
    let handler = Handler { user_key: user.public_key().clone() };
    let server = Server::bind("127.0.0.1:0", config, handler).await.unwrap().subsystem("upper", |session| {
        Box::pin(async move {
            let mut all = Vec::new();
            let _ = session.channel.read_to_end(&mut all).await;
            let _ = session.channel.write_all(&all.to_ascii_uppercase()).await;
            ExitStatus::Code(0)
        })
    });
    let addr = server.local_addr().unwrap();
    let stop = server.stop_handle();
    tokio::spawn(async move { server.serve().await });
    Running { addr, user, stop }
}

fn keys() -> (HostKey, Arc<KeyPair>) {
    let mut rng = SeededRng::new(21);
    let host = HostKey::generate_ed25519(&mut rng);
    (host, Arc::new(KeyPair::generate_ed25519(&mut rng)))
}

async fn start() -> Running {
    let (host, user) = keys();
    start_with(server::Config::new(vec![host]), user).await
}

async fn connect(addr: SocketAddr) -> Session {
    let trust = |_: &ServerHostKey| Ok(());
    Session::connect(addr, client::Config::default(), trust).await.unwrap()
}

async fn alice(server: &Running) -> Session {
    let s = connect(server.addr).await;
    assert_eq!(s.auth_publickey("alice", Arc::clone(&server.user)).await.unwrap(), AuthOutcome::Success);
    s
}

/// Runs `command`; returns stdout, stderr and the exit status.
async fn exec(s: &Session, command: &str, input: &[u8]) -> (Vec<u8>, Vec<u8>, Option<ExitStatus>) {
    let mut ch = s.open_session().await.unwrap();
    ch.exec(command).await.unwrap();
    let mut err = ch.stderr();
    let errors = tokio::spawn(async move {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v).await;
        v
    });
    let (mut r, mut w) = tokio::io::split(&mut ch);
    let (_, out) = tokio::join!(
        async move {
            // The command may be gone before it read everything (a panic).
            let _ = w.write_all(input).await;
            let _ = w.shutdown().await;
        },
        async move {
            let mut out = Vec::new();
            let _ = r.read_to_end(&mut out).await;
            out
        }
    );
    let status = ch.exit_status().await.unwrap();
    (out, errors.await.unwrap(), status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_against_the_async_server() {
    let server = start().await;
    timeout(LIMIT, async {
        // alice: public key only; her password is refused by her allowed methods.
        let s = connect(server.addr).await;
        let refused = s.auth_password("alice", "alice-pw").await.unwrap();
        assert_eq!(refused, AuthOutcome::Failure { methods: vec!["publickey".into()] });
        assert_eq!(s.auth_publickey("alice", Arc::clone(&server.user)).await.unwrap(), AuthOutcome::Success);

        let (out, err, status) = exec(&s, "fail", b"").await;
        assert_eq!(
            (out.as_slice(), err.as_slice(), status),
            (&b"some output\n"[..], &b"went wrong\n"[..], Some(ExitStatus::Code(9)))
        );
        let data = pattern(4 << 20, 3);
        let (out, _, status) = exec(&s, "cat", &data).await;
        assert!(out == data, "cat returned {} bytes of {}", out.len(), data.len());
        assert_eq!(status, Some(ExitStatus::Code(0)));

        // A handler that panics ends its channel with status 255; the connection serves on.
        let (out, _, status) = exec(&s, "panic", b"").await;
        assert_eq!((out.len(), status), (0, Some(ExitStatus::Code(255))));
        assert_eq!(exec(&s, "still here", b"").await.0, b"still here");

        // Setup before the command: LC_ variables and a pty pass, FOO does not.
        let ch = s.open_session().await.unwrap();
        ch.set_env("LC_X", "1").await.unwrap();
        ch.set_env("FOO", "2").await.unwrap();
        ch.request_pty("xterm", 80, 24).await.unwrap();
        ch.resize_pty(100, 30).await.unwrap();
        ch.exec("setup").await.unwrap();
        let mut ch = ch;
        let mut out = String::new();
        ch.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "env=[(\"LC_X\", \"1\")] pty=Some(\"xterm 100x30\")\n");
        let refused = s.open_session().await.unwrap();
        assert!(matches!(refused.request_pty("refuse-me", 1, 1).await, Err(Error::RequestRefused(_))));

        // Controls reach the running command.
        let mut ch = s.open_session().await.unwrap();
        ch.request_pty("xterm", 80, 24).await.unwrap();
        ch.exec("controls").await.unwrap();
        let mut line = [0u8; 6];
        ch.read_exact(&mut line).await.unwrap();
        assert_eq!(&line, b"ready\n");
        ch.resize_pty(120, 40).await.unwrap();
        let mut line = [0u8; 14];
        ch.read_exact(&mut line).await.unwrap();
        assert_eq!(&line, b"resize 120x40\n");
        ch.signal("TERM").await.unwrap();
        let status = ch.exit_status().await.unwrap();
        assert!(matches!(&status, Some(ExitStatus::Signal { name, .. }) if name == "TERM"), "{status:?}");

        // A global request of the application's own, and a registered subsystem.
        let echo = GlobalRequest::Other { name: "echo@example.com".into(), data: b"ping".to_vec().into() };
        assert_eq!(
            s.global_request(&echo).await.unwrap(),
            GlobalReply::Success { bound_port: None, data: b"ping".to_vec().into() }
        );
        let mut ch = s.open_session().await.unwrap();
        ch.subsystem("upper").await.unwrap();
        ch.write_all(b"shout").await.unwrap();
        ch.shutdown().await.unwrap();
        let mut out = Vec::new();
        ch.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, b"SHOUT");
        assert!(s.open_session().await.unwrap().subsystem("nothing").await.is_err());

        // bob: password; carol: two prompts.
        let b = connect(server.addr).await;
        assert!(matches!(b.auth_password("bob", "wrong").await.unwrap(), AuthOutcome::Failure { .. }));
        assert_eq!(b.auth_password("bob", "hunter22").await.unwrap(), AuthOutcome::Success);
        let c = connect(server.addr).await;
        let outcome = c
            .auth_interactive("carol", "", |req| {
                assert_eq!(req.prompts.len(), 2);
                vec!["pw".into(), "1234".into()]
            })
            .await
            .unwrap();
        assert_eq!(outcome, AuthOutcome::Success);
    })
    .await
    .expect("within the time limit");
    server.stop.stop();
}

/// A sharded server spreads its connections over its own threads, the least loaded first,
/// serves them there (a handler and its data both ways), and ends them when dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sharded_server_serves_each_connection_on_one_of_its_threads() {
    let (host, user) = keys();
    let handler = Handler { user_key: user.public_key().clone() };
    let server = Server::bind("127.0.0.1:0", server::Config::new(vec![host]), handler).await.unwrap();
    let server = Arc::new(server.sharded(std::num::NonZeroUsize::new(2).unwrap()).unwrap());
    let addr = server.local_addr().unwrap();
    let stop = server.stop_handle();
    let serving = tokio::spawn({
        let server = Arc::clone(&server);
        async move { server.serve().await }
    });
    timeout(LIMIT, async {
        let running = Running { addr, user, stop };
        let mut sessions = Vec::new();
        for _ in 0..4 {
            sessions.push(alice(&running).await);
        }
        let mut threads = Vec::new();
        for s in &sessions {
            let (out, _, status) = exec(s, "thread", b"").await;
            assert_eq!(status, Some(ExitStatus::Code(0)));
            threads.push(String::from_utf8(out).unwrap());
        }
        // Four live connections over two threads: two each, in turn.
        assert_eq!(threads, ["ssh-shard-0", "ssh-shard-1", "ssh-shard-0", "ssh-shard-1"]);
        let data = pattern(8 << 20, 5);
        let (out, _, status) = exec(&sessions[1], "cat", &data).await;
        assert!(out == data, "cat returned {} bytes of {}", out.len(), data.len());
        assert_eq!(status, Some(ExitStatus::Code(0)));
        // A connection that ended frees its place: the next one goes to the thread it left
        // (on a tie the first thread would be chosen).
        let leaving = sessions.remove(1);
        leaving.close();
        leaving.closed().await;
        while server.connections() > 3 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // The connection leaves the live list just before its thread's count.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let s = alice(&running).await;
        assert_eq!(exec(&s, "thread", b"").await.0, b"ssh-shard-1");
        sessions.push(s);
        running.stop.stop();
        serving.await.unwrap().unwrap();
        // Stopped, the server's connections run on; dropped, its threads end them.
        assert!(sessions.iter().all(Session::is_active));
        drop(server);
        for s in &sessions {
            let ended = s.closed().await;
            assert!(matches!(ended, Error::Disconnected { .. }), "{ended:?}");
        }
    })
    .await
    .expect("timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_both_ways_through_the_async_server() {
    let server = start().await;
    let echo = EchoServer::start().unwrap();
    timeout(LIMIT, async {
        let s = alice(&server).await;
        // -L: the default direct-tcpip handler connects and copies both ways.
        let data = pattern(2 << 20, 5);
        let mut ch = s.open_direct_tcpip("127.0.0.1", echo.addr().port(), "127.0.0.1", 1).await.unwrap();
        let (mut r, mut w) = tokio::io::split(&mut ch);
        let sent = data.clone();
        let (_, back) = tokio::join!(
            async move {
                w.write_all(&sent).await.unwrap();
                w.shutdown().await.unwrap();
            },
            async move {
                let mut v = Vec::new();
                r.read_to_end(&mut v).await.unwrap();
                v
            }
        );
        assert!(back == data, "{} of {} bytes back", back.len(), data.len());
        let refused = s.open_direct_tcpip("localhost", echo.addr().port(), "127.0.0.1", 1).await;
        assert!(matches!(refused, Err(Error::ChannelOpen { .. })), "{:?}", refused.err());

        // -R: the server listens, and each connection arrives through accept.
        let port = s.request_port_forward_queued("127.0.0.1", 0).await.unwrap();
        let dial = tokio::spawn(async move {
            let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port as u16)).await.unwrap();
            tcp.write_all(b"through the tunnel").await.unwrap();
            tcp.shutdown().await.unwrap();
            let mut v = Vec::new();
            tcp.read_to_end(&mut v).await.unwrap();
            v
        });
        let (mut ch, from) = s.accept().await.unwrap();
        assert_eq!((from.address.as_str(), from.port), ("127.0.0.1", port));
        let mut got = Vec::new();
        ch.read_to_end(&mut got).await.unwrap();
        ch.write_all(&got.to_ascii_uppercase()).await.unwrap();
        drop(ch);
        assert_eq!(dial.await.unwrap(), b"THROUGH THE TUNNEL");
        s.cancel_port_forward("127.0.0.1", port).await.unwrap();
        let gone = tokio::net::TcpStream::connect(("127.0.0.1", port as u16)).await;
        assert!(gone.is_err(), "the forward still listens after the cancel");

        // A connection holds at most MAX_REMOTE_FORWARDS; a cancel makes room again.
        let mut ports = Vec::new();
        for _ in 0..ssh_tokio::ssh_proto::driver::MAX_REMOTE_FORWARDS {
            ports.push(s.request_port_forward_queued("127.0.0.1", 0).await.unwrap());
        }
        assert!(matches!(s.request_port_forward_queued("127.0.0.1", 0).await, Err(Error::RequestRefused(_))));
        s.cancel_port_forward("127.0.0.1", ports[0]).await.unwrap();
        s.request_port_forward_queued("127.0.0.1", 0).await.unwrap();
    })
    .await
    .expect("within the time limit");
    server.stop.stop();
}

/// A decision that awaits holds up its own connection only: another connection logs in
/// and runs a command meanwhile, and on one connection a channel keeps moving data while
/// another channel's exec check awaits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_awaited_decision_holds_up_only_its_own_connection() {
    let server = start().await;
    timeout(LIMIT, async {
        let slow = connect(server.addr).await;
        let t = Instant::now();
        let slow_auth = tokio::spawn(async move {
            let outcome = slow.auth_password("slow", "pw").await.unwrap();
            (outcome, slow)
        });
        let s = alice(&server).await;
        assert_eq!(exec(&s, "fail", b"").await.2, Some(ExitStatus::Code(9)));
        let other = t.elapsed();
        let (outcome, _slow) = slow_auth.await.unwrap();
        assert_eq!(outcome, AuthOutcome::Success);
        assert!(t.elapsed() >= SLOW);
        assert!(other < SLOW, "another connection waited for the slow decision: {other:?}");

        // On one connection: cat moves 1 MiB while the other channel's check awaits.
        let cat = s.open_session().await.unwrap();
        cat.exec("cat").await.unwrap();
        let s = Arc::new(s);
        let t = Instant::now();
        let slow_exec = {
            let s = Arc::clone(&s);
            tokio::spawn(async move {
                let ch = s.open_session().await.unwrap();
                ch.exec("slow-check").await.unwrap();
                t.elapsed()
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        let data = pattern(1 << 20, 9);
        let (mut r, mut w) = tokio::io::split(cat);
        let sent = data.clone();
        let writing = tokio::spawn(async move {
            w.write_all(&sent).await.unwrap();
            w.shutdown().await.unwrap();
        });
        let mut back = Vec::new();
        r.read_to_end(&mut back).await.unwrap();
        writing.await.unwrap();
        let moved = t.elapsed();
        assert!(back == data);
        let checked = slow_exec.await.unwrap();
        assert!(checked >= SLOW, "the exec check returned after {checked:?}");
        assert!(moved < SLOW, "data waited for another channel's decision: {moved:?}");

        // A channel closed while its request is being decided: the late answer is
        // dropped, and the connection serves on.
        let ch = s.open_session().await.unwrap();
        let asked = tokio::spawn(async move {
            let _ = timeout(Duration::from_millis(50), ch.exec("slow-check")).await;
            // Dropped here: the channel closes before the check returns.
        });
        asked.await.unwrap();
        tokio::time::sleep(SLOW).await;
        assert_eq!(exec(&s, "after", b"").await.0, b"after");
    })
    .await
    .expect("within the time limit");
    server.stop.stop();
}

/// The key file `ssh -i` reads, in `dir`.
fn key_file(dir: &Path, user: &KeyPair) -> std::path::PathBuf {
    let path = dir.join("id");
    let text = encode_private_key(user.private_key(), PrivateKeyFormat::OpenSsh, None, &mut SeededRng::new(1)).unwrap();
    std::fs::write(&path, text.as_bytes()).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    path
}

/// `ssh` to the server as alice with `options` (each `-o` or a flag).
/// No known_hosts: each test's host keys are new, and parallel cases must not share a file.
fn ssh(addr: SocketAddr, key: &Path, options: &[&str], command: &str) -> Command {
    let mut cmd = Command::new("ssh");
    cmd.args(["-F", "/dev/null", "-p", &addr.port().to_string(), "-i"])
        .arg(key)
        .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "IdentitiesOnly=yes"])
        .args(["-o", "UserKnownHostsFile=/dev/null"])
        .args(options)
        .arg("alice@127.0.0.1");
    if !command.is_empty() {
        cmd.arg(command);
    }
    cmd
}

/// Waits until `addr` accepts a connection.
fn wait_listening(addr: SocketAddr) {
    let until = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(Instant::now() < until, "{addr} never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A free loopback port (bound, then released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn openssh_client_against_the_async_server() {
    require_peers!(Peer::Ssh);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let server = rt.block_on(start());
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), &server.user);
    let limit = Duration::from_secs(60);

    let out = run(&mut ssh(server.addr, &key, &[], "fail"), limit).unwrap();
    assert_eq!((out.status.code(), out.stdout.as_str()), (Some(9), "some output\n"), "{}", out.stderr);
    assert!(out.stderr.contains("went wrong"), "{}", out.stderr);
    let data: Vec<u8> = (0..4u32 << 20).map(|i| b'a' + (i % 26) as u8).collect();
    let out = run_with_input(&mut ssh(server.addr, &key, &[], "cat"), &data, limit).unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    assert!(out.stdout.as_bytes() == data, "cat returned {} bytes of {}", out.stdout.len(), data.len());
    // -t -t: a pty with the terminal's name; SendEnv passes what the handler accepts.
    let options = ["-t", "-t", "-o", "SendEnv=LC_TEST FOO_TEST"];
    let mut cmd = ssh(server.addr, &key, &options, "setup");
    cmd.env("LC_TEST", "yes").env("FOO_TEST", "no").env("TERM", "vt220");
    let out = run(&mut cmd, limit).unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    assert!(out.stdout.starts_with("env=[(\"LC_TEST\", \"yes\")] pty=Some(\"vt220 "), "{}", out.stdout);

    // -L and -R with an echo server behind, 1 MiB each way.
    let echo = EchoServer::start().unwrap();
    let data = pattern(1 << 20, 11);
    let local = free_port();
    let spec = format!("127.0.0.1:{local}:127.0.0.1:{}", echo.addr().port());
    let mut forward = ssh(server.addr, &key, &["-N", "-L", &spec], "");
    let mut child = test_support::process::ChildGuard::new(forward.stdin(Stdio::null()).spawn().unwrap(), "ssh -L");
    wait_listening(SocketAddr::from(([127, 0, 0, 1], local)));
    let back = test_support::round_trip(SocketAddr::from(([127, 0, 0, 1], local)), &data).unwrap();
    assert!(back == data, "-L: {} of {} bytes back", back.len(), data.len());
    child.kill();
    let remote = free_port();
    let spec = format!("127.0.0.1:{remote}:127.0.0.1:{}", echo.addr().port());
    let mut forward = ssh(server.addr, &key, &["-N", "-o", "ExitOnForwardFailure=yes", "-R", &spec], "");
    let mut child = test_support::process::ChildGuard::new(forward.stdin(Stdio::null()).spawn().unwrap(), "ssh -R");
    wait_listening(SocketAddr::from(([127, 0, 0, 1], remote)));
    let back = test_support::round_trip(SocketAddr::from(([127, 0, 0, 1], remote)), &data).unwrap();
    assert!(back == data, "-R: {} of {} bytes back", back.len(), data.len());
    child.kill();
    server.stop.stop();
}

/// OpenSSH's `ssh` against the async server for every kex, host key, cipher and MAC both
/// support, one at a time on a base set, plus compression: each case negotiates what it
/// asked for and moves 64 KiB through `cat`.
#[test]
fn openssh_client_algorithm_matrix() {
    require_peers!(Peer::Ssh);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut config = server::Config::new(test_support::fixtures::fixtures().iter().map(|f| f.host_key()).collect());
    config.transport.algorithms = test_support::algos::all_algorithms();
    let user = Arc::new(KeyPair::generate_ed25519(&mut SeededRng::new(5)));
    let server = rt.block_on(start_with(config, user));
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), &server.user);
    let cases: Vec<_> = SshdAlgorithms::ssh_client()
        .unwrap()
        .one_at_a_time()
        .into_iter()
        .filter(|c| !HostKeyAlgorithm::is_certificate(c.host_key))
        .collect();
    // Text: the helper reads stdout as a string.
    let data: Vec<u8> = (0..64u32 << 10).map(|i| b'a' + (i % 26) as u8).collect();
    let report = run_matrix("ssh -> ssh-tokio server, one algorithm at a time", &cases, default_workers(), |c| {
        let mut options = vec![
            format!("KexAlgorithms={}", c.kex.name()),
            format!("HostKeyAlgorithms={}", c.host_key.name()),
            format!("Ciphers={}", c.cipher.name()),
            format!("Compression={}", if c.compression == Compression::None { "no" } else { "yes" }),
        ];
        if let Some(mac) = c.mac {
            options.push(format!("MACs={}", mac.name()));
        }
        let args: Vec<String> =
            options.iter().flat_map(|o| ["-o".to_owned(), o.clone()]).chain(["-v".into()]).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run_with_input(&mut ssh(server.addr, &key, &args, "cat"), &data, Duration::from_secs(60))?;
        if out.status.code() != Some(0) || out.stdout.as_bytes() != data {
            return Err(format!(
                "exit {:?}, {} bytes back: {}",
                out.status.code(),
                out.stdout.len(),
                test_support::process::tail(&out.stderr, 600)
            ));
        }
        let mac = c.mac.map_or("<implicit>", |m| m.name());
        let mut needles = vec![
            format!("kex: algorithm: {}", c.kex.name()),
            format!("kex: host key algorithm: {}", c.host_key.name()),
        ];
        for dir in ["server->client", "client->server"] {
            needles.push(format!(
                "kex: {dir} cipher: {} MAC: {mac} compression: {}",
                c.cipher.name(),
                c.compression.name()
            ));
        }
        match needles.iter().find(|n| !out.stderr.contains(n.as_str())) {
            Some(missing) => Err(format!("ssh -v does not show {missing:?}")),
            None => Ok(()),
        }
    });
    report.assert_ok();
    server.stop.stop();
}

/// `ssh` downloads 1 GiB from the async server, whose RekeyLimit of 48 MiB forces a key
/// exchange every 48 MiB; every byte is checked against its position.
#[test]
fn openssh_client_gigabyte_with_forced_rekeys() {
    require_peers!(Peer::Ssh);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut rng = SeededRng::new(8);
    let mut config = server::Config::new(vec![HostKey::generate_ed25519(&mut rng)]);
    config.transport.rekey = RekeyPolicy { bytes: 48 << 20, time: None };
    let server = rt.block_on(start_with(config, Arc::new(KeyPair::generate_ed25519(&mut rng))));
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), &server.user);
    const LEN: u64 = 1 << 30;
    let mut cmd = ssh(server.addr, &key, &["-v"], &format!("yes {LEN}"));
    let child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut child = test_support::process::ChildGuard::new(child, "ssh 1 GiB");
    let mut stderr = child.child_mut().stderr.take().unwrap();
    let errors = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut stdout = child.child_mut().stdout.take().unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let expect: Vec<u8> = LINE.iter().copied().cycle().take(buf.len() + LINE.len()).collect();
    let (mut total, mut bad) = (0u64, 0u64);
    let t = Instant::now();
    loop {
        assert!(t.elapsed() < Duration::from_secs(300), "1 GiB took too long");
        let n = stdout.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        let at = (total % LINE.len() as u64) as usize;
        bad += u64::from(buf[..n] != expect[at..at + n]);
        total += n as u64;
    }
    let status = child.child_mut().wait().unwrap();
    let errors = errors.join().unwrap();
    assert_eq!((total, bad), (LEN, 0), "length, and reads that differed from the pattern");
    assert!(status.success(), "{status}: {}", test_support::process::tail(&errors, 800));
    let rekeys = errors.matches("SSH2_MSG_NEWKEYS received").count();
    assert!(rekeys >= 21, "only {rekeys} key exchanges (initial included) over 1 GiB with RekeyLimit 48M");
    eprintln!("{rekeys} key exchanges over 1 GiB in {:?}", t.elapsed());
    server.stop.stop();
}

/// X11 forwarding both ways through the async driver: the client asks with `request_x11`
/// (a refused protocol is an error), the server's command opens an `x11` channel back, and
/// the client's handler answers it. Then the stream settings: `combine_stderr` puts standard
/// error into standard output, `shutdown_read` discards 8 MiB without holding the window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x11_forwarding_and_stream_settings() {
    let server = start().await;
    timeout(LIMIT, async {
        let s = alice(&server).await;
        s.set_x11_handler(|mut ch, address, port| {
            tokio::spawn(async move {
                let mut hello = Vec::new();
                ch.read_to_end(&mut hello).await.unwrap();
                let answer = format!("{} from {address}:{port}", String::from_utf8_lossy(&hello));
                ch.write_all(answer.as_bytes()).await.unwrap();
                ch.shutdown().await.unwrap();
                let _ = ch.exit_status().await;
            });
        });
        let mut ch = s.open_session().await.unwrap();
        assert!(matches!(ch.request_x11("XDM-AUTHORIZATION-1", "00", 0, false).await, Err(Error::RequestRefused(_))));
        ch.request_x11("MIT-MAGIC-COOKIE-1", "0123abcd", 0, false).await.unwrap();
        ch.exec("x11").await.unwrap();
        let mut out = String::new();
        ch.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "hello X from 10.0.0.9:6010 (cookie 0123abcd)");
        assert_eq!(ch.exit_status().await.unwrap(), Some(ExitStatus::Code(0)));
        // Without the request, the command's open is refused.
        let ch = s.open_session().await.unwrap();
        ch.exec("x11").await.unwrap();
        assert_eq!(ch.exit_status().await.unwrap(), Some(ExitStatus::Code(2)));

        let mut ch = s.open_session().await.unwrap();
        ch.combine_stderr();
        ch.exec("fail").await.unwrap();
        let mut out = String::new();
        ch.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "some output\nwent wrong\n");
        assert_eq!(ch.exit_status().await.unwrap(), Some(ExitStatus::Code(9)));

        let ch = s.open_session().await.unwrap();
        ch.shutdown_read();
        ch.exec(&format!("yes {}", 8 << 20)).await.unwrap();
        assert_eq!(ch.exit_status().await.unwrap(), Some(ExitStatus::Code(0)), "discarded output held the window");
    })
    .await
    .unwrap();
    server.stop.stop();
}
