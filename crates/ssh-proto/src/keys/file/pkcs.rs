//! The DER key structures of OpenSSL-style files, converted to and from `ssh-key`'s
//! keypairs: PKCS#1 `RSAPrivateKey`, SEC1 `ECPrivateKey`, OpenSSL's DSA sequence and PKCS#8
//! `PrivateKeyInfo` (plain and PBES2-encrypted).

use pkcs8::der::asn1::{OctetStringRef, UintRef};
use pkcs8::der::{Decode, Encode, Length, Reader as _, SliceReader};
use pkcs8::{DecodePrivateKey, EncodePrivateKey, ObjectIdentifier, PrivateKeyInfoRef};
use rand_core::CryptoRng;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use ssh_encoding::Mpint;
use ssh_key::private::{
    DsaKeypair, DsaPrivateKey, EcdsaKeypair, Ed25519Keypair, Ed25519PrivateKey, KeypairData, RsaKeypair, RsaPrivateKey,
};
use ssh_key::public::{DsaPublicKey, RsaPublicKey};
use zeroize::Zeroizing;

use super::KeyFileError;

const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_DSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10040.4.1");

fn boxed(n: &rsa::BoxedUint) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(n.to_be_bytes_trimmed_vartime().into_vec())
}

// ---- RSA -----------------------------------------------------------------------------------

/// `ssh-key`'s keypair for an `rsa` private key.
pub(crate) fn rsa_keypair(k: &rsa::PrivateKey) -> Result<KeypairData, KeyFileError> {
    let f = "pkcs1";
    let [p, q] = k.primes() else {
        return Err(KeyFileError::malformed(f, "multi-prime RSA keys are not supported"));
    };
    let iqmp = k.crt_coefficient().ok_or_else(|| KeyFileError::malformed(f, "no CRT coefficient"))?;
    let public = RsaPublicKey::new(
        Mpint::from_positive_bytes(&boxed(k.e())),
        Mpint::from_positive_bytes(&boxed(k.n().as_ref())),
    )
    .map_err(|e| KeyFileError::malformed(f, e))?;
    let private = RsaPrivateKey::new(
        Mpint::from_positive_bytes(&boxed(k.d())),
        Mpint::from_positive_bytes(&boxed(&iqmp)),
        Mpint::from_positive_bytes(&boxed(p)),
        Mpint::from_positive_bytes(&boxed(q)),
    )
    .map_err(|e| KeyFileError::malformed(f, e))?;
    Ok(KeypairData::Rsa(RsaKeypair::new(public, private).map_err(|e| KeyFileError::malformed(f, e))?))
}

pub(crate) fn rsa_from_pkcs1(der: &[u8]) -> Result<KeypairData, KeyFileError> {
    let k = rsa::PrivateKey::from_pkcs1_der(der).map_err(|e| KeyFileError::malformed("pkcs1", e))?;
    rsa_keypair(&k)
}

fn ssh_rsa(k: &RsaKeypair) -> Result<rsa::PrivateKey, KeyFileError> {
    crate::keys::rsa_sig::private_key(k).map_err(KeyFileError::encode)
}

// ---- EC ------------------------------------------------------------------------------------

pub(crate) fn ec_from_sec1(der: &[u8]) -> Result<KeypairData, KeyFileError> {
    // The curve OID is inside the structure; each curve's decoder refuses the others'.
    if let Ok(k) = p256::SecretKey::from_sec1_der(der) {
        return Ok(KeypairData::Ecdsa(EcdsaKeypair::NistP256 { public: k.public_key().into(), private: k.into() }));
    }
    if let Ok(k) = p384::SecretKey::from_sec1_der(der) {
        return Ok(KeypairData::Ecdsa(EcdsaKeypair::NistP384 { public: k.public_key().into(), private: k.into() }));
    }
    match p521::SecretKey::from_sec1_der(der) {
        Ok(k) => Ok(KeypairData::Ecdsa(EcdsaKeypair::NistP521 { public: k.public_key().into(), private: k.into() })),
        Err(e) => Err(KeyFileError::malformed("sec1", e)),
    }
}

