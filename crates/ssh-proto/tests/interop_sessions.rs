//! Our client's authentication and connection layers against OpenSSH `sshd` (9.2 on the
//! reference machine): publickey with every key type (local, external signer, user
//! certificate), refused keys, exec with stdout/stderr/exit status/signals, env, stdin
//! streaming through both windows, and a checksummed bulk download with forced rekeys.
//!
//! The session loop is test-support's `client_exec`: the core, driven by a plain std::net
//! loop. Without the peers each test prints `SKIPPED:` and passes, unless
//! `SSH_INTEROP=require`.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use ssh_key::certificate::{Builder, CertType};
use ssh_proto::algorithm::{AlgorithmList, HostKeyAlgorithm};
use ssh_proto::client::{self, Identity};
use ssh_proto::connection::ExitStatus;
use ssh_proto::{KeyPair, SeededRng};
use test_support::fixtures;
use test_support::process::run;
use test_support::{Credential, ExecRequest, Peer, Sshd, SshdOptions, client_exec, require_peers};

const TIMEOUT: Duration = Duration::from_secs(60);

fn current_user() -> String {
    let out = run(Command::new("id").arg("-un"), Duration::from_secs(10)).expect("id -un");
    out.stdout.trim().to_owned()
}

fn start_sshd(extra: &[&str]) -> Sshd {
    let options = SshdOptions { extra_config: extra.iter().map(|s| (*s).to_owned()).collect(), ..Default::default() };
    Sshd::start_with(options).expect("start sshd")
}

fn user_key(name: &'static str) -> Arc<KeyPair> {
    Arc::new(fixtures::fixture(name).plain_host_key().key_pair().clone())
}

fn authorize(sshd: &Sshd, key: &KeyPair) {
    sshd.authorize_key(&key.public_key().to_openssh().expect("encode key")).expect("authorized_keys");
}

fn exec(user: &str, credentials: Vec<Credential>, command: &str) -> ExecRequest {
    ExecRequest {
        user: user.to_owned(),
        credentials,
        command: command.to_owned(),
        env: Vec::new(),
        stdin: Vec::new(),
        max_output: 512 * 1024 * 1024,
    }
}

#[test]
fn publickey_with_every_key_type_then_exec() {
    require_peers!(Peer::Sshd, Peer::Ssh, Peer::SshKeygen);
    let sshd = start_sshd(&["AcceptEnv SSHRS_*"]);
    let user = current_user();
    for name in ["ed25519", "ecdsa256", "ecdsa384", "ecdsa521", "rsa2048"] {
        let key = user_key(name);
        authorize(&sshd, &key);
        let mut req = exec(
            &user,
            vec![Credential::Key(Identity::Key(key))],
            "printf \"out:$SSHRS_TEST\"; printf err >&2; exit 7",
        );
        req.env = vec![("SSHRS_TEST".into(), name.into()), ("NOT_ACCEPTED".into(), "x".into())];
        let out = client_exec(sshd.addr(), client::Config::default(), &req, TIMEOUT)
            .unwrap_or_else(|e| panic!("{name}: {e}\nsshd log: {}", sshd.log()));
        assert_eq!(String::from_utf8_lossy(&out.stdout), format!("out:{name}"), "{name}");
        assert_eq!(out.stderr, b"err", "{name}");
        assert_eq!(out.exit, Some(ExitStatus::Code(7)), "{name}");
        assert!(out.auth_failures.is_empty(), "{name}: {:?}", out.auth_failures);
        assert!(out.announced_host_keys >= 5, "{name}: sshd announces its host keys (hostkeys-00)");
        assert!(out.negotiated.unwrap().strict_kex);
    }
}

