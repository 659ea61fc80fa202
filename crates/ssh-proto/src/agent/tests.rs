use std::time::Instant;

use proptest::prelude::*;
use ssh_encoding::base64::{Base64, Encoding};
use ssh_key::Certificate;

use super::*;
use crate::algorithm::{AlgorithmList, HostKeyAlgorithm};
use crate::auth::AuthReply;
use crate::client::Identity as AuthIdentity;
use crate::testing::Pair;
use crate::wire::{Reader, WireWrite};
use crate::{Event, HostKey, KeyPair, SeededRng, client, keys, server};

const NAMES: &[&str] = &["ed25519", "ecdsa256", "ecdsa384", "ecdsa521", "rsa2048"];

fn key_text(name: &str) -> &'static str {
    match name {
        "ed25519" => include_str!("../../testdata/hostkeys/host_ed25519"),
        "ecdsa256" => include_str!("../../testdata/hostkeys/host_ecdsa256"),
        "ecdsa384" => include_str!("../../testdata/hostkeys/host_ecdsa384"),
        "ecdsa521" => include_str!("../../testdata/hostkeys/host_ecdsa521"),
        _ => include_str!("../../testdata/hostkeys/host_rsa2048"),
    }
}

fn cert_text(name: &str) -> &'static str {
    match name {
        "ed25519" => include_str!("../../testdata/hostkeys/host_ed25519-cert.pub"),
        "ecdsa256" => include_str!("../../testdata/hostkeys/host_ecdsa256-cert.pub"),
        "ecdsa384" => include_str!("../../testdata/hostkeys/host_ecdsa384-cert.pub"),
        "ecdsa521" => include_str!("../../testdata/hostkeys/host_ecdsa521-cert.pub"),
        _ => include_str!("../../testdata/hostkeys/host_rsa2048-cert.pub"),
    }
}

fn pair_of(name: &str) -> KeyPair {
    KeyPair::from_openssh(key_text(name)).unwrap()
}

fn plain(name: &str) -> AgentKey {
    AgentKey::new(pair_of(name).private_key()).unwrap()
}

fn certified(name: &str) -> AgentKey {
    let cert = Certificate::from_openssh(cert_text(name)).unwrap();
    AgentKey::with_certificate(pair_of(name).private_key(), cert).unwrap()
}

/// Every fixture key, plain then certified.
fn all_keys() -> Vec<AgentKey> {
    NAMES.iter().map(|n| plain(n)).chain(NAMES.iter().map(|n| certified(n))).collect()
}

fn payload(frame: &[u8]) -> &[u8] {
    let len = u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
    assert_eq!(frame.len(), 4 + len);
    &frame[4..]
}

fn add(key: AgentKey, comment: &str, constraints: Vec<Constraint>) -> Request {
    Request::AddIdentity(Box::new(AddIdentity { key, comment: comment.into(), constraints }))
}

/// One agent, one connection, a fixed clock and RNG.
struct Agent {
    store: MemoryAgent,
    server: AgentServer,
    rng: SeededRng,
    now: u64,
}

impl Agent {
    fn new() -> Self {
        Self { store: MemoryAgent::new(), server: AgentServer::new(), rng: SeededRng::new(5), now: 100 }
    }

    fn bytes(&mut self, input: &[u8]) -> Vec<u8> {
        self.server.handle_input(input, &mut self.store, self.now, &mut self.rng).unwrap();
        let mut out = Vec::new();
        while let Some(b) = self.server.poll_transmit() {
            out.extend_from_slice(&b);
        }
        out
    }

    fn ask(&mut self, req: &Request) -> Response {
        let out = self.bytes(&req.to_frame().unwrap());
        Response::decode(payload(&out)).unwrap()
    }

    fn list(&mut self) -> Vec<Identity> {
        self.ask(&Request::RequestIdentities).into_identities().unwrap()
    }

    fn sign(&mut self, key: &AgentKey, data: &[u8], flags: SignFlags) -> Response {
        self.ask(&Request::Sign(SignRequest { key_blob: key.identity_blob().unwrap(), data: data.to_vec(), flags }))
    }
}

// ---- message encodings -----------------------------------------------------------------

#[test]
fn simple_requests_have_the_documented_bytes() {
    assert_eq!(&Request::RequestIdentities.to_frame().unwrap()[..], [0, 0, 0, 1, 11]);
    assert_eq!(&Request::RemoveAllIdentities.to_frame().unwrap()[..], [0, 0, 0, 1, 19]);
    assert_eq!(&Request::Lock(Secret::new(*b"pw")).to_frame().unwrap()[..], [0, 0, 0, 7, 22, 0, 0, 0, 2, b'p', b'w']);
    assert_eq!(&Request::Unlock(Secret::new(*b"")).to_frame().unwrap()[..], [0, 0, 0, 5, 23, 0, 0, 0, 0]);
    assert_eq!(&Request::RemoveIdentity(vec![9]).to_frame().unwrap()[..], [0, 0, 0, 6, 18, 0, 0, 0, 1, 9]);
    let sign = Request::Sign(SignRequest { key_blob: vec![1], data: vec![2, 3], flags: SignFlags::RSA_SHA2_512 });
    assert_eq!(&sign.to_frame().unwrap()[..], [0, 0, 0, 16, 13, 0, 0, 0, 1, 1, 0, 0, 0, 2, 2, 3, 0, 0, 0, 4]);
    let q = Request::Extension(ExtensionRequest::Query).to_frame().unwrap();
    assert_eq!(&q[..], b"\0\0\0\x0a\x1b\0\0\0\x05query");
    let smartcard = Request::AddSmartcardKey(AddSmartcardKey {
        provider: "/lib/p11.so".into(),
        pin: Secret::new(*b"1234"),
        constraints: vec![Constraint::Lifetime(5)],
    });
    let f = smartcard.to_frame().unwrap();
    assert_eq!(f[4], number::ADD_SMARTCARD_KEY_CONSTRAINED);
    assert_eq!(Request::decode(payload(&f)).unwrap(), smartcard);
    let remove = Request::RemoveSmartcardKey { provider: "p".into(), pin: Secret::new(*b"0") };
    assert_eq!(&remove.to_frame().unwrap()[..], [0, 0, 0, 11, 21, 0, 0, 0, 1, b'p', 0, 0, 0, 1, b'0']);
}

