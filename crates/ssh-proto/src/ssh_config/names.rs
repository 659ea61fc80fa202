//! OpenSSH 9.2's algorithm name lists (as `ssh -Q` and `ssh -G` print them on the reference
//! build) and its `kex_assemble_names`, so `+`/`-`/`^` specifications come out as `ssh -G`
//! shows them. These are OpenSSH's names, not this crate's implemented set: the typed view
//! hands the verbatim specification to `crate::algorithm::AlgorithmList::apply_openssh`.

use super::keyword::AlgoKind;
use crate::pattern::{ListMatch, match_comma_list};

const ALL_CIPHERS: &str = "3des-cbc,aes128-cbc,aes192-cbc,aes256-cbc,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com";
const ALL_MACS: &str = "hmac-sha1,hmac-sha1-96,hmac-sha2-256,hmac-sha2-512,hmac-md5,hmac-md5-96,umac-64@openssh.com,umac-128@openssh.com,hmac-sha1-etm@openssh.com,hmac-sha1-96-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-md5-etm@openssh.com,hmac-md5-96-etm@openssh.com,umac-64-etm@openssh.com,umac-128-etm@openssh.com";
const ALL_KEX: &str = "diffie-hellman-group1-sha1,diffie-hellman-group14-sha1,diffie-hellman-group14-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group-exchange-sha1,diffie-hellman-group-exchange-sha256,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,curve25519-sha256,curve25519-sha256@libssh.org,sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com";
const ALL_KEYS: &str = "ssh-ed25519,ssh-ed25519-cert-v01@openssh.com,sk-ssh-ed25519@openssh.com,sk-ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256,ecdsa-sha2-nistp256-cert-v01@openssh.com,ecdsa-sha2-nistp384,ecdsa-sha2-nistp384-cert-v01@openssh.com,ecdsa-sha2-nistp521,ecdsa-sha2-nistp521-cert-v01@openssh.com,sk-ecdsa-sha2-nistp256@openssh.com,sk-ecdsa-sha2-nistp256-cert-v01@openssh.com,webauthn-sk-ecdsa-sha2-nistp256@openssh.com,ssh-dss,ssh-dss-cert-v01@openssh.com,ssh-rsa,ssh-rsa-cert-v01@openssh.com,rsa-sha2-256,rsa-sha2-256-cert-v01@openssh.com,rsa-sha2-512,rsa-sha2-512-cert-v01@openssh.com";
const ALL_SIGS: &str = "ssh-ed25519,sk-ssh-ed25519@openssh.com,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,sk-ecdsa-sha2-nistp256@openssh.com,webauthn-sk-ecdsa-sha2-nistp256@openssh.com,ssh-dss,ssh-rsa,rsa-sha2-256,rsa-sha2-512";

/// OpenSSH 9.2's client defaults.
pub(crate) const DEFAULT_CIPHERS: &str =
    "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com";
pub(crate) const DEFAULT_MACS: &str = "umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1";
pub(crate) const DEFAULT_KEX: &str = "sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256";
pub(crate) const DEFAULT_KEYS: &str = "ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256-cert-v01@openssh.com,ecdsa-sha2-nistp384-cert-v01@openssh.com,ecdsa-sha2-nistp521-cert-v01@openssh.com,sk-ssh-ed25519-cert-v01@openssh.com,sk-ecdsa-sha2-nistp256-cert-v01@openssh.com,rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256-cert-v01@openssh.com,ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,sk-ssh-ed25519@openssh.com,sk-ecdsa-sha2-nistp256@openssh.com,rsa-sha2-512,rsa-sha2-256";
pub(crate) const DEFAULT_SIGS: &str = "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,sk-ssh-ed25519@openssh.com,sk-ecdsa-sha2-nistp256@openssh.com,rsa-sha2-512,rsa-sha2-256";

fn all(kind: AlgoKind) -> &'static str {
    match kind {
        AlgoKind::Cipher => ALL_CIPHERS,
        AlgoKind::Mac => ALL_MACS,
        AlgoKind::Kex => ALL_KEX,
        AlgoKind::Key => ALL_KEYS,
        AlgoKind::Sig => ALL_SIGS,
    }
}

/// The OpenSSH default for a kind.
pub(crate) fn default(kind: AlgoKind) -> &'static str {
    match kind {
        AlgoKind::Cipher => DEFAULT_CIPHERS,
        AlgoKind::Mac => DEFAULT_MACS,
        AlgoKind::Kex => DEFAULT_KEX,
        AlgoKind::Key => DEFAULT_KEYS,
        AlgoKind::Sig => DEFAULT_SIGS,
    }
}

/// Whether every name of a list (prefix already removed) is one OpenSSH knows; key
/// algorithm lists may use wildcards (`sshkey_names_valid2(.., 1)`).
pub(crate) fn valid(kind: AlgoKind, list: &str) -> bool {
    let wild = matches!(kind, AlgoKind::Key | AlgoKind::Sig);
    !list.is_empty()
        && list.split(',').all(|n| {
            let n = n.strip_prefix('!').filter(|_| wild).unwrap_or(n);
            match wild && n.contains(['*', '?']) {
                true => true,
                false => all(kind).split(',').any(|a| a == n),
            }
        })
}

/// `kex_assemble_names`: the list `ssh -G` prints for a specification (or the default).
pub(crate) fn assemble(kind: AlgoKind, spec: Option<&str>) -> String {
    let def = default(kind);
    let all_names = all(kind);
    let Some(spec) = spec.filter(|s| !s.is_empty()) else { return def.to_owned() };
    let list = match spec.as_bytes().first() {
        Some(b'+') => {
            let mut names: Vec<&str> = def.split(',').collect();
            for n in spec.get(1..).unwrap_or_default().split(',') {
                if !names.contains(&n) {
                    names.push(n);
                }
            }
            names.join(",")
        }
        Some(b'-') => {
            let pats = spec.get(1..).unwrap_or_default();
            return def
                .split(',')
                .filter(|n| match_comma_list(pats, n) != ListMatch::Matched)
                .collect::<Vec<_>>()
                .join(",");
        }
        Some(b'^') => format!("{},{def}", spec.get(1..).unwrap_or_default()),
        _ => spec.to_owned(),
    };
    let mut out: Vec<&str> = Vec::new();
    for pattern in list.split(',') {
        for name in all_names.split(',') {
            if match_comma_list(pattern, name) == ListMatch::Matched && !out.contains(&name) {
                out.push(name);
            }
        }
    }
    out.join(",")
}

/// `valid_domain(.., makelower)` for CanonicalDomains: letters, digits, `-`, `.`; no leading
/// dot, no `..`, at most 255 bytes.
pub(crate) fn valid_domain(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 255
        && !d.starts_with('.')
        && !d.contains("..")
        && d.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
}

/// The syntax check OpenSSH applies to agent socket paths: `${VAR}` well formed, `$VAR`
/// a valid name.
pub(crate) fn check_env_syntax(v: &str) -> Option<()> {
    if let Some(name) = v.strip_prefix('$').filter(|r| !r.starts_with('{')) {
        let ok = name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        return ok.then_some(());
    }
    let mut rest = v;
    while let Some(i) = rest.find("${") {
        let after = rest.get(i + 2..)?;
        let end = after.find('}')?;
        if end == 0 {
            return None;
        }
        rest = after.get(end + 1..)?;
    }
    Some(())
}
