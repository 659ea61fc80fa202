//! known_hosts files (OpenSSH `sshd(8)` "SSH_KNOWN_HOSTS FILE FORMAT"): parse, look up, edit
//! and write, preserving what is not understood.
//!
//! No file I/O: [`KnownHosts::parse`] takes the text, [`KnownHosts::write`] gives it back.
//! Every line is kept byte for byte (comments, blank lines, CR LF endings, a missing final
//! newline, lines this crate cannot parse), so a file loaded and saved unchanged is
//! identical, and an edit rewrites only the lines it changes.
//!
//! What a line can be, as OpenSSH 9.2 reads it (hostfile.c `hostkeys_foreach_file`):
//!
//! ```text
//! # comment                                  (also blank and whitespace-only lines)
//! host.example.com,192.0.2.7 ssh-ed25519 AAAA… optional comment
//! [host.example.com]:2222 ecdsa-sha2-nistp256 AAAA…
//! *.example.com,!bad.example.com ssh-rsa AAAA…
//! |1|base64(salt)|base64(HMAC-SHA1(salt, name)) ssh-ed25519 AAAA…
//! @cert-authority *.example.com ssh-ed25519 AAAA…
//! @revoked * ssh-rsa AAAA…
//! ```
//!
//! - Host fields are comma-separated `*`/`?` patterns, any of them `!`-negated
//!   ([`crate::pattern`]); names are compared case-insensitively (OpenSSH lowercases both the
//!   name and the patterns). A port other than 22 is part of the name: `[host]:port`
//!   ([`host_port_name`]).
//! - Hashed fields ([`HashedHost`]) match one name exactly (lowercased before hashing, as
//!   `ssh` and `ssh-keygen -H` do).
//! - Lines this crate cannot use are kept as [`LineKind::Invalid`] and reported by
//!   [`KnownHosts::problems`] with their line number and reason; they never fail the file.
//!   Only the size caps of [`ParseLimits`] do.
//!
//! Lookups ([`KnownHosts::check`], in `lookup`) follow `ssh`'s `check_host_key`; edits follow
//! `ssh-keygen -R` ([`KnownHosts::remove`]), `-H` ([`KnownHosts::hash_all`]), `-F`
//! ([`KnownHosts::find`]) and `ssh`'s own appends ([`KnownHosts::add`]). [`paramiko`] puts
//! Paramiko's `HostKeys` API on top.
//!
//! Where this differs from OpenSSH 9.2, on purpose:
//!
//! - A line is an entry only if its key decodes (what `ssh` itself requires). `ssh-keygen
//!   -F/-R/-H` only check the key type word, so a line with a known type and corrupt base64
//!   counts for them and is [`LineKind::Invalid`] here.
//! - `ssh-keygen -R` and `-H` refuse to rewrite a file with invalid lines; here they are
//!   kept untouched and the edit goes ahead.
//! - `ssh-keygen -F NAME` compares hashed fields with `NAME` as typed; here (as in `ssh`)
//!   the lowercased name is used everywhere.
//! - `@revoked` lines also take a key type short name (`RSA`, `ED25519`, any case), which
//!   `sshkey_read` refuses on the line since OpenSSH 7.8: a revocation written so is
//!   honoured rather than skipped. Elsewhere the word must be a full name, as in OpenSSH
//!   (`rsa-sha2-256` / `rsa-sha2-512` for an RSA key included).
//! - A certificate (`ssh-ed25519-cert-v01@openssh.com AAAA…`) is read on `@revoked` lines
//!   only, where it revokes the key it certifies, as in OpenSSH (without checking the
//!   certificate's own signature, which OpenSSH does: revoking more is the safe side). On
//!   other lines it is [`InvalidReason::Certificate`]; OpenSSH reads it but it never matches
//!   a host key.
//! - A `@revoked` line that still does not parse is skipped by lookups, as by OpenSSH, but
//!   reported in [`Verdict::unreadable_revocations`] so a caller can fail closed
//!   ([`Verdict::is_trusted_strict`]).
//!
//! What is read of a line stops at its first NUL byte, as in OpenSSH's C code: `a\0,* key`
//! is the host `a` and no key (so an invalid line), never `*`. The text after it is kept
//! for writing. Edits refuse NUL and other control characters in host fields and comments.
//!
//! **Text, not bytes.** [`KnownHosts::parse`] takes `&str`. A file that is not UTF-8 must be
//! refused by the caller (or use [`KnownHosts::parse_bytes`], which does that), never
//! converted lossily: a replacement character changes host names and keys, and writing the
//! file back would corrupt every line it touched.
//!
//! ```
//! use ssh_proto::known_hosts::{HostQuery, HostStatus, KnownHosts};
//! use ssh_proto::{KeyPair, SeededRng};
//!
//! let key = KeyPair::generate_ed25519(&mut SeededRng::new(1)).public_key().clone();
//! let text = format!("# my hosts\n[git.example.com]:2222 {}\n", key.to_openssh().unwrap());
//! let kh = KnownHosts::parse(&text).unwrap();
//! assert_eq!(kh.write(), text);
//! let verdict = kh.check(&HostQuery::new("Git.Example.com", 2222), (&key).into(), 0);
//! assert!(matches!(verdict.status, HostStatus::Match { line: 2, .. }));
//! ```

mod hash;
mod lookup;
pub mod paramiko;
#[cfg(test)]
mod tests;

use core::fmt;

use rand_core::CryptoRng;
use ssh_encoding::base64::{Base64, Encoding};
use ssh_key::PublicKey;
use ssh_key::public::KeyData;

use crate::wire::WireWrite;

pub use hash::{HASH_MAGIC, HashedHost, SALT_LEN, hash_host};
pub use lookup::{HostQuery, HostStatus, KnownKey, OfferedKey, Verdict};

/// The marker of a CA line.
pub const CA_MARKER: &str = "@cert-authority";
/// The marker of a revocation line.
pub const REVOKED_MARKER: &str = "@revoked";
/// The port that is left out of known_hosts names.
pub const DEFAULT_PORT: u16 = 22;

/// OpenSSH's `match_pattern_list` gives up (no match) on a subpattern this long or longer.
const MAX_SUBPATTERN: usize = 1023;

