//! OpenSSH certificate validation (PROTOCOL.certkeys) with the time supplied by the caller.
//!
//! `ssh-key`'s own `Certificate::validate_at` cannot check RSA-signed certificates in this
//! build (CRYPTO.md T1: its `rsa` feature stays off) and leaves principals and critical
//! options to the caller, so the whole check lives here: the CA signature goes through
//! [`keys::verify`](super::verify) like every other signature in the crate.

use core::fmt;

use ssh_key::certificate::CertType;
use ssh_key::public::KeyData;
use ssh_key::{Certificate, HashAlg};

use crate::algorithm::{Algorithm, HostKeyAlgorithm};
use crate::wire::WireWrite;

/// Critical options OpenSSH understands in user certificates; any other critical option
/// makes a certificate invalid (PROTOCOL.certkeys: "unrecognised critical options must cause
/// the certificate to be refused").
pub const KNOWN_USER_CRITICAL_OPTIONS: &[&str] = &["force-command", "source-address", "verify-required"];

/// What a certificate must satisfy to be accepted.
///
/// ```
/// use ssh_key::certificate::CertType;
/// use ssh_proto::keys::certificate::CertificateCheck;
/// let check = CertificateCheck::new(CertType::Host, 1_700_000_000).principal("server.example.com");
/// assert_eq!(check.principal, Some("server.example.com"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CertificateCheck<'a> {
    /// Host or user certificate.
    pub cert_type: CertType,
    /// The name the certificate must list (a host name, or a user name); `None` skips the
    /// principal check. A certificate listing no principals is refused, as current OpenSSH
    /// does (9.2 still accepted such host certificates for every host). How a listed
    /// principal is compared: [`principal_match`](Self::principal_match).
    pub principal: Option<&'a str>,
    /// Whether listed principals are literal names (the default, and what OpenSSH 9.2 does
    /// for host and user certificates) or `*`/`?` patterns.
    pub principal_match: PrincipalMatch,
    /// The current time in seconds since the Unix epoch (the core has no clock).
    pub now: u64,
    /// Critical options the caller will enforce; any other makes the certificate invalid.
    /// Host certificates define none.
    pub known_critical_options: &'a [&'a str],
    /// Signature algorithms accepted from a CA (OpenSSH's `CASignatureAlgorithms`; the
    /// default leaves out SHA-1 `ssh-rsa` and `ssh-dss`).
    pub ca_algorithms: &'a [HostKeyAlgorithm],
}

/// How [`CertificateCheck::principal`] is compared with the certificate's principals.
///
/// ```
/// use ssh_key::certificate::CertType;
/// use ssh_proto::keys::certificate::{CertificateCheck, PrincipalMatch};
/// let check = CertificateCheck::new(CertType::Host, 0).principal("db.example.com");
/// assert_eq!(check.principal_match, PrincipalMatch::Exact);
/// let wild = check.principal_match(PrincipalMatch::Wildcard);
/// assert_eq!(wild.principal_match, PrincipalMatch::Wildcard);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PrincipalMatch {
    /// A principal must equal the name byte for byte. OpenSSH 9.2 checks host certificates
    /// so (`sshkey_cert_check_host` with `wildcard_principals` 0) and user certificates too.
    #[default]
    Exact,
    /// A principal is a `*`/`?` pattern the name must match ([`crate::pattern`]), as
    /// OpenSSH 10.3 does for host certificates. A certificate with principal `*` is then
    /// valid for every host: only for CAs trusted to sign such certificates.
    Wildcard,
}

/// OpenSSH 9.2's default `CASignatureAlgorithms`, as far as this crate implements them.
pub const DEFAULT_CA_ALGORITHMS: &[HostKeyAlgorithm] = &[
    HostKeyAlgorithm::Ed25519,
    HostKeyAlgorithm::EcdsaNistp256,
    HostKeyAlgorithm::EcdsaNistp384,
    HostKeyAlgorithm::EcdsaNistp521,
    HostKeyAlgorithm::RsaSha512,
    HostKeyAlgorithm::RsaSha256,
];

impl<'a> CertificateCheck<'a> {
    /// A check for `cert_type` at time `now` (seconds since the Unix epoch), with OpenSSH's
    /// known critical options for user certificates and none for host certificates.
    pub fn new(cert_type: CertType, now: u64) -> Self {
        let known_critical_options = match cert_type {
            CertType::User => KNOWN_USER_CRITICAL_OPTIONS,
            CertType::Host => &[],
        };
        Self {
            cert_type,
            principal: None,
            principal_match: PrincipalMatch::Exact,
            now,
            known_critical_options,
            ca_algorithms: DEFAULT_CA_ALGORITHMS,
        }
    }

    /// Compares principals as `how` says.
    pub fn principal_match(mut self, how: PrincipalMatch) -> Self {
        self.principal_match = how;
        self
    }

    /// Requires `principal` to be listed (OpenSSH: a certificate with no principals is valid
    /// for none when a principal is required).
    pub fn principal(mut self, principal: &'a str) -> Self {
        self.principal = Some(principal);
        self
    }
}

