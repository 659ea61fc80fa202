//! `chacha20-poly1305@openssh.com` (OpenSSH PROTOCOL.chacha20poly1305).
//!
//! Not the RFC 8439 AEAD: the 64-byte key splits into K_2 (bytes 0..32, payload and
//! Poly1305 key) and K_1 (bytes 32..64, the 4-byte length only); the nonce is the sequence
//! number as a 64-bit big-endian value with the original (64-bit nonce) ChaCha20; the tag is
//! Poly1305 over the encrypted length and payload, without padding or lengths.

use chacha20::ChaCha20Legacy;
use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use poly1305::Poly1305;
use poly1305::universal_hash::KeyInit;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

#[derive(Zeroize, ZeroizeOnDrop)]
pub(crate) struct ChaChaPoly {
    /// K_2: payload encryption and Poly1305 key derivation.
    main: [u8; 32],
    /// K_1: length encryption.
    header: [u8; 32],
}

impl ChaChaPoly {
    pub(crate) fn new(key: &[u8]) -> Option<Self> {
        let main = key.get(..32)?.try_into().ok()?;
        let header = key.get(32..64)?.try_into().ok()?;
        Some(Self { main, header })
    }

    fn nonce(seq: u32) -> [u8; 8] {
        u64::from(seq).to_be_bytes()
    }

    fn poly_key(&self, seq: u32) -> [u8; 32] {
        let mut key = [0u8; 32];
        let mut c = ChaCha20Legacy::new(&self.main.into(), &Self::nonce(seq).into());
        c.apply_keystream(&mut key);
        key
    }

    /// Decrypts a copy of the 4-byte length field; the buffer stays encrypted because the tag
    /// covers the ciphertext.
    pub(crate) fn decrypt_length(&self, seq: u32, enc_len: [u8; 4]) -> u32 {
        let mut len = enc_len;
        let mut c = ChaCha20Legacy::new(&self.header.into(), &Self::nonce(seq).into());
        c.apply_keystream(&mut len);
        u32::from_be_bytes(len)
    }

    /// `packet` = length field ‖ body (plaintext); encrypts both in place and writes the tag.
    pub(crate) fn seal(&self, seq: u32, packet: &mut [u8], tag: &mut [u8]) {
        let (len, body) = packet.split_at_mut(4.min(packet.len()));
        ChaCha20Legacy::new(&self.header.into(), &Self::nonce(seq).into()).apply_keystream(len);
        let mut main = ChaCha20Legacy::new(&self.main.into(), &Self::nonce(seq).into());
        let mut poly_key = [0u8; 32];
        main.apply_keystream(&mut poly_key);
        main.seek(64u64);
        main.apply_keystream(body);
        let t = Poly1305::new(&poly_key.into()).compute_unpadded(packet);
        poly_key.zeroize();
        for (o, b) in tag.iter_mut().zip(t.iter()) {
            *o = *b;
        }
    }

    /// Verifies the tag over `packet` (encrypted length ‖ body) and decrypts the body in place.
    pub(crate) fn open(&self, seq: u32, packet: &mut [u8], tag: &[u8]) -> bool {
        let mut poly_key = self.poly_key(seq);
        let expected = Poly1305::new(&poly_key.into()).compute_unpadded(packet);
        poly_key.zeroize();
        if !bool::from(expected.as_slice().ct_eq(tag)) {
            return false;
        }
        if let Some(body) = packet.get_mut(4..) {
            let mut main = ChaCha20Legacy::new(&self.main.into(), &Self::nonce(seq).into());
            main.seek(64u64);
            main.apply_keystream(body);
        }
        true
    }
}
