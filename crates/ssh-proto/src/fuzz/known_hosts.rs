//! Fuzz body for known_hosts files ([`crate::known_hosts`]).

use ssh_key::{Certificate, PublicKey};

use super::{Input, Seeds};
use crate::SeededRng;
use crate::known_hosts::paramiko::HostKeys;
use crate::known_hosts::{
    Hashing, HostQuery, HostStatus, Hosts, InvalidReason, KnownHosts, LineKind, Marker, ParseLimits, hash_host,
};

/// Limits small enough that the fuzzer reaches them.
const TINY: ParseLimits = ParseLimits { max_line_len: 300, max_lines: 24, max_total_len: 4096 };

/// Names looked up and edited per input, at most.
const MAX_NAMES: usize = 6;

fn fixture_key(text: &str) -> PublicKey {
    PublicKey::from_openssh(text).expect("fixture key parses")
}

fn keys() -> [PublicKey; 3] {
    [
        fixture_key(include_str!("../../testdata/hostkeys/host_ed25519.pub")),
        fixture_key(include_str!("../../testdata/hostkeys/host_ecdsa256.pub")),
        fixture_key(include_str!("../../testdata/hostkeys/ca_ed25519.pub")),
    ]
}

/// Signed by `ca_ed25519` for `localhost` and `127.0.0.1`.
fn certificate() -> Certificate {
    Certificate::from_openssh(include_str!("../../testdata/hostkeys/host_rsa2048-cert.pub"))
        .expect("fixture certificate")
}

