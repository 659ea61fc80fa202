//! Key pairs and signatures shared by host keys and user authentication: signing with a
//! private key (Ed25519, ECDSA and DSA through `ssh-key`; RSA through `rsa` 0.10 directly,
//! CRYPTO.md T1, with blinding randomness from the connection's injected RNG) and verifying
//! a signature blob against a public key.

pub mod certificate;
pub mod file;
pub mod fingerprint;
pub mod generate;
mod rsa_sig;

use core::fmt;

use rand_core::CryptoRng;
use ssh_key::public::KeyData;
use ssh_key::{HashAlg, PrivateKey, PublicKey};

use crate::Error;
use crate::algorithm::{Algorithm, HostKeyAlgorithm, KeyFamily};
use crate::wire::{Reader, WireWrite};

/// The key family of a public key, if this crate can use it.
pub(crate) fn family_of(key: &KeyData) -> Option<KeyFamily> {
    Some(match key.algorithm() {
        ssh_key::Algorithm::Ed25519 => KeyFamily::Ed25519,
        ssh_key::Algorithm::Ecdsa { curve: ssh_key::EcdsaCurve::NistP256 } => KeyFamily::EcdsaP256,
        ssh_key::Algorithm::Ecdsa { curve: ssh_key::EcdsaCurve::NistP384 } => KeyFamily::EcdsaP384,
        ssh_key::Algorithm::Ecdsa { curve: ssh_key::EcdsaCurve::NistP521 } => KeyFamily::EcdsaP521,
        ssh_key::Algorithm::Rsa { .. } => KeyFamily::Rsa,
        ssh_key::Algorithm::Dsa => KeyFamily::Dsa,
        _ => return None,
    })
}

/// Plain signature algorithms of a key family, in preference order, as far as this build
/// implements them (ssh-dss needs the `dss` feature).
pub(crate) fn plain_algorithms(family: KeyFamily) -> Vec<HostKeyAlgorithm> {
    let all: &[HostKeyAlgorithm] = match family {
        KeyFamily::Ed25519 => &[HostKeyAlgorithm::Ed25519],
        KeyFamily::EcdsaP256 => &[HostKeyAlgorithm::EcdsaNistp256],
        KeyFamily::EcdsaP384 => &[HostKeyAlgorithm::EcdsaNistp384],
        KeyFamily::EcdsaP521 => &[HostKeyAlgorithm::EcdsaNistp521],
        KeyFamily::Rsa => &[HostKeyAlgorithm::RsaSha512, HostKeyAlgorithm::RsaSha256, HostKeyAlgorithm::SshRsa],
        KeyFamily::Dsa => &[HostKeyAlgorithm::SshDss],
    };
    all.iter().copied().filter(|a| HostKeyAlgorithm::from_name(a.name()).is_some()).collect()
}

/// A private key ready to sign: host keys, user keys for publickey authentication.
///
/// ```
/// use ssh_proto::{KeyPair, SeededRng};
/// let key = KeyPair::generate_ed25519(&mut SeededRng::new(1));
/// assert_eq!(key.public_key().algorithm().as_str(), "ssh-ed25519");
/// ```
#[derive(Clone)]
pub struct KeyPair {
    key: PrivateKey,
    family: KeyFamily,
    rsa: Option<rsa_sig::RsaSigner>,
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("family", &self.family)
            .field("fingerprint", &self.key.fingerprint(HashAlg::Sha256).to_string())
            .finish()
    }
}

impl KeyPair {
    /// Wraps a decrypted private key.
    pub fn new(key: PrivateKey) -> Result<Self, Error> {
        if key.is_encrypted() {
            return Err(Error::Config("private key is encrypted; decrypt it first".into()));
        }
        let family = family_of(key.public_key().key_data())
            .ok_or_else(|| Error::Config(format!("unsupported key type {}", key.algorithm())))?;
        let rsa = match key.key_data() {
            ssh_key::private::KeypairData::Rsa(k) => Some(rsa_sig::RsaSigner::from_keypair(k)?),
            _ => None,
        };
        Ok(Self { key, family, rsa })
    }

