//! Paramiko both ways.
//!
//! A. Paramiko's `SSHClient` / `Transport` (`python/paramiko_plan_client.py`) against our
//!    [`Server`]: key (Ed25519 and RSA files written by our key writers), password and
//!    keyboard-interactive logins and refusals; exec with separate stdout / stderr, exit
//!    status, 16 MiB through `cat`, parallel channels, both streams flooded at once; a
//!    panicking handler; rekeys; env; pty + shell + resize; agent forwarding to
//!    `ServerSession::open_agent_channel`; direct-tcpip; remote forwarding
//!    (`Transport.request_port_forward`, refusals, cancel, end of connection).
//! B. Our [`Client`] / `Session` against a Paramiko server (`python/paramiko_app_server.py`):
//!    known_hosts policies, exec, env, both streams flooded, rekeys, pty + shell,
//!    keyboard-interactive, `-L` and `-R` (two forwards routed by port).
//!
//! Every byte stream is compared whole; every wait is bounded. `PARAMIKO_DEBUG=1` turns on
//! the Paramiko server's DEBUG log (printed in failure messages).

mod common;

use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use ssh_blocking::ssh_proto::auth::{InfoRequest, Prompt};
use ssh_blocking::ssh_proto::connection::{ChannelKind, ExitStatus, PtyRequest};
use ssh_blocking::ssh_proto::keys::file::{PrivateKeyFormat, encode_private_key};
use ssh_blocking::ssh_proto::keys::generate::{KeyType, generate};
use ssh_blocking::ssh_proto::ssh_key::PublicKey;
use ssh_blocking::ssh_proto::{HostKey, KeyPair, SeededRng, client, server};
use ssh_blocking::{
    AuthDecision, AuthOutcome, Channel, Client, ConnectOptions, Error, Interactive, LocalForward, RemoteForward,
    Server, ServerHandler, ServerSession, SessionControl, StopHandle, Timeouts, UnknownHostPolicy,
};
use test_support::serde_json::{Value, json};
use test_support::{EchoServer, Peer, ScriptProcess, SshAgent, pattern, require_peers};

const WAIT: Duration = Duration::from_secs(60);
const BIG: usize = 16 << 20;

fn write_private(path: &Path, key: &KeyPair, format: PrivateKeyFormat) {
    let text = encode_private_key(key.private_key(), format, None, &mut SeededRng::new(3)).unwrap();
    std::fs::write(path, text.as_bytes()).unwrap();
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
}

fn rsa_key(seed: u64) -> KeyPair {
    KeyPair::new(generate(KeyType::Rsa(2048), &mut SeededRng::new(seed)).unwrap()).unwrap()
}

fn openssh_line(key: &PublicKey) -> String {
    key.to_openssh().unwrap().split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

/// Sends `data` to `addr` from one thread while reading the answer in this one; returns what
/// came back and the local port the connection came from.
fn tcp_round_trip(addr: SocketAddr, data: &[u8]) -> (Vec<u8>, u16) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.set_write_timeout(Some(WAIT)).unwrap();
    let local = s.local_addr().unwrap().port();
    let mut r = s.try_clone().unwrap();
    let sent = data.to_vec();
    let w = thread::spawn(move || {
        s.write_all(&sent).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
    });
    let mut got = Vec::new();
    r.read_to_end(&mut got).unwrap();
    w.join().unwrap();
    (got, local)
}

/// Polls until nothing listens on `addr` any more (a refused or immediately closed
/// connection), for at most 10 s.
fn wait_until_closed(addr: SocketAddr) -> bool {
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            Err(_) => return true,
            Ok(mut s) => {
                // Accepted by a listener on its way out: it must not carry anything.
                s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                let mut b = [0u8; 1];
                let _ = s.write_all(b"x");
                if matches!(s.read(&mut b), Ok(0) | Err(_)) {
                    thread::sleep(Duration::from_millis(50));
                    continue;
                }
                return false;
            }
        }
    }
    false
}

// ---------------------------------------------------------------------------------------
// A. Paramiko's client against our server
// ---------------------------------------------------------------------------------------

/// What the handler saw, for the tests to check from the server's side.
#[derive(Default, Debug)]
struct Seen {
    /// (user, method) of each accepted login.
    logins: Vec<(String, String)>,
    /// Bytes each `cat` read.
    cat_bytes: Vec<usize>,
    /// The env of each `env` command.
    envs: Vec<Vec<(String, String)>>,
    /// The pty of each shell.
    ptys: Vec<Option<PtyRequest>>,
    /// Controls that reached a running shell.
    controls: Vec<SessionControl>,
    /// (address, port) of each tcpip-forward request.
    forwards: Vec<(String, u16)>,
    /// Key blobs the forwarded agent listed.
    agent_keys: Vec<Vec<u8>>,
}

struct AppHandler {
    keys: Vec<PublicKey>,
    seen: Arc<Mutex<Seen>>,
}

impl AppHandler {
    fn login(&self, user: &str, method: &str) -> AuthDecision {
        self.seen.lock().unwrap().logins.push((user.to_owned(), method.to_owned()));
        AuthDecision::Accept
    }
}

/// One line of a channel's input (without the newline), or `None` at EOF or error.
fn read_line(ch: &mut Channel, pending: &mut Vec<u8>) -> Option<String> {
    loop {
        if let Some(at) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=at).collect();
            return Some(String::from_utf8_lossy(&line[..at]).trim_end_matches('\r').to_owned());
        }
        let mut buf = [0u8; 4096];
        match ch.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => pending.extend_from_slice(&buf[..n]),
        }
    }
}

