//! Finite-field Diffie-Hellman (RFC 4253 §8, RFC 8268, RFC 4419) over crypto-bigint's
//! constant-time `BoxedUint`, with OpenSSH-style short exponents.

use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, Odd};
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::groups;
use crate::algorithm::KexAlgorithm;
use crate::error::KexError;

/// A prime-field group: safe prime `p` and generator `g`.
#[derive(Clone, Debug)]
pub(crate) struct DhGroup {
    params: BoxedMontyParams,
    p: BoxedUint,
    p_minus_1: BoxedUint,
    g: BoxedUint,
    precision: u32,
    bits: u32,
    p_bytes: Vec<u8>,
    g_bytes: Vec<u8>,
}

fn strip(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    b.get(start..).unwrap_or_default()
}

impl DhGroup {
    /// A group from big-endian magnitudes; `p` must be odd and `1 < g < p - 1`.
    pub(crate) fn new(p: &[u8], g: &[u8]) -> Result<Self, KexError> {
        let p = strip(p);
        let g = strip(g);
        let bad = |why: &str| KexError::BadGroup(why.to_owned());
        if p.is_empty() || p.len() > 16 * 1024 / 8 + 1 {
            return Err(bad("modulus size"));
        }
        let precision = (p.len() as u32 * 8).div_ceil(64) * 64;
        let pn = BoxedUint::from_be_slice(p, precision).map_err(|_| bad("modulus encoding"))?;
        let gn = BoxedUint::from_be_slice(g, precision).map_err(|_| bad("generator too large"))?;
        let odd = Option::<Odd<BoxedUint>>::from(Odd::new(pn.clone())).ok_or_else(|| bad("even modulus"))?;
        let one = BoxedUint::one_with_precision(precision);
        let p_minus_1 = pn.wrapping_sub(&one);
        if gn <= one || gn >= p_minus_1 {
            return Err(bad("generator out of range"));
        }
        let bits = pn.bit_width();
        Ok(Self {
            params: BoxedMontyParams::new_vartime(odd),
            p: pn,
            p_minus_1,
            g: gn,
            precision,
            bits,
            p_bytes: p.to_vec(),
            g_bytes: g.to_vec(),
        })
    }

    /// The fixed group of a `diffie-hellman-groupN-*` method.
    pub(crate) fn fixed(alg: KexAlgorithm) -> Option<Self> {
        let p: &[u8] = match alg {
            KexAlgorithm::DhGroup1Sha1 => &groups::OAKLEY_GROUP_2,
            KexAlgorithm::DhGroup14Sha1 | KexAlgorithm::DhGroup14Sha256 => &groups::MODP_2048,
            KexAlgorithm::DhGroup16Sha512 => &groups::MODP_4096,
            KexAlgorithm::DhGroup18Sha512 => &groups::MODP_8192,
            _ => return None,
        };
        Self::new(p, &[2]).ok()
    }

    /// Size of `p` in bits.
    pub(crate) fn bits(&self) -> u32 {
        self.bits
    }

    pub(crate) fn p_bytes(&self) -> &[u8] {
        &self.p_bytes
    }

    pub(crate) fn g_bytes(&self) -> &[u8] {
        &self.g_bytes
    }

    /// A private exponent of `exp_bits` bits (at least 2, below `p`) and the public value
    /// `g^x mod p` as a big-endian magnitude.
    pub(crate) fn generate(&self, exp_bits: u32, rng: &mut dyn CryptoRng) -> (Zeroizing<BoxedUint>, Vec<u8>) {
        let exp_bits = exp_bits.clamp(64, self.bits.saturating_sub(1).max(64));
        let nbytes = exp_bits.div_ceil(8) as usize;
        let mut raw = Zeroizing::new(vec![0u8; nbytes]);
        loop {
            rng.fill_bytes(&mut raw);
            let excess = nbytes as u32 * 8 - exp_bits;
            if let Some(top) = raw.first_mut() {
                *top &= 0xff >> excess;
            }
            let Ok(x) = BoxedUint::from_be_slice(&raw, self.precision) else { continue };
            let x = Zeroizing::new(x);
            if x.bit_width() < 2 {
                continue;
            }
            let e = self.modpow(&self.g, &x, exp_bits);
            return (x, strip(&e.to_be_bytes()).to_vec());
        }
    }

    fn modpow(&self, base: &BoxedUint, exp: &BoxedUint, exp_bits: u32) -> BoxedUint {
        BoxedMontyForm::new(base.clone(), &self.params).pow_bounded_exp(exp, exp_bits).retrieve()
    }

    /// Validates the peer's public value (`1 < f < p - 1` and more than one bit set, as
    /// OpenSSH's `dh_pub_is_valid`) and returns the shared secret magnitude `f^x mod p`.
    pub(crate) fn shared(&self, x: &BoxedUint, exp_bits: u32, peer: &[u8]) -> Result<Zeroizing<Vec<u8>>, KexError> {
        let peer = strip(peer);
        if peer.len() > self.p_bytes.len() {
            return Err(KexError::InvalidPublicValue);
        }
        let f = BoxedUint::from_be_slice(peer, self.precision).map_err(|_| KexError::InvalidPublicValue)?;
        let ones: u32 = peer.iter().map(|b| b.count_ones()).sum();
        if f <= BoxedUint::one_with_precision(self.precision) || f >= self.p_minus_1 || ones < 2 || f >= self.p {
            return Err(KexError::InvalidPublicValue);
        }
        let exp_bits = exp_bits.clamp(64, self.bits.saturating_sub(1).max(64));
        let k = Zeroizing::new(self.modpow(&f, x, exp_bits));
        let bytes = Zeroizing::new(k.to_be_bytes().to_vec());
        Ok(Zeroizing::new(strip(&bytes).to_vec()))
    }
}

/// OpenSSH's `dh_estimate`: the group size matching a symmetric security level.
pub(crate) fn estimate_group_bits(security_bits: u32) -> u32 {
    match security_bits {
        0..=112 => 2048,
        113..=128 => 3072,
        129..=192 => 7680,
        _ => 8192,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SeededRng;

    #[test]
    fn fixed_groups_agree() {
        let mut rng = SeededRng::new(1);
        for alg in [KexAlgorithm::DhGroup1Sha1, KexAlgorithm::DhGroup14Sha256, KexAlgorithm::DhGroup16Sha512] {
            let g = DhGroup::fixed(alg).unwrap();
            let (x, e) = g.generate(512, &mut rng);
            let (y, f) = g.generate(512, &mut rng);
            assert_eq!(*g.shared(&x, 512, &f).unwrap(), *g.shared(&y, 512, &e).unwrap());
        }
    }

    #[test]
    fn weak_public_values_are_rejected() {
        let g = DhGroup::fixed(KexAlgorithm::DhGroup14Sha256).unwrap();
        let mut rng = SeededRng::new(2);
        let (x, _) = g.generate(512, &mut rng);
        let p = g.p_bytes().to_vec();
        let mut p_minus_1 = p.clone();
        *p_minus_1.last_mut().unwrap() -= 1;
        for bad in [vec![], vec![1], vec![2], vec![4], p_minus_1, p.clone(), [vec![1], p].concat()] {
            assert_eq!(g.shared(&x, 512, &bad), Err(KexError::InvalidPublicValue), "{bad:02x?}");
        }
    }

    #[test]
    fn bad_groups_are_rejected() {
        assert!(DhGroup::new(&[0x10, 0], &[2]).is_err());
        assert!(DhGroup::new(&groups::MODP_2048, &[1]).is_err());
        assert!(DhGroup::new(&groups::MODP_2048, &[]).is_err());
    }
}
