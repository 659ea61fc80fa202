use proptest::prelude::*;
use ssh_key::certificate::{Builder, CertType};
use ssh_key::{Certificate, PublicKey};

use super::paramiko::HostKeys;
use super::*;
use crate::keys::certificate::CertificateError;
use crate::wire::WireWrite;
use crate::{KeyPair, SeededRng};

fn pubkey(text: &str) -> PublicKey {
    PublicKey::from_openssh(text).unwrap()
}

fn ed25519() -> PublicKey {
    pubkey(include_str!("../../testdata/hostkeys/host_ed25519.pub"))
}
fn ecdsa() -> PublicKey {
    pubkey(include_str!("../../testdata/hostkeys/host_ecdsa256.pub"))
}
fn rsa() -> PublicKey {
    pubkey(include_str!("../../testdata/hostkeys/host_rsa2048.pub"))
}
fn ca_ed25519() -> PublicKey {
    pubkey(include_str!("../../testdata/hostkeys/ca_ed25519.pub"))
}
fn ca_rsa() -> PublicKey {
    pubkey(include_str!("../../testdata/hostkeys/ca_rsa.pub"))
}
/// Signed by the RSA CA for `localhost`.
fn cert_ed25519() -> Certificate {
    Certificate::from_openssh(include_str!("../../testdata/hostkeys/host_ed25519-cert.pub")).unwrap()
}
/// Signed by the Ed25519 CA for `localhost` and `127.0.0.1`.
fn cert_rsa() -> Certificate {
    Certificate::from_openssh(include_str!("../../testdata/hostkeys/host_rsa2048-cert.pub")).unwrap()
}

/// `type base64` of a key.
fn k(key: &PublicKey) -> String {
    key_text(key.key_data()).unwrap()
}

fn other_ed25519(seed: u64) -> PublicKey {
    KeyPair::generate_ed25519(&mut SeededRng::new(seed)).public_key().clone()
}

/// A host certificate for `key`, signed by the test Ed25519 CA.
fn host_cert(key: &PublicKey, principals: &[&str], valid_after: u64, valid_before: u64) -> Certificate {
    let ca = KeyPair::from_openssh(include_str!("../../testdata/hostkeys/ca_ed25519")).unwrap();
    let mut b =
        Builder::new_with_random_nonce(&mut SeededRng::new(9), key.key_data().clone(), valid_after, valid_before)
            .unwrap();
    b.cert_type(CertType::Host).unwrap();
    for p in principals {
        b.valid_principal(*p).unwrap();
    }
    if principals.is_empty() {
        b.all_principals_valid().unwrap();
    }
    b.sign(ca.private_key()).unwrap()
}

fn parse(text: &str) -> KnownHosts {
    let kh = KnownHosts::parse(text).unwrap();
    assert_eq!(kh.write(), text, "round trip");
    kh
}

fn status(kh: &KnownHosts, host: &str, port: u16, key: &PublicKey) -> HostStatus {
    kh.check_host(host, port, key.into(), 0)
}

// ---- parsing -------------------------------------------------------------------------------

#[test]
fn keeps_every_byte() {
    let e = k(&ed25519());
    for text in [
        String::new(),
        "\n".to_owned(),
        "\n\n \t\n".to_owned(),
        format!("# comment\nhost {e}"),
        format!("host {e}\r\n# c\r\n\r\n  @bogus x y\r\nlast {e} trailing \t "),
        "\u{0}\u{7f}garbage ü\n|1|x|y ssh-ed25519 AAAA\n@revoked\n".to_owned(),
    ] {
        parse(&text);
    }
}

#[test]
fn entries_and_their_parts() {
    let (e, r, c) = (k(&ed25519()), k(&rsa()), k(&ca_ed25519()));
    let hashed = hash_host("example.com", &[0; 20]);
    let text = format!(
        "# header\n\nExample.com,192.0.2.1 {e} my comment  \n  [h]:2222\t{r}\n{hashed} {e}\n@cert-authority *.example.com {c}\n@revoked\t* {e}\n"
    );
    let kh = parse(&text);
    let entries: Vec<_> = kh.entries().collect();
    assert_eq!(entries.len(), 4, "{:?}", kh.problems().collect::<Vec<_>>());
    let (n, first) = entries[0];
    assert_eq!(n, 3);
    assert_eq!(first.hosts, Hosts::patterns("Example.com,192.0.2.1"));
    assert_eq!(first.comment, "my comment  ");
    assert_eq!(first.key, *ed25519().key_data());
    assert_eq!(first.marker, None);
    assert_eq!(entries[1].1.hosts, Hosts::patterns("[h]:2222"));
    assert_eq!(entries[1].1.comment, "");
    assert_eq!(entries[2].1.hosts, Hosts::Hashed(HashedHost::parse(&hashed).unwrap()));
    assert_eq!(entries[3].1.marker, Some(Marker::CertAuthority));
    // `@revoked<TAB>*`: the marker runs to the first *space*, so this is not a marker.
    assert_eq!(kh.problems().map(|p| (p.line, p.reason)).collect::<Vec<_>>(), [(7, InvalidReason::BadMarker)]);
    assert!(matches!(kh.lines()[0].kind(), LineKind::Comment));
    assert!(matches!(kh.lines()[1].kind(), LineKind::Blank));
}

