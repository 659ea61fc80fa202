//! Key files as OpenSSH, OpenSSL and Paramiko write them: OpenSSH private keys (plain or
//! bcrypt-pbkdf encrypted), traditional PEM (PKCS#1 RSA, SEC1 EC, OpenSSL DSA; optionally
//! `Proc-Type: 4,ENCRYPTED`), PKCS#8 (plain and PBES2-encrypted), and public key and
//! certificate lines. Text in, text out: reading the file is the caller's job.
//!
//! ```
//! use ssh_proto::SeededRng;
//! use ssh_proto::keys::file::{PrivateKeyFormat, decode_private_key, encode_private_key};
//! use ssh_proto::keys::generate::{KeyType, generate};
//!
//! let mut rng = SeededRng::new(7);
//! let key = generate(KeyType::Ed25519, &mut rng).unwrap();
//! let text = encode_private_key(&key, PrivateKeyFormat::OpenSsh, Some(b"hunter22"), &mut rng).unwrap();
//! assert!(text.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));
//! let loaded = decode_private_key(&text, Some(b"hunter22")).unwrap();
//! assert_eq!(loaded.key.public_key(), key.public_key());
//! assert!(loaded.encrypted);
//! ```

mod armor;
mod error;
mod legacy_pem;
mod pkcs;

pub use error::KeyFileError;
pub(crate) use pkcs::rsa_keypair;

use base64ct::Encoding as _;
use rand_core::CryptoRng;
use ssh_key::{Certificate, LineEnding, PrivateKey, PublicKey};
use zeroize::Zeroizing;

/// The container a private key file uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PrivateKeyFormat {
    /// `-----BEGIN OPENSSH PRIVATE KEY-----` (ssh-keygen's default since 7.8).
    OpenSsh,
    /// Traditional OpenSSL PEM: `RSA PRIVATE KEY` (PKCS#1), `EC PRIVATE KEY` (SEC1),
    /// `DSA PRIVATE KEY` (`ssh-keygen -m PEM`, Paramiko's `write_private_key`).
    Pem,
    /// `PRIVATE KEY` / `ENCRYPTED PRIVATE KEY` (`ssh-keygen -m PKCS8`).
    Pkcs8,
}

/// A private key read from a file.
#[derive(Clone, Debug)]
pub struct LoadedKey {
    /// The decrypted key. Traditional PEM and PKCS#8 carry no comment, so theirs is empty.
    pub key: PrivateKey,
    /// The container it came in.
    pub format: PrivateKeyFormat,
    /// Whether the file was encrypted.
    pub encrypted: bool,
}

/// What a public key file holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublicKeyFile {
    /// A plain public key line (`type base64 comment`).
    Key(PublicKey),
    /// A certificate line (`type-cert-v01@openssh.com base64 comment`).
    Certificate(Box<Certificate>),
}

impl PublicKeyFile {
    /// The public key (for a certificate, the certified key), with the line's comment.
    pub fn public_key(&self) -> PublicKey {
        match self {
            Self::Key(k) => k.clone(),
            Self::Certificate(c) => PublicKey::new(c.public_key().clone(), c.comment()),
        }
    }
}

/// Most bcrypt-pbkdf rounds an OpenSSH key file may ask for (ssh-keygen's default is 16,
/// guides suggest `-a 100`; each round costs about 6 ms here), so a hostile file cannot
/// stall a loader for minutes.
pub const MAX_BCRYPT_ROUNDS: u32 = 2048;

/// Most PBKDF2 iterations a PKCS#8 file may ask for (OpenSSL's default is 2048; OWASP's
/// 2023 advice for SHA-256 is 600,000).
pub const MAX_PBKDF2_ITERATIONS: u32 = 2_000_000;

/// Most memory (128·r·N·p bytes) a PKCS#8 file's scrypt parameters may ask for (OpenSSL's
/// defaults need 16 MiB).
pub const MAX_SCRYPT_BYTES: u128 = 256 << 20;

/// Labels that are PEM but not a private key this crate reads.
fn unsupported(label: &str) -> KeyFileError {
    KeyFileError::UnsupportedFormat { label: label.to_owned() }
}

/// Whether a private key file is encrypted, without a passphrase (to decide whether to ask
/// for one).
pub fn is_encrypted(text: &str) -> Result<bool, KeyFileError> {
    let block = armor::decode(text)?;
    Ok(match block.label {
        "OPENSSH PRIVATE KEY" => openssh_container(&block.body)?.is_encrypted(),
        "RSA PRIVATE KEY" | "EC PRIVATE KEY" | "DSA PRIVATE KEY" => block.header("DEK-Info").is_some(),
        "ENCRYPTED PRIVATE KEY" => true,
        "PRIVATE KEY" => false,
        other => return Err(unsupported(other)),
    })
}

