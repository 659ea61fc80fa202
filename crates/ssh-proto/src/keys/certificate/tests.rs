use proptest::prelude::*;
use ssh_key::certificate::Builder;
use ssh_key::{Certificate, PrivateKey};

use super::*;
use crate::SeededRng;
use crate::keys::generate::{KeyType, generate};

fn ed25519(seed: u64) -> PrivateKey {
    generate(KeyType::Ed25519, &mut SeededRng::new(seed)).unwrap()
}

fn cert(ca: &PrivateKey, kind: CertType, principals: &[&str], window: (u64, u64), critical: &[&str]) -> Certificate {
    let subject = ed25519(99);
    let mut b = Builder::new([7u8; 16], subject.public_key().key_data().clone(), window.0, window.1).unwrap();
    b.cert_type(kind).unwrap().key_id("test").unwrap();
    if principals.is_empty() {
        b.all_principals_valid().unwrap();
    }
    for p in principals {
        b.valid_principal(*p).unwrap();
    }
    for c in critical {
        b.critical_option(*c, "").unwrap();
    }
    b.sign(ca).unwrap()
}

#[test]
fn every_refusal_is_told_apart() {
    let ca = ed25519(1);
    let trusted = |k: &KeyData| k == ca.public_key().key_data();
    let host = cert(&ca, CertType::Host, &["*.example.com", "exact.org"], (100, 200), &[]);
    let at = |t| CertificateCheck::new(CertType::Host, t);
    // Principals are literal by default (OpenSSH 9.2); patterns only when asked for.
    assert_eq!(
        check_certificate(&host, &at(150).principal("www.example.com"), trusted),
        Err(CertificateError::PrincipalNotListed { principal: "www.example.com".into() })
    );
    assert_eq!(check_certificate(&host, &at(150).principal("*.example.com"), trusted), Ok(()));
    let wild = |t| at(t).principal_match(PrincipalMatch::Wildcard);
    assert_eq!(check_certificate(&host, &wild(150).principal("www.example.com"), trusted), Ok(()));
    assert_eq!(
        check_certificate(&host, &wild(150).principal("www.example.org"), trusted),
        Err(CertificateError::PrincipalNotListed { principal: "www.example.org".into() })
    );
    assert_eq!(check_certificate(&host, &at(150).principal("exact.org"), trusted), Ok(()));
    assert_eq!(check_certificate(&host, &at(150), trusted), Ok(()));
    assert_eq!(
        check_certificate(&host, &at(150).principal("exact.org.evil"), trusted),
        Err(CertificateError::PrincipalNotListed { principal: "exact.org.evil".into() })
    );
    assert_eq!(check_certificate(&host, &at(99), trusted), Err(CertificateError::NotYetValid { valid_after: 100 }));
    assert_eq!(check_certificate(&host, &at(200), trusted), Err(CertificateError::Expired { valid_before: 200 }));
    assert_eq!(
        check_certificate(&host, &CertificateCheck::new(CertType::User, 150), trusted),
        Err(CertificateError::WrongType { expected: CertType::User })
    );
    assert!(matches!(check_certificate(&host, &at(150), |_| false), Err(CertificateError::UntrustedCa { .. })));
    let ed_only = CertificateCheck { ca_algorithms: &[HostKeyAlgorithm::RsaSha512], ..at(150) };
    assert!(matches!(check_certificate(&host, &ed_only, trusted), Err(CertificateError::CaAlgorithmRefused { .. })));

    // A certificate with no principals is valid for no host and no user (current OpenSSH;
    // 9.2 still took such host certificates for any host).
    let any_host = cert(&ca, CertType::Host, &[], (0, u64::MAX), &[]);
    assert_eq!(
        check_certificate(&any_host, &at(5).principal("anything"), trusted),
        Err(CertificateError::NoPrincipals)
    );
    let nobody = cert(&ca, CertType::User, &[], (0, u64::MAX), &[]);
    let user = CertificateCheck::new(CertType::User, 5);
    assert_eq!(check_certificate(&nobody, &user.principal("alice"), trusted), Err(CertificateError::NoPrincipals));
    // User principals are literal, not patterns.
    let star = cert(&ca, CertType::User, &["*"], (0, u64::MAX), &[]);
    assert!(check_certificate(&star, &user.principal("alice"), trusted).is_err());

    let opts = cert(&ca, CertType::User, &["alice"], (0, u64::MAX), &["force-command", "no-such-option"]);
    assert_eq!(
        check_certificate(&opts, &user.principal("alice"), trusted),
        Err(CertificateError::UnknownCriticalOption { name: "no-such-option".into() })
    );
}

#[test]
fn a_signature_by_another_key_is_refused() {
    let ca = ed25519(1);
    let impostor = ed25519(2);
    let real = cert(&ca, CertType::Host, &["h"], (0, u64::MAX), &[]);
    let forged = cert(&impostor, CertType::Host, &["h"], (0, u64::MAX), &[]);
    // Re-attach the forged signature to a certificate that names the real CA.
    let mut blob = real.to_bytes().unwrap();
    let real_sig = signature_blob(&real);
    let forged_sig = signature_blob(&forged);
    blob.truncate(blob.len() - 4 - real_sig.len());
    blob.put_string(&forged_sig);
    let spliced = Certificate::from_bytes(&blob).unwrap();
    assert!(!verify_ca_signature(&spliced));
    let trusted = |k: &KeyData| k == ca.public_key().key_data();
    assert_eq!(
        check_certificate(&spliced, &CertificateCheck::new(CertType::Host, 1), trusted),
        Err(CertificateError::BadSignature)
    );
    assert!(verify_ca_signature(&real));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// The check agrees with PROTOCOL.certkeys' rules for any window, time and principals,
    /// and a certificate survives encoding (the signed bytes are what the CA signed).
    #[test]
    fn agrees_with_the_rules(
        after in 0u64..1000,
        len in 0u64..1000,
        now in 0u64..2500,
        principals in proptest::collection::vec("[a-c]{1,3}", 0..4),
        want in "[a-c]{1,3}",
        user in any::<bool>(),
    ) {
        let ca = ed25519(3);
        let kind = if user { CertType::User } else { CertType::Host };
        let refs: Vec<&str> = principals.iter().map(String::as_str).collect();
        let c = cert(&ca, kind, &refs, (after, after + len + 1), &[]);
        let again = Certificate::from_bytes(&c.to_bytes().unwrap()).unwrap();
        prop_assert_eq!(&again, &c);
        let trusted = |k: &KeyData| k == ca.public_key().key_data();
        let got = check_certificate(&again, &CertificateCheck::new(kind, now).principal(&want), trusted);
        let in_window = after <= now && now < after + len + 1;
        let listed = principals.contains(&want);
        prop_assert_eq!(got.is_ok(), in_window && listed, "{:?}", got);
    }
}