/// Parses arbitrary text as a known_hosts file, then looks up and edits it.
///
/// Input: `mode` (bit 0: tiny [`ParseLimits`], bit 1: also check a host certificate,
/// bits 2-3: which fixture key the edits record, bit 4: edits hash), then the file (lossy
/// UTF-8).
///
/// Properties: `write(parse(x)) == x` byte for byte and parsing is stable; only the size caps
/// fail a parse; a plain key recorded under a literal name it matches is a `Match` for that
/// name unless `@revoked`; `remove` leaves no unmarked entry for the name; after
/// `replace_key` / `add` the key is trusted for the name unless revoked; `hash_all` leaves
/// only hashed, wildcard or marked entries and every edit writes a file that parses back to
/// the same thing; the Paramiko layer agrees with the lookups it wraps.
pub fn known_hosts(data: &[u8]) {
    let mut input = Input::new(data);
    let mode = input.u8();
    let text = String::from_utf8_lossy(input.rest()).into_owned();
    let limits = if mode & 1 != 0 { TINY } else { ParseLimits::DEFAULT };
    let kh = match KnownHosts::parse_with(&text, limits) {
        Ok(kh) => kh,
        Err(_) => {
            let lines = text.bytes().filter(|&b| b == b'\n').count() + usize::from(!text.ends_with('\n'));
            assert!(text.len() > limits.max_total_len || lines > limits.max_lines, "refused a file within the limits");
            return;
        }
    };
    assert_eq!(kh.write().as_bytes(), text.as_bytes(), "write(parse(x)) != x");
    assert_eq!(kh.to_string(), text);
    let again = KnownHosts::parse_with(&kh.write(), limits).expect("re-parse");
    assert_eq!(again, kh, "parse is not stable");
    // Nothing after a NUL is read: cutting every line there gives the same kinds.
    let cut: String = text.split('\n').map(|l| l.split('\0').next().unwrap_or_default()).collect::<Vec<_>>().join("\n");
    if let Ok(cut_kh) = KnownHosts::parse_with(&cut, limits) {
        for (l, c) in kh.lines().iter().zip(cut_kh.lines()) {
            if !matches!(l.kind(), LineKind::Invalid(InvalidReason::LineTooLong { .. })) {
                assert_eq!(l.kind(), c.kind(), "a NUL changed what {:?} reads as", l.raw());
            }
        }
    }
    let invalid = kh.lines().iter().filter(|l| matches!(l.kind(), LineKind::Invalid(_))).count();
    assert_eq!(kh.problems().count(), invalid);
    for l in kh.lines() {
        assert!(!l.raw().contains('\n'));
        if let LineKind::Invalid(_) = l.kind() {
            continue;
        }
        assert!(l.raw().len() <= limits.max_line_len);
    }

    // Literal names of the file's entries, with the entry's key.
    // (name, the entry's marker, whether the entry accepts the name, the entry's key).
    let mut names: Vec<(String, Option<Marker>, bool, PublicKey)> = Vec::new();
    for (_, e) in kh.entries() {
        if let Hosts::Patterns(list) = &e.hosts {
            for p in list.split(',') {
                if names.len() < MAX_NAMES && !p.is_empty() && !p.contains(['*', '?', '!']) && p.len() < 1023 {
                    names.push((p.to_owned(), e.marker, e.hosts.matches(p), e.public_key()));
                }
            }
        }
    }
    let keys = keys();
    let new_key = keys.get(usize::from((mode >> 2) & 3) % keys.len()).expect("index in range").clone();
    if names.is_empty() {
        names.push(("localhost".to_owned(), None, false, new_key.clone()));
    }

    let cert = (mode & 2 != 0).then(certificate);
    for (name, marker, accepts, key) in &names {
        let q = HostQuery::new(name, 22).alias(name);
        let found = kh.find(name);
        let revoked = found.iter().any(|(_, e)| e.marker == Some(Marker::Revoked) && e.key == *key.key_data());
        let verdict = kh.check(&q, key.into(), 0);
        for n in &verdict.unreadable_revocations {
            let l = kh.lines().get(n - 1).expect("reported line exists");
            assert!(matches!(l.kind(), LineKind::Invalid(_)) && l.raw().trim_start().starts_with("@revoked"));
        }
        let status = verdict.status;
        let listed = found.iter().any(|(_, e)| e.marker.is_none() && e.key == *key.key_data());
        if marker.is_none() && *accepts {
            assert!(matches!(status, HostStatus::Match { .. } | HostStatus::Revoked { .. }), "{name:?}: {status:?}");
        }
        match &status {
            HostStatus::Revoked { .. } => assert!(revoked),
            HostStatus::Match { line, without_port } => {
                assert!(!revoked && listed && !without_port);
                assert!(found.iter().any(|(l, e)| l == line && e.key == *key.key_data()));
            }
            HostStatus::Mismatch { known } | HostStatus::OtherKeysKnown { known } => {
                assert!(!revoked && !listed && !known.is_empty());
            }
            HostStatus::NotFound => assert!(!revoked && !found.iter().any(|(_, e)| e.marker.is_none())),
            s => panic!("certificate status for a plain key: {s:?}"),
        }
        assert_eq!(status.is_trusted(), listed && !revoked);
        if let Some(c) = &cert {
            let s = kh.check(&HostQuery::new(name, 2222), c.into(), 1_700_000_000).status;
            if let HostStatus::CaSigned { line, .. } = s {
                let ca = kh.lines().get(line - 1).and_then(|l| l.entry()).expect("CA line");
                assert_eq!(ca.marker, Some(Marker::CertAuthority));
                assert_eq!(ca.key, *c.signature_key());
            }
        }

        // Paramiko's view agrees.
        let hk = HostKeys::from(kh.clone());
        let paramiko = hk.check(name, key);
        assert!(!paramiko || listed, "Paramiko layer trusts a key the file does not list");

        // ssh-keygen -R.
        let mut removed = kh.clone();
        let gone = removed.remove(name);
        assert_eq!(gone.len(), found.iter().filter(|(_, e)| e.marker.is_none()).count());
        assert!(removed.find(name).iter().all(|(_, e)| e.marker.is_some()));
        assert_eq!(KnownHosts::parse_with(&removed.write(), limits).expect("re-parse"), removed);

        // Recording a key.
        let mut edited = kh.clone();
        let hashing = if mode & 16 != 0 { Hashing::Rng(&mut SeededRng::new(1)) } else { Hashing::Plain };
        let new_revoked = found.iter().any(|(_, e)| e.marker == Some(Marker::Revoked) && e.key == *new_key.key_data());
        if edited.replace_key(name, new_key.key_data(), hashing).is_ok() {
            assert_eq!(KnownHosts::parse_with(&edited.write(), limits).expect("re-parse"), edited);
            let s = edited.check(&q, (&new_key).into(), 0).status;
            assert!(if new_revoked { s.is_revoked() } else { s.is_trusted() }, "{s:?}");
        }
        let mut added = kh.clone();
        if added.add(name, new_key.key_data(), Hashing::Salt([7; 20])).is_ok() {
            let want = format!("{} {}\n", hash_host(&name.to_ascii_lowercase(), &[7; 20]), key_words(&new_key));
            assert!(added.write().ends_with(&want));
            let s = added.check(&q, (&new_key).into(), 0).status;
            assert!(if new_revoked { s.is_revoked() } else { s.is_trusted() }, "{s:?}");
        }
    }

    // ssh-keygen -H.
    let mut hashed = kh.clone();
    match hashed.hash_all(&mut SeededRng::new(2)) {
        Ok(report) => {
            assert!(report.names <= kh.entries().map(|(_, e)| e.hosts.to_string().split(',').count()).sum());
            assert_eq!(KnownHosts::parse_with(&hashed.write(), limits).expect("re-parse"), hashed);
            for (_, e) in hashed.entries() {
                assert!(e.marker.is_some() || e.hosts.has_wildcards() || matches!(e.hosts, Hosts::Hashed(_)));
            }
        }
        Err(_) => assert_eq!(hashed, kh, "a refused hash_all changed the file"),
    }
}

