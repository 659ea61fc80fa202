//! The private key inside `SSH_AGENTC_ADD_IDENTITY`: OpenSSH's private-key serialization
//! (`string type ‖ key-type-specific fields`, as in the private section of an OpenSSH key
//! file), or for `*-cert-v01@openssh.com` the certificate blob followed by only the private
//! fields of its key (OpenSSH's `sshkey_private_serialize` for certificate keys).

use ssh_encoding::{Decode, Encode};
use ssh_key::private::{EcdsaKeypair, EcdsaPrivateKey, Ed25519Keypair, KeypairData, RsaKeypair, RsaPrivateKey};
use ssh_key::public::{EcdsaPublicKey, KeyData};
use ssh_key::{Certificate, PrivateKey, PublicKey};
use zeroize::Zeroizing;

use super::AgentError;
use crate::wire::{Reader, WireWrite};

const CERT_SUFFIX: &str = "-cert-v01@openssh.com";

/// A private key as an agent carries it, with the certificate it is presented under, if any.
///
/// The key material is zeroized on drop (by `ssh-key`), and every buffer this module
/// encodes it into is [`Zeroizing`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentKey {
    key: KeypairData,
    certificate: Option<Box<Certificate>>,
}

impl AgentKey {
    /// A plain (uncertified) decrypted private key.
    pub fn new(key: &PrivateKey) -> Result<Self, AgentError> {
        if key.is_encrypted() {
            return Err(AgentError::Key("the private key is encrypted; decrypt it first".into()));
        }
        Ok(Self { key: key.key_data().clone(), certificate: None })
    }

    /// A decrypted private key presented under `certificate` (which must certify its public
    /// key). The certificate's comment is dropped: the wire carries the identity's own.
    pub fn with_certificate(key: &PrivateKey, mut certificate: Certificate) -> Result<Self, AgentError> {
        certificate.set_comment("");
        let plain = Self::new(key)?;
        if certificate.public_key() != key.public_key().key_data() {
            return Err(AgentError::Key("the certificate is for another key".into()));
        }
        // Only the key types OpenSSH can add as certificates.
        private_fields_len(&plain.key)?;
        Ok(Self { key: plain.key, certificate: Some(Box::new(certificate)) })
    }

    /// The key pair.
    pub fn keypair(&self) -> &KeypairData {
        &self.key
    }

    /// The certificate, if the key is presented under one.
    pub fn certificate(&self) -> Option<&Certificate> {
        self.certificate.as_deref()
    }

    /// The public key.
    pub fn public_key(&self) -> Result<PublicKey, AgentError> {
        Ok(PublicKey::new(KeyData::try_from(&self.key)?, ""))
    }

    /// The blob the agent lists and signs for: the certificate's when there is one, else
    /// the public key's.
    pub fn identity_blob(&self) -> Result<Vec<u8>, AgentError> {
        Ok(match &self.certificate {
            Some(c) => c.to_bytes()?,
            None => KeyData::try_from(&self.key)?.encode_vec()?,
        })
    }

    /// The key as an `ssh-key` private key with `comment`.
    pub fn to_private_key(&self, comment: &str) -> Result<PrivateKey, AgentError> {
        Ok(PrivateKey::new(self.key.clone(), comment)?)
    }

    /// Exact length of [`encode`](Self::encode)'s output.
    pub(crate) fn encoded_len(&self) -> Result<usize, AgentError> {
        Ok(match &self.certificate {
            None => self.key.encoded_len()?,
            Some(c) => {
                let name = cert_type_name(c);
                4 + name.len() + 4 + c.encoded_len()? + private_fields_len(&self.key)?
            }
        })
    }

    /// Appends the key's serialization. `out` must have room for
    /// [`encoded_len`](Self::encoded_len) more bytes so that no copy of the key is left in a
    /// freed allocation.
    pub(crate) fn encode(&self, out: &mut Zeroizing<Vec<u8>>) -> Result<(), AgentError> {
        let out: &mut Vec<u8> = out;
        match &self.certificate {
            None => self.key.encode(out)?,
            Some(c) => {
                out.put_string(cert_type_name(c).as_bytes());
                let blob = c.to_bytes()?;
                out.put_string(&blob);
                match &self.key {
                    KeypairData::Ed25519(k) => k.encode(out)?,
                    KeypairData::Ecdsa(EcdsaKeypair::NistP256 { private, .. }) => private.encode(out)?,
                    KeypairData::Ecdsa(EcdsaKeypair::NistP384 { private, .. }) => private.encode(out)?,
                    KeypairData::Ecdsa(EcdsaKeypair::NistP521 { private, .. }) => private.encode(out)?,
                    KeypairData::Rsa(k) => k.private().encode(out)?,
                    _ => return Err(unsupported_cert()),
                }
            }
        }
        Ok(())
    }

