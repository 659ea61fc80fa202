//! Key generation, with ssh-keygen's types and sizes.

use core::fmt;

use rand_core::CryptoRng;
use ssh_key::private::{DsaKeypair, EcdsaKeypair, Ed25519Keypair, KeypairData};
use ssh_key::{EcdsaCurve, PrivateKey};

use super::file::KeyFileError;

/// A key type and size to generate (`ssh-keygen -t TYPE -b BITS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// Ed25519 (fixed size).
    Ed25519,
    /// ECDSA over NIST P-256, P-384 or P-521.
    Ecdsa(EcdsaCurve),
    /// RSA with a modulus of this many bits (1024 to 16384).
    Rsa(u32),
    /// DSA, 1024 bits (the only size OpenSSH accepts).
    Dsa,
}

/// A `-t`/`-b` pair that does not name a key ssh-keygen would make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyTypeError(pub String);

impl fmt::Display for KeyTypeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for KeyTypeError {}

/// ssh-keygen's default RSA size.
pub const DEFAULT_RSA_BITS: u32 = 3072;

impl KeyType {
    /// Parses ssh-keygen's `-t` name with an optional `-b`, applying its defaults (RSA
    /// 3072, ECDSA 256) and limits.
    ///
    /// ```
    /// use ssh_proto::keys::generate::KeyType;
    /// assert_eq!(KeyType::from_keygen("rsa", None), Ok(KeyType::Rsa(3072)));
    /// assert!(KeyType::from_keygen("ecdsa", Some(300)).is_err());
    /// ```
    pub fn from_keygen(name: &str, bits: Option<u32>) -> Result<Self, KeyTypeError> {
        let bad_bits = |why: &str| Err(KeyTypeError(why.to_owned()));
        match name.to_ascii_lowercase().as_str() {
            "ed25519" | "ssh-ed25519" => Ok(Self::Ed25519),
            "ecdsa" | "ecdsa-sha2-nistp256" | "ecdsa-sha2-nistp384" | "ecdsa-sha2-nistp521" => {
                let from_name = match name.to_ascii_lowercase().as_str() {
                    "ecdsa-sha2-nistp384" => 384,
                    "ecdsa-sha2-nistp521" => 521,
                    _ => 256,
                };
                match bits.unwrap_or(from_name) {
                    256 => Ok(Self::Ecdsa(EcdsaCurve::NistP256)),
                    384 => Ok(Self::Ecdsa(EcdsaCurve::NistP384)),
                    521 => Ok(Self::Ecdsa(EcdsaCurve::NistP521)),
                    _ => bad_bits("Invalid ECDSA key length: valid lengths are 256, 384 or 521 bits"),
                }
            }
            "rsa" | "ssh-rsa" => match bits.unwrap_or(DEFAULT_RSA_BITS) {
                b if b < 1024 => bad_bits("Invalid RSA key length: minimum is 1024 bits"),
                b if b > 16384 => bad_bits("Invalid RSA key length: maximum is 16384 bits"),
                b => Ok(Self::Rsa(b)),
            },
            "dsa" | "ssh-dss" => match bits.unwrap_or(1024) {
                1024 => Ok(Self::Dsa),
                _ => bad_bits("Invalid DSA key length: must be 1024 bits"),
            },
            other => Err(KeyTypeError(format!("unknown key type {other}"))),
        }
    }
}

/// A fresh private key of `kind`, with an empty comment. RSA goes through `rsa` 0.10 (its
/// prime generation and checks), the others through their curve crates.
pub fn generate(kind: KeyType, rng: &mut dyn CryptoRng) -> Result<PrivateKey, KeyFileError> {
    let mut rng = rng;
    let data = match kind {
        KeyType::Ed25519 => {
            let mut seed = zeroize::Zeroizing::new([0u8; 32]);
            rng.fill_bytes(&mut *seed);
            KeypairData::Ed25519(Ed25519Keypair::from_seed(&seed))
        }
        KeyType::Ecdsa(curve) => {
            KeypairData::Ecdsa(EcdsaKeypair::random(&mut rng, curve).map_err(KeyFileError::encode)?)
        }
        KeyType::Rsa(bits) => {
            let key = rsa::PrivateKey::new(&mut rng, bits as usize).map_err(KeyFileError::encode)?;
            super::file::rsa_keypair(&key)?
        }
        KeyType::Dsa => KeypairData::Dsa(DsaKeypair::random(&mut rng).map_err(KeyFileError::encode)?),
    };
    PrivateKey::new(data, "").map_err(KeyFileError::encode)
}