#[test]
fn invalid_lines_are_kept_and_reported() {
    let e = k(&ed25519());
    let ecdsa_blob = k(&ecdsa());
    let blob = ecdsa_blob.split(' ').nth(1).unwrap();
    let long = format!("h {e} {}", "x".repeat(70_000));
    let cases: Vec<(String, InvalidReason)> = vec![
        (format!("@bogus h {e}"), InvalidReason::BadMarker),
        (format!("@revoked @revoked h {e}"), InvalidReason::BadMarker),
        ("@revoked".to_owned(), InvalidReason::BadMarker),
        (format!("@ h {e}"), InvalidReason::BadMarker),
        ("host".to_owned(), InvalidReason::MissingKey),
        ("host   # nothing".to_owned(), InvalidReason::MissingKey),
        ("@revoked host ".to_owned(), InvalidReason::MissingKey),
        ("host ssh-ed25519".to_owned(), InvalidReason::MissingKeyData),
        ("host ssh-ed25519  \t".to_owned(), InvalidReason::MissingKeyData),
        ("host ssh-ed25519 !!!!".to_owned(), InvalidReason::BadBase64),
        ("host ssh-ed25519 AAAAC3NzaC1lZDI1NTE5".to_owned(), InvalidReason::BadKey(String::new())),
        (
            format!("host ssh-ed25519 {blob}"),
            InvalidReason::KeyTypeMismatch { declared: "ssh-ed25519".into(), actual: "ecdsa-sha2-nistp256".into() },
        ),
        (format!("|1|AAAA|BBBB {e}"), InvalidReason::BadHostHash),
        (format!("|2|AAAAAAAAAAAAAAAAAAAAAAAAAAA=|AAAAAAAAAAAAAAAAAAAAAAAAAAA= {e}"), InvalidReason::BadHostHash),
        (format!("{},x {e}", hash_host("a", &[1; 20])), InvalidReason::BadHostHash),
        (long.clone(), InvalidReason::LineTooLong { len: long.len(), max: 65_536 }),
    ];
    for (line, want) in cases {
        let text = format!("# before\n{line}\nok {e}\n");
        let kh = parse(&text);
        let problems: Vec<Problem> = kh.problems().collect();
        assert_eq!(problems.len(), 1, "{line:?}: {problems:?}");
        assert_eq!(problems[0].line, 2);
        match (&problems[0].reason, &want) {
            (InvalidReason::BadKey(_), InvalidReason::BadKey(_)) => {}
            (got, want) => assert_eq!(got, want, "{line:?}"),
        }
        assert_eq!(kh.entries().count(), 1);
        assert!(!problems[0].to_string().is_empty());
    }
}

#[test]
fn size_limits() {
    let limits = ParseLimits { max_line_len: 10, max_lines: 3, max_total_len: 20 };
    assert_eq!(KnownHosts::parse_with("a\nb\nc", limits).unwrap().len(), 3);
    assert_eq!(KnownHosts::parse_with("a\nb\nc\n", limits).unwrap().len(), 3);
    assert_eq!(KnownHosts::parse_with("a\nb\nc\nd", limits), Err(ParseError::TooManyLines { max: 3 }));
    assert_eq!(KnownHosts::parse_with(&"x".repeat(21), limits), Err(ParseError::TooLarge { len: 21, max: 20 }));
    let kh = KnownHosts::parse_with("01234567890\n", limits).unwrap();
    assert_eq!(kh.problems().next().unwrap().reason, InvalidReason::LineTooLong { len: 11, max: 10 });
    assert_eq!(kh.write(), "01234567890\n");
    // Edits respect the limits too, and a refused one changes nothing.
    let mut kh = KnownHosts::parse_with("", limits).unwrap();
    assert!(matches!(kh.add("h", ed25519().key_data(), Hashing::Plain), Err(EditError::LineTooLong { .. })));
    let e = k(&ed25519());
    let wide = ParseLimits { max_line_len: 200, max_lines: 1, max_total_len: 1000 };
    let text = format!("a,b {e}\n");
    let mut kh = KnownHosts::parse_with(&text, wide).unwrap();
    assert_eq!(kh.hash_all(&mut SeededRng::new(1)), Err(EditError::FileTooLarge));
    assert_eq!(kh.write(), text);
    let narrow = ParseLimits { max_line_len: e.len() + 4, ..ParseLimits::DEFAULT };
    let mut kh = KnownHosts::parse_with(&text, narrow).unwrap();
    assert!(matches!(kh.hash_all(&mut SeededRng::new(1)), Err(EditError::LineTooLong { .. })));
    assert_eq!(kh.write(), text);
}

// ---- matching ------------------------------------------------------------------------------

#[test]
fn host_patterns() {
    for (list, name, want) in [
        ("a.example.com", "a.example.com", true),
        ("A.Example.COM", "a.example.com", true),
        ("*.example.com", "a.example.com", true),
        ("*.example.com,!b.example.com", "b.example.com", false),
        ("!b.example.com,*.example.com", "b.example.com", false),
        ("!b.example.com", "c.example.com", false),
        ("h?", "h1", true),
        ("[h]:2222", "[h]:2222", true),
        ("h", "[h]:2222", false),
        ("[h]:*", "[h]:2222", true),
        ("a,,b", "b", true),
        ("a,", "", false),
        (",a", "", true),
    ] {
        assert_eq!(Hosts::patterns(list).matches(name), want, "{list:?} vs {name:?}");
    }
    // match.c gives up on the first subpattern of 1023 bytes or more.
    let long = "x".repeat(1023);
    assert!(!Hosts::patterns(format!("{long},h")).matches("h"));
    assert!(Hosts::patterns(format!("h,{}", &long[1..])).matches("h"));
    assert!(!Hosts::patterns(format!("h,{long}")).matches("h"));
}

#[test]
fn hashed_names_match_openssh_vectors() {
    // Computed with Python's hmac/hashlib (the same construction as hostfile.c host_hash).
    assert_eq!(hash_host("example.com", &[0; 20]), "|1|AAAAAAAAAAAAAAAAAAAAAAAAAAA=|SRGPNbcAE3KPE3b6HB7fQ9J/69c=");
    let salt: [u8; 20] = core::array::from_fn(|i| i as u8);
    let h = hash_host("[host.example.com]:2222", &salt);
    assert_eq!(h, "|1|AAECAwQFBgcICQoLDA0ODxAREhM=|yW3Yt3rMAyAElF+cRRqyYKzg3tI=");
    let parsed = HashedHost::parse(&h).unwrap();
    assert!(parsed.matches("[host.example.com]:2222"));
    assert!(!parsed.matches("[HOST.example.com]:2222"));
    assert!(Hosts::Hashed(parsed).matches("[HOST.example.com]:2222"), "lookups lowercase the name");
    assert_eq!(parsed.salt(), &salt);
    // Non-canonical base64 (stray bits in the last character) is refused, as by b64_pton.
    assert_eq!(HashedHost::parse("|1|AAAAAAAAAAAAAAAAAAAAAAAAAAB=|SRGPNbcAE3KPE3b6HB7fQ9J/69c="), None);
    assert_eq!(HashedHost::parse("|1|AAAAAAAAAAAAAAAAAAAAAAAAAAA|SRGPNbcAE3KPE3b6HB7fQ9J/69c="), None);
    assert_eq!(HashedHost::parse("|1|AAAAAAAAAAAAAAAAAAAAAAAAAAAA|SRGPNbcAE3KPE3b6HB7fQ9J/69c="), None);
}

// ---- lookups -------------------------------------------------------------------------------

