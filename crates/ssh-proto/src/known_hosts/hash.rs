//! Hashed host names: `|1|base64(salt)|base64(HMAC-SHA1(salt, name))` (OpenSSH
//! `HashKnownHosts`, hostfile.c `host_hash`).

use core::fmt;

use hmac::{Hmac, KeyInit, Mac};
use rand_core::CryptoRng;
use sha1::Sha1;
use ssh_encoding::base64::{Base64, Encoding};
use subtle::ConstantTimeEq;

/// Length of the salt and of the hash (SHA-1's output; OpenSSH refuses other salt lengths).
pub const SALT_LEN: usize = 20;

/// The prefix of a hashed host field.
pub const HASH_MAGIC: &str = "|1|";

/// A hashed host field, `|1|salt|hash`: the salt and HMAC-SHA1(salt, host name).
///
/// ```
/// use ssh_proto::known_hosts::HashedHost;
/// let h = HashedHost::new("example.com", [7; 20]);
/// assert!(h.matches("example.com"));
/// assert!(!h.matches("example.org"));
/// assert_eq!(HashedHost::parse(&h.to_string()), Some(h));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct HashedHost {
    salt: [u8; SALT_LEN],
    hash: [u8; SALT_LEN],
}

fn hmac_sha1(salt: &[u8], name: &str) -> [u8; SALT_LEN] {
    let mut out = [0u8; SALT_LEN];
    // HMAC takes keys of any length, so this cannot fail.
    if let Ok(mut mac) = <Hmac<Sha1> as KeyInit>::new_from_slice(salt) {
        mac.update(name.as_bytes());
        let tag = mac.finalize().into_bytes();
        for (o, t) in out.iter_mut().zip(tag.iter()) {
            *o = *t;
        }
    }
    out
}

/// Decodes canonical padded base64 (OpenSSH's `b64_pton`: padding required, no stray bits)
/// of exactly 20 bytes.
fn decode20(text: &str) -> Option<[u8; SALT_LEN]> {
    let mut buf = [0u8; SALT_LEN];
    let n = Base64::decode(text, &mut buf).ok()?.len();
    (n == SALT_LEN).then_some(buf)
}

impl HashedHost {
    /// Hashes `name` (exactly as given: callers lowercase first, as OpenSSH does) with `salt`.
    pub fn new(name: &str, salt: [u8; SALT_LEN]) -> Self {
        Self { salt, hash: hmac_sha1(&salt, name) }
    }

    /// Hashes `name` with a fresh salt from `rng` (the core has no randomness of its own).
    pub fn with_rng(name: &str, rng: &mut dyn CryptoRng) -> Self {
        let mut salt = [0u8; SALT_LEN];
        rng.fill_bytes(&mut salt);
        Self::new(name, salt)
    }

    /// A hashed field from its two parts.
    pub fn from_parts(salt: [u8; SALT_LEN], hash: [u8; SALT_LEN]) -> Self {
        Self { salt, hash }
    }

    /// Parses `|1|salt|hash`. `None` unless both parts are canonical base64 of 20 bytes
    /// and nothing follows (OpenSSH treats anything else as a bad host hash).
    pub fn parse(field: &str) -> Option<Self> {
        let rest = field.strip_prefix(HASH_MAGIC)?;
        let (salt, hash) = rest.split_once('|')?;
        Some(Self { salt: decode20(salt)?, hash: decode20(hash)? })
    }

    /// The salt.
    pub fn salt(&self) -> &[u8; SALT_LEN] {
        &self.salt
    }

    /// HMAC-SHA1(salt, name).
    pub fn hash(&self) -> &[u8; SALT_LEN] {
        &self.hash
    }

    /// Whether this is the hash of `name` (byte for byte: no case folding here).
    pub fn matches(&self, name: &str) -> bool {
        hmac_sha1(&self.salt, name).ct_eq(&self.hash).into()
    }
}

impl fmt::Display for HashedHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{HASH_MAGIC}{}|{}", Base64::encode_string(&self.salt), Base64::encode_string(&self.hash))
    }
}

impl fmt::Debug for HashedHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HashedHost({self})")
    }
}

/// `|1|salt|hash` for `name` under `salt`, as `ssh-keygen -H` and `HashKnownHosts yes`
/// write it (both lowercase the name first; this function hashes it as given).
///
/// ```
/// use ssh_proto::known_hosts::hash_host;
/// let salt = [0x5a; 20];
/// assert!(hash_host("example.com", &salt).starts_with("|1|WlpaWlpaWlpaWlpaWlpaWlpaWlo=|"));
/// ```
pub fn hash_host(name: &str, salt: &[u8; SALT_LEN]) -> String {
    HashedHost::new(name, *salt).to_string()
}
