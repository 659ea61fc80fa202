//! Key files and certificates against OpenSSH's `ssh-keygen` as the oracle: every key type in
//! every format ssh-keygen writes (plain and encrypted) loads and gives ssh-keygen's
//! fingerprint lines; every key we write loads in `ssh-keygen -y`; certificates signed by
//! `ssh-keygen -s` with Ed25519, ECDSA and RSA CAs validate, and the ways they can be wrong
//! are told apart.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ssh_key::certificate::CertType;
use ssh_proto::SeededRng;
use ssh_proto::keys::certificate::{CertificateCheck, CertificateError, PrincipalMatch, check_certificate};
use ssh_proto::keys::file::{
    KeyFileError, PrivateKeyFormat, PublicKeyFile, decode_private_key, encode_private_key, is_encrypted, public_key_of,
};
use ssh_proto::keys::fingerprint::{FingerprintHash, keygen_line, randomart};
use ssh_proto::keys::generate::{KeyType, generate};
use test_support::{Peer, process, require_peers};

const TIMEOUT: Duration = Duration::from_secs(60);
const PASS: &str = "correct horse";

/// `(ssh-keygen -t, -b)` for every type OpenSSH 9.2 generates.
const TYPES: &[(&str, Option<u32>)] = &[
    ("ed25519", None),
    ("ecdsa", Some(256)),
    ("ecdsa", Some(384)),
    ("ecdsa", Some(521)),
    ("rsa", Some(2048)),
    ("dsa", None),
];

