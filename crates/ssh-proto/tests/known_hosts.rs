//! known_hosts with OpenSSH (9.2 on the reference machine) as the oracle:
//!
//! - `ssh-keygen -H`: the same salts give the same hashed names, and our `hash_all` with the
//!   salts `ssh-keygen` drew writes its output byte for byte;
//! - `ssh-keygen -F`: our `find` reports the same lines, on plain files, on files hashed by
//!   `ssh-keygen` and on files hashed by us, `[host]:port` included;
//! - `ssh-keygen -R`: our `remove` leaves the same file;
//! - host certificates made by `ssh-keygen -s` (Ed25519 and RSA CAs): CA-signed, wrong
//!   principal, expired, untrusted CA, revoked CA;
//! - `ssh` itself against a real `sshd`: for a set of known_hosts files and offered host key
//!   algorithms, `ssh`'s verdict (accepted, changed, revoked, unknown) is ours, including
//!   revocations written as `rsa-sha2-256`/`rsa-sha2-512` or as a certificate, NUL bytes in
//!   a line and an upper-case `HostKeyAlias` with a certificate; and the one deliberate
//!   difference (a short type name on a `@revoked` line revokes here, `ssh` skips it).
//!
//! Without the peers each test prints `SKIPPED:` and passes, unless `SSH_INTEROP=require`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand_core::{Infallible, TryCryptoRng, TryRng};
use ssh_key::{Certificate, PublicKey};
use ssh_proto::SeededRng;
use ssh_proto::keys::certificate::CertificateError;
use ssh_proto::known_hosts::paramiko::HostKeys;
use ssh_proto::known_hosts::{HashedHost, Hashing, HostQuery, HostStatus, Hosts, KnownHosts, OfferedKey, hash_host};
use tempfile::TempDir;
use test_support::process::{Finished, run};
use test_support::{Peer, Sshd, python, require_peers};

const T: Duration = Duration::from_secs(60);

