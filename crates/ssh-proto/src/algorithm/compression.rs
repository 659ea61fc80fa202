use super::{Algorithm, AlgorithmKind, TableEntry};

/// Compression methods (RFC 4253 §6.2, OpenSSH's delayed `zlib@openssh.com`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Compression {
    /// `none`
    None,
    /// `zlib@openssh.com`: zlib, switched on only after user authentication succeeds.
    ZlibOpenSsh,
    /// `zlib`: zlib from the first encrypted packet.
    Zlib,
}

const TABLE: &[TableEntry<Compression>] = &[
    TableEntry { algorithm: Compression::None, name: "none", default: true },
    TableEntry { algorithm: Compression::ZlibOpenSsh, name: "zlib@openssh.com", default: true },
    TableEntry { algorithm: Compression::Zlib, name: "zlib", default: true },
];

impl Algorithm for Compression {
    const KIND: AlgorithmKind = AlgorithmKind::Compression;
    fn table() -> &'static [TableEntry<Self>] {
        TABLE
    }
}