pub(crate) fn ec_to_sec1(k: &EcdsaKeypair) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
    let bytes = k.private_key_bytes();
    let der = match k {
        EcdsaKeypair::NistP256 { .. } => {
            p256::SecretKey::from_slice(bytes).map_err(KeyFileError::encode)?.to_sec1_der()
        }
        EcdsaKeypair::NistP384 { .. } => {
            p384::SecretKey::from_slice(bytes).map_err(KeyFileError::encode)?.to_sec1_der()
        }
        EcdsaKeypair::NistP521 { .. } => {
            p521::SecretKey::from_slice(bytes).map_err(KeyFileError::encode)?.to_sec1_der()
        }
    };
    der.map_err(KeyFileError::encode)
}

// ---- DSA (OpenSSL's `SEQUENCE { 0, p, q, g, y, x }`) ----------------------------------------

pub(crate) fn dsa_from_openssl(der: &[u8]) -> Result<KeypairData, KeyFileError> {
    let f = "dsa";
    let bad = |e: pkcs8::der::Error| KeyFileError::malformed(f, e);
    let mut r = SliceReader::new(der).map_err(bad)?;
    let ints = r
        .sequence(|r| {
            let mut v = Vec::with_capacity(6);
            for _ in 0..6 {
                v.push(UintRef::decode(r)?.as_bytes().to_vec());
            }
            Ok(v)
        })
        .map_err(bad)?;
    r.finish().map_err(bad)?;
    let ints = Zeroizing::new(ints);
    let [version, p, q, g, y, x] = &ints[..] else { return Err(KeyFileError::malformed(f, "expected six integers")) };
    if !version.is_empty() && version.as_slice() != [0] {
        return Err(KeyFileError::malformed(f, "unknown version"));
    }
    let public = DsaPublicKey::new(
        Mpint::from_positive_bytes(p),
        Mpint::from_positive_bytes(q),
        Mpint::from_positive_bytes(g),
        Mpint::from_positive_bytes(y),
    )
    .map_err(|e| KeyFileError::malformed(f, e))?;
    let private = DsaPrivateKey::new(Mpint::from_positive_bytes(x)).map_err(|e| KeyFileError::malformed(f, e))?;
    Ok(KeypairData::Dsa(DsaKeypair::new(public, private).map_err(|e| KeyFileError::malformed(f, e))?))
}

fn dsa_to_openssl(k: &DsaKeypair) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
    let pb = k.public();
    let parts: [&[u8]; 6] = [
        &[0],
        pb.p().as_positive_bytes().unwrap_or_default(),
        pb.q().as_positive_bytes().unwrap_or_default(),
        pb.g().as_positive_bytes().unwrap_or_default(),
        pb.y().as_positive_bytes().unwrap_or_default(),
        k.private().as_mpint().as_positive_bytes().unwrap_or_default(),
    ];
    let mut body = Zeroizing::new(Vec::new());
    for part in parts {
        UintRef::new(part).map_err(KeyFileError::encode)?.encode_to_vec(&mut body).map_err(KeyFileError::encode)?;
    }
    let mut out = Zeroizing::new(vec![0x30]);
    Length::try_from(body.len())
        .map_err(KeyFileError::encode)?
        .encode_to_vec(&mut out)
        .map_err(KeyFileError::encode)?;
    out.extend_from_slice(&body);
    Ok(out)
}

// ---- PKCS#8 --------------------------------------------------------------------------------

