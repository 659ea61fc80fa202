use super::{Algorithm, AlgorithmKind, TableEntry};

/// Host key (signature) algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HostKeyAlgorithm {
    /// `ssh-ed25519-cert-v01@openssh.com`
    Ed25519Cert,
    /// `ecdsa-sha2-nistp256-cert-v01@openssh.com`
    EcdsaNistp256Cert,
    /// `ecdsa-sha2-nistp384-cert-v01@openssh.com`
    EcdsaNistp384Cert,
    /// `ecdsa-sha2-nistp521-cert-v01@openssh.com`
    EcdsaNistp521Cert,
    /// `rsa-sha2-512-cert-v01@openssh.com`
    RsaSha512Cert,
    /// `rsa-sha2-256-cert-v01@openssh.com`
    RsaSha256Cert,
    /// `ssh-ed25519`
    Ed25519,
    /// `ecdsa-sha2-nistp256`
    EcdsaNistp256,
    /// `ecdsa-sha2-nistp384`
    EcdsaNistp384,
    /// `ecdsa-sha2-nistp521`
    EcdsaNistp521,
    /// `rsa-sha2-512` (RFC 8332)
    RsaSha512,
    /// `rsa-sha2-256` (RFC 8332)
    RsaSha256,
    /// `ssh-rsa` (SHA-1 signatures; legacy)
    SshRsa,
    /// `ssh-rsa-cert-v01@openssh.com` (legacy)
    SshRsaCert,
    /// `ssh-dss` (legacy; `dss` feature)
    SshDss,
    /// `ssh-dss-cert-v01@openssh.com` (legacy; `dss` feature)
    SshDssCert,
}

const fn e(algorithm: HostKeyAlgorithm, name: &'static str, default: bool) -> TableEntry<HostKeyAlgorithm> {
    TableEntry { algorithm, name, default }
}

const TABLE: &[TableEntry<HostKeyAlgorithm>] = &[
    e(HostKeyAlgorithm::Ed25519Cert, "ssh-ed25519-cert-v01@openssh.com", true),
    e(HostKeyAlgorithm::EcdsaNistp256Cert, "ecdsa-sha2-nistp256-cert-v01@openssh.com", true),
    e(HostKeyAlgorithm::EcdsaNistp384Cert, "ecdsa-sha2-nistp384-cert-v01@openssh.com", true),
    e(HostKeyAlgorithm::EcdsaNistp521Cert, "ecdsa-sha2-nistp521-cert-v01@openssh.com", true),
    e(HostKeyAlgorithm::RsaSha512Cert, "rsa-sha2-512-cert-v01@openssh.com", true),
    e(HostKeyAlgorithm::RsaSha256Cert, "rsa-sha2-256-cert-v01@openssh.com", true),
    e(HostKeyAlgorithm::Ed25519, "ssh-ed25519", true),
    e(HostKeyAlgorithm::EcdsaNistp256, "ecdsa-sha2-nistp256", true),
    e(HostKeyAlgorithm::EcdsaNistp384, "ecdsa-sha2-nistp384", true),
    e(HostKeyAlgorithm::EcdsaNistp521, "ecdsa-sha2-nistp521", true),
    e(HostKeyAlgorithm::RsaSha512, "rsa-sha2-512", true),
    e(HostKeyAlgorithm::RsaSha256, "rsa-sha2-256", true),
    e(HostKeyAlgorithm::SshRsa, "ssh-rsa", false),
    e(HostKeyAlgorithm::SshRsaCert, "ssh-rsa-cert-v01@openssh.com", false),
    #[cfg(feature = "dss")]
    e(HostKeyAlgorithm::SshDss, "ssh-dss", false),
    #[cfg(feature = "dss")]
    e(HostKeyAlgorithm::SshDssCert, "ssh-dss-cert-v01@openssh.com", false),
];

