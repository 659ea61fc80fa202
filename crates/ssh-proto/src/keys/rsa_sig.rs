//! RSA signatures (RFC 8332 rsa-sha2-256/512 and legacy ssh-rsa) through `rsa` 0.10.

use rand_core::CryptoRng;
use rsa::BoxedUint;
use rsa::signature::{RandomizedSigner, SignatureEncoding, Verifier};
use sha1::Sha1;
use sha2::{Sha256, Sha512};

use crate::Error;
use crate::algorithm::RsaHash;

/// Smallest RSA modulus accepted (OpenSSH's `SSH_RSA_MINIMUM_MODULUS_SIZE`).
pub(crate) const MIN_BITS: usize = 1024;
/// Largest RSA modulus accepted (OpenSSH's `SSHBUF_MAX_BIGNUM` allows 16384).
pub(crate) const MAX_BITS: usize = 16384;

fn uint(m: &ssh_encoding::Mpint) -> Option<BoxedUint> {
    m.as_positive_bytes().map(BoxedUint::from_be_slice_vartime)
}

fn public(k: &ssh_key::public::RsaPublicKey) -> Option<rsa::PublicKey> {
    rsa::PublicKey::new_with_size_limits(uint(k.n())?, uint(k.e())?, MIN_BITS..=MAX_BITS).ok()
}

#[derive(Clone)]
pub(crate) struct RsaSigner {
    key: rsa::PrivateKey,
}

/// `rsa`'s private key for an `ssh-key` RSA keypair.
///
/// The modulus must be 1024 to 16384 bits, as OpenSSH's `sshkey_check_rsa_length` requires:
/// signing cost grows with the cube of the size, so an agent or server given a huge key would
/// spend minutes per signature.
pub(crate) fn private_key(k: &ssh_key::private::RsaKeypair) -> Result<rsa::PrivateKey, Error> {
    let bad = || Error::Config("invalid RSA key".into());
    let p = k.private();
    let n = uint(k.public().n()).ok_or_else(bad)?;
    let bits = n.bit_width_vartime() as usize;
    if !(MIN_BITS..=MAX_BITS).contains(&bits) {
        return Err(Error::Config(format!("RSA key of {bits} bits (must be {MIN_BITS} to {MAX_BITS})")));
    }
    let e = uint(k.public().e()).ok_or_else(bad)?;
    let d = uint(p.d()).ok_or_else(bad)?;
    let primes = vec![uint(p.p()).ok_or_else(bad)?, uint(p.q()).ok_or_else(bad)?];
    rsa::PrivateKey::from_components(n, e, d, primes).map_err(|e| Error::Config(format!("RSA key: {e}")))
}

impl RsaSigner {
    pub(crate) fn from_keypair(k: &ssh_key::private::RsaKeypair) -> Result<Self, Error> {
        Ok(Self { key: private_key(k)? })
    }

    pub(crate) fn sign(&self, hash: RsaHash, data: &[u8], rng: &mut dyn CryptoRng) -> Result<Vec<u8>, String> {
        let err = |e: rsa::signature::Error| e.to_string();
        let mut rng = rng;
        Ok(match hash {
            RsaHash::Sha512 => rsa::pkcs1v15::SigningKey::<Sha512>::new(self.key.clone())
                .try_sign_with_rng(&mut rng, data)
                .map_err(err)?
                .to_vec(),
            RsaHash::Sha256 => rsa::pkcs1v15::SigningKey::<Sha256>::new(self.key.clone())
                .try_sign_with_rng(&mut rng, data)
                .map_err(err)?
                .to_vec(),
            RsaHash::Sha1 => rsa::pkcs1v15::SigningKey::<Sha1>::new(self.key.clone())
                .try_sign_with_rng(&mut rng, data)
                .map_err(err)?
                .to_vec(),
        })
    }
}

pub(crate) fn verify(k: &ssh_key::public::RsaPublicKey, hash: RsaHash, data: &[u8], sig: &[u8]) -> bool {
    let Some(key) = public(k) else { return false };
    let Ok(sig) = rsa::pkcs1v15::Signature::try_from(sig) else { return false };
    match hash {
        RsaHash::Sha512 => rsa::pkcs1v15::VerifyingKey::<Sha512>::new(key).verify(data, &sig).is_ok(),
        RsaHash::Sha256 => rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key).verify(data, &sig).is_ok(),
        RsaHash::Sha1 => rsa::pkcs1v15::VerifyingKey::<Sha1>::new(key).verify(data, &sig).is_ok(),
    }
}
