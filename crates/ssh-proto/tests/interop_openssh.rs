//! Interop with OpenSSH (9.2 on the reference machine), both directions, on loopback:
//!
//! - our client against `sshd` for every kex × host key × cipher × MAC combination both
//!   support, without and with compression;
//! - `ssh-keyscan` against our server, per host key type and per kex;
//! - `ssh -v` against our server, per kex × host key algorithm, and per cipher × MAC.
//!
//! Peers come from test-support; without them each test prints `SKIPPED:` and passes, unless
//! `SSH_INTEROP=require`. Matrix worker threads: `INTEROP_WORKERS` (default 2 × cores).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use ssh_proto::algorithm::{
    Algorithm, AlgorithmList, Cipher, Compression, HostKeyAlgorithm, KexAlgorithm, KeyFamily, Mac,
};
use ssh_proto::{client, server};
use test_support::algos::{all_algorithms, common, implemented};
use test_support::fixtures::{self, Fixture};
use test_support::process::{Finished, run, tail};
use test_support::{Combo, Peer, Sshd, TestServer, client_handshake, default_workers, require_peers, run_matrix};

const CASE_TIMEOUT: Duration = Duration::from_secs(30);

fn strip(line: &str) -> String {
    line.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

/// The name of the sshd host key (test-support's generated set) for a host key algorithm.
fn sshd_key_name(alg: HostKeyAlgorithm) -> &'static str {
    match alg.family() {
        KeyFamily::Ed25519 => "ed25519",
        KeyFamily::EcdsaP256 => "ecdsa256",
        KeyFamily::EcdsaP384 => "ecdsa384",
        KeyFamily::EcdsaP521 => "ecdsa521",
        KeyFamily::Rsa => "rsa3072",
        _ => "dsa",
    }
}

fn dss_note() -> &'static str {
    if fixtures::dss_enabled() {
        "ssh-dss covered (ssh-proto built with `dss` via test-support's dev-dependency feature)"
    } else {
        "ssh-dss NOT covered: ssh-proto built without its `dss` feature"
    }
}

/// `ssh -Q kind`.
fn ssh_query(kind: &str) -> Vec<String> {
    let out = run(Command::new("ssh").args(["-Q", kind]), Duration::from_secs(30)).expect("ssh -Q");
    out.stdout.split_whitespace().map(str::to_owned).collect()
}

/// The default client kex list of this OpenSSH (`ssh -G`), which ssh-keyscan also uses.
fn ssh_default(option: &str) -> Vec<String> {
    static OUT: OnceLock<String> = OnceLock::new();
    let text = OUT.get_or_init(|| {
        run(Command::new("ssh").args(["-G", "-F", "/dev/null", "127.0.0.1"]), Duration::from_secs(30))
            .expect("ssh -G")
            .stdout
    });
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{option} ")))
        .map(|v| v.split(',').map(str::to_owned).collect())
        .unwrap_or_default()
}