pub(crate) fn from_pkcs8(der: &[u8]) -> Result<KeypairData, KeyFileError> {
    let f = "pkcs8";
    let info = PrivateKeyInfoRef::try_from(der).map_err(|e| KeyFileError::malformed(f, e))?;
    let oid = info.algorithm.oid;
    if oid == OID_RSA {
        rsa_keypair(&rsa::PrivateKey::from_pkcs8_der(der).map_err(|e| KeyFileError::malformed(f, e))?)
    } else if oid == OID_EC {
        if let Ok(k) = p256::SecretKey::from_pkcs8_der(der) {
            return Ok(KeypairData::Ecdsa(EcdsaKeypair::NistP256 { public: k.public_key().into(), private: k.into() }));
        }
        if let Ok(k) = p384::SecretKey::from_pkcs8_der(der) {
            return Ok(KeypairData::Ecdsa(EcdsaKeypair::NistP384 { public: k.public_key().into(), private: k.into() }));
        }
        let k = p521::SecretKey::from_pkcs8_der(der).map_err(|e| KeyFileError::malformed(f, e))?;
        Ok(KeypairData::Ecdsa(EcdsaKeypair::NistP521 { public: k.public_key().into(), private: k.into() }))
    } else if oid == OID_ED25519 {
        // RFC 8410: the private key is an OCTET STRING holding the 32-byte seed.
        let inner =
            <&OctetStringRef>::from_der(info.private_key.as_bytes()).map_err(|e| KeyFileError::malformed(f, e))?;
        let seed: &[u8; 32] =
            inner.as_bytes().try_into().map_err(|_| KeyFileError::malformed(f, "Ed25519 seed is not 32 bytes"))?;
        Ok(KeypairData::Ed25519(Ed25519Keypair::from(Ed25519PrivateKey::from_bytes(seed))))
    } else if oid == OID_DSA {
        let k = dsa::SigningKey::from_pkcs8_der(der).map_err(|e| KeyFileError::malformed(f, e))?;
        Ok(KeypairData::Dsa(DsaKeypair::from(k)))
    } else {
        Err(KeyFileError::UnsupportedKeyType { name: oid.to_string() })
    }
}

pub(crate) fn to_pkcs8(key: &KeypairData) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
    let doc = match key {
        KeypairData::Rsa(k) => ssh_rsa(k)?.to_pkcs8_der().map_err(KeyFileError::encode)?,
        KeypairData::Ecdsa(k) => {
            let bytes = k.private_key_bytes();
            match k {
                EcdsaKeypair::NistP256 { .. } => {
                    p256::SecretKey::from_slice(bytes).map_err(KeyFileError::encode)?.to_pkcs8_der()
                }
                EcdsaKeypair::NistP384 { .. } => {
                    p384::SecretKey::from_slice(bytes).map_err(KeyFileError::encode)?.to_pkcs8_der()
                }
                EcdsaKeypair::NistP521 { .. } => {
                    p521::SecretKey::from_slice(bytes).map_err(KeyFileError::encode)?.to_pkcs8_der()
                }
            }
            .map_err(KeyFileError::encode)?
        }
        KeypairData::Ed25519(k) => {
            let seed = Zeroizing::new(k.private.to_bytes());
            let inner = Zeroizing::new(
                OctetStringRef::new(&seed[..]).map_err(KeyFileError::encode)?.to_der().map_err(KeyFileError::encode)?,
            );
            let info = PrivateKeyInfoRef::new(
                pkcs8::AlgorithmIdentifierRef { oid: OID_ED25519, parameters: None },
                OctetStringRef::new(&inner).map_err(KeyFileError::encode)?,
            );
            return Ok(Zeroizing::new(info.to_der().map_err(KeyFileError::encode)?));
        }
        KeypairData::Dsa(k) => {
            dsa::SigningKey::try_from(k).map_err(KeyFileError::encode)?.to_pkcs8_der().map_err(KeyFileError::encode)?
        }
        other => {
            return Err(KeyFileError::encode(format!(
                "{} keys have no PKCS#8 form here",
                other.algorithm().map_or("unknown".into(), |a| a.to_string())
            )));
        }
    };
    Ok(Zeroizing::new(doc.as_bytes().to_vec()))
}