    /// Reads a key from the front of `r`, leaving the fields after it.
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, AgentError> {
        let name = r.clone().string()?;
        let mut rest = r.remaining();
        if !name.ends_with(CERT_SUFFIX.as_bytes()) {
            let key = KeypairData::decode(&mut rest)?;
            if key.is_encrypted() {
                return Err(AgentError::Key("encrypted key data".into()));
            }
            *r = Reader::new(rest);
            return Ok(Self { key, certificate: None });
        }
        r.string()?;
        let certificate = Certificate::from_bytes(r.string()?)?;
        if cert_type_name(&certificate).as_bytes() != name {
            return Err(AgentError::Key("certificate type does not match the key type".into()));
        }
        let mut fields = r.remaining();
        let key = match certificate.public_key() {
            KeyData::Ed25519(public) => {
                let k = Ed25519Keypair::decode(&mut fields)?;
                if k.public != *public {
                    return Err(mismatch());
                }
                KeypairData::Ed25519(k)
            }
            KeyData::Ecdsa(EcdsaPublicKey::NistP256(public)) => {
                let private = EcdsaPrivateKey::<32>::decode(&mut fields)?;
                ecdsa_checked(EcdsaKeypair::NistP256 { public: *public, private })?
            }
            KeyData::Ecdsa(EcdsaPublicKey::NistP384(public)) => {
                let private = EcdsaPrivateKey::<48>::decode(&mut fields)?;
                ecdsa_checked(EcdsaKeypair::NistP384 { public: *public, private })?
            }
            KeyData::Ecdsa(EcdsaPublicKey::NistP521(public)) => {
                let private = EcdsaPrivateKey::<66>::decode(&mut fields)?;
                ecdsa_checked(EcdsaKeypair::NistP521 { public: *public, private })?
            }
            KeyData::Rsa(public) => {
                let private = RsaPrivateKey::decode(&mut fields)?;
                KeypairData::Rsa(RsaKeypair::new(public.clone(), private)?)
            }
            _ => return Err(unsupported_cert()),
        };
        *r = Reader::new(fields);
        Ok(Self { key, certificate: Some(Box::new(certificate)) })
    }
}

fn mismatch() -> AgentError {
    AgentError::Key("private key does not match the certificate".into())
}

/// The pair, if the private scalar yields the certificate's public point: only the scalar
/// travels after a certificate, so nothing else ties it to the key being certified.
fn ecdsa_checked(pair: EcdsaKeypair) -> Result<KeypairData, AgentError> {
    let scalar = pair.private_key_bytes();
    let public = pair.public_key_bytes();
    let matches = match &pair {
        EcdsaKeypair::NistP256 { .. } => p256::SecretKey::from_slice(scalar)
            .is_ok_and(|k| p256::PublicKey::from_sec1_bytes(public).is_ok_and(|p| p == k.public_key())),
        EcdsaKeypair::NistP384 { .. } => p384::SecretKey::from_slice(scalar)
            .is_ok_and(|k| p384::PublicKey::from_sec1_bytes(public).is_ok_and(|p| p == k.public_key())),
        EcdsaKeypair::NistP521 { .. } => p521::SecretKey::from_slice(scalar)
            .is_ok_and(|k| p521::PublicKey::from_sec1_bytes(public).is_ok_and(|p| p == k.public_key())),
    };
    if !matches {
        return Err(mismatch());
    }
    Ok(KeypairData::Ecdsa(pair))
}

fn unsupported_cert() -> AgentError {
    AgentError::Key("certificates are supported for Ed25519, ECDSA and RSA keys".into())
}

/// `ssh-ed25519-cert-v01@openssh.com`, …: the key type a certificate is added under.
fn cert_type_name(c: &Certificate) -> String {
    c.algorithm().to_certificate_type()
}

/// Length of the private-only fields written after a certificate blob.
fn private_fields_len(key: &KeypairData) -> Result<usize, AgentError> {
    Ok(match key {
        KeypairData::Ed25519(k) => k.encoded_len()?,
        KeypairData::Ecdsa(EcdsaKeypair::NistP256 { private, .. }) => private.encoded_len()?,
        KeypairData::Ecdsa(EcdsaKeypair::NistP384 { private, .. }) => private.encoded_len()?,
        KeypairData::Ecdsa(EcdsaKeypair::NistP521 { private, .. }) => private.encoded_len()?,
        KeypairData::Rsa(k) => k.private().encoded_len()?,
        _ => return Err(unsupported_cert()),
    })
}