fn keygen(args: &[&str]) -> process::Finished {
    let out = process::run(Command::new("ssh-keygen").args(args), TIMEOUT).unwrap();
    assert!(out.status.success(), "ssh-keygen {args:?} failed: {}", out.stderr);
    out
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Makes a key with ssh-keygen and returns its path.
fn make_key(dir: &Path, ty: &str, bits: Option<u32>, format: &str, pass: &str) -> PathBuf {
    make_named_key(dir, "", ty, bits, format, pass)
}

fn make_named_key(dir: &Path, prefix: &str, ty: &str, bits: Option<u32>, format: &str, pass: &str) -> PathBuf {
    let name = format!("{prefix}{ty}-{}-{format}-{}", bits.unwrap_or(0), if pass.is_empty() { "plain" } else { "enc" });
    let path = dir.join(name);
    let bits = bits.map(|b| b.to_string());
    let mut args = vec!["-q", "-t", ty, "-m", format, "-N", pass, "-C", "made by ssh-keygen", "-f", s(&path)];
    if let Some(b) = &bits {
        args.extend(["-b", b]);
    }
    keygen(&args);
    path
}

fn format_of(m: &str) -> PrivateKeyFormat {
    match m {
        "RFC4716" => PrivateKeyFormat::OpenSsh,
        "PEM" => PrivateKeyFormat::Pem,
        _ => PrivateKeyFormat::Pkcs8,
    }
}

#[test]
fn ssh_keygen_keys_load_in_every_format_with_its_fingerprints() {
    require_peers!(Peer::SshKeygen);
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for &(ty, bits) in TYPES {
        for m in ["RFC4716", "PEM", "PKCS8"] {
            for pass in ["", PASS] {
                let path = make_key(dir.path(), ty, bits, m, pass);
                let text = fs::read_to_string(&path).unwrap();
                let what = path.display().to_string();
                assert_eq!(is_encrypted(&text).unwrap(), !pass.is_empty(), "{what}");
                let passphrase = (!pass.is_empty()).then_some(pass.as_bytes());
                let loaded = decode_private_key(&text, passphrase).unwrap_or_else(|e| panic!("{what}: {e}"));
                // ssh-keygen writes ed25519 in its own format whatever -m says.
                let want_format = if ty == "ed25519" { PrivateKeyFormat::OpenSsh } else { format_of(m) };
                assert_eq!(loaded.format, want_format, "{what}");
                assert_eq!(loaded.encrypted, !pass.is_empty(), "{what}");

                // The public half equals ssh-keygen's .pub file.
                let pub_text = fs::read_to_string(path.with_extension("pub")).unwrap();
                let PublicKeyFile::Key(want) = ssh_proto::keys::file::decode_public_key(&pub_text).unwrap() else {
                    panic!("{what}.pub is not a key")
                };
                assert_eq!(loaded.key.public_key().key_data(), want.key_data(), "{what}");

                // Fingerprint lines as `ssh-keygen -l [-E md5] -f KEY.pub` prints them.
                // With -v, the randomart picture too.
                for (hash, e) in [(FingerprintHash::Sha256, "sha256"), (FingerprintHash::Md5, "md5")] {
                    let out = keygen(&["-l", "-E", e, "-f", s(&path.with_extension("pub"))]);
                    assert_eq!(keygen_line(&want, false, hash), out.stdout.trim_end(), "{what} -E {e}");
                    let out = keygen(&["-lv", "-E", e, "-f", s(&path.with_extension("pub"))]);
                    let ours =
                        format!("{}\n{}", keygen_line(&want, false, hash), randomart(want.key_data(), false, hash));
                    assert_eq!(ours, out.stdout.trim_end(), "{what} -lv -E {e}");
                }

                // Without a passphrase: a typed refusal, or for OpenSSH keys the public half.
                if !pass.is_empty() {
                    assert_eq!(decode_private_key(&text, None).unwrap_err(), KeyFileError::PassphraseRequired);
                    assert_eq!(
                        decode_private_key(&text, Some(b"wrong passphrase")).unwrap_err(),
                        KeyFileError::WrongPassphrase,
                        "{what}"
                    );
                    let public = public_key_of(&text, None);
                    match want_format {
                        PrivateKeyFormat::OpenSsh => {
                            assert_eq!(public.unwrap().public_key().key_data(), want.key_data())
                        }
                        _ => assert_eq!(public.unwrap_err(), KeyFileError::PassphraseRequired),
                    }
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, TYPES.len() * 6);
}

#[test]
fn keys_we_write_load_in_ssh_keygen() {
    require_peers!(Peer::SshKeygen);
    let dir = tempfile::tempdir().unwrap();
    let mut rng = SeededRng::new(42);
    let kinds = [
        KeyType::Ed25519,
        KeyType::Ecdsa(ssh_key::EcdsaCurve::NistP256),
        KeyType::Ecdsa(ssh_key::EcdsaCurve::NistP384),
        KeyType::Ecdsa(ssh_key::EcdsaCurve::NistP521),
        KeyType::Rsa(2048),
        KeyType::Dsa,
    ];
    for kind in kinds {
        let mut key = generate(kind, &mut rng).unwrap();
        key.set_comment("written by ssh-proto");
        let want = key.public_key().to_openssh().unwrap();
        let want_body: Vec<&str> = want.split(' ').take(2).collect();
        for format in [PrivateKeyFormat::OpenSsh, PrivateKeyFormat::Pem, PrivateKeyFormat::Pkcs8] {
            if kind == KeyType::Ed25519 && format == PrivateKeyFormat::Pem {
                assert!(encode_private_key(&key, format, None, &mut rng).is_err());
                continue;
            }
            for pass in [None, Some(PASS)] {
                let text = encode_private_key(&key, format, pass.map(str::as_bytes), &mut rng).unwrap();
                let path = dir.path().join(format!("{kind:?}-{format:?}-{}", pass.is_some()));
                fs::write(&path, text.as_bytes()).unwrap();
                fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
                if kind == KeyType::Ed25519 && format == PrivateKeyFormat::Pkcs8 {
                    // OpenSSH 9.2 reads no Ed25519 PKCS#8; OpenSSL is the oracle for those.
                    let pass_arg = format!("pass:{}", pass.unwrap_or(""));
                    let out = process::run(
                        Command::new("openssl").args(["pkey", "-noout", "-passin", &pass_arg, "-in", s(&path)]),
                        TIMEOUT,
                    )
                    .unwrap();
                    assert!(out.status.success(), "openssl pkey: {}", out.stderr);
                } else {
                    let out = keygen(&["-y", "-P", pass.unwrap_or(""), "-f", s(&path)]);
                    let got: Vec<&str> = out.stdout.trim().split(' ').take(2).collect();
                    assert_eq!(got, want_body, "{kind:?} {format:?} pass={pass:?}");
                }
                // And back through our reader.
                let again = decode_private_key(&text, pass.map(str::as_bytes)).unwrap();
                assert_eq!(again.key.key_data(), key.key_data());
            }
        }
    }
}

#[test]
fn damaged_files_say_what_is_wrong() {
    require_peers!(Peer::SshKeygen);
    let dir = tempfile::tempdir().unwrap();
    for m in ["RFC4716", "PEM", "PKCS8"] {
        let path = make_key(dir.path(), "ecdsa", Some(256), m, "");
        let text = fs::read_to_string(&path).unwrap();
        // Cut in the middle of the base64 body: the END line is gone.
        let cut = &text[..text.len() / 2];
        assert_eq!(decode_private_key(cut, None).unwrap_err(), KeyFileError::Truncated, "{m}");
        // The public key file is not a private key.
        let pub_text = fs::read_to_string(path.with_extension("pub")).unwrap();
        assert_eq!(decode_private_key(&pub_text, None).unwrap_err(), KeyFileError::PublicKeyOnly);
        // A body that lost lines but kept its armor.
        let lines: Vec<&str> = text.lines().collect();
        let short = [lines[0], lines[1], lines[lines.len() - 1]].join("\n");
        let err = decode_private_key(&short, None).unwrap_err();
        assert!(matches!(err, KeyFileError::Truncated | KeyFileError::Malformed { .. }), "{m}: {err:?}");
        // Base64 that is not base64.
        let bad = text.replacen(&lines[1][..8], "!!!!!!!!", 1);
        assert!(
            matches!(
                decode_private_key(&bad, None).unwrap_err(),
                KeyFileError::InvalidBase64 | KeyFileError::Truncated
            ),
            "{m}"
        );
    }
    assert_eq!(decode_private_key("hello world\n", None).unwrap_err(), KeyFileError::NotAKeyFile);
    assert_eq!(decode_private_key("", None).unwrap_err(), KeyFileError::NotAKeyFile);
    assert!(matches!(
        decode_private_key("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", None).unwrap_err(),
        KeyFileError::UnsupportedFormat { .. }
    ));
    assert!(matches!(
        decode_private_key("PuTTY-User-Key-File-3: ssh-ed25519\n", None).unwrap_err(),
        KeyFileError::UnsupportedFormat { .. }
    ));
}

/// Signs `key.pub` with `ca` as ssh-keygen does and returns the certificate.
fn sign_cert(dir: &Path, ca: &Path, key: &Path, extra: &[&str]) -> ssh_key::Certificate {
    let mut args = vec!["-q", "-s", s(ca), "-I", "test-id"];
    args.extend_from_slice(extra);
    let pub_path = key.with_extension("pub");
    args.push(s(&pub_path));
    keygen(&args);
    let cert_path = dir.join(format!("{}-cert.pub", key.file_name().unwrap().to_str().unwrap()));
    let text = fs::read_to_string(&cert_path).unwrap();
    fs::remove_file(&cert_path).unwrap();
    match ssh_proto::keys::file::decode_public_key(&text).unwrap() {
        PublicKeyFile::Certificate(c) => *c,
        PublicKeyFile::Key(_) => panic!("not a certificate"),
    }
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

#[test]
fn ssh_keygen_certificates_validate_including_rsa_cas() {
    require_peers!(Peer::SshKeygen);
    let dir = tempfile::tempdir().unwrap();
    let key = make_key(dir.path(), "ed25519", None, "RFC4716", "");
    let t = now();
    let cas = [
        ("ed25519", None, None),
        ("ecdsa", Some(384), None),
        ("rsa", Some(2048), Some("rsa-sha2-512")),
        ("rsa", Some(2048), Some("rsa-sha2-256")),
    ];
    for (ty, bits, sig_alg) in cas {
        let ca = make_named_key(dir.path(), &format!("ca-{}-", sig_alg.unwrap_or("")), ty, bits, "RFC4716", "");
        let ca_pub = ssh_key::PublicKey::from_openssh(&fs::read_to_string(ca.with_extension("pub")).unwrap()).unwrap();
        let trusted = |k: &ssh_key::public::KeyData| k == ca_pub.key_data();
        let mut extra = vec!["-h", "-n", "host.example.com,*.lan"];
        if let Some(a) = sig_alg {
            extra.extend(["-t", a]);
        }
        let cert = sign_cert(dir.path(), &ca, &key, &extra);
        let what = format!("{ty} CA {sig_alg:?}");
        let host = CertificateCheck::new(CertType::Host, t);
        check_certificate(&cert, &host.principal("host.example.com"), trusted)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        check_certificate(&cert, &host.principal("printer.lan").principal_match(PrincipalMatch::Wildcard), trusted)
            .unwrap();
        assert_eq!(
            check_certificate(&cert, &host.principal("other.example.com"), trusted).unwrap_err(),
            CertificateError::PrincipalNotListed { principal: "other.example.com".into() }
        );
        assert!(matches!(
            check_certificate(&cert, &CertificateCheck::new(CertType::User, t), trusted).unwrap_err(),
            CertificateError::WrongType { .. }
        ));
        assert!(matches!(
            check_certificate(&cert, &host, |_| false).unwrap_err(),
            CertificateError::UntrustedCa { .. }
        ));
        assert!(ssh_proto::keys::certificate::verify_ca_signature(&cert), "{what}");
    }

    // User certificates: validity windows, principals, critical options.
    let ca = make_named_key(dir.path(), "user-ca-", "rsa", Some(2048), "RFC4716", "");
    let ca_pub = ssh_key::PublicKey::from_openssh(&fs::read_to_string(ca.with_extension("pub")).unwrap()).unwrap();
    let trusted = |k: &ssh_key::public::KeyData| k == ca_pub.key_data();
    let user = CertificateCheck::new(CertType::User, t);
    let cert = sign_cert(dir.path(), &ca, &key, &["-n", "alice", "-V", "-1h:+1h", "-O", "force-command=/bin/true"]);
    check_certificate(&cert, &user.principal("alice"), trusted).unwrap();
    assert!(matches!(
        check_certificate(&cert, &CertificateCheck::new(CertType::User, t + 7200).principal("alice"), trusted),
        Err(CertificateError::Expired { .. })
    ));
    assert!(matches!(
        check_certificate(&cert, &CertificateCheck::new(CertType::User, t - 7200).principal("alice"), trusted),
        Err(CertificateError::NotYetValid { .. })
    ));
    let strict = CertificateCheck { known_critical_options: &[], ..user.principal("alice") };
    assert_eq!(
        check_certificate(&cert, &strict, trusted).unwrap_err(),
        CertificateError::UnknownCriticalOption { name: "force-command".into() }
    );
    let no_principals = sign_cert(dir.path(), &ca, &key, &[]);
    assert_eq!(
        check_certificate(&no_principals, &user.principal("alice"), trusted),
        Err(CertificateError::NoPrincipals)
    );
    // A SHA-1 RSA CA signature is refused by default, as OpenSSH 8.2+ does.
    let sha1 = sign_cert(dir.path(), &ca, &key, &["-n", "alice", "-t", "ssh-rsa"]);
    assert!(matches!(
        check_certificate(&sha1, &user.principal("alice"), trusted),
        Err(CertificateError::CaAlgorithmRefused { .. })
    ));
    // A certificate whose signed bytes were altered.
    let mut blob = no_principals.to_bytes().unwrap();
    let serial_at = blob.len() / 3;
    blob[serial_at] ^= 1;
    if let Ok(forged) = ssh_key::Certificate::from_bytes(&blob) {
        assert!(check_certificate(&forged, &CertificateCheck::new(CertType::User, t), trusted).is_err());
    }

    // The -L listing's key line for certificates as `ssh-keygen -l` shows it.
    let cert_line = format!("{} test", cert.to_openssh().unwrap());
    let cert_file = dir.path().join("c-cert.pub");
    fs::write(&cert_file, &cert_line).unwrap();
    let out = keygen(&["-l", "-f", s(&cert_file)]);
    let parsed = public_key_of(&cert_line, None).unwrap();
    assert_eq!(keygen_line(&parsed.public_key(), true, FingerprintHash::Sha256), out.stdout.trim_end());
}
