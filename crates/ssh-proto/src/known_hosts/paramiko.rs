//! Paramiko's `paramiko.HostKeys` API as a thin layer over [`KnownHosts`].
//!
//! | Paramiko (`paramiko/hostkeys.py`) | here |
//! |---|---|
//! | `HostKeys()` | [`HostKeys::new`] |
//! | `HostKeys(filename)`, `load(filename)` | [`HostKeys::from_text`], [`HostKeys::load`] (text, not a path) |
//! | `save(filename)` | [`HostKeys::save`] (returns the text) |
//! | `lookup(hostname)`, `hk[hostname]` → `{keytype: PKey}` or `None` | [`HostKeys::lookup`] |
//! | `check(hostname, key)` | [`HostKeys::check`] |
//! | `add(hostname, keytype, key)` | [`HostKeys::add`] |
//! | `del hk[hostname]` | [`HostKeys::remove`] |
//! | `HostKeys.hash_host(hostname, salt)` | [`HostKeys::hash_host`]; without a salt, [`HostKeys::hash_host_with_rng`] |
//! | `clear()` | [`HostKeys::clear`] |
//! | `len(hk)`, `keys()`, `for h in hk` | [`HostKeys::len`], [`HostKeys::keys`] |
//! | `items()`, `values()` | [`HostKeys::items`] |
//!
//! Where it differs from Paramiko, it follows OpenSSH:
//!
//! - Host names match OpenSSH-style: `*`/`?`/`!` patterns and case-insensitively (Paramiko
//!   compares strings exactly). `@cert-authority` and `@revoked` lines are not host keys
//!   here, as in Paramiko (which skips or chokes on them), but they are kept.
//! - `save` writes the file back byte for byte with the edits applied; Paramiko rewrites it
//!   from its entries, dropping comments, blank lines and lines it could not parse.
//! - `load` appends the text as it is; Paramiko also drops names whose key it already has.
//! - `lookup` and `check` see the first key of each type for a host, like Paramiko (a second
//!   key of the same type never checks); [`KnownHosts::check`] accepts any recorded key.
//! - `check` honours `@revoked` (Paramiko does not): a revoked key is refused, and so is
//!   any key while an unreadable `@revoked` line may apply to the host.
//! - `add` refuses names with `*`, `?` or `!` (Paramiko writes them, and the line then
//!   trusts the key for other hosts); a `|1|…` name is recorded as a hashed name.
//! - `remove` deletes the first line naming the host itself (literal or hashed, as
//!   Paramiko), never one it only matches through a pattern.

use std::collections::{BTreeMap, HashMap, HashSet};

use rand_core::CryptoRng;
use ssh_encoding::base64::{Base64, Encoding};
use ssh_key::PublicKey;

use super::{
    EditError, Entry, HASH_MAGIC, HashedHost, Hosts, KnownHosts, Marker, ParseError, SALT_LEN, is_literal, key_text,
    validate_name,
};

/// Paramiko's `HostKeys`: a `{hostname: {keytype: key}}` view of a known_hosts file.
///
/// ```
/// use ssh_proto::known_hosts::paramiko::HostKeys;
/// use ssh_proto::{KeyPair, SeededRng};
/// let key = KeyPair::generate_ed25519(&mut SeededRng::new(1)).public_key().clone();
/// let mut hk = HostKeys::new();
/// hk.add("example.com", "ssh-ed25519", &key).unwrap();
/// assert!(hk.check("example.com", &key));
/// assert_eq!(hk.lookup("example.com").unwrap()["ssh-ed25519"].key_data(), key.key_data());
/// assert_eq!(hk.keys(), ["example.com"]);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostKeys {
    file: KnownHosts,
}

impl From<KnownHosts> for HostKeys {
    fn from(file: KnownHosts) -> Self {
        Self { file }
    }
}

impl HostKeys {
    /// No host keys.
    pub fn new() -> Self {
        Self::default()
    }

    /// `HostKeys(filename)`: the keys of a file's text.
    pub fn from_text(text: &str) -> Result<Self, ParseError> {
        Ok(Self { file: KnownHosts::parse(text)? })
    }

    /// The underlying file.
    pub fn known_hosts(&self) -> &KnownHosts {
        &self.file
    }

    /// The underlying file, for OpenSSH-style edits.
    pub fn known_hosts_mut(&mut self) -> &mut KnownHosts {
        &mut self.file
    }

    /// `load(filename)`: appends another file's lines.
    pub fn load(&mut self, text: &str) -> Result<(), ParseError> {
        let more = KnownHosts::parse_with(text, self.file.limits)?;
        let max = self.file.limits.max_lines;
        if self.file.lines.len() + more.lines.len() > max {
            return Err(ParseError::TooManyLines { max });
        }
        let len = self.file.written_len() + 1 + text.len();
        if len > self.file.limits.max_total_len {
            return Err(ParseError::TooLarge { len, max: self.file.limits.max_total_len });
        }
        for line in more.lines {
            self.file.insert_line(usize::MAX, line);
        }
        Ok(())
    }