#[test]
fn our_client_vs_sshd_full_matrix() {
    require_peers!(Peer::Sshd, Peer::Ssh, Peer::SshKeygen);
    let sshd = Sshd::start().expect("start sshd");
    let algs = sshd.algorithms();
    let kex: Vec<KexAlgorithm> = common(&algs.kex);
    // Every host key algorithm both implement; sshd has a key (and certificate) of every family.
    let host_keys: Vec<HostKeyAlgorithm> = common(&algs.host_key);
    let ciphers: Vec<Cipher> = common(&algs.cipher);
    let macs: Vec<Mac> = common(&algs.mac);
    let compression = [Compression::None, Compression::ZlibOpenSsh];
    for (kind, ours, theirs) in [
        ("kex", implemented::<KexAlgorithm>().iter().map(|a| a.name()).collect::<Vec<_>>(), &algs.kex),
        ("host key", implemented::<HostKeyAlgorithm>().iter().map(|a| a.name()).collect(), &algs.host_key),
        ("cipher", implemented::<Cipher>().iter().map(|a| a.name()).collect(), &algs.cipher),
        ("MAC", implemented::<Mac>().iter().map(|a| a.name()).collect(), &algs.mac),
    ] {
        let only_ours: Vec<_> = ours.iter().filter(|n| !theirs.iter().any(|t| t == *n)).collect();
        eprintln!("{kind}: {} in common; ours only: {only_ours:?}", ours.len() - only_ours.len());
    }
    eprintln!("{}", dss_note());
    let cases = Combo::product(&kex, &host_keys, &ciphers, &macs, &compression);
    eprintln!(
        "client -> sshd matrix: {} kex × {} host key × {} cipher/MAC pairs × {} compression = {} handshakes",
        kex.len(),
        host_keys.len(),
        cases.len() / (kex.len() * host_keys.len() * compression.len()),
        compression.len(),
        cases.len()
    );
    let strict = std::sync::atomic::AtomicUsize::new(0);
    let report = run_matrix("our client -> sshd", &cases, default_workers(), |c| {
        let cfg = client::Config {
            transport: ssh_proto::TransportConfig { algorithms: c.algorithms(), ..Default::default() },
            ..Default::default()
        };
        let out = client_handshake(sshd.addr(), cfg, CASE_TIMEOUT)?;
        c.check(&out.negotiated)?;
        if out.negotiated.strict_kex {
            strict.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let key = sshd.host_key(sshd_key_name(c.host_key)).ok_or("no such sshd key")?;
        if strip(&out.host_key.to_openssh()) != key.public {
            return Err(format!("host key {} is not sshd's {}", out.host_key.to_openssh(), key.name));
        }
        match (c.host_key.is_certificate(), out.host_key.certificate()) {
            (true, Some(cert)) if strip(&cert.to_openssh().map_err(|e| e.to_string())?) == key.certificate => {}
            (true, other) => return Err(format!("expected sshd's certificate, got {other:?}")),
            (false, None) => {}
            (false, Some(_)) => return Err("certificate for a plain host key algorithm".into()),
        }
        if !out.peer_version.starts_with("SSH-2.0-OpenSSH") {
            return Err(format!("peer version {}", out.peer_version));
        }
        Ok(())
    });
    eprintln!(
        "strict kex in force in {} of {} handshakes; sshd log: {}",
        strict.load(std::sync::atomic::Ordering::Relaxed),
        cases.len(),
        tail(sshd.log().trim(), 2000)
    );
    report.assert_ok();
}

/// A server with exactly these host keys and kex methods; every cipher, MAC and compression.
fn our_server(host_keys: Vec<ssh_proto::HostKey>, kex: &[KexAlgorithm]) -> Arc<server::Config> {
    let mut cfg = server::Config::new(host_keys);
    cfg.transport.algorithms = all_algorithms();
    cfg.transport.algorithms.kex = AlgorithmList::new(kex.iter().copied());
    Arc::new(cfg)
}

fn keyscan(port: u16, key_type: &str, certificates: bool) -> Finished {
    let mut cmd = Command::new("ssh-keyscan");
    if certificates {
        cmd.arg("-c");
    }
    cmd.args(["-T", "10", "-p", &port.to_string(), "-t", key_type, "127.0.0.1"]);
    run(&mut cmd, Duration::from_secs(40)).expect("run ssh-keyscan")
}

/// The keys printed: `[127.0.0.1]:PORT type base64` lines, or bare `type base64` lines for
/// certificates (`-c`).
fn keyscan_lines(out: &Finished, port: u16) -> Vec<String> {
    let prefix = format!("[127.0.0.1]:{port} ");
    out.stdout
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| strip(l.strip_prefix(&prefix).unwrap_or(l)))
        .collect()
}

#[derive(Debug)]
struct KeyscanCase {
    key: &'static str,
    kex: &'static str,
    certificate: bool,
}