#[test]
fn rsa_signature_algorithms_and_external_signers() {
    require_peers!(Peer::Sshd, Peer::Ssh, Peer::SshKeygen);
    let sshd = start_sshd(&[]);
    let user = current_user();
    let rsa = user_key("rsa2048");
    authorize(&sshd, &rsa);
    // An agent-style signer is asked for the best algorithm in server-sig-algs.
    let out = client_exec(
        sshd.addr(),
        client::Config::default(),
        &exec(&user, vec![Credential::ExternalKey(rsa.clone())], "true"),
        TIMEOUT,
    )
    .unwrap_or_else(|e| panic!("{e}\nsshd log: {}", sshd.log()));
    assert_eq!(out.signed_with.as_deref(), Some("rsa-sha2-512"));
    assert_eq!(out.exit, Some(ExitStatus::Code(0)));
    // Restricted to rsa-sha2-256.
    let config = client::Config {
        publickey_algorithms: AlgorithmList::new([HostKeyAlgorithm::RsaSha256]),
        ..Default::default()
    };
    let out = client_exec(sshd.addr(), config, &exec(&user, vec![Credential::ExternalKey(rsa)], "true"), TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}\nsshd log: {}", sshd.log()));
    assert_eq!(out.signed_with.as_deref(), Some("rsa-sha2-256"));
    // ECDSA through the external path too.
    let ec = user_key("ecdsa384");
    authorize(&sshd, &ec);
    let out = client_exec(
        sshd.addr(),
        client::Config::default(),
        &exec(&user, vec![Credential::ExternalKey(ec)], "true"),
        TIMEOUT,
    )
    .unwrap_or_else(|e| panic!("{e}\nsshd log: {}", sshd.log()));
    assert_eq!(out.signed_with.as_deref(), Some("ecdsa-sha2-nistp384"));
}

#[test]
fn refused_key_then_the_right_one_then_a_user_certificate() {
    require_peers!(Peer::Sshd, Peer::Ssh, Peer::SshKeygen);
    let sshd = start_sshd(&[]);
    let user = current_user();
    let stranger = Arc::new(KeyPair::generate_ed25519(&mut SeededRng::new(99)));
    let known = user_key("ecdsa256");
    authorize(&sshd, &known);
    let creds = vec![Credential::Key(Identity::Key(stranger.clone())), Credential::Key(Identity::Key(known))];
    let out = client_exec(sshd.addr(), client::Config::default(), &exec(&user, creds, "echo hi"), TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}\nsshd log: {}", sshd.log()));
    assert_eq!(out.auth_failures, [vec!["publickey".to_owned()]]);
    assert_eq!(out.stdout, b"hi\n");

    // No key at all: the error names what the server allows.
    let err = client_exec(
        sshd.addr(),
        client::Config::default(),
        &exec(&user, vec![Credential::Key(Identity::Key(stranger.clone()))], "true"),
        TIMEOUT,
    )
    .unwrap_err();
    assert!(err.contains("every credential was refused") && err.contains("publickey"), "{err}");

    // The stranger key with a certificate from the CA sshd trusts, for this user.
    let ca_text = std::fs::read_to_string(sshd.ca_private_path()).expect("CA key");
    let ca = KeyPair::from_openssh(&ca_text).expect("CA key");
    let mut b =
        Builder::new_with_random_nonce(&mut SeededRng::new(5), stranger.public_key().key_data().clone(), 0, u64::MAX)
            .expect("builder");
    b.cert_type(CertType::User).unwrap();
    b.key_id("interop-user").unwrap();
    b.valid_principal(&user).unwrap();
    b.extension("permit-pty", "").unwrap();
    let cert = b.sign(ca.private_key()).expect("sign certificate");
    let creds = vec![Credential::Key(Identity::Certificate(stranger, Box::new(cert)))];
    let out = client_exec(sshd.addr(), client::Config::default(), &exec(&user, creds, "echo cert"), TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}\nsshd log: {}", sshd.log()));
    assert_eq!(out.stdout, b"cert\n");
}