fn openssh_container(body: &[u8]) -> Result<PrivateKey, KeyFileError> {
    PrivateKey::from_bytes(body).map_err(|e| match e {
        ssh_key::Error::Encoding(ssh_encoding::Error::Length) => KeyFileError::Truncated,
        ssh_key::Error::AlgorithmUnknown | ssh_key::Error::AlgorithmUnsupported { .. } => {
            KeyFileError::UnsupportedKeyType { name: e.to_string() }
        }
        other => KeyFileError::malformed("openssh", other),
    })
}

/// Reads a private key file in any supported format, decrypting it with `passphrase` when it
/// is encrypted.
///
/// Errors say which thing went wrong: [`KeyFileError::PassphraseRequired`],
/// [`KeyFileError::WrongPassphrase`], [`KeyFileError::Truncated`],
/// [`KeyFileError::NotAKeyFile`], [`KeyFileError::PublicKeyOnly`] and so on.
pub fn decode_private_key(text: &str, passphrase: Option<&[u8]>) -> Result<LoadedKey, KeyFileError> {
    let block = match armor::decode(text) {
        Ok(b) => b,
        Err(KeyFileError::NotAKeyFile) if text.trim_start().starts_with("PuTTY-User-Key-File-") => {
            return Err(unsupported("PuTTY-User-Key-File"));
        }
        Err(KeyFileError::NotAKeyFile) if decode_public_key(text).is_ok() => return Err(KeyFileError::PublicKeyOnly),
        Err(e) => return Err(e),
    };
    let need = || passphrase.ok_or(KeyFileError::PassphraseRequired);
    let (data, format, encrypted) = match block.label {
        "OPENSSH PRIVATE KEY" => {
            let key = openssh_container(&block.body)?;
            if !key.is_encrypted() {
                return Ok(LoadedKey { key, format: PrivateKeyFormat::OpenSsh, encrypted: false });
            }
            if let ssh_key::Kdf::Bcrypt { rounds, .. } = key.kdf()
                && *rounds > MAX_BCRYPT_ROUNDS
            {
                return Err(KeyFileError::malformed(
                    "openssh",
                    format!("{rounds} bcrypt rounds exceed {MAX_BCRYPT_ROUNDS}"),
                ));
            }
            let key = key.decrypt(need()?).map_err(|e| match e {
                ssh_key::Error::Encoding(ssh_encoding::Error::Length) => KeyFileError::Truncated,
                ssh_key::Error::Crypto | ssh_key::Error::Encoding(_) => KeyFileError::WrongPassphrase,
                ssh_key::Error::Encrypted | ssh_key::Error::AlgorithmUnsupported { .. } => {
                    KeyFileError::UnsupportedCipher { name: key.cipher().as_str().to_owned() }
                }
                other => KeyFileError::malformed("openssh", other),
            })?;
            return Ok(LoadedKey { key, format: PrivateKeyFormat::OpenSsh, encrypted: true });
        }
        label @ ("RSA PRIVATE KEY" | "EC PRIVATE KEY" | "DSA PRIVATE KEY") => {
            let (der, encrypted) = match block.header("DEK-Info") {
                Some(dek) => (legacy_pem::decrypt(dek, need()?, &block.body)?, true),
                None => (block.body.clone(), false),
            };
            let parsed = match label {
                "RSA PRIVATE KEY" => pkcs::rsa_from_pkcs1(&der),
                "EC PRIVATE KEY" => pkcs::ec_from_sec1(&der),
                _ => pkcs::dsa_from_openssl(&der),
            };
            // Decrypting with a wrong passphrase passes the padding check 1 time in 256 and
            // then yields garbage DER.
            let data = match parsed {
                Err(KeyFileError::Malformed { .. }) if encrypted => return Err(KeyFileError::WrongPassphrase),
                other => other?,
            };
            (data, PrivateKeyFormat::Pem, encrypted)
        }
        "PRIVATE KEY" => (pkcs::from_pkcs8(&block.body)?, PrivateKeyFormat::Pkcs8, false),
        "ENCRYPTED PRIVATE KEY" => {
            let der = pkcs::decrypt_pkcs8(&block.body, need()?)?;
            let data = match pkcs::from_pkcs8(&der) {
                Err(KeyFileError::Malformed { .. }) => return Err(KeyFileError::WrongPassphrase),
                other => other?,
            };
            (data, PrivateKeyFormat::Pkcs8, true)
        }
        "PUBLIC KEY" | "SSH2 PUBLIC KEY" | "RSA PUBLIC KEY" => return Err(KeyFileError::PublicKeyOnly),
        other => return Err(unsupported(other)),
    };
    let key = PrivateKey::new(data, "").map_err(|e| KeyFileError::malformed("key", e))?;
    Ok(LoadedKey { key, format, encrypted })
}

