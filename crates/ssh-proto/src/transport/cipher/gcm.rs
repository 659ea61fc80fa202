//! `aes128-gcm@openssh.com` and `aes256-gcm@openssh.com` (RFC 5647 as amended by OpenSSH:
//! the negotiated MAC is ignored, the length field is the AAD).

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes128Gcm, Aes256Gcm, KeyInit, Nonce, Tag};

pub(crate) enum GcmKey {
    Aes128(Box<Aes128Gcm>),
    Aes256(Box<Aes256Gcm>),
}

pub(crate) struct Gcm {
    key: GcmKey,
    /// 4-byte fixed field ‖ 8-byte invocation counter, incremented per packet.
    nonce: [u8; 12],
}

impl Gcm {
    pub(crate) fn new(key: &[u8], iv: &[u8], aes256: bool) -> Option<Self> {
        let key = if aes256 {
            GcmKey::Aes256(Box::new(Aes256Gcm::new_from_slice(key).ok()?))
        } else {
            GcmKey::Aes128(Box::new(Aes128Gcm::new_from_slice(key).ok()?))
        };
        Some(Self { key, nonce: iv.get(..12)?.try_into().ok()? })
    }

    fn advance(&mut self) {
        let mut counter = [0u8; 8];
        counter.copy_from_slice(&self.nonce[4..]);
        let next = u64::from_be_bytes(counter).wrapping_add(1);
        self.nonce[4..].copy_from_slice(&next.to_be_bytes());
    }

    /// `packet` = length field (AAD) ‖ body; encrypts the body and writes the tag.
    pub(crate) fn seal(&mut self, packet: &mut [u8], tag_out: &mut [u8]) {
        let (aad, body) = packet.split_at_mut(4.min(packet.len()));
        let nonce = Nonce::from(self.nonce);
        let tag = match &self.key {
            GcmKey::Aes128(k) => k.encrypt_inout_detached(&nonce, aad, body.into()),
            GcmKey::Aes256(k) => k.encrypt_inout_detached(&nonce, aad, body.into()),
        };
        if let Ok(tag) = tag {
            for (o, t) in tag_out.iter_mut().zip(tag.iter()) {
                *o = *t;
            }
        }
        self.advance();
    }

    /// Verifies and decrypts the body in place.
    pub(crate) fn open(&mut self, packet: &mut [u8], tag: &[u8]) -> bool {
        let Ok(tag) = <&[u8; 16]>::try_from(tag) else { return false };
        let tag = Tag::from(*tag);
        let (aad, body) = packet.split_at_mut(4.min(packet.len()));
        let nonce = Nonce::from(self.nonce);
        let ok = match &self.key {
            GcmKey::Aes128(k) => k.decrypt_inout_detached(&nonce, aad, body.into(), &tag),
            GcmKey::Aes256(k) => k.decrypt_inout_detached(&nonce, aad, body.into(), &tag),
        }
        .is_ok();
        self.advance();
        ok
    }
}