/// The name OpenSSH looks up and records for `host` on `port` (misc.c `put_host_port`): the
/// host alone for port 22 (or 0), `[host]:port` otherwise.
///
/// ```
/// use ssh_proto::known_hosts::host_port_name;
/// assert_eq!(host_port_name("example.com", 22), "example.com");
/// assert_eq!(host_port_name("example.com", 2222), "[example.com]:2222");
/// ```
pub fn host_port_name(host: &str, port: u16) -> String {
    if port == 0 || port == DEFAULT_PORT { host.to_owned() } else { format!("[{host}]:{port}") }
}

// ---- entries -------------------------------------------------------------------------------

/// The marker in front of an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Marker {
    /// `@cert-authority`: the key is a CA trusted to sign host certificates for the hosts.
    CertAuthority,
    /// `@revoked`: the key (or a certificate signed by it) must never be accepted.
    Revoked,
}

impl Marker {
    /// The marker as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CertAuthority => CA_MARKER,
            Self::Revoked => REVOKED_MARKER,
        }
    }
}

/// The host field of an entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Hosts {
    /// `|1|salt|hash`: one hashed name.
    Hashed(HashedHost),
    /// A comma-separated pattern list, verbatim (`a.example.com,192.0.2.1,[b]:2222,*.c,!d.c`).
    Patterns(String),
}

impl Hosts {
    /// A pattern list (comma-separated), as written.
    pub fn patterns(list: impl Into<String>) -> Self {
        Self::Patterns(list.into())
    }

    /// One hashed name under `salt`; `name` is lowercased first, as OpenSSH does.
    pub fn hashed(name: &str, salt: [u8; SALT_LEN]) -> Self {
        Self::Hashed(HashedHost::new(&name.to_ascii_lowercase(), salt))
    }

    /// Whether the field accepts `name`: a hashed field its exact (lowercased) name, a
    /// pattern list as OpenSSH's `match_hostname` (case-insensitive, `!` rejects).
    pub fn matches(&self, name: &str) -> bool {
        let name = name.to_ascii_lowercase();
        self.matches_lowercase(&name)
    }

    fn matches_lowercase(&self, name: &str) -> bool {
        match self {
            Self::Hashed(h) => h.matches(name),
            Self::Patterns(list) => match_host_list(list, name),
        }
    }

    /// Whether a pattern list has `*`, `?` or `!` anywhere (such lines are never hashed).
    pub fn has_wildcards(&self) -> bool {
        matches!(self, Self::Patterns(p) if p.contains(['*', '?', '!']))
    }

    /// Whether the field names `name` itself: a hashed field of it, or a pattern list with
    /// `name` as one of its plain (non-wildcard, non-negated) members, and not rejected.
    fn names_exactly(&self, name: &str) -> bool {
        match self {
            Self::Hashed(h) => h.matches(name),
            Self::Patterns(list) => {
                match_host_list(list, name) && list.split(',').any(|p| is_literal(p) && p.eq_ignore_ascii_case(name))
            }
        }
    }

    fn validate(&self, marker: Option<Marker>) -> Result<(), EditError> {
        let Self::Patterns(list) = self else { return Ok(()) };
        // Control characters (NUL above all: OpenSSH stops reading there) would make the
        // line mean something else than it says.
        let bad = list.is_empty()
            || list.chars().any(|c| c == ' ' || c.is_control())
            || list.starts_with(['|', '@'])
            || (marker.is_none() && list.starts_with('#'));
        if bad { Err(EditError::InvalidHosts(list.clone())) } else { Ok(()) }
    }
}

impl fmt::Display for Hosts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Hashed(h) => h.fmt(f),
            Self::Patterns(p) => f.write_str(p),
        }
    }
}

fn is_literal(pattern: &str) -> bool {
    !pattern.contains(['*', '?', '!'])
}

/// OpenSSH's `match_hostname(name, list)` for an already lowercased `name`: subpatterns are
/// lowercased, a matching `!pattern` rejects, a subpattern of 1023 bytes or more ends the
/// list with no match (match.c `match_pattern_list`).
fn match_host_list(list: &str, name: &str) -> bool {
    let mut positive = false;
    let mut rest = list;
    while !rest.is_empty() {
        let (negated, body) = match rest.strip_prefix('!') {
            Some(b) => (true, b),
            None => (false, rest),
        };
        let (sub, next) = body.split_once(',').unwrap_or((body, ""));
        if sub.len() >= MAX_SUBPATTERN {
            return false;
        }
        if crate::pattern::wildcard_match(&sub.to_ascii_lowercase(), name) {
            if negated {
                return false;
            }
            positive = true;
        }
        rest = next;
    }
    positive
}

/// One host key line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// `@cert-authority` or `@revoked`, if any.
    pub marker: Option<Marker>,
    /// The hosts it applies to.
    pub hosts: Hosts,
    /// The key.
    pub key: KeyData,
    /// Whatever follows the key (after the separating whitespace), verbatim.
    pub comment: String,
}

impl Entry {
    /// An unmarked entry with no comment.
    pub fn new(hosts: Hosts, key: KeyData) -> Self {
        Self { marker: None, hosts, key, comment: String::new() }
    }

    /// With a marker.
    pub fn with_marker(mut self, marker: Marker) -> Self {
        self.marker = Some(marker);
        self
    }

    /// With a comment.
    pub fn with_comment(mut self, comment: impl Into<String>) -> Self {
        self.comment = comment.into();
        self
    }

    /// The key with the entry's comment.
    pub fn public_key(&self) -> PublicKey {
        PublicKey::new(self.key.clone(), self.comment.clone())
    }

    /// The line for this entry, without a newline:
    /// `[marker ]hosts keytype base64[ comment]`.
    pub fn to_line(&self) -> Result<String, EditError> {
        self.hosts.validate(self.marker)?;
        let c = &self.comment;
        if c.chars().any(|ch| ch.is_control() && ch != '\t') || c.starts_with([' ', '\t']) {
            return Err(EditError::InvalidComment(c.clone()));
        }
        let mut line = String::new();
        if let Some(m) = self.marker {
            line.push_str(m.as_str());
            line.push(' ');
        }
        line.push_str(&self.hosts.to_string());
        line.push(' ');
        line.push_str(&key_text(&self.key)?);
        if !c.is_empty() {
            line.push(' ');
            line.push_str(c);
        }
        Ok(line)
    }
}

/// `keytype base64`.
fn key_text(key: &KeyData) -> Result<String, EditError> {
    let blob = PublicKey::new(key.clone(), "").to_bytes().map_err(|e| EditError::Key(e.to_string()))?;
    Ok(format!("{} {}", key.algorithm().as_str(), Base64::encode_string(&blob)))
}

