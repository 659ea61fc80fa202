//! The single-round-trip key agreements: X25519, NIST ECDH, the post-quantum hybrids and
//! finite-field DH. The client keeps a [`ClientSecret`] between its init message and the
//! server's reply; the server answers in one call to [`server_exchange`].

use ml_kem::MlKem768;
use ml_kem::kem::{Decapsulate, Encapsulate, Kem, KeyExport, TryKeyInit};
use p256::elliptic_curve::Generate;
use rand_core::CryptoRng;
use sha2::{Digest, Sha256, Sha512};
use zeroize::Zeroizing;

use super::dh::DhGroup;
use crate::algorithm::KexAlgorithm;
use crate::error::KexError;
use crate::wire::WireWrite;

/// The shared secret `K`, already in its wire encoding (`mpint`, or `string` for the hybrids)
/// as it enters the exchange hash and key derivation.
pub(crate) struct SharedSecret(pub(crate) Zeroizing<Vec<u8>>);

impl SharedSecret {
    fn mpint(magnitude: &[u8]) -> Self {
        let mut v = Zeroizing::new(Vec::with_capacity(magnitude.len() + 5));
        v.put_mpint_positive(magnitude);
        Self(v)
    }

    fn string(bytes: &[u8]) -> Self {
        let mut v = Zeroizing::new(Vec::with_capacity(bytes.len() + 4));
        v.put_string(bytes);
        Self(v)
    }
}

type MlKemDk = <MlKem768 as Kem>::DecapsulationKey;
type MlKemEk = <MlKem768 as Kem>::EncapsulationKey;

const MLKEM_EK_LEN: usize = 1184;
const MLKEM_CT_LEN: usize = 1088;
const X25519_LEN: usize = 32;

/// Client-side ephemeral state.
pub(crate) enum ClientSecret {
    X25519(x25519_dalek::EphemeralSecret),
    P256(p256::ecdh::EphemeralSecret),
    P384(p384::ecdh::EphemeralSecret),
    P521(p521::ecdh::EphemeralSecret),
    Dh {
        group: Box<DhGroup>,
        x: Zeroizing<crypto_bigint::BoxedUint>,
        exp_bits: u32,
    },
    MlKem {
        dk: Box<MlKemDk>,
        x: x25519_dalek::EphemeralSecret,
    },
    #[cfg(all(feature = "sntrup761", not(windows)))]
    Sntrup {
        dk: Box<sntrup761::DecapsulationKey>,
        x: x25519_dalek::EphemeralSecret,
    },
}

fn x25519_new(rng: &mut dyn CryptoRng) -> (x25519_dalek::EphemeralSecret, [u8; 32]) {
    let s = x25519_dalek::EphemeralSecret::random_from_rng(rng);
    let p = x25519_dalek::PublicKey::from(&s).to_bytes();
    (s, p)
}

fn x25519_finish(s: x25519_dalek::EphemeralSecret, peer: &[u8]) -> Result<Zeroizing<[u8; 32]>, KexError> {
    let peer: [u8; 32] = peer.try_into().map_err(|_| KexError::InvalidPublicValue)?;
    let shared = s.diffie_hellman(&x25519_dalek::PublicKey::from(peer));
    // An all-zero result means the peer sent a low-order point (RFC 7748 §6.1).
    if !shared.was_contributory() {
        return Err(KexError::InvalidPublicValue);
    }
    Ok(Zeroizing::new(shared.to_bytes()))
}

fn hybrid_secret<D: Digest>(pq: &[u8], classical: &[u8]) -> SharedSecret {
    let mut h = D::new();
    h.update(pq);
    h.update(classical);
    let k = Zeroizing::new(h.finalize().to_vec());
    SharedSecret::string(&k)
}

macro_rules! nist_client {
    ($curve:ident, $variant:ident, $rng:expr) => {{
        let s = $curve::ecdh::EphemeralSecret::generate_from_rng($rng);
        let public = $curve::PublicKey::from(&s).to_sec1_bytes().to_vec();
        (ClientSecret::$variant(s), public)
    }};
}

macro_rules! nist_shared {
    ($curve:ident, $secret:expr, $peer:expr) => {{
        let peer = $curve::PublicKey::from_sec1_bytes($peer).map_err(|_| KexError::InvalidPublicValue)?;
        let shared = $secret.diffie_hellman(&peer);
        SharedSecret::mpint(shared.raw_secret_bytes().as_slice())
    }};
}