/// `keytype base64`, without the comment.
fn key_words(k: &PublicKey) -> String {
    k.to_openssh().unwrap_or_default().split(' ').take(2).collect::<Vec<_>>().join(" ")
}

pub(super) fn seeds(out: &mut Seeds) {
    let [ed, ec, ca] = keys();
    let (e, c, a) = (key_words(&ed), key_words(&ec), key_words(&ca));
    let files = [
        ("plain", format!("# known hosts\nlocalhost,127.0.0.1 {e}\n[localhost]:2222 {c} comment\n\n")),
        (
            "hashed",
            format!("{} {e}\n{} {c}\n", hash_host("localhost", &[1; 20]), hash_host("[localhost]:2222", &[2; 20])),
        ),
        ("markers", format!("@cert-authority localhost,*.example.com {a}\n@revoked * {c}\nlocalhost {c}\n")),
        ("patterns", format!("*.example.com,!bad.example.com {e}\nhost? {c}\nA.Example.COM {e}\n")),
        ("crlf-no-final-newline", format!("localhost {e}\r\n# c\r\nlocalhost {c}")),
        ("invalid", format!("@bogus x {e}\n|1|AAAA|BBBB {e}\nhost\nhost ssh-ed25519\nhost ssh-ed25519 !!\nok {e}\n")),
        ("hash-edge", format!("a,,b {e}\n,x {c}\n  lead {e}\n")),
        (
            "revoked-spellings",
            format!(
                "localhost {e}\n@revoked * ED25519 {eb}\n@revoked * ecdsa-sha2-nistp384 {cb}\n@revoked localhost ssh-ed25519 !!\n",
                eb = e.split(' ').nth(1).unwrap_or_default(),
                cb = c.split(' ').nth(1).unwrap_or_default()
            ),
        ),
        ("nul", format!("a\0,* {e}\nlocalhost {c} x\0y\n\0# z\n")),
    ];
    for (name, text) in files {
        for (mode, suffix) in [(0u8, ""), (0x13, "-tiny-cert-hashing"), (0x06, "-cert-ecdsa")] {
            let mut seed = vec![mode];
            seed.extend_from_slice(text.as_bytes());
            out.push(("known_hosts", format!("{name}{suffix}"), seed));
        }
    }
}