#[test]
fn ssh_keyscan_vs_our_server() {
    require_peers!(Peer::SshKeyscan, Peer::Ssh);
    let default_kex = ssh_default("kexalgorithms");
    assert!(!default_kex.is_empty(), "ssh -G printed no kexalgorithms");
    let mut cases = Vec::new();
    for f in fixtures::fixtures() {
        for k in implemented::<KexAlgorithm>() {
            cases.push(KeyscanCase { key: f.name, kex: k.name(), certificate: false });
        }
        cases.push(KeyscanCase { key: f.name, kex: "curve25519-sha256", certificate: true });
    }
    eprintln!("{}; ssh-keyscan kex list: {default_kex:?}", dss_note());
    let report = run_matrix("ssh-keyscan -> our server", &cases, default_workers(), |c| {
        let f: Fixture = fixtures::fixture(c.key);
        let kex = KexAlgorithm::from_name(c.kex).ok_or("unknown kex")?;
        let server = TestServer::start(our_server(vec![f.host_key()], &[kex])).map_err(|e| e.to_string())?;
        let out = keyscan(server.port(), f.keyscan_type(), c.certificate);
        let lines = keyscan_lines(&out, server.port());
        let want = if c.certificate { f.certificate_openssh() } else { f.public_openssh() };
        let expect_ok = default_kex.iter().any(|k| k == c.kex);
        let record = server.wait_record_where(|_| true, Duration::from_secs(10));
        if !expect_ok {
            // Not in ssh-keyscan's list: it must fail, and our server must say why.
            let why = record.as_ref().and_then(|r| r.error.clone()).unwrap_or_default();
            return match (lines.is_empty(), why.contains("no common")) {
                (true, true) => Ok(()),
                _ => Err(format!("expected no common kex; printed {lines:?}; server: {why}")),
            };
        }
        if lines != [want.clone()] {
            return Err(format!(
                "printed {lines:?}, expected [{want}]; stderr: {}; server: {record:?}",
                tail(&out.stderr, 1000)
            ));
        }
        // ssh-keyscan hangs up once it has the signed KEX reply, before NEWKEYS: our server
        // has an exchange hash but no completed key exchange.
        match record {
            Some(r) if r.session_id.is_some() && r.peer_version.as_deref() == Some("SSH-2.0-OpenSSH-keyscan") => Ok(()),
            other => Err(format!("server did not reach the KEX reply: {other:?}")),
        }
    });
    report.assert_ok();
}

fn known_hosts_with_cas(dir: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join("known_hosts");
    let text: String = fixtures::ca_public_keys().iter().map(|ca| format!("@cert-authority * {ca}\n")).collect();
    std::fs::write(&p, text).expect("write known_hosts");
    p
}

