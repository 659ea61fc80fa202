//! Host keys: signing the exchange hash (server) and verifying it (client), for plain keys
//! and OpenSSH certificates. The signing itself is [`KeyPair`]'s.

use core::fmt;

use bytes::Bytes;
use rand_core::CryptoRng;
use ssh_key::{Certificate, HashAlg, PrivateKey, PublicKey};

use crate::Error;
use crate::algorithm::{HostKeyAlgorithm, KeyFamily};
use crate::error::KexError;
use crate::keys::{self, KeyPair};

/// A server host key: a private key and, optionally, an OpenSSH host certificate for it.
#[derive(Clone)]
pub struct HostKey {
    key: KeyPair,
    certificate: Option<Certificate>,
}

impl fmt::Debug for HostKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostKey")
            .field("family", &self.key.family())
            .field("fingerprint", &self.key.public_key().fingerprint(HashAlg::Sha256).to_string())
            .field("certificate", &self.certificate.is_some())
            .finish()
    }
}

impl HostKey {
    /// Wraps a decrypted private key.
    pub fn new(key: PrivateKey) -> Result<Self, Error> {
        Ok(Self { key: KeyPair::new(key)?, certificate: None })
    }

    /// Parses an unencrypted OpenSSH private key file (`-----BEGIN OPENSSH PRIVATE KEY-----`).
    pub fn from_openssh(text: &str) -> Result<Self, Error> {
        Ok(Self { key: KeyPair::from_openssh(text)?, certificate: None })
    }

    /// A fresh Ed25519 host key.
    pub fn generate_ed25519(rng: &mut dyn CryptoRng) -> Self {
        Self { key: KeyPair::generate_ed25519(rng), certificate: None }
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

    /// The key pair.
    pub fn key_pair(&self) -> &KeyPair {
        &self.key
    }

    /// The certificate, if one is attached.
    pub fn certificate(&self) -> Option<&Certificate> {
        self.certificate.as_ref()
    }

    /// The key family.
    pub fn family(&self) -> KeyFamily {
        self.key.family()
    }

    /// Every host key algorithm this key can serve (certificate forms first when a
    /// certificate is attached).
    pub fn algorithms(&self) -> Vec<HostKeyAlgorithm> {
        let plain = self.key.algorithms();
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
        self.key.sign(alg, data, rng).map_err(|e| KexError::SigningFailed(e.0))
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
    if keys::family_of(key.key_data()) != Some(alg.family()) {
        return Err(invalid(format!("{} key offered for {}", key.algorithm(), alg.signature_name())));
    }
    if !keys::verify(key.key_data(), alg, signature_blob, data) {
        return Err(KexError::BadSignature);
    }
    Ok(ServerHostKey { algorithm: alg, key, certificate, blob: Bytes::copy_from_slice(blob) })
}

#[cfg(test)]
pub(crate) mod tests;
