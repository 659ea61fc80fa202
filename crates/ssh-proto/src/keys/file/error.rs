//! Why a key file could not be read or written.

use core::fmt;

/// A key file failed to load or to be written. Each variant names one cause, so a caller can
/// tell a wrong passphrase from a damaged file (Paramiko's "not a valid RSA private key file"
/// covers all of them).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyFileError {
    /// No key armor or public key line was found: not a key file at all.
    NotAKeyFile,
    /// A PEM block with a label this crate does not read (PuTTY, SSH.COM, X.509 certificates).
    UnsupportedFormat {
        /// The `-----BEGIN …-----` label.
        label: String,
    },
    /// The file ends before the key does: a missing END line, a short base64 body, or a
    /// structure that stops early.
    Truncated,
    /// The base64 body has characters or padding that base64 does not allow.
    InvalidBase64,
    /// The structure inside the armor is damaged or inconsistent.
    Malformed {
        /// The container that failed (`openssh`, `pkcs1`, `sec1`, `pkcs8`, `dsa`, `public key`).
        format: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// The key is encrypted and no passphrase was given.
    PassphraseRequired,
    /// The passphrase does not decrypt the key.
    WrongPassphrase,
    /// The key is encrypted with a cipher or KDF this crate does not implement.
    UnsupportedCipher {
        /// Its name as the file spells it.
        name: String,
    },
    /// The key's type is not one this crate uses (an unknown OID or algorithm name).
    UnsupportedKeyType {
        /// Its name or OID.
        name: String,
    },
    /// A public key or certificate where a private key was needed.
    PublicKeyOnly,
    /// Writing failed: the key cannot be expressed in the asked-for format (an Ed25519 key as
    /// PKCS#1, say) or encoding failed.
    CannotEncode {
        /// What went wrong.
        reason: String,
    },
}

impl fmt::Display for KeyFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAKeyFile => f.write_str("not a key file"),
            Self::UnsupportedFormat { label } => write!(f, "unsupported key file format \"{label}\""),
            Self::Truncated => f.write_str("key file is truncated"),
            Self::InvalidBase64 => f.write_str("key file has invalid base64"),
            Self::Malformed { format, reason } => write!(f, "invalid {format} key: {reason}"),
            Self::PassphraseRequired => f.write_str("key is encrypted and needs a passphrase"),
            Self::WrongPassphrase => f.write_str("incorrect passphrase supplied to decrypt private key"),
            Self::UnsupportedCipher { name } => write!(f, "key is encrypted with unsupported cipher {name}"),
            Self::UnsupportedKeyType { name } => write!(f, "unsupported key type {name}"),
            Self::PublicKeyOnly => f.write_str("file holds a public key, not a private key"),
            Self::CannotEncode { reason } => write!(f, "cannot write key: {reason}"),
        }
    }
}

impl std::error::Error for KeyFileError {}

impl KeyFileError {
    pub(crate) fn malformed(format: &'static str, reason: impl fmt::Display) -> Self {
        Self::Malformed { format, reason: reason.to_string() }
    }

    pub(crate) fn encode(reason: impl fmt::Display) -> Self {
        Self::CannotEncode { reason: reason.to_string() }
    }
}
