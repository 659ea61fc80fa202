//! The agent codec against OpenSSH 9.2's own agent tools, both directions, over Unix sockets
//! in a temporary directory (the user's `SSH_AUTH_SOCK` and `~/.ssh` are never used):
//!
//! - our [`AgentClient`] talking to a real `ssh-agent -D`: list, add every key type (plain
//!   and certified, with lifetime and confirm constraints), sign with each (RSA with both
//!   SHA-2 flags and none), remove, lock/unlock, remove all; `ssh-add -l`/`-L` as the oracle
//!   of what we added, and `ssh-add` adding keys that our client then lists;
//! - OpenSSH's `ssh-add` (`key`, `-c`, `-t`, `-l`, `-L`, `-d`, `-x`, `-X`, `-D`) and
//!   `ssh-keygen -Y sign` / `-Y verify` against our [`AgentServer`] + [`MemoryAgent`];
//! - one script of refusals (repeated constraints, failed, certificate and excess
//!   session-binds, binds while locked, `ssh-add -h` keys on bound connections, certified
//!   ECDSA keys with a foreign scalar) run against both agents, answers compared.
//!
//! Without the tools each test prints `SKIPPED:` and passes, unless `SSH_INTEROP=require`.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use ssh_proto::agent::{
    AgentClient, AgentEvent, AgentKey, AgentServer, Constraint, Decision, ExtensionRequest, MAX_SESSION_BINDS,
    MemoryAgent, Request, Response, Secret, SessionBind, SignFlags, SignRequest,
};
use ssh_proto::algorithm::{HostKeyAlgorithm, KeyFamily};
use ssh_proto::ssh_key::private::KeypairData;
use ssh_proto::ssh_key::{Certificate, HashAlg};
use ssh_proto::{KeyPair, SeededRng};
use test_support::process::{ChildGuard, Finished, run, run_with_input};
use test_support::{Peer, require_peers};

const TIMEOUT: Duration = Duration::from_secs(30);

/// A key made by `ssh-keygen` in the temporary directory.
struct GenKey {
    family: KeyFamily,
    path: PathBuf,
    pair: KeyPair,
    public_line: String,
    comment: String,
}

impl GenKey {
    fn agent_key(&self) -> AgentKey {
        AgentKey::new(self.pair.private_key()).unwrap()
    }

    fn blob(&self) -> Vec<u8> {
        self.pair.public_key().to_bytes().unwrap()
    }

    fn fingerprint(&self) -> String {
        self.pair.public_key().fingerprint(HashAlg::Sha256).to_string()
    }
}

fn generate(dir: &Path) -> Vec<GenKey> {
    let specs: [(&str, &str, KeyFamily); 5] = [
        ("ed25519", "256", KeyFamily::Ed25519),
        ("ecdsa", "256", KeyFamily::EcdsaP256),
        ("ecdsa", "384", KeyFamily::EcdsaP384),
        ("ecdsa", "521", KeyFamily::EcdsaP521),
        ("rsa", "2048", KeyFamily::Rsa),
    ];
    specs
        .iter()
        .map(|(t, bits, family)| {
            let path = dir.join(format!("id_{t}{bits}"));
            let comment = format!("{t}-{bits}@agent-test");
            let out = run(
                Command::new("ssh-keygen").args(["-q", "-t", t, "-b", bits, "-N", "", "-C", &comment, "-f"]).arg(&path),
                TIMEOUT,
            )
            .unwrap();
            assert!(out.status.success(), "ssh-keygen -t {t}: {}", out.stderr);
            let pair = KeyPair::from_openssh(&std::fs::read_to_string(&path).unwrap()).unwrap();
            assert_eq!(pair.family(), *family);
            let public_line = strip(&std::fs::read_to_string(path.with_extension("pub")).unwrap());
            GenKey { family: *family, path, pair, public_line, comment }
        })
        .collect()
}