#[test]
fn stdin_streams_through_both_windows_and_signals_are_reported() {
    require_peers!(Peer::Sshd, Peer::Ssh, Peer::SshKeygen);
    let sshd = start_sshd(&[]);
    let user = current_user();
    let key = user_key("ed25519");
    authorize(&sshd, &key);
    // 8 MiB through `cat`: four times OpenSSH's default window each way.
    let input: Vec<u8> = (0..8 * 1024 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let mut req = exec(&user, vec![Credential::Key(Identity::Key(key.clone()))], "cat; echo done >&2");
    req.stdin = input.clone();
    let out = client_exec(sshd.addr(), client::Config::default(), &req, TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}\nsshd log: {}", sshd.log()));
    assert!(out.stdout == input, "cat returned {} bytes, not the {} sent", out.stdout.len(), input.len());
    assert_eq!(out.stderr, b"done\n");
    assert_eq!(out.exit, Some(ExitStatus::Code(0)));
    // A command killed by a signal.
    let out = client_exec(
        sshd.addr(),
        client::Config::default(),
        &exec(&user, vec![Credential::Key(Identity::Key(key))], "kill -TERM $$"),
        TIMEOUT,
    )
    .unwrap_or_else(|e| panic!("{e}\nsshd log: {}", sshd.log()));
    assert!(
        matches!(out.exit, Some(ExitStatus::Signal { ref name, core_dumped: false, .. }) if name == "TERM"),
        "{:?}",
        out.exit
    );
}

#[test]
fn bulk_download_with_forced_rekeys_is_intact() {
    require_peers!(Peer::Sshd, Peer::Ssh, Peer::SshKeygen);
    let sshd = start_sshd(&["RekeyLimit 8M"]);
    let user = current_user();
    let key = user_key("ed25519");
    authorize(&sshd, &key);
    const LINES: usize = 4 * 1024 * 1024;
    let line = b"0123456789abcdef\n";
    let command = format!("yes 0123456789abcdef | head -n {LINES}");
    let out = client_exec(
        sshd.addr(),
        client::Config::default(),
        &exec(&user, vec![Credential::Key(Identity::Key(key))], &command),
        TIMEOUT * 3,
    )
    .unwrap_or_else(|e| panic!("{e}\nsshd log: {}", sshd.log()));
    assert_eq!(out.stdout.len(), LINES * line.len());
    assert!(out.stdout.chunks(line.len()).all(|c| c == line), "corrupted output");
    // 68 MiB at an 8 MiB limit: at least 8 re-exchanges (sshd counts both directions).
    assert!(out.key_exchanges >= 8, "only {} key exchanges", out.key_exchanges);
    assert_eq!(out.exit, Some(ExitStatus::Code(0)));
}

// ---- OpenSSH `ssh` against our server ----------------------------------------------------

mod ssh_to_our_server {
    use std::os::unix::fs::PermissionsExt;
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};
    use std::time::Duration;

    use ssh_proto::server;
    use test_support::fixtures::{self, Fixture};
    use test_support::process::{Finished, run, run_with_input, tail};
    use test_support::{AuthPolicy, Peer, ServerOptions, TestServer, require_peers};

    /// A private key file ssh accepts (mode 0600) in `dir`.
    fn key_file(dir: &Path, f: &Fixture) -> PathBuf {
        let p = dir.join(format!("id_{}", f.name));
        std::fs::copy(&f.private_path, &p).expect("copy key");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        p
    }

    fn server(policy: AuthPolicy) -> TestServer {
        let mut cfg = server::Config::new(fixtures::fixtures().iter().map(Fixture::host_key).collect());
        cfg.auth.banner = Some("toy server\n".into());
        TestServer::start_with(cfg.into(), ServerOptions { auth: policy, ..Default::default() }).expect("start server")
    }

    fn ssh(server: &TestServer, args: &[&str], command: &str, stdin: &[u8]) -> Finished {
        let mut cmd = Command::new("ssh");
        // The caller's options first: in ssh the first value given wins.
        cmd.args(args);
        cmd.args(["-F", "/dev/null", "-p", &server.port().to_string(), "-l", "alice"]);
        cmd.args(["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]);
        cmd.args(["-o", "ConnectTimeout=10", "-o", "IdentitiesOnly=yes"]);
        cmd.arg("127.0.0.1").arg(command);
        run_with_input(&mut cmd, stdin, Duration::from_secs(60)).expect("run ssh")
    }

    #[test]
    fn ssh_logs_in_with_keys_and_runs_commands() {
        require_peers!(Peer::Ssh);
        let dir = tempfile::tempdir().expect("temp dir");
        let fx: Vec<Fixture> = ["ed25519", "ecdsa256", "ecdsa521", "rsa2048"].map(fixtures::fixture).into();
        let server = server(AuthPolicy { keys: fx.iter().map(|f| f.public.clone()).collect(), password: None });
        for f in &fx {
            let key = key_file(dir.path(), f);
            let id = ["-i", key.to_str().unwrap(), "-o", "BatchMode=yes"];
            let out = ssh(&server, &id, "echo hello", b"");
            assert_eq!(
                (out.status.code(), out.stdout.as_str()),
                (Some(0), "hello\n"),
                "{}: {}",
                f.name,
                tail(&out.stderr, 2000)
            );
        }
        let key = key_file(dir.path(), &fx[0]);
        let id = ["-i", key.to_str().unwrap(), "-o", "BatchMode=yes"];
        // The banner, shown at the default log level.
        let out = ssh(&server, &[&id[..], &["-o", "LogLevel=INFO"]].concat(), "echo x", b"");
        assert!(out.stderr.contains("toy server"), "banner not shown: {}", out.stderr);
        // Exit codes and stderr.
        let out = ssh(&server, &id, "exit 3", b"");
        assert_eq!(out.status.code(), Some(3), "{}", out.stderr);
        let out = ssh(&server, &id, "stderr oops", b"");
        assert!(out.stderr.contains("oops") && out.stdout.is_empty(), "{out:?}");
        // Environment through SendEnv.
        let mut with_env: Vec<&str> = id.to_vec();
        with_env.extend(["-o", "SendEnv=SSHRS_TOY"]);
        let out = {
            // The variable is set for ssh only, through env(1).
            let mut cmd = Command::new("env");
            cmd.arg("SSHRS_TOY=set").arg("ssh");
            cmd.args(["-F", "/dev/null", "-p", &server.port().to_string(), "-l", "alice"]);
            cmd.args(["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]);
            cmd.args(&with_env).arg("127.0.0.1").arg("env SSHRS_TOY");
            run(cmd.stdin(Stdio::null()), Duration::from_secs(60)).expect("run ssh")
        };
        assert_eq!(out.stdout, "set\n", "{}", out.stderr);
        // A pty when forced with -t -t.
        let mut tty: Vec<&str> = id.to_vec();
        tty.extend(["-t", "-t"]);
        let out = ssh(&server, &tty, "tty", b"");
        assert!(out.stdout.contains("pty"), "{out:?}");
        // stdin through cat: 4 MiB, twice OpenSSH's window, echoed exactly.
        let input: Vec<u8> = (0..4 * 1024 * 1024u32).map(|i| b'a' + (i % 23) as u8).collect();
        let out = ssh(&server, &id, "cat", &input);
        assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
        assert!(
            out.stdout.as_bytes() == input.as_slice(),
            "cat echoed {} bytes; {}; {:?}",
            out.stdout.len(),
            out.stderr,
            server.records().last()
        );
        // 32 MiB from our server, as fast as ssh's window lets it.
        let out = ssh(&server, &id, "bulk 33554432", b"");
        assert_eq!(out.stdout.len(), 33_554_432, "{}", out.stderr);
        assert!(out.stdout.as_bytes().chunks(17).all(|c| c == &b"0123456789abcdef\n"[..c.len()]));
        // Records: every connection authenticated alice with a key.
        let records = server.records();
        assert!(records.iter().all(|r| r.authenticated.as_deref() == Some("alice")), "{records:?}");
    }

    #[test]
    fn ssh_password_and_keyboard_interactive_through_askpass() {
        require_peers!(Peer::Ssh);
        let dir = tempfile::tempdir().expect("temp dir");
        let askpass = dir.path().join("askpass.sh");
        std::fs::write(&askpass, "#!/bin/sh\necho sesame\n").expect("write askpass");
        std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        let server = server(AuthPolicy { keys: Vec::new(), password: Some("sesame".into()) });
        for method in ["password", "keyboard-interactive"] {
            let mut cmd = Command::new("ssh");
            cmd.env("SSH_ASKPASS", &askpass).env("SSH_ASKPASS_REQUIRE", "force").env("DISPLAY", ":0");
            cmd.args(["-F", "/dev/null", "-p", &server.port().to_string(), "-l", "alice"]);
            cmd.args(["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]);
            cmd.args(["-o", &format!("PreferredAuthentications={method}"), "-o", "NumberOfPasswordPrompts=1"]);
            cmd.args(["-o", "PubkeyAuthentication=no"]).arg("127.0.0.1").arg("echo in");
            let out = run(cmd.stdin(Stdio::null()), Duration::from_secs(60)).expect("run ssh");
            assert_eq!(out.stdout, "in\n", "{method}: {}", out.stderr);
        }
        let methods: Vec<String> =
            server.records().iter().flat_map(|r| r.auth_attempts.iter().map(|(_, m)| m.clone())).collect();
        assert!(
            methods.iter().any(|m| m == "password") && methods.iter().any(|m| m == "keyboard-interactive"),
            "{methods:?}"
        );
    }
}

// ---- Paramiko, both directions --------------------------------------------------------------

mod paramiko_sessions {
    use std::sync::Arc;

    use ssh_proto::client::{self, Identity};
    use ssh_proto::connection::ExitStatus;
    use ssh_proto::server;
    use test_support::fixtures::{self, Fixture};
    use test_support::{
        AuthPolicy, Credential, ExecRequest, ParamikoAuth, ParamikoServer, ParamikoServerOptions, Peer, ServerOptions,
        TestServer, client_exec, paramiko_exec, require_peers,
    };

    use super::TIMEOUT;

    #[test]
    fn paramiko_client_logs_in_to_our_server() {
        require_peers!(Peer::Paramiko);
        let fx: Vec<Fixture> = ["ed25519", "ecdsa384", "rsa2048"].map(fixtures::fixture).into();
        let mut cfg = server::Config::new(vec![fixtures::fixture("ed25519").host_key()]);
        cfg.auth.methods = vec![ssh_proto::auth::AuthMethod::PublicKey, ssh_proto::auth::AuthMethod::Password];
        let policy = AuthPolicy { keys: fx.iter().map(|f| f.public.clone()).collect(), password: Some("pw".into()) };
        let server =
            TestServer::start_with(cfg.into(), ServerOptions { auth: policy, ..Default::default() }).expect("server");
        let dir = tempfile::tempdir().expect("temp dir");
        for f in &fx {
            // Without the `-cert.pub` beside it: Paramiko would offer the host certificate.
            let key = dir.path().join(format!("id_{}", f.name));
            std::fs::copy(&f.private_path, &key).expect("copy key");
            let out = paramiko_exec(server.port(), "bob", &ParamikoAuth::Key(key), "echo via paramiko", b"")
                .unwrap_or_else(|e| panic!("{}: {e}; {:?}", f.name, server.records()));
            assert_eq!((out.stdout.as_str(), out.status), ("via paramiko\n", 0), "{}", f.name);
        }
        let out = paramiko_exec(server.port(), "bob", &ParamikoAuth::Password("pw".into()), "exit 5", b"").unwrap();
        assert_eq!(out.status, 5);
        let out =
            paramiko_exec(server.port(), "bob", &ParamikoAuth::Password("pw".into()), "stderr warn", b"").unwrap();
        assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("", "warn\n"));
        let input: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| b'A' + (i % 26) as u8).collect();
        let out = paramiko_exec(server.port(), "bob", &ParamikoAuth::Password("pw".into()), "cat", &input).unwrap();
        assert!(out.stdout.as_bytes() == input.as_slice(), "cat echoed {} of {} bytes", out.stdout.len(), input.len());
        let out =
            paramiko_exec(server.port(), "bob", &ParamikoAuth::Password("pw".into()), "bulk 20000000", b"").unwrap();
        assert_eq!(out.stdout.len(), 20_000_000);
        let err =
            paramiko_exec(server.port(), "bob", &ParamikoAuth::Password("wrong".into()), "true", b"").unwrap_err();
        assert!(err.contains("Authentication failed"), "{err}");
    }

    #[test]
    fn our_client_logs_in_to_paramiko() {
        require_peers!(Peer::Paramiko);
        let user_keys: Vec<Fixture> = ["ed25519", "ecdsa256", "rsa2048"].map(fixtures::fixture).into();
        let server = ParamikoServer::start(&ParamikoServerOptions {
            host_keys: vec![fixtures::fixture("ed25519").private_path.clone()],
            authorized_keys: user_keys
                .iter()
                .map(|f| f.private_path.with_file_name(format!("host_{}.pub", f.name)))
                .collect(),
            password: Some("pw".into()),
            ..Default::default()
        })
        .expect("paramiko server");
        let req = |credentials, command: &str| ExecRequest {
            user: "carol".into(),
            credentials,
            command: command.into(),
            env: vec![("LANG".into(), "C".into())],
            stdin: Vec::new(),
            max_output: 64 * 1024 * 1024,
        };
        for f in &user_keys {
            let key = Arc::new(f.plain_host_key().key_pair().clone());
            let out = client_exec(
                server.addr(),
                client::Config::default(),
                &req(vec![Credential::Key(Identity::Key(key))], "echo hi"),
                TIMEOUT,
            )
            .unwrap_or_else(|e| panic!("{}: {e}\n{}", f.name, server.log()));
            assert_eq!(out.stdout, b"hi\n", "{}", f.name);
            assert_eq!(out.exit, Some(ExitStatus::Code(0)));
        }
        let pw = || vec![Credential::Password("pw".into())];
        let out = client_exec(server.addr(), client::Config::default(), &req(pw(), "env LANG"), TIMEOUT).unwrap();
        assert_eq!(out.stdout, b"C\n");
        let out = client_exec(server.addr(), client::Config::default(), &req(pw(), "exit 9"), TIMEOUT).unwrap();
        assert_eq!(out.exit, Some(ExitStatus::Code(9)));
        let mut cat = req(pw(), "cat");
        cat.stdin = (0..5 * 1024 * 1024u32).map(|i| (i % 253) as u8).collect();
        let out = client_exec(server.addr(), client::Config::default(), &cat, TIMEOUT).unwrap();
        assert!(out.stdout == cat.stdin, "cat echoed {} of {}", out.stdout.len(), cat.stdin.len());
        let out = client_exec(server.addr(), client::Config::default(), &req(pw(), "bulk 30000000"), TIMEOUT).unwrap();
        assert_eq!(out.stdout.len(), 30_000_000);
        assert!(out.stdout.chunks(17).all(|c| c == &b"0123456789abcdef\n"[..c.len()]));
        // A refused password, then the key: the error path and the retry both work.
        let key = Arc::new(user_keys[0].plain_host_key().key_pair().clone());
        let creds = vec![Credential::Password("nope".into()), Credential::Key(Identity::Key(key))];
        let out = client_exec(server.addr(), client::Config::default(), &req(creds, "echo second"), TIMEOUT).unwrap();
        assert_eq!(out.auth_failures, [vec!["publickey".to_owned(), "password".to_owned()]]);
        assert_eq!(out.stdout, b"second\n");
    }
}