#[test]
fn responses_have_the_documented_bytes() {
    assert_eq!(Response::Success.to_frame(), [0, 0, 0, 1, 6]);
    assert_eq!(Response::Failure.to_frame(), [0, 0, 0, 1, 5]);
    assert_eq!(Response::ExtensionFailure.to_frame(), [0, 0, 0, 1, 28]);
    assert_eq!(Response::Identities(vec![]).to_frame(), [0, 0, 0, 5, 12, 0, 0, 0, 0]);
    let ids = Response::Identities(vec![Identity { key_blob: vec![7], comment: "c".into() }]);
    assert_eq!(ids.to_frame(), [0, 0, 0, 15, 12, 0, 0, 0, 1, 0, 0, 0, 1, 7, 0, 0, 0, 1, b'c']);
    assert_eq!(Response::Signature(vec![1, 2]).to_frame(), [0, 0, 0, 7, 14, 0, 0, 0, 2, 1, 2]);
    let q = Response::Extension(ExtensionResponse::Query(vec!["a".into()]));
    assert_eq!(q.to_frame(), b"\0\0\0\x0f\x1d\0\0\0\x05query\0\0\0\x01a");
    for r in [Response::Success, Response::Failure, ids, q] {
        assert_eq!(Response::decode(payload(&r.to_frame())).unwrap(), r);
    }
}

#[test]
fn constraints_and_extensions_decode_to_their_types() {
    let bind = SessionBind { host_key: vec![1], session_id: vec![2], signature: vec![3], is_forwarding: true };
    let r = Request::Extension(ExtensionRequest::SessionBind(bind.clone()));
    let f = r.to_frame().unwrap();
    assert!(f.ends_with(&[0, 0, 0, 1, 1, 0, 0, 0, 1, 2, 0, 0, 0, 1, 3, 1]));
    assert_eq!(Request::decode(payload(&f)).unwrap(), r);
    // A truncated session-bind is malformed, not opaque.
    assert!(Request::decode(&payload(&f)[..payload(&f).len() - 1]).is_err());
    // Other extensions keep their raw contents.
    let mut p = vec![27];
    p.put_string(b"x@example.com");
    p.extend_from_slice(b"raw");
    let Request::Extension(ExtensionRequest::Other { name, contents }) = Request::decode(&p).unwrap() else { panic!() };
    assert_eq!((name.as_str(), contents.as_slice()), ("x@example.com", &b"raw"[..]));

    let constraints = vec![
        Constraint::Lifetime(60),
        Constraint::Confirm,
        Constraint::MaxSignatures(3),
        Constraint::RestrictDestination(vec![0, 0, 0, 0]),
        Constraint::Extension { name: "sk-provider@openssh.com".into(), data: b"\0\0\0\x03lib".to_vec() },
    ];
    let r = add(plain("ed25519"), "k", constraints.clone());
    let f = r.to_frame().unwrap();
    assert_eq!(f[4], number::ADD_ID_CONSTRAINED);
    assert_eq!(Request::decode(payload(&f)).unwrap(), r);
    // Bytes of the first four constraints.
    let mut expected = vec![1, 0, 0, 0, 60, 2, 3, 0, 0, 0, 3, 255];
    expected.put_string(RESTRICT_DESTINATION.as_bytes());
    expected.put_string(&[0, 0, 0, 0]);
    assert!(f.windows(expected.len()).any(|w| w == expected));
    // An unknown constraint type is malformed.
    let mut bad = payload(&add(plain("ed25519"), "k", vec![]).to_frame().unwrap()).to_vec();
    bad[0] = number::ADD_ID_CONSTRAINED;
    bad.push(77);
    assert!(Request::decode(&bad).is_err());
}

/// The private key fields of an OpenSSH key file (after the two check integers, up to the
/// comment) are exactly what ADD_IDENTITY carries.
#[test]
fn add_identity_carries_the_openssh_private_key_layout() {
    for name in NAMES {
        let text = key_text(name);
        let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
        let raw = Base64::decode_vec(&body).unwrap();
        let mut r = Reader::new(&raw[b"openssh-key-v1\0".len()..]);
        for _ in 0..3 {
            r.string().unwrap(); // cipher, kdf, kdf options
        }
        assert_eq!(r.u32().unwrap(), 1);
        r.string().unwrap(); // public key
        let private = r.string().unwrap();
        let mut p = Reader::new(&private[8..]);
        let start = p.remaining();
        let key = AgentKey::decode(&mut p).unwrap();
        let fields = &start[..start.len() - p.remaining().len()];
        let comment = p.string().unwrap();

        let frame = add(key.clone(), std::str::from_utf8(comment).unwrap(), vec![]).to_frame().unwrap();
        let mut expected = vec![number::ADD_IDENTITY];
        expected.extend_from_slice(fields);
        expected.put_string(comment);
        assert_eq!(payload(&frame), expected, "{name}");
        assert_eq!(key, plain(name));
    }
}

#[test]
fn certificate_keys_carry_the_cert_blob_then_private_fields() {
    for name in NAMES {
        let key = certified(name);
        let frame = add(key.clone(), "c", vec![]).to_frame().unwrap();
        let mut r = Reader::new(&payload(&frame)[1..]);
        let cert = key.certificate().unwrap();
        assert_eq!(r.string().unwrap(), cert.algorithm().to_certificate_type().as_bytes());
        assert_eq!(r.string().unwrap(), cert.to_bytes().unwrap());
        // What follows is the private part only: Ed25519 (pk, sk‖pk), ECDSA (d), RSA (d, iqmp, p, q).
        let fields = match name.as_bytes()[0] {
            b'e' if name.starts_with("ed") => 2,
            b'e' => 1,
            _ => 4,
        };
        for _ in 0..fields {
            r.string().unwrap();
        }
        assert_eq!(r.string().unwrap(), b"c");
        r.finish().unwrap();
        assert_eq!(Request::decode(payload(&frame)).unwrap(), add(key, "c", vec![]));
    }
    // A certificate for another key is refused.
    let other = Certificate::from_openssh(cert_text("ecdsa256")).unwrap();
    assert!(AgentKey::with_certificate(pair_of("ed25519").private_key(), other).is_err());
}

