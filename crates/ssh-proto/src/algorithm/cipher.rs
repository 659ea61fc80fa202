use super::{Algorithm, AlgorithmKind, TableEntry};

/// Encryption algorithms (RFC 4253 §6.3, RFC 4344, OpenSSH PROTOCOL.chacha20poly1305 and
/// PROTOCOL's AES-GCM section).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Cipher {
    /// `aes128-gcm@openssh.com`
    Aes128Gcm,
    /// `aes256-gcm@openssh.com`
    Aes256Gcm,
    /// `chacha20-poly1305@openssh.com`
    ChaCha20Poly1305,
    /// `aes128-ctr`
    Aes128Ctr,
    /// `aes192-ctr`
    Aes192Ctr,
    /// `aes256-ctr`
    Aes256Ctr,
    /// `aes128-cbc` (legacy)
    Aes128Cbc,
    /// `aes192-cbc` (legacy)
    Aes192Cbc,
    /// `aes256-cbc` (legacy)
    Aes256Cbc,
    /// `3des-cbc` (legacy)
    TripleDesCbc,
    /// `none`: no encryption. Only resolvable by name with the `fuzzing` feature.
    None,
}

#[cfg(not(feature = "fuzzing"))]
const TABLE: &[TableEntry<Cipher>] = &BASE;
#[cfg(feature = "fuzzing")]
const TABLE: &[TableEntry<Cipher>] = &[
    BASE[0],
    BASE[1],
    BASE[2],
    BASE[3],
    BASE[4],
    BASE[5],
    BASE[6],
    BASE[7],
    BASE[8],
    BASE[9],
    TableEntry { algorithm: Cipher::None, name: "none", default: false },
];

const BASE: [TableEntry<Cipher>; 10] = [
    // AES-GCM first: with AES-NI it is ~4x faster than chacha20-poly1305 here (CRYPTO.md §4).
    TableEntry { algorithm: Cipher::Aes128Gcm, name: "aes128-gcm@openssh.com", default: true },
    TableEntry { algorithm: Cipher::Aes256Gcm, name: "aes256-gcm@openssh.com", default: true },
    TableEntry { algorithm: Cipher::ChaCha20Poly1305, name: "chacha20-poly1305@openssh.com", default: true },
    TableEntry { algorithm: Cipher::Aes128Ctr, name: "aes128-ctr", default: true },
    TableEntry { algorithm: Cipher::Aes192Ctr, name: "aes192-ctr", default: true },
    TableEntry { algorithm: Cipher::Aes256Ctr, name: "aes256-ctr", default: true },
    TableEntry { algorithm: Cipher::Aes128Cbc, name: "aes128-cbc", default: false },
    TableEntry { algorithm: Cipher::Aes192Cbc, name: "aes192-cbc", default: false },
    TableEntry { algorithm: Cipher::Aes256Cbc, name: "aes256-cbc", default: false },
    TableEntry { algorithm: Cipher::TripleDesCbc, name: "3des-cbc", default: false },
];

impl Algorithm for Cipher {
    const KIND: AlgorithmKind = AlgorithmKind::Cipher;
    fn table() -> &'static [TableEntry<Self>] {
        TABLE
    }
    fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            other => BASE.iter().find(|e| e.algorithm == other).map_or("", |e| e.name),
        }
    }
}

impl Cipher {
    /// Key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            Self::Aes128Gcm | Self::Aes128Ctr | Self::Aes128Cbc => 16,
            Self::Aes192Ctr | Self::Aes192Cbc | Self::TripleDesCbc => 24,
            Self::Aes256Gcm | Self::Aes256Ctr | Self::Aes256Cbc => 32,
            Self::ChaCha20Poly1305 => 64,
            Self::None => 0,
        }
    }

    /// IV (or GCM fixed nonce) length in bytes.
    pub fn iv_len(self) -> usize {
        match self {
            Self::Aes128Gcm | Self::Aes256Gcm => 12,
            Self::Aes128Ctr
            | Self::Aes192Ctr
            | Self::Aes256Ctr
            | Self::Aes128Cbc
            | Self::Aes192Cbc
            | Self::Aes256Cbc => 16,
            Self::TripleDesCbc => 8,
            Self::ChaCha20Poly1305 | Self::None => 0,
        }
    }

    /// Cipher block size in bytes, used for padding (at least 8, RFC 4253 §6).
    pub fn block_size(self) -> usize {
        match self {
            Self::TripleDesCbc | Self::ChaCha20Poly1305 | Self::None => 8,
            _ => 16,
        }
    }

    /// Whether the cipher authenticates by itself (the negotiated MAC is then unused).
    pub fn is_aead(self) -> bool {
        matches!(self, Self::Aes128Gcm | Self::Aes256Gcm | Self::ChaCha20Poly1305)
    }

    /// Authentication tag length for AEAD ciphers.
    pub fn tag_len(self) -> usize {
        if self.is_aead() { 16 } else { 0 }
    }
}
