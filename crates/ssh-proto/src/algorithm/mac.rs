use super::{Algorithm, AlgorithmKind, TableEntry};

/// MAC algorithms (RFC 4253 §6.4, RFC 6668, OpenSSH's `-etm@openssh.com` forms).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mac {
    /// `hmac-sha2-256-etm@openssh.com`
    HmacSha256Etm,
    /// `hmac-sha2-512-etm@openssh.com`
    HmacSha512Etm,
    /// `hmac-sha1-etm@openssh.com`
    HmacSha1Etm,
    /// `hmac-sha2-256`
    HmacSha256,
    /// `hmac-sha2-512`
    HmacSha512,
    /// `hmac-sha1`
    HmacSha1,
    /// `none`: no MAC. Only resolvable by name with the `fuzzing` feature.
    None,
}

#[cfg(not(feature = "fuzzing"))]
const TABLE: &[TableEntry<Mac>] = &BASE;
#[cfg(feature = "fuzzing")]
const TABLE: &[TableEntry<Mac>] = &[
    BASE[0],
    BASE[1],
    BASE[2],
    BASE[3],
    BASE[4],
    BASE[5],
    TableEntry { algorithm: Mac::None, name: "none", default: false },
];

const BASE: [TableEntry<Mac>; 6] = [
    TableEntry { algorithm: Mac::HmacSha256Etm, name: "hmac-sha2-256-etm@openssh.com", default: true },
    TableEntry { algorithm: Mac::HmacSha512Etm, name: "hmac-sha2-512-etm@openssh.com", default: true },
    TableEntry { algorithm: Mac::HmacSha1Etm, name: "hmac-sha1-etm@openssh.com", default: true },
    TableEntry { algorithm: Mac::HmacSha256, name: "hmac-sha2-256", default: true },
    TableEntry { algorithm: Mac::HmacSha512, name: "hmac-sha2-512", default: true },
    TableEntry { algorithm: Mac::HmacSha1, name: "hmac-sha1", default: true },
];

impl Algorithm for Mac {
    const KIND: AlgorithmKind = AlgorithmKind::Mac;
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

impl Mac {
    /// Key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            Self::HmacSha1 | Self::HmacSha1Etm => 20,
            Self::HmacSha256 | Self::HmacSha256Etm => 32,
            Self::HmacSha512 | Self::HmacSha512Etm => 64,
            Self::None => 0,
        }
    }

    /// Tag length in bytes.
    pub fn tag_len(self) -> usize {
        self.key_len()
    }

    /// Whether the MAC is computed over the ciphertext (encrypt-then-MAC).
    pub fn is_etm(self) -> bool {
        matches!(self, Self::HmacSha256Etm | Self::HmacSha512Etm | Self::HmacSha1Etm)
    }
}
