//! Exchange hash (RFC 4253 §8, RFC 5656 §4, RFC 4419 §3) and key derivation (RFC 4253 §7.2).

use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};
use zeroize::Zeroizing;

use crate::algorithm::KexHash;

/// One-shot digest with the kex's hash.
pub(crate) fn digest(hash: KexHash, parts: &[&[u8]]) -> Zeroizing<Vec<u8>> {
    fn run<D: Digest>(parts: &[&[u8]]) -> Zeroizing<Vec<u8>> {
        let mut d = D::new();
        for p in parts {
            d.update(p);
        }
        Zeroizing::new(d.finalize().to_vec())
    }
    match hash {
        KexHash::Sha1 => run::<Sha1>(parts),
        KexHash::Sha256 => run::<Sha256>(parts),
        KexHash::Sha384 => run::<Sha384>(parts),
        KexHash::Sha512 => run::<Sha512>(parts),
    }
}

/// Derives `len` bytes of key material for letter `x` ('A'..='F'):
/// `K1 = HASH(K || H || X || session_id)`, `Kn = HASH(K || H || K1 || … || Kn-1)`.
/// `k` is the shared secret in its wire encoding.
pub(crate) fn derive_key(
    hash: KexHash,
    k: &[u8],
    h: &[u8],
    x: u8,
    session_id: &[u8],
    len: usize,
) -> Zeroizing<Vec<u8>> {
    let mut out = digest(hash, &[k, h, &[x], session_id]);
    while out.len() < len {
        let next = digest(hash, &[k, h, &out]);
        out.extend_from_slice(&next);
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::WireWrite;

    /// The extension rule of RFC 4253 §7.2; full vectors are in the transcript tests.
    #[test]
    fn kdf_extends_past_one_digest() {
        let mut k = Vec::new();
        k.put_mpint_positive(&[0x80; 32]);
        let h = [0x11u8; 32];
        let a = derive_key(KexHash::Sha256, &k, &h, b'C', &h, 64);
        let first = digest(KexHash::Sha256, &[&k, &h, b"C", &h]);
        let second = digest(KexHash::Sha256, &[&k, &h, &first]);
        assert_eq!(&a[..32], &first[..]);
        assert_eq!(&a[32..], &second[..]);
        assert_eq!(derive_key(KexHash::Sha1, &k, &h, b'A', &h, 16).len(), 16);
    }
}