#[test]
fn secret_frames_are_sized_exactly_so_nothing_is_reallocated() {
    for key in all_keys() {
        let f = add(key, "comment", vec![Constraint::Lifetime(1), Constraint::Confirm]).to_frame().unwrap();
        assert_eq!(f.capacity(), f.len());
    }
    let lock = Request::Lock(Secret::new(vec![1; 100])).to_frame().unwrap();
    assert_eq!(lock.capacity(), lock.len());
    assert_eq!(format!("{:?}", Secret::new(*b"hunter2")), "Secret(..)");
}

#[test]
fn malformed_and_unknown_messages_are_errors() {
    assert_eq!(Request::decode(&[]), Err(AgentError::EmptyMessage));
    assert_eq!(Request::decode(&[99]), Err(AgentError::UnknownMessage(99)));
    assert_eq!(Response::decode(&[11]), Err(AgentError::UnknownMessage(11)));
    assert!(matches!(Request::decode(&[11, 0]), Err(AgentError::Wire(_))));
    assert!(matches!(Response::decode(&[6, 0]), Err(AgentError::Wire(_))));
    assert!(matches!(Response::decode(&[12, 0xff, 0xff, 0xff, 0xff]), Err(AgentError::Wire(_))));
    // A key whose public half does not match its private half.
    let mut p = payload(&add(plain("ed25519"), "k", vec![]).to_frame().unwrap()).to_vec();
    p[1 + 4 + 11 + 4] ^= 1;
    assert!(Request::decode(&p).is_err());
}

// ---- framing -----------------------------------------------------------------------------

#[test]
fn frames_are_found_in_any_fragmentation_and_limited() {
    let mut stream = Request::RequestIdentities.to_frame().unwrap().to_vec();
    stream.extend_from_slice(&Request::Lock(Secret::new(*b"x")).to_frame().unwrap());
    for size in 1..stream.len() {
        let mut d = FrameDecoder::default();
        let mut got = Vec::new();
        for piece in stream.chunks(size) {
            d.push(piece);
            while let Some(p) = d.next_frame().unwrap() {
                got.push(p.to_vec());
            }
        }
        assert_eq!(got, vec![vec![11], vec![22, 0, 0, 0, 1, b'x']]);
        assert_eq!(d.buffered(), 0);
    }
    let mut d = FrameDecoder::new(8);
    d.push(&[0, 0, 0, 9]);
    assert_eq!(d.next_frame(), Err(AgentError::TooLong { len: 9, max: 8 }));
    assert_eq!(FrameDecoder::default().max_message(), 256 * 1024);
}

// ---- the in-memory agent -----------------------------------------------------------------

#[test]
fn add_list_sign_remove() {
    let mut a = Agent::new();
    assert!(a.list().is_empty());
    for (i, key) in all_keys().into_iter().enumerate() {
        assert_eq!(a.ask(&add(key, &format!("key {i}"), vec![])), Response::Success);
    }
    let ids = a.list();
    assert_eq!(ids.len(), 10);
    for (i, (id, key)) in ids.iter().zip(all_keys()).enumerate() {
        assert_eq!(id.key_blob, key.identity_blob().unwrap());
        assert_eq!(id.comment, format!("key {i}"));
        assert_eq!(id.certificate().is_some(), i >= 5);
        assert_eq!(id.public_key().unwrap().key_data(), key.public_key().unwrap().key_data());
    }
    // Re-adding an identity replaces it.
    assert_eq!(a.ask(&add(plain("ed25519"), "renamed", vec![])), Response::Success);
    assert_eq!(a.list().len(), 10);
    assert_eq!(a.list()[0].comment, "renamed");

    for key in all_keys() {
        let public = key.public_key().unwrap();
        let family = crate::keys::family_of(public.key_data()).unwrap();
        let cases: Vec<(SignFlags, HostKeyAlgorithm)> = if family == crate::algorithm::KeyFamily::Rsa {
            vec![
                (SignFlags::NONE, HostKeyAlgorithm::SshRsa),
                (SignFlags::RSA_SHA2_256, HostKeyAlgorithm::RsaSha256),
                (SignFlags::RSA_SHA2_512, HostKeyAlgorithm::RsaSha512),
                (SignFlags(6), HostKeyAlgorithm::RsaSha256),
            ]
        } else {
            vec![(SignFlags::NONE, keys::plain_algorithms(family)[0])]
        };
        for (flags, alg) in cases {
            let sig = a.sign(&key, b"to be signed", flags).into_signature().unwrap();
            assert!(keys::verify(public.key_data(), alg, &sig, b"to be signed"), "{alg:?}");
            assert!(!keys::verify(public.key_data(), alg, &sig, b"other data"));
        }
    }
    // Unknown key.
    let stranger = AgentKey::new(KeyPair::generate_ed25519(&mut SeededRng::new(9)).private_key()).unwrap();
    assert_eq!(a.sign(&stranger, b"x", SignFlags::NONE), Response::Failure);
    assert_eq!(a.ask(&Request::RemoveIdentity(stranger.identity_blob().unwrap())), Response::Failure);
    // Remove one: the certified form of the same key stays.
    assert_eq!(a.ask(&Request::RemoveIdentity(plain("rsa2048").identity_blob().unwrap())), Response::Success);
    assert_eq!(a.list().len(), 9);
    assert_eq!(a.sign(&plain("rsa2048"), b"x", SignFlags::NONE), Response::Failure);
    assert!(matches!(a.sign(&certified("rsa2048"), b"x", SignFlags::NONE), Response::Signature(_)));
    assert_eq!(a.ask(&Request::RemoveAllIdentities), Response::Success);
    assert!(a.list().is_empty());
    assert!(a.store.is_empty());
}

