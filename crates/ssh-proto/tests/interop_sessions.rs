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