#[test]
fn plain_lookups() {
    let (e, ec, r) = (ed25519(), ecdsa(), rsa());
    let text = format!(
        "h1,h2 {}\nh1 {}\n[h1]:2222 {}\n*.wild {}\nh3 {}\n",
        k(&e),
        k(&ec),
        k(&r),
        k(&e),
        k(&other_ed25519(1)),
    );
    let kh = parse(&text);
    assert_eq!(status(&kh, "h1", 22, &e), HostStatus::Match { line: 1, without_port: false });
    assert_eq!(status(&kh, "H2", 22, &e), HostStatus::Match { line: 1, without_port: false });
    assert_eq!(status(&kh, "h1", 22, &ec), HostStatus::Match { line: 2, without_port: false });
    assert_eq!(status(&kh, "x.wild", 22, &e), HostStatus::Match { line: 4, without_port: false });
    assert_eq!(status(&kh, "nowhere", 22, &e), HostStatus::NotFound);
    // Same type, other key: a mismatch carrying the recorded key.
    match status(&kh, "h3", 22, &e) {
        HostStatus::Mismatch { known } => {
            assert_eq!(known.len(), 1);
            assert_eq!(known[0].line, 5);
            assert_eq!(known[0].key.key_data(), other_ed25519(1).key_data());
        }
        s => panic!("{s:?}"),
    }
    // h2 has only an Ed25519 key: an RSA key is of a type not recorded.
    match status(&kh, "h2", 22, &r) {
        s @ HostStatus::OtherKeysKnown { .. } => {
            assert!(s.is_changed() && !s.is_trusted());
            let HostStatus::OtherKeysKnown { known } = s else { unreachable!() };
            assert_eq!(known.iter().map(|k| k.line).collect::<Vec<_>>(), [1]);
        }
        s => panic!("{s:?}"),
    }
    // Port 2222: recorded under [h1]:2222 for RSA; Ed25519 only under the bare name.
    assert_eq!(status(&kh, "h1", 2222, &r), HostStatus::Match { line: 3, without_port: false });
    assert!(matches!(status(&kh, "h1", 2222, &ec), HostStatus::OtherKeysKnown { .. }));
    assert_eq!(status(&kh, "h2", 2222, &e), HostStatus::Match { line: 1, without_port: true });
    let no_fallback = kh.check(&HostQuery::new("h2", 2222).port_fallback(false), (&e).into(), 0);
    assert_eq!(no_fallback.status, HostStatus::NotFound);
    // An alias replaces the name, port and all.
    let aliased = kh.check(&HostQuery::new("10.1.1.1", 2222).alias("h3"), (&e).into(), 0);
    assert!(matches!(aliased.status, HostStatus::Mismatch { .. }));
    // CheckHostIP: a second, independent lookup.
    let v = kh.check(&HostQuery::new("h1", 22).ip("h3"), (&e).into(), 0);
    assert_eq!(v.status, HostStatus::Match { line: 1, without_port: false });
    assert!(matches!(v.ip, Some(HostStatus::Mismatch { .. })));
}

#[test]
fn revoked_wins_wherever_it_is() {
    let e = ed25519();
    let kh = parse(&format!("h {}\n@revoked * {}\n", k(&e), k(&e)));
    assert_eq!(status(&kh, "h", 22, &e), HostStatus::Revoked { line: 2 });
    assert!(status(&kh, "h", 22, &e).is_revoked());
    // A revoked key does not make others revoked.
    assert!(matches!(status(&kh, "h", 22, &other_ed25519(3)), HostStatus::Mismatch { .. }));
    // Marker lines are not host keys.
    let kh = parse(&format!("@cert-authority h {}\n", k(&e)));
    assert_eq!(status(&kh, "h", 22, &e), HostStatus::NotFound);
}

#[test]
fn certificates() {
    let now = 1_700_000_000;
    let (cert, cert2) = (cert_ed25519(), cert_rsa());
    let text = format!(
        "@cert-authority localhost,127.0.0.1 {}\n@cert-authority *.example.com {}\n",
        k(&ca_rsa()),
        k(&ca_ed25519())
    );
    let kh = parse(&text);
    let check = |host: &str, c: &Certificate| kh.check_host(host, 22, c.into(), now);
    // RSA CA (the RSA verification path) and Ed25519 CA.
    assert_eq!(check("localhost", &cert), HostStatus::CaSigned { line: 1, without_port: false });
    // cert2 is signed by the Ed25519 CA, which is trusted only for *.example.com.
    match check("localhost", &cert2) {
        HostStatus::CertificateRejected { ca_line: None, error: CertificateError::UntrustedCa { .. }, plain } => {
            assert_eq!(*plain, HostStatus::NotFound);
        }
        s => panic!("{s:?}"),
    }
    // Trusted CA, wrong principal.
    match check("a.example.com", &cert2) {
        HostStatus::CertificateRejected {
            ca_line: Some(2),
            error: CertificateError::PrincipalNotListed { principal },
            ..
        } => {
            assert_eq!(principal, "a.example.com");
        }
        s => panic!("{s:?}"),
    }
    let ok = host_cert(&ecdsa(), &["a.example.com"], now - 10, now + 10);
    assert_eq!(check("a.example.com", &ok), HostStatus::CaSigned { line: 2, without_port: false });
    let expired = host_cert(&ecdsa(), &["a.example.com"], now - 10, now - 1);
    assert!(matches!(
        check("a.example.com", &expired),
        HostStatus::CertificateRejected { error: CertificateError::Expired { .. }, .. }
    ));
    let future = host_cert(&ecdsa(), &["a.example.com"], now + 10, now + 20);
    assert!(matches!(
        check("a.example.com", &future),
        HostStatus::CertificateRejected { error: CertificateError::NotYetValid { .. }, .. }
    ));
    // No principals: valid for no host (current OpenSSH; 9.2 still accepted it for every host).
    assert!(matches!(
        check("b.example.com", &host_cert(&ecdsa(), &[], 0, u64::MAX)),
        HostStatus::CertificateRejected { error: CertificateError::NoPrincipals, .. }
    ));
    // Alias: the certificate must name the alias.
    let v = kh.check(&HostQuery::new("10.0.0.9", 22).alias("a.example.com"), (&ok).into(), now);
    assert!(matches!(v.status, HostStatus::CaSigned { .. }));

    // A rejected certificate falls back to its plain key.
    let with_plain = parse(&format!("{text}a.example.com {}\n", k(&ecdsa())));
    let s = with_plain.check_host("a.example.com", 22, (&expired).into(), now);
    assert!(s.is_trusted(), "{s:?}");
    assert!(
        matches!(&s, HostStatus::CertificateRejected { plain, .. } if **plain == HostStatus::Match { line: 3, without_port: false })
    );

    // Revoking the CA or the certified key revokes the certificate.
    for revoked in [ca_ed25519(), ecdsa()] {
        let kh = parse(&format!("{text}@revoked * {}\n", k(&revoked)));
        assert_eq!(kh.check_host("a.example.com", 22, (&ok).into(), now), HostStatus::Revoked { line: 3 });
    }

    // A certificate for [host]:port is also tried under the bare name.
    assert_eq!(
        kh.check_host("a.example.com", 2222, (&ok).into(), now),
        HostStatus::CaSigned { line: 2, without_port: true }
    );
    // A user certificate is refused as such.
    let user = {
        let ca = KeyPair::from_openssh(include_str!("../../testdata/hostkeys/ca_ed25519")).unwrap();
        let mut b =
            Builder::new_with_random_nonce(&mut SeededRng::new(1), ecdsa().key_data().clone(), 0, u64::MAX).unwrap();
        b.cert_type(CertType::User).unwrap();
        b.valid_principal("a.example.com").unwrap();
        b.sign(ca.private_key()).unwrap()
    };
    assert!(matches!(
        check("a.example.com", &user),
        HostStatus::CertificateRejected { error: CertificateError::WrongType { .. }, .. }
    ));
}

