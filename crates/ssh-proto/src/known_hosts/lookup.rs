//! Host key lookup with OpenSSH 9.2's semantics (sshconnect.c `check_host_key`, hostfile.c
//! `check_key_in_hostkeys`).

use ssh_key::certificate::CertType;
use ssh_key::public::KeyData;
use ssh_key::{Certificate, PublicKey};

use super::{Entry, KnownHosts, Marker, host_port_name, revocation_hosts};
use crate::ServerHostKey;
use crate::keys::certificate::{CertificateCheck, CertificateError, check_certificate};

/// What to look up: the server's host name and port, optionally a `HostKeyAlias` and the
/// server's address for `CheckHostIP`.
///
/// ```
/// use ssh_proto::known_hosts::HostQuery;
/// assert_eq!(HostQuery::new("Example.COM", 22).name(), "example.com");
/// assert_eq!(HostQuery::new("example.com", 2222).name(), "[example.com]:2222");
/// assert_eq!(HostQuery::new("10.0.0.1", 2222).alias("db").name(), "db");
/// assert_eq!(HostQuery::new("example.com", 2222).ip("192.0.2.1").ip_name().unwrap(), "[192.0.2.1]:2222");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostQuery<'a> {
    host: &'a str,
    port: u16,
    alias: Option<&'a str>,
    ip: Option<&'a str>,
    port_fallback: bool,
}

impl<'a> HostQuery<'a> {
    /// The host name as the user gave it (after any canonicalisation) and the port.
    pub fn new(host: &'a str, port: u16) -> Self {
        Self { host, port, alias: None, ip: None, port_fallback: true }
    }

    /// Looks the key up under `alias` instead (`HostKeyAlias`): no port is added, and a host
    /// certificate must name `alias`.
    pub fn alias(mut self, alias: &'a str) -> Self {
        self.alias = Some(alias);
        self
    }

    /// Also checks the key recorded for the server's address (`CheckHostIP`), reported in
    /// [`Verdict::ip`]. Plain keys only, as in OpenSSH.
    pub fn ip(mut self, addr: &'a str) -> Self {
        self.ip = Some(addr);
        self
    }

    /// Whether a key not found under `[host]:port` may be found under the bare host name
    /// (OpenSSH does this, "checking without port identifier", unless an alias is set).
    /// On by default.
    pub fn port_fallback(mut self, on: bool) -> Self {
        self.port_fallback = on;
        self
    }

    /// The name looked up in known_hosts (lowercased).
    pub fn name(&self) -> String {
        match self.alias {
            Some(a) => a.to_ascii_lowercase(),
            None => host_port_name(&self.host.to_ascii_lowercase(), self.port),
        }
    }

    /// The address name for `CheckHostIP` (lowercased, with the port as for the host).
    pub fn ip_name(&self) -> Option<String> {
        self.ip.map(|ip| host_port_name(&ip.to_ascii_lowercase(), self.port))
    }

    /// The name a host certificate must list: the alias, else the host name (never the
    /// port), lowercased (`ssh` lowercases both `HostKeyAlias` and the host name).
    pub fn principal(&self) -> String {
        self.alias.unwrap_or(self.host).to_ascii_lowercase()
    }

    /// The bare host name for the port fallback, when it applies.
    fn bare_name(&self) -> Option<String> {
        let applies = self.port_fallback && self.alias.is_none() && self.port != 0 && self.port != super::DEFAULT_PORT;
        applies.then(|| self.host.to_ascii_lowercase())
    }
}

/// The host key the server offered.
#[derive(Clone, Copy, Debug)]
pub enum OfferedKey<'a> {
    /// A plain public key.
    Plain(&'a KeyData),
    /// A host certificate.
    Certificate(&'a Certificate),
}

impl<'a> From<&'a KeyData> for OfferedKey<'a> {
    fn from(k: &'a KeyData) -> Self {
        Self::Plain(k)
    }
}

