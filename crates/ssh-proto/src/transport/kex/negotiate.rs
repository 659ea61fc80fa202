//! Algorithm negotiation (RFC 4253 §7.1): for each kind, the first algorithm on the
//! client's list that is also on the server's.

use crate::Error;
use crate::algorithm::{Algorithm, Cipher, Compression, HostKeyAlgorithm, KexAlgorithm, Mac};
use crate::wire::NameList;
use crate::wire::transport::KexInit;

/// Pseudo-algorithms that only signal extensions and never match as a kex method.
pub(crate) const EXT_INFO_C: &str = "ext-info-c";
pub(crate) const EXT_INFO_S: &str = "ext-info-s";
pub(crate) const STRICT_KEX_C: &str = "kex-strict-c-v00@openssh.com";
pub(crate) const STRICT_KEX_S: &str = "kex-strict-s-v00@openssh.com";

fn is_pseudo(name: &str) -> bool {
    matches!(name, EXT_INFO_C | EXT_INFO_S | STRICT_KEX_C | STRICT_KEX_S)
        || name.starts_with("ext-info-in-auth")
        || name.starts_with("kex-strict-")
}

/// The algorithms a key exchange settled on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Negotiated {
    /// Key exchange method.
    pub kex: KexAlgorithm,
    /// Host key algorithm.
    pub host_key: HostKeyAlgorithm,
    /// Cipher, client to server.
    pub cipher_c2s: Cipher,
    /// Cipher, server to client.
    pub cipher_s2c: Cipher,
    /// MAC, client to server (`None` with an AEAD cipher).
    pub mac_c2s: Option<Mac>,
    /// MAC, server to client (`None` with an AEAD cipher).
    pub mac_s2c: Option<Mac>,
    /// Compression, client to server.
    pub compression_c2s: Compression,
    /// Compression, server to client.
    pub compression_s2c: Compression,
    /// Whether strict key exchange (kex-strict-*-v00@openssh.com) is in force.
    pub strict_kex: bool,
}

impl Negotiated {
    /// The symmetric security level in bits, for sizing DH groups and exponents
    /// (OpenSSH's `kex->we_need * 8`).
    pub(crate) fn need_bits(&self) -> u32 {
        let mut need = 0usize;
        for (c, m) in [(self.cipher_c2s, self.mac_c2s), (self.cipher_s2c, self.mac_s2c)] {
            need = need.max(c.key_len()).max(c.block_size()).max(c.iv_len());
            if let Some(m) = m {
                need = need.max(m.key_len());
            }
        }
        // chacha20-poly1305's 64-byte key holds two 256-bit keys.
        if self.cipher_c2s == Cipher::ChaCha20Poly1305 || self.cipher_s2c == Cipher::ChaCha20Poly1305 {
            need = need.max(32);
        }
        need as u32 * 8
    }
}

fn pick<A: Algorithm>(client: &NameList<'_>, server: &NameList<'_>, ours_is_client: bool) -> Result<A, Error> {
    for name in client.iter().filter(|n| !is_pseudo(n)) {
        if let Some(a) = A::from_name(name).filter(|_| server.contains(name)) {
            return Ok(a);
        }
    }
    let (ours, theirs) = if ours_is_client { (client, server) } else { (server, client) };
    Err(Error::NoCommonAlgorithm {
        kind: A::KIND,
        ours: ours.iter().filter(|n| !is_pseudo(n)).map(str::to_owned).collect(),
        theirs: theirs.iter().filter(|n| !is_pseudo(n)).map(str::to_owned).collect(),
    })
}

/// Negotiates from both KEXINITs. `strict_allowed` is false on re-exchanges (the
/// markers only count in the first KEXINIT).
pub(crate) fn negotiate(
    client: &KexInit<'_>,
    server: &KexInit<'_>,
    we_are_client: bool,
    first_kex: bool,
) -> Result<Negotiated, Error> {
    let [kc, hc, ec2s, es2c, mc2s, ms2c, cc2s, cs2c, _, _] = &client.lists;
    let [ks, hs, sc2s, ss2c, smc2s, sms2c, scc2s, scs2c, _, _] = &server.lists;
    let kex = pick::<KexAlgorithm>(kc, ks, we_are_client)?;
    let host_key = pick::<HostKeyAlgorithm>(hc, hs, we_are_client)?;
    let cipher_c2s = pick::<Cipher>(ec2s, sc2s, we_are_client)?;
    let cipher_s2c = pick::<Cipher>(es2c, ss2c, we_are_client)?;
    let mac_c2s = if cipher_c2s.is_aead() { None } else { Some(pick::<Mac>(mc2s, smc2s, we_are_client)?) };
    let mac_s2c = if cipher_s2c.is_aead() { None } else { Some(pick::<Mac>(ms2c, sms2c, we_are_client)?) };
    let compression_c2s = pick::<Compression>(cc2s, scc2s, we_are_client)?;
    let compression_s2c = pick::<Compression>(cs2c, scs2c, we_are_client)?;
    let strict_kex = first_kex && kc.contains(STRICT_KEX_C) && ks.contains(STRICT_KEX_S);
    Ok(Negotiated {
        kex,
        host_key,
        cipher_c2s,
        cipher_s2c,
        mac_c2s,
        mac_s2c,
        compression_c2s,
        compression_s2c,
        strict_kex,
    })
}