/// `type base64` of an OpenSSH public key line.
fn strip(line: &str) -> String {
    line.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

/// A fixture key with its certificate, copied into `dir` (mode 0600) as `name` and `name-cert.pub`.
fn certified_fixture(dir: &Path, fixture: &str, name: &str) -> (PathBuf, KeyPair, Certificate) {
    let src = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/hostkeys"));
    let key = dir.join(name);
    std::fs::copy(src.join(format!("host_{fixture}")), &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::copy(src.join(format!("host_{fixture}-cert.pub")), dir.join(format!("{name}-cert.pub"))).unwrap();
    let text = std::fs::read_to_string(&key).unwrap();
    let cert = std::fs::read_to_string(dir.join(format!("{name}-cert.pub"))).unwrap();
    (key, KeyPair::from_openssh(&text).unwrap(), Certificate::from_openssh(&cert).unwrap())
}

/// Runs an OpenSSH tool against the agent at `sock`, with HOME in the temporary directory.
fn tool(dir: &Path, sock: &Path, program: &str, args: &[&str], stdin: &[u8]) -> Finished {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("SSH_AUTH_SOCK", sock)
        .env("SSH_ASKPASS", dir.join("askpass"))
        .env("SSH_ASKPASS_REQUIRE", "force")
        .env("DISPLAY", ":0")
        .current_dir(dir);
    run_with_input(&mut cmd, stdin, TIMEOUT).unwrap_or_else(|e| panic!("{program} {args:?}: {e}"))
}

fn ok(f: Finished, what: &str) -> String {
    assert!(f.status.success(), "{what} failed: {} {}", f.stdout, f.stderr);
    f.stdout
}

/// An askpass program that answers every prompt with `pw`.
fn write_askpass(dir: &Path) {
    let p = dir.join("askpass");
    std::fs::write(&p, "#!/bin/sh\necho pw\n").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700)).unwrap();
}

/// A real `ssh-agent -D` on a socket in `dir`, killed on drop.
fn start_ssh_agent(dir: &Path) -> (ChildGuard, PathBuf) {
    let sock = dir.join("ssh-agent.sock");
    let child = Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&sock)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        // A confirm-constrained key asks this program, which refuses.
        .env("SSH_ASKPASS", "/bin/false")
        .env("SSH_ASKPASS_REQUIRE", "force")
        .env("DISPLAY", ":0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ssh-agent");
    let guard = ChildGuard::new(child, "ssh-agent");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sock.exists() {
        assert!(Instant::now() < deadline, "ssh-agent did not create its socket");
        thread::sleep(Duration::from_millis(10));
    }
    (guard, sock)
}

/// Our client over a Unix stream: one request, one response.
struct Conn {
    stream: UnixStream,
    client: AgentClient,
}

impl Conn {
    fn connect(sock: &Path) -> Self {
        let stream = UnixStream::connect(sock).unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(TIMEOUT)).unwrap();
        Self { stream, client: AgentClient::new() }
    }

    fn call(&mut self, request: &Request) -> Response {
        let id = self.client.send(request).unwrap();
        self.finish(id)
    }

    fn finish(&mut self, id: ssh_proto::agent::RequestId) -> Response {
        while let Some(bytes) = self.client.poll_transmit() {
            self.stream.write_all(&bytes).unwrap();
        }
        let mut buf = [0u8; 4096];
        loop {
            if let Some((got, response)) = self.client.poll_response() {
                assert_eq!(got, id);
                return response.unwrap();
            }
            let n = self.stream.read(&mut buf).unwrap();
            assert!(n > 0, "agent closed the connection");
            self.client.handle_input(&buf[..n]).unwrap();
        }
    }

    /// Sends a hand-made frame and reads the one response frame.
    fn raw(&mut self, frame: &[u8]) -> Response {
        self.stream.write_all(frame).unwrap();
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len).unwrap();
        let mut payload = vec![0u8; u32::from_be_bytes(len) as usize];
        self.stream.read_exact(&mut payload).unwrap();
        Response::decode(&payload).unwrap()
    }

    fn list(&mut self) -> Vec<ssh_proto::agent::Identity> {
        let id = self.client.request_identities();
        self.finish(id).into_identities().unwrap()
    }

    fn sign(&mut self, blob: &[u8], data: &[u8], flags: SignFlags) -> Response {
        self.call(&Request::Sign(SignRequest { key_blob: blob.to_vec(), data: data.to_vec(), flags }))
    }
}