impl<'a> From<&'a PublicKey> for OfferedKey<'a> {
    fn from(k: &'a PublicKey) -> Self {
        Self::Plain(k.key_data())
    }
}

impl<'a> From<&'a Certificate> for OfferedKey<'a> {
    fn from(c: &'a Certificate) -> Self {
        Self::Certificate(c)
    }
}

impl<'a> From<&'a ServerHostKey> for OfferedKey<'a> {
    /// The certificate when the server sent one, else its plain key.
    fn from(k: &'a ServerHostKey) -> Self {
        match k.certificate() {
            Some(c) => Self::Certificate(c),
            None => Self::Plain(k.public_key().key_data()),
        }
    }
}

/// A key recorded for the host, with where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownKey {
    /// 1-based line number.
    pub line: usize,
    /// The key, with the line's comment.
    pub key: PublicKey,
}

/// How an offered host key fared against the file.
///
/// Trust decisions: [`is_trusted`](Self::is_trusted) is OpenSSH's "known and matches";
/// [`is_changed`](Self::is_changed) is its "REMOTE HOST IDENTIFICATION HAS CHANGED".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostStatus {
    /// The key is recorded for the host.
    Match {
        /// The first line recording it.
        line: usize,
        /// Found under the bare host name, not `[host]:port` (see
        /// [`HostQuery::port_fallback`]).
        without_port: bool,
    },
    /// A host certificate signed by a CA listed as `@cert-authority` for the host, and valid
    /// for it now.
    CaSigned {
        /// The `@cert-authority` line.
        line: usize,
        /// Found under the bare host name, not `[host]:port`.
        without_port: bool,
    },
    /// A `@revoked` line for the host lists the key (for a certificate: its key or its CA).
    /// Wins over everything else, as in OpenSSH.
    Revoked {
        /// The `@revoked` line.
        line: usize,
    },
    /// Keys of the offered type are recorded for the host, none of them this one.
    Mismatch {
        /// The recorded keys of that type.
        known: Vec<KnownKey>,
    },
    /// No key of the offered type is recorded, but keys of other types are.
    ///
    /// OpenSSH 9.2 does not tell this apart from [`Mismatch`](Self::Mismatch): it prints
    /// "REMOTE HOST IDENTIFICATION HAS CHANGED" naming the other-type key as the offending
    /// one, and refuses under `StrictHostKeyChecking`. A caller may prefer to ask, as one
    /// would for an unknown host; [`is_changed`](Self::is_changed) says true for both.
    OtherKeysKnown {
        /// The recorded keys (all of other types).
        known: Vec<KnownKey>,
    },
    /// Nothing recorded for the host.
    NotFound,
    /// A host certificate that is not accepted: its CA is not listed for the host
    /// (`ca_line: None`, [`CertificateError::UntrustedCa`] or `WrongType`), or it is but the
    /// certificate fails validation (expired, wrong principal, …). OpenSSH then checks the
    /// certificate's plain key like any host key: that result is `plain`.
    CertificateRejected {
        /// The `@cert-authority` line of its CA, if listed.
        ca_line: Option<usize>,
        /// Why the certificate is not accepted.
        error: CertificateError,
        /// The result for the certificate's plain key (never a certificate variant).
        plain: Box<HostStatus>,
    },
}

impl HostStatus {
    /// Whether OpenSSH would accept the key without asking: a match, a valid CA-signed
    /// certificate, or a rejected certificate whose plain key matches.
    pub fn is_trusted(&self) -> bool {
        match self {
            Self::Match { .. } | Self::CaSigned { .. } => true,
            Self::CertificateRejected { plain, .. } => plain.is_trusted(),
            _ => false,
        }
    }

    /// Whether OpenSSH would report a changed host key (`HOST_CHANGED`): other keys are
    /// recorded for the host, of the same type or not.
    pub fn is_changed(&self) -> bool {
        match self {
            Self::Mismatch { .. } | Self::OtherKeysKnown { .. } => true,
            Self::CertificateRejected { plain, .. } => plain.is_changed(),
            _ => false,
        }
    }