/// RFC 4253 §7.1: a `first_kex_packet_follows` guess is wrong unless both sides' first
/// kex and host key algorithms agree.
pub(crate) fn guess_was_wrong(client: &KexInit<'_>, server: &KexInit<'_>) -> bool {
    fn first<'a>(l: &NameList<'a>) -> Option<&'a str> {
        l.iter().find(|n| !is_pseudo(n))
    }
    first(&client.lists[0]) != first(&server.lists[0]) || first(&client.lists[1]) != first(&server.lists[1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithm::AlgorithmKind;
    use crate::wire::transport::encode_kexinit;

    fn kexinit<'a>(lists: [&str; 10], buf: &'a mut Vec<u8>) -> KexInit<'a> {
        encode_kexinit(buf, &[0; 16], lists.iter().map(|l| l.split(',').filter(|s| !s.is_empty())), false);
        KexInit::decode(buf).unwrap()
    }

    #[test]
    fn client_preference_wins_and_aead_skips_mac() {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let c = kexinit(
            [
                "curve25519-sha256,ext-info-c,kex-strict-c-v00@openssh.com",
                "ssh-ed25519,rsa-sha2-512",
                "aes256-gcm@openssh.com,aes128-ctr",
                "aes128-ctr",
                "",
                "hmac-sha2-256",
                "none",
                "none",
                "",
                "",
            ],
            &mut a,
        );
        let s = kexinit(
            [
                "ecdh-sha2-nistp256,curve25519-sha256,kex-strict-s-v00@openssh.com",
                "rsa-sha2-512,ssh-ed25519",
                "aes128-ctr,aes256-gcm@openssh.com",
                "aes128-ctr",
                "hmac-sha1",
                "hmac-sha1,hmac-sha2-256",
                "none,zlib@openssh.com",
                "none",
                "",
                "",
            ],
            &mut b,
        );
        let n = negotiate(&c, &s, true, true).unwrap();
        assert_eq!(n.kex, KexAlgorithm::Curve25519Sha256);
        assert_eq!(n.host_key, HostKeyAlgorithm::Ed25519);
        assert_eq!(n.cipher_c2s, Cipher::Aes256Gcm);
        assert_eq!(n.mac_c2s, None);
        assert_eq!(n.mac_s2c, Some(Mac::HmacSha256));
        assert!(n.strict_kex);
        assert!(!negotiate(&c, &s, true, false).unwrap().strict_kex);
        assert!(guess_was_wrong(&c, &s));
    }

    #[test]
    fn no_common_algorithm_is_typed() {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let c = kexinit(
            [
                "curve25519-sha256",
                "ssh-ed25519",
                "aes128-ctr",
                "aes128-ctr",
                "hmac-sha1",
                "hmac-sha1",
                "none",
                "none",
                "",
                "",
            ],
            &mut a,
        );
        let s = kexinit(
            [
                "curve25519-sha256",
                "ssh-ed25519",
                "3des-cbc",
                "aes128-ctr",
                "hmac-sha1",
                "hmac-sha1",
                "none",
                "none",
                "",
                "",
            ],
            &mut b,
        );
        match negotiate(&c, &s, false, true) {
            Err(Error::NoCommonAlgorithm { kind: AlgorithmKind::Cipher, ours, theirs }) => {
                assert_eq!(ours, ["3des-cbc"]);
                assert_eq!(theirs, ["aes128-ctr"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn pseudo_algorithms_never_match() {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let c = kexinit(
            ["ext-info-c", "ssh-ed25519", "aes128-ctr", "aes128-ctr", "hmac-sha1", "hmac-sha1", "none", "none", "", ""],
            &mut a,
        );
        let s = kexinit(
            ["ext-info-c", "ssh-ed25519", "aes128-ctr", "aes128-ctr", "hmac-sha1", "hmac-sha1", "none", "none", "", ""],
            &mut b,
        );
        assert!(matches!(
            negotiate(&c, &s, true, true),
            Err(Error::NoCommonAlgorithm { kind: AlgorithmKind::Kex, .. })
        ));
    }
}