fn add(key: AgentKey, comment: &str, constraints: Vec<Constraint>) -> Request {
    Request::AddIdentity(Box::new(ssh_proto::agent::AddIdentity { key, comment: comment.into(), constraints }))
}

/// Checks a signature blob from the real agent: Ed25519 and RSA (PKCS#1 v1.5) signatures are
/// deterministic, so they must equal ours byte for byte; ECDSA ones are verified.
fn check_signature(key: &KeyPair, alg: HostKeyAlgorithm, data: &[u8], blob: &[u8]) {
    match key.family() {
        KeyFamily::Ed25519 | KeyFamily::Rsa => {
            let ours = key.sign(alg, data, &mut SeededRng::new(1)).unwrap();
            assert_eq!(blob, ours, "{alg:?}");
        }
        _ => {
            let mut b = blob;
            let sig: ssh_proto::ssh_key::Signature = ssh_encoding::Decode::decode(&mut b).unwrap();
            assert!(b.is_empty());
            assert_eq!(sig.algorithm().as_str(), alg.signature_name());
            signature::Verifier::verify(key.public_key().key_data(), data, &sig).expect("ECDSA signature verifies");
            assert!(signature::Verifier::verify(key.public_key().key_data(), b"other", &sig).is_err());
        }
    }
}

fn rsa_cases(family: KeyFamily) -> Vec<(SignFlags, HostKeyAlgorithm)> {
    match family {
        KeyFamily::Rsa => vec![
            (SignFlags::RSA_SHA2_256, HostKeyAlgorithm::RsaSha256),
            (SignFlags::RSA_SHA2_512, HostKeyAlgorithm::RsaSha512),
            (SignFlags::NONE, HostKeyAlgorithm::SshRsa),
        ],
        KeyFamily::Ed25519 => vec![(SignFlags::NONE, HostKeyAlgorithm::Ed25519)],
        KeyFamily::EcdsaP256 => vec![(SignFlags::NONE, HostKeyAlgorithm::EcdsaNistp256)],
        KeyFamily::EcdsaP384 => vec![(SignFlags::NONE, HostKeyAlgorithm::EcdsaNistp384)],
        _ => vec![(SignFlags::NONE, HostKeyAlgorithm::EcdsaNistp521)],
    }
}

/// `ssh-add -l` output as fingerprints with their comments.
fn listed(out: &str) -> Vec<(String, String)> {
    out.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_bits, fp, comment) = (f.next()?, f.next()?, f.next()?);
            Some((fp.to_owned(), comment.to_owned()))
        })
        .collect()
}

