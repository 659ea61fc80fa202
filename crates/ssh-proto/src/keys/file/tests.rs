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

/// A PKCS#8 file whose KDF asks for more work than the limits allow is refused before any
/// work is done (pkcs5 bounds parameters it makes, not ones it reads).
#[test]
fn hostile_pkcs8_kdf_parameters_are_refused() {
    use pkcs8::der::Encode;
    use pkcs8::der::asn1::OctetStringRef;
    let params =
        pkcs8::pkcs5::pbes2::Parameters::generate_pbkdf2_sha256_aes256cbc(50_000_000, &[1; 16], [2; 16]).unwrap();
    let info = pkcs8::EncryptedPrivateKeyInfo {
        encryption_algorithm: pkcs8::pkcs5::EncryptionScheme::Pbes2(params),
        encrypted_data: OctetStringRef::new(&[0u8; 48]).unwrap(),
    };
    let der = info.to_der().unwrap();
    let text = armor::encode("ENCRYPTED PRIVATE KEY", &[], &der, 64);
    let start = std::time::Instant::now();
    let err = decode_private_key(&text, Some(b"x")).unwrap_err();
    assert!(matches!(err, KeyFileError::Malformed { format: "pkcs8", .. }), "{err:?}");
    assert!(start.elapsed() < std::time::Duration::from_secs(1));
}

/// RSA keys beyond OpenSSH's 16384-bit limit load from a file but cannot become signing keys.
#[test]
fn oversized_rsa_keys_are_not_signing_keys() {
    let small = &keys()[4];
    assert!(crate::KeyPair::new(small.clone()).is_ok());
    // Moduli outside 1024..=16384 bits are refused before any arithmetic (the other fields
    // need not even be consistent).
    use ssh_encoding::Mpint;
    for (bytes, bits) in [(2050, "16400 bits"), (125, "1000 bits")] {
        let n = Mpint::from_positive_bytes(&vec![0xff; bytes]);
        let three = Mpint::from_positive_bytes(&[3]);
        let public = ssh_key::public::RsaPublicKey::new(Mpint::from_positive_bytes(&[1, 0, 1]), n).unwrap();
        let private = ssh_key::private::RsaPrivateKey::new(three.clone(), three.clone(), three.clone(), three).unwrap();
        let pair = ssh_key::private::RsaKeypair::new(public, private).unwrap();
        let key = PrivateKey::new(ssh_key::private::KeypairData::Rsa(pair), "").unwrap();
        let err = crate::KeyPair::new(key).unwrap_err();
        assert!(err.to_string().contains(bits), "{err}");
    }
}

#[test]
fn curve_names_are_case_insensitive() {
    assert_eq!(KeyType::from_keygen("ECDSA-SHA2-NISTP384", None), Ok(KeyType::Ecdsa(EcdsaCurve::NistP384)));
}

/// A wrong passphrase for an encrypted PKCS#8 key is reported as such, also when the
/// decrypted garbage passes the CBC padding check (1 time in 256) and fails as DER instead.
/// One PBKDF2 iteration and fixed salt, IV and passphrases keep it fast and the same each run.
#[test]
fn wrong_pkcs8_passphrases_through_the_padding_check() {
    let key = &keys()[0];
    let text = encode_private_key(key, PrivateKeyFormat::Pkcs8, None, &mut SeededRng::new(5)).unwrap();
    let (_, der) = pkcs8::SecretDocument::from_pem(&text).unwrap();
    let params = pkcs8::pkcs5::pbes2::Parameters::generate_pbkdf2_sha256_aes256cbc(1, &[7; 16], [9; 16]).unwrap();
    let info = pkcs8::PrivateKeyInfoRef::try_from(der.as_bytes()).unwrap();
    let encrypted = info.encrypt_with_params(params, b"right").unwrap();
    let pem = encrypted.to_pem("ENCRYPTED PRIVATE KEY", pkcs8::LineEnding::LF).unwrap();
    assert_eq!(decode_private_key(&pem, Some(b"right")).unwrap().key.key_data(), key.key_data());
    let mut through_padding = 0;
    for i in 0..2000 {
        let wrong = format!("wrong {i}");
        let info = pkcs8::EncryptedPrivateKeyInfoRef::try_from(encrypted.as_bytes()).unwrap();
        through_padding += usize::from(!matches!(
            info.decrypt(wrong.as_bytes()),
            Err(pkcs8::Error::EncryptedPrivateKey(pkcs8::pkcs5::Error::DecryptFailed))
        ));
        assert_eq!(
            decode_private_key(&pem, Some(wrong.as_bytes())).unwrap_err(),
            KeyFileError::WrongPassphrase,
            "{wrong}"
        );
    }
    assert!(through_padding > 0, "no wrong passphrase got through the padding check");
}
