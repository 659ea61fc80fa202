//! Fuzz bodies for key files and certificates ([`crate::keys`]).

use ssh_key::Certificate;
use ssh_key::certificate::CertType;

use super::Seeds;
use crate::SeededRng;
use crate::keys::certificate::{CertificateCheck, check_certificate, verify_ca_signature};
use crate::keys::file::{
    PrivateKeyFormat, decode_private_key, decode_public_key, encode_private_key, is_encrypted, public_key_of,
};
use crate::keys::generate::{KeyType, generate};

/// Any text as a private or public key file. The first byte picks the passphrase; the rest is
/// the file.
///
/// Properties: a key that loads writes back in its own format (unencrypted) and reads back
/// as the same key; whether a file is encrypted agrees with whether loading it without a
/// passphrase asks for one.
pub fn key_files(data: &[u8]) {
    let (mode, text) = data.split_first().unwrap_or((&0, &[]));
    let text = String::from_utf8_lossy(text);
    let _ = decode_public_key(&text);
    let _ = public_key_of(&text, None);
    // Passphrases only for the cheap KDF (traditional PEM's one MD5 round): bcrypt and PBKDF2
    // costs come from the file and are bounded, but not to fuzzing speed.
    let cheap = text.contains("Proc-Type");
    let passphrase: Option<&[u8]> = match mode % 3 {
        1 if cheap => Some(b"secret"),
        2 if cheap => Some(b""),
        _ => None,
    };
    let encrypted = is_encrypted(&text);
    match decode_private_key(&text, passphrase) {
        Ok(loaded) => {
            assert_eq!(encrypted.as_ref().ok(), Some(&loaded.encrypted));
            let mut rng = SeededRng::new(1);
            let format = match loaded.format {
                // Ed25519 has no traditional PEM form; PKCS#8 is the closest.
                PrivateKeyFormat::Pem if loaded.key.algorithm() == ssh_key::Algorithm::Ed25519 => {
                    PrivateKeyFormat::Pkcs8
                }
                f => f,
            };
            if let Ok(again) = encode_private_key(&loaded.key, format, None, &mut rng) {
                let reread = decode_private_key(&again, None).expect("a key we wrote reads back");
                assert_eq!(reread.key.key_data(), loaded.key.key_data());
                assert_eq!(reread.format, format);
            }
        }
        Err(crate::keys::file::KeyFileError::PassphraseRequired) => {
            assert_eq!(encrypted.ok(), Some(true));
        }
        Err(_) => {}
    }
}

/// Any bytes as a certificate blob, checked against its own CA at a time from the input.
///
/// Properties: a certificate that parses encodes back to bytes that parse to the same
/// certificate; one that passes the full check also passes the signature check alone.
pub fn certificates(data: &[u8]) {
    let (now, blob) = if data.len() >= 8 { data.split_at(8) } else { (&[][..], data) };
    let now = now.iter().fold(0u64, |a, &b| (a << 8) | u64::from(b));
    let Ok(cert) = Certificate::from_bytes(blob) else { return };
    let enc = cert.to_bytes().expect("a parsed certificate encodes");
    assert_eq!(Certificate::from_bytes(&enc).as_ref(), Ok(&cert));
    let signed = verify_ca_signature(&cert);
    for kind in [CertType::Host, CertType::User] {
        let principal = cert.valid_principals().first().map(String::as_str).unwrap_or("host");
        let check = CertificateCheck::new(kind, now).principal(principal);
        if check_certificate(&cert, &check, |_| true).is_ok() {
            assert!(signed, "a certificate passed without a valid signature");
            assert_eq!(cert.cert_type(), kind);
        }
    }
}

pub(super) fn seeds(out: &mut Seeds) {
    let mut rng = SeededRng::new(5);
    let kinds = [
        ("ed25519", KeyType::Ed25519),
        ("p256", KeyType::Ecdsa(ssh_key::EcdsaCurve::NistP256)),
        ("rsa", KeyType::Rsa(1024)),
    ];
    for (kind_name, kind) in kinds {
        let key = generate(kind, &mut rng).expect("generate");
        for format in [PrivateKeyFormat::OpenSsh, PrivateKeyFormat::Pem, PrivateKeyFormat::Pkcs8] {
            for (mode, pass) in [(0u8, None), (1, Some(&b"secret"[..]))] {
                // Encrypted forms only where the fuzz body tries the passphrase (PEM).
                if pass.is_some() && format != PrivateKeyFormat::Pem {
                    continue;
                }
                let Ok(text) = encode_private_key(&key, format, pass, &mut rng) else { continue };
                let mut seed = vec![mode];
                seed.extend_from_slice(text.as_bytes());
                let enc = if pass.is_some() { "-encrypted" } else { "" };
                out.push(("key_files", format!("{kind_name}-{format:?}{enc}").to_lowercase(), seed));
            }
        }
        let mut line = vec![0u8];
        line.extend_from_slice(key.public_key().to_openssh().expect("openssh").as_bytes());
        out.push(("key_files", format!("{kind_name}-public"), line));
    }

    let ca = generate(KeyType::Ed25519, &mut rng).expect("generate");
    let subject = generate(KeyType::Ed25519, &mut rng).expect("generate");
    for (name, kind, principals) in
        [("host", CertType::Host, &["h.example.com", "*.lan"][..]), ("user", CertType::User, &["alice"][..])]
    {
        let mut b = ssh_key::certificate::Builder::new([3u8; 16], subject.public_key().key_data().clone(), 10, 1 << 40)
            .expect("builder");
        b.cert_type(kind).expect("type").key_id("seed").expect("id");
        for p in principals {
            b.valid_principal(*p).expect("principal");
        }
        if kind == CertType::User {
            b.critical_option("force-command", "/bin/true").expect("option");
            b.extension("permit-pty", "").expect("extension");
        }
        let cert = b.sign(&ca).expect("sign");
        let mut seed = 1000u64.to_be_bytes().to_vec();
        seed.extend(cert.to_bytes().expect("encode"));
        out.push(("certificates", name.to_owned(), seed));
    }
}