// ---- lines ---------------------------------------------------------------------------------

/// Why a line is not an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidReason {
    /// Longer than [`ParseLimits::max_line_len`] (not parsed at all).
    LineTooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A word starting with `@` that is not `@cert-authority` / `@revoked`, two markers, or
    /// a marker not followed by whitespace.
    BadMarker,
    /// A host field starting with `|` that is not `|1|salt|hash` with 20-byte salt and hash.
    BadHostHash,
    /// Nothing (or only a comment) after the host field.
    MissingKey,
    /// A key type with no key after it.
    MissingKeyData,
    /// The key is not valid base64.
    BadBase64,
    /// The key blob does not decode (or is of a type this crate does not know).
    BadKey(String),
    /// The key type word is not a key type name OpenSSH reads there.
    UnknownKeyType(String),
    /// A certificate on a line other than `@revoked` (OpenSSH reads it, but it can never
    /// match a host key; here only a revocation takes one).
    Certificate,
    /// The key type word and the type inside the blob are not the same plain type and
    /// curve (or one is a certificate and the other is not).
    KeyTypeMismatch {
        /// The word on the line.
        declared: String,
        /// The type in the blob.
        actual: String,
    },
}

impl fmt::Display for InvalidReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LineTooLong { len, max } => write!(f, "line of {len} bytes exceeds the limit of {max}"),
            Self::BadMarker => f.write_str("invalid marker"),
            Self::BadHostHash => f.write_str("bad host hash"),
            Self::MissingKey => f.write_str("truncated before key type"),
            Self::MissingKeyData => f.write_str("truncated after key type"),
            Self::BadBase64 => f.write_str("key is not valid base64"),
            Self::BadKey(e) => write!(f, "key does not decode: {e}"),
            Self::UnknownKeyType(t) => write!(f, "unknown key type {t:?}"),
            Self::Certificate => f.write_str("a certificate outside a @revoked line"),
            Self::KeyTypeMismatch { declared, actual } => write!(f, "key type {declared} but the key is {actual}"),
        }
    }
}

/// What a line is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineKind {
    /// Empty or whitespace only.
    Blank,
    /// First non-blank character `#`.
    Comment,
    /// A host key entry.
    Entry(Box<Entry>),
    /// Anything else: kept verbatim, ignored by lookups and edits.
    Invalid(InvalidReason),
}

/// Byte offsets in an entry line's text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Spans {
    hosts_start: usize,
    hosts_end: usize,
    key_start: usize,
    key_end: usize,
}

/// One line of a file: its exact text and what it parsed as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    raw: String,
    newline: bool,
    kind: LineKind,
    spans: Spans,
}

impl Line {
    fn parse(raw: &str, newline: bool, max_line_len: usize) -> Self {
        let (kind, spans) = parse_line(raw, max_line_len);
        Self { raw: raw.to_owned(), newline, kind, spans }
    }

    /// The text without its `\n` (a CR of a CR LF ending is part of it).
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// Whether a `\n` follows (false only for a last line without one).
    pub fn has_newline(&self) -> bool {
        self.newline
    }

    /// What it parsed as.
    pub fn kind(&self) -> &LineKind {
        &self.kind
    }

    /// The entry, if it is one.
    pub fn entry(&self) -> Option<&Entry> {
        match &self.kind {
            LineKind::Entry(e) => Some(e),
            _ => None,
        }
    }

    /// The key and everything after it (`keytype base64 comment`), verbatim.
    fn raw_key(&self) -> &str {
        self.raw.get(self.spans.key_start..).unwrap_or_default()
    }

    /// The text with `[start, end)` replaced by `with`.
    fn splice(&self, start: usize, end: usize, with: &str) -> Option<String> {
        Some(format!("{}{with}{}", self.raw.get(..start)?, self.raw.get(end..)?))
    }
}

const WS: [char; 2] = [' ', '\t'];

fn skip_ws(s: &str) -> &str {
    s.trim_start_matches(WS)
}

/// Offset of `part` (a subslice of `whole`) in `whole`.
fn offset(whole: &str, part: &str) -> usize {
    (part.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize)
}

/// hostfile.c `check_markers`: a marker ends at the first space of the rest of the line (or,
/// failing that, its first tab), is 2..=31 bytes, and only one is allowed.
fn parse_markers(mut s: &str) -> Result<(Option<Marker>, &str), InvalidReason> {
    let mut marker = None;
    while s.starts_with('@') {
        if marker.is_some() {
            return Err(InvalidReason::BadMarker);
        }
        let end = s.find(' ').or_else(|| s.find('\t')).ok_or(InvalidReason::BadMarker)?;
        if end <= 1 || end >= 32 {
            return Err(InvalidReason::BadMarker);
        }
        let (word, rest) = s.split_at_checked(end).ok_or(InvalidReason::BadMarker)?;
        marker = Some(match word {
            CA_MARKER => Marker::CertAuthority,
            REVOKED_MARKER => Marker::Revoked,
            _ => return Err(InvalidReason::BadMarker),
        });
        s = skip_ws(rest);
    }
    Ok((marker, s))
}

fn parse_line(raw: &str, max_line_len: usize) -> (LineKind, Spans) {
    if raw.len() > max_line_len {
        return (LineKind::Invalid(InvalidReason::LineTooLong { len: raw.len(), max: max_line_len }), Spans::default());
    }
    match parse_entry(raw) {
        Ok(Some((entry, spans))) => (LineKind::Entry(Box::new(entry)), spans),
        Ok(None) => {
            let s = skip_ws(content(raw));
            (if s.is_empty() { LineKind::Blank } else { LineKind::Comment }, Spans::default())
        }
        Err(reason) => (LineKind::Invalid(reason), Spans::default()),
    }
}

/// The part of a line OpenSSH reads: up to the first NUL (C strings end there; `ssh` would
/// otherwise not see what follows, and a line like `a\0,* key` must not mean `*`), without
/// one trailing CR (OpenSSH strips only the `\n`; a CR is then whitespace to its base64
/// decoder, so dropping it gives the same entries).
fn content(raw: &str) -> &str {
    let upto_nul = raw.split('\0').next().unwrap_or(raw);
    upto_nul.strip_suffix('\r').unwrap_or(upto_nul)
}