fn keygen(args: &[&str]) -> Finished {
    run(Command::new("ssh-keygen").args(args), T).expect("ssh-keygen runs")
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// `type base64` of a public key file.
fn key_line(path: &Path) -> String {
    fs::read_to_string(path).unwrap().split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

/// Keys made by `ssh-keygen` in a temporary directory.
struct Keys {
    dir: TempDir,
}

impl Keys {
    fn new() -> Self {
        Self { dir: tempfile::tempdir().unwrap() }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A new key pair `name` / `name.pub`; returns `type base64`.
    fn generate(&self, name: &str, args: &[&str]) -> String {
        let path = self.path(name);
        let out = keygen(&[args, &["-q", "-N", "", "-C", name, "-f", path.to_str().unwrap()]].concat());
        assert!(out.status.success(), "ssh-keygen {args:?}: {}", out.stderr);
        key_line(&self.path(&format!("{name}.pub")))
    }

    fn public(&self, name: &str) -> PublicKey {
        PublicKey::from_openssh(&key_line(&self.path(&format!("{name}.pub")))).unwrap()
    }

    /// `ssh-keygen -s ca -h -n principals -I id [-V validity] key.pub`, on a copy of the key so
    /// every certificate has its own file.
    fn certify(&self, ca: &str, key: &str, principals: &str, validity: Option<&str>, label: &str) -> Certificate {
        let copy = self.path(&format!("{label}.pub"));
        fs::copy(self.path(&format!("{key}.pub")), &copy).unwrap();
        let ca_path = self.path(ca);
        let mut args = vec!["-q", "-s", ca_path.to_str().unwrap(), "-h", "-n", principals, "-I", label];
        if let Some(v) = validity {
            args.extend(["-V", v]);
        }
        args.push(copy.to_str().unwrap());
        let out = keygen(&args);
        assert!(out.status.success(), "ssh-keygen -s: {}", out.stderr);
        Certificate::from_openssh(&fs::read_to_string(self.path(&format!("{label}-cert.pub"))).unwrap()).unwrap()
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        fs::write(&p, text).unwrap();
        p
    }
}

/// Hands out fixed bytes (the salts `ssh-keygen` drew), then zeros.
struct Replay(Vec<u8>);

impl TryRng for Replay {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for d in dst {
            *d = if self.0.is_empty() { 0 } else { self.0.remove(0) };
        }
        Ok(())
    }
}

impl TryCryptoRng for Replay {}

/// A plain file exercising every kind of line `ssh-keygen` accepts.
fn sample_file(k: &Keys) -> String {
    let ed = k.generate("host_ed25519", &["-t", "ed25519"]);
    let ec = k.generate("host_ecdsa", &["-t", "ecdsa", "-b", "256"]);
    let rsa = k.generate("host_rsa", &["-t", "rsa", "-b", "2048"]);
    let other = k.generate("other_ed25519", &["-t", "ed25519"]);
    format!(
        "# known hosts for the oracle test\n\
         host.example.com,192.0.2.1 {ed} a comment\n\
         [host.example.com]:2222 {ec}\n\
         Mixed.Case.COM {rsa}\n\
         \n\
         \t  indented.example.com {ed}\n\
         *.wild.example.com,!bad.wild.example.com {other}\n\
         host.example.com {rsa} second key for the host\n\
         @cert-authority *.example.com {other}\n\
         @revoked revoked.example.com {ed}\n\
         [10.0.0.1]:2200,10.0.0.1 {ec}\n\
         multi-a,multi-b,multi-c {other}\n"
    )
}

/// The names `ssh-keygen -H` hashes in `sample_file`, in output order.
const SAMPLE_HASHED_NAMES: &[&str] = &[
    "host.example.com",
    "192.0.2.1",
    "[host.example.com]:2222",
    "mixed.case.com",
    "indented.example.com",
    "host.example.com",
    "[10.0.0.1]:2200",
    "10.0.0.1",
    "multi-a",
    "multi-b",
    "multi-c",
];

const QUERIES: &[&str] = &[
    "host.example.com",
    "192.0.2.1",
    "[host.example.com]:2222",
    "[host.example.com]:2223",
    "mixed.case.com",
    "indented.example.com",
    "x.wild.example.com",
    "bad.wild.example.com",
    "revoked.example.com",
    "a.example.com",
    "[10.0.0.1]:2200",
    "10.0.0.1",
    "multi-b",
    "nowhere.example.org",
];

/// The line numbers `ssh-keygen -F name -f file` reports, with the lines it prints.
fn keygen_find(file: &Path, name: &str) -> Vec<(usize, String)> {
    let out = keygen(&["-F", name, "-f", file.to_str().unwrap()]);
    let mut found = Vec::new();
    let mut lines = out.stdout.lines();
    while let Some(l) = lines.next() {
        let header = format!("# Host {name} found: line ");
        if let Some(rest) = l.strip_prefix(&header) {
            let n: usize = rest.split_whitespace().next().unwrap().parse().unwrap();
            found.push((n, lines.next().unwrap_or_default().to_owned()));
        }
    }
    assert_eq!(out.status.success(), !found.is_empty(), "{name}: {}", out.stderr);
    found
}

fn our_find(kh: &KnownHosts, name: &str) -> Vec<(usize, String)> {
    kh.find(name).into_iter().map(|(n, _)| (n, kh.lines()[n - 1].raw().to_owned())).collect()
}

#[test]
fn hash_host_matches_ssh_keygen_h() {
    require_peers!(Peer::SshKeygen);
    let k = Keys::new();
    let text = sample_file(&k);
    let file = k.write("known_hosts", &text);
    let out = keygen(&["-H", "-f", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", out.stderr);
    let hashed_text = fs::read_to_string(&file).unwrap();

    // Every hashed line: recompute from its salt and the name it stands for.
    let mut salts = Vec::new();
    let hashed: Vec<&str> = hashed_text.lines().filter(|l| l.starts_with("|1|")).collect();
    assert_eq!(hashed.len(), SAMPLE_HASHED_NAMES.len(), "{hashed_text}");
    for (line, name) in hashed.iter().zip(SAMPLE_HASHED_NAMES) {
        let field = line.split(' ').next().unwrap();
        let theirs = HashedHost::parse(field).expect("ssh-keygen's field parses");
        assert_eq!(hash_host(name, theirs.salt()), field, "{name}");
        assert_eq!(HostKeys::hash_host(name, field).as_deref(), Some(field), "Paramiko-style salt reuse");
        salts.extend_from_slice(theirs.salt());
    }

    // Our hash_all, given the salts ssh-keygen drew, writes exactly its file.
    let mut ours = KnownHosts::parse(&text).unwrap();
    let report = ours.hash_all(&mut Replay(salts)).unwrap();
    assert_eq!(report.names, SAMPLE_HASHED_NAMES.len());
    assert_eq!(report.wildcards.len(), 1);
    assert_eq!(ours.write(), hashed_text);
}

#[test]
fn find_matches_ssh_keygen_f() {
    require_peers!(Peer::SshKeygen);
    let k = Keys::new();
    let text = sample_file(&k);
    let plain = k.write("plain", &text);
    let by_keygen = k.write("by_keygen", &text);
    let out = keygen(&["-H", "-f", by_keygen.to_str().unwrap()]);
    assert!(out.status.success(), "{}", out.stderr);
    let mut ours = KnownHosts::parse(&text).unwrap();
    ours.hash_all(&mut SeededRng::new(1)).unwrap();
    // Plus entries appended the way `ssh` records new hosts, hashed.
    let ed = k.public("host_ed25519");
    ours.add("appended.example.org", ed.key_data(), Hashing::Rng(&mut SeededRng::new(2))).unwrap();
    ours.add("[appended.example.org]:2022", ed.key_data(), Hashing::Rng(&mut SeededRng::new(3))).unwrap();
    let by_us = k.write("by_us", &ours.write());

    let mut checked = 0;
    for (file, extra) in [
        (&plain, &["HOST.Example.com", "MIXED.case.com"][..]),
        (&by_keygen, &[]),
        (&by_us, &["appended.example.org", "[appended.example.org]:2022"]),
    ] {
        let kh = KnownHosts::parse(&fs::read_to_string(file).unwrap()).unwrap();
        assert_eq!(kh.problems().count(), 0);
        for name in QUERIES.iter().chain(extra) {
            let theirs = keygen_find(file, name);
            assert_eq!(our_find(&kh, name), theirs, "{}: {name}", file.display());
            checked += usize::from(!theirs.is_empty());
        }
    }
    assert!(checked > 25, "too few hits ({checked}) to mean anything");
    // [host]:port built from host and port.
    let kh = KnownHosts::parse(&text).unwrap();
    assert_eq!(
        kh.find_host("host.example.com", 2222).iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        keygen_find(&plain, "[host.example.com]:2222").iter().map(|(n, _)| *n).collect::<Vec<_>>()
    );
}

#[test]
fn remove_matches_ssh_keygen_r() {
    require_peers!(Peer::SshKeygen);
    let k = Keys::new();
    let text = sample_file(&k);
    let hashed_file = k.write("hashed", &text);
    assert!(keygen(&["-H", "-f", hashed_file.to_str().unwrap()]).status.success());
    let hashed = fs::read_to_string(&hashed_file).unwrap();
    for (label, original) in [("plain", &text), ("hashed", &hashed)] {
        for name in QUERIES {
            let file = k.write("victim", original);
            let out = keygen(&["-R", name, "-f", file.to_str().unwrap()]);
            assert!(out.status.success(), "-R {name}: {}", out.stderr);
            let theirs = fs::read_to_string(&file).unwrap();
            let mut ours = KnownHosts::parse(original).unwrap();
            let removed = ours.remove(name);
            assert_eq!(ours.write(), theirs, "{label}: -R {name}");
            assert_eq!(removed.is_empty(), theirs == **original, "{label}: -R {name}");
        }
    }
}

#[test]
fn certificates_from_ssh_keygen() {
    require_peers!(Peer::SshKeygen);
    let k = Keys::new();
    let ca_ed = k.generate("ca_ed25519", &["-t", "ed25519"]);
    let ca_rsa = k.generate("ca_rsa", &["-t", "rsa", "-b", "3072"]);
    k.generate("ca_untrusted", &["-t", "ed25519"]);
    k.generate("host_ed25519", &["-t", "ed25519"]);
    k.generate("host_ecdsa", &["-t", "ecdsa", "-b", "384"]);
    let h = "host.example.com";
    let by_ed = k.certify("ca_ed25519", "host_ecdsa", h, None, "by_ed");
    let by_rsa = k.certify("ca_rsa", "host_ed25519", h, None, "by_rsa");
    let wrong_principal = k.certify("ca_ed25519", "host_ecdsa", "other.example.com", None, "wrong_principal");
    let expired = k.certify("ca_rsa", "host_ed25519", h, Some("20000101:20010101"), "expired");
    let untrusted = k.certify("ca_untrusted", "host_ed25519", h, None, "untrusted");
    assert_eq!(by_rsa.signature().algorithm().as_str(), "rsa-sha2-512");

    let text = format!("# CAs\n@cert-authority *.example.com {ca_ed}\n@cert-authority {h},[{h}]:2222 {ca_rsa}\n");
    let kh = KnownHosts::parse(&text).unwrap();
    let check = |c: &Certificate, port| kh.check(&HostQuery::new(h, port), c.into(), now()).status;
    assert_eq!(check(&by_ed, 22), HostStatus::CaSigned { line: 2, without_port: false });
    assert_eq!(check(&by_rsa, 22), HostStatus::CaSigned { line: 3, without_port: false });
    assert_eq!(check(&by_rsa, 2222), HostStatus::CaSigned { line: 3, without_port: false });
    // `*.example.com` does not match `[host.example.com]:2022`; OpenSSH retries without the port.
    assert_eq!(check(&by_ed, 2022), HostStatus::CaSigned { line: 2, without_port: true });
    match check(&wrong_principal, 22) {
        HostStatus::CertificateRejected {
            ca_line: Some(2),
            error: CertificateError::PrincipalNotListed { principal },
            plain,
        } => {
            assert_eq!(principal, h);
            assert_eq!(*plain, HostStatus::NotFound);
        }
        s => panic!("wrong principal: {s:?}"),
    }
    match check(&expired, 22) {
        HostStatus::CertificateRejected {
            ca_line: Some(3), error: CertificateError::Expired { valid_before }, ..
        } => {
            // 2001-01-01, in the machine's time zone.
            assert!(valid_before.abs_diff(978_307_200) <= 14 * 3600, "{valid_before}");
        }
        s => panic!("expired: {s:?}"),
    }
    match check(&untrusted, 22) {
        HostStatus::CertificateRejected {
            ca_line: None, error: CertificateError::UntrustedCa { fingerprint }, ..
        } => {
            assert_eq!(fingerprint, k.public("ca_untrusted").fingerprint(ssh_key::HashAlg::Sha256).to_string());
        }
        s => panic!("untrusted: {s:?}"),
    }
    // The certificate's own key listed: OpenSSH falls back to it.
    let mut with_plain = kh.clone();
    with_plain.add(h, untrusted.public_key(), Hashing::Plain).unwrap();
    let s = with_plain.check(&HostQuery::new(h, 22), (&untrusted).into(), now()).status;
    assert!(s.is_trusted(), "{s:?}");
    // Revoking the CA wins.
    let revoked = KnownHosts::parse(&format!("{text}@revoked * {ca_rsa}\n")).unwrap();
    assert_eq!(revoked.check(&HostQuery::new(h, 22), (&by_rsa).into(), now()).status, HostStatus::Revoked { line: 4 });
}

/// `ssh`'s verdict on the host key, from its messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SshVerdict {
    Accepted,
    Changed,
    Revoked,
    Unknown,
}

fn our_verdict(s: &HostStatus) -> SshVerdict {
    if s.is_revoked() {
        SshVerdict::Revoked
    } else if s.is_trusted() {
        SshVerdict::Accepted
    } else if s.is_changed() {
        SshVerdict::Changed
    } else {
        SshVerdict::Unknown
    }
}

fn ssh_verdict(sshd: &Sshd, known_hosts: &Path, host_key_alg: &str, alias: Option<&str>) -> (SshVerdict, String) {
    let mut cmd = Command::new("ssh");
    cmd.env_remove("SSH_AUTH_SOCK").args(["-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"]);
    cmd.args(["-o", "CheckHostIP=no", "-o", "GlobalKnownHostsFile=/dev/null", "-o", "UpdateHostKeys=no"]);
    cmd.args([
        "-o",
        "PubkeyAuthentication=no",
        "-o",
        "PasswordAuthentication=no",
        "-o",
        "KbdInteractiveAuthentication=no",
    ]);
    cmd.arg("-o").arg(format!("UserKnownHostsFile={}", known_hosts.display()));
    cmd.arg("-o").arg(format!("HostKeyAlgorithms={host_key_alg}"));
    if let Some(a) = alias {
        cmd.arg("-o").arg(format!("HostKeyAlias={a}"));
    }
    cmd.args(["-p", &sshd.port().to_string(), "nobody@127.0.0.1", "true"]);
    let out = run(&mut cmd, T).expect("ssh runs");
    let e = out.stderr;
    let v = if e.contains("REVOKED HOST KEY DETECTED") {
        SshVerdict::Revoked
    } else if e.contains("REMOTE HOST IDENTIFICATION HAS CHANGED") {
        SshVerdict::Changed
    } else if e.contains("Permission denied") {
        SshVerdict::Accepted
    } else if e.contains("Host key verification failed") {
        SshVerdict::Unknown
    } else {
        panic!("unexpected ssh output: {e}");
    };
    (v, e)
}

#[test]
fn lookups_agree_with_ssh_against_sshd() {
    require_peers!(Peer::Sshd, Peer::Ssh, Peer::SshKeygen);
    let sshd = Sshd::start().expect("start sshd");
    let port = sshd.port();
    let k = Keys::new();
    let other = k.generate("other_ed25519", &["-t", "ed25519"]);
    let ed = sshd.host_key("ed25519").unwrap();
    let rsa = sshd.host_key("rsa3072").unwrap();
    let ca = sshd.ca_public_key();
    let name = format!("[127.0.0.1]:{port}");
    let hashed = hash_host(&name, &[0x42; 20]);
    let ed_cert_alg = "ssh-ed25519-cert-v01@openssh.com";
    let rsa_blob = rsa.public.split_whitespace().nth(1).unwrap().to_owned();
    let ed_cert_words = ed.certificate.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    // (known_hosts, host key algorithm, HostKeyAlias)
    let cases: Vec<(String, &str, Option<&str>)> = vec![
        (format!("{name} {}\n", ed.public), "ssh-ed25519", None),
        (format!("{name} {other}\n"), "ssh-ed25519", None),
        (format!("{name} {}\n", rsa.public), "ssh-ed25519", None),
        (String::new(), "ssh-ed25519", None),
        (format!("{name} {}\n@revoked * {}\n", ed.public, ed.public), "ssh-ed25519", None),
        (format!("127.0.0.1 {}\n", ed.public), "ssh-ed25519", None),
        (format!("127.0.0.1 {other}\n"), "ssh-ed25519", None),
        (format!("{hashed} {}\n", ed.public), "ssh-ed25519", None),
        (format!("[127.0.0.*]:* {}\n", ed.public), "ssh-ed25519", None),
        (format!("[127.0.0.*]:*,!{name} {}\n", ed.public), "ssh-ed25519", None),
        (format!("alias {}\n", ed.public), "ssh-ed25519", Some("alias")),
        (format!("{name} {}\n", ed.public), "ssh-ed25519", Some("alias")),
        (format!("@cert-authority [127.0.0.1]:* {ca}\n"), ed_cert_alg, None),
        (format!("@cert-authority 127.0.0.1 {ca}\n"), ed_cert_alg, None),
        (format!("@cert-authority nothing {ca}\n{name} {}\n", ed.public), ed_cert_alg, None),
        (format!("@cert-authority nothing {ca}\n"), ed_cert_alg, None),
        (format!("@cert-authority * {ca}\n@revoked * {ca}\n"), ed_cert_alg, None),
        (format!("@cert-authority * {ca}\n{name} {other}\n"), ed_cert_alg, None),
        (format!("@cert-authority nothing {ca}\n{name} {other}\n"), ed_cert_alg, None),
        // The certificate names 127.0.0.1 and localhost, not the alias.
        (format!("@cert-authority * {ca}\n"), ed_cert_alg, Some("alias")),
        (format!("@cert-authority * {ca}\nalias {}\n", ed.public), ed_cert_alg, Some("alias")),
        // `ssh` lowercases HostKeyAlias before looking it up and checking the principal.
        (format!("@cert-authority * {ca}\n"), ed_cert_alg, Some("LOCALHOST")),
        // Revocations under the other RSA names, and as a certificate of the key.
        (format!("{name} {}\n@revoked * rsa-sha2-512 {rsa_blob}\n", rsa.public), "rsa-sha2-512", None),
        (format!("{name} {}\n@revoked * rsa-sha2-256 {rsa_blob}\n", rsa.public), "rsa-sha2-512", None),
        (format!("{name} rsa-sha2-256 {rsa_blob}\n"), "rsa-sha2-512", None),
        (format!("{name} {}\n@revoked * {ed_cert_words}\n", ed.public), "ssh-ed25519", None),
        // 9.2 reads no short name on the line.
        (format!("{name} RSA {rsa_blob}\n"), "rsa-sha2-512", None),
        // Reading stops at a NUL.
        (format!("nothing\0,* {}\n", ed.public), "ssh-ed25519", None),
        (format!("{name} {}\0 junk\n", ed.public), "ssh-ed25519", None),
    ];
    let cert = Certificate::from_openssh(&ed.certificate).unwrap();
    let plain = PublicKey::from_openssh(&ed.public).unwrap();
    let rsa_key = PublicKey::from_openssh(&rsa.public).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for (i, (text, alg, alias)) in cases.iter().enumerate() {
        let file = k.write(&format!("kh{i}"), text);
        let (theirs, log) = ssh_verdict(&sshd, &file, alg, *alias);
        let kh = KnownHosts::parse(text).unwrap();
        let mut q = HostQuery::new("127.0.0.1", port);
        if let Some(a) = alias {
            q = q.alias(a);
        }
        let offered: OfferedKey<'_> = if alg.contains("cert") {
            (&cert).into()
        } else if alg.starts_with("rsa") {
            (&rsa_key).into()
        } else {
            (&plain).into()
        };
        let ours = kh.check(&q, offered, now()).status;
        assert_eq!(our_verdict(&ours), theirs, "case {i}: {text:?} {alg} {alias:?}\nours: {ours:?}\nssh: {log}");
        eprintln!("case {i}: {alg} {alias:?}: {theirs:?}");
        seen.insert(format!("{theirs:?}"));
    }
    assert_eq!(seen.len(), 4, "every verdict exercised: {seen:?}");

    // On purpose: a `@revoked` line with a short type name revokes here; `ssh` 9.2 skips it.
    let text = format!("{name} {}\n@revoked * RSA {rsa_blob}\n", rsa.public);
    let file = k.write("kh-short-revoked", &text);
    let (theirs, log) = ssh_verdict(&sshd, &file, "rsa-sha2-512", None);
    assert_eq!(theirs, SshVerdict::Accepted, "{log}");
    let ours = KnownHosts::parse(&text).unwrap().check(&HostQuery::new("127.0.0.1", port), (&rsa_key).into(), now());
    assert_eq!(ours.status, HostStatus::Revoked { line: 2 });
}

#[test]
fn paramiko_agrees() {
    require_peers!(Peer::Paramiko, Peer::SshKeygen);
    let k = Keys::new();
    let ed = k.generate("a", &["-t", "ed25519"]);
    let ec = k.generate("b", &["-t", "ecdsa"]);
    let salt = "WlpaWlpaWlpaWlpaWlpaWlpaWlo=";
    let text = format!("h1,h2 {ed}\nh1 {ec}\n{} {ec}\n", HostKeys::hash_host("h3", salt).unwrap());
    let file = k.write("known_hosts", &text);
    let script = format!(
        "import paramiko\n\
         hk = paramiko.HostKeys({file:?})\n\
         print(paramiko.HostKeys.hash_host('Some.Host', {salt:?}))\n\
         for h in ['h1', 'h2', 'h3', 'h4']:\n\
         \x20   d = hk.lookup(h)\n\
         \x20   print(h, ' '.join(sorted(d.keys())) if d is not None else '-')\n\
         print(len(hk), ' '.join(hk.keys()))\n",
        file = file.to_str().unwrap()
    );
    let out = run(Command::new(python()).args(["-c", &script]), T).expect("python runs");
    assert!(out.status.success(), "{}", out.stderr);
    let hk = HostKeys::from_text(&text).unwrap();
    let mut ours = vec![HostKeys::hash_host("Some.Host", salt).unwrap()];
    for h in ["h1", "h2", "h3", "h4"] {
        let keys = hk.lookup(h).map(|m| m.keys().cloned().collect::<Vec<_>>().join(" ")).unwrap_or_else(|| "-".into());
        ours.push(format!("{h} {keys}"));
    }
    ours.push(format!("{} {}", hk.len(), hk.keys().join(" ")));
    assert_eq!(out.stdout.lines().collect::<Vec<_>>(), ours);
    assert!(matches!(KnownHosts::parse(&text).unwrap().entries().nth(2).unwrap().1.hosts, Hosts::Hashed(_)));
}
