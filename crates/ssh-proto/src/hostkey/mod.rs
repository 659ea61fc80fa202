//! Host keys: signing the exchange hash (server) and verifying it (client), for plain keys
//! and OpenSSH certificates.
//!
//! Ed25519, ECDSA and DSA go through `ssh-key`; RSA goes through `rsa` 0.10 directly
//! (CRYPTO.md T1), with blinding randomness from the connection's injected RNG.

mod rsa_key;

use core::fmt;

use bytes::Bytes;
use rand_core::CryptoRng;
use ssh_key::public::KeyData;
use ssh_key::{Certificate, HashAlg, PrivateKey, PublicKey};

use crate::Error;
use crate::algorithm::{Algorithm, HostKeyAlgorithm, KeyFamily};
use crate::error::KexError;
use crate::wire::{Reader, WireWrite};

fn family_of(key: &KeyData) -> Option<KeyFamily> {
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

/// Plain algorithms that a key of `family` can sign with, in preference order.
fn plain_algorithms(family: KeyFamily) -> &'static [HostKeyAlgorithm] {
    match family {
        KeyFamily::Ed25519 => &[HostKeyAlgorithm::Ed25519],
        KeyFamily::EcdsaP256 => &[HostKeyAlgorithm::EcdsaNistp256],
        KeyFamily::EcdsaP384 => &[HostKeyAlgorithm::EcdsaNistp384],
        KeyFamily::EcdsaP521 => &[HostKeyAlgorithm::EcdsaNistp521],
        KeyFamily::Rsa => &[HostKeyAlgorithm::RsaSha512, HostKeyAlgorithm::RsaSha256, HostKeyAlgorithm::SshRsa],
        KeyFamily::Dsa => &[HostKeyAlgorithm::SshDss],
    }
}

/// A server host key: a private key and, optionally, an OpenSSH host certificate for it.
#[derive(Clone)]
pub struct HostKey {
    key: PrivateKey,
    family: KeyFamily,
    rsa: Option<rsa_key::RsaSigner>,
    certificate: Option<Certificate>,
}

impl fmt::Debug for HostKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostKey")
            .field("family", &self.family)
            .field("fingerprint", &self.key.fingerprint(HashAlg::Sha256).to_string())
            .field("certificate", &self.certificate.is_some())
            .finish()
    }
}

impl HostKey {
    /// Wraps a decrypted private key.
    pub fn new(key: PrivateKey) -> Result<Self, Error> {
        if key.is_encrypted() {
            return Err(Error::Config("host key is encrypted; decrypt it first".into()));
        }
        let family = family_of(key.public_key().key_data())
            .ok_or_else(|| Error::Config(format!("unsupported host key type {}", key.algorithm())))?;
        let rsa = match key.key_data() {
            ssh_key::private::KeypairData::Rsa(k) => Some(rsa_key::RsaSigner::from_keypair(k)?),
            _ => None,
        };
        Ok(Self { key, family, rsa, certificate: None })
    }

    /// Parses an unencrypted OpenSSH private key file (`-----BEGIN OPENSSH PRIVATE KEY-----`).
    pub fn from_openssh(text: &str) -> Result<Self, Error> {
        let key = PrivateKey::from_openssh(text).map_err(|e| Error::Config(format!("host key: {e}")))?;
        Self::new(key)
    }

    /// A fresh Ed25519 host key.
    pub fn generate_ed25519(rng: &mut dyn CryptoRng) -> Self {
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        rng.fill_bytes(&mut *seed);
        let kp = ssh_key::private::Ed25519Keypair::from_seed(&seed);
        let key = PrivateKey::from(kp);
        Self { key, family: KeyFamily::Ed25519, rsa: None, certificate: None }
    }

    /// Attaches a host certificate; its public key must be this key.
    pub fn with_certificate(mut self, certificate: Certificate) -> Result<Self, Error> {
        if certificate.public_key() != self.key.public_key().key_data() {
            return Err(Error::Config("host certificate is for a different key".into()));
        }
        if certificate.cert_type() != ssh_key::certificate::CertType::Host {
            return Err(Error::Config("certificate is not a host certificate".into()));
        }
        self.certificate = Some(certificate);
        Ok(self)
    }

    /// The public key.
    pub fn public_key(&self) -> &PublicKey {
        self.key.public_key()
    }

    /// The certificate, if one is attached.
    pub fn certificate(&self) -> Option<&Certificate> {
        self.certificate.as_ref()
    }

    /// The key family.
    pub fn family(&self) -> KeyFamily {
        self.family
    }

    /// Every host key algorithm this key can serve (certificate forms first when a
    /// certificate is attached).
    pub fn algorithms(&self) -> Vec<HostKeyAlgorithm> {
        // Only what this build implements (ssh-dss needs the `dss` feature).
        let plain: Vec<HostKeyAlgorithm> = plain_algorithms(self.family)
            .iter()
            .copied()
            .filter(|a| HostKeyAlgorithm::from_name(a.name()).is_some())
            .collect();
        let mut out = Vec::new();
        if self.certificate.is_some() {
            out.extend(plain.iter().map(|a| a.certificate()));
        }
        out.extend(plain);
        out
    }