/// Starts the client side: the ephemeral secret and the public value to send
/// (`Q_C`, `C_INIT`, or the magnitude of `e`).
pub(crate) fn client_init(
    alg: KexAlgorithm,
    group: Option<DhGroup>,
    exp_bits: u32,
    rng: &mut dyn CryptoRng,
) -> Result<(ClientSecret, Vec<u8>), KexError> {
    Ok(match alg {
        KexAlgorithm::Curve25519Sha256 | KexAlgorithm::Curve25519Sha256Libssh => {
            let (s, p) = x25519_new(rng);
            (ClientSecret::X25519(s), p.to_vec())
        }
        KexAlgorithm::EcdhNistp256 => nist_client!(p256, P256, rng),
        KexAlgorithm::EcdhNistp384 => nist_client!(p384, P384, rng),
        KexAlgorithm::EcdhNistp521 => nist_client!(p521, P521, rng),
        KexAlgorithm::MlKem768X25519Sha256 => {
            let (dk, ek) = MlKem768::generate_keypair_from_rng(&mut &mut *rng);
            let (x, xp) = x25519_new(rng);
            let mut public = ek.to_bytes().to_vec();
            public.extend_from_slice(&xp);
            (ClientSecret::MlKem { dk: Box::new(dk), x }, public)
        }
        #[cfg(all(feature = "sntrup761", not(windows)))]
        KexAlgorithm::Sntrup761X25519Sha512 | KexAlgorithm::Sntrup761X25519Sha512OpenSsh => {
            let (ek, dk) = sntrup761::generate_key(&mut *rng);
            let (x, xp) = x25519_new(rng);
            let mut public = ek.as_ref().to_vec();
            public.extend_from_slice(&xp);
            (ClientSecret::Sntrup { dk: Box::new(dk), x }, public)
        }
        _ => {
            let group = group.or_else(|| DhGroup::fixed(alg)).ok_or(KexError::BadGroup("no group".into()))?;
            let (x, e) = group.generate(exp_bits, rng);
            (ClientSecret::Dh { group: Box::new(group), x, exp_bits }, e)
        }
    })
}

impl ClientSecret {
    /// Completes the agreement with the server's public value.
    pub(crate) fn finish(self, server_public: &[u8]) -> Result<SharedSecret, KexError> {
        Ok(match self {
            Self::X25519(s) => SharedSecret::mpint(&*x25519_finish(s, server_public)?),
            Self::P256(s) => nist_shared!(p256, s, server_public),
            Self::P384(s) => nist_shared!(p384, s, server_public),
            Self::P521(s) => nist_shared!(p521, s, server_public),
            Self::Dh { group, x, exp_bits } => SharedSecret::mpint(&group.shared(&x, exp_bits, server_public)?),
            Self::MlKem { dk, x } => {
                if server_public.len() != MLKEM_CT_LEN + X25519_LEN {
                    return Err(KexError::InvalidPublicValue);
                }
                let (ct, xp) = server_public.split_at(MLKEM_CT_LEN);
                let pq = dk.decapsulate_slice(ct).map_err(|_| KexError::InvalidPublicValue)?;
                let classical = x25519_finish(x, xp)?;
                hybrid_secret::<Sha256>(pq.as_slice(), &*classical)
            }
            #[cfg(all(feature = "sntrup761", not(windows)))]
            Self::Sntrup { dk, x } => {
                if server_public.len() != sntrup761::CIPHERTEXT_SIZE + X25519_LEN {
                    return Err(KexError::InvalidPublicValue);
                }
                let (ct, xp) = server_public.split_at(sntrup761::CIPHERTEXT_SIZE);
                let ct = sntrup761::Ciphertext::try_from(ct).map_err(|_| KexError::InvalidPublicValue)?;
                let pq = dk.decapsulate(&ct);
                let classical = x25519_finish(x, xp)?;
                hybrid_secret::<Sha512>(pq.as_ref(), &*classical)
            }
        })
    }
}

macro_rules! nist_server {
    ($curve:ident, $client:expr, $rng:expr) => {{
        let peer = $curve::PublicKey::from_sec1_bytes($client).map_err(|_| KexError::InvalidPublicValue)?;
        let s = $curve::ecdh::EphemeralSecret::generate_from_rng($rng);
        let public = $curve::PublicKey::from(&s).to_sec1_bytes().to_vec();
        let shared = s.diffie_hellman(&peer);
        (public, SharedSecret::mpint(shared.raw_secret_bytes().as_slice()))
    }};
}