/// Writes `key` in `format`, encrypted with `passphrase` when one is given: bcrypt-pbkdf +
/// aes256-ctr for OpenSSH (as ssh-keygen), AES-128-CBC for traditional PEM (as OpenSSL and
/// Paramiko), PBES2 (PBKDF2-SHA256, AES-256-CBC) for PKCS#8. `rng` supplies salts and IVs.
pub fn encode_private_key(
    key: &PrivateKey,
    format: PrivateKeyFormat,
    passphrase: Option<&[u8]>,
    rng: &mut dyn CryptoRng,
) -> Result<Zeroizing<String>, KeyFileError> {
    if key.is_encrypted() {
        return Err(KeyFileError::encode("the key is still encrypted"));
    }
    match format {
        PrivateKeyFormat::OpenSsh => {
            let key = match passphrase {
                Some(p) => {
                    let mut rng = rng;
                    key.encrypt(&mut rng, p).map_err(KeyFileError::encode)?
                }
                None => key.clone(),
            };
            key.to_openssh(LineEnding::LF).map_err(KeyFileError::encode)
        }
        PrivateKeyFormat::Pem => {
            let (label, der) = pkcs::to_traditional(key.key_data())?;
            Ok(match passphrase {
                Some(p) => {
                    let mut iv = [0u8; 16];
                    rng.fill_bytes(&mut iv);
                    let (dek, body) = legacy_pem::encrypt(p, iv, &der)?;
                    let headers = [("Proc-Type", "4,ENCRYPTED".to_owned()), ("DEK-Info", dek)];
                    armor::encode(label, &headers, &body, 64)
                }
                None => armor::encode(label, &[], &der, 64),
            })
        }
        PrivateKeyFormat::Pkcs8 => {
            let der = pkcs::to_pkcs8(key.key_data())?;
            Ok(match passphrase {
                Some(p) => armor::encode("ENCRYPTED PRIVATE KEY", &[], &pkcs::encrypt_pkcs8(&der, p, rng)?, 64),
                None => armor::encode("PRIVATE KEY", &[], &der, 64),
            })
        }
    }
}

/// Reads the first key of a public key file (`id_ed25519.pub`, a `-cert.pub` file): a plain
/// key line or a certificate line. Blank lines and `#` comments are skipped.
pub fn decode_public_key(text: &str) -> Result<PublicKeyFile, KeyFileError> {
    let line =
        text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#')).ok_or(KeyFileError::NotAKeyFile)?;
    let mut fields = line.split_ascii_whitespace();
    let (Some(kind), Some(b64)) = (fields.next(), fields.next()) else { return Err(KeyFileError::NotAKeyFile) };
    if !(kind.ends_with("-cert-v01@openssh.com") || ["ssh-", "ecdsa-", "sk-"].iter().any(|p| kind.starts_with(p))) {
        return Err(KeyFileError::NotAKeyFile);
    }
    if let Err(e) = base64ct::Base64::decode_vec(b64) {
        return Err(match e {
            base64ct::Error::InvalidLength => KeyFileError::Truncated,
            base64ct::Error::InvalidEncoding => KeyFileError::InvalidBase64,
        });
    }
    let bad = |e: ssh_key::Error| match e {
        ssh_key::Error::Encoding(ssh_encoding::Error::Base64(_)) => KeyFileError::InvalidBase64,
        ssh_key::Error::Encoding(ssh_encoding::Error::Length) => KeyFileError::Truncated,
        ssh_key::Error::AlgorithmUnknown => KeyFileError::UnsupportedKeyType { name: kind.to_owned() },
        other => KeyFileError::malformed("public key", other),
    };
    if kind.ends_with("-cert-v01@openssh.com") {
        Ok(PublicKeyFile::Certificate(Box::new(Certificate::from_openssh(line).map_err(bad)?)))
    } else if kind.starts_with("ssh-")
        || kind.starts_with("ecdsa-")
        || kind.starts_with("sk-")
        || kind.starts_with("rsa-")
    {
        Ok(PublicKeyFile::Key(PublicKey::from_openssh(line).map_err(bad)?))
    } else {
        Err(KeyFileError::NotAKeyFile)
    }
}

/// The public key of a key file of any kind, as `ssh-keygen -l` finds it: a public key or
/// certificate line, or a private key (an encrypted OpenSSH key gives its public half without
/// a passphrase; other encrypted formats need one).
pub fn public_key_of(text: &str, passphrase: Option<&[u8]>) -> Result<PublicKeyFile, KeyFileError> {
    if armor::first_label(text).is_none() {
        return decode_public_key(text);
    }
    let block = armor::decode(text)?;
    if block.label == "OPENSSH PRIVATE KEY" {
        let key = openssh_container(&block.body)?;
        return Ok(PublicKeyFile::Key(key.public_key().clone()));
    }
    let loaded = decode_private_key(text, passphrase)?;
    Ok(PublicKeyFile::Key(loaded.key.public_key().clone()))
}

#[cfg(test)]
mod tests;