/// For a line that is not an entry: whether it is a `@revoked` line, and if so its host
/// field when that reads (`Some(None)` when it does not).
fn revocation_hosts(raw: &str) -> Option<Option<Hosts>> {
    let (marker, s) = parse_markers(skip_ws(content(raw))).ok()?;
    if marker != Some(Marker::Revoked) {
        return None;
    }
    let field = s.split(WS).next().unwrap_or_default();
    let hosts = if field.is_empty() {
        None
    } else if field.starts_with('|') {
        HashedHost::parse(field).map(Hosts::Hashed)
    } else {
        Some(Hosts::Patterns(field.to_owned()))
    };
    Some(hosts)
}

/// `Ok(None)` for blank and comment lines.
fn parse_entry(raw: &str) -> Result<Option<(Entry, Spans)>, InvalidReason> {
    let s = skip_ws(content(raw));
    if s.is_empty() || s.starts_with('#') {
        return Ok(None);
    }
    let (marker, s) = parse_markers(s)?;
    let hosts_len = s.find(WS).unwrap_or(s.len());
    let (hosts_field, after) = s.split_at_checked(hosts_len).ok_or(InvalidReason::MissingKey)?;
    let key_part = skip_ws(after);
    if key_part.is_empty() || key_part.starts_with('#') {
        return Err(InvalidReason::MissingKey);
    }
    let hosts = if hosts_field.starts_with('|') {
        Hosts::Hashed(HashedHost::parse(hosts_field).ok_or(InvalidReason::BadHostHash)?)
    } else {
        Hosts::Patterns(hosts_field.to_owned())
    };
    // sshkey_read: type word, whitespace, base64 word; the rest after whitespace is the comment.
    let type_len = key_part.find(WS).ok_or(InvalidReason::MissingKeyData)?;
    let (key_type, after_type) = key_part.split_at_checked(type_len).ok_or(InvalidReason::MissingKeyData)?;
    let blob_part = skip_ws(after_type);
    if blob_part.is_empty() {
        return Err(InvalidReason::MissingKeyData);
    }
    let blob_len = blob_part.find(WS).unwrap_or(blob_part.len());
    let (blob, after_blob) = blob_part.split_at_checked(blob_len).ok_or(InvalidReason::MissingKeyData)?;
    let key = decode_key(marker, key_type, blob)?;
    let spans = Spans {
        hosts_start: offset(raw, hosts_field),
        hosts_end: offset(raw, hosts_field) + hosts_field.len(),
        key_start: offset(raw, key_part),
        key_end: offset(raw, blob) + blob.len(),
    };
    let comment = skip_ws(after_blob).to_owned();
    Ok(Some((Entry { marker, hosts, key, comment }, spans)))
}

/// What a key type name stands for in OpenSSH 9.2 (sshkey.c `keyimpls`): the name of the
/// plain key type (curve included), and whether it is a certificate type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct KeyKind {
    plain: &'static str,
    cert: bool,
}

/// Every full key type name OpenSSH 9.2 knows (XMSS aside, which it builds without), with its
/// short name: `(name, short name, plain type, certificate)`.
const KEY_NAMES: &[(&str, &str, &str, bool)] = &[
    ("ssh-ed25519", "ED25519", "ssh-ed25519", false),
    ("ssh-ed25519-cert-v01@openssh.com", "ED25519-CERT", "ssh-ed25519", true),
    ("sk-ssh-ed25519@openssh.com", "ED25519-SK", "sk-ssh-ed25519@openssh.com", false),
    ("sk-ssh-ed25519-cert-v01@openssh.com", "ED25519-SK-CERT", "sk-ssh-ed25519@openssh.com", true),
    ("ecdsa-sha2-nistp256", "ECDSA", "ecdsa-sha2-nistp256", false),
    ("ecdsa-sha2-nistp256-cert-v01@openssh.com", "ECDSA-CERT", "ecdsa-sha2-nistp256", true),
    ("ecdsa-sha2-nistp384", "ECDSA", "ecdsa-sha2-nistp384", false),
    ("ecdsa-sha2-nistp384-cert-v01@openssh.com", "ECDSA-CERT", "ecdsa-sha2-nistp384", true),
    ("ecdsa-sha2-nistp521", "ECDSA", "ecdsa-sha2-nistp521", false),
    ("ecdsa-sha2-nistp521-cert-v01@openssh.com", "ECDSA-CERT", "ecdsa-sha2-nistp521", true),
    ("sk-ecdsa-sha2-nistp256@openssh.com", "ECDSA-SK", "sk-ecdsa-sha2-nistp256@openssh.com", false),
    ("webauthn-sk-ecdsa-sha2-nistp256@openssh.com", "ECDSA-SK", "sk-ecdsa-sha2-nistp256@openssh.com", false),
    ("sk-ecdsa-sha2-nistp256-cert-v01@openssh.com", "ECDSA-SK-CERT", "sk-ecdsa-sha2-nistp256@openssh.com", true),
    ("ssh-rsa", "RSA", "ssh-rsa", false),
    ("rsa-sha2-256", "RSA", "ssh-rsa", false),
    ("rsa-sha2-512", "RSA", "ssh-rsa", false),
    ("ssh-rsa-cert-v01@openssh.com", "RSA-CERT", "ssh-rsa", true),
    ("rsa-sha2-256-cert-v01@openssh.com", "RSA-CERT", "ssh-rsa", true),
    ("rsa-sha2-512-cert-v01@openssh.com", "RSA-CERT", "ssh-rsa", true),
    ("ssh-dss", "DSA", "ssh-dss", false),
    ("ssh-dss-cert-v01@openssh.com", "DSA-CERT", "ssh-dss", true),
];

/// A full name, exactly (sshkey.c `peek_type_nid`, what `sshkey_read` takes for the word
/// on the line).
fn kind_of_full_name(name: &str) -> Option<KeyKind> {
    KEY_NAMES.iter().find(|(n, ..)| *n == name).map(|&(_, _, plain, cert)| KeyKind { plain, cert })
}

/// A plain type's short name, any case (the other half of sshkey.c `sshkey_type_from_name`).
/// `ECDSA` and `ECDSA-SK` name no curve: OpenSSH's decoder refuses them inside a blob.
fn kind_of_short_name(name: &str) -> Option<KeyKind> {
    KEY_NAMES
        .iter()
        .find(|(_, short, _, cert)| !cert && short.eq_ignore_ascii_case(name))
        .map(|&(_, _, plain, cert)| KeyKind { plain, cert })
}