impl ServerHandler for AppHandler {
    fn check_auth_publickey(&self, user: &str, key: &PublicKey) -> AuthDecision {
        if user == "alice" && self.keys.iter().any(|k| k.key_data() == key.key_data()) {
            self.login(user, key.algorithm().as_str())
        } else {
            AuthDecision::Reject
        }
    }
    fn check_auth_password(&self, user: &str, password: &str) -> AuthDecision {
        if user == "bob" && password == "hunter22" { self.login(user, "password") } else { AuthDecision::Reject }
    }
    fn check_auth_interactive(&self, user: &str, _submethods: &[String]) -> Interactive {
        if user != "carol" {
            return Interactive::Decide(AuthDecision::Reject);
        }
        Interactive::Prompts(InfoRequest {
            name: "two questions".into(),
            instruction: "answer both".into(),
            prompts: vec![
                Prompt { text: "Password: ".into(), echo: false },
                Prompt { text: "Code: ".into(), echo: true },
            ],
        })
    }
    fn check_auth_interactive_response(&self, user: &str, answers: &[&str]) -> Interactive {
        Interactive::Decide(if answers == ["pw", "1234"] {
            self.login(user, "keyboard-interactive")
        } else {
            AuthDecision::Reject
        })
    }
    fn check_channel_request(&self, kind: &ChannelKind) -> bool {
        match kind {
            ChannelKind::Session => true,
            ChannelKind::DirectTcpip { host, .. } => host == "127.0.0.1",
            _ => false,
        }
    }
    fn check_port_forward_request(&self, address: &str, port: u16) -> Option<SocketAddr> {
        self.seen.lock().unwrap().forwards.push((address.to_owned(), port));
        // sshd's `GatewayPorts no`: loopback, the asked port (0: any).
        (address == "127.0.0.1").then_some(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
    }
    fn check_pty_request(&self, _pty: &PtyRequest) -> bool {
        true
    }
    fn check_env_request(&self, name: &str, _value: &str) -> bool {
        !name.starts_with("REFUSED_")
    }
    fn check_exec_request(&self, _command: &[u8]) -> bool {
        true
    }
    fn check_shell_request(&self) -> bool {
        true
    }
    fn check_agent_forward_request(&self) -> bool {
        true
    }
    fn check_x11_request(&self, x11: &ssh_blocking::X11Forwarding) -> bool {
        x11.auth_protocol == "MIT-MAGIC-COOKIE-1"
    }
    /// `fail`: output on both streams, exit 9; `cat`: echo stdin; `env`: the accepted
    /// variables as NAME=VALUE lines; `flood N`: N pattern bytes on each stream,
    /// interleaved; `agent-list`: the forwarded agent's key count; `echo WORDS`; `exit N`;
    /// `panic`: the handler panics; `x11`: one X client through the client's display,
    /// printing what came back and the accepted X11 setup.
    fn exec(&self, session: &mut ServerSession, command: &[u8]) -> ExitStatus {
        let command = String::from_utf8_lossy(command).into_owned();
        let ch = &mut session.channel;
        ch.set_timeout(Some(WAIT));
        match command.as_str() {
            "fail" => {
                let _ = ch.write_all(b"some output\n");
                let _ = ch.write_stderr(b"went wrong\n");
                ExitStatus::Code(9)
            }
            "cat" => {
                let mut buf = vec![0u8; 64 * 1024];
                let mut total = 0;
                loop {
                    match ch.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            total += n;
                            if ch.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                    }
                }
                self.seen.lock().unwrap().cat_bytes.push(total);
                ExitStatus::Code(0)
            }
            "env" => {
                for (k, v) in &session.env {
                    let _ = session.channel.write_all(format!("{k}={v}\n").as_bytes());
                }
                self.seen.lock().unwrap().envs.push(session.env.clone());
                ExitStatus::Code(0)
            }
            "panic" => panic!("handler bug (on purpose)"),
            "x11" => common::serve_one_x11_client(session),
            "agent-list" => match list_agent(session) {
                Ok(keys) => {
                    let _ = session.channel.write_all(format!("{} keys\n", keys.len()).as_bytes());
                    self.seen.lock().unwrap().agent_keys.extend(keys);
                    ExitStatus::Code(0)
                }
                Err(e) => {
                    let _ = session.channel.write_stderr(format!("agent: {e}\n").as_bytes());
                    ExitStatus::Code(2)
                }
            },
            other => {
                if let Some(n) = other.strip_prefix("flood ") {
                    let n: usize = n.parse().unwrap_or(0);
                    let (out, err) = (pattern(n, 300), pattern(n, 301));
                    for at in (0..n).step_by(32 * 1024) {
                        let end = (at + 32 * 1024).min(n);
                        if ch.write_all(&out[at..end]).is_err() || ch.write_stderr(&err[at..end]).is_err() {
                            return ExitStatus::Code(1);
                        }
                    }
                    ExitStatus::Code(0)
                } else if let Some(words) = other.strip_prefix("echo ") {
                    let _ = ch.write_all(format!("{words}\n").as_bytes());
                    ExitStatus::Code(0)
                } else if let Some(n) = other.strip_prefix("exit ") {
                    ExitStatus::Code(n.parse().unwrap_or(1))
                } else {
                    let _ = ch.write_stderr(b"unknown command\n");
                    ExitStatus::Code(127)
                }
            }
        }
    }
    /// First line `pty TERM COLSxROWS`; then `resize?` waits for a window-change and
    /// answers `winch COLSxROWS`; `exit N` ends with N; other lines are echoed.
    fn shell(&self, session: &mut ServerSession) -> ExitStatus {
        session.channel.set_timeout(Some(WAIT));
        self.seen.lock().unwrap().ptys.push(session.pty.clone());
        let first = match &session.pty {
            Some(p) => format!("pty {} {}x{}\n", p.term, p.cols, p.rows),
            None => "no pty\n".to_owned(),
        };
        let _ = session.channel.write_all(first.as_bytes());
        let mut pending = Vec::new();
        while let Some(line) = read_line(&mut session.channel, &mut pending) {
            let answer = if line == "resize?" {
                match session.control_timeout(Duration::from_secs(20)) {
                    Some(c) => {
                        self.seen.lock().unwrap().controls.push(c.clone());
                        match c {
                            SessionControl::WindowChange { cols, rows, .. } => format!("winch {cols}x{rows}\n"),
                            other => format!("control {other:?}\n"),
                        }
                    }
                    None => "no control\n".to_owned(),
                }
            } else if let Some(n) = line.strip_prefix("exit ") {
                return ExitStatus::Code(n.parse().unwrap_or(1));
            } else {
                format!("echo: {line}\n")
            };
            if session.channel.write_all(answer.as_bytes()).is_err() {
                break;
            }
        }
        ExitStatus::Code(0)
    }
}

/// Asks the client's forwarded agent for its identities over
/// [`ServerSession::open_agent_channel`] (SSH_AGENTC_REQUEST_IDENTITIES) and returns the
/// key blobs of the answer.
fn list_agent(session: &ServerSession) -> Result<Vec<Vec<u8>>, String> {
    if !session.agent_forwarding {
        return Err("agent forwarding was not requested".into());
    }
    let mut ch = session.open_agent_channel().map_err(|e| e.to_string())?;
    ch.set_timeout(Some(WAIT));
    ch.write_all(&[0, 0, 0, 1, 11]).map_err(|e| e.to_string())?;
    let mut len = [0u8; 4];
    ch.read_exact(&mut len).map_err(|e| e.to_string())?;
    let mut msg = vec![0u8; u32::from_be_bytes(len) as usize];
    ch.read_exact(&mut msg).map_err(|e| e.to_string())?;
    let mut r = msg.as_slice();
    let mut take = |n: usize| -> Result<Vec<u8>, String> {
        if r.len() < n {
            return Err("short agent answer".into());
        }
        let (a, b) = r.split_at(n);
        r = b;
        Ok(a.to_vec())
    };
    if take(1)? != [12] {
        return Err("not SSH_AGENT_IDENTITIES_ANSWER".into());
    }
    let count = u32::from_be_bytes(take(4)?.try_into().unwrap());
    let mut blobs = Vec::new();
    for _ in 0..count {
        let n = u32::from_be_bytes(take(4)?.try_into().unwrap()) as usize;
        blobs.push(take(n)?);
        let n = u32::from_be_bytes(take(4)?.try_into().unwrap()) as usize;
        take(n)?; // comment
    }
    Ok(blobs)
}