// ---- edits ---------------------------------------------------------------------------------

#[test]
fn add_plain_and_hashed() {
    let e = ed25519();
    let mut kh = parse("# mine\nlast-without-newline ssh-ed25519 AAAA");
    assert_eq!(kh.add("New.Example.com", e.key_data(), Hashing::Plain).unwrap(), 3);
    assert_eq!(kh.write(), format!("# mine\nlast-without-newline ssh-ed25519 AAAA\nnew.example.com {}\n", k(&e)));
    assert_eq!(kh.add(&host_port_name("H", 2222), e.key_data(), Hashing::Salt([3; 20])).unwrap(), 4);
    let last = kh.lines()[3].raw().to_owned();
    assert_eq!(last, format!("{} {}", hash_host("[h]:2222", &[3; 20]), k(&e)));
    kh.add("rng", e.key_data(), Hashing::Rng(&mut SeededRng::new(4))).unwrap();
    for name in ["new.example.com", "rng"] {
        assert!(status(&kh, name, 22, &e).is_trusted(), "{name}");
    }
    assert!(status(&kh, "h", 2222, &e).is_trusted());
    for bad in ["", "a b", "a,b", "|1|x", "@x", "#x", "!x", "a\nb"] {
        assert!(matches!(kh.add(bad, e.key_data(), Hashing::Plain), Err(EditError::InvalidHostName(_))), "{bad:?}");
    }
    assert_eq!(KnownHosts::parse(&kh.write()).unwrap(), kh);
}

#[test]
fn replace_key_for_a_host() {
    let (old, new, ec) = (other_ed25519(1), ed25519(), ecdsa());
    let text = format!(
        "# keep\na,b {o}\n*.wild {o}\n{h} {o}\nb {ec}\n@revoked a {o}\nc {o}\n",
        o = k(&old),
        h = hash_host("b", &[5; 20]),
        ec = k(&ec)
    );
    let mut kh = parse(&text);
    let r = kh.replace_key("b", new.key_data(), Hashing::Plain).unwrap();
    assert_eq!(r, Replaced { removed: vec![4], narrowed: vec![2], line: 3, unchanged: false });
    assert_eq!(
        kh.write(),
        format!(
            "# keep\na {o}\nb {n}\n*.wild {o}\nb {ec}\n@revoked a {o}\nc {o}\n",
            o = k(&old),
            n = k(&new),
            ec = k(&ec)
        )
    );
    assert_eq!(status(&kh, "b", 22, &new), HostStatus::Match { line: 3, without_port: false });
    assert!(matches!(status(&kh, "a", 22, &old), HostStatus::Revoked { .. }));
    // Again: nothing to do.
    let again = kh.replace_key("B", new.key_data(), Hashing::Plain).unwrap();
    assert!(again.unchanged);
    assert_eq!(again.line, 3);
    // A list left with only negations goes.
    let mut neg = parse(&format!("x,!y {}\n", k(&old)));
    assert_eq!(neg.replace_key("x", new.key_data(), Hashing::Plain).unwrap().removed, [1]);
    assert_eq!(neg.write(), format!("x {}\n", k(&new)));
    // A host with no key of that type: appended.
    let r = kh.replace_key("d", new.key_data(), Hashing::Salt([1; 20])).unwrap();
    assert_eq!((r.removed.len(), r.line), (0, 8));
    assert!(kh.write().ends_with(&format!("{} {}\n", hash_host("d", &[1; 20]), k(&new))));
}

#[test]
fn remove_like_ssh_keygen_r() {
    let (e, o) = (k(&ed25519()), k(&other_ed25519(2)));
    let hashed = hash_host("b.example.com", &[9; 20]);
    let text = format!(
        "# c\na.example.com,b.example.com {e}\n*.example.com {o}\n{hashed} {e}\n@cert-authority *.example.com {e}\n@revoked b.example.com {o}\nbroken line\nz {e}\n"
    );
    let mut kh = parse(&text);
    assert_eq!(kh.remove("B.example.com"), [2, 3, 4]);
    assert_eq!(
        kh.write(),
        format!("# c\n@cert-authority *.example.com {e}\n@revoked b.example.com {o}\nbroken line\nz {e}\n")
    );
    assert!(kh.remove("nothing").is_empty());
}