/// Refuses KDF parameters whose cost a hostile file chose: the pkcs5 crate bounds them only
/// when it makes parameters, not when it reads them.
fn check_kdf_cost(scheme: &pkcs8::pkcs5::EncryptionScheme) -> Result<(), KeyFileError> {
    let pkcs8::pkcs5::EncryptionScheme::Pbes2(params) = scheme else { return Ok(()) };
    if let Some(p) = params.kdf.pbkdf2()
        && p.iteration_count > super::MAX_PBKDF2_ITERATIONS
    {
        return Err(KeyFileError::malformed("pkcs8", format!("{} PBKDF2 iterations", p.iteration_count)));
    }
    // scrypt needs 128·r·N bytes and p times the work.
    if let Some(p) = params.kdf.scrypt() {
        let cost =
            128u128 * u128::from(p.cost_parameter) * u128::from(p.block_size) * u128::from(p.parallelization.max(1));
        if cost > super::MAX_SCRYPT_BYTES {
            return Err(KeyFileError::malformed("pkcs8", "scrypt parameters above the memory limit"));
        }
    }
    Ok(())
}

pub(crate) fn decrypt_pkcs8(der: &[u8], passphrase: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
    let info = pkcs8::EncryptedPrivateKeyInfoRef::try_from(der).map_err(|e| KeyFileError::malformed("pkcs8", e))?;
    check_kdf_cost(&info.encryption_algorithm)?;
    match info.decrypt(passphrase) {
        Ok(doc) => Ok(Zeroizing::new(doc.as_bytes().to_vec())),
        // The parameters were parsed above, so DER that does not parse is the decrypted
        // text: a wrong passphrase passes the CBC padding check 1 time in 256 and then
        // yields garbage.
        Err(pkcs8::Error::EncryptedPrivateKey(pkcs8::pkcs5::Error::DecryptFailed) | pkcs8::Error::Asn1(_)) => {
            Err(KeyFileError::WrongPassphrase)
        }
        Err(pkcs8::Error::EncryptedPrivateKey(e @ pkcs8::pkcs5::Error::UnsupportedAlgorithm { .. })) => {
            Err(KeyFileError::UnsupportedCipher { name: e.to_string() })
        }
        Err(e) => Err(KeyFileError::malformed("pkcs8", e)),
    }
}

pub(crate) fn encrypt_pkcs8(
    der: &[u8],
    passphrase: &[u8],
    rng: &mut dyn CryptoRng,
) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
    let mut rng = rng;
    let params = pkcs8::pkcs5::pbes2::Parameters::generate_pbkdf2(&mut rng).map_err(KeyFileError::encode)?;
    let info = PrivateKeyInfoRef::try_from(der).map_err(KeyFileError::encode)?;
    let doc = info.encrypt_with_params(params, passphrase).map_err(KeyFileError::encode)?;
    Ok(Zeroizing::new(doc.as_bytes().to_vec()))
}

/// The traditional (pre-PKCS#8) DER for `key` and its PEM label.
pub(crate) fn to_traditional(key: &KeypairData) -> Result<(&'static str, Zeroizing<Vec<u8>>), KeyFileError> {
    match key {
        KeypairData::Rsa(k) => Ok((
            "RSA PRIVATE KEY",
            Zeroizing::new(ssh_rsa(k)?.to_pkcs1_der().map_err(KeyFileError::encode)?.as_bytes().to_vec()),
        )),
        KeypairData::Ecdsa(k) => Ok(("EC PRIVATE KEY", ec_to_sec1(k)?)),
        KeypairData::Dsa(k) => Ok(("DSA PRIVATE KEY", dsa_to_openssl(k)?)),
        _ => Err(KeyFileError::encode("only RSA, ECDSA and DSA keys have a traditional PEM form")),
    }
}