    /// Whether a `@revoked` line refused the key.
    pub fn is_revoked(&self) -> bool {
        matches!(self, Self::Revoked { .. })
    }

    fn mark_without_port(mut self) -> Self {
        match &mut self {
            Self::Match { without_port, .. } | Self::CaSigned { without_port, .. } => *without_port = true,
            Self::CertificateRejected { plain, .. } => {
                let inner = core::mem::replace(&mut **plain, Self::NotFound);
                **plain = inner.mark_without_port();
            }
            _ => {}
        }
        self
    }
}

/// The outcome of [`KnownHosts::check`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// For the host name (or alias).
    pub status: HostStatus,
    /// For the address, when [`HostQuery::ip`] was given and the key is plain. OpenSSH warns
    /// when this differs from `status` (a changed key for the address, or for the host but
    /// not the address: "POSSIBLE DNS SPOOFING"), and records an unknown address.
    pub ip: Option<HostStatus>,
    /// `@revoked` lines that do not parse (a corrupt key, a key type this crate does not
    /// know, …) and may apply to the host: their host field accepts a name looked up, or
    /// cannot be read. OpenSSH skips such lines as this lookup does, so `status` never
    /// reflects them; a caller that wants to fail closed refuses the key when this is not
    /// empty. 1-based line numbers.
    pub unreadable_revocations: Vec<usize>,
}

impl Verdict {
    /// Whether the key may be used without asking, failing closed: `status` is trusted and
    /// no unreadable `@revoked` line could apply to the host.
    pub fn is_trusted_strict(&self) -> bool {
        self.status.is_trusted() && self.unreadable_revocations.is_empty()
    }
}

fn known(line: usize, e: &Entry) -> KnownKey {
    KnownKey { line, key: e.public_key() }
}

impl KnownHosts {
    /// Entries whose host field accepts `name` (already lowercased).
    fn matching(&self, name: &str) -> Vec<(usize, &Entry)> {
        self.entries().filter(|(_, e)| e.hosts.matches_lowercase(name)).collect()
    }

    /// Checks the host key a server offered, as `ssh` does (`now` is the time in seconds
    /// since the Unix epoch, used only to validate certificates):
    ///
    /// 1. `@revoked` on any line for the host that lists the key (or a certificate's key or
    ///    CA) wins: [`HostStatus::Revoked`].
    /// 2. A certificate whose CA is `@cert-authority` for the host is validated with
    ///    [`check_certificate`] (host certificate, principal = host name or alias):
    ///    [`HostStatus::CaSigned`], or [`HostStatus::CertificateRejected`] with the result
    ///    for its plain key, which is what OpenSSH falls back to.
    /// 3. A plain key is a [`Match`](HostStatus::Match) if any unmarked line for the host
    ///    records it, else a [`Mismatch`](HostStatus::Mismatch) (same-type keys recorded),
    ///    [`OtherKeysKnown`](HostStatus::OtherKeysKnown) or
    ///    [`NotFound`](HostStatus::NotFound).
    /// 4. Not found under `[host]:port`: OpenSSH tries the bare host name, and accepts the
    ///    key if it is trusted there.
    pub fn check(&self, query: &HostQuery<'_>, key: OfferedKey<'_>, now: u64) -> Verdict {
        let name = query.name();
        let bare = query.bare_name();
        let ip_name = query.ip_name();
        let mut names = vec![name.as_str()];
        names.extend(bare.as_deref());
        let (status, ip) = match key {
            OfferedKey::Plain(k) => {
                names.extend(ip_name.as_deref());
                (
                    self.plain_with_fallback(&name, bare.as_deref(), k),
                    ip_name.as_deref().map(|ip| self.plain_status(ip, k)),
                )
            }
            OfferedKey::Certificate(c) => (self.cert_status(&name, bare.as_deref(), c, &query.principal(), now), None),
        };
        Verdict { status, ip, unreadable_revocations: self.unreadable_revocations(&names) }
    }