/// Why a certificate was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertificateError {
    /// A host certificate where a user certificate was needed, or the reverse.
    WrongType {
        /// The type required.
        expected: CertType,
    },
    /// The CA that signed it is not trusted.
    UntrustedCa {
        /// SHA-256 fingerprint of the signing CA.
        fingerprint: String,
    },
    /// The CA signature does not verify (or uses an algorithm this crate lacks).
    BadSignature,
    /// The CA signed with an algorithm outside [`CertificateCheck::ca_algorithms`].
    CaAlgorithmRefused {
        /// The signature algorithm.
        algorithm: String,
    },
    /// The certificate lists no principals and one is required.
    NoPrincipals,
    /// The current time is before `valid_after`.
    NotYetValid {
        /// Seconds since the epoch.
        valid_after: u64,
    },
    /// The current time is at or after `valid_before`.
    Expired {
        /// Seconds since the epoch.
        valid_before: u64,
    },
    /// The required principal is not listed.
    PrincipalNotListed {
        /// The name that was required.
        principal: String,
    },
    /// A critical option the caller does not enforce.
    UnknownCriticalOption {
        /// Its name.
        name: String,
    },
}

impl fmt::Display for CertificateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongType { expected: CertType::Host } => f.write_str("certificate is not a host certificate"),
            Self::WrongType { expected: CertType::User } => f.write_str("certificate is not a user certificate"),
            Self::UntrustedCa { fingerprint } => write!(f, "certificate signed by untrusted CA {fingerprint}"),
            Self::BadSignature => f.write_str("certificate signature does not verify"),
            Self::CaAlgorithmRefused { algorithm } => write!(f, "CA signature algorithm {algorithm} not accepted"),
            Self::NoPrincipals => f.write_str("certificate lacks a principal list"),
            Self::NotYetValid { valid_after } => write!(f, "certificate not valid before {valid_after}"),
            Self::Expired { valid_before } => write!(f, "certificate expired at {valid_before}"),
            Self::PrincipalNotListed { principal } => write!(f, "certificate does not list principal {principal:?}"),
            Self::UnknownCriticalOption { name } => write!(f, "certificate has unknown critical option {name:?}"),
        }
    }
}

impl std::error::Error for CertificateError {}

/// The signed part of a certificate: its encoding without the trailing signature string.
fn signed_bytes(cert: &Certificate) -> Option<Vec<u8>> {
    let mut all = cert.to_bytes().ok()?;
    let sig = signature_blob(cert);
    let cut = all.len().checked_sub(4 + sig.len())?;
    all.truncate(cut);
    Some(all)
}

/// `string alg ‖ string sig` of the CA signature.
fn signature_blob(cert: &Certificate) -> Vec<u8> {
    let sig = cert.signature();
    let mut blob = Vec::with_capacity(sig.as_bytes().len() + 32);
    blob.put_string(sig.algorithm().as_str().as_bytes());
    blob.put_string(sig.as_bytes());
    blob
}

/// Whether the CA signature on `cert` verifies against its own `signature_key`. This alone
/// says nothing about trust: use [`check_certificate`].
pub fn verify_ca_signature(cert: &Certificate) -> bool {
    let Some(alg) = HostKeyAlgorithm::from_name(cert.signature().algorithm().as_str()) else { return false };
    if alg.is_certificate() {
        return false;
    }
    let Some(tbs) = signed_bytes(cert) else { return false };
    super::verify(cert.signature_key(), alg, &signature_blob(cert), &tbs)
}

/// Validates `cert` as OpenSSH does: type, a CA for which `trusted` says yes, the CA
/// signature (RSA CAs included), the validity window, the principal (exactly, unless
/// [`PrincipalMatch::Wildcard`] is asked for) and the critical options.
///
/// ```
/// use ssh_key::certificate::CertType;
/// use ssh_proto::keys::certificate::{CertificateCheck, CertificateError, check_certificate};
/// # fn demo(cert: &ssh_key::Certificate, ca: &ssh_key::PublicKey) -> Result<(), CertificateError> {
/// check_certificate(cert, &CertificateCheck::new(CertType::Host, 1_700_000_000).principal("example.com"), |k| {
///     k == ca.key_data()
/// })
/// # }
/// ```
pub fn check_certificate(
    cert: &Certificate,
    check: &CertificateCheck<'_>,
    trusted: impl Fn(&KeyData) -> bool,
) -> Result<(), CertificateError> {
    if cert.cert_type() != check.cert_type {
        return Err(CertificateError::WrongType { expected: check.cert_type });
    }
    let ca = cert.signature_key();
    if !trusted(ca) {
        return Err(CertificateError::UntrustedCa { fingerprint: ca.fingerprint(HashAlg::Sha256).to_string() });
    }
    let sig_alg = cert.signature().algorithm();
    if !check.ca_algorithms.iter().any(|a| a.name() == sig_alg.as_str()) {
        return Err(CertificateError::CaAlgorithmRefused { algorithm: sig_alg.as_str().to_owned() });
    }
    if !verify_ca_signature(cert) {
        return Err(CertificateError::BadSignature);
    }
    if check.now < cert.valid_after() {
        return Err(CertificateError::NotYetValid { valid_after: cert.valid_after() });
    }
    if check.now >= cert.valid_before() {
        return Err(CertificateError::Expired { valid_before: cert.valid_before() });
    }
    if let Some(principal) = check.principal {
        let listed = cert.valid_principals();
        if listed.is_empty() {
            return Err(CertificateError::NoPrincipals);
        }
        let ok = match check.principal_match {
            PrincipalMatch::Exact => listed.iter().any(|p| p == principal),
            PrincipalMatch::Wildcard => listed.iter().any(|p| crate::pattern::wildcard_match(p, principal)),
        };
        if !ok {
            return Err(CertificateError::PrincipalNotListed { principal: principal.to_owned() });
        }
    }
    if let Some(name) = cert.critical_options().keys().find(|k| !check.known_critical_options.contains(&k.as_str())) {
        return Err(CertificateError::UnknownCriticalOption { name: name.clone() });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