/// The name `ssh-key` decodes a blob of this kind under.
fn canonical_name(kind: KeyKind) -> &'static str {
    KEY_NAMES
        .iter()
        .find(|(_, _, plain, cert)| *plain == kind.plain && *cert == kind.cert)
        .map_or(kind.plain, |(n, ..)| *n)
}

/// sshkey_read's checks on `type base64`: the type word must be a full key type name (a
/// short name too on `@revoked` lines, see the module notes), the blob must decode under
/// the type name it carries (sshkey.c `sshkey_from_blob_internal`: any full name, or a
/// short name in any case), and both must be the same plain type and curve. A certificate
/// is only taken on a `@revoked` line, where it stands for the key it certifies.
fn decode_key(marker: Option<Marker>, word: &str, blob: &str) -> Result<KeyData, InvalidReason> {
    let revoked = marker == Some(Marker::Revoked);
    let declared = kind_of_full_name(word)
        .or_else(|| if revoked { kind_of_short_name(word) } else { None })
        .ok_or_else(|| InvalidReason::UnknownKeyType(word.to_owned()))?;
    let bytes = Base64::decode_vec(blob).map_err(|_| InvalidReason::BadBase64)?;
    let mut reader = crate::wire::Reader::new(&bytes);
    let inner = reader.string().map_err(|e| InvalidReason::BadKey(e.to_string()))?;
    let inner = core::str::from_utf8(inner).map_err(|_| InvalidReason::BadKey("key type is not UTF-8".into()))?;
    let actual = match kind_of_full_name(inner) {
        Some(k) => k,
        None => match kind_of_short_name(inner) {
            Some(k) if !k.plain.contains("ecdsa") => k,
            _ => return Err(InvalidReason::BadKey(format!("unknown key type {inner:?}"))),
        },
    };
    if actual != declared {
        return Err(InvalidReason::KeyTypeMismatch { declared: word.to_owned(), actual: inner.to_owned() });
    }
    if actual.cert && !revoked {
        return Err(InvalidReason::Certificate);
    }
    // ssh-key knows each type by one name: give it that one.
    let canonical = canonical_name(actual);
    let bytes = if canonical == inner {
        bytes
    } else {
        let mut b = Vec::with_capacity(bytes.len() + canonical.len());
        b.put_string(canonical.as_bytes());
        b.extend_from_slice(reader.remaining());
        b
    };
    if actual.cert {
        let cert = ssh_key::Certificate::from_bytes(&bytes).map_err(|e| InvalidReason::BadKey(e.to_string()))?;
        Ok(cert.public_key().clone())
    } else {
        let key = PublicKey::from_bytes(&bytes).map_err(|e| InvalidReason::BadKey(e.to_string()))?;
        Ok(key.key_data().clone())
    }
}

// ---- the file ------------------------------------------------------------------------------

/// Caps on what [`KnownHosts::parse_with`] accepts, so a hostile file cannot make it use
/// unbounded memory. A line over `max_line_len` is kept unparsed (and reported); a file over
/// `max_total_len` bytes or `max_lines` lines is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseLimits {
    /// Longest line that is parsed, in bytes (without its newline).
    pub max_line_len: usize,
    /// Most lines in a file.
    pub max_lines: usize,
    /// Largest file, in bytes.
    pub max_total_len: usize,
}

impl ParseLimits {
    /// The defaults.
    ///
    /// OpenSSH 9.2 reads known_hosts with `getline(3)` and has no line limit (releases before
    /// 7.8 used an 8 KiB buffer); 64 KiB per line is far above any real entry (an RSA-16384
    /// key line is under 3 KiB). 1 million lines / 64 MiB in all bound the parsed form to a
    /// few hundred MiB even for a file of nothing but newlines.
    pub const DEFAULT: Self = Self { max_line_len: 64 * 1024, max_lines: 1_000_000, max_total_len: 64 * 1024 * 1024 };
}

impl Default for ParseLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A file exceeded [`ParseLimits`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseError {
    /// More bytes than `max_total_len`.
    TooLarge {
        /// The file's size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// More lines than `max_lines`.
    TooManyLines {
        /// The limit.
        max: usize,
    },
    /// [`KnownHosts::parse_bytes`]: the file is not UTF-8.
    NotUtf8 {
        /// The first line (1-based) that is not.
        line: usize,
    },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { len, max } => write!(f, "known_hosts of {len} bytes exceeds the limit of {max}"),
            Self::TooManyLines { max } => write!(f, "known_hosts has more than {max} lines"),
            Self::NotUtf8 { line } => write!(f, "known_hosts line {line} is not UTF-8"),
        }
    }
}

impl std::error::Error for ParseError {}

/// An edit was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EditError {
    /// A host name that cannot be written as one literal name (empty, whitespace, a control
    /// character, a comma, a wildcard `*` or `?`, a `!`, or a leading `|`, `@` or `#`).
    InvalidHostName(String),
    /// A host field that would not read back as written (empty, a space or control
    /// character such as NUL, a leading `|` or `@`, or `#` on an unmarked line).
    InvalidHosts(String),
    /// A comment with a control character other than tab (a newline, a CR, a NUL: OpenSSH
    /// stops reading at a NUL) or leading whitespace.
    InvalidComment(String),
    /// [`KnownHosts::replace_key`] would have to take the host out of this line's list (its
    /// 1-based number), and what is left would not read as that list minus the host (for
    /// example `b,|1|…` without `b` reads as a hashed name). Nothing was changed; the line
    /// needs editing by hand.
    NarrowingChangesLine(usize),
    /// The key does not encode.
    Key(String),
    /// The line would exceed [`ParseLimits::max_line_len`].
    LineTooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The file would exceed [`ParseLimits::max_lines`] or [`ParseLimits::max_total_len`].
    FileTooLarge,
    /// The line would not parse back to the same entry (should not happen).
    NotRepresentable(String),
}