#[test]
fn lock_and_unlock() {
    let mut a = Agent::new();
    a.ask(&add(plain("ed25519"), "k", vec![]));
    assert_eq!(a.ask(&Request::Unlock(Secret::new(*b"pw"))), Response::Failure, "not locked");
    assert_eq!(a.ask(&Request::Lock(Secret::new(*b"pw"))), Response::Success);
    assert!(a.store.is_locked());
    assert!(a.list().is_empty());
    assert_eq!(a.sign(&plain("ed25519"), b"x", SignFlags::NONE), Response::Failure);
    assert_eq!(a.ask(&add(plain("ecdsa256"), "k", vec![])), Response::Failure);
    assert_eq!(a.ask(&Request::Lock(Secret::new(*b"pw"))), Response::Failure, "already locked");
    assert_eq!(a.ask(&Request::Unlock(Secret::new(*b"wrong"))), Response::Failure);
    assert_eq!(a.ask(&Request::Unlock(Secret::new(*b"pw"))), Response::Success);
    assert_eq!(a.list().len(), 1);
}

#[test]
fn lifetime_uses_the_callers_clock() {
    let mut a = Agent::new();
    a.ask(&add(plain("ed25519"), "short", vec![Constraint::Lifetime(10)]));
    a.ask(&add(plain("ecdsa256"), "long", vec![Constraint::Lifetime(1000)]));
    a.ask(&add(plain("ecdsa384"), "forever", vec![]));
    assert_eq!(a.store.next_expiry(), Some(110));
    a.now = 109;
    assert_eq!(a.list().len(), 3);
    a.now = 110;
    let ids: Vec<String> = a.list().into_iter().map(|i| i.comment).collect();
    assert_eq!(ids, ["long", "forever"]);
    assert_eq!(a.sign(&plain("ed25519"), b"x", SignFlags::NONE), Response::Failure);
    a.store.expire(u64::MAX);
    assert_eq!(a.store.len(), 1);
    assert_eq!(a.store.next_expiry(), None);
}

#[test]
fn confirm_is_a_decision_and_later_requests_wait_for_it() {
    let mut a = Agent::new();
    a.ask(&add(plain("ed25519"), "careful", vec![Constraint::Confirm]));
    let mut stream = Request::Sign(SignRequest {
        key_blob: plain("ed25519").identity_blob().unwrap(),
        data: b"d".to_vec(),
        flags: SignFlags::NONE,
    })
    .to_frame()
    .unwrap()
    .to_vec();
    stream.extend_from_slice(&Request::RequestIdentities.to_frame().unwrap());
    for decision in [Decision::Deny, Decision::Allow] {
        assert!(a.bytes(&stream).is_empty(), "nothing is answered before the decision");
        let Some(AgentEvent::Confirm { token, comment, .. }) = a.server.poll_event() else { panic!() };
        assert_eq!(comment, "careful");
        assert_eq!(
            a.server.confirm(ConfirmToken(99), decision, &mut a.store, 0, &mut a.rng),
            Err(AgentError::UnknownToken)
        );
        a.server.confirm(token, decision, &mut a.store, a.now, &mut a.rng).unwrap();
        let mut out = Vec::new();
        while let Some(b) = a.server.poll_transmit() {
            out.extend_from_slice(&b);
        }
        let mut d = FrameDecoder::default();
        d.push(&out);
        let first = Response::decode(d.next_frame().unwrap().unwrap()).unwrap();
        match decision {
            Decision::Deny => assert_eq!(first, Response::Failure),
            Decision::Allow => assert!(matches!(first, Response::Signature(_))),
        }
        assert_eq!(Response::decode(d.next_frame().unwrap().unwrap()).unwrap().into_identities().unwrap().len(), 1);
    }
    // While a confirmation is pending, input is bounded.
    let mut small = AgentServer::with_max_message(128);
    small.handle_input(&stream, &mut a.store, a.now, &mut a.rng).unwrap();
    assert!(matches!(small.poll_event(), Some(AgentEvent::Confirm { .. })));
    let flood = Request::RequestIdentities.to_frame().unwrap().repeat(60);
    assert!(matches!(
        small.handle_input(&flood, &mut a.store, a.now, &mut a.rng),
        Err(AgentError::Backlog { limit: 264, .. })
    ));
}

#[test]
fn max_signatures_and_unknown_constraints() {
    let mut a = Agent::new();
    a.ask(&add(plain("ed25519"), "k", vec![Constraint::MaxSignatures(1)]));
    assert!(matches!(a.sign(&plain("ed25519"), b"x", SignFlags::NONE), Response::Signature(_)));
    assert_eq!(a.sign(&plain("ed25519"), b"x", SignFlags::NONE), Response::Failure);
    let unknown = Constraint::Extension { name: "x@example.com".into(), data: vec![] };
    assert_eq!(a.ask(&add(plain("ecdsa256"), "k", vec![unknown])), Response::Failure);
    assert_eq!(a.list().len(), 1);
}

#[test]
fn unknown_and_malformed_requests_get_failure() {
    let mut a = Agent::new();
    assert_eq!(a.bytes(&[0, 0, 0, 1, 99]), Response::Failure.to_frame());
    assert_eq!(a.bytes(&[0, 0, 0, 0]), Response::Failure.to_frame());
    assert_eq!(a.bytes(&[0, 0, 0, 3, 13, 0, 0]), Response::Failure.to_frame());
    assert_eq!(a.bytes(&[0, 0, 0, 1, number::ADD_SMARTCARD_KEY]), Response::Failure.to_frame());
    let mut ext = vec![0, 0, 0, 0, 27];
    ext.put_string(b"x@example.com");
    ext[3] = (ext.len() - 4) as u8;
    assert_eq!(a.bytes(&ext), Response::Failure.to_frame());
    assert_eq!(
        a.ask(&Request::Extension(ExtensionRequest::Query)),
        Response::Extension(ExtensionResponse::Query(vec![QUERY.into(), SESSION_BIND.into()]))
    );
    // The stream is still in step after all that.
    assert!(a.list().is_empty());
    // A frame over the limit ends the connection.
    let mut small = AgentServer::with_max_message(16);
    assert!(matches!(
        small.handle_input(&[0, 0, 1, 0], &mut a.store, 0, &mut a.rng),
        Err(AgentError::TooLong { len: 256, max: 16 })
    ));
}

