//! Algorithm tables: every kind is an enum of the names this build implements, with a
//! default preference order, and [`AlgorithmList`] is an ordered, filtered selection of one
//! kind. Unknown names are rejected when a list is built, never at handshake time.
//!
//! Lists can be written in OpenSSH syntax ([`AlgorithmList::parse_openssh`]: a plain
//! list, or `+` append, `-` remove, `^` prepend, with `*`/`?` wildcards) or filtered the
//! way Paramiko's `disabled_algorithms` does ([`AlgorithmList::disable`]).
//!
//! ```
//! use ssh_proto::algorithm::{AlgorithmList, Cipher};
//! let mut ciphers = AlgorithmList::<Cipher>::default();
//! ciphers.apply_openssh("-aes*-ctr").unwrap();
//! ciphers.apply_openssh("^chacha20-poly1305@openssh.com").unwrap();
//! assert_eq!(ciphers.names()[0], "chacha20-poly1305@openssh.com");
//! assert!(!ciphers.names().contains(&"aes128-ctr"));
//! ```

mod cipher;
mod compression;
mod host_key;
mod kex;
mod mac;

use core::fmt;

pub use cipher::Cipher;
pub use compression::Compression;
pub use host_key::{HostKeyAlgorithm, KeyFamily, RsaHash};
pub use kex::{KexAlgorithm, KexHash};
pub use mac::Mac;

use crate::Error;

/// The five kinds of negotiated algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AlgorithmKind {
    /// Key exchange.
    Kex,
    /// Server host key / signature.
    HostKey,
    /// Encryption.
    Cipher,
    /// Message authentication.
    Mac,
    /// Compression.
    Compression,
}

impl fmt::Display for AlgorithmKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Kex => "key exchange",
            Self::HostKey => "host key",
            Self::Cipher => "cipher",
            Self::Mac => "MAC",
            Self::Compression => "compression",
        })
    }
}

/// One entry of an algorithm table.
#[derive(Clone, Copy, Debug)]
pub struct TableEntry<A> {
    /// The algorithm.
    pub algorithm: A,
    /// Its SSH name.
    pub name: &'static str,
    /// Whether it is in the default list (legacy algorithms are supported but off).
    pub default: bool,
}

/// An algorithm kind: an enum with a static name table.
pub trait Algorithm: Copy + Eq + fmt::Debug + Send + Sync + 'static {
    /// Which kind this is.
    const KIND: AlgorithmKind;

    /// Every algorithm of this kind that this build implements, defaults first in
    /// preference order, then the legacy ones.
    fn table() -> &'static [TableEntry<Self>];

    /// The SSH name.
    fn name(self) -> &'static str {
        Self::table().iter().find(|e| e.algorithm == self).map_or("", |e| e.name)
    }

    /// Looks up an SSH name.
    fn from_name(name: &str) -> Option<Self> {
        Self::table().iter().find(|e| e.name == name).map(|e| e.algorithm)
    }
}

/// An ordered preference list of one algorithm kind, without duplicates.
#[derive(Clone, PartialEq, Eq)]
pub struct AlgorithmList<A: Algorithm> {
    list: Vec<A>,
}

impl<A: Algorithm> fmt::Debug for AlgorithmList<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl<A: Algorithm> Default for AlgorithmList<A> {
    /// The default preference order (legacy algorithms excluded).
    fn default() -> Self {
        Self { list: A::table().iter().filter(|e| e.default).map(|e| e.algorithm).collect() }
    }
}

impl<A: Algorithm> AlgorithmList<A> {
    /// A list of exactly these algorithms, in this order (duplicates dropped).
    pub fn new(algorithms: impl IntoIterator<Item = A>) -> Self {
        let mut list = Vec::new();
        for a in algorithms {
            if !list.contains(&a) {
                list.push(a);
            }
        }
        Self { list }
    }

    /// Every algorithm the build implements, legacy included.
    pub fn all() -> Self {
        Self::new(A::table().iter().map(|e| e.algorithm))
    }