    /// `@revoked` lines that do not parse and whose host field accepts one of `names`
    /// (lowercased) or does not read.
    pub(super) fn unreadable_revocations(&self, names: &[&str]) -> Vec<usize> {
        self.lines
            .iter()
            .enumerate()
            .filter(|(_, l)| matches!(l.kind, super::LineKind::Invalid(_)))
            .filter_map(|(i, l)| match revocation_hosts(&l.raw)? {
                Some(hosts) if !names.iter().any(|n| hosts.matches_lowercase(n)) => None,
                _ => Some(i + 1),
            })
            .collect()
    }

    /// [`check`](Self::check) for `host` on `port`, nothing else.
    pub fn check_host(&self, host: &str, port: u16, key: OfferedKey<'_>, now: u64) -> HostStatus {
        self.check(&HostQuery::new(host, port), key, now).status
    }

    fn plain_with_fallback(&self, name: &str, bare: Option<&str>, key: &KeyData) -> HostStatus {
        let status = self.plain_status(name, key);
        if status == HostStatus::NotFound
            && let Some(b) = bare
        {
            let there = self.plain_status(b, key);
            if there.is_trusted() {
                return there.mark_without_port();
            }
        }
        status
    }

    /// hostfile.c `check_hostkeys_by_key_or_type` for a plain key under one name.
    fn plain_status(&self, name: &str, key: &KeyData) -> HostStatus {
        let lines = self.matching(name);
        if let Some((line, _)) = lines.iter().find(|(_, e)| e.marker == Some(Marker::Revoked) && e.key == *key) {
            return HostStatus::Revoked { line: *line };
        }
        let unmarked = || lines.iter().filter(|(_, e)| e.marker.is_none());
        if let Some((line, _)) = unmarked().find(|(_, e)| e.key == *key) {
            return HostStatus::Match { line: *line, without_port: false };
        }
        let alg = key.algorithm();
        let same: Vec<KnownKey> =
            unmarked().filter(|(_, e)| e.key.algorithm() == alg).map(|(l, e)| known(*l, e)).collect();
        if !same.is_empty() {
            return HostStatus::Mismatch { known: same };
        }
        let other: Vec<KnownKey> = unmarked().map(|(l, e)| known(*l, e)).collect();
        if other.is_empty() { HostStatus::NotFound } else { HostStatus::OtherKeysKnown { known: other } }
    }

    fn cert_status(&self, name: &str, bare: Option<&str>, cert: &Certificate, principal: &str, now: u64) -> HostStatus {
        let lines = self.matching(name);
        let (cert_key, ca) = (cert.public_key(), cert.signature_key());
        let revoked =
            lines.iter().find(|(_, e)| e.marker == Some(Marker::Revoked) && (e.key == *cert_key || e.key == *ca));
        if let Some((line, _)) = revoked {
            return HostStatus::Revoked { line: *line };
        }
        let check = CertificateCheck::new(CertType::Host, now).principal(principal);
        let listed = lines.iter().find(|(_, e)| e.marker == Some(Marker::CertAuthority) && e.key == *ca);
        let (ca_line, error) = match listed {
            Some((line, e)) => match check_certificate(cert, &check, |k| *k == e.key) {
                Ok(()) => return HostStatus::CaSigned { line: *line, without_port: false },
                Err(error) => (Some(*line), error),
            },
            None => {
                // OpenSSH retries the certificate under the bare name before giving up on it.
                if let Some(b) = bare {
                    let there = self.cert_status(b, None, cert, principal, now);
                    if there.is_trusted() {
                        return there.mark_without_port();
                    }
                }
                let error = check_certificate(cert, &check, |_| false).err().unwrap_or_else(|| {
                    CertificateError::UntrustedCa { fingerprint: ca.fingerprint(ssh_key::HashAlg::Sha256).to_string() }
                });
                (None, error)
            }
        };
        let plain = self.plain_with_fallback(name, bare, cert_key);
        HostStatus::CertificateRejected { ca_line, error, plain: Box::new(plain) }
    }
}