fn session_bind(host: &KeyPair, session_id: &[u8], is_forwarding: bool) -> SessionBind {
    let alg = host.algorithms()[0];
    SessionBind {
        host_key: host.public_key().to_bytes().unwrap(),
        session_id: session_id.to_vec(),
        signature: host.sign(alg, session_id, &mut SeededRng::new(3)).unwrap(),
        is_forwarding,
    }
}

#[test]
fn session_binds_are_verified_and_recorded() {
    let host = pair_of("ecdsa256");
    let mut a = Agent::new();
    let bind = |b: SessionBind| Request::Extension(ExtensionRequest::SessionBind(b));
    let mut forged = session_bind(&host, b"sid-1", true);
    forged.session_id = b"sid-2".to_vec();
    assert_eq!(a.ask(&bind(forged)), Response::Failure);
    assert!(a.server.connection().session_binds().is_empty());
    assert_eq!(a.ask(&bind(session_bind(&host, b"sid-1", true))), Response::Success);
    assert_eq!(a.ask(&bind(session_bind(&host, b"sid-1", true))), Response::Success, "same binding again");
    let other_host = pair_of("ed25519");
    assert_eq!(a.ask(&bind(session_bind(&other_host, b"sid-1", true))), Response::Failure, "sid taken");
    assert_eq!(a.ask(&bind(session_bind(&other_host, b"sid-3", false))), Response::Success);
    assert_eq!(a.ask(&bind(session_bind(&other_host, b"sid-4", true))), Response::Failure, "bound for auth");
    assert_eq!(a.server.connection().session_binds().len(), 2);
    assert!(a.server.connection().is_forwarded());
    // At most MAX_SESSION_BINDS hops are recorded.
    let mut a = Agent::new();
    for i in 0..=MAX_SESSION_BINDS {
        let expected = if i < MAX_SESSION_BINDS { Response::Success } else { Response::Failure };
        assert_eq!(a.ask(&bind(session_bind(&host, format!("sid {i}").as_bytes(), true))), expected, "{i}");
    }
}

#[test]
fn destination_restricted_keys_are_kept_off_forwarded_connections() {
    let mut a = Agent::new();
    let restriction = vec![0, 0, 0, 3, 1, 2, 3];
    a.ask(&add(plain("ed25519"), "restricted", vec![Constraint::RestrictDestination(restriction.clone())]));
    a.ask(&add(plain("ecdsa256"), "free", vec![]));
    let blob = plain("ed25519").identity_blob().unwrap();
    assert_eq!(a.store.destination_restriction(&blob), Some(&restriction[..]));
    assert_eq!(a.list().len(), 2, "local use");
    let b = session_bind(&pair_of("rsa2048"), b"sid", true);
    assert_eq!(a.ask(&Request::Extension(ExtensionRequest::SessionBind(b))), Response::Success);
    let ids: Vec<String> = a.list().into_iter().map(|i| i.comment).collect();
    assert_eq!(ids, ["free"]);
    assert_eq!(a.sign(&plain("ed25519"), b"x", SignFlags::NONE), Response::Failure);
}

// ---- the client ---------------------------------------------------------------------------

#[test]
fn client_matches_responses_to_requests_in_order() {
    let mut c = AgentClient::new();
    let list = c.request_identities();
    let lock = c.send(&Request::Lock(Secret::new(*b"p"))).unwrap();
    assert_eq!(c.outstanding(), 2);
    let mut answers = Response::Identities(vec![]).to_frame();
    answers.extend_from_slice(&[0, 0, 0, 1, 99]); // undecodable: an error for that request only
    for b in answers.chunks(3) {
        c.handle_input(b).unwrap();
    }
    assert_eq!(c.poll_response(), Some((list, Ok(Response::Identities(vec![])))));
    assert_eq!(c.poll_response(), Some((lock, Err(AgentError::UnknownMessage(99)))));
    assert_eq!(c.poll_response(), None);
    assert_eq!(c.handle_input(&Response::Success.to_frame()), Err(AgentError::UnexpectedResponse));
    let mut small = AgentClient::with_max_message(4);
    small.request_identities();
    assert!(small.handle_input(&[0, 0, 0, 5]).is_err());
    assert_eq!(Response::Failure.into_signature(), Err(AgentError::Refused));
    assert_eq!(Response::Failure.into_success(), Err(AgentError::Refused));
}

/// A client connection authenticates with a key that only our in-memory agent holds: the
/// AuthSign event is answered through AgentClient → AgentServer → MemoryAgent, and the
/// signature blob goes to provide_signature untouched.
#[test]
fn publickey_authentication_through_the_agent() {
    for name in NAMES {
        let user_key = pair_of(name);
        let mut store = MemoryAgent::new();
        let mut agent = AgentServer::new();
        let mut rng = SeededRng::new(11);
        let mut ac = AgentClient::new();
        ac.add_identity(AgentKey::new(user_key.private_key()).unwrap(), "user", vec![]).unwrap();
        let list = ac.request_identities();
        let mut round = |ac: &mut AgentClient, store: &mut MemoryAgent, rng: &mut SeededRng| {
            while let Some(b) = ac.poll_transmit() {
                agent.handle_input(&b, store, 0, rng).unwrap();
            }
            while let Some(b) = agent.poll_transmit() {
                ac.handle_input(&b).unwrap();
            }
        };
        round(&mut ac, &mut store, &mut rng);
        ac.poll_response().unwrap().1.unwrap().into_success().unwrap();
        let (id, ids) = ac.poll_response().unwrap();
        assert_eq!(id, list);
        let identity = ids.unwrap().into_identities().unwrap().remove(0);

        let host = HostKey::generate_ed25519(&mut SeededRng::new(1));
        let mut server_config = server::Config::new(vec![host]);
        server_config.auth.publickey_algorithms = AlgorithmList::new(keys::plain_algorithms(user_key.family()));
        let mut p = Pair::new(client::Config::default(), server_config, Instant::now(), 3).unwrap();
        p.auth_policy = Some(Box::new(|_, _| AuthReply::Accept));
        let external = AuthIdentity::External { key: identity.public_key().unwrap(), certificate: None };
        p.client.auth_publickey("alice", external).unwrap();
        p.drive().unwrap();
        let (token, key, alg, data) = p
            .client_events
            .iter()
            .find_map(|e| match e {
                Event::AuthSign { token, key, algorithm, data } => {
                    Some((*token, key.clone(), *algorithm, data.clone()))
                }
                _ => None,
            })
            .expect("sign request");
        let id = ac.sign_for_auth(&key, alg, &data).unwrap();
        round(&mut ac, &mut store, &mut rng);
        let (got, sig) = ac.poll_response().unwrap();
        assert_eq!(got, id);
        p.client.provide_signature(token, &sig.unwrap().into_signature().unwrap()).unwrap();
        p.drive().unwrap();
        assert!(p.client.is_authenticated() && p.server.is_authenticated(), "{name} ({alg:?})");
    }
}