    /// Parses a comma-separated list of exact names, in preference order.
    pub fn from_names(names: &str) -> Result<Self, Error> {
        let mut out = Vec::new();
        for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let a = A::from_name(name).ok_or_else(|| unknown::<A>(name))?;
            if !out.contains(&a) {
                out.push(a);
            }
        }
        Ok(Self { list: out })
    }

    /// Applies an OpenSSH-style specification to this list:
    /// `a,b` replaces it, `+a,b` appends, `-a,b` removes, `^a,b` moves to the front.
    /// Names may contain `*` and `?` wildcards, which match against every algorithm the build
    /// implements; a literal name that is unknown is an error.
    pub fn apply_openssh(&mut self, spec: &str) -> Result<(), Error> {
        let spec = spec.trim();
        let (op, rest) = match spec.as_bytes().first() {
            Some(&c @ (b'+' | b'-' | b'^')) => (c, spec.get(1..).unwrap_or_default()),
            _ => (b'=', spec),
        };
        let mut named = Vec::new();
        for pattern in rest.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let before = named.len();
            for e in A::table() {
                if wildcard_match(pattern, e.name) && !named.contains(&e.algorithm) {
                    named.push(e.algorithm);
                }
            }
            if named.len() == before && !pattern.contains(['*', '?']) && A::from_name(pattern).is_none() {
                return Err(unknown::<A>(pattern));
            }
        }
        match op {
            b'+' => {
                for a in named {
                    if !self.list.contains(&a) {
                        self.list.push(a);
                    }
                }
            }
            b'-' => self.list.retain(|a| !named.contains(a)),
            b'^' => {
                self.list.retain(|a| !named.contains(a));
                let mut front = named;
                front.append(&mut self.list);
                self.list = front;
            }
            _ => self.list = named,
        }
        Ok(())
    }

    /// [`apply_openssh`](Self::apply_openssh) on the default list.
    pub fn parse_openssh(spec: &str) -> Result<Self, Error> {
        let mut l = Self::default();
        l.apply_openssh(spec)?;
        Ok(l)
    }

    /// Removes these names (Paramiko's `disabled_algorithms`); unknown names are an error.
    pub fn disable<'n>(&mut self, names: impl IntoIterator<Item = &'n str>) -> Result<(), Error> {
        for name in names {
            let a = A::from_name(name).ok_or_else(|| unknown::<A>(name))?;
            self.list.retain(|x| *x != a);
        }
        Ok(())
    }

    /// The algorithms in preference order.
    pub fn as_slice(&self) -> &[A] {
        &self.list
    }

    /// The SSH names in preference order.
    pub fn names(&self) -> Vec<&'static str> {
        self.list.iter().map(|a| a.name()).collect()
    }

    /// Whether the list holds `a`.
    pub fn contains(&self, a: A) -> bool {
        self.list.contains(&a)
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Keeps only the algorithms for which `keep` is true.
    pub fn retain(&mut self, keep: impl FnMut(&A) -> bool) {
        self.list.retain(keep);
    }
}

fn unknown<A: Algorithm>(name: &str) -> Error {
    Error::Config(format!("unknown or unsupported {} algorithm {name:?}", A::KIND))
}

/// OpenSSH `match_pattern`: `*` matches any run, `?` one character.
pub(crate) fn wildcard_match(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some((b'*', rest)) => (0..=n.len()).any(|i| go(rest, n.get(i..).unwrap_or_default())),
            Some((b'?', rest)) => n.split_first().is_some_and(|(_, nt)| go(rest, nt)),
            Some((c, rest)) => n.split_first().is_some_and(|(h, nt)| h == c && go(rest, nt)),
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

/// The algorithm preferences of one side, one list per kind (the same lists are used in both
/// directions, as OpenSSH does).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Algorithms {
    /// Key exchange methods.
    pub kex: AlgorithmList<KexAlgorithm>,
    /// Host key algorithms (the client's acceptable list; the server derives its own from its keys).
    pub host_key: AlgorithmList<HostKeyAlgorithm>,
    /// Ciphers.
    pub cipher: AlgorithmList<Cipher>,
    /// MACs (ignored for AEAD ciphers).
    pub mac: AlgorithmList<Mac>,
    /// Compression methods.
    pub compression: AlgorithmList<Compression>,
}

impl Algorithms {
    /// Every algorithm the build implements, legacy ones included, defaults first.
    pub fn all() -> Self {
        Self {
            kex: AlgorithmList::all(),
            host_key: AlgorithmList::all(),
            cipher: AlgorithmList::all(),
            mac: AlgorithmList::all(),
            compression: AlgorithmList::all(),
        }
    }

    /// Prefers compression (`zlib@openssh.com,zlib,none`) or no compression
    /// (`none,zlib@openssh.com,zlib`), like OpenSSH's `Compression yes|no`.
    pub fn set_compression(&mut self, enabled: bool) {
        let order = if enabled {
            [Compression::ZlibOpenSsh, Compression::Zlib, Compression::None]
        } else {
            [Compression::None, Compression::ZlibOpenSsh, Compression::Zlib]
        };
        self.compression = AlgorithmList::new(order);
    }