#[test]
fn find_like_ssh_keygen_f() {
    let e = k(&ed25519());
    let text = format!("a {e}\n[a]:2222 {e}\n{} {e}\n@revoked a {e}\n*.x,!b.x {e}\n", hash_host("[a]:2222", &[4; 20]));
    let kh = parse(&text);
    let lines = |name: &str| kh.find(name).into_iter().map(|(l, _)| l).collect::<Vec<_>>();
    assert_eq!(lines("a"), [1, 4]);
    assert_eq!(lines("A"), [1, 4]);
    assert_eq!(kh.find_host("a", 2222).iter().map(|(l, _)| *l).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(lines("c.x"), [5]);
    assert!(lines("b.x").is_empty());
}

#[test]
fn hash_all_like_ssh_keygen_h() {
    let e = k(&ed25519());
    let text = format!(
        "# c\nA,b {e} comment\r\n*.w {e}\n@revoked r {e}\n{h} {e}\na,,b {e}\n,x {e}\nbad\n  lead {e}",
        h = hash_host("z", &[1; 20])
    );
    let mut kh = parse(&text);
    let report = kh.hash_all(&mut SeededRng::new(7)).unwrap();
    assert_eq!(report.hashed, [2, 6, 7, 9]);
    assert_eq!(report.names, 4);
    assert_eq!(report.wildcards, [3]);
    assert_eq!(report.dropped, [(6, vec!["b".to_owned()]), (7, vec!["x".to_owned()])]);
    let out = kh.write();
    let lines: Vec<&str> = out.split('\n').collect();
    assert_eq!(lines[0], "# c");
    assert!(lines[1].starts_with("|1|") && lines[1].ends_with(&format!(" {e} comment\r")));
    assert!(lines[2].starts_with("|1|") && lines[2].ends_with(&format!(" {e} comment\r")));
    assert_eq!(lines[3], format!("*.w {e}"));
    assert_eq!(lines[4], format!("@revoked r {e}"));
    assert_eq!(lines[5], format!("{} {e}", hash_host("z", &[1; 20])));
    assert!(lines[6].starts_with("|1|"), "a of a,,b");
    assert_eq!(lines[7], "bad");
    assert!(lines[8].starts_with("|1|") && !out.ends_with('\n'), "last line keeps its missing newline");
    let kh2 = KnownHosts::parse(&out).unwrap();
    assert_eq!(kh2, kh);
    for name in ["a", "b", "lead"] {
        assert!(!kh.find(name).is_empty(), "{name}");
    }
    assert!(kh.find("x").is_empty());
}

// ---- Paramiko layer ------------------------------------------------------------------------

#[test]
fn paramiko_host_keys() {
    let (e, ec, o) = (ed25519(), ecdsa(), other_ed25519(5));
    let text =
        format!("# comment\nh1,h2 {}\nh1 {}\nh1 {}\n@cert-authority h1 {}\n", k(&e), k(&ec), k(&o), k(&ca_rsa()));
    let mut hk = HostKeys::from_text(&text).unwrap();
    let m = hk.lookup("h1").unwrap();
    assert_eq!(m.keys().cloned().collect::<Vec<_>>(), ["ecdsa-sha2-nistp256", "ssh-ed25519"]);
    assert_eq!(m["ssh-ed25519"].key_data(), e.key_data(), "first key of a type wins");
    assert!(hk.check("h1", &e));
    assert!(!hk.check("h1", &o), "Paramiko only sees the first key of a type");
    assert!(hk.lookup("nope").is_none());
    assert_eq!(hk.keys(), ["h1", "h2"]);
    assert_eq!(hk.len(), 2);
    // add replaces the key of a line naming the host, in place.
    hk.add("h2", "ssh-ed25519", &o).unwrap();
    assert_eq!(
        hk.save(),
        format!("# comment\nh1,h2 {}\nh1 {}\nh1 {}\n@cert-authority h1 {}\n", k(&o), k(&ec), k(&o), k(&ca_rsa()))
    );
    hk.add("new", "ssh-ed25519", &e).unwrap();
    assert!(hk.check("new", &e));
    assert!(hk.remove("h1"));
    assert!(hk.save().starts_with(&format!("# comment\nh1 {}\n", k(&ec))));
    hk.load(&format!("more {}", k(&e))).unwrap();
    assert!(hk.check("more", &e));
    let salt = "WlpaWlpaWlpaWlpaWlpaWlpaWlo=";
    let h = HostKeys::hash_host("Host", salt).unwrap();
    assert_eq!(h, hash_host("Host", &[0x5a; 20]), "Paramiko does not lowercase");
    assert_eq!(HostKeys::hash_host("Host", &h), Some(h));
    assert_eq!(HostKeys::hash_host("Host", "AAAA"), None);
    // Hashed names look up by name and by their own text, as in Paramiko.
    let hashed = HostKeys::from_text(&format!("{} {}\n", hash_host("x", &[1; 20]), k(&e))).unwrap();
    let names = hashed.keys();
    assert_eq!(names, [hash_host("x", &[1; 20])]);
    assert!(hashed.lookup(&names[0]).is_some() && hashed.lookup("X").is_some());
    assert_eq!(hashed.items().len(), 1);
    hk.clear();
    assert!(hk.is_empty());
    assert_eq!(hk.save(), "");
}

// ---- properties ----------------------------------------------------------------------------

fn keys() -> Vec<PublicKey> {
    vec![ed25519(), ecdsa(), rsa(), ca_ed25519(), other_ed25519(11)]
}

fn name_strategy() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9.\\-\\[\\]:]{1,12}"
}

fn entry_strategy() -> impl Strategy<Value = Entry> {
    let hosts = prop_oneof![
        (name_strategy(), any::<[u8; 20]>()).prop_map(|(n, s)| Hosts::hashed(&n, s)),
        prop::collection::vec(("[!]?", name_strategy(), "[*?]?"), 1..4).prop_map(|v| {
            Hosts::Patterns(v.into_iter().map(|(neg, n, w)| format!("{neg}{n}{w}")).collect::<Vec<_>>().join(","))
        }),
    ];
    let marker = prop_oneof![Just(None), Just(Some(Marker::CertAuthority)), Just(Some(Marker::Revoked))];
    (marker, hosts, 0..5usize, "([a-z0-9@.#|][a-z0-9 @.#|\t]{0,12})?").prop_map(|(marker, hosts, ki, comment)| Entry {
        marker,
        hosts,
        key: keys()[ki].key_data().clone(),
        comment,
    })
}

/// One line of a generated file (without its ending).
fn line_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        entry_strategy().prop_map(|e| e.to_line().unwrap()),
        (entry_strategy(), "[ \t]{0,3}", "[ \t]{1,3}")
            .prop_map(|(e, lead, sep)| { format!("{lead}{}", e.to_line().unwrap().replacen(' ', &sep, 1)) }),
        "[ \t]*#[ -~]{0,20}",
        "[ \t]{0,4}",
        "[@|#!*?,a-z0-9 \t\r=/+-]{0,40}",
        "\\PC{0,30}",
    ]
}

