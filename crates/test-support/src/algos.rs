//! Helpers over ssh-proto's algorithm tables for building matrices.

use std::fmt;

use ssh_proto::Negotiated;
use ssh_proto::algorithm::{
    Algorithm, AlgorithmList, Algorithms, Cipher, Compression, HostKeyAlgorithm, KexAlgorithm, Mac,
};

/// Every algorithm of this kind that this build implements, legacy included, without the
/// fuzzing-only `none` cipher and MAC.
pub fn implemented<A: Algorithm>() -> Vec<A> {
    AlgorithmList::<A>::all().as_slice().iter().copied().filter(|a| a.name() != "none").collect()
}

/// Ours ∩ the peer's `names`, in our table order.
pub fn common<A: Algorithm>(peer: &[String]) -> Vec<A> {
    implemented::<A>().into_iter().filter(|a| peer.iter().any(|n| n == a.name())).collect()
}

/// Every implemented algorithm (legacy included, `none` excluded), compression not preferred.
pub fn all_algorithms() -> Algorithms {
    Algorithms {
        kex: AlgorithmList::new(implemented()),
        host_key: AlgorithmList::new(implemented()),
        cipher: AlgorithmList::new(implemented()),
        mac: AlgorithmList::new(implemented()),
        compression: AlgorithmList::new([Compression::None, Compression::ZlibOpenSsh, Compression::Zlib]),
    }
}

/// One point of an algorithm matrix. `mac` is `None` for AEAD ciphers (the MAC list is then
/// left at its default and must not be negotiated).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Combo {
    /// Key exchange.
    pub kex: KexAlgorithm,
    /// Host key algorithm.
    pub host_key: HostKeyAlgorithm,
    /// Cipher (both directions).
    pub cipher: Cipher,
    /// MAC (both directions), for non-AEAD ciphers.
    pub mac: Option<Mac>,
    /// Compression (both directions).
    pub compression: Compression,
}

impl fmt::Debug for Combo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{} {} {} {} {}]",
            self.kex.name(),
            self.host_key.name(),
            self.cipher.name(),
            self.mac.map_or("<aead>", |m| m.name()),
            self.compression.name()
        )
    }
}

impl Combo {
    /// Every combination of the given lists: MACs vary only for non-AEAD ciphers.
    pub fn product(
        kex: &[KexAlgorithm],
        host_key: &[HostKeyAlgorithm],
        ciphers: &[Cipher],
        macs: &[Mac],
        compression: &[Compression],
    ) -> Vec<Self> {
        let mut out = Vec::new();
        for &k in kex {
            for &h in host_key {
                for &c in ciphers {
                    let mac_choices: Vec<Option<Mac>> =
                        if c.is_aead() { vec![None] } else { macs.iter().copied().map(Some).collect() };
                    for &m in &mac_choices {
                        for &z in compression {
                            out.push(Self { kex: k, host_key: h, cipher: c, mac: m, compression: z });
                        }
                    }
                }
            }
        }
        out
    }

    /// Algorithm lists that allow exactly this kex, host key, cipher and MAC. Compression uses
    /// OpenSSH's realistic preference lists: `none` → `Compression no`
    /// (`none,zlib@openssh.com,zlib`), `zlib@openssh.com` → `Compression yes`
    /// (`zlib@openssh.com,zlib,none`); `zlib` is forced alone (else the delayed form would win).
    pub fn algorithms(&self) -> Algorithms {
        let mut a = Algorithms {
            kex: AlgorithmList::new([self.kex]),
            host_key: AlgorithmList::new([self.host_key]),
            cipher: AlgorithmList::new([self.cipher]),
            mac: match self.mac {
                Some(m) => AlgorithmList::new([m]),
                None => AlgorithmList::default(),
            },
            compression: AlgorithmList::new([self.compression]),
        };
        match self.compression {
            Compression::None => a.set_compression(false),
            Compression::ZlibOpenSsh => a.set_compression(true),
            _ => {}
        }
        a
    }

    /// `Ok` when `n` is exactly this combination in both directions.
    pub fn check(&self, n: &Negotiated) -> Result<(), String> {
        let mut diffs = Vec::new();
        if n.kex != self.kex {
            diffs.push(format!("kex {}", n.kex.name()));
        }
        if n.host_key != self.host_key {
            diffs.push(format!("host key {}", n.host_key.name()));
        }
        if n.cipher_c2s != self.cipher || n.cipher_s2c != self.cipher {
            diffs.push(format!("ciphers {}/{}", n.cipher_c2s.name(), n.cipher_s2c.name()));
        }
        if n.mac_c2s != self.mac || n.mac_s2c != self.mac {
            let name = |m: Option<Mac>| m.map_or("<none>", |m| m.name());
            diffs.push(format!("MACs {}/{}", name(n.mac_c2s), name(n.mac_s2c)));
        }
        if n.compression_c2s != self.compression || n.compression_s2c != self.compression {
            diffs.push(format!("compression {}/{}", n.compression_c2s.name(), n.compression_s2c.name()));
        }
        if diffs.is_empty() { Ok(()) } else { Err(format!("negotiated differently: {}", diffs.join(", "))) }
    }
}
