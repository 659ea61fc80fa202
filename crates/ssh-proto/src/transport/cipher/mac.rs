//! HMAC states, keyed once per key exchange and cloned per packet.

use hmac::{Hmac, KeyInit};
use sha1::Sha1;
use sha2::{Sha256, Sha512};

use crate::algorithm::Mac;

/// A keyed HMAC for one direction.
#[derive(Clone)]
pub(crate) enum MacState {
    Sha1(Hmac<Sha1>),
    Sha256(Hmac<Sha256>),
    Sha512(Hmac<Sha512>),
    /// `none` (fuzzing builds only).
    Null,
}

impl MacState {
    pub(crate) fn new(mac: Mac, key: &[u8]) -> Self {
        // `new_from_slice` accepts any HMAC key length, so these cannot fail; fall back to the
        // null MAC rather than panic would be wrong, so map failures to a MAC that never verifies.
        match mac {
            Mac::HmacSha1 | Mac::HmacSha1Etm => Hmac::new_from_slice(key).map_or(Self::Null, Self::Sha1),
            Mac::HmacSha256 | Mac::HmacSha256Etm => Hmac::new_from_slice(key).map_or(Self::Null, Self::Sha256),
            Mac::HmacSha512 | Mac::HmacSha512Etm => Hmac::new_from_slice(key).map_or(Self::Null, Self::Sha512),
            Mac::None => Self::Null,
        }
    }

    pub(crate) fn tag_len(&self) -> usize {
        match self {
            Self::Sha1(_) => 20,
            Self::Sha256(_) => 32,
            Self::Sha512(_) => 64,
            Self::Null => 0,
        }
    }

    /// MAC(key, seq || data) into `out` (exactly `tag_len` bytes).
    pub(crate) fn compute(&self, seq: u32, data: &[u8], out: &mut [u8]) {
        fn run<M: hmac::Mac + Clone>(m: &M, seq: u32, data: &[u8], out: &mut [u8]) {
            let mut m = m.clone();
            m.update(&seq.to_be_bytes());
            m.update(data);
            let tag = m.finalize().into_bytes();
            for (o, t) in out.iter_mut().zip(tag.iter()) {
                *o = *t;
            }
        }
        match self {
            Self::Sha1(m) => run(m, seq, data, out),
            Self::Sha256(m) => run(m, seq, data, out),
            Self::Sha512(m) => run(m, seq, data, out),
            Self::Null => {}
        }
    }

    /// Constant-time check of MAC(key, seq || data) against `tag`.
    pub(crate) fn verify(&self, seq: u32, data: &[u8], tag: &[u8]) -> bool {
        fn run<M: hmac::Mac + Clone>(m: &M, seq: u32, data: &[u8], tag: &[u8]) -> bool {
            let mut m = m.clone();
            m.update(&seq.to_be_bytes());
            m.update(data);
            m.verify_slice(tag).is_ok()
        }
        match self {
            Self::Sha1(m) => run(m, seq, data, tag),
            Self::Sha256(m) => run(m, seq, data, tag),
            Self::Sha512(m) => run(m, seq, data, tag),
            Self::Null => tag.is_empty(),
        }
    }
}