impl fmt::Display for EditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidHostName(n) => write!(f, "cannot record host name {n:?}"),
            Self::InvalidHosts(h) => write!(f, "invalid host field {h:?}"),
            Self::InvalidComment(c) => write!(f, "invalid comment {c:?}"),
            Self::Key(e) => write!(f, "key does not encode: {e}"),
            Self::LineTooLong { len, max } => write!(f, "line of {len} bytes exceeds the limit of {max}"),
            Self::FileTooLarge => f.write_str("known_hosts would exceed its size limits"),
            Self::NotRepresentable(l) => write!(f, "entry does not read back: {l:?}"),
            Self::NarrowingChangesLine(n) => {
                write!(f, "taking the host out of line {n} would change what the rest of it means")
            }
        }
    }
}

impl std::error::Error for EditError {}

/// An unusable line, as [`KnownHosts::problems`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line number.
    pub line: usize,
    /// Why.
    pub reason: InvalidReason,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// How a new entry's host name is written.
pub enum Hashing<'a> {
    /// In the clear (lowercased).
    Plain,
    /// Hashed with this salt.
    Salt([u8; SALT_LEN]),
    /// Hashed with a fresh salt from this generator.
    Rng(&'a mut dyn CryptoRng),
}

impl Hashing<'_> {
    fn hosts(&mut self, name: &str) -> Hosts {
        let name = name.to_ascii_lowercase();
        match self {
            Self::Plain => Hosts::Patterns(name),
            Self::Salt(salt) => Hosts::Hashed(HashedHost::new(&name, *salt)),
            Self::Rng(rng) => Hosts::Hashed(HashedHost::with_rng(&name, &mut **rng)),
        }
    }
}

impl fmt::Debug for Hashing<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Plain => f.write_str("Plain"),
            Self::Salt(_) => f.write_str("Salt(..)"),
            Self::Rng(_) => f.write_str("Rng(..)"),
        }
    }
}

/// What [`KnownHosts::replace_key`] did (line numbers of the file before the edit, except
/// `line`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Replaced {
    /// Lines removed: they named only this host and held another key of the same type.
    pub removed: Vec<usize>,
    /// Lines that also name other hosts: the host was taken out of their list.
    pub narrowed: Vec<usize>,
    /// The line now holding the key (in the edited file).
    pub line: usize,
    /// The key was already recorded for the host: nothing changed.
    pub unchanged: bool,
}

/// What [`KnownHosts::hash_all`] did (line numbers of the file before the edit).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HashReport {
    /// Lines replaced by one hashed line per name.
    pub hashed: Vec<usize>,
    /// How many hashed lines were written.
    pub names: usize,
    /// Lines left alone because their host field has `*`, `?` or `!`.
    pub wildcards: Vec<usize>,
    /// Names lost the way OpenSSH 9.2 loses them: it hashes a list only up to its first empty
    /// member (`a,,b` keeps `a` only; `,a` removes the line).
    pub dropped: Vec<(usize, Vec<String>)>,
}

/// A known_hosts file: every line verbatim, with what it parsed as.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KnownHosts {
    lines: Vec<Line>,
    limits: ParseLimits,
}