/// Our server on loopback with its known_hosts line, user key files, and what it saw.
struct OurServer {
    addr: SocketAddr,
    stop: StopHandle,
    seen: Arc<Mutex<Seen>>,
    host_keys: Vec<String>,
    known_hosts: PathBuf,
    ed25519: PathBuf,
    rsa: PathBuf,
    stranger: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for OurServer {
    fn drop(&mut self) {
        self.stop.stop();
    }
}

fn our_server() -> OurServer {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = SeededRng::new(41);
    let ed_host = HostKey::generate_ed25519(&mut rng);
    let rsa_host = test_support::fixtures::fixture("rsa2048").plain_host_key();
    let host_keys = vec![openssh_line(ed_host.public_key()), openssh_line(rsa_host.public_key())];
    let ed_user = KeyPair::generate_ed25519(&mut rng);
    let rsa_user = rsa_key(42);
    let stranger = KeyPair::generate_ed25519(&mut rng);
    let seen = Arc::new(Mutex::new(Seen::default()));
    let handler =
        AppHandler { keys: vec![ed_user.public_key().clone(), rsa_user.public_key().clone()], seen: Arc::clone(&seen) };
    let server = Server::bind("127.0.0.1:0", server::Config::new(vec![ed_host, rsa_host]), handler).unwrap();
    let addr = server.local_addr().unwrap();
    let stop = server.stop_handle().unwrap();
    thread::spawn(move || server.serve());

    let known_hosts = dir.path().join("known_hosts");
    let lines: String = host_keys.iter().map(|k| format!("[127.0.0.1]:{} {k}\n", addr.port())).collect();
    std::fs::write(&known_hosts, lines).unwrap();
    let (ed25519, rsa, stranger_path) =
        (dir.path().join("id_ed25519"), dir.path().join("id_rsa"), dir.path().join("x"));
    // Two of our writers: the OpenSSH format and traditional PEM (Paramiko's own format).
    write_private(&ed25519, &ed_user, PrivateKeyFormat::OpenSsh);
    write_private(&rsa, &rsa_user, PrivateKeyFormat::Pem);
    write_private(&stranger_path, &stranger, PrivateKeyFormat::OpenSsh);
    OurServer { addr, stop, seen, host_keys, known_hosts, ed25519, rsa, stranger: stranger_path, _dir: dir }
}

enum Auth<'a> {
    Key(&'a Path),
    Password(&'a str),
    Interactive(&'a [&'a str]),
}

/// Starts `paramiko_plan_client.py` against `srv` running `plan`, with `extra` options.
fn paramiko_plan(srv: &OurServer, user: &str, auth: &Auth<'_>, plan: &Value, extra: &[&str]) -> ScriptProcess {
    let mut args: Vec<OsString> =
        ["--port", &srv.addr.port().to_string(), "--user", user, "--known-hosts"].iter().map(OsString::from).collect();
    args.push(srv.known_hosts.clone().into());
    args.extend(["--plan".into(), plan.to_string().into(), "--timeout".into(), "30".into()]);
    match auth {
        Auth::Key(path) => args.extend(["--key".into(), path.as_os_str().to_owned()]),
        Auth::Password(p) => args.extend(["--password".into(), OsString::from(p)]),
        Auth::Interactive(answers) => {
            args.push("--interactive".into());
            args.extend(answers.iter().map(OsString::from));
        }
    }
    args.extend(extra.iter().map(OsString::from));
    ScriptProcess::start("paramiko_plan_client.py", &args).unwrap()
}

/// The auth event and one event per step, until "done"; fails on an "error" event.
fn run_plan(srv: &OurServer, user: &str, auth: &Auth<'_>, plan: &Value) -> (Value, Vec<Value>) {
    run_plan_with(srv, user, auth, plan, &[])
}

fn run_plan_with(srv: &OurServer, user: &str, auth: &Auth<'_>, plan: &Value, extra: &[&str]) -> (Value, Vec<Value>) {
    let mut p = paramiko_plan(srv, user, auth, plan, extra);
    let login = p.recv_json(WAIT).unwrap();
    assert_eq!(login["event"], "auth", "{login}");
    let mut steps = Vec::new();
    if login["ok"] == true {
        loop {
            let ev = p.recv_json(WAIT).unwrap();
            match ev["event"].as_str() {
                Some("step") => steps.push(ev),
                Some("done") => break,
                _ => panic!("paramiko: {ev}; stderr: {}", p.log()),
            }
        }
    }
    let status = p.wait(Duration::from_secs(30)).unwrap();
    assert_eq!(status.success(), login["ok"] == true, "exit {status}; stderr: {}", p.log());
    (login, steps)
}

fn exec_step(command: &str) -> Value {
    json!({"op": "exec", "command": command})
}

/// Every way Paramiko logs in, checked on both sides, and refusals surface as
/// `AuthenticationException`.
#[test]
fn paramiko_logs_in_to_our_server() {
    require_peers!(Peer::Paramiko);
    let srv = our_server();
    let plan = json!([exec_step("echo logged in")]);
    let cases: [(&str, Auth<'_>, &str); 4] = [
        ("alice", Auth::Key(&srv.ed25519), "ssh-ed25519"),
        ("alice", Auth::Key(&srv.rsa), "ssh-rsa"),
        ("bob", Auth::Password("hunter22"), "password"),
        ("carol", Auth::Interactive(&["pw", "1234"]), "keyboard-interactive"),
    ];
    for (user, auth, method) in &cases {
        let (login, steps) = run_plan(&srv, user, auth, &plan);
        assert_eq!(login["ok"], true, "{user} {method}: {login}");
        // Paramiko checked the host key against known_hosts; it is one of ours.
        let key = login["server_key"].as_str().unwrap();
        assert!(srv.host_keys.iter().any(|k| k == key), "{key}");
        assert_eq!(steps[0]["stdout"], "logged in\n", "{}", steps[0]);
        assert_eq!(steps[0]["status"], 0);
        let last = srv.seen.lock().unwrap().logins.last().cloned();
        assert_eq!(last, Some(((*user).to_owned(), (*method).to_owned())));
        if let Auth::Interactive(_) = auth {
            assert_eq!(
                login["prompts"],
                json!([{"title": "two questions", "instructions": "answer both",
                        "prompts": [["Password: ", false], ["Code: ", true]]}])
            );
        }
    }
    assert_eq!(srv.seen.lock().unwrap().logins.len(), 4);

    let refused: [(&str, Auth<'_>); 4] = [
        ("bob", Auth::Password("wrong")),
        ("alice", Auth::Key(&srv.stranger)),
        ("carol", Auth::Interactive(&["pw", "0000"])),
        ("mallory", Auth::Password("hunter22")),
    ];
    for (user, auth) in &refused {
        let (login, steps) = run_plan(&srv, user, auth, &plan);
        assert_eq!(login["ok"], false, "{user}: {login}");
        assert_eq!(login["is_auth_error"], true, "{user}: {login}");
        assert!(login["error"].as_str().unwrap().ends_with("AuthenticationException"), "{login}");
        assert!(steps.is_empty());
    }
    assert_eq!(srv.seen.lock().unwrap().logins.len(), 4, "a refused login was accepted");
}

/// exec_command: stdout and stderr apart, exit statuses, 16 MiB through `cat` from a
/// feeding thread, three `cat`s at once on one connection, a panicking handler that ends
/// only its channel, and 8 MiB on each of stdout and stderr at once.
#[test]
fn paramiko_exec_on_our_server() {
    require_peers!(Peer::Paramiko);
    let srv = our_server();
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in"), dir.path().join("out"));
    let (flood_out, flood_err) = (dir.path().join("flood.out"), dir.path().join("flood.err"));
    let data = pattern(BIG, 1);
    std::fs::write(&input, &data).unwrap();
    let small: Vec<(PathBuf, PathBuf, Vec<u8>)> = (0..3u64)
        .map(|k| {
            let (i, o) = (dir.path().join(format!("in{k}")), dir.path().join(format!("out{k}")));
            let d = pattern(4 << 20, 100 + k);
            std::fs::write(&i, &d).unwrap();
            (i, o, d)
        })
        .collect();
    let parallel: Vec<Value> = small
        .iter()
        .map(|(i, o, _)| json!({"op": "exec", "command": "cat", "stdin_file": i, "stdout_file": o}))
        .collect();
    let plan = json!([
        exec_step("fail"),
        {"op": "exec", "command": "cat", "stdin_file": input, "stdout_file": output},
        exec_step("exit 42"),
        exec_step("panic"),
        exec_step("echo still here"),
        {"op": "parallel", "steps": parallel},
        exec_step("echo after"),
        {"op": "exec", "command": format!("flood {}", 8 << 20), "stdout_file": flood_out, "stderr_file": flood_err},
    ]);
    let started = Instant::now();
    let (login, steps) = run_plan(&srv, "alice", &Auth::Key(&srv.ed25519), &plan);
    assert_eq!(login["ok"], true, "{login}");
    assert_eq!(steps.len(), 8);
    assert_eq!(
        (&steps[0]["stdout"], &steps[0]["stderr"], &steps[0]["status"]),
        (&json!("some output\n"), &json!("went wrong\n"), &json!(9))
    );
    assert_eq!(steps[1]["status"], 0, "{}", steps[1]);
    assert_eq!(steps[1]["stdout_len"], BIG);
    assert!(std::fs::read(&output).unwrap() == data, "cat changed the bytes");
    assert_eq!(steps[2]["status"], 42);
    // The panic: no output, status 255, channel closed, connection up.
    assert_eq!((&steps[3]["stdout"], &steps[3]["status"]), (&json!(""), &json!(255)), "{}", steps[3]);
    assert_eq!(steps[3]["closed"], true);
    assert_eq!(steps[3]["active"], true);
    assert_eq!((&steps[4]["stdout"], &steps[4]["status"]), (&json!("still here\n"), &json!(0)));
    let results = steps[5]["results"].as_array().unwrap();
    assert_eq!(results.len(), 3, "{}", steps[5]);
    for (r, (_, out, d)) in results.iter().zip(&small) {
        assert_eq!((&r["op"], &r["status"]), (&json!("exec"), &json!(0)), "{r}");
        assert!(std::fs::read(out).unwrap() == *d, "a parallel cat changed the bytes");
    }
    assert_eq!(steps[6]["stdout"], "after\n");
    // Both streams flooded at once, read at once by Paramiko.
    assert_eq!(steps[7]["status"], 0, "{}", steps[7]);
    assert!(std::fs::read(&flood_out).unwrap() == pattern(8 << 20, 300), "flooded stdout differs");
    assert!(std::fs::read(&flood_err).unwrap() == pattern(8 << 20, 301), "flooded stderr differs");
    let mut cats = srv.seen.lock().unwrap().cat_bytes.clone();
    cats.sort_unstable();
    assert_eq!(cats, [4 << 20, 4 << 20, 4 << 20, BIG]);
    eprintln!("paramiko exec plan (16 MiB each way) took {:?}", started.elapsed());
}

/// `Transport.renegotiate_keys` against our server, alone and while two `cat`s run, for
/// ciphers whose MAC covers the sequence number (CTR + HMAC) and one whose nonce does not
/// (GCM): strict kex, agreed in the first exchange, resets sequence numbers at every
/// NEWKEYS (OpenSSH PROTOCOL 1.9 b), as Paramiko does.
#[test]
fn paramiko_rekeys_on_our_server() {
    require_peers!(Peer::Paramiko);
    let srv = our_server();
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<(PathBuf, PathBuf, Vec<u8>)> = (0..2u64)
        .map(|k| {
            let (i, o) = (dir.path().join(format!("in{k}")), dir.path().join(format!("out{k}")));
            let d = pattern(4 << 20, 200 + k);
            std::fs::write(&i, &d).unwrap();
            (i, o, d)
        })
        .collect();
    let cat = |k: usize| json!({"op": "exec", "command": "cat", "stdin_file": files[k].0, "stdout_file": files[k].1});
    let plan = json!([
        exec_step("echo before"),
        {"op": "rekey"},
        exec_step("echo between"),
        {"op": "parallel", "steps": [cat(0), {"op": "rekey"}, cat(1)]},
        exec_step("echo after"),
    ]);
    for cipher in ["aes128-ctr", "aes256-ctr", "aes128-gcm@openssh.com"] {
        let (login, steps) = run_plan_with(&srv, "alice", &Auth::Key(&srv.ed25519), &plan, &["--cipher", cipher]);
        assert_eq!(login["cipher"], cipher, "{login}");
        let outs: Vec<&Value> = [0, 2, 4].iter().map(|i| &steps[*i]["stdout"]).collect();
        assert_eq!(outs, [&json!("before\n"), &json!("between\n"), &json!("after\n")], "{cipher}");
        let results = steps[3]["results"].as_array().unwrap();
        assert!(results[1].get("error").is_none(), "{cipher}: {}", results[1]);
        for (r, (_, out, d)) in [&results[0], &results[2]].into_iter().zip(&files) {
            assert_eq!(r["status"], 0, "{cipher}: {r}");
            assert!(std::fs::read(out).unwrap() == *d, "{cipher}: cat across a rekey changed the bytes");
        }
    }
}

/// Environment by `update_environment` (SSHClient.exec_command's `environment`) and by
/// `set_environment_variable`: the accepted ones reach `ServerSession::env` in order, the
/// refused one does not.
#[test]
fn paramiko_env_reaches_server_session() {
    require_peers!(Peer::Paramiko);
    let srv = our_server();
    let env = json!({"LC_ONE": "first value", "PARAMIKO_TWO": "zwei", "REFUSED_THREE": "no"});
    let plan = json!([
        {"op": "exec", "command": "env", "env": env, "env_mode": "update"},
        {"op": "exec", "command": "env", "env": env, "env_mode": "set"},
    ]);
    let (_, steps) = run_plan(&srv, "bob", &Auth::Password("hunter22"), &plan);
    let want = vec![("LC_ONE".to_owned(), "first value".to_owned()), ("PARAMIKO_TWO".to_owned(), "zwei".to_owned())];
    for step in &steps {
        assert_eq!(step["stdout"], "LC_ONE=first value\nPARAMIKO_TWO=zwei\n", "{step}");
    }
    assert_eq!(srv.seen.lock().unwrap().envs, [want.clone(), want]);
}

/// invoke_shell with get_pty: the handler sees the terminal and size (a `resize_pty`
/// before the shell starts updates it), and `resize_pty` arrives as
/// `SessionControl::WindowChange` while the shell runs.
#[test]
fn paramiko_shell_with_pty_and_resize() {
    require_peers!(Peer::Paramiko);
    let srv = our_server();
    let plan = json!([
        {"op": "shell", "term": "xterm-256color", "cols": 100, "rows": 30, "resize": [132, 43]},
        {"op": "shell", "term": "vt220", "cols": 100, "rows": 30, "pre_resize": [90, 20], "resize": [60, 15]},
    ]);
    let (_, steps) = run_plan(&srv, "alice", &Auth::Key(&srv.ed25519), &plan);
    assert_eq!(steps[0]["lines"], json!(["pty xterm-256color 100x30", "winch 132x43", "echo: say hello"]));
    assert_eq!(steps[0]["status"], 3);
    assert_eq!(steps[1]["lines"], json!(["pty vt220 90x20", "winch 60x15", "echo: say hello"]));
    assert_eq!(steps[1]["status"], 3);
    let seen = srv.seen.lock().unwrap();
    let sizes: Vec<_> = seen.ptys.iter().flatten().map(|p| (p.term.as_str(), p.cols, p.rows)).collect();
    assert_eq!(sizes, [("xterm-256color", 100, 30), ("vt220", 90, 20)]);
    let change = |cols, rows| SessionControl::WindowChange { cols, rows, width_px: 0, height_px: 0 };
    assert_eq!(seen.controls, [change(132, 43), change(60, 15)]);
}

/// `open_channel("direct-tcpip")` through our server's default pump to an echo server,
/// 8 MiB compared whole; a target the handler refuses is a ChannelException.
#[test]
fn paramiko_direct_tcpip_through_our_server() {
    require_peers!(Peer::Paramiko);
    let srv = our_server();
    let echo = EchoServer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in"), dir.path().join("out"));
    let data = pattern(8 << 20, 2);
    std::fs::write(&input, &data).unwrap();
    let plan = json!([
        {"op": "direct_tcpip", "host": "127.0.0.1", "port": echo.addr().port(), "data_file": input, "out_file": output},
        {"op": "direct_tcpip", "host": "192.0.2.1", "port": 9, "data_file": input, "out_file": output},
    ]);
    let (_, steps) = run_plan(&srv, "alice", &Auth::Key(&srv.ed25519), &plan);
    assert_eq!(steps[0]["refused"], false, "{}", steps[0]);
    assert!(std::fs::read(&output).unwrap() == data, "the echo came back different");
    // OPEN_ADMINISTRATIVELY_PROHIBITED
    assert_eq!((&steps[1]["refused"], &steps[1]["code"]), (&json!(true), &json!(1)), "{}", steps[1]);
}

/// A port nothing listens on right now (bound and released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits for the "forwarding" event, runs `conns` connections at once through the bound
/// port (2 MiB each, compared whole), lets Paramiko go on, and checks its step line: each
/// connection reached its handler named by the server's address and the connecting peer.
fn forward_round(p: &mut ScriptProcess, conns: u32, want_port: Option<u16>) -> SocketAddr {
    let ev = p.recv_json(WAIT).unwrap();
    assert_eq!(ev["event"], "forwarding", "{ev}; {}", p.log());
    let port = u16::try_from(ev["port"].as_u64().unwrap()).unwrap();
    assert_ne!(port, 0);
    if let Some(want) = want_port {
        assert_eq!(port, want);
    }
    let bound = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let workers: Vec<_> = (0..conns)
        .map(|k| {
            thread::spawn(move || {
                let data = pattern(2 << 20, 10 + u64::from(k));
                let (got, local) = tcp_round_trip(bound, &data);
                assert!(got == data, "connection {k}: {} of {} bytes", got.len(), data.len());
                local
            })
        })
        .collect();
    let mut locals: Vec<u16> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    p.send_line("next").unwrap();
    let ev = p.recv_json(WAIT).unwrap();
    assert_eq!(ev["op"], "remote_forward", "{ev}");
    let served = ev["connections"].as_array().unwrap();
    assert_eq!(served.len(), conns as usize, "{ev}");
    let mut origins = Vec::new();
    for c in served {
        assert_eq!(c["server"], json!(["127.0.0.1", port]), "{c}");
        assert_eq!(c["origin"][0], "127.0.0.1", "{c}");
        assert_eq!(c["bytes"], 2 << 20, "{c}");
        origins.push(u16::try_from(c["origin"][1].as_u64().unwrap()).unwrap());
    }
    origins.sort_unstable();
    locals.sort_unstable();
    assert_eq!(origins, locals, "forwarded-tcpip names the connecting peer");
    bound
}

/// `Transport.request_port_forward` against our server: the handler's
/// `check_port_forward_request` binds 127.0.0.1 (port 0: any), connections to it reach
/// Paramiko's handler (which echoes) with their origin, bytes round trip; cancelling closes
/// the port; a refused request is Paramiko's SSHException; a forward on a given port that
/// is never cancelled closes when the connection ends.
#[test]
fn paramiko_remote_forward_through_our_server() {
    require_peers!(Peer::Paramiko);
    let srv = our_server();
    let fixed = free_port();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_port = taken.local_addr().unwrap().port();
    let plan = json!([
        {"op": "remote_forward", "address": "127.0.0.1", "port": 0},
        {"op": "remote_forward_refused", "address": "203.0.113.9", "port": 0},
        {"op": "remote_forward_refused", "address": "127.0.0.1", "port": taken_port},
        {"op": "remote_forward", "address": "127.0.0.1", "port": fixed, "cancel": false},
    ]);
    let mut p = paramiko_plan(&srv, "alice", &Auth::Key(&srv.ed25519), &plan, &[]);
    assert_eq!(p.recv_json(WAIT).unwrap()["ok"], true);
    let bound = forward_round(&mut p, 2, None);
    // Paramiko cancelled the forward: our server stopped listening.
    assert!(wait_until_closed(bound), "{bound} still accepts after cancel-tcpip-forward");
    for why in ["handler refused", "port in use"] {
        let ev = p.recv_json(WAIT).unwrap();
        assert_eq!((&ev["op"], &ev["refused"]), (&json!("remote_forward_refused"), &json!(true)), "{why}: {ev}");
    }
    drop(taken);
    let bound = forward_round(&mut p, 1, Some(fixed));
    assert_eq!(p.recv_json(WAIT).unwrap()["event"], "done");
    assert!(p.wait(Duration::from_secs(30)).unwrap().success(), "{}", p.log());
    // Paramiko left without cancelling: the listener went with the connection.
    assert!(wait_until_closed(bound), "{bound} still accepts after the connection ended");
    assert_eq!(
        srv.seen.lock().unwrap().forwards,
        [
            ("127.0.0.1".to_owned(), 0),
            ("203.0.113.9".to_owned(), 0),
            ("127.0.0.1".to_owned(), taken_port),
            ("127.0.0.1".to_owned(), fixed)
        ]
    );
}

/// Paramiko's `AgentRequestHandler` on a session: `ServerSession::agent_forwarding` is set
/// and `open_agent_channel` reaches the agent behind Paramiko (a real ssh-agent holding
/// our key), which lists that key; a session that did not ask is refused the channel.
#[test]
fn paramiko_agent_forwarding_to_our_server() {
    require_peers!(Peer::Paramiko, Peer::SshAgent, Peer::SshAdd);
    let srv = our_server();
    let dir = tempfile::tempdir().unwrap();
    let agent = SshAgent::start(dir.path()).unwrap();
    agent.add(&srv.ed25519).unwrap();
    let sock = agent.socket();
    let plan = json!([
        {"op": "exec", "command": "agent-list", "forward_agent": true},
        {"op": "exec", "command": "agent-list"},
    ]);
    let sock = sock.to_str().unwrap().to_owned();
    let (_, steps) = run_plan_with(&srv, "alice", &Auth::Key(&srv.ed25519), &plan, &["--agent-sock", &sock]);
    assert_eq!((&steps[0]["stdout"], &steps[0]["status"]), (&json!("1 keys\n"), &json!(0)), "{}", steps[0]);
    assert_eq!(steps[1]["status"], 2, "{}", steps[1]);
    assert_eq!(steps[1]["stderr"], "agent: agent forwarding was not requested\n");
    let text = std::fs::read_to_string(&srv.ed25519).unwrap();
    let want = KeyPair::from_openssh(&text).unwrap().public_key().to_bytes().unwrap();
    assert_eq!(srv.seen.lock().unwrap().agent_keys, [want]);
}

// ---------------------------------------------------------------------------------------
// B. Our client against a Paramiko server
// ---------------------------------------------------------------------------------------

/// `paramiko_app_server.py` with the Ed25519 fixture host key, our user keys, a password
/// and keyboard-interactive answers.
struct ParamikoApp {
    proc: ScriptProcess,
    port: u16,
    host_key: PublicKey,
    user: Arc<KeyPair>,
    rsa_user: Arc<KeyPair>,
    dir: tempfile::TempDir,
}

fn paramiko_app() -> ParamikoApp {
    let dir = tempfile::tempdir().unwrap();
    let fixture = test_support::fixtures::fixture("ed25519");
    let user = Arc::new(KeyPair::generate_ed25519(&mut SeededRng::new(51)));
    let rsa_user = Arc::new(rsa_key(52));
    let mut args: Vec<OsString> = vec!["--host-key".into(), fixture.private_path.clone().into()];
    for (name, key) in [("user.pub", &user), ("rsa.pub", &rsa_user)] {
        let path = dir.path().join(name);
        std::fs::write(&path, key.public_key().to_openssh().unwrap()).unwrap();
        args.extend(["--authorized-key".into(), path.into()]);
    }
    args.extend(["--password", "s3cret", "--interactive", "pw", "1234"].map(OsString::from));
    if std::env::var_os("PARAMIKO_DEBUG").is_some() {
        args.push("--debug".into());
    }
    let mut proc = ScriptProcess::start("paramiko_app_server.py", &args).unwrap();
    let hello = proc.recv_json(Duration::from_secs(30)).unwrap();
    let port = u16::try_from(hello["port"].as_u64().unwrap()).unwrap();
    ParamikoApp { proc, port, host_key: fixture.public, user, rsa_user, dir }
}

impl ParamikoApp {
    /// Options for `user` that trust the server's key (a known_hosts file listing it).
    fn options(&self, user: &str) -> ConnectOptions {
        let kh = self.dir.path().join("trusted_known_hosts");
        std::fs::write(&kh, format!("[127.0.0.1]:{} {}\n", self.port, openssh_line(&self.host_key))).unwrap();
        let mut o = ConnectOptions::new("127.0.0.1", self.port, user);
        o.known_hosts = Some(kh);
        o.policy = UnknownHostPolicy::Reject;
        o
    }

    fn key_client(&self) -> Client {
        let mut o = self.options("alice");
        o.keys = vec![Arc::clone(&self.user)];
        Client::connect(&o).unwrap_or_else(|e| panic!("connect: {e}; server log: {}", self.proc.log()))
    }
}

struct Ran {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    status: Option<ExitStatus>,
}

/// Runs `command` on a new channel with `env`, feeding `input` from a thread and reading
/// stderr in another; every wait bounded.
fn run(client: &Client, command: &str, env: &[(&str, &str)], input: &[u8]) -> Ran {
    let mut ch = client.session().open_session().unwrap();
    ch.set_timeout(Some(WAIT));
    for (k, v) in env {
        ch.set_env(k, v).unwrap();
    }
    ch.exec(command).unwrap();
    let mut stdin = ch.stdin();
    let input = input.to_vec();
    let writer = thread::spawn(move || {
        stdin.write_all(&input).unwrap();
        stdin.send_eof().unwrap();
    });
    let mut stderr = ch.stderr();
    let errs = thread::spawn(move || {
        let mut e = Vec::new();
        stderr.read_to_end(&mut e).unwrap();
        e
    });
    let stdout = ch.read_all().unwrap();
    writer.join().unwrap();
    let stderr = errs.join().unwrap();
    let status = ch.recv_exit_status(Some(Duration::from_secs(20))).unwrap();
    Ran { stdout, stderr, status }
}

/// AcceptNew writes the Paramiko server's key, Reject then trusts it; a changed key is
/// refused under both with nothing written; an unknown host under Reject writes nothing.
#[test]
fn our_client_known_hosts_against_paramiko() {
    require_peers!(Peer::Paramiko);
    let app = paramiko_app();
    let kh = app.dir.path().join("known_hosts");
    let mut o = ConnectOptions::new("127.0.0.1", app.port, "alice");
    o.keys = vec![Arc::clone(&app.user)];
    o.known_hosts = Some(kh.clone());

    let err = Client::connect(&o).err().expect("unknown host under Reject");
    assert!(matches!(&err, Error::HostKeyRejected(why) if why.contains("not in known_hosts")), "{err}");
    assert!(!kh.exists());

    o.policy = UnknownHostPolicy::AcceptNew;
    let c = Client::connect(&o).unwrap();
    assert_eq!(run(&c, "echo hi", &[], b"").stdout, b"hi\n");
    c.close();
    let written = std::fs::read_to_string(&kh).unwrap();
    assert_eq!(written, format!("[127.0.0.1]:{} {}\n", app.port, openssh_line(&app.host_key)));

    o.policy = UnknownHostPolicy::Reject;
    Client::connect(&o).unwrap().close();
    assert_eq!(std::fs::read_to_string(&kh).unwrap(), written);

    let other = KeyPair::generate_ed25519(&mut SeededRng::new(5));
    let forged = format!("[127.0.0.1]:{} {}\n", app.port, openssh_line(other.public_key()));
    std::fs::write(&kh, &forged).unwrap();
    for policy in [UnknownHostPolicy::AcceptNew, UnknownHostPolicy::Reject] {
        o.policy = policy;
        let err = Client::connect(&o).err().expect("changed key");
        assert!(matches!(&err, Error::HostKeyRejected(why) if why.contains("has changed")), "{policy:?}: {err}");
        assert_eq!(std::fs::read_to_string(&kh).unwrap(), forged, "{policy:?} wrote to known_hosts");
    }
}

/// Exec against Paramiko: exit codes, stderr apart, 16 MiB through `cat`, env honoured
/// (a refused name stays unset), RSA key and password logins, a wrong password lists the
/// methods.
#[test]
fn our_client_exec_against_paramiko() {
    require_peers!(Peer::Paramiko);
    let app = paramiko_app();
    let c = app.key_client();
    let r = run(&c, "mixed", &[], b"");
    assert_eq!(
        (r.stdout.as_slice(), r.stderr.as_slice(), r.status),
        (&b"out\n"[..], &b"err\n"[..], Some(ExitStatus::Code(7)))
    );
    let r = run(&c, "stderr only this", &[], b"");
    assert_eq!((r.stdout.as_slice(), r.stderr.as_slice()), (&b""[..], &b"only this\n"[..]));
    assert_eq!(run(&c, "exit 5", &[], b"").status, Some(ExitStatus::Code(5)));
    // 8 MiB on each stream at once, read at once.
    let r = run(&c, &format!("flood {}", 8 << 20), &[], b"");
    let lines = |line: &[u8]| -> Vec<u8> { line.iter().copied().cycle().take(8 << 20).collect() };
    assert_eq!(r.status, Some(ExitStatus::Code(0)));
    assert!(r.stdout == lines(b"0123456789abcdef\n"), "flooded stdout: {} bytes", r.stdout.len());
    assert!(r.stderr == lines(b"fedcba9876543210\n"), "flooded stderr: {} bytes", r.stderr.len());
    let r = run(&c, "no-such-thing", &[], b"");
    assert_eq!((r.stderr.as_slice(), r.status), (&b"unknown command\n"[..], Some(ExitStatus::Code(127))));

    let data = pattern(BIG, 3);
    let started = Instant::now();
    let r = run(&c, "cat", &[], &data);
    assert_eq!(r.status, Some(ExitStatus::Code(0)));
    assert!(r.stdout == data, "cat through Paramiko: {} of {} bytes, or changed", r.stdout.len(), data.len());
    eprintln!("16 MiB each way through Paramiko's cat took {:?}", started.elapsed());

    let env = [("LANG_TEST", "été"), ("REFUSED_X", "no")];
    assert_eq!(run(&c, "env LANG_TEST", &env, b"").stdout, "été\n".as_bytes());
    assert_eq!(run(&c, "env REFUSED_X", &env, b"").stdout, b"<unset>\n");
    // Env is per channel: a new channel without it does not see it.
    assert_eq!(run(&c, "env LANG_TEST", &[], b"").stdout, b"<unset>\n");

    // Client::exec_command, Paramiko's shape.
    let mut e = c.exec_command("echo via exec_command").unwrap();
    e.stdout.set_timeout(Some(WAIT));
    assert_eq!(e.stdout.read_all().unwrap(), b"via exec_command\n");
    assert_eq!(e.stdout.recv_exit_status(Some(WAIT)).unwrap(), Some(ExitStatus::Code(0)));
    c.close();

    let mut o = app.options("alice");
    o.keys = vec![Arc::clone(&app.rsa_user)];
    let c = Client::connect(&o).unwrap();
    assert_eq!(run(&c, "echo rsa", &[], b"").stdout, b"rsa\n");
    c.close();

    let mut o = app.options("bob");
    o.password = Some("s3cret".into());
    let c = Client::connect(&o).unwrap();
    assert_eq!(run(&c, "echo password", &[], b"").stdout, b"password\n");
    c.close();
    o.password = Some("wrong".into());
    match Client::connect(&o) {
        Err(Error::AuthFailed { allowed }) => {
            assert_eq!(allowed, ["publickey", "password", "keyboard-interactive"]);
        }
        other => panic!("expected AuthFailed, got {:?}", other.err()),
    }
}

/// `Session::rekey` half way through 8 MiB of `cat` input on Paramiko, for ciphers whose
/// MAC covers the sequence number (CTR + HMAC; Paramiko has no chacha20-poly1305) and one
/// whose nonce does not (GCM): strict kex resets sequence numbers at every NEWKEYS.
#[test]
fn our_client_rekeys_against_paramiko() {
    use ssh_blocking::ssh_proto::algorithm::{AlgorithmList, Cipher};
    require_peers!(Peer::Paramiko);
    let app = paramiko_app();
    let data = pattern(8 << 20, 4);
    for cipher in [Cipher::Aes128Ctr, Cipher::Aes256Ctr, Cipher::Aes128Gcm] {
        let mut o = app.options("alice");
        o.keys = vec![Arc::clone(&app.user)];
        o.config.transport.algorithms.cipher = AlgorithmList::new([cipher]);
        let c = Client::connect(&o).unwrap();
        let session = Arc::clone(c.session());
        let n = session.negotiated().unwrap();
        assert_eq!((n.cipher_c2s, n.strict_kex), (cipher, true));
        let before = session.key_exchanges();
        let mut ch = session.open_session().unwrap();
        ch.set_timeout(Some(WAIT));
        ch.exec("cat").unwrap();
        let (mut stdin, sent, rekeying) = (ch.stdin(), data.clone(), Arc::clone(&session));
        let writer = thread::spawn(move || {
            stdin.write_all(&sent[..sent.len() / 2]).unwrap();
            rekeying.rekey().unwrap();
            stdin.write_all(&sent[sent.len() / 2..]).unwrap();
            stdin.send_eof().unwrap();
        });
        let got = ch.read_all();
        let wrote = writer.join();
        let got = got.unwrap_or_else(|e| panic!("{cipher:?}: {e}; server log: {}", app.proc.log()));
        wrote.unwrap();
        assert!(got == data, "{cipher:?}: cat across a rekey: {} of {} bytes, or changed", got.len(), data.len());
        assert_eq!(ch.recv_exit_status(Some(WAIT)).unwrap(), Some(ExitStatus::Code(0)));
        assert_eq!(session.key_exchanges(), before + 1, "{cipher:?}");
        assert_eq!(run(&c, "echo after", &[], b"").stdout, b"after\n", "{cipher:?}");
    }
}

/// `Session::auth_interactive` against Paramiko's InteractiveQuery: the prompts arrive as
/// Paramiko sent them; right answers log in, wrong ones fail.
#[test]
fn our_keyboard_interactive_against_paramiko() {
    use ssh_blocking::Session;
    require_peers!(Peer::Paramiko);
    let app = paramiko_app();
    let want = openssh_line(&app.host_key);
    let connect = || {
        let tcp = TcpStream::connect(("127.0.0.1", app.port)).unwrap();
        let want = want.clone();
        Session::handshake(tcp.try_into().unwrap(), client::Config::default(), Timeouts::default(), move |k: &_| {
            let k: &ssh_blocking::ssh_proto::ServerHostKey = k;
            if k.to_openssh() == want { Ok(()) } else { Err(format!("unexpected host key {}", k.to_openssh())) }
        })
        .unwrap()
    };
    let s = connect();
    let mut seen = Vec::new();
    let outcome = s
        .auth_interactive("carol", "", |req| {
            seen.push((req.name.clone(), req.instruction.clone()));
            seen.extend(req.prompts.iter().map(|p| (p.text.clone(), p.echo.to_string())));
            vec!["pw".to_owned(), "1234".to_owned()]
        })
        .unwrap();
    assert_eq!(outcome, AuthOutcome::Success);
    assert_eq!(
        seen,
        [
            ("two questions".to_owned(), "answer both".to_owned()),
            ("Password: ".to_owned(), "false".to_owned()),
            ("Code: ".to_owned(), "true".to_owned()),
        ]
    );
    let mut ch = s.open_session().unwrap();
    ch.set_timeout(Some(WAIT));
    ch.exec("echo interactive").unwrap();
    assert_eq!(ch.read_all().unwrap(), b"interactive\n");
    s.close();

    let s = connect();
    let outcome = s.auth_interactive("carol", "", |_| vec!["pw".to_owned(), "9999".to_owned()]).unwrap();
    assert!(matches!(outcome, AuthOutcome::Failure { .. }), "{outcome:?}");
}

/// pty + shell on Paramiko: the server sees our terminal and size, and `resize_pty`.
#[test]
fn our_pty_shell_against_paramiko() {
    require_peers!(Peer::Paramiko);
    let app = paramiko_app();
    let c = app.key_client();
    let mut ch = c.session().open_session().unwrap();
    ch.set_timeout(Some(WAIT));
    ch.set_env("SHELL_VAR", "inside").unwrap();
    ch.request_pty("vt100", 80, 24).unwrap();
    ch.shell().unwrap();
    let mut pending = Vec::new();
    assert_eq!(read_line(&mut ch, &mut pending).as_deref(), Some("pty vt100 80x24"));
    ch.resize_pty(120, 50).unwrap();
    ch.write_all(b"size\nenv SHELL_VAR\nhello\nexit 4\n").unwrap();
    assert_eq!(read_line(&mut ch, &mut pending).as_deref(), Some("size 120x50"));
    assert_eq!(read_line(&mut ch, &mut pending).as_deref(), Some("inside"));
    assert_eq!(read_line(&mut ch, &mut pending).as_deref(), Some("echo: hello"));
    assert_eq!(read_line(&mut ch, &mut pending), None);
    assert_eq!(ch.recv_exit_status(Some(WAIT)).unwrap(), Some(ExitStatus::Code(4)));
}

/// `-L` through Paramiko's direct-tcpip to an echo server: two connections at once,
/// compared whole; a target Paramiko refuses ends the local connection without data.
#[test]
fn our_local_forward_through_paramiko() {
    require_peers!(Peer::Paramiko);
    let app = paramiko_app();
    let echo = EchoServer::start().unwrap();
    let c = app.key_client();
    let fwd =
        LocalForward::start(Arc::clone(c.session()), "127.0.0.1:0".parse().unwrap(), "127.0.0.1", echo.addr().port())
            .unwrap();
    let target = fwd.local_addr();
    let workers: Vec<_> = (0..2u64)
        .map(|k| {
            thread::spawn(move || {
                let data = pattern(4 << 20, 20 + k);
                let (got, _) = tcp_round_trip(target, &data);
                assert!(got == data, "connection {k}: {} of {} bytes", got.len(), data.len());
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let refused = LocalForward::start(Arc::clone(c.session()), "127.0.0.1:0".parse().unwrap(), "192.0.2.1", 9).unwrap();
    let mut s = TcpStream::connect(refused.local_addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    assert!(got.is_empty());
}

/// `-R` through Paramiko: its server listens (check_port_forward_request) and opens a
/// forwarded-tcpip channel per connection. One forward goes to an echo server
/// ([`RemoteForward`], compared whole), another to a closure
/// ([`Session::request_port_forward`]) that reports what it was told of the connection.
/// Each cancel closes only its own port on Paramiko's side.
///
/// [`Session::request_port_forward`]: ssh_blocking::Session::request_port_forward
#[test]
fn our_remote_forward_through_paramiko() {
    require_peers!(Peer::Paramiko);
    let app = paramiko_app();
    let echo = EchoServer::start().unwrap();
    let c = app.key_client();
    let session = Arc::clone(c.session());
    let fwd = RemoteForward::start(Arc::clone(&session), "127.0.0.1", 0, "127.0.0.1", echo.addr().port())
        .unwrap_or_else(|e| panic!("tcpip-forward: {e}; server log: {}", app.proc.log()));
    let port = u16::try_from(fwd.remote_port()).unwrap();
    assert_ne!(port, 0);
    let echoing = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let second = session
        .request_port_forward("127.0.0.1", 0, |mut ch, from| {
            ch.set_timeout(Some(WAIT));
            let line = format!("{} {} {} {}\n", from.address, from.port, from.originator, from.originator_port);
            let _ = ch.write_all(line.as_bytes());
            // Close only after the peer's EOF: Paramiko's open_forwarded_tcpip_channel
            // loses a channel that is closed before it returns ("Unable to open channel").
            let _ = ch.read_all();
            let _ = ch.send_eof();
        })
        .unwrap();
    assert!(second != 0 && second != u32::from(port), "{second}");
    let reporting = SocketAddr::from((Ipv4Addr::LOCALHOST, u16::try_from(second).unwrap()));
    let report = || {
        let mut s = TcpStream::connect_timeout(&reporting, Duration::from_secs(10)).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        let local = s.local_addr().unwrap().port();
        let mut got = Vec::new();
        let mut byte = [0u8; 1];
        while !got.ends_with(b"\n") && s.read(&mut byte).unwrap() == 1 {
            got.push(byte[0]);
        }
        // Our EOF lets the handler finish; then the stream ends.
        s.shutdown(Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty(), "{rest:?}");
        let got = String::from_utf8(got).unwrap();
        assert_eq!(got, format!("127.0.0.1 {second} 127.0.0.1 {local}\n"), "server log: {}", app.proc.log());
    };

    let workers: Vec<_> = (0..2u64)
        .map(|k| {
            thread::spawn(move || {
                let data = pattern(4 << 20, 30 + k);
                let (got, _) = tcp_round_trip(echoing, &data);
                assert!(got == data, "connection {k}: {} of {} bytes", got.len(), data.len());
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    report();
    drop(fwd);
    assert!(wait_until_closed(echoing), "Paramiko still listens on {echoing} after cancel-tcpip-forward");
    report();
    session.cancel_port_forward("127.0.0.1", second).unwrap();
    assert!(wait_until_closed(reporting), "Paramiko still listens on {reporting} after cancel-tcpip-forward");
    // The session still works.
    assert_eq!(run(&c, "echo after", &[], b"").stdout, b"after\n");
}

/// Paramiko's `request_x11` with a handler against our server: the request reaches
/// `check_x11_request` and the session, and an X11 channel our server opens reaches
/// Paramiko's handler and comes back.
#[test]
fn paramiko_x11_forwarding_to_our_server() {
    require_peers!(Peer::Paramiko);
    let srv = our_server();
    let x11 = |protocol: &str| json!({"op": "exec", "command": "x11", "x11": {"protocol": protocol, "cookie": "0123abcd", "screen": 2}});
    let (_, steps) = run_plan_with(&srv, "alice", &Auth::Key(&srv.ed25519), &json!([x11("MIT-MAGIC-COOKIE-1")]), &[]);
    assert_eq!(steps[0]["stdout"], "HELLO DISPLAY from 127.0.0.1:6010 MIT-MAGIC-COOKIE-1 0123abcd 2\n", "{}", steps[0]);
    assert_eq!(steps[0]["status"], 0, "{}", steps[0]);
}

/// Our `request_x11` and X11 handler against a Paramiko server (`check_channel_x11_request`,
/// `Transport.open_x11_channel`).
#[test]
fn our_x11_forwarding_through_paramiko() {
    require_peers!(Peer::Paramiko);
    let app = paramiko_app();
    let c = app.key_client();
    c.session().set_x11_handler(common::answer_x11_channel).unwrap();
    let mut ch = c.session().open_session().unwrap();
    ch.set_timeout(Some(WAIT));
    ch.request_x11("MIT-MAGIC-COOKIE-1", "0123abcd", 1, false).unwrap();
    ch.exec("x11").unwrap();
    let out = String::from_utf8(ch.read_all().unwrap()).unwrap();
    assert_eq!(out, "HELLO DISPLAY from 127.0.0.1:6010 MIT-MAGIC-COOKIE-1 0123abcd 1\n", "{}", app.proc.log());
    assert_eq!(ch.recv_exit_status(Some(WAIT)).unwrap(), Some(ExitStatus::Code(0)));
}
