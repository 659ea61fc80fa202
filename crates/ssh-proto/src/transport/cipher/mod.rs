//! Per-direction packet protection: encryption plus MAC or AEAD tag, applied in place.
//!
//! The framing in [`super::packet`] calls four operations: how many bytes reveal the
//! length, read the length, and seal / open a whole packet. Everything runs on the caller's
//! buffer; nothing here allocates per packet.

mod block;
mod chacha;
mod gcm;
mod mac;

use zeroize::Zeroizing;

use crate::algorithm::{Cipher, Mac};
use block::BlockState;
use chacha::ChaChaPoly;
use gcm::Gcm;
use mac::MacState;

/// Key material for one direction, as derived by the key exchange.
pub(crate) struct DirectionKeys {
    pub(crate) cipher: Cipher,
    /// `None` for AEAD ciphers.
    pub(crate) mac: Option<Mac>,
    pub(crate) iv: Zeroizing<Vec<u8>>,
    pub(crate) key: Zeroizing<Vec<u8>>,
    pub(crate) mac_key: Zeroizing<Vec<u8>>,
}

/// The protection state of one direction. Not boxed per variant: it is touched for
/// every packet, and there are only two per connection.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Protection {
    /// Before the first NEWKEYS: no encryption, no MAC.
    Plain,
    ChaCha(Box<ChaChaPoly>),
    Gcm(Gcm),
    Block {
        state: BlockState,
        mac: MacState,
        etm: bool,
        block_size: usize,
    },
}

impl Protection {
    /// Builds the state for one direction; `encrypt` is true for the sending side.
    pub(crate) fn new(keys: &DirectionKeys, encrypt: bool) -> Option<Self> {
        Some(match keys.cipher {
            Cipher::ChaCha20Poly1305 => Self::ChaCha(Box::new(ChaChaPoly::new(&keys.key)?)),
            Cipher::Aes128Gcm => Self::Gcm(Gcm::new(&keys.key, &keys.iv, false)?),
            Cipher::Aes256Gcm => Self::Gcm(Gcm::new(&keys.key, &keys.iv, true)?),
            c => {
                let mac = keys.mac?;
                Self::Block {
                    state: BlockState::new(c, &keys.key, &keys.iv, encrypt)?,
                    mac: MacState::new(mac, &keys.mac_key),
                    etm: mac.is_etm(),
                    block_size: c.block_size(),
                }
            }
        })
    }

    /// Padding granularity (RFC 4253 §6: the cipher block size, at least 8).
    pub(crate) fn block_size(&self) -> usize {
        match self {
            Self::Plain | Self::ChaCha(_) => 8,
            Self::Gcm(_) => 16,
            Self::Block { block_size, .. } => *block_size,
        }
    }

    /// Whether the 4-byte length field is outside the padded region (AEAD and EtM modes).
    pub(crate) fn length_outside_padding(&self) -> bool {
        match self {
            Self::Plain => false,
            Self::ChaCha(_) | Self::Gcm(_) => true,
            Self::Block { etm, .. } => *etm,
        }
    }

    /// Bytes after the packet: the MAC or tag.
    pub(crate) fn tag_len(&self) -> usize {
        match self {
            Self::Plain => 0,
            Self::ChaCha(_) | Self::Gcm(_) => 16,
            Self::Block { mac, .. } => mac.tag_len(),
        }
    }

    /// How many leading bytes must be present before [`Self::read_length`] can run.
    pub(crate) fn length_prefix_len(&self) -> usize {
        match self {
            Self::Block { etm: false, block_size, state, .. } if !matches!(state, BlockState::Null) => *block_size,
            _ => 4,
        }
    }

    /// Reads `packet_length` from the first [`Self::length_prefix_len`] bytes. In
    /// encrypt-and-MAC modes this decrypts those bytes in place (exactly once per packet).
    pub(crate) fn read_length(&mut self, seq: u32, head: &mut [u8]) -> u32 {
        let mut len = [0u8; 4];
        match self {
            Self::ChaCha(c) => {
                if let Some(h) = head.get(..4) {
                    len.copy_from_slice(h);
                }
                return c.decrypt_length(seq, len);
            }
            Self::Block { etm: false, state, .. } => state.apply(head),
            Self::Plain | Self::Gcm(_) | Self::Block { .. } => {}
        }
        if let Some(h) = head.get(..4) {
            len.copy_from_slice(h);
        }
        u32::from_be_bytes(len)
    }

    /// Encrypts `packet` (length ‖ padding length ‖ payload ‖ padding, already padded) in
    /// place and writes the MAC / tag into `tag`.
    pub(crate) fn seal(&mut self, seq: u32, packet: &mut [u8], tag: &mut [u8]) {
        match self {
            Self::Plain => {}
            Self::ChaCha(c) => c.seal(seq, packet, tag),
            Self::Gcm(g) => g.seal(packet, tag),
            Self::Block { state, mac, etm: true, .. } => {
                if let Some(body) = packet.get_mut(4..) {
                    state.apply(body);
                }
                mac.compute(seq, packet, tag);
            }
            Self::Block { state, mac, etm: false, .. } => {
                mac.compute(seq, packet, tag);
                state.apply(packet);
            }
        }
    }

    /// Authenticates and decrypts `packet` in place; `prefix` bytes at its start were already
    /// handled by [`Self::read_length`]. Returns false on a MAC / tag mismatch.
    pub(crate) fn open(&mut self, seq: u32, packet: &mut [u8], prefix: usize, tag: &[u8]) -> bool {
        match self {
            Self::Plain => true,
            Self::ChaCha(c) => c.open(seq, packet, tag),
            Self::Gcm(g) => g.open(packet, tag),
            Self::Block { state, mac, etm: true, .. } => {
                if !mac.verify(seq, packet, tag) {
                    return false;
                }
                if let Some(body) = packet.get_mut(4..) {
                    state.apply(body);
                }
                true
            }
            Self::Block { state, mac, etm: false, .. } => {
                let already = if matches!(state, BlockState::Null) { 0 } else { prefix };
                if let Some(rest) = packet.get_mut(already..) {
                    state.apply(rest);
                }
                mac.verify(seq, packet, tag)
            }
        }
    }
}

#[cfg(test)]
mod tests;