impl KnownHosts {
    /// An empty file with the default limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses `text` with [`ParseLimits::DEFAULT`].
    ///
    /// The file must be UTF-8: see the module notes ("Text, not bytes") and
    /// [`parse_bytes`](Self::parse_bytes). Never pass `String::from_utf8_lossy` of a file.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        Self::parse_with(text, ParseLimits::DEFAULT)
    }

    /// Parses a file's bytes with `limits`, refusing one that is not UTF-8
    /// ([`ParseError::NotUtf8`]) rather than guessing at it.
    ///
    /// ```
    /// use ssh_proto::known_hosts::{KnownHosts, ParseError, ParseLimits};
    /// let err = KnownHosts::parse_bytes(b"# ok\nh\xff ssh-ed25519 AAAA\n", ParseLimits::DEFAULT);
    /// assert_eq!(err, Err(ParseError::NotUtf8 { line: 2 }));
    /// ```
    pub fn parse_bytes(bytes: &[u8], limits: ParseLimits) -> Result<Self, ParseError> {
        match core::str::from_utf8(bytes) {
            Ok(text) => Self::parse_with(text, limits),
            Err(e) => {
                let before = bytes.get(..e.valid_up_to()).unwrap_or_default();
                Err(ParseError::NotUtf8 { line: 1 + before.iter().filter(|&&b| b == b'\n').count() })
            }
        }
    }

    /// Parses `text`. Only the size caps fail; a bad line becomes [`LineKind::Invalid`].
    pub fn parse_with(text: &str, limits: ParseLimits) -> Result<Self, ParseError> {
        if text.len() > limits.max_total_len {
            return Err(ParseError::TooLarge { len: text.len(), max: limits.max_total_len });
        }
        let count =
            text.bytes().filter(|&b| b == b'\n').count() + usize::from(!text.is_empty() && !text.ends_with('\n'));
        if count > limits.max_lines {
            return Err(ParseError::TooManyLines { max: limits.max_lines });
        }
        let mut lines = Vec::with_capacity(count);
        let mut rest = text;
        while !rest.is_empty() {
            let (raw, newline, next) = match rest.split_once('\n') {
                Some((l, n)) => (l, true, n),
                None => (rest, false, ""),
            };
            lines.push(Line::parse(raw, newline, limits.max_line_len));
            rest = next;
        }
        Ok(Self { lines, limits })
    }

    /// The file's text: every line as read (or as an edit wrote it).
    pub fn write(&self) -> String {
        let mut out = String::with_capacity(self.lines.iter().map(|l| l.raw.len() + 1).sum());
        for l in &self.lines {
            out.push_str(&l.raw);
            if l.newline {
                out.push('\n');
            }
        }
        out
    }

    /// The limits edits are held to.
    pub fn limits(&self) -> ParseLimits {
        self.limits
    }

    /// Number of lines.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether the file has no lines.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Every line, in order (line `n` is at index `n - 1`).
    pub fn lines(&self) -> &[Line] {
        &self.lines
    }

    /// Every entry with its 1-based line number.
    pub fn entries(&self) -> impl Iterator<Item = (usize, &Entry)> + '_ {
        self.lines.iter().enumerate().filter_map(|(i, l)| l.entry().map(|e| (i + 1, e)))
    }

    /// Every line that is neither an entry, a comment nor blank, with the reason.
    pub fn problems(&self) -> impl Iterator<Item = Problem> + '_ {
        self.lines.iter().enumerate().filter_map(|(i, l)| match &l.kind {
            LineKind::Invalid(reason) => Some(Problem { line: i + 1, reason: reason.clone() }),
            _ => None,
        })
    }

    /// Entries (any marker) whose host field accepts `name`, like `ssh-keygen -F name`:
    /// `name` is what is looked up, so `[host]:port` for a port other than 22
    /// ([`host_port_name`]). Unlike `ssh-keygen -F`, hashed fields are compared with the
    /// lowercased name too (as `ssh` does).
    pub fn find(&self, name: &str) -> Vec<(usize, &Entry)> {
        let name = name.to_ascii_lowercase();
        self.entries().filter(|(_, e)| e.hosts.matches_lowercase(&name)).collect()
    }

    /// [`find`](Self::find) for `host` on `port`.
    pub fn find_host(&self, host: &str, port: u16) -> Vec<(usize, &Entry)> {
        self.find(&host_port_name(host, port))
    }

    // ---- edits ---------------------------------------------------------------------------

    /// The length of [`write`](Self::write)'s output.
    fn written_len(&self) -> usize {
        self.lines.iter().map(|l| l.raw.len() + usize::from(l.newline)).sum()
    }

    /// Whether `extra_lines` more lines of `extra_bytes` in all (newlines included) fit, with
    /// the newline an append may give the last line.
    fn check_size(&self, extra_lines: usize, extra_bytes: usize) -> Result<(), EditError> {
        let bytes = self.written_len() + 1;
        if self.lines.len() + extra_lines > self.limits.max_lines || bytes + extra_bytes > self.limits.max_total_len {
            return Err(EditError::FileTooLarge);
        }
        Ok(())
    }

    /// The line for `entry`, checked to read back as exactly `entry`.
    fn entry_line(&self, entry: &Entry) -> Result<Line, EditError> {
        let text = entry.to_line()?;
        if text.len() > self.limits.max_line_len {
            return Err(EditError::LineTooLong { len: text.len(), max: self.limits.max_line_len });
        }
        let line = Line::parse(&text, true, self.limits.max_line_len);
        if line.entry() != Some(entry) {
            return Err(EditError::NotRepresentable(text));
        }
        Ok(line)
    }

    /// Inserts `line` before index `at` (or appends), giving a last line without a newline
    /// one first.
    fn insert_line(&mut self, at: usize, line: Line) {
        if at >= self.lines.len() {
            if let Some(last) = self.lines.last_mut() {
                last.newline = true;
            }
            self.lines.push(line);
        } else {
            self.lines.insert(at, line);
        }
    }

    /// Appends `entry` as a new line; returns its line number. A last line without a newline
    /// gets one.
    pub fn push_entry(&mut self, entry: &Entry) -> Result<usize, EditError> {
        let line = self.entry_line(entry)?;
        self.check_size(1, line.raw.len() + 1)?;
        self.insert_line(self.lines.len(), line);
        Ok(self.lines.len())
    }

    /// Appends `name key` as `ssh` does when it learns a host key (hostfile.c
    /// `write_host_entry`): the name lowercased, in the clear or hashed, the key without a
    /// comment. `name` is one name, `[host]:port` for a port other than 22
    /// ([`host_port_name`]). Returns the new line's number.
    ///
    /// ```
    /// use ssh_proto::known_hosts::{Hashing, HostQuery, KnownHosts};
    /// use ssh_proto::{KeyPair, SeededRng};
    /// let key = KeyPair::generate_ed25519(&mut SeededRng::new(1)).public_key().clone();
    /// let mut kh = KnownHosts::new();
    /// kh.add("[Example.com]:2222", key.key_data(), Hashing::Rng(&mut SeededRng::new(2))).unwrap();
    /// assert!(kh.write().starts_with("|1|"));
    /// assert!(kh.check(&HostQuery::new("example.com", 2222), key.key_data().into(), 0).status.is_trusted());
    /// ```
    pub fn add(&mut self, name: &str, key: &KeyData, mut hashing: Hashing<'_>) -> Result<usize, EditError> {
        validate_name(name)?;
        self.push_entry(&Entry::new(hashing.hosts(name), key.clone()))
    }

    /// Records `key` as the key of its type for `name` (for example after the user accepted a
    /// changed key): lines that name `name` itself (hashed, or as a plain member of their
    /// list) with another key of the same type lose it — the line goes if it names nothing
    /// else (negations aside), otherwise `name` is taken out of its list — and the new entry takes the place
    /// of the first such line (or is appended). Wildcard lines, markers and other key types
    /// are left alone. Nothing changes when the key is already recorded for `name`.
    ///
    /// If taking `name` out of a list would change what the rest of the line means (`b,|1|…`
    /// without `b` reads as a hashed name), nothing changes and the error is
    /// [`EditError::NarrowingChangesLine`]: dropping that line instead would silently forget
    /// the other hosts' key. `name` must be one literal name (no `*`, `?`, `!`).
    pub fn replace_key(&mut self, name: &str, key: &KeyData, mut hashing: Hashing<'_>) -> Result<Replaced, EditError> {
        validate_name(name)?;
        let lname = name.to_ascii_lowercase();
        let mut report = Replaced::default();
        let mut targets = Vec::new();
        for (i, l) in self.lines.iter().enumerate() {
            let Some(e) = l.entry() else { continue };
            if e.marker.is_some() || !e.hosts.matches_lowercase(&lname) {
                continue;
            }
            if e.key == *key {
                report.line = i + 1;
                report.unchanged = true;
                return Ok(report);
            }
            if e.key.algorithm() == key.algorithm() && e.hosts.names_exactly(&lname) {
                targets.push(i);
            }
        }
        let new_line = self.entry_line(&Entry::new(hashing.hosts(name), key.clone()))?;
        self.check_size(1, new_line.raw.len() + 1)?;
        // Work out every change before making any, so a failure leaves the file as it was.
        let mut changes: Vec<(usize, Option<Line>)> = Vec::with_capacity(targets.len());
        for &i in &targets {
            let Some(l) = self.lines.get(i) else { continue };
            changes.push((i, self.narrowed(i, l, &lname)?));
        }
        // One pass: each target line is dropped or replaced, the new entry goes where the
        // first of them was.
        let mut first = None;
        let mut changes = changes.into_iter().peekable();
        let old = core::mem::take(&mut self.lines);
        let mut kept = Vec::with_capacity(old.len() + 1);
        let mut new_line = Some(new_line);
        for (i, line) in old.into_iter().enumerate() {
            let Some((_, replacement)) = changes.next_if(|(t, _)| *t == i) else {
                kept.push(line);
                continue;
            };
            match replacement {
                Some(narrowed) => {
                    report.narrowed.push(i + 1);
                    kept.push(narrowed);
                }
                None => report.removed.push(i + 1),
            }
            if first.is_none() {
                first = Some(kept.len());
                if let Some(n) = new_line.take() {
                    kept.push(n);
                }
            }
        }
        // A line that had no newline because it was last needs one if a line now follows.
        let followed = kept.len().saturating_sub(1);
        for l in kept.iter_mut().take(followed) {
            l.newline = true;
        }
        self.lines = kept;
        match (first, new_line) {
            (Some(at), _) => report.line = at + 1,
            (None, Some(n)) => {
                self.insert_line(self.lines.len(), n);
                report.line = self.lines.len();
            }
            (None, None) => {}
        }
        Ok(report)
    }

    /// Line `i` (`l`) without the literal member `lname`: `None` when nothing else would be
    /// left (negations aside), else the narrowed line, which must read as exactly the same
    /// entry with the shorter pattern list ([`EditError::NarrowingChangesLine`] otherwise:
    /// refusing is safe, dropping the line would also drop the other hosts' key).
    fn narrowed(&self, i: usize, l: &Line, lname: &str) -> Result<Option<Line>, EditError> {
        let Some(entry) = l.entry() else { return Ok(None) };
        let Hosts::Patterns(list) = &entry.hosts else { return Ok(None) };
        let keep: Vec<&str> = list.split(',').filter(|p| !(is_literal(p) && p.eq_ignore_ascii_case(lname))).collect();
        // Only negations left would match nothing: drop the line instead.
        if !keep.iter().any(|p| !p.starts_with('!')) {
            return Ok(None);
        }
        let field = keep.join(",");
        let text =
            l.splice(l.spans.hosts_start, l.spans.hosts_end, &field).ok_or(EditError::NarrowingChangesLine(i + 1))?;
        let line = Line::parse(&text, l.newline, self.limits.max_line_len);
        let want = Entry { hosts: Hosts::Patterns(field), ..entry.clone() };
        if line.entry() != Some(&want) {
            return Err(EditError::NarrowingChangesLine(i + 1));
        }
        Ok(Some(line))
    }

    /// Removes every unmarked entry whose host field accepts `name`, exactly like
    /// `ssh-keygen -R name`: the whole line goes even when it lists other names or matched
    /// through a wildcard, `@cert-authority` / `@revoked` lines stay. Returns the removed
    /// line numbers.
    pub fn remove(&mut self, name: &str) -> Vec<usize> {
        let name = name.to_ascii_lowercase();
        let mut removed = Vec::new();
        let mut n = 0usize;
        self.lines.retain(|l| {
            n += 1;
            let drop = l.entry().is_some_and(|e| e.marker.is_none() && e.hosts.matches_lowercase(&name));
            if drop {
                removed.push(n);
            }
            !drop
        });
        removed
    }

    /// Hashes every plain host name, like `ssh-keygen -H` of OpenSSH 9.2: each unmarked
    /// entry whose host field has no `*`, `?` or `!` becomes one `|1|salt|hash` line per
    /// name (lowercased, a fresh salt from `rng` each), followed by the line's key and
    /// comment verbatim. Hashed, wildcard and marked lines, comments and invalid lines stay
    /// as they are (`ssh-keygen -H` refuses a file with invalid lines; this keeps them).
    ///
    /// Fails, changing nothing, if the result would exceed the [`ParseLimits`] (one line per
    /// name can make the file longer and lines wider).
    pub fn hash_all(&mut self, rng: &mut dyn CryptoRng) -> Result<HashReport, EditError> {
        let mut report = HashReport::default();
        let mut out = Vec::with_capacity(self.lines.len());
        let mut bytes = 0usize;
        for (i, l) in self.lines.iter().enumerate() {
            let list = match l.entry() {
                Some(Entry { marker: None, hosts: Hosts::Patterns(list), .. }) if !list.contains(['*', '?', '!']) => {
                    list
                }
                Some(Entry { marker: None, hosts: Hosts::Patterns(_), .. }) => {
                    report.wildcards.push(i + 1);
                    bytes += l.raw.len() + usize::from(l.newline);
                    out.push(l.clone());
                    continue;
                }
                _ => {
                    bytes += l.raw.len() + usize::from(l.newline);
                    out.push(l.clone());
                    continue;
                }
            };
            // strsep loop of known_hosts_hash: stops at the first empty member.
            let members: Vec<&str> = list.split(',').collect();
            let taken = members.iter().position(|m| m.is_empty()).unwrap_or(members.len());
            let (hash, lost) = members.split_at(taken);
            let lost: Vec<String> = lost.iter().filter(|m| !m.is_empty()).map(|m| (*m).to_owned()).collect();
            if !lost.is_empty() {
                report.dropped.push((i + 1, lost));
            }
            report.hashed.push(i + 1);
            let raw_key = l.raw_key();
            for (j, name) in hash.iter().enumerate() {
                let hashed = HashedHost::with_rng(&name.to_ascii_lowercase(), rng);
                let text = format!("{hashed} {raw_key}");
                if text.len() > self.limits.max_line_len {
                    return Err(EditError::LineTooLong { len: text.len(), max: self.limits.max_line_len });
                }
                let newline = j + 1 < hash.len() || l.newline;
                bytes += text.len() + usize::from(newline);
                out.push(Line::parse(&text, newline, self.limits.max_line_len));
                report.names += 1;
            }
        }
        if out.len() > self.limits.max_lines || bytes > self.limits.max_total_len {
            return Err(EditError::FileTooLarge);
        }
        self.lines = out;
        Ok(report)
    }
}

impl fmt::Display for KnownHosts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for l in &self.lines {
            f.write_str(&l.raw)?;
            if l.newline {
                f.write_str("\n")?;
            }
        }
        Ok(())
    }
}

/// A name `add` / `replace_key` can record as one host field member: one literal name. A
/// `*`, `?` or `!` would make the new line a pattern trusting the key for other hosts.
fn validate_name(name: &str) -> Result<(), EditError> {
    let bad = name.is_empty()
        || name.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, ',' | '*' | '?' | '!'))
        || name.starts_with(['|', '@', '#']);
    if bad { Err(EditError::InvalidHostName(name.to_owned())) } else { Ok(()) }
}