/// `ssh -v` to our server with these extra options; BatchMode, no user config.
fn ssh_v(addr: SocketAddr, options: &[String], known_hosts: Option<&std::path::Path>) -> Finished {
    let mut cmd = Command::new("ssh");
    cmd.args(["-v", "-F", "/dev/null", "-p", &addr.port().to_string(), "-l", "interop"]);
    cmd.args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "GlobalKnownHostsFile=/dev/null"]);
    match known_hosts {
        // A certificate is checked against the CAs; the fixture certificates name `localhost`.
        Some(kh) => cmd.args([
            "-o".into(),
            format!("UserKnownHostsFile={}", kh.display()),
            "-o".into(),
            "StrictHostKeyChecking=yes".into(),
            "-o".into(),
            "HostKeyAlias=localhost".into(),
        ]),
        None => cmd.args(["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]),
    };
    for o in options {
        cmd.arg("-o").arg(o);
    }
    cmd.arg("127.0.0.1").arg("true");
    run(&mut cmd, Duration::from_secs(60)).expect("run ssh")
}

fn expect_in(stderr: &str, needles: &[String]) -> Result<(), String> {
    let missing: Vec<&String> = needles.iter().filter(|n| !stderr.contains(n.as_str())).collect();
    if missing.is_empty() { Ok(()) } else { Err(format!("ssh -v lacks {missing:?}; stderr: {}", tail(stderr, 3000))) }
}

/// Our server's view of a connection whose authentication attempts it refused.
fn check_refused_at_auth(server: &TestServer) -> Result<ssh_proto::Negotiated, String> {
    let r = server.wait_record_where(|_| true, Duration::from_secs(10)).ok_or("server recorded no connection")?;
    if r.service.as_deref() != Some("ssh-userauth") {
        return Err(format!("server granted no ssh-userauth service: {r:?}"));
    }
    if !r.auth_attempts.iter().any(|(user, method)| user == "interop" && method == "none") {
        return Err(format!("server saw no `none` attempt from user interop: {r:?}"));
    }
    // ssh gives up ("Permission denied") and closes the stream.
    match &r.disconnect {
        Some(d) if d.initiator == ssh_proto::Initiator::Peer => {}
        other => return Err(format!("expected ssh to end the connection, got {other:?} ({:?})", r.error)),
    }
    r.negotiated.ok_or_else(|| "no key exchange recorded".to_owned())
}

/// What `ssh -v` prints when our server refuses it (every method) after the service accept.
fn refused_needles() -> [String; 2] {
    [
        "Authentications that can continue: publickey,keyboard-interactive,password".to_owned(),
        "Permission denied (publickey,keyboard-interactive,password)".to_owned(),
    ]
}

#[derive(Debug)]
struct SshCase {
    kex: &'static str,
    host_key: &'static str,
}

#[test]
fn ssh_vs_our_server_kex_and_host_keys() {
    require_peers!(Peer::Ssh);
    let ssh_kex = ssh_query("kex");
    let ssh_hk = ssh_query("HostKeyAlgorithms");
    let keys: Vec<ssh_proto::HostKey> = fixtures::fixtures().iter().map(Fixture::host_key).collect();
    let offered: BTreeSet<&'static str> = keys.iter().flat_map(|k| k.algorithms()).map(|a| a.name()).collect();
    let mut cases = Vec::new();
    for k in common::<KexAlgorithm>(&ssh_kex) {
        for h in common::<HostKeyAlgorithm>(&ssh_hk) {
            if offered.contains(h.name()) {
                cases.push(SshCase { kex: k.name(), host_key: h.name() });
            }
        }
    }
    eprintln!("{}; host key algorithms: {offered:?}", dss_note());
    let config = our_server(keys, &implemented::<KexAlgorithm>());
    let dir = tempfile::tempdir().expect("temp dir");
    let known_hosts = known_hosts_with_cas(dir.path());
    let report = run_matrix("ssh -> our server (kex × host key)", &cases, default_workers(), |c| {
        let server = TestServer::start(config.clone()).map_err(|e| e.to_string())?;
        let cert = HostKeyAlgorithm::from_name(c.host_key).is_some_and(HostKeyAlgorithm::is_certificate);
        let opts = [format!("KexAlgorithms={}", c.kex), format!("HostKeyAlgorithms={}", c.host_key)];
        let out = ssh_v(server.addr(), &opts, cert.then_some(known_hosts.as_path()));
        let mut needles = vec![
            format!("kex: algorithm: {}", c.kex),
            format!("kex: host key algorithm: {}", c.host_key),
            "SSH2_MSG_NEWKEYS received".to_owned(),
            "SSH2_MSG_SERVICE_ACCEPT received".to_owned(),
        ];
        needles.extend(refused_needles());
        if cert {
            needles.push("host certificate".to_owned());
        }
        expect_in(&out.stderr, &needles)?;
        if out.status.code() != Some(255) {
            return Err(format!("ssh exited with {}", out.status));
        }
        let n = check_refused_at_auth(&server)?;
        if n.kex.name() != c.kex || n.host_key.name() != c.host_key {
            return Err(format!("server negotiated {} / {}", n.kex.name(), n.host_key.name()));
        }
        Ok(())
    });
    report.assert_ok();
}

#[test]
fn ssh_vs_our_server_ciphers_and_macs() {
    require_peers!(Peer::Ssh);
    let ciphers: Vec<Cipher> = common(&ssh_query("cipher"));
    let macs: Vec<Mac> = common(&ssh_query("mac"));
    let kex = [KexAlgorithm::Curve25519Sha256];
    let hk = [HostKeyAlgorithm::Ed25519];
    let cases = Combo::product(&kex, &hk, &ciphers, &macs, &[Compression::None, Compression::ZlibOpenSsh]);
    let config = our_server(fixtures::fixtures().iter().map(Fixture::host_key).collect(), &kex);
    let report = run_matrix("ssh -> our server (cipher × MAC × compression)", &cases, default_workers(), |c| {
        let server = TestServer::start(config.clone()).map_err(|e| e.to_string())?;
        let mut opts = vec![format!("Ciphers={}", c.cipher.name()), "HostKeyAlgorithms=ssh-ed25519".to_owned()];
        if let Some(m) = c.mac {
            opts.push(format!("MACs={}", m.name()));
        }
        opts.push(format!("Compression={}", if c.compression == Compression::None { "no" } else { "yes" }));
        let out = ssh_v(server.addr(), &opts, None);
        let mac = c.mac.map_or("<implicit>", |m| m.name());
        let needles: Vec<String> = ["server->client", "client->server"]
            .iter()
            .map(|dir| {
                format!("kex: {dir} cipher: {} MAC: {mac} compression: {}", c.cipher.name(), c.compression.name())
            })
            .chain(["SSH2_MSG_SERVICE_ACCEPT received".to_owned()])
            .chain(refused_needles())
            .collect();
        expect_in(&out.stderr, &needles)?;
        c.check(&check_refused_at_auth(&server)?)
    });
    report.assert_ok();
}

#[test]
fn sshd_helper_cleans_up() {
    require_peers!(Peer::Sshd, Peer::Ssh, Peer::SshKeygen);
    let start = Instant::now();
    let sshd = Sshd::start().expect("start sshd");
    let (dir, addr) = (sshd.dir().to_owned(), sshd.addr());
    eprintln!("sshd started in {:?} on {addr}", start.elapsed());
    assert_eq!(sshd.host_keys().len(), 6);
    assert!(sshd.algorithms().kex.iter().any(|k| k == "curve25519-sha256"));
    drop(sshd);
    assert!(!dir.exists(), "temp dir {} left behind", dir.display());
    assert!(std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err(), "sshd still listening");
}

/// The `keyscan` example (built by `cargo test` with the examples): `target/<profile>/examples/keyscan`.
fn keyscan_example() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>");
    profile_dir.join("examples").join(format!("keyscan{}", std::env::consts::EXE_SUFFIX))
}