    /// Parses an unencrypted OpenSSH private key file (`-----BEGIN OPENSSH PRIVATE KEY-----`).
    pub fn from_openssh(text: &str) -> Result<Self, Error> {
        let key = PrivateKey::from_openssh(text).map_err(|e| Error::Config(format!("private key: {e}")))?;
        Self::new(key)
    }

    /// A fresh Ed25519 key.
    pub fn generate_ed25519(rng: &mut dyn CryptoRng) -> Self {
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        rng.fill_bytes(&mut *seed);
        let kp = ssh_key::private::Ed25519Keypair::from_seed(&seed);
        Self { key: PrivateKey::from(kp), family: KeyFamily::Ed25519, rsa: None }
    }

    /// The public key.
    pub fn public_key(&self) -> &PublicKey {
        self.key.public_key()
    }

    /// The private key.
    pub fn private_key(&self) -> &PrivateKey {
        &self.key
    }

    /// The key family.
    pub fn family(&self) -> KeyFamily {
        self.family
    }

    /// The plain signature algorithms this key can sign with, in preference order.
    pub fn algorithms(&self) -> Vec<HostKeyAlgorithm> {
        plain_algorithms(self.family)
    }

    /// The signature blob (`string alg ‖ string sig`, as SSH and agents carry it) over
    /// `data` with `alg`, a plain or certificate algorithm of this key's family. `rng` gives
    /// RSA its blinding.
    pub fn sign(&self, alg: HostKeyAlgorithm, data: &[u8], rng: &mut dyn CryptoRng) -> Result<Vec<u8>, SigningError> {
        if alg.family() != self.family {
            return Err(SigningError(format!("a {:?} key cannot sign {}", self.family, alg.name())));
        }
        let raw = match (&self.rsa, alg.rsa_hash()) {
            (Some(rsa), Some(hash)) => rsa.sign(hash, data, rng).map_err(SigningError)?,
            _ => {
                let sig: ssh_key::Signature =
                    signature::Signer::try_sign(&self.key, data).map_err(|e| SigningError(e.to_string()))?;
                sig.as_bytes().to_vec()
            }
        };
        let mut blob = Vec::with_capacity(raw.len() + 40);
        blob.put_string(alg.signature_name().as_bytes());
        blob.put_string(&raw);
        Ok(blob)
    }
}

/// A signature could not be made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningError(pub String);

impl fmt::Display for SigningError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "signing failed: {}", self.0)
    }
}

impl std::error::Error for SigningError {}

/// Whether `signature_blob` (`string alg ‖ string sig`, nothing after: what SSH, agents and
/// [`KeyPair::sign`] carry) is a valid signature of `data` by `key` under `alg` (the blob's
/// algorithm name must be `alg`'s).
///
/// ```
/// use ssh_proto::algorithm::HostKeyAlgorithm;
/// use ssh_proto::{KeyPair, SeededRng, keys};
/// let key = KeyPair::generate_ed25519(&mut SeededRng::new(1));
/// let sig = key.sign(HostKeyAlgorithm::Ed25519, b"data", &mut SeededRng::new(2)).unwrap();
/// assert!(keys::verify(key.public_key().key_data(), HostKeyAlgorithm::Ed25519, &sig, b"data"));
/// assert!(!keys::verify(key.public_key().key_data(), HostKeyAlgorithm::Ed25519, &sig, b"other"));
/// ```
pub fn verify(key: &KeyData, alg: HostKeyAlgorithm, signature_blob: &[u8], data: &[u8]) -> bool {
    if family_of(key) != Some(alg.family()) {
        return false;
    }
    let mut r = Reader::new(signature_blob);
    let (Ok(sig_alg), Ok(sig)) = (r.string(), r.string()) else {
        return false;
    };
    if r.finish().is_err() || sig_alg != alg.signature_name().as_bytes() {
        return false;
    }
    match alg.rsa_hash() {
        Some(hash) => match key {
            KeyData::Rsa(k) => rsa_sig::verify(k, hash, data, sig),
            _ => false,
        },
        None => ssh_key::Signature::new(key.algorithm(), sig.to_vec())
            .ok()
            .is_some_and(|s| signature::Verifier::verify(key, data, &s).is_ok()),
    }
}