// ---- properties ----------------------------------------------------------------------------

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

fn text() -> impl Strategy<Value = String> {
    "[ -~]{0,20}"
}

fn constraints() -> impl Strategy<Value = Vec<Constraint>> {
    let one = prop_oneof![
        any::<u32>().prop_map(Constraint::Lifetime),
        Just(Constraint::Confirm),
        any::<u32>().prop_map(Constraint::MaxSignatures),
        bytes(40).prop_map(Constraint::RestrictDestination),
    ];
    let last = proptest::option::of(
        ("[a-z]{1,8}@example\\.com", bytes(20)).prop_map(|(name, data)| Constraint::Extension { name, data }),
    );
    (proptest::collection::vec(one, 0..5), last).prop_map(|(mut v, last)| {
        v.extend(last);
        v
    })
}

fn requests() -> impl Strategy<Value = Request> {
    let keys = all_keys();
    prop_oneof![
        Just(Request::RequestIdentities),
        (bytes(64), bytes(64), any::<u32>()).prop_map(|(key_blob, data, f)| Request::Sign(SignRequest {
            key_blob,
            data,
            flags: SignFlags(f)
        })),
        (0..keys.len(), text(), constraints()).prop_map(move |(i, comment, constraints)| add(
            keys[i].clone(),
            &comment,
            constraints
        )),
        bytes(64).prop_map(Request::RemoveIdentity),
        Just(Request::RemoveAllIdentities),
        (text(), bytes(16), constraints()).prop_map(|(provider, pin, constraints)| Request::AddSmartcardKey(
            AddSmartcardKey { provider, pin: Secret::new(pin), constraints }
        )),
        (text(), bytes(16)).prop_map(|(provider, pin)| Request::RemoveSmartcardKey { provider, pin: Secret::new(pin) }),
        bytes(32).prop_map(|p| Request::Lock(Secret::new(p))),
        bytes(32).prop_map(|p| Request::Unlock(Secret::new(p))),
        (bytes(64), bytes(64), bytes(80), any::<bool>()).prop_map(
            |(host_key, session_id, signature, is_forwarding)| {
                Request::Extension(ExtensionRequest::SessionBind(SessionBind {
                    host_key,
                    session_id,
                    signature,
                    is_forwarding,
                }))
            }
        ),
        Just(Request::Extension(ExtensionRequest::Query)),
        ("[a-z]{1,8}@example\\.com", bytes(40))
            .prop_map(|(name, contents)| Request::Extension(ExtensionRequest::Other { name, contents })),
    ]
}