impl Algorithm for HostKeyAlgorithm {
    const KIND: AlgorithmKind = AlgorithmKind::HostKey;
    fn table() -> &'static [TableEntry<Self>] {
        TABLE
    }
    fn name(self) -> &'static str {
        match self {
            Self::Ed25519Cert => "ssh-ed25519-cert-v01@openssh.com",
            Self::EcdsaNistp256Cert => "ecdsa-sha2-nistp256-cert-v01@openssh.com",
            Self::EcdsaNistp384Cert => "ecdsa-sha2-nistp384-cert-v01@openssh.com",
            Self::EcdsaNistp521Cert => "ecdsa-sha2-nistp521-cert-v01@openssh.com",
            Self::RsaSha512Cert => "rsa-sha2-512-cert-v01@openssh.com",
            Self::RsaSha256Cert => "rsa-sha2-256-cert-v01@openssh.com",
            Self::Ed25519 => "ssh-ed25519",
            Self::EcdsaNistp256 => "ecdsa-sha2-nistp256",
            Self::EcdsaNistp384 => "ecdsa-sha2-nistp384",
            Self::EcdsaNistp521 => "ecdsa-sha2-nistp521",
            Self::RsaSha512 => "rsa-sha2-512",
            Self::RsaSha256 => "rsa-sha2-256",
            Self::SshRsa => "ssh-rsa",
            Self::SshRsaCert => "ssh-rsa-cert-v01@openssh.com",
            Self::SshDss => "ssh-dss",
            Self::SshDssCert => "ssh-dss-cert-v01@openssh.com",
        }
    }
}

/// The key family behind a host key algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyFamily {
    /// Ed25519
    Ed25519,
    /// ECDSA on NIST P-256
    EcdsaP256,
    /// ECDSA on NIST P-384
    EcdsaP384,
    /// ECDSA on NIST P-521
    EcdsaP521,
    /// RSA
    Rsa,
    /// DSA
    Dsa,
}

/// Hash used by an RSA signature algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RsaHash {
    /// `ssh-rsa`
    Sha1,
    /// `rsa-sha2-256`
    Sha256,
    /// `rsa-sha2-512`
    Sha512,
}

impl HostKeyAlgorithm {
    /// Whether the host key is presented as an OpenSSH certificate.
    pub fn is_certificate(self) -> bool {
        matches!(
            self,
            Self::Ed25519Cert
                | Self::EcdsaNistp256Cert
                | Self::EcdsaNistp384Cert
                | Self::EcdsaNistp521Cert
                | Self::RsaSha512Cert
                | Self::RsaSha256Cert
                | Self::SshRsaCert
                | Self::SshDssCert
        )
    }

    /// The plain (non-certificate) algorithm with the same signature.
    pub fn plain(self) -> Self {
        match self {
            Self::Ed25519Cert => Self::Ed25519,
            Self::EcdsaNistp256Cert => Self::EcdsaNistp256,
            Self::EcdsaNistp384Cert => Self::EcdsaNistp384,
            Self::EcdsaNistp521Cert => Self::EcdsaNistp521,
            Self::RsaSha512Cert => Self::RsaSha512,
            Self::RsaSha256Cert => Self::RsaSha256,
            Self::SshRsaCert => Self::SshRsa,
            Self::SshDssCert => Self::SshDss,
            plain => plain,
        }
    }

    /// The certificate form of a plain algorithm.
    pub fn certificate(self) -> Self {
        match self.plain() {
            Self::Ed25519 => Self::Ed25519Cert,
            Self::EcdsaNistp256 => Self::EcdsaNistp256Cert,
            Self::EcdsaNistp384 => Self::EcdsaNistp384Cert,
            Self::EcdsaNistp521 => Self::EcdsaNistp521Cert,
            Self::RsaSha512 => Self::RsaSha512Cert,
            Self::RsaSha256 => Self::RsaSha256Cert,
            Self::SshRsa => Self::SshRsaCert,
            _ => Self::SshDssCert,
        }
    }

    /// The key family.
    pub fn family(self) -> KeyFamily {
        match self.plain() {
            Self::Ed25519 => KeyFamily::Ed25519,
            Self::EcdsaNistp256 => KeyFamily::EcdsaP256,
            Self::EcdsaNistp384 => KeyFamily::EcdsaP384,
            Self::EcdsaNistp521 => KeyFamily::EcdsaP521,
            Self::RsaSha512 | Self::RsaSha256 | Self::SshRsa => KeyFamily::Rsa,
            _ => KeyFamily::Dsa,
        }
    }

    /// For RSA algorithms, the signature hash.
    pub fn rsa_hash(self) -> Option<RsaHash> {
        match self.plain() {
            Self::RsaSha512 => Some(RsaHash::Sha512),
            Self::RsaSha256 => Some(RsaHash::Sha256),
            Self::SshRsa => Some(RsaHash::Sha1),
            _ => None,
        }
    }

    /// The algorithm name inside the signature blob (`rsa-sha2-512` for
    /// `rsa-sha2-512-cert-v01@openssh.com`, …).
    pub fn signature_name(self) -> &'static str {
        self.plain().name()
    }
}
