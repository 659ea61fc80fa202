use super::{Algorithm, AlgorithmKind, TableEntry};

/// Key-exchange methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KexAlgorithm {
    /// `mlkem768x25519-sha256` (ML-KEM-768 + X25519 hybrid).
    MlKem768X25519Sha256,
    /// `sntrup761x25519-sha512` (Streamlined NTRU Prime + X25519 hybrid).
    Sntrup761X25519Sha512,
    /// `sntrup761x25519-sha512@openssh.com` (the same method under its older name).
    Sntrup761X25519Sha512OpenSsh,
    /// `curve25519-sha256` (RFC 8731).
    Curve25519Sha256,
    /// `curve25519-sha256@libssh.org` (the same method under its older name).
    Curve25519Sha256Libssh,
    /// `ecdh-sha2-nistp256` (RFC 5656).
    EcdhNistp256,
    /// `ecdh-sha2-nistp384`
    EcdhNistp384,
    /// `ecdh-sha2-nistp521`
    EcdhNistp521,
    /// `diffie-hellman-group-exchange-sha256` (RFC 4419).
    DhGexSha256,
    /// `diffie-hellman-group16-sha512` (RFC 8268, 4096-bit MODP).
    DhGroup16Sha512,
    /// `diffie-hellman-group18-sha512` (RFC 8268, 8192-bit MODP).
    DhGroup18Sha512,
    /// `diffie-hellman-group14-sha256` (RFC 8268, 2048-bit MODP).
    DhGroup14Sha256,
    /// `diffie-hellman-group14-sha1` (legacy).
    DhGroup14Sha1,
    /// `diffie-hellman-group1-sha1` (legacy, 1024-bit).
    DhGroup1Sha1,
    /// `diffie-hellman-group-exchange-sha1` (legacy).
    DhGexSha1,
}

/// Hash function of a key exchange (exchange hash and key derivation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KexHash {
    /// SHA-1
    Sha1,
    /// SHA-256
    Sha256,
    /// SHA-384
    Sha384,
    /// SHA-512
    Sha512,
}

impl KexHash {
    /// Digest length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }
}

const fn e(algorithm: KexAlgorithm, name: &'static str, default: bool) -> TableEntry<KexAlgorithm> {
    TableEntry { algorithm, name, default }
}

// OpenSSH 10's default order: post-quantum hybrids first.
const TABLE: &[TableEntry<KexAlgorithm>] = &[
    e(KexAlgorithm::MlKem768X25519Sha256, "mlkem768x25519-sha256", true),
    #[cfg(all(feature = "sntrup761", not(windows)))]
    e(KexAlgorithm::Sntrup761X25519Sha512, "sntrup761x25519-sha512", true),
    #[cfg(all(feature = "sntrup761", not(windows)))]
    e(KexAlgorithm::Sntrup761X25519Sha512OpenSsh, "sntrup761x25519-sha512@openssh.com", true),
    e(KexAlgorithm::Curve25519Sha256, "curve25519-sha256", true),
    e(KexAlgorithm::Curve25519Sha256Libssh, "curve25519-sha256@libssh.org", true),
    e(KexAlgorithm::EcdhNistp256, "ecdh-sha2-nistp256", true),
    e(KexAlgorithm::EcdhNistp384, "ecdh-sha2-nistp384", true),
    e(KexAlgorithm::EcdhNistp521, "ecdh-sha2-nistp521", true),
    e(KexAlgorithm::DhGexSha256, "diffie-hellman-group-exchange-sha256", true),
    e(KexAlgorithm::DhGroup16Sha512, "diffie-hellman-group16-sha512", true),
    e(KexAlgorithm::DhGroup18Sha512, "diffie-hellman-group18-sha512", true),
    e(KexAlgorithm::DhGroup14Sha256, "diffie-hellman-group14-sha256", true),
    e(KexAlgorithm::DhGroup14Sha1, "diffie-hellman-group14-sha1", false),
    e(KexAlgorithm::DhGroup1Sha1, "diffie-hellman-group1-sha1", false),
    e(KexAlgorithm::DhGexSha1, "diffie-hellman-group-exchange-sha1", false),
];

impl Algorithm for KexAlgorithm {
    const KIND: AlgorithmKind = AlgorithmKind::Kex;
    fn table() -> &'static [TableEntry<Self>] {
        TABLE
    }
    fn name(self) -> &'static str {
        match self {
            Self::MlKem768X25519Sha256 => "mlkem768x25519-sha256",
            Self::Sntrup761X25519Sha512 => "sntrup761x25519-sha512",
            Self::Sntrup761X25519Sha512OpenSsh => "sntrup761x25519-sha512@openssh.com",
            Self::Curve25519Sha256 => "curve25519-sha256",
            Self::Curve25519Sha256Libssh => "curve25519-sha256@libssh.org",
            Self::EcdhNistp256 => "ecdh-sha2-nistp256",
            Self::EcdhNistp384 => "ecdh-sha2-nistp384",
            Self::EcdhNistp521 => "ecdh-sha2-nistp521",
            Self::DhGexSha256 => "diffie-hellman-group-exchange-sha256",
            Self::DhGroup16Sha512 => "diffie-hellman-group16-sha512",
            Self::DhGroup18Sha512 => "diffie-hellman-group18-sha512",
            Self::DhGroup14Sha256 => "diffie-hellman-group14-sha256",
            Self::DhGroup14Sha1 => "diffie-hellman-group14-sha1",
            Self::DhGroup1Sha1 => "diffie-hellman-group1-sha1",
            Self::DhGexSha1 => "diffie-hellman-group-exchange-sha1",
        }
    }
}

impl KexAlgorithm {
    /// The hash used for the exchange hash and key derivation.
    pub fn hash(self) -> KexHash {
        match self {
            Self::DhGroup14Sha1 | Self::DhGroup1Sha1 | Self::DhGexSha1 => KexHash::Sha1,
            Self::MlKem768X25519Sha256
            | Self::Curve25519Sha256
            | Self::Curve25519Sha256Libssh
            | Self::EcdhNistp256
            | Self::DhGexSha256
            | Self::DhGroup14Sha256 => KexHash::Sha256,
            Self::EcdhNistp384 => KexHash::Sha384,
            Self::Sntrup761X25519Sha512
            | Self::Sntrup761X25519Sha512OpenSsh
            | Self::EcdhNistp521
            | Self::DhGroup16Sha512
            | Self::DhGroup18Sha512 => KexHash::Sha512,
        }
    }

    /// Whether this is a Diffie-Hellman group exchange (RFC 4419).
    pub fn is_group_exchange(self) -> bool {
        matches!(self, Self::DhGexSha256 | Self::DhGexSha1)
    }

    /// Whether the shared secret is encoded as a `string` rather than an `mpint`
    /// (the post-quantum hybrids).
    pub fn secret_is_string(self) -> bool {
        matches!(self, Self::MlKem768X25519Sha256 | Self::Sntrup761X25519Sha512 | Self::Sntrup761X25519Sha512OpenSsh)
    }

    /// Whether the public values are `mpint`s (finite-field DH) rather than `string`s.
    pub fn public_is_mpint(self) -> bool {
        matches!(
            self,
            Self::DhGexSha256
                | Self::DhGroup16Sha512
                | Self::DhGroup18Sha512
                | Self::DhGroup14Sha256
                | Self::DhGroup14Sha1
                | Self::DhGroup1Sha1
                | Self::DhGexSha1
        )
    }
}