    /// Applies an OpenSSH option: `KexAlgorithms`, `HostKeyAlgorithms`, `Ciphers`, `MACs`
    /// (case-insensitive) with OpenSSH list syntax.
    pub fn apply_openssh_option(&mut self, option: &str, spec: &str) -> Result<(), Error> {
        match option.to_ascii_lowercase().as_str() {
            "kexalgorithms" => self.kex.apply_openssh(spec),
            "hostkeyalgorithms" => self.host_key.apply_openssh(spec),
            "ciphers" => self.cipher.apply_openssh(spec),
            "macs" => self.mac.apply_openssh(spec),
            "compression" => match spec.to_ascii_lowercase().as_str() {
                "yes" => {
                    self.set_compression(true);
                    Ok(())
                }
                "no" => {
                    self.set_compression(false);
                    Ok(())
                }
                _ => Err(Error::Config(format!("Compression must be yes or no, not {spec:?}"))),
            },
            _ => Err(Error::Config(format!("unknown algorithm option {option:?}"))),
        }
    }

    /// Paramiko's `disabled_algorithms`: keys `kex`, `keys` (host keys), `ciphers`, `macs`,
    /// `compression`; each value lists names to remove.
    pub fn disable(&mut self, kind: &str, names: &[&str]) -> Result<(), Error> {
        let names = names.iter().copied();
        match kind {
            "kex" => self.kex.disable(names),
            "keys" => self.host_key.disable(names),
            "ciphers" => self.cipher.disable(names),
            "macs" => self.mac.disable(names),
            "compression" => self.compression.disable(names),
            other => Err(Error::Config(format!("unknown disabled_algorithms key {other:?}"))),
        }
    }

    /// Fails unless every kind has at least one algorithm (and MACs exist when a non-AEAD
    /// cipher is enabled).
    pub fn validate(&self) -> Result<(), Error> {
        let empty = |k: AlgorithmKind| Err(Error::Config(format!("no {k} algorithms enabled")));
        if self.kex.is_empty() {
            return empty(AlgorithmKind::Kex);
        }
        if self.host_key.is_empty() {
            return empty(AlgorithmKind::HostKey);
        }
        if self.cipher.is_empty() {
            return empty(AlgorithmKind::Cipher);
        }
        if self.mac.is_empty() && self.cipher.as_slice().iter().any(|c| !c.is_aead()) {
            return empty(AlgorithmKind::Mac);
        }
        if self.compression.is_empty() {
            return empty(AlgorithmKind::Compression);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openssh_list_syntax() {
        let base = AlgorithmList::<Cipher>::default();
        let mut l = base.clone();
        l.apply_openssh("+aes128-cbc,3des-cbc").unwrap();
        assert_eq!(&l.names()[l.names().len() - 2..], ["aes128-cbc", "3des-cbc"]);
        l.apply_openssh("-*-cbc").unwrap();
        assert_eq!(l, base);
        l.apply_openssh("^aes256-ctr").unwrap();
        assert_eq!(l.names()[0], "aes256-ctr");
        l.apply_openssh("aes128-ctr,aes256-gcm@openssh.com").unwrap();
        assert_eq!(l.names(), ["aes128-ctr", "aes256-gcm@openssh.com"]);
        assert!(matches!(l.apply_openssh("+blowfish-cbc"), Err(Error::Config(_))));
        assert!(matches!(AlgorithmList::<Mac>::from_names("hmac-md5"), Err(Error::Config(_))));
    }

    #[test]
    fn legacy_algorithms_are_off_by_default() {
        let c = AlgorithmList::<Cipher>::default();
        assert!(!c.contains(Cipher::TripleDesCbc));
        assert!(!c.contains(Cipher::Aes128Cbc));
        let k = AlgorithmList::<KexAlgorithm>::default();
        assert!(!k.contains(KexAlgorithm::DhGroup1Sha1));
        assert!(!k.contains(KexAlgorithm::DhGroup14Sha1));
        assert!(!k.contains(KexAlgorithm::DhGexSha1));
        let h = AlgorithmList::<HostKeyAlgorithm>::default();
        assert!(!h.contains(HostKeyAlgorithm::SshRsa));
        let m = AlgorithmList::<Mac>::default();
        assert!(m.contains(Mac::HmacSha1));
    }

    #[test]
    fn every_name_round_trips() {
        fn check<A: Algorithm>() {
            for e in A::table() {
                assert_eq!(A::from_name(e.name), Some(e.algorithm));
                assert_eq!(e.algorithm.name(), e.name);
            }
        }
        check::<KexAlgorithm>();
        check::<HostKeyAlgorithm>();
        check::<Cipher>();
        check::<Mac>();
        check::<Compression>();
    }

    #[test]
    fn paramiko_disabled_algorithms() {
        let mut a = Algorithms::default();
        a.disable("ciphers", &["aes128-gcm@openssh.com"]).unwrap();
        assert!(!a.cipher.contains(Cipher::Aes128Gcm));
        assert!(a.disable("nonsense", &[]).is_err());
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("aes*-ctr", "aes128-ctr"));
        assert!(wildcard_match("*", "x"));
        assert!(wildcard_match("a?c", "abc"));
        assert!(!wildcard_match("a?c", "ac"));
    }
}