    /// `save(filename)`: the file's text.
    pub fn save(&self) -> String {
        self.file.write()
    }

    /// Unmarked entries for `hostname`, in file order.
    /// (A hashed field also matches its own `|1|…` text, as in Paramiko, so every name of
    /// [`keys`](Self::keys) looks up.)
    fn host_entries<'s>(&'s self, hostname: &'s str) -> impl Iterator<Item = (usize, &'s Entry)> + 's {
        let name = hostname.to_ascii_lowercase();
        let hashed = HashedHost::parse(hostname);
        self.file.entries().filter(move |(_, e)| {
            e.marker.is_none()
                && (e.hosts.matches_lowercase(&name) || matches!(&e.hosts, Hosts::Hashed(h) if Some(*h) == hashed))
        })
    }

    /// `lookup(hostname)`: key type name (`ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`, …)
    /// to the first key of that type recorded for the host; `None` when there is none.
    pub fn lookup(&self, hostname: &str) -> Option<BTreeMap<String, PublicKey>> {
        let mut map = BTreeMap::new();
        for (_, e) in self.host_entries(hostname) {
            map.entry(e.key.algorithm().as_str().to_owned()).or_insert_with(|| e.public_key());
        }
        (!map.is_empty()).then_some(map)
    }

    /// `check(hostname, key)`: whether `key` is the host's (first) key of its type.
    ///
    /// Unlike Paramiko, `@revoked` counts: a key on a `@revoked` line for the host is
    /// refused even when it is also recorded, and so is every key while a `@revoked` line
    /// that may apply to the host cannot be read (see [`Verdict`](super::Verdict)'s
    /// `unreadable_revocations`). Paramiko ignores revocations.
    pub fn check(&self, hostname: &str, key: &PublicKey) -> bool {
        let name = hostname.to_ascii_lowercase();
        let revoked = self.file.entries().any(|(_, e)| {
            e.marker == Some(Marker::Revoked) && e.key == *key.key_data() && e.hosts.matches_lowercase(&name)
        });
        if revoked || !self.file.unreadable_revocations(&[name.as_str()]).is_empty() {
            return false;
        }
        self.lookup(hostname)
            .and_then(|m| m.get(key.algorithm().as_str()).map(|k| k.key_data() == key.key_data()))
            .unwrap_or(false)
    }

    /// `add(hostname, keytype, key)`: replaces the key of the first entry that names
    /// `hostname` (as a plain member of its list, or hashed) with a key of type `keytype`,
    /// else appends `hostname keytype base64` (the name as given, like Paramiko).
    ///
    /// `hostname` is one literal name, or a hashed name `|1|salt|hash` (as
    /// [`hash_host`](Self::hash_host) makes), which is recorded as such. A name with `*`,
    /// `?`, `!`, whitespace, a comma or a control character is refused
    /// ([`EditError::InvalidHostName`]): Paramiko would write it, and the line would then be
    /// a pattern trusting the key for other hosts.
    pub fn add(&mut self, hostname: &str, keytype: &str, key: &PublicKey) -> Result<(), EditError> {
        let hashed = HashedHost::parse(hostname);
        if hashed.is_none() {
            validate_name(hostname)?;
        }
        let lname = hostname.to_ascii_lowercase();
        let target = self.file.lines.iter().position(|l| {
            l.entry().is_some_and(|e| {
                e.marker.is_none() && e.key.algorithm().as_str() == keytype && names(&e.hosts, hostname, &lname)
            })
        });
        match target.and_then(|i| self.file.lines.get(i).map(|l| (i, l))) {
            Some((i, l)) => {
                let text = l
                    .splice(l.spans.key_start, l.spans.key_end, &key_text(key.key_data())?)
                    .ok_or_else(|| EditError::NotRepresentable(l.raw.clone()))?;
                if text.len() > self.file.limits.max_line_len {
                    return Err(EditError::LineTooLong { len: text.len(), max: self.file.limits.max_line_len });
                }
                self.file.check_size(0, text.len().saturating_sub(l.raw.len()))?;
                let line = super::Line::parse(&text, l.newline, self.file.limits.max_line_len);
                if line.entry().map(|e| &e.key) != Some(key.key_data()) {
                    return Err(EditError::NotRepresentable(text));
                }
                if let Some(slot) = self.file.lines.get_mut(i) {
                    *slot = line;
                }
                Ok(())
            }
            None => {
                let hosts = hashed.map_or_else(|| Hosts::Patterns(hostname.to_owned()), Hosts::Hashed);
                self.file.push_entry(&Entry::new(hosts, key.key_data().clone())).map(|_| ())
            }
        }
    }

    /// `del hk[hostname]`: removes the first unmarked entry that names the host itself (its
    /// whole line): a literal member equal to it (ignoring case), a hashed field of it, or
    /// the same `|1|…` text, as Paramiko matches. A line that only matches through a
    /// pattern (`*.example.com,!b.example.com`) stays: other hosts rely on it. Returns
    /// whether there was one (Paramiko raises `KeyError` otherwise).
    pub fn remove(&mut self, hostname: &str) -> bool {
        let lname = hostname.to_ascii_lowercase();
        let first = self
            .file
            .entries()
            .find(|(_, e)| e.marker.is_none() && names(&e.hosts, hostname, &lname))
            .map(|(line, _)| line);
        match first {
            Some(line) => {
                self.file.lines.remove(line - 1);
                true
            }
            None => false,
        }
    }

    /// `clear()`: no lines at all.
    pub fn clear(&mut self) {
        self.file.lines.clear();
    }

    /// `keys()`: every host name of an unmarked entry, once, in file order (hashed names as
    /// their `|1|…` text, pattern lists split at commas).
    pub fn keys(&self) -> Vec<String> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for_each_name(&self.file, |n, _| {
            if seen.insert(n.to_owned()) {
                out.push(n.to_owned());
            }
        });
        out
    }

    /// `items()`: every name of [`keys`](Self::keys) with the first key of each type of the
    /// entries that list it (ignoring case) — in one pass, so unlike
    /// [`lookup`](Self::lookup) a name is not also looked up through other lines' patterns
    /// or hashes (Paramiko's own lookup has no patterns; a file naming a host both in the
    /// clear and hashed shows two names).
    pub fn items(&self) -> Vec<(String, BTreeMap<String, PublicKey>)> {
        let mut maps: Vec<BTreeMap<String, PublicKey>> = Vec::new();
        let mut by_lower: HashMap<String, usize> = HashMap::new();
        let mut names: Vec<(String, usize)> = Vec::new();
        let mut seen = HashSet::new();
        for_each_name(&self.file, |n, e| {
            let next = maps.len();
            let slot = *by_lower.entry(n.to_ascii_lowercase()).or_insert(next);
            if slot == next {
                maps.push(BTreeMap::new());
            }
            if let Some(m) = maps.get_mut(slot) {
                m.entry(e.key.algorithm().as_str().to_owned()).or_insert_with(|| e.public_key());
            }
            if seen.insert(n.to_owned()) {
                names.push((n.to_owned(), slot));
            }
        });
        names.into_iter().filter_map(|(n, slot)| maps.get(slot).map(|m| (n, m.clone()))).collect()
    }

    /// `len(hk)`: the number of [`keys`](Self::keys).
    pub fn len(&self) -> usize {
        let mut seen = HashSet::new();
        for_each_name(&self.file, |n, _| {
            seen.insert(n.to_owned());
        });
        seen.len()
    }

    /// Whether there are no host names.
    pub fn is_empty(&self) -> bool {
        self.file.entries().all(|(_, e)| e.marker.is_some())
    }

    /// `HostKeys.hash_host(hostname, salt)`: `salt` is base64 of 20 bytes, or a whole
    /// `|1|salt|hash` field whose salt is reused. The name is hashed as given (Paramiko does
    /// not lowercase). `None` if the salt is not 20 bytes of base64.
    ///
    /// ```
    /// use ssh_proto::known_hosts::paramiko::HostKeys;
    /// let h = HostKeys::hash_host("example.com", "WlpaWlpaWlpaWlpaWlpaWlpaWlo=").unwrap();
    /// assert_eq!(HostKeys::hash_host("example.com", &h).unwrap(), h);
    /// ```
    pub fn hash_host(hostname: &str, salt: &str) -> Option<String> {
        let b64 = match salt.strip_prefix(HASH_MAGIC) {
            Some(rest) => rest.split('|').next().unwrap_or_default(),
            None => salt,
        };
        let mut buf = [0u8; SALT_LEN];
        let n = Base64::decode(b64, &mut buf).ok()?.len();
        (n == SALT_LEN).then(|| HashedHost::new(hostname, buf).to_string())
    }

    /// `HostKeys.hash_host(hostname)`: with a fresh salt from `rng`.
    pub fn hash_host_with_rng(hostname: &str, rng: &mut dyn CryptoRng) -> String {
        HashedHost::with_rng(hostname, rng).to_string()
    }
}

/// Calls `f` with every host name of every unmarked entry, in file order (a name may come
/// more than once).
fn for_each_name<'k>(file: &'k KnownHosts, mut f: impl FnMut(&str, &'k Entry)) {
    for (_, e) in file.entries().filter(|(_, e)| e.marker.is_none()) {
        match &e.hosts {
            Hosts::Hashed(h) => f(&h.to_string(), e),
            Hosts::Patterns(list) => list.split(',').for_each(|n| f(n, e)),
        }
    }
}

/// Whether a host field names `hostname` itself (Paramiko's `hostname in e.hostnames`): a
/// plain member equal to it (ignoring case), a hashed field of it, or the same hashed text.
fn names(hosts: &Hosts, hostname: &str, lname: &str) -> bool {
    match hosts {
        Hosts::Hashed(h) => h.matches(lname) || HashedHost::parse(hostname) == Some(*h),
        Hosts::Patterns(list) => list.split(',').any(|p| is_literal(p) && p.eq_ignore_ascii_case(hostname)),
    }
}