/// The CLI contract of `examples/keyscan.rs`: flags, output lines, exit codes.
#[test]
fn keyscan_example_cli_contract() {
    require_peers!(Peer::Sshd, Peer::Ssh, Peer::SshKeygen);
    let bin = keyscan_example();
    assert!(
        bin.exists(),
        "{} not built: `cargo test` without --test filters builds the examples, or `cargo build -p ssh-proto --example keyscan`",
        bin.display()
    );
    let sshd = Sshd::start().expect("start sshd");
    let port = sshd.port().to_string();
    let out = run(
        Command::new(&bin)
            .args(["-p", &port, "-o", "KexAlgorithms=curve25519-sha256", "-o", "HostKeyAlgorithms=ssh-ed25519"])
            .args(["-o", "Ciphers=aes128-ctr", "-o", "MACs=hmac-sha2-256-etm@openssh.com", "127.0.0.1"]),
        Duration::from_secs(30),
    )
    .expect("run keyscan");
    assert!(out.status.success(), "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    let key = sshd.host_key("ed25519").expect("ed25519 key");
    assert_eq!(lines.first().copied(), Some(format!("[127.0.0.1]:{port} {}", key.public).as_str()));
    assert_eq!(
        &lines[1..],
        [
            "kex curve25519-sha256",
            "hostkey ssh-ed25519",
            "cipher aes128-ctr",
            "mac hmac-sha2-256-etm@openssh.com",
            "compression none"
        ]
    );
    // With compression asked for.
    let out =
        run(Command::new(&bin).args(["-p", &port, "-o", "Compression=yes", "127.0.0.1"]), Duration::from_secs(30))
            .expect("run keyscan");
    assert!(out.stdout.contains("compression zlib@openssh.com"), "{}{}", out.stdout, out.stderr);
    // Failures: one line naming the cause, non-zero exit. (OpenSSH 9.2 has no ML-KEM; newer
    // sshd would agree, so the case is skipped there.)
    let mlkem_in_sshd = sshd.algorithms().kex.iter().any(|k| k == "mlkem768x25519-sha256");
    let out = run(
        Command::new(&bin).args(["-p", &port, "-o", "KexAlgorithms=mlkem768x25519-sha256", "127.0.0.1"]),
        Duration::from_secs(30),
    )
    .expect("run keyscan");
    if !mlkem_in_sshd {
        assert!(!out.status.success() && out.stderr.contains("no common key exchange algorithm"), "{}", out.stderr);
        assert_eq!(out.stderr.trim().lines().count(), 1);
    }
    drop(sshd);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let out = run(Command::new(&bin).args(["-p", &closed.to_string(), "127.0.0.1"]), Duration::from_secs(30))
        .expect("run keyscan");
    assert!(!out.status.success() && out.stderr.contains("connection refused"), "{}", out.stderr);
    let out = run(Command::new(&bin).args(["-x"]), Duration::from_secs(30)).expect("run keyscan");
    assert_eq!(out.status.code(), Some(2), "usage errors exit 2");
}