fn file_strategy() -> impl Strategy<Value = String> {
    (prop::collection::vec((line_strategy(), any::<bool>()), 0..12), any::<bool>()).prop_map(|(lines, final_nl)| {
        let mut out = String::new();
        let n = lines.len();
        for (i, (l, crlf)) in lines.into_iter().enumerate() {
            out.push_str(&l.replace('\n', ""));
            if crlf {
                out.push('\r');
            }
            if i + 1 < n || final_nl {
                out.push('\n');
            }
        }
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn write_parse_is_identity(text in file_strategy()) {
        let kh = KnownHosts::parse(&text).unwrap();
        prop_assert_eq!(kh.write(), text.clone());
        prop_assert_eq!(kh.to_string(), text.clone());
        prop_assert_eq!(KnownHosts::parse(&kh.write()).unwrap(), kh);
    }

    #[test]
    fn parse_write_entries_is_identity(entries in prop::collection::vec(entry_strategy(), 0..10)) {
        let mut kh = KnownHosts::new();
        for e in &entries {
            kh.push_entry(e).unwrap();
        }
        let back = KnownHosts::parse(&kh.write()).unwrap();
        let got: Vec<Entry> = back.entries().map(|(_, e)| e.clone()).collect();
        prop_assert_eq!(got, entries);
        prop_assert_eq!(back.problems().count(), 0);
    }

    #[test]
    fn edits_keep_the_file_consistent(
        text in file_strategy(),
        random_name in name_strategy(),
        pick: prop::sample::Index,
        ki in 0..5usize,
        seed: u64,
    ) {
        let key = keys()[ki].key_data().clone();
        let mut kh = KnownHosts::parse(&text).unwrap();
        // Mostly a name the file mentions, so the edits have something to do.
        let mentioned: Vec<String> = kh
            .entries()
            .filter_map(|(_, e)| match &e.hosts {
                Hosts::Patterns(list) => Some(list.split(',').filter(|p| is_literal(p) && !p.is_empty()).map(str::to_owned).collect::<Vec<_>>()),
                Hosts::Hashed(_) => None,
            })
            .flatten()
            .collect();
        let name = if mentioned.is_empty() || pick.index(4) == 0 { random_name } else { pick.get(&mentioned).clone() };
        let before: Vec<(usize, Entry)> = kh.find(&name).into_iter().map(|(l, e)| (l, e.clone())).collect();
        let mut removed = kh.clone();
        let gone = removed.remove(&name);
        prop_assert!(removed.find(&name).iter().all(|(_, e)| e.marker.is_some()));
        prop_assert_eq!(gone.len(), before.iter().filter(|(_, e)| e.marker.is_none()).count());
        prop_assert_eq!(KnownHosts::parse(&removed.write()).unwrap(), removed);

        let r = kh.replace_key(&name, &key, Hashing::Rng(&mut SeededRng::new(seed))).unwrap();
        prop_assert_eq!(KnownHosts::parse(&kh.write()).unwrap(), kh.clone());
        let revoked = before.iter().any(|(_, e)| e.marker == Some(Marker::Revoked) && e.key == key);
        let s = kh.check(&HostQuery::new(&name, 22), (&key).into(), 0).status;
        if revoked {
            prop_assert!(s.is_revoked());
        } else {
            prop_assert!(s.is_trusted(), "{:?} after {:?}", s, r);
        }

        let mut hashed = KnownHosts::parse(&text).unwrap();
        let report = hashed.hash_all(&mut SeededRng::new(seed)).unwrap();
        prop_assert_eq!(KnownHosts::parse(&hashed.write()).unwrap(), hashed.clone());
        prop_assert!(hashed.entries().all(|(_, e)| e.marker.is_some() || e.hosts.has_wildcards() || matches!(e.hosts, Hosts::Hashed(_))));
        let dropped = report.dropped.iter().any(|(_, names)| names.iter().any(|n| n.eq_ignore_ascii_case(&name)));
        if !dropped {
            prop_assert_eq!(hashed.find(&name).len() >= before.len(), true);
        }
    }
}

// ---- review findings -----------------------------------------------------------------------

/// `type base64` of a key under another type word.
fn as_word(key: &PublicKey, word: &str) -> String {
    format!("{word} {}", k(key).split_once(' ').unwrap().1)
}

#[test]
fn revocations_in_every_spelling_openssh_reads() {
    let (r, e) = (rsa(), ed25519());
    for word in ["rsa-sha2-256", "rsa-sha2-512", "ssh-rsa"] {
        let kh = parse(&format!("h {}\n@revoked * {}\n", k(&r), as_word(&r, word)));
        assert_eq!(status(&kh, "h", 22, &r), HostStatus::Revoked { line: 2 }, "{word}");
        // And as the word of a plain entry.
        let kh = parse(&format!("h {}\n", as_word(&r, word)));
        assert!(status(&kh, "h", 22, &r).is_trusted(), "{word}");
    }
    // Short names: honoured on @revoked lines (fail closed), not elsewhere (OpenSSH 9.2's
    // sshkey_read takes full names only).
    for (key, word) in [(&r, "RSA"), (&r, "rsa"), (&e, "ED25519"), (&e, "Ed25519")] {
        let kh = parse(&format!("h {}\n@revoked * {}\n", k(key), as_word(key, word)));
        assert_eq!(status(&kh, "h", 22, key), HostStatus::Revoked { line: 2 }, "{word}");
        let kh = parse(&format!("h {}\n", as_word(key, word)));
        assert_eq!(kh.problems().next().unwrap().reason, InvalidReason::UnknownKeyType(word.into()));
        assert_eq!(status(&kh, "h", 22, key), HostStatus::NotFound);
    }
    // A certificate on a @revoked line revokes the key it certifies.
    let cert = cert_ed25519();
    let cert_text = cert.to_openssh().unwrap();
    let subject = PublicKey::new(cert.public_key().clone(), "");
    let kh = parse(&format!("h {}\n@revoked * {cert_text}\n", k(&subject)));
    assert_eq!(kh.entries().nth(1).unwrap().1.key, *cert.public_key());
    assert_eq!(status(&kh, "h", 22, &subject), HostStatus::Revoked { line: 2 });
    assert!(kh.check(&HostQuery::new("h", 22), (&cert).into(), 1_700_000_000).status.is_revoked());
    // Not on other lines.
    let kh = parse(&format!("h {cert_text}\n"));
    assert_eq!(kh.problems().next().unwrap().reason, InvalidReason::Certificate);
    // The blob's plain type must be the word's: another type, another curve, or a
    // certificate under a plain word are not read.
    let mismatched = [
        format!("@revoked * {}", as_word(&e, "ssh-rsa")),
        format!("@revoked * {}", as_word(&ecdsa(), "ecdsa-sha2-nistp384")),
        format!("@revoked * ssh-ed25519 {}", cert_text.split(' ').nth(1).unwrap()),
    ];
    for line in &mismatched {
        let kh = parse(&format!("{line}\n"));
        assert!(matches!(kh.problems().next().unwrap().reason, InvalidReason::KeyTypeMismatch { .. }), "{line}");
    }
}

#[test]
fn blobs_decode_under_any_name_openssh_decodes() {
    // sshkey_from_blob_internal maps the blob's own type name through
    // sshkey_type_from_name: full names, or short names in any case (not ECDSA's, which
    // names no curve).
    let rebuilt = |key: &PublicKey, inner: &str| {
        let blob = key.to_bytes().unwrap();
        let mut r = crate::wire::Reader::new(&blob);
        r.string().unwrap();
        let mut out = Vec::new();
        out.put_string(inner.as_bytes());
        out.extend_from_slice(r.remaining());
        Base64::encode_string(&out)
    };
    let (r, e, ec) = (rsa(), ed25519(), ecdsa());
    for (key, word, inner, ok) in [
        (&r, "ssh-rsa", "rsa-sha2-512", true),
        (&r, "rsa-sha2-256", "rsa", true),
        (&e, "ssh-ed25519", "ED25519", true),
        (&ec, "ecdsa-sha2-nistp256", "ECDSA", false),
        (&e, "ssh-ed25519", "ED25519-CERT", false),
    ] {
        let kh = parse(&format!("h {word} {}\n", rebuilt(key, inner)));
        assert_eq!(kh.entries().next().map(|(_, en)| &en.key), ok.then(|| key.key_data()), "{word} {inner}");
    }
}

#[test]
fn unreadable_revocations_are_reported() {
    let e = ed25519();
    let text = format!(
        "h {e}\n@revoked * ssh-ed25519 !!!!\n@revoked other ssh-ed25519 !!!!\n@revoked |1|bad x y\n@revoked h nokey\n# @revoked h x\n",
        e = k(&e)
    );
    let kh = parse(&text);
    let v = kh.check(&HostQuery::new("H", 22), (&e).into(), 0);
    assert_eq!(v.status, HostStatus::Match { line: 1, without_port: false });
    assert_eq!(v.unreadable_revocations, [2, 4, 5]);
    assert!(v.status.is_trusted() && !v.is_trusted_strict());
    let v = kh.check(&HostQuery::new("other", 22), (&e).into(), 0);
    assert_eq!(v.unreadable_revocations, [2, 3, 4]);
    // The address and the bare name count too.
    let kh = parse(&format!("[h]:2222 {}\n@revoked [192.0.2.1]:2222 RSA x\n@revoked h RSA x\n", k(&e)));
    let v = kh.check(&HostQuery::new("h", 2222).ip("192.0.2.1"), (&e).into(), 0);
    assert_eq!(v.unreadable_revocations, [2, 3]);
    assert!(parse(&format!("h {}\n", k(&e))).check(&HostQuery::new("h", 22), (&e).into(), 0).is_trusted_strict());
}

#[test]
fn reading_stops_at_nul() {
    let e = ed25519();
    // OpenSSH reads `a`: no key, so no entry; certainly not `*`.
    let kh = parse(&format!("a\0,* {}\n", k(&e)));
    assert_eq!(kh.problems().next().unwrap().reason, InvalidReason::MissingKey);
    assert_eq!(status(&kh, "evil.example.com", 22, &e), HostStatus::NotFound);
    // What follows a NUL after the key is not a comment; the line writes back unchanged.
    let mut kh = parse(&format!("h {} real\0 junk\n\0# x\n", k(&e)));
    assert_eq!(kh.entries().next().unwrap().1.comment, "real");
    assert_eq!(kh.lines()[1].kind(), &LineKind::Blank);
    assert!(status(&kh, "h", 22, &e).is_trusted());
    kh.hash_all(&mut SeededRng::new(1)).unwrap();
    assert_eq!(KnownHosts::parse(&kh.write()).unwrap(), kh);
    // Edits refuse NUL and control characters.
    let entry =
        |hosts: &str, comment: &str| Entry::new(Hosts::patterns(hosts), e.key_data().clone()).with_comment(comment);
    for (hosts, comment) in [("a\0,*", ""), ("a\u{1}", ""), ("a\u{7f}", "")] {
        assert!(matches!(entry(hosts, comment).to_line(), Err(EditError::InvalidHosts(_))), "{hosts:?}");
    }
    for comment in ["x\0y", "x\u{1b}[31m", "x\ry", "x\n"] {
        assert!(matches!(entry("a", comment).to_line(), Err(EditError::InvalidComment(_))), "{comment:?}");
    }
    assert!(entry("a", "tab\tok").to_line().is_ok());
    for bad in ["a\0b", "a\u{1}"] {
        assert!(matches!(KnownHosts::new().add(bad, e.key_data(), Hashing::Plain), Err(EditError::InvalidHostName(_))));
    }
}

#[test]
fn alias_principal_is_lowercased() {
    let now = 1_700_000_000;
    let q = HostQuery::new("10.0.0.1", 22).alias("DB.Example");
    assert_eq!(q.principal(), "db.example");
    let cert = host_cert(&ed25519(), &["db.example"], 0, u64::MAX);
    let kh = parse(&format!("@cert-authority * {}\n", k(&ca_ed25519())));
    assert_eq!(kh.check(&q, (&cert).into(), now).status, HostStatus::CaSigned { line: 1, without_port: false });
}

#[test]
fn host_certificate_principals_are_exact() {
    let now = 1_700_000_000;
    let kh = parse(&format!("@cert-authority * {}\n", k(&ca_ed25519())));
    for principals in [&["*"][..], &["*.example.com"], &["db?example.com"]] {
        let cert = host_cert(&ed25519(), principals, 0, u64::MAX);
        let s = kh.check(&HostQuery::new("db.example.com", 22), (&cert).into(), now).status;
        assert!(
            matches!(&s, HostStatus::CertificateRejected { error: CertificateError::PrincipalNotListed { .. }, .. }),
            "{principals:?}: {s:?}"
        );
    }
}

#[test]
fn recorded_names_are_literal() {
    let e = ed25519();
    for bad in ["*", "*.example.com", "h?", "a!b", "[h]:*"] {
        let mut kh = parse(&format!("x {}\n", k(&other_ed25519(1))));
        assert!(matches!(kh.add(bad, e.key_data(), Hashing::Plain), Err(EditError::InvalidHostName(_))), "{bad}");
        assert!(matches!(kh.replace_key(bad, e.key_data(), Hashing::Plain), Err(EditError::InvalidHostName(_))));
        let mut hk = HostKeys::new();
        assert!(matches!(hk.add(bad, "ssh-ed25519", &e), Err(EditError::InvalidHostName(_))), "{bad}");
        assert!(!hk.check("evil.com", &e));
        assert_eq!(hk.save(), "");
    }
    assert!(KnownHosts::new().add("[h]:2222", e.key_data(), Hashing::Plain).is_ok());
}

#[test]
fn narrowing_that_changes_a_line_is_refused() {
    let (old, new) = (other_ed25519(1), ed25519());
    let evil = hash_host("evil", &[3; 20]);
    // Without `b`, `b,|1|…` would read as a hashed name: `evil` would get the old key.
    let text = format!("b,{evil} {}\nc {}\n", k(&old), k(&old));
    let mut kh = parse(&text);
    assert_eq!(kh.replace_key("b", new.key_data(), Hashing::Plain), Err(EditError::NarrowingChangesLine(1)));
    assert_eq!(kh.write(), text, "nothing changed");
    assert_eq!(status(&kh, "evil", 22, &old), HostStatus::NotFound);
    // `#` or `@` first would make a comment or a marker of it: refused as well.
    for rest in ["#x", "@revoked"] {
        let text = format!("b,{rest} {}\n", k(&old));
        let mut kh = parse(&text);
        assert_eq!(kh.replace_key("b", new.key_data(), Hashing::Plain), Err(EditError::NarrowingChangesLine(1)));
        assert_eq!(kh.write(), text);
    }
}

#[test]
fn replace_key_handles_many_lines_in_one_pass() {
    let (old, new) = (other_ed25519(1), ed25519());
    let n = 20_000;
    let mut text = String::new();
    for i in 0..n {
        text.push_str(&if i % 2 == 0 { format!("h {}\n", k(&old)) } else { format!("h,o{i} {}\n", k(&old)) });
    }
    let mut kh = parse(&text);
    let r = kh.replace_key("h", new.key_data(), Hashing::Plain).unwrap();
    assert_eq!(r.removed, (0..n).step_by(2).map(|i| i + 1).collect::<Vec<_>>());
    assert_eq!(r.narrowed, (1..n).step_by(2).map(|i| i + 1).collect::<Vec<_>>());
    assert_eq!(r.line, 1);
    assert_eq!(kh.len(), n / 2 + 1);
    assert_eq!(kh.lines()[0].raw(), format!("h {}", k(&new)));
    assert_eq!(kh.lines()[1].raw(), format!("o1 {}", k(&old)));
}

#[test]
fn paramiko_keys_and_items_in_one_pass() {
    let e = ed25519();
    let n = 20_000;
    let text: String = (0..n).map(|i| format!("n{i},N{i} {}\n", k(&e))).collect();
    let hk = HostKeys::from_text(&text).unwrap();
    assert_eq!(hk.len(), 2 * n);
    let keys = hk.keys();
    assert_eq!(keys.len(), 2 * n);
    assert_eq!(&keys[..3], ["n0", "N0", "n1"]);
    let items = hk.items();
    assert_eq!(items.len(), 2 * n);
    assert_eq!(items[1].0, "N0");
    assert_eq!(items[1].1["ssh-ed25519"].key_data(), e.key_data());
}

#[test]
fn paramiko_add_takes_hashed_names() {
    let e = ed25519();
    let mut hk = HostKeys::new();
    let h = HostKeys::hash_host("host.example", "WlpaWlpaWlpaWlpaWlpaWlpaWlo=").unwrap();
    hk.add(&h, "ssh-ed25519", &e).unwrap();
    assert_eq!(hk.save(), format!("{h} {}\n", k(&e)));
    assert!(hk.check("host.example", &e));
    assert!(matches!(hk.known_hosts().entries().next().unwrap().1.hosts, Hosts::Hashed(_)));
    // Again: the same line gets the new key.
    let o = other_ed25519(2);
    hk.add(&h, "ssh-ed25519", &o).unwrap();
    assert_eq!(hk.save(), format!("{h} {}\n", k(&o)));
    assert!(matches!(hk.add("|1|bad|hash", "ssh-ed25519", &e), Err(EditError::InvalidHostName(_))));
}

#[test]
fn paramiko_remove_only_names_the_host() {
    let (e, o) = (ed25519(), other_ed25519(2));
    let text = format!("*.x,!b.x {}\na.x {}\n", k(&e), k(&o));
    let mut hk = HostKeys::from_text(&text).unwrap();
    assert!(hk.remove("A.x"));
    assert_eq!(hk.save(), format!("*.x,!b.x {}\n", k(&e)));
    assert!(!hk.remove("c.x"), "a pattern match is not a name");
    assert_eq!(hk.save(), format!("*.x,!b.x {}\n", k(&e)));
    let mut hashed = HostKeys::from_text(&format!("{} {}\n", hash_host("c.x", &[1; 20]), k(&e))).unwrap();
    assert!(hashed.remove("c.x"));
    assert!(hashed.is_empty());
}

#[test]
fn paramiko_check_honours_revoked() {
    let e = ed25519();
    let hk = HostKeys::from_text(&format!("h {e}\n@revoked * {e}\n", e = k(&e))).unwrap();
    assert!(hk.lookup("h").is_some());
    assert!(!hk.check("h", &e));
    let hk = HostKeys::from_text(&format!("h {}\n@revoked h ssh-ed25519 !!!!\n", k(&e))).unwrap();
    assert!(!hk.check("h", &e), "an unreadable revocation fails closed");
    let hk = HostKeys::from_text(&format!("h {}\n@revoked g ssh-ed25519 !!!!\n", k(&e))).unwrap();
    assert!(hk.check("h", &e));
}

#[test]
fn bytes_must_be_utf8() {
    let e = k(&ed25519());
    let text = format!("h {e}\n");
    assert_eq!(KnownHosts::parse_bytes(text.as_bytes(), ParseLimits::DEFAULT).unwrap(), parse(&text));
    let mut bad = text.clone().into_bytes();
    bad.extend_from_slice(b"# caf\xe9\n");
    assert_eq!(KnownHosts::parse_bytes(&bad, ParseLimits::DEFAULT), Err(ParseError::NotUtf8 { line: 2 }));
}
