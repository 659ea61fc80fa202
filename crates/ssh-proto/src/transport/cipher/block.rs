//! Stream and block modes for the non-AEAD ciphers: AES-CTR (RFC 4344) and the legacy CBC
//! modes. One keystream / chaining state per direction, carried across packets.

use aes::{Aes128, Aes192, Aes256};
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit, StreamCipher, array::Array};
use des::TdesEde3;

use crate::algorithm::Cipher;

type Ctr<C> = ctr::Ctr128BE<C>;

pub(crate) enum BlockState {
    Ctr128(Box<Ctr<Aes128>>),
    Ctr192(Box<Ctr<Aes192>>),
    Ctr256(Box<Ctr<Aes256>>),
    Cbc128Enc(Box<cbc::Encryptor<Aes128>>),
    Cbc192Enc(Box<cbc::Encryptor<Aes192>>),
    Cbc256Enc(Box<cbc::Encryptor<Aes256>>),
    TdesEnc(Box<cbc::Encryptor<TdesEde3>>),
    Cbc128Dec(Box<cbc::Decryptor<Aes128>>),
    Cbc192Dec(Box<cbc::Decryptor<Aes192>>),
    Cbc256Dec(Box<cbc::Decryptor<Aes256>>),
    TdesDec(Box<cbc::Decryptor<TdesEde3>>),
    /// `none` (fuzzing builds only).
    Null,
}

fn init<T: KeyIvInit>(key: &[u8], iv: &[u8]) -> Option<Box<T>> {
    T::new_from_slices(key, iv).ok().map(Box::new)
}

impl BlockState {
    /// `encrypt` selects the direction for CBC (CTR is symmetric).
    pub(crate) fn new(cipher: Cipher, key: &[u8], iv: &[u8], encrypt: bool) -> Option<Self> {
        Some(match (cipher, encrypt) {
            (Cipher::Aes128Ctr, _) => Self::Ctr128(init(key, iv)?),
            (Cipher::Aes192Ctr, _) => Self::Ctr192(init(key, iv)?),
            (Cipher::Aes256Ctr, _) => Self::Ctr256(init(key, iv)?),
            (Cipher::Aes128Cbc, true) => Self::Cbc128Enc(init(key, iv)?),
            (Cipher::Aes192Cbc, true) => Self::Cbc192Enc(init(key, iv)?),
            (Cipher::Aes256Cbc, true) => Self::Cbc256Enc(init(key, iv)?),
            (Cipher::TripleDesCbc, true) => Self::TdesEnc(init(key, iv)?),
            (Cipher::Aes128Cbc, false) => Self::Cbc128Dec(init(key, iv)?),
            (Cipher::Aes192Cbc, false) => Self::Cbc192Dec(init(key, iv)?),
            (Cipher::Aes256Cbc, false) => Self::Cbc256Dec(init(key, iv)?),
            (Cipher::TripleDesCbc, false) => Self::TdesDec(init(key, iv)?),
            (Cipher::None, _) => Self::Null,
            (Cipher::Aes128Gcm | Cipher::Aes256Gcm | Cipher::ChaCha20Poly1305, _) => return None,
        })
    }

    /// Transforms `data` in place. `data.len()` is a multiple of the block size (the framing
    /// guarantees it); CBC ignores a trailing partial block, which cannot occur.
    pub(crate) fn apply(&mut self, data: &mut [u8]) {
        fn enc<M: BlockModeEncrypt>(m: &mut M, data: &mut [u8]) {
            let (blocks, _) = Array::slice_as_chunks_mut(data);
            m.encrypt_blocks(blocks);
        }
        fn dec<M: BlockModeDecrypt>(m: &mut M, data: &mut [u8]) {
            let (blocks, _) = Array::slice_as_chunks_mut(data);
            m.decrypt_blocks(blocks);
        }
        match self {
            Self::Ctr128(c) => c.apply_keystream(data),
            Self::Ctr192(c) => c.apply_keystream(data),
            Self::Ctr256(c) => c.apply_keystream(data),
            Self::Cbc128Enc(c) => enc(&mut **c, data),
            Self::Cbc192Enc(c) => enc(&mut **c, data),
            Self::Cbc256Enc(c) => enc(&mut **c, data),
            Self::TdesEnc(c) => enc(&mut **c, data),
            Self::Cbc128Dec(c) => dec(&mut **c, data),
            Self::Cbc192Dec(c) => dec(&mut **c, data),
            Self::Cbc256Dec(c) => dec(&mut **c, data),
            Self::TdesDec(c) => dec(&mut **c, data),
            Self::Null => {}
        }
    }
}
