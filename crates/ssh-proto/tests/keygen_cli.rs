//! The CLI contract of `examples/keygen.rs`: ssh-keygen's flags and output, with ssh-keygen
//! itself as the oracle for every line and file it produces.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use test_support::process::{Finished, run};
use test_support::{Peer, require_peers};

const TIMEOUT: Duration = Duration::from_secs(120);

/// `target/<profile>/examples/keygen` (built by `cargo test` with the examples).
fn keygen_example() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>");
    let bin = profile_dir.join("examples").join(format!("keygen{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} not built: `cargo test` without --test filters builds the examples, or `cargo build -p ssh-proto --example keygen`",
        bin.display()
    );
    bin
}

fn ours(args: &[&str]) -> Finished {
    run(Command::new(keygen_example()).args(args), TIMEOUT).unwrap()
}

fn theirs(args: &[&str]) -> Finished {
    run(Command::new("ssh-keygen").args(args), TIMEOUT).unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn ok(out: Finished, what: &str) -> Finished {
    assert!(out.status.success(), "{what}: exit {:?}, stderr {}", out.status.code(), out.stderr);
    out
}

/// A one-line failure with ssh-keygen's exit code.
fn fails(out: &Finished, code: i32, says: &str) {
    assert_eq!(out.status.code(), Some(code), "stderr: {}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "one line: {:?}", out.stderr);
    assert!(out.stderr.contains(says), "{:?} should mention {says:?}", out.stderr);
}

#[test]
fn generate_then_fingerprint_and_public_key_match_ssh_keygen() {
    require_peers!(Peer::SshKeygen);
    let dir = tempfile::tempdir().unwrap();
    for (t, bits, m) in [
        ("ed25519", None, None),
        ("ecdsa", Some("384"), None),
        ("ecdsa", Some("521"), Some("PEM")),
        ("rsa", Some("2048"), Some("PKCS8")),
        ("dsa", None, Some("PEM")),
    ] {
        let path = dir.path().join(format!("id_{t}_{}", bits.unwrap_or("d")));
        let mut args = vec!["-t", t, "-N", "long passphrase", "-C", "cli@test", "-f", s(&path)];
        if let Some(b) = bits {
            args.extend(["-b", b]);
        }
        if let Some(m) = m {
            args.extend(["-m", m]);
        }
        let out = ok(ours(&args), t);
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(lines[0], format!("Generating public/private {t} key pair."));
        assert_eq!(lines[1], format!("Your identification has been saved in {}", path.display()));
        assert_eq!(lines[2], format!("Your public key has been saved in {}.pub", path.display()));
        assert_eq!(lines[3], "The key fingerprint is:");
        assert_eq!(lines[5], "The key's randomart image is:");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);

        // ssh-keygen -lv on our .pub prints our fingerprint line's fingerprint and our art.
        let pub_path = format!("{}.pub", path.display());
        let lv = ok(theirs(&["-lv", "-f", &pub_path]), "ssh-keygen -lv");
        let mut lv_lines = lv.stdout.lines();
        let first = lv_lines.next().unwrap();
        let fp = first.split(' ').nth(1).unwrap();
        assert_eq!(lines[4], format!("{fp} cli@test"));
        let art: Vec<&str> = lv_lines.collect();
        assert_eq!(&lines[6..], &art[..], "{t} randomart");

        // ssh-keygen reads the private key we wrote, with the passphrase.
        let y = ok(theirs(&["-y", "-P", "long passphrase", "-f", s(&path)]), "ssh-keygen -y");
        let pub_line = fs::read_to_string(&pub_path).unwrap();
        let body = |l: &str| l.trim().split(' ').take(2).collect::<Vec<_>>().join(" ");
        assert_eq!(body(&y.stdout), body(&pub_line), "{t}");

        // An existing file is not overwritten.
        fails(&ours(&args), 1, "already exists");
    }
}

#[test]
fn fingerprint_lines_equal_ssh_keygen_for_every_kind_of_file() {
    require_peers!(Peer::SshKeygen);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = |name: &str, t: &str, m: &str, pass: &str| {
        let p = d.join(name);
        ok(theirs(&["-q", "-t", t, "-m", m, "-N", pass, "-C", &format!("{name} comment"), "-f", s(&p)]), name);
        p
    };
    let ed = key("ed", "ed25519", "RFC4716", "");
    let ed_enc = key("ed_enc", "ed25519", "RFC4716", "secret pass");
    let rsa_pem = key("rsa_pem", "rsa", "PEM", "");
    let ec_pk8 = key("ec_pk8", "ecdsa", "PKCS8", "");
    // Private keys without their .pub beside them.
    let lonely = d.join("lonely");
    fs::create_dir(&lonely).unwrap();
    for p in [&ed, &ed_enc, &rsa_pem, &ec_pk8] {
        fs::copy(p, lonely.join(p.file_name().unwrap())).unwrap();
    }
    // A certificate, an authorized_keys file and a known_hosts file.
    ok(theirs(&["-q", "-s", s(&ed), "-I", "id", "-n", "alice", s(&rsa_pem.with_extension("pub"))]), "sign");
    let rsa_pub = format!("{}.pub", rsa_pem.display());
    let cert = format!("{}-cert.pub", rsa_pem.display());
    let ed_pub = fs::read_to_string(format!("{}.pub", ed.display())).unwrap();
    let ec_pub = fs::read_to_string(format!("{}.pub", ec_pk8.display())).unwrap();
    let auth = d.join("authorized_keys");
    fs::write(&auth, format!("# keys\n{ed_pub}\n{ec_pub}")).unwrap();
    let kh = d.join("known_hosts");
    let body = |l: &str| l.split(' ').take(2).collect::<Vec<_>>().join(" ");
    fs::write(&kh, format!("example.com,10.0.0.1 {}\n[b.example]:2222 {}\n", body(&ed_pub), body(&ec_pub))).unwrap();

    let mut files: Vec<String> = [&ed, &ed_enc, &rsa_pem, &ec_pk8].iter().map(|p| s(p).to_owned()).collect();
    files.extend([&ed, &ed_enc, &rsa_pem, &ec_pk8].iter().map(|p| s(&lonely.join(p.file_name().unwrap())).to_owned()));
    files.extend([rsa_pub, cert, s(&auth).to_owned(), s(&kh).to_owned()]);
    for f in &files {
        for extra in [&[][..], &["-E", "md5"][..], &["-v"][..]] {
            let mut args = vec!["-l"];
            args.extend_from_slice(extra);
            args.extend(["-f", f]);
            let want = ok(theirs(&args), f);
            let got = ok(ours(&args), f);
            assert_eq!(got.stdout, want.stdout, "keygen {args:?}");
        }
    }
    fails(&ours(&["-l", "-f", s(&d.join("nonexistent"))]), 255, "nonexistent");
    fs::write(d.join("garbage"), "not a key\n").unwrap();
    fails(&ours(&["-l", "-f", s(&d.join("garbage"))]), 255, "is not a public key file");
}

#[test]
fn public_key_and_passphrase_changes() {
    require_peers!(Peer::SshKeygen);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (t, m) in [("ed25519", "RFC4716"), ("rsa", "PEM"), ("ecdsa", "PKCS8")] {
        let p = d.join(format!("k_{t}"));
        ok(theirs(&["-q", "-t", t, "-m", m, "-N", "first pass", "-C", "me@here", "-f", s(&p)]), t);
        let want = ok(theirs(&["-y", "-P", "first pass", "-f", s(&p)]), t);
        let got = ok(ours(&["-y", "-P", "first pass", "-f", s(&p)]), t);
        assert_eq!(got.stdout, want.stdout, "{t} {m}");
        fails(&ours(&["-y", "-P", "wrong pass", "-f", s(&p)]), 255, "incorrect passphrase");
        fails(&ours(&["-y", "-f", s(&p)]), 255, "passphrase");

        ok(ours(&["-p", "-P", "first pass", "-N", "second pass", "-f", s(&p)]), "-p");
        let again = ok(theirs(&["-y", "-P", "second pass", "-f", s(&p)]), "after -p");
        assert_eq!(again.stdout.split(' ').nth(1), want.stdout.split(' ').nth(1));
        // And to no passphrase at all.
        ok(ours(&["-p", "-P", "second pass", "-N", "", "-f", s(&p)]), "-p to none");
        ok(theirs(&["-y", "-P", "", "-f", s(&p)]), "after -p to none");
    }
    let truncated = d.join("truncated");
    let text = fs::read_to_string(d.join("k_ed25519")).unwrap();
    fs::write(&truncated, &text[..text.len() / 2]).unwrap();
    fails(&ours(&["-y", "-f", s(&truncated)]), 255, "truncated");
    fs::write(d.join("garbage"), "\x00\x01garbage").unwrap();
    fails(&ours(&["-y", "-f", s(&d.join("garbage"))]), 255, "not a key file");
    fails(&ours(&["-t", "rsa", "-b", "512", "-f", s(&d.join("small"))]), 1, "RSA key length");
    fails(&ours(&["-Z"]), 1, "unknown option");
}

/// A known_hosts file with plain, multi-name, port, wildcard, negated, marker and comment
/// lines, all with keys made by ssh-keygen.
fn known_hosts_fixture(d: &Path) -> String {
    let mut keys = Vec::new();
    for (i, t) in ["ed25519", "ecdsa", "rsa"].iter().enumerate() {
        let p = d.join(format!("hk{i}"));
        ok(theirs(&["-q", "-t", t, "-N", "", "-f", s(&p)]), t);
        let line = fs::read_to_string(p.with_extension("pub")).unwrap();
        keys.push(line.split(' ').take(2).collect::<Vec<_>>().join(" "));
    }
    format!(
        "# managed by hand\n\
         example.com,192.0.2.7 {k0}\n\
         example.com {k1}\n\
         [example.com]:2222 {k2}\n\
         \n\
         other.example,[other.example]:22 {k0} a comment\n\
         *.wild.example {k1}\n\
         !bad.example,*.example {k2}\n\
         @cert-authority *.example {k0}\n\
         @revoked revoked.example {k1}\n\
         this line is not a key\n\
         UPPER.Example {k2}\n",
        k0 = keys[0],
        k1 = keys[1],
        k2 = keys[2]
    )
}

const HOSTS: &[&str] = &[
    "example.com",
    "192.0.2.7",
    "[example.com]:2222",
    "other.example",
    "[other.example]:22",
    "x.wild.example",
    "bad.example",
    "good.example",
    "revoked.example",
    "upper.example",
    "missing.invalid",
];

#[test]
fn find_hash_and_remove_equal_ssh_keygen() {
    require_peers!(Peer::SshKeygen);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let text = known_hosts_fixture(d);
    let plain = d.join("plain");
    fs::write(&plain, &text).unwrap();

    // -F on the plain file: same stdout and exit status for every host.
    for host in HOSTS {
        let want = theirs(&["-F", host, "-f", s(&plain)]);
        let got = ours(&["-F", host, "-f", s(&plain)]);
        assert_eq!(got.stdout, want.stdout, "-F {host}");
        assert_eq!(got.status.code(), want.status.code(), "-F {host} exit");
    }

    // -H: ours and ssh-keygen's hash the same names (salts differ), keep the rest, and
    // leave FILE.old; ssh-keygen -F finds every host in our hashed file and vice versa.
    // ssh-keygen -H refuses a file with an invalid line and changes nothing; so do we.
    let (mine, oracle) = (d.join("mine"), d.join("oracle"));
    for (f, run) in [(&mine, ours as fn(&[&str]) -> Finished), (&oracle, theirs)] {
        fs::write(f, &text).unwrap();
        let out = run(&["-H", "-f", s(f)]);
        assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
        assert!(out.stderr.contains("invalid line"), "{}", out.stderr);
        assert_eq!(fs::read_to_string(f).unwrap(), text);
    }
    let text = text.replace("this line is not a key\n", "");
    fs::write(&mine, &text).unwrap();
    fs::write(&oracle, &text).unwrap();
    let got = ok(ours(&["-H", "-f", s(&mine)]), "-H");
    let want = ok(theirs(&["-H", "-f", s(&oracle)]), "ssh-keygen -H");
    assert_eq!(got.stdout.replace("mine", "FILE"), want.stdout.replace("oracle", "FILE"));
    assert_eq!(fs::read_to_string(d.join("mine.old")).unwrap(), text);
    let (m, o) = (fs::read_to_string(&mine).unwrap(), fs::read_to_string(&oracle).unwrap());
    assert_eq!(m.lines().count(), o.lines().count(), "same lines:\n{m}\n---\n{o}");
    for (a, b) in m.lines().zip(o.lines()) {
        assert_eq!(a.starts_with("|1|"), b.starts_with("|1|"), "{a} vs {b}");
        if !a.starts_with("|1|") {
            assert_eq!(a, b);
        }
    }
    for host in HOSTS {
        for (file, other) in [(&mine, &oracle), (&oracle, &mine)] {
            let want = theirs(&["-F", host, "-f", s(other)]);
            let got = theirs(&["-F", host, "-f", s(file)]);
            assert_eq!(got.status.code(), want.status.code(), "-F {host} on hashed files");
            // Our -F on a hashed file prints what ssh-keygen prints.
            let ours_out = ours(&["-F", host, "-f", s(file)]);
            assert_eq!(ours_out.stdout, got.stdout, "our -F {host} on {}", file.display());
        }
    }

    // -R on plain and hashed files: the same resulting file as ssh-keygen's.
    for host in ["example.com", "[example.com]:2222", "other.example", "missing.invalid"] {
        for source in [&plain, &oracle] {
            let (a, b) = (d.join("r_ours"), d.join("r_theirs"));
            fs::copy(source, &a).unwrap();
            fs::copy(source, &b).unwrap();
            // The plain file has an invalid line: both refuse to rewrite it.
            let got = ours(&["-R", host, "-f", s(&a)]);
            let want = theirs(&["-R", host, "-f", s(&b)]);
            assert_eq!(got.status.code(), want.status.code(), "-R {host}: {} / {}", got.stderr, want.stderr);
            assert_eq!(fs::read_to_string(&a).unwrap(), fs::read_to_string(&b).unwrap(), "-R {host}");
            assert_eq!(got.stdout.replace("r_ours", "F"), want.stdout.replace("r_theirs", "F"), "-R {host} stdout");
            for f in [&a, &b] {
                let _ = fs::remove_file(f);
                let _ = fs::remove_file(format!("{}.old", f.display()));
            }
        }
    }
}
