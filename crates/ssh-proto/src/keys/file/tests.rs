use std::sync::OnceLock;

use proptest::prelude::*;
use ssh_key::EcdsaCurve;

use super::*;
use crate::SeededRng;
use crate::keys::generate::{KeyType, generate};

/// One key of every type (RSA generation is slow: make each once).
fn keys() -> &'static [PrivateKey] {
    static KEYS: OnceLock<Vec<PrivateKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = SeededRng::new(9);
        [
            KeyType::Ed25519,
            KeyType::Ecdsa(EcdsaCurve::NistP256),
            KeyType::Ecdsa(EcdsaCurve::NistP384),
            KeyType::Ecdsa(EcdsaCurve::NistP521),
            KeyType::Rsa(1024),
            KeyType::Dsa,
        ]
        .into_iter()
        .map(|k| generate(k, &mut rng).unwrap())
        .collect()
    })
}

const FORMATS: [PrivateKeyFormat; 3] = [PrivateKeyFormat::OpenSsh, PrivateKeyFormat::Pem, PrivateKeyFormat::Pkcs8];

fn encodable(key: &PrivateKey, format: PrivateKeyFormat) -> bool {
    !(format == PrivateKeyFormat::Pem && key.algorithm() == ssh_key::Algorithm::Ed25519)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Every key, in every format, with or without a passphrase, reads back as itself.
    #[test]
    fn write_then_read_is_identity(
        which in 0usize..6,
        format in 0usize..3,
        passphrase in proptest::option::of("[ -~]{1,24}"),
        seed in any::<u64>(),
    ) {
        let key = &keys()[which];
        let format = FORMATS[format];
        prop_assume!(encodable(key, format));
        let pass = passphrase.as_deref().map(str::as_bytes);
        let text = encode_private_key(key, format, pass, &mut SeededRng::new(seed)).unwrap();
        prop_assert_eq!(is_encrypted(&text).unwrap(), pass.is_some());
        let loaded = decode_private_key(&text, pass).unwrap();
        prop_assert_eq!(loaded.key.key_data(), key.key_data());
        prop_assert_eq!(loaded.format, format);
        prop_assert_eq!(loaded.encrypted, pass.is_some());
        if pass.is_some() {
            prop_assert_eq!(decode_private_key(&text, None).unwrap_err(), KeyFileError::PassphraseRequired);
        }
    }

    /// Reading arbitrary text never panics, and text inside PEM armor never reads as a key
    /// unless it is one.
    #[test]
    fn arbitrary_text_is_an_error_not_a_panic(body in "[A-Za-z0-9+/=\n-]{0,400}", label in 0usize..5) {
        let label = ["OPENSSH PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY", "ENCRYPTED PRIVATE KEY"][label];
        let text = format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n");
        let _ = decode_private_key(&text, Some(b"x"));
        let _ = is_encrypted(&text);
        let _ = public_key_of(&text, None);
    }
}

#[test]
fn openssh_comment_survives_and_pem_has_none() {
    let mut key = keys()[1].clone();
    key.set_comment("alice@laptop");
    let mut rng = SeededRng::new(1);
    let text = encode_private_key(&key, PrivateKeyFormat::OpenSsh, None, &mut rng).unwrap();
    assert_eq!(decode_private_key(&text, None).unwrap().key.comment().as_str_lossy(), "alice@laptop");
    let text = encode_private_key(&key, PrivateKeyFormat::Pem, None, &mut rng).unwrap();
    assert!(text.starts_with("-----BEGIN EC PRIVATE KEY-----\n"));
    assert!(decode_private_key(&text, None).unwrap().key.comment().is_empty());
}

#[test]
fn encrypted_pem_headers_and_crlf() {
    let key = &keys()[4];
    let text = encode_private_key(key, PrivateKeyFormat::Pem, Some(b"pw"), &mut SeededRng::new(3)).unwrap();
    assert!(text.contains("Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,"));
    let crlf = text.replace('\n', "\r\n");
    assert_eq!(decode_private_key(&crlf, Some(b"pw")).unwrap().key.key_data(), key.key_data());
    assert_eq!(decode_private_key(&crlf, Some(b"wrong")).unwrap_err(), KeyFileError::WrongPassphrase);
}

#[test]
fn openssl_ec_parameters_block_is_skipped() {
    let key = &keys()[1];
    let text = encode_private_key(key, PrivateKeyFormat::Pem, None, &mut SeededRng::new(3)).unwrap();
    let with_params =
        format!("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n{}", &*text);
    assert_eq!(decode_private_key(&with_params, None).unwrap().key.key_data(), key.key_data());
}

#[test]
fn public_key_lines() {
    let key = keys()[0].public_key().clone();
    let line = format!("# comment\n\n{} me@host\n", key.to_openssh().unwrap());
    let PublicKeyFile::Key(parsed) = decode_public_key(&line).unwrap() else { panic!("not a key") };
    assert_eq!(parsed.key_data(), key.key_data());
    assert_eq!(parsed.comment().as_str_lossy(), "me@host");
    assert_eq!(decode_public_key("ssh-ed25519 AAAA!!!!").unwrap_err(), KeyFileError::InvalidBase64);
    assert_eq!(decode_public_key("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5").unwrap_err(), KeyFileError::Truncated);
    assert_eq!(decode_public_key("just words here").unwrap_err(), KeyFileError::NotAKeyFile);
}