/// The server side: validates the client's public value, returns the server's public
/// value (`Q_S`, `S_REPLY`, or the magnitude of `f`) and the shared secret.
pub(crate) fn server_exchange(
    alg: KexAlgorithm,
    group: Option<&DhGroup>,
    exp_bits: u32,
    client_public: &[u8],
    rng: &mut dyn CryptoRng,
) -> Result<(Vec<u8>, SharedSecret), KexError> {
    Ok(match alg {
        KexAlgorithm::Curve25519Sha256 | KexAlgorithm::Curve25519Sha256Libssh => {
            let (s, p) = x25519_new(rng);
            let k = x25519_finish(s, client_public)?;
            (p.to_vec(), SharedSecret::mpint(&*k))
        }
        KexAlgorithm::EcdhNistp256 => nist_server!(p256, client_public, rng),
        KexAlgorithm::EcdhNistp384 => nist_server!(p384, client_public, rng),
        KexAlgorithm::EcdhNistp521 => nist_server!(p521, client_public, rng),
        KexAlgorithm::MlKem768X25519Sha256 => {
            if client_public.len() != MLKEM_EK_LEN + X25519_LEN {
                return Err(KexError::InvalidPublicValue);
            }
            let (ek, xp) = client_public.split_at(MLKEM_EK_LEN);
            let ek = MlKemEk::new_from_slice(ek).map_err(|_| KexError::InvalidPublicValue)?;
            let (ct, pq) = ek.encapsulate_with_rng(&mut *rng);
            let (s, p) = x25519_new(rng);
            let classical = x25519_finish(s, xp)?;
            let mut public = ct.to_vec();
            public.extend_from_slice(&p);
            (public, hybrid_secret::<Sha256>(pq.as_slice(), &*classical))
        }
        #[cfg(all(feature = "sntrup761", not(windows)))]
        KexAlgorithm::Sntrup761X25519Sha512 | KexAlgorithm::Sntrup761X25519Sha512OpenSsh => {
            if client_public.len() != sntrup761::PUBLIC_KEY_SIZE + X25519_LEN {
                return Err(KexError::InvalidPublicValue);
            }
            let (ek, xp) = client_public.split_at(sntrup761::PUBLIC_KEY_SIZE);
            let ek = sntrup761::EncapsulationKey::try_from(ek).map_err(|_| KexError::InvalidPublicValue)?;
            let (ct, pq) = ek.encapsulate(&mut *rng);
            let (s, p) = x25519_new(rng);
            let classical = x25519_finish(s, xp)?;
            let mut public = ct.as_ref().to_vec();
            public.extend_from_slice(&p);
            (public, hybrid_secret::<Sha512>(pq.as_ref(), &*classical))
        }
        _ => {
            let fixed;
            let group = match group {
                Some(g) => g,
                None => {
                    fixed = DhGroup::fixed(alg).ok_or(KexError::BadGroup("no group".into()))?;
                    &fixed
                }
            };
            let (y, f) = group.generate(exp_bits, rng);
            let k = group.shared(&y, exp_bits, client_public)?;
            (f, SharedSecret::mpint(&k))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithm::{Algorithm, AlgorithmList};
    use crate::rng::SeededRng;

    #[test]
    fn every_method_agrees_and_rejects_garbage() {
        let mut rng = SeededRng::new(7);
        for &alg in AlgorithmList::<KexAlgorithm>::all().as_slice() {
            if alg.is_group_exchange() {
                continue;
            }
            let (secret, c_pub) = client_init(alg, None, 512, &mut rng).unwrap();
            let (s_pub, s_k) = server_exchange(alg, None, 512, &c_pub, &mut rng).unwrap();
            let c_k = secret.finish(&s_pub).unwrap();
            assert_eq!(*c_k.0, *s_k.0, "{}", alg.name());

            // Truncated or empty public values are typed errors, never panics.
            assert!(server_exchange(alg, None, 512, &[], &mut rng).is_err(), "{}", alg.name());
            if !alg.public_is_mpint() {
                let half = &c_pub[..c_pub.len() / 2];
                assert!(server_exchange(alg, None, 512, half, &mut rng).is_err(), "{}", alg.name());
            }
            if !alg.public_is_mpint() {
                let (secret, _) = client_init(alg, None, 512, &mut rng).unwrap();
                assert!(secret.finish(&s_pub[..s_pub.len() - 1]).is_err(), "{}", alg.name());
            }
            let (secret, _) = client_init(alg, None, 512, &mut rng).unwrap();
            assert!(secret.finish(&[]).is_err(), "{}", alg.name());
        }
    }

    #[test]
    fn x25519_low_order_point_is_rejected() {
        let mut rng = SeededRng::new(8);
        let (secret, _) = client_init(KexAlgorithm::Curve25519Sha256, None, 0, &mut rng).unwrap();
        assert!(matches!(secret.finish(&[0u8; 32]), Err(KexError::InvalidPublicValue)));
    }
}