    /// `K_S` for `alg`: the certificate blob for certificate algorithms, else the key blob.
    pub(crate) fn public_blob(&self, alg: HostKeyAlgorithm) -> Result<Vec<u8>, KexError> {
        let r = if alg.is_certificate() {
            self.certificate.as_ref().map(Certificate::to_bytes)
        } else {
            Some(self.key.public_key().to_bytes())
        };
        match r {
            Some(Ok(b)) => Ok(b),
            _ => Err(KexError::SigningFailed(format!("no {} blob", alg.signature_name()))),
        }
    }

    /// The signature blob (`string alg, string sig`) over `data`.
    pub(crate) fn sign(
        &self,
        alg: HostKeyAlgorithm,
        data: &[u8],
        rng: &mut dyn CryptoRng,
    ) -> Result<Vec<u8>, KexError> {
        let raw = match (&self.rsa, alg.rsa_hash()) {
            (Some(rsa), Some(hash)) => rsa.sign(hash, data, rng)?,
            _ => {
                let sig: ssh_key::Signature =
                    signature::Signer::try_sign(&self.key, data).map_err(|e| KexError::SigningFailed(e.to_string()))?;
                sig.as_bytes().to_vec()
            }
        };
        let mut blob = Vec::with_capacity(raw.len() + 40);
        blob.put_string(alg.signature_name().as_bytes());
        blob.put_string(&raw);
        Ok(blob)
    }
}

/// The server's host key as presented in a key exchange, verified against the exchange
/// hash. The application decides whether to trust it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerHostKey {
    algorithm: HostKeyAlgorithm,
    key: PublicKey,
    certificate: Option<Certificate>,
    blob: Bytes,
}

impl ServerHostKey {
    /// The negotiated host key algorithm.
    pub fn algorithm(&self) -> HostKeyAlgorithm {
        self.algorithm
    }

    /// The public key (for a certificate, the certified key).
    pub fn public_key(&self) -> &PublicKey {
        &self.key
    }

    /// The host certificate, when the server presented one. Its CA signature and validity
    /// are not checked here: that is the known_hosts `@cert-authority` decision.
    pub fn certificate(&self) -> Option<&Certificate> {
        self.certificate.as_ref()
    }

    /// `K_S` exactly as received.
    pub fn blob(&self) -> &Bytes {
        &self.blob
    }

    /// The SHA-256 fingerprint as OpenSSH prints it (`SHA256:…`).
    pub fn fingerprint(&self) -> String {
        self.key.fingerprint(HashAlg::Sha256).to_string()
    }

    /// The key as an OpenSSH public key line body (`type base64`).
    pub fn to_openssh(&self) -> String {
        self.key.to_openssh().unwrap_or_default()
    }
}

fn invalid(why: impl Into<String>) -> KexError {
    KexError::InvalidHostKey(why.into())
}

/// Parses `K_S` for `alg` and verifies `signature_blob` over `data` (the exchange hash).
pub(crate) fn verify(
    alg: HostKeyAlgorithm,
    blob: &[u8],
    signature_blob: &[u8],
    data: &[u8],
) -> Result<ServerHostKey, KexError> {
    let (key, certificate) = if alg.is_certificate() {
        let cert = Certificate::from_bytes(blob).map_err(|e| invalid(format!("certificate: {e}")))?;
        if cert.cert_type() != ssh_key::certificate::CertType::Host {
            return Err(invalid("not a host certificate"));
        }
        let key = PublicKey::new(cert.public_key().clone(), "");
        (key, Some(cert))
    } else {
        (PublicKey::from_bytes(blob).map_err(|e| invalid(e.to_string()))?, None)
    };
    if family_of(key.key_data()) != Some(alg.family()) {
        return Err(invalid(format!("{} key offered for {}", key.algorithm(), alg.signature_name())));
    }

    let mut r = Reader::new(signature_blob);
    let (Ok(sig_alg), Ok(sig)) = (r.string(), r.string()) else {
        return Err(KexError::BadSignature);
    };
    if r.finish().is_err() || sig_alg != alg.signature_name().as_bytes() {
        return Err(KexError::BadSignature);
    }
    let ok = match alg.rsa_hash() {
        Some(hash) => match key.key_data() {
            KeyData::Rsa(k) => rsa_key::verify(k, hash, data, sig),
            _ => false,
        },
        None => {
            let ssh_alg = key.algorithm();
            ssh_key::Signature::new(ssh_alg, sig.to_vec())
                .ok()
                .is_some_and(|s| signature::Verifier::verify(key.key_data(), data, &s).is_ok())
        }
    };
    if !ok {
        return Err(KexError::BadSignature);
    }
    Ok(ServerHostKey { algorithm: alg, key, certificate, blob: Bytes::copy_from_slice(blob) })
}

#[cfg(test)]
pub(crate) mod tests;
