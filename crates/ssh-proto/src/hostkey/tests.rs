use super::*;
use crate::algorithm::Algorithm;
use crate::rng::SeededRng;

pub(crate) fn fixture(name: &str) -> HostKey {
    let (key, cert) = match name {
        "ed25519" => (
            include_str!("../../testdata/hostkeys/host_ed25519"),
            include_str!("../../testdata/hostkeys/host_ed25519-cert.pub"),
        ),
        "ecdsa256" => (
            include_str!("../../testdata/hostkeys/host_ecdsa256"),
            include_str!("../../testdata/hostkeys/host_ecdsa256-cert.pub"),
        ),
        "ecdsa384" => (
            include_str!("../../testdata/hostkeys/host_ecdsa384"),
            include_str!("../../testdata/hostkeys/host_ecdsa384-cert.pub"),
        ),
        "ecdsa521" => (
            include_str!("../../testdata/hostkeys/host_ecdsa521"),
            include_str!("../../testdata/hostkeys/host_ecdsa521-cert.pub"),
        ),
        "rsa2048" => (
            include_str!("../../testdata/hostkeys/host_rsa2048"),
            include_str!("../../testdata/hostkeys/host_rsa2048-cert.pub"),
        ),
        "dsa" => (
            include_str!("../../testdata/hostkeys/host_dsa"),
            include_str!("../../testdata/hostkeys/host_dsa-cert.pub"),
        ),
        _ => unreachable!(),
    };
    let cert = Certificate::from_openssh(cert.trim()).unwrap();
    HostKey::from_openssh(key).unwrap().with_certificate(cert).unwrap()
}

const ALL: [&str; 6] = ["ed25519", "ecdsa256", "ecdsa384", "ecdsa521", "rsa2048", "dsa"];

#[test]
fn every_algorithm_signs_and_verifies() {
    let mut rng = SeededRng::new(11);
    let data = b"exchange hash";
    for name in ALL {
        let key = fixture(name);
        for alg in key.algorithms() {
            let blob = key.public_blob(alg).unwrap();
            let sig = key.sign(alg, data, &mut rng).unwrap();
            let verified = verify(alg, &blob, &sig, data).unwrap_or_else(|e| panic!("{}: {e}", alg.name()));
            assert_eq!(verified.public_key().key_data(), key.public_key().key_data());
            assert_eq!(verified.certificate().is_some(), alg.is_certificate());
            // Any other message fails.
            assert_eq!(verify(alg, &blob, &sig, b"other"), Err(KexError::BadSignature), "{}", alg.name());
        }
    }
}

#[test]
fn signature_algorithm_must_match() {
    let mut rng = SeededRng::new(12);
    let key = fixture("rsa2048");
    let blob = key.public_blob(HostKeyAlgorithm::RsaSha256).unwrap();
    let sig512 = key.sign(HostKeyAlgorithm::RsaSha512, b"h", &mut rng).unwrap();
    assert_eq!(verify(HostKeyAlgorithm::RsaSha256, &blob, &sig512, b"h"), Err(KexError::BadSignature));
    let ed = fixture("ed25519");
    let ed_blob = ed.public_blob(HostKeyAlgorithm::Ed25519).unwrap();
    assert!(matches!(verify(HostKeyAlgorithm::RsaSha256, &ed_blob, &sig512, b"h"), Err(KexError::InvalidHostKey(_))));
}

#[test]
fn garbage_never_panics() {
    for alg in crate::algorithm::AlgorithmList::<HostKeyAlgorithm>::all().as_slice() {
        for blob in [&b""[..], b"\0\0\0\x0bssh-ed25519\0\0\0\x01x", b"\xff\xff\xff\xff"] {
            assert!(verify(*alg, blob, b"", b"").is_err());
        }
    }
}