#[test]
fn our_client_against_openssh_agent() {
    require_peers!(Peer::SshKeygen, Peer::SshAgent, Peer::SshAdd);
    let dir = tempfile::tempdir().unwrap();
    write_askpass(dir.path());
    let keys = generate(dir.path());
    let (mut agent, sock) = start_ssh_agent(dir.path());
    let mut c = Conn::connect(&sock);

    assert!(c.list().is_empty());
    for k in &keys {
        assert_eq!(c.call(&add(k.agent_key(), &k.comment, vec![])), Response::Success, "{:?}", k.family);
    }
    let ids = c.list();
    assert_eq!(ids.len(), keys.len());
    for (id, k) in ids.iter().zip(&keys) {
        assert_eq!(id.key_blob, k.blob());
        assert_eq!(id.comment, k.comment);
    }
    // The oracle sees what we added.
    let l = ok(tool(dir.path(), &sock, "ssh-add", &["-l"], b""), "ssh-add -l");
    let expected: Vec<(String, String)> = keys.iter().map(|k| (k.fingerprint(), k.comment.clone())).collect();
    assert_eq!(listed(&l), expected);
    let big_l = ok(tool(dir.path(), &sock, "ssh-add", &["-L"], b""), "ssh-add -L");
    let lines: Vec<String> = big_l.lines().map(strip).collect();
    assert_eq!(lines, keys.iter().map(|k| k.public_line.clone()).collect::<Vec<_>>());

    for k in &keys {
        for (flags, alg) in rsa_cases(k.family) {
            let data = format!("data for {alg:?}");
            let sig = c.sign(&k.blob(), data.as_bytes(), flags).into_signature().unwrap();
            check_signature(&k.pair, alg, data.as_bytes(), &sig);
        }
    }

    // Certified keys: the certificate blob, then the private fields.
    for (fixture, name) in [("ed25519", "cert_ed25519"), ("ecdsa384", "cert_ecdsa384"), ("rsa2048", "cert_rsa")] {
        let (_, pair, cert) = certified_fixture(dir.path(), fixture, name);
        let key = AgentKey::with_certificate(pair.private_key(), cert.clone()).unwrap();
        assert_eq!(c.call(&add(key, name, vec![])), Response::Success, "{fixture}");
        let blob = cert.to_bytes().unwrap();
        let id = c.list().into_iter().find(|i| i.key_blob == blob).expect("certificate listed");
        assert_eq!(id.comment, name);
        assert_eq!(id.certificate().unwrap().public_key(), pair.public_key().key_data());
        let alg = rsa_cases(pair.family())[0].1;
        let sig = c.sign(&blob, b"cert data", SignFlags::for_algorithm(alg)).into_signature().unwrap();
        check_signature(&pair, alg, b"cert data", &sig);
        // The oracle parses what we added as that certificate.
        let big_l = ok(tool(dir.path(), &sock, "ssh-add", &["-L"], b""), "ssh-add -L");
        assert!(big_l.lines().any(|l| strip(l) == strip(&cert.to_openssh().unwrap())), "{fixture}: {big_l}");
        assert_eq!(c.call(&Request::RemoveIdentity(blob)), Response::Success);
    }
    let big_l = ok(tool(dir.path(), &sock, "ssh-add", &["-L"], b""), "ssh-add -L");
    assert!(!big_l.contains("cert-v01"), "{big_l}");

    // Constraints: a one-second lifetime, and confirm (this agent's askpass refuses).
    let short = KeyPair::generate_ed25519(&mut SeededRng::new(21));
    let careful = KeyPair::generate_ed25519(&mut SeededRng::new(22));
    let lifetime = add(AgentKey::new(short.private_key()).unwrap(), "short", vec![Constraint::Lifetime(1)]);
    assert_eq!(c.call(&lifetime), Response::Success);
    let confirm = add(AgentKey::new(careful.private_key()).unwrap(), "careful", vec![Constraint::Confirm]);
    assert_eq!(c.call(&confirm), Response::Success);
    let careful_blob = careful.public_key().to_bytes().unwrap();
    assert_eq!(c.sign(&careful_blob, b"x", SignFlags::NONE), Response::Failure, "confirmation refused");
    let comments: Vec<String> = c.list().into_iter().map(|i| i.comment).collect();
    assert!(comments.contains(&"short".to_owned()) && comments.contains(&"careful".to_owned()));
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.list().iter().any(|i| i.comment == "short") {
        assert!(Instant::now() < deadline, "the lifetime constraint did not expire the key");
        thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(c.call(&Request::RemoveIdentity(careful_blob)), Response::Success);

    // Remove one.
    assert_eq!(c.call(&Request::RemoveIdentity(keys[1].blob())), Response::Success);
    assert_eq!(c.call(&Request::RemoveIdentity(keys[1].blob())), Response::Failure);
    assert_eq!(c.list().len(), keys.len() - 1);

    // Lock / unlock.
    assert_eq!(c.call(&Request::Lock(Secret::new(*b"sesame"))), Response::Success);
    assert!(c.list().is_empty());
    assert_eq!(c.sign(&keys[0].blob(), b"x", SignFlags::NONE), Response::Failure);
    assert_eq!(c.call(&Request::Unlock(Secret::new(*b"wrong"))), Response::Failure);
    assert_eq!(c.call(&Request::Unlock(Secret::new(*b"sesame"))), Response::Success);
    assert_eq!(c.list().len(), keys.len() - 1);

    // An unknown message and an unknown extension are refused; the stream stays in step.
    assert_eq!(
        c.call(&Request::Extension(ssh_proto::agent::ExtensionRequest::Other {
            name: "nothing@example.com".into(),
            contents: vec![]
        })),
        Response::Failure
    );

    // Remove all.
    assert_eq!(c.call(&Request::RemoveAllIdentities), Response::Success);
    assert!(c.list().is_empty());

    // `ssh-add` adds; our client lists what it added.
    for k in &keys {
        ok(tool(dir.path(), &sock, "ssh-add", &[k.path.to_str().unwrap()], b""), "ssh-add key");
    }
    let ids = c.list();
    assert_eq!(
        ids.iter().map(|i| i.key_blob.clone()).collect::<Vec<_>>(),
        keys.iter().map(GenKey::blob).collect::<Vec<_>>()
    );
    let sig = c.sign(&keys[4].blob(), b"after ssh-add", SignFlags::RSA_SHA2_512).into_signature().unwrap();
    check_signature(&keys[4].pair, HostKeyAlgorithm::RsaSha512, b"after ssh-add", &sig);
    agent.kill();
}

/// Our agent behind a Unix socket, one connection at a time (each `ssh-add` run is one),
/// answering confirmations with Allow and counting them.
struct OurAgent {
    store: Arc<Mutex<MemoryAgent>>,
    stop: Arc<AtomicBool>,
    confirms: Arc<AtomicUsize>,
    thread: Option<thread::JoinHandle<()>>,
    sock: PathBuf,
}

impl OurAgent {
    fn start(dir: &Path) -> Self {
        let sock = dir.join("our-agent.sock");
        let listener = UnixListener::bind(&sock).unwrap();
        listener.set_nonblocking(true).unwrap();
        let store = Arc::new(Mutex::new(MemoryAgent::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let confirms = Arc::new(AtomicUsize::new(0));
        let (s, st, cf) = (store.clone(), stop.clone(), confirms.clone());
        let thread = thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(300);
            let started = Instant::now();
            let mut rng = SeededRng::new(77);
            while !st.load(Ordering::Relaxed) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => serve(stream, &s, &cf, &mut rng, started),
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Self { store, stop, confirms, thread: Some(thread), sock }
    }
}

impl Drop for OurAgent {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(
    mut stream: UnixStream,
    store: &Mutex<MemoryAgent>,
    confirms: &AtomicUsize,
    rng: &mut SeededRng,
    started: Instant,
) {
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut server = AgentServer::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let now = started.elapsed().as_secs();
        let mut input = &buf[..n];
        // Requests held back by the output budget go on once the queue is written.
        loop {
            let mut store = store.lock().unwrap();
            if server.handle_input(input, &mut *store, now, rng).is_err() {
                return;
            }
            while let Some(AgentEvent::Confirm { token, .. }) = server.poll_event() {
                confirms.fetch_add(1, Ordering::Relaxed);
                server.confirm(token, Decision::Allow, &mut *store, now, rng).unwrap();
            }
            drop(store);
            while let Some(out) = server.poll_transmit() {
                if stream.write_all(&out).is_err() {
                    return;
                }
            }
            if !server.has_unanswered() {
                break;
            }
            input = &[];
        }
    }
}

#[test]
fn openssh_tools_against_our_agent() {
    require_peers!(Peer::SshKeygen, Peer::SshAgent, Peer::SshAdd);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_askpass(d);
    let keys = generate(d);
    let agent = OurAgent::start(d);
    let sock = agent.sock.clone();

    let empty = tool(d, &sock, "ssh-add", &["-l"], b"");
    assert!(empty.stdout.contains("no identities"), "{} {}", empty.stdout, empty.stderr);

    for k in &keys {
        ok(tool(d, &sock, "ssh-add", &[k.path.to_str().unwrap()], b""), "ssh-add key");
    }
    let l = ok(tool(d, &sock, "ssh-add", &["-l"], b""), "ssh-add -l");
    let expected: Vec<(String, String)> = keys.iter().map(|k| (k.fingerprint(), k.comment.clone())).collect();
    assert_eq!(listed(&l), expected);
    let big_l = ok(tool(d, &sock, "ssh-add", &["-L"], b""), "ssh-add -L");
    assert_eq!(
        big_l.lines().map(strip).collect::<Vec<_>>(),
        keys.iter().map(|k| k.public_line.clone()).collect::<Vec<_>>()
    );

    // ssh-keygen signs through our agent; ssh-keygen verifies.
    std::fs::write(d.join("message"), b"signed by our agent\n").unwrap();
    let mut allowed = String::new();
    for k in &keys {
        allowed.push_str(&format!("signer {}\n", k.public_line));
    }
    std::fs::write(d.join("allowed_signers"), allowed).unwrap();
    for k in &keys {
        let _ = std::fs::remove_file(d.join("message.sig"));
        let pubkey = k.path.with_extension("pub");
        ok(
            tool(d, &sock, "ssh-keygen", &["-Y", "sign", "-f", pubkey.to_str().unwrap(), "-n", "file", "message"], b""),
            "ssh-keygen -Y sign",
        );
        let message = std::fs::read(d.join("message")).unwrap();
        let verify = tool(
            d,
            &sock,
            "ssh-keygen",
            &["-Y", "verify", "-f", "allowed_signers", "-I", "signer", "-n", "file", "-s", "message.sig"],
            &message,
        );
        let out = ok(verify, "ssh-keygen -Y verify");
        assert!(out.contains("Good \"file\" signature for signer"), "{:?}: {out}", k.family);
    }

    // A certified key: ssh-add adds the key and its certificate.
    let (cert_path, _, cert) = certified_fixture(d, "ed25519", "id_cert");
    let added = tool(d, &sock, "ssh-add", &[cert_path.to_str().unwrap()], b"");
    assert!(added.status.success() && added.stderr.contains("Certificate added"), "{}", added.stderr);
    let big_l = ok(tool(d, &sock, "ssh-add", &["-L"], b""), "ssh-add -L");
    assert!(big_l.lines().any(|l| strip(l) == strip(&cert.to_openssh().unwrap())), "{big_l}");
    assert_eq!(agent.store.lock().unwrap().len(), keys.len() + 2);

    // -d removes one (and its certificate).
    ok(tool(d, &sock, "ssh-add", &["-d", cert_path.to_str().unwrap()], b""), "ssh-add -d");
    ok(tool(d, &sock, "ssh-add", &["-d", keys[0].path.to_str().unwrap()], b""), "ssh-add -d");
    let l = ok(tool(d, &sock, "ssh-add", &["-l"], b""), "ssh-add -l");
    assert_eq!(listed(&l), expected[1..].to_vec());

    // -x / -X lock and unlock (the askpass program answers "pw").
    ok(tool(d, &sock, "ssh-add", &["-x"], b""), "ssh-add -x");
    assert!(agent.store.lock().unwrap().is_locked());
    let locked = tool(d, &sock, "ssh-add", &["-l"], b"");
    assert!(locked.stdout.contains("no identities"), "{}", locked.stdout);
    ok(tool(d, &sock, "ssh-add", &["-X"], b""), "ssh-add -X");
    assert!(!agent.store.lock().unwrap().is_locked());
    assert_eq!(listed(&ok(tool(d, &sock, "ssh-add", &["-l"], b""), "ssh-add -l")).len(), keys.len() - 1);

    // -c: every use is confirmed (our loop allows, and counts); -t: a lifetime.
    ok(tool(d, &sock, "ssh-add", &["-c", keys[0].path.to_str().unwrap()], b""), "ssh-add -c");
    let pubkey = keys[0].path.with_extension("pub");
    let _ = std::fs::remove_file(d.join("message.sig"));
    ok(
        tool(d, &sock, "ssh-keygen", &["-Y", "sign", "-f", pubkey.to_str().unwrap(), "-n", "file", "message"], b""),
        "sign with -c key",
    );
    assert_eq!(agent.confirms.load(Ordering::Relaxed), 1);
    ok(tool(d, &sock, "ssh-add", &["-t", "600", keys[1].path.to_str().unwrap()], b""), "ssh-add -t");
    assert!(agent.store.lock().unwrap().next_expiry().is_some_and(|t| t >= 600));

    // -D removes everything.
    ok(tool(d, &sock, "ssh-add", &["-D"], b""), "ssh-add -D");
    assert!(agent.store.lock().unwrap().is_empty());
    assert!(tool(d, &sock, "ssh-add", &["-l"], b"").stdout.contains("no identities"));
}

/// A fixture host key and the session-bind it would send for `session_id`, with the host
/// key blob as given (plain, or its certificate).
fn host_bind(fixture: &str, session_id: &[u8], certified: bool, is_forwarding: bool) -> Request {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/hostkeys"));
    let host = KeyPair::from_openssh(&std::fs::read_to_string(dir.join(format!("host_{fixture}"))).unwrap()).unwrap();
    let host_key = if certified {
        let text = std::fs::read_to_string(dir.join(format!("host_{fixture}-cert.pub"))).unwrap();
        Certificate::from_openssh(&text).unwrap().to_bytes().unwrap()
    } else {
        host.public_key().to_bytes().unwrap()
    };
    let signature = host.sign(host.algorithms()[0], session_id, &mut SeededRng::new(9)).unwrap();
    Request::Extension(ExtensionRequest::SessionBind(SessionBind {
        host_key,
        session_id: session_id.to_vec(),
        signature,
        is_forwarding,
    }))
}

/// The same script against a real `ssh-agent` and against ours; what each answered.
fn refusal_script(dir: &Path, sock: &Path, user_key: &Path, free: &AgentKey) -> Vec<String> {
    let mut log = Vec::new();
    let mut note = |what: &str, r: &dyn std::fmt::Debug| log.push(format!("{what}: {r:?}"));
    let kh = dir.join("restrict_known_hosts");
    let args = ["-H", kh.to_str().unwrap(), "-h", "host1", user_key.to_str().unwrap()];
    ok(tool(dir, sock, "ssh-add", &args, b""), "ssh-add -h");
    let comments = |c: &mut Conn| c.list().into_iter().map(|i| i.comment).collect::<Vec<_>>();
    {
        let mut c = Conn::connect(sock);
        note("add free", &c.call(&add(free.clone(), "free", vec![])));
        note("local list", &comments(&mut c));
        for cs in [
            vec![Constraint::Lifetime(60), Constraint::Lifetime(60)],
            vec![Constraint::Confirm, Constraint::Confirm],
            vec![Constraint::Lifetime(60), Constraint::Confirm],
        ] {
            note(&format!("add {cs:?}"), &c.call(&add(free.clone(), "again", cs)));
        }
    }
    {
        // A bind that fails verification leaves the connection bound to nothing.
        let mut c = Conn::connect(sock);
        let Request::Extension(ExtensionRequest::SessionBind(mut b)) = host_bind("ed25519", b"sid-a", false, false)
        else {
            unreachable!()
        };
        b.session_id = b"sid-b".to_vec();
        note("forged bind", &c.call(&Request::Extension(ExtensionRequest::SessionBind(b))));
        note("list after failed bind", &comments(&mut c));
    }
    {
        // Bound for authentication to a host outside the restriction, presenting a certificate.
        let mut c = Conn::connect(sock);
        note("certificate bind", &c.call(&host_bind("ecdsa256", b"sid-c", true, false)));
        note("list on bound connection", &comments(&mut c));
        note("bind after auth bind", &c.call(&host_bind("ed25519", b"sid-d", false, true)));
    }
    {
        let mut c = Conn::connect(sock);
        for i in 0..MAX_SESSION_BINDS {
            let r = c.call(&host_bind("ed25519", format!("hop {i}").as_bytes(), false, true));
            assert_eq!(r, Response::Success, "hop {i}");
        }
        note("recorded bind at the limit", &c.call(&host_bind("ed25519", b"hop 3", false, true)));
        note("new bind past the limit", &c.call(&host_bind("ed25519", b"hop new", false, true)));
    }
    {
        // A certified ECDSA key whose scalar is not the certified key's.
        let mut c = Conn::connect(sock);
        for fixture in ["ecdsa256", "ecdsa384", "ecdsa521"] {
            let (_, pair, cert) = certified_fixture(dir, fixture, &format!("cert_{fixture}"));
            let key = AgentKey::with_certificate(pair.private_key(), cert).unwrap();
            let frame = add(key.clone(), "certified", vec![]).to_frame().unwrap();
            let KeypairData::Ecdsa(ec) = key.keypair() else { unreachable!() };
            let scalar = ec.private_key_bytes();
            let at = frame.windows(scalar.len()).position(|w| w == scalar).unwrap();
            let mut forged = frame.to_vec();
            forged[at + scalar.len() - 1] ^= 1;
            note(&format!("{fixture} certificate, other scalar"), &c.raw(&forged));
            note(&format!("{fixture} certificate, its scalar"), &c.raw(&frame));
        }
    }
    {
        let mut c = Conn::connect(sock);
        note("lock", &c.call(&Request::Lock(Secret::new(*b"pw"))));
        note("bind while locked", &c.call(&host_bind("ed25519", b"sid-e", false, false)));
        note("unlock", &c.call(&Request::Unlock(Secret::new(*b"pw"))));
        note("list after locked bind", &comments(&mut c));
    }
    log
}

#[test]
fn bind_and_constraint_refusals_match_openssh() {
    require_peers!(Peer::SshKeygen, Peer::SshAgent, Peer::SshAdd);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let user_key = d.join("id_user");
    let made = run(
        Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-C", "restricted", "-f"]).arg(&user_key),
        TIMEOUT,
    )
    .unwrap();
    assert!(made.status.success(), "{}", made.stderr);
    let host_pub = include_str!("../testdata/hostkeys/host_ed25519.pub");
    std::fs::write(d.join("restrict_known_hosts"), format!("host1 {}", strip(host_pub))).unwrap();
    let free = AgentKey::new(KeyPair::generate_ed25519(&mut SeededRng::new(4)).private_key()).unwrap();

    let (mut openssh, sock) = start_ssh_agent(d);
    let theirs = refusal_script(d, &sock, &user_key, &free);
    openssh.kill();
    let ours_agent = OurAgent::start(d);
    let ours = refusal_script(d, &ours_agent.sock.clone(), &user_key, &free);
    eprintln!("ssh-agent: {theirs:#?}\nours: {ours:#?}");
    assert_eq!(theirs.len(), ours.len());
    // Where we are stricter than OpenSSH 9.2: it still lists a restricted key after a failed
    // bind (later releases refuse it, `session_bind_attempted`, as we do), and it takes a
    // certified ECDSA key whose scalar belongs to another key (it could never sign for the
    // certificate).
    let stricter = [
        (r#"list after failed bind: ["restricted", "again"]"#, r#"list after failed bind: ["again"]"#),
        ("ecdsa256 certificate, other scalar: Success", "ecdsa256 certificate, other scalar: Failure"),
        ("ecdsa384 certificate, other scalar: Success", "ecdsa384 certificate, other scalar: Failure"),
        ("ecdsa521 certificate, other scalar: Success", "ecdsa521 certificate, other scalar: Failure"),
    ];
    for (t, o) in theirs.iter().zip(&ours) {
        match stricter.iter().find(|(theirs, _)| theirs == t) {
            Some((_, expected)) => assert_eq!(o, expected),
            None => assert_eq!(t, o),
        }
    }
}