fn responses() -> impl Strategy<Value = Response> {
    prop_oneof![
        Just(Response::Success),
        Just(Response::Failure),
        Just(Response::ExtensionFailure),
        proptest::collection::vec((bytes(64), text()), 0..6).prop_map(|v| Response::Identities(
            v.into_iter().map(|(key_blob, comment)| Identity { key_blob, comment }).collect()
        )),
        bytes(100).prop_map(Response::Signature),
        proptest::collection::vec("[a-z@.-]{0,12}", 0..5)
            .prop_map(|v| Response::Extension(ExtensionResponse::Query(v))),
        ("[a-z]{1,8}@example\\.com", bytes(40))
            .prop_map(|(name, contents)| Response::Extension(ExtensionResponse::Other { name, contents })),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn request_round_trip(req in requests(), chunk in 1usize..64) {
        let frame = req.to_frame().unwrap();
        prop_assert_eq!(frame.capacity(), frame.len());
        prop_assert_eq!(Request::decode(payload(&frame)).unwrap(), req.clone());
        // And through the framer in pieces.
        let mut d = FrameDecoder::default();
        let mut got = None;
        for piece in frame.chunks(chunk) {
            d.push(piece);
            if let Some(p) = d.next_frame().unwrap() {
                got = Some(Request::decode(p).unwrap());
            }
        }
        prop_assert_eq!(got, Some(req));
    }

    #[test]
    fn fragmentation_does_not_change_the_agents_answers(
        reqs in proptest::collection::vec(requests(), 1..8),
        chunk in 1usize..50,
    ) {
        let mut stream = Vec::new();
        // A key the sign requests may name, and one added with confirm (answered Allow).
        stream.extend_from_slice(&add(plain("ed25519"), "k", vec![Constraint::Confirm]).to_frame().unwrap());
        for r in &reqs {
            stream.extend_from_slice(&r.to_frame().unwrap());
        }
        let run = |size: usize| {
            let mut a = Agent::new();
            let mut out = Vec::new();
            for piece in stream.chunks(size) {
                out.extend(a.bytes(piece));
                while let Some(AgentEvent::Confirm { token, .. }) = a.server.poll_event() {
                    a.server.confirm(token, Decision::Allow, &mut a.store, a.now, &mut a.rng).unwrap();
                    while let Some(b) = a.server.poll_transmit() {
                        out.extend_from_slice(&b);
                    }
                }
            }
            out
        };
        let whole = run(stream.len());
        prop_assert_eq!(&run(chunk), &whole);
        // One well-formed response per request.
        let mut d = FrameDecoder::default();
        d.push(&whole);
        let mut n = 0;
        while let Some(p) = d.next_frame().unwrap() {
            prop_assert!(Response::decode(p).is_ok());
            n += 1;
        }
        prop_assert_eq!(n, reqs.len() + 1);
    }

    #[test]
    fn response_round_trip(resp in responses()) {
        prop_assert_eq!(Response::decode(payload(&resp.to_frame())).unwrap(), resp);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in bytes(300), chunk in 1usize..40) {
        for start in [0, 1, 4] {
            let d = data.get(start..).unwrap_or_default();
            if let Ok(r) = Request::decode(d) {
                let again = Request::decode(payload(&r.to_frame().unwrap())).unwrap();
                prop_assert_eq!(again, r);
            }
            if let Ok(r) = Response::decode(d) {
                prop_assert_eq!(Response::decode(payload(&r.to_frame())).unwrap(), r);
            }
        }
        let mut store = MemoryAgent::new();
        let mut server = AgentServer::new();
        let mut client = AgentClient::new();
        for _ in 0..4 {
            client.request_identities();
        }
        for piece in data.chunks(chunk) {
            let _ = server.handle_input(piece, &mut store, 0, &mut SeededRng::new(1));
            let _ = client.handle_input(piece);
        }
    }
}

// ---- OpenSSH's refusals and bounds -------------------------------------------------------

fn bind_req(b: SessionBind) -> Request {
    Request::Extension(ExtensionRequest::SessionBind(b))
}

fn restricted_agent() -> Agent {
    let mut a = Agent::new();
    let r = vec![Constraint::RestrictDestination(vec![0, 0, 0, 3, 1, 2, 3])];
    assert_eq!(a.ask(&add(plain("ed25519"), "restricted", r)), Response::Success);
    assert_eq!(a.ask(&add(plain("ecdsa256"), "free", vec![])), Response::Success);
    a
}

fn comments(a: &mut Agent) -> Vec<String> {
    a.list().into_iter().map(|i| i.comment).collect()
}

#[test]
fn a_failed_session_bind_keeps_restricted_keys_refused() {
    let host = pair_of("ecdsa256");
    let mut a = restricted_agent();
    let mut forged = session_bind(&host, b"sid-1", false);
    forged.session_id = b"sid-2".to_vec();
    assert_eq!(a.ask(&bind_req(forged)), Response::Failure);
    assert_eq!(comments(&mut a), ["free"]);
    assert_eq!(a.sign(&plain("ed25519"), b"x", SignFlags::NONE), Response::Failure);
    // A bind too malformed to decode counts as attempted as well.
    let mut a = restricted_agent();
    let mut frame = vec![number::EXTENSION];
    frame.put_string(SESSION_BIND.as_bytes());
    frame.put_string(b"truncated");
    let mut framed = Vec::new();
    framed.put_string(&frame);
    assert_eq!(Response::decode(payload(&a.bytes(&framed))).unwrap(), Response::Failure);
    assert_eq!(comments(&mut a), ["free"]);
}

#[test]
fn restricted_keys_are_refused_on_any_bound_connection() {
    let mut a = restricted_agent();
    assert_eq!(comments(&mut a), ["restricted", "free"], "local use");
    assert_eq!(a.ask(&bind_req(session_bind(&pair_of("rsa2048"), b"sid", false))), Response::Success);
    assert_eq!(comments(&mut a), ["free"]);
    assert_eq!(a.sign(&plain("ed25519"), b"x", SignFlags::NONE), Response::Failure);
    assert!(matches!(a.sign(&plain("ecdsa256"), b"x", SignFlags::NONE), Response::Signature(_)));
}

#[test]
fn hosts_with_certificates_can_bind() {
    for name in NAMES {
        let host = pair_of(name);
        let mut b = session_bind(&host, b"sid", true);
        b.host_key = Certificate::from_openssh(cert_text(name)).unwrap().to_bytes().unwrap();
        let mut a = Agent::new();
        assert_eq!(a.ask(&bind_req(b.clone())), Response::Success, "{name}");
        // The certificate's key must be the one that signed.
        let other = if *name == "ed25519" { "ecdsa256" } else { "ed25519" };
        b.signature = session_bind(&pair_of(other), b"sid", true).signature;
        assert_eq!(Agent::new().ask(&bind_req(b)), Response::Failure, "{name}");
    }
}

#[test]
fn a_recorded_binding_is_accepted_again_even_at_the_limit() {
    let host = pair_of("ed25519");
    let mut a = Agent::new();
    for i in 0..MAX_SESSION_BINDS {
        assert_eq!(a.ask(&bind_req(session_bind(&host, format!("sid {i}").as_bytes(), true))), Response::Success);
    }
    assert_eq!(a.ask(&bind_req(session_bind(&host, b"sid 3", true))), Response::Success);
    assert_eq!(a.ask(&bind_req(session_bind(&host, b"sid new", true))), Response::Failure);
    assert_eq!(a.server.connection().session_binds().len(), MAX_SESSION_BINDS);
}

#[test]
fn a_locked_agent_refuses_session_bind() {
    let mut a = Agent::new();
    assert_eq!(a.ask(&Request::Lock(Secret::new(*b"pw"))), Response::Success);
    let b = session_bind(&pair_of("ed25519"), b"sid", true);
    assert_eq!(a.ask(&bind_req(b.clone())), Response::Failure);
    assert!(a.server.connection().session_binds().is_empty());
    assert_eq!(a.ask(&Request::Unlock(Secret::new(*b"pw"))), Response::Success);
    assert_eq!(a.ask(&bind_req(b)), Response::Success);
}

#[test]
fn repeated_constraints_refuse_the_add() {
    let repeats = [
        vec![Constraint::Lifetime(5), Constraint::Lifetime(6)],
        vec![Constraint::Confirm, Constraint::Confirm],
        vec![Constraint::MaxSignatures(1), Constraint::MaxSignatures(1)],
        vec![Constraint::RestrictDestination(vec![]), Constraint::Confirm, Constraint::RestrictDestination(vec![])],
    ];
    for cs in repeats {
        let mut a = Agent::new();
        assert_eq!(a.ask(&add(plain("ed25519"), "k", cs.clone())), Response::Failure, "{cs:?}");
        assert!(a.store.is_empty());
    }
    let mut a = Agent::new();
    let all = vec![Constraint::Lifetime(5), Constraint::Confirm, Constraint::MaxSignatures(1)];
    assert_eq!(a.ask(&add(plain("ed25519"), "k", all)), Response::Success);
}

#[test]
fn long_comments_refuse_the_add() {
    let mut a = Agent::new();
    assert_eq!(a.ask(&add(plain("ed25519"), &"c".repeat(MAX_COMMENT), vec![])), Response::Success);
    assert_eq!(a.ask(&add(plain("ecdsa256"), &"c".repeat(MAX_COMMENT + 1), vec![])), Response::Failure);
    assert_eq!(a.store.len(), 1);
}

#[test]
fn certified_ecdsa_keys_must_carry_the_certified_scalar() {
    for name in ["ecdsa256", "ecdsa384", "ecdsa521"] {
        let key = certified(name);
        let frame = add(key.clone(), "c", vec![]).to_frame().unwrap();
        let ssh_key::private::KeypairData::Ecdsa(pair) = key.keypair() else { unreachable!() };
        let scalar = pair.private_key_bytes();
        let at = frame.windows(scalar.len()).position(|w| w == scalar).unwrap();
        let mut forged = frame.to_vec();
        forged[at + scalar.len() - 1] ^= 1;
        assert!(Request::decode(payload(&frame)).is_ok(), "{name}");
        assert!(matches!(Request::decode(payload(&forged)), Err(AgentError::Key(_))), "{name}");
    }
}

#[test]
fn many_frames_in_one_piece_decode_in_linear_time() {
    let n = 1_000_000;
    let mut input = Vec::with_capacity(n * 5);
    for _ in 0..n {
        input.extend_from_slice(&[0, 0, 0, 1, 11]);
    }
    let start = Instant::now();
    let mut d = FrameDecoder::default();
    d.push(&input);
    let mut count = 0;
    while let Some(f) = d.next_frame().unwrap() {
        assert_eq!(f, [11]);
        count += 1;
    }
    assert_eq!((count, d.buffered()), (n, 0));
    // Moving the rest of 5 MB per frame takes minutes; linear work takes milliseconds.
    assert!(start.elapsed().as_secs() < 5, "{:?}", start.elapsed());
}

#[test]
fn one_read_of_many_requests_queues_bounded_output() {
    let mut a = Agent::new();
    for name in NAMES {
        assert_eq!(a.ask(&add(plain(name), &"c".repeat(1000), vec![])), Response::Success);
    }
    let one = Request::RequestIdentities.to_frame().unwrap();
    let n = 2000;
    let input: Vec<u8> = one.iter().copied().cycle().take(one.len() * n).collect();
    a.server.handle_input(&input, &mut a.store, a.now, &mut a.rng).unwrap();
    let mut first = Vec::new();
    while let Some(b) = a.server.poll_transmit() {
        first.push(b);
    }
    let answer = first[0].len();
    let bytes: usize = first.iter().map(Vec::len).sum();
    assert!(bytes < 2 * DEFAULT_MAX_MESSAGE + answer, "{bytes}");
    assert!(first.len() < n);
    assert_eq!(a.server.queued_output(), 0);
    // The rest is answered as the queue drains, each answer whole and in order.
    let mut answered = first.len();
    while a.server.has_unanswered() {
        let out = a.bytes(&[]);
        assert_eq!(out.len() % answer, 0);
        answered += out.len() / answer;
    }
    assert_eq!(answered, n);
    assert!(!a.server.has_unanswered());
}

#[test]
fn a_client_that_never_reads_cannot_grow_the_input_buffer() {
    let mut a = Agent::new();
    assert_eq!(a.ask(&add(plain("rsa2048"), &"c".repeat(1000), vec![])), Response::Success);
    let one = Request::RequestIdentities.to_frame().unwrap();
    let burst: Vec<u8> = one.iter().copied().cycle().take(one.len() * 20_000).collect();
    let mut result = Ok(());
    for _ in 0..20 {
        result = a.server.handle_input(&burst, &mut a.store, a.now, &mut a.rng);
        if result.is_err() {
            break;
        }
    }
    assert!(matches!(result, Err(AgentError::Backlog { .. })), "{result:?}");
    assert!(a.server.queued_output() < a.server.output_budget() + 2000);
}

#[test]
fn failed_unlocks_are_counted_for_the_driver() {
    let mut a = Agent::new();
    a.ask(&Request::Lock(Secret::new(*b"pw")));
    for i in 1..=3 {
        assert_eq!(a.ask(&Request::Unlock(Secret::new(*b"no"))), Response::Failure);
        assert_eq!(a.store.failed_unlocks(), i);
    }
    assert_eq!(a.ask(&Request::Unlock(Secret::new(*b"pw"))), Response::Success);
    assert_eq!(a.store.failed_unlocks(), 0);
    a.ask(&Request::Lock(Secret::new(*b"pw")));
    for _ in 0..MAX_UNLOCK_FAILURES + 5 {
        a.ask(&Request::Unlock(Secret::new(*b"no")));
    }
    assert_eq!(a.store.failed_unlocks(), MAX_UNLOCK_FAILURES);
}

#[test]
fn connections_know_whether_a_bind_was_attempted() {
    let mut a = Agent::new();
    assert!(a.server.connection().is_local());
    let mut forged = session_bind(&pair_of("ed25519"), b"sid", true);
    forged.session_id = b"other".to_vec();
    a.ask(&bind_req(forged));
    let c = a.server.connection();
    assert!(c.bind_attempted() && !c.is_local() && c.session_binds().is_empty());
}
