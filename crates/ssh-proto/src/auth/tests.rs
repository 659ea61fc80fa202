//! Pair-harness tests of user authentication, both roles.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ssh_key::certificate::{Builder, CertType};

use super::gss::{self, ClientAction, GssClient, GssFailure, GssServer, GssStep};
use super::*;
use crate::algorithm::{AlgorithmList, HostKeyAlgorithm};
use crate::client::Identity;
use crate::error::{DisconnectReason, Error};
use crate::event::Event;
use crate::hostkey::tests::fixture;
use crate::testing::Pair;
use crate::wire::auth::{RequestMethod, UserauthRequest};
use crate::{KeyPair, SeededRng, client, server};

fn pair_with(client_cfg: client::Config, edit: impl FnOnce(&mut server::Config)) -> Pair {
    let mut s = server::Config::new(vec![fixture("ed25519")]);
    edit(&mut s);
    let mut p = Pair::new(client_cfg, s, Instant::now(), 21).unwrap();
    p.drive().unwrap();
    p
}

fn pair(edit: impl FnOnce(&mut server::Config)) -> Pair {
    pair_with(client::Config::default(), edit)
}

/// The server's pending auth request (the last one raised).
fn last_request(p: &Pair) -> Option<(AuthToken, String, AuthAttempt)> {
    p.server_events.iter().rev().find_map(|e| match e {
        Event::AuthRequest { token, user, attempt, .. } => Some((*token, user.clone(), attempt.clone())),
        _ => None,
    })
}

fn count(events: &[Event], f: impl Fn(&Event) -> bool) -> usize {
    events.iter().filter(|e| f(e)).count()
}

fn failures(p: &Pair) -> Vec<(Vec<String>, bool)> {
    p.client_events
        .iter()
        .filter_map(|e| match e {
            Event::AuthFailure { methods, partial_success } => Some((methods.clone(), *partial_success)),
            _ => None,
        })
        .collect()
}

fn succeeded(p: &Pair) -> bool {
    p.client.is_authenticated()
        && p.server.is_authenticated()
        && count(&p.client_events, |e| matches!(e, Event::AuthSuccess { .. })) == 1
        && count(&p.server_events, |e| matches!(e, Event::AuthSuccess { user } if user == "alice")) == 1
}

fn local(name: &str) -> Identity {
    Identity::Key(Arc::new(fixture(name).key_pair().clone()))
}

#[test]
fn none_and_password_with_failure_listing_methods() {
    let mut p = pair(|_| {});
    p.auth_policy = Some(Box::new(|_, a| match a {
        AuthAttempt::Password { password, new_password: None } if password.expose() == "right" => AuthReply::Accept,
        _ => AuthReply::Reject,
    }));
    p.client.auth_none("alice").unwrap();
    p.drive().unwrap();
    assert_eq!(failures(&p), [(vec!["publickey".into(), "keyboard-interactive".into(), "password".into()], false)]);
    p.client.auth_password("alice", "wrong").unwrap();
    p.drive().unwrap();
    assert_eq!(failures(&p).len(), 2);
    assert!(!p.client.is_authenticated());
    p.client.auth_password("alice", "right").unwrap();
    p.drive().unwrap();
    assert!(succeeded(&p));
    assert_eq!(p.server.user(), Some("alice"));
    // Passwords never show in debug output.
    assert!(!format!("{:?}", p.server_events).contains("right"));
}

#[test]
fn password_change_request() {
    let mut p = pair(|_| {});
    p.auth_policy = Some(Box::new(|_, a| match a {
        AuthAttempt::Password { new_password: None, .. } => AuthReply::ChangePassword { prompt: "expired".into() },
        AuthAttempt::Password { password, new_password: Some(n) }
            if password.expose() == "old" && n.expose() == "new" =>
        {
            AuthReply::Accept
        }
        _ => AuthReply::Reject,
    }));
    p.client.auth_password("alice", "old").unwrap();
    p.drive().unwrap();
    assert!(p.client_events.iter().any(|e| matches!(e, Event::AuthPasswordChange { prompt } if prompt == "expired")));
    p.client.auth_password_change("alice", "old", "new").unwrap();
    p.drive().unwrap();
    assert!(succeeded(&p));
}

#[test]
fn publickey_queries_then_signs_and_a_query_alone_authenticates_nothing() {
    for name in ["ed25519", "ecdsa256", "ecdsa384", "ecdsa521", "rsa2048"] {
        let mut p = pair(|_| {});
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        p.auth_policy = Some(Box::new(move |_, a| {
            if let AuthAttempt::PublicKey { verified, algorithm, .. } = a {
                s2.lock().unwrap().push((*verified, *algorithm));
            }
            AuthReply::Accept
        }));
        p.client.auth_publickey("alice", local(name)).unwrap();
        p.drive().unwrap();
        assert!(succeeded(&p), "{name}");
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 2, "{name}: {seen:?}");
        assert!(!seen[0].0 && seen[1].0, "{name}: query first, then a verified signature");
        if name == "rsa2048" {
            assert_eq!(seen[1].1, HostKeyAlgorithm::RsaSha512, "server-sig-algs lists rsa-sha2-512 first");
        }
    }
}

#[test]
fn rsa_algorithm_follows_server_sig_algs_or_falls_back() {
    // The server lists only rsa-sha2-256: the client signs with it at once.
    let mut p = pair(|s| s.server_sig_algs = vec!["rsa-sha2-256".into()]);
    p.auth_policy = Some(Box::new(|_, _| AuthReply::Accept));
    p.client.auth_publickey("alice", local("rsa2048")).unwrap();
    p.drive().unwrap();
    assert!(succeeded(&p));
    let algs: Vec<_> = p
        .server_events
        .iter()
        .filter_map(|e| match e {
            Event::AuthRequest { attempt: AuthAttempt::PublicKey { algorithm, .. }, .. } => Some(*algorithm),
            _ => None,
        })
        .collect();
    assert_eq!(algs, [HostKeyAlgorithm::RsaSha256, HostKeyAlgorithm::RsaSha256]);

    // No server-sig-algs and a server that accepts only rsa-sha2-256: the refused
    // rsa-sha2-512 query is retried with rsa-sha2-256, with no failure event in between.
    let mut p = pair(|s| {
        s.server_sig_algs = Vec::new();
        s.auth.publickey_algorithms = AlgorithmList::new([HostKeyAlgorithm::RsaSha256]);
    });
    assert_eq!(p.client.server_sig_algs(), None);
    p.auth_policy = Some(Box::new(|_, _| AuthReply::Accept));
    p.client.auth_publickey("alice", local("rsa2048")).unwrap();
    p.drive().unwrap();
    assert!(succeeded(&p));
    assert!(failures(&p).is_empty());
}

#[test]
fn external_signer_answered_late_while_other_traffic_flows() {
    let mut p = pair(|_| {});
    p.auth_policy = Some(Box::new(|_, _| AuthReply::Accept));
    let key = fixture("ecdsa256").key_pair().clone();
    p.client.auth_publickey("alice", Identity::External { key: key.public_key().clone(), certificate: None }).unwrap();
    p.drive().unwrap();
    let (token, alg, data) = p
        .client_events
        .iter()
        .find_map(|e| match e {
            Event::AuthSign { token, algorithm, data, .. } => Some((*token, *algorithm, data.clone())),
            _ => None,
        })
        .expect("sign request");
    // Time passes, traffic flows, a rekey happens: the signature is still wanted.
    p.client.send_ignore(b"meanwhile").unwrap();
    p.client.rekey().unwrap();
    p.advance(Duration::from_secs(30)).unwrap();
    assert!(!p.client.is_authenticated());
    // A signature by another key is refused locally.
    let other = fixture("ed25519").key_pair().sign(HostKeyAlgorithm::Ed25519, &data, &mut SeededRng::new(1)).unwrap();
    assert!(matches!(p.client.provide_signature(token, &other), Err(Error::ApiMisuse(_))));
    let sig = key.sign(alg, &data, &mut SeededRng::new(2)).unwrap();
    p.client.provide_signature(token, &sig).unwrap();
    p.drive().unwrap();
    assert!(succeeded(&p));
}

#[test]
fn external_signer_refusal_fails_the_attempt() {
    let mut p = pair(|_| {});
    p.auth_policy = Some(Box::new(|_, _| AuthReply::Accept));
    let key = fixture("ed25519").key_pair().public_key().clone();
    p.client.auth_publickey("alice", Identity::External { key, certificate: None }).unwrap();
    p.drive().unwrap();
    let token = p.client_events.iter().find_map(|e| match e {
        Event::AuthSign { token, .. } => Some(*token),
        _ => None,
    });
    p.client.signature_failed(token.unwrap()).unwrap();
    p.drive().unwrap();
    assert_eq!(failures(&p).len(), 1);
    // The next attempt may start.
    p.client.auth_none("alice").unwrap();
}

#[test]
fn a_wrong_signature_never_reaches_the_application() {
    let mut p = pair(|_| {});
    p.auth_policy = Some(Box::new(|_, _| AuthReply::Accept));
    p.client.auth_none("alice").unwrap();
    p.auth_policy = Some(Box::new(|_, a| match a {
        AuthAttempt::None => AuthReply::Reject,
        _ => AuthReply::Accept,
    }));
    p.drive().unwrap();
    // A signed request whose signature is over something else.
    let key = fixture("ed25519").key_pair().clone();
    let blob = key.public_key().to_bytes().unwrap();
    let sig = key.sign(HostKeyAlgorithm::Ed25519, b"not the session", &mut SeededRng::new(3)).unwrap();
    let req = UserauthRequest {
        user: "alice",
        service: "ssh-connection",
        method: RequestMethod::PublicKey { algorithm: "ssh-ed25519", key: &blob, signature: Some(&sig) },
    };
    p.client.transport_mut().send(|w| req.encode(w)).unwrap();
    p.client_to_server_only().unwrap();
    assert!(!p.server.is_authenticated());
    assert!(
        !p.server_events.iter().any(|e| matches!(e, Event::AuthRequest { attempt: AuthAttempt::PublicKey { .. }, .. })),
        "the application must not see a request with a bad signature"
    );
}

#[test]
fn keyboard_interactive_two_rounds() {
    let mut p = pair(|_| {});
    p.auth_policy = Some(Box::new(|_, a| match a {
        AuthAttempt::KeyboardInteractive { submethods } => {
            assert_eq!(submethods, &["pam".to_owned()]);
            AuthReply::Prompts(InfoRequest {
                name: "Login".into(),
                instruction: "first".into(),
                prompts: vec![Prompt::new("Password: ", false)],
            })
        }
        AuthAttempt::KeyboardInteractiveResponse { answers } if answers.len() == 1 && answers[0].expose() == "pw" => {
            AuthReply::Prompts(InfoRequest {
                name: String::new(),
                instruction: "second".into(),
                prompts: vec![Prompt::new("Code: ", true), Prompt::new("PIN: ", false)],
            })
        }
        AuthAttempt::KeyboardInteractiveResponse { answers }
            if answers.iter().map(Secret::expose).collect::<Vec<_>>() == ["123", "9"] =>
        {
            AuthReply::Accept
        }
        _ => AuthReply::Reject,
    }));
    p.client.auth_keyboard_interactive("alice", "pam").unwrap();
    p.drive().unwrap();
    let prompts: Vec<InfoRequest> = p
        .client_events
        .iter()
        .filter_map(|e| match e {
            Event::AuthPrompts(r) => Some(r.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(prompts.len(), 1);
    assert_eq!(prompts[0].prompts, [Prompt::new("Password: ", false)]);
    p.client.auth_info_response(&["pw"]).unwrap();
    p.drive().unwrap();
    p.client.auth_info_response(&["123", "9"]).unwrap();
    p.drive().unwrap();
    assert!(succeeded(&p));
}

#[test]
fn authentication_methods_need_every_step_in_order() {
    let mut p = pair(|s| s.auth.required = vec![vec![AuthMethod::PublicKey, AuthMethod::Password]]);
    p.auth_policy = Some(Box::new(|_, _| AuthReply::Accept));
    // Password first is not allowed by the list: refused without asking the application.
    p.client.auth_password("alice", "pw").unwrap();
    p.drive().unwrap();
    assert_eq!(failures(&p), [(vec!["publickey".to_owned()], false)]);
    assert!(last_request(&p).is_none());
    p.client.auth_publickey("alice", local("ed25519")).unwrap();
    p.drive().unwrap();
    assert_eq!(failures(&p).last().unwrap(), &(vec!["password".to_owned()], true));
    assert!(!p.client.is_authenticated());
    p.client.auth_password("alice", "pw").unwrap();
    p.drive().unwrap();
    assert!(succeeded(&p));
}

#[test]
fn explicit_partial_success() {
    let mut p = pair(|_| {});
    p.auth_policy = Some(Box::new(|_, a| match a {
        AuthAttempt::Password { .. } => AuthReply::Partial,
        _ => AuthReply::Accept,
    }));
    p.client.auth_password("alice", "pw").unwrap();
    p.drive().unwrap();
    assert!(failures(&p)[0].1, "partial success");
    p.client.auth_keyboard_interactive("alice", "").unwrap();
    p.drive().unwrap();
    assert!(succeeded(&p));
}

#[test]
fn user_certificate_reaches_the_application() {
    let ca = KeyPair::from_openssh(include_str!("../../testdata/hostkeys/ca_ed25519")).unwrap();
    let user = fixture("ecdsa256").key_pair().clone();
    let mut b =
        Builder::new_with_random_nonce(&mut SeededRng::new(5), user.public_key().key_data().clone(), 0, u64::MAX)
            .unwrap();
    b.cert_type(CertType::User).unwrap();
    b.valid_principal("alice").unwrap();
    let cert = b.sign(ca.private_key()).unwrap();
    let mut p = pair(|_| {});
    let ca_fp = ca.public_key().fingerprint(ssh_key::HashAlg::Sha256);
    p.auth_policy = Some(Box::new(move |_, a| match a {
        AuthAttempt::PublicKey { certificate: Some(c), algorithm, .. }
            if c.signature_key().fingerprint(ssh_key::HashAlg::Sha256) == ca_fp
                && *algorithm == HostKeyAlgorithm::EcdsaNistp256Cert =>
        {
            AuthReply::Accept
        }
        _ => AuthReply::Reject,
    }));
    p.client.auth_publickey("alice", Identity::Certificate(Arc::new(user), Box::new(cert))).unwrap();
    p.drive().unwrap();
    assert!(succeeded(&p));
}

#[test]
fn banner_comes_before_the_first_reply() {
    let mut p = pair(|s| s.auth.banner = Some("Authorized use only\n".into()));
    p.auth_policy = Some(Box::new(|_, _| AuthReply::Reject));
    p.client.auth_none("alice").unwrap();
    p.drive().unwrap();
    let i = p
        .client_events
        .iter()
        .position(|e| matches!(e, Event::AuthBanner { message } if message == "Authorized use only\n"));
    let j = p.client_events.iter().position(|e| matches!(e, Event::AuthFailure { .. }));
    assert!(i.unwrap() < j.unwrap());
}

#[test]
fn flood_of_attempts_ends_with_reason_14_and_bounded_memory() {
    let mut p = pair(|_| {});
    p.auth_policy = Some(Box::new(|_, _| AuthReply::Reject));
    p.client.request_service("ssh-userauth").unwrap();
    p.drive().unwrap();
    // 10 000 password requests at once, without waiting for replies.
    for _ in 0..10_000 {
        let req = UserauthRequest {
            user: "alice",
            service: "ssh-connection",
            method: RequestMethod::Password { password: b"guess", new_password: None },
        };
        if p.client.transport_mut().send(|w| req.encode(w)).is_err() {
            break;
        }
    }
    let _ = p.client_to_server_only();
    let asked = count(&p.server_events, |e| matches!(e, Event::AuthRequest { .. }));
    assert_eq!(asked, 6, "MaxAuthTries 6");
    assert!(p.server.is_closed());
    assert!(
        p.server_events
            .iter()
            .any(|e| matches!(e, Event::Disconnected { reason: DisconnectReason::NoMoreAuthMethodsAvailable, .. }))
    );
}

#[test]
fn login_grace_time() {
    let mut p = pair(|s| s.auth.timeout = Some(Duration::from_secs(30)));
    let _ = p.advance(Duration::from_secs(31));
    assert!(p.server.is_closed());
    assert!(
        p.server_events
            .iter()
            .any(|e| matches!(e, Event::Disconnected { error: Some(Error::Timeout(crate::TimeoutKind::Auth)), .. }))
    );
}

#[test]
fn misuse_is_refused_without_ending_the_connection() {
    let mut p = pair(|_| {});
    p.client.auth_none("alice").unwrap();
    // One attempt at a time.
    assert!(matches!(p.client.auth_password("alice", "x"), Err(Error::ApiMisuse(_))));
    p.drive().unwrap();
    let (token, _, _) = last_request(&p).unwrap();
    // A reply that does not fit the step stays pending.
    assert!(matches!(
        p.server.auth_reply(token, AuthReply::ChangePassword { prompt: String::new() }),
        Err(Error::ApiMisuse(_))
    ));
    assert!(matches!(p.server.auth_reply(AuthToken(token.0 + 100), AuthReply::Accept), Err(Error::ApiMisuse(_))));
    p.server.auth_reply(token, AuthReply::Accept).unwrap();
    p.drive().unwrap();
    assert!(p.client.is_authenticated());
    // After success, further requests are ignored (RFC 4252 §5.1) and commands refused.
    assert!(matches!(p.client.auth_none("alice"), Err(Error::ApiMisuse(_))));
    assert!(!p.server.is_closed() && !p.client.is_closed());
}

#[test]
fn auth_before_the_service_request_is_a_protocol_error() {
    let mut p = pair(|_| {});
    let req = UserauthRequest { user: "alice", service: "ssh-connection", method: RequestMethod::None };
    p.client.transport_mut().send(|w| req.encode(w)).unwrap();
    let _ = p.drive();
    assert!(p.server.is_closed());
    assert!(
        p.client_events
            .iter()
            .any(|e| matches!(e, Event::Disconnected { reason: DisconnectReason::ProtocolError, .. }))
    );
}

#[test]
fn changing_user_mid_authentication_is_refused() {
    let mut p = pair(|_| {});
    p.auth_policy = Some(Box::new(|_, _| AuthReply::Reject));
    p.client.auth_none("alice").unwrap();
    p.drive().unwrap();
    p.client.auth_none("mallory").unwrap();
    let _ = p.drive();
    assert!(p.server.is_closed());
}

#[test]
fn delayed_compression_starts_at_auth_success() {
    use crate::algorithm::Compression;
    let mut c = client::Config::default();
    c.transport.algorithms.compression = AlgorithmList::new([Compression::ZlibOpenSsh]);
    let mut p = pair_with(c, |s| s.transport.algorithms.compression = AlgorithmList::new([Compression::ZlibOpenSsh]));
    p.auth_policy = Some(Box::new(|_, _| AuthReply::Accept));
    p.client.auth_none("alice").unwrap();
    p.drive().unwrap();
    assert!(succeeded(&p));
    // Highly compressible traffic after success is smaller on the wire.
    let before = p.moved.0;
    p.client.send_ignore(&[0u8; 60_000]).unwrap();
    p.drive().unwrap();
    assert!(p.moved.0 - before < 2_000, "compression did not start: {} bytes", p.moved.0 - before);
}

// ---- gssapi-with-mic with a toy mechanism --------------------------------------------------

/// A toy mechanism: the client sends "hello", the server answers "welcome", the client
/// completes with "done"; the MIC is the data reversed.
struct ToyClient {
    round: u8,
}
struct ToyServer {
    complete: bool,
}
const TOY: &[u8] = &[0x06, 0x03, 0x2a, 0x03, 0x04];

impl GssClient for ToyClient {
    fn init(&mut self, mechanism: &[u8], input: Option<&[u8]>) -> Result<GssStep, GssFailure> {
        assert_eq!(mechanism, TOY);
        self.round += 1;
        match (self.round, input) {
            (1, None) => Ok(GssStep::Continue(b"hello".to_vec())),
            (2, Some(b"welcome")) => Ok(GssStep::Complete(b"done".to_vec())),
            _ => Err(GssFailure { major: 1, minor: 2, message: "confused".into() }),
        }
    }
    fn get_mic(&mut self, data: &[u8]) -> Result<Vec<u8>, GssFailure> {
        Ok(data.iter().rev().copied().collect())
    }
}

impl GssServer for ToyServer {
    fn supports(&self, mechanism: &[u8]) -> bool {
        mechanism == TOY
    }
    fn accept(&mut self, input: &[u8]) -> Result<GssStep, GssFailure> {
        match input {
            b"hello" => Ok(GssStep::Continue(b"welcome".to_vec())),
            b"done" => {
                self.complete = true;
                Ok(GssStep::Complete(Vec::new()))
            }
            _ => Err(GssFailure { major: 1, minor: 0, message: "bad token".into() }),
        }
    }
    fn verify_mic(&mut self, data: &[u8], mic: &[u8]) -> Result<(), GssFailure> {
        let expect: Vec<u8> = data.iter().rev().copied().collect();
        if self.complete && mic == expect.as_slice() {
            Ok(())
        } else {
            Err(GssFailure { major: 2, minor: 0, message: "bad mic".into() })
        }
    }
    fn authorized(&self, user: &str) -> bool {
        user == "alice"
    }
}

#[test]
fn gssapi_with_mic_through_the_provider_traits() {
    let mut p = pair(|s| s.auth.methods.push(AuthMethod::GssapiWithMic));
    let server_ctx = Arc::new(Mutex::new(ToyServer { complete: false }));
    let sc = server_ctx.clone();
    p.auth_policy = Some(Box::new(move |user, a| gss::server_step(&mut *sc.lock().unwrap(), user, a)));
    let mut client_ctx = ToyClient { round: 0 };
    p.client.auth_gssapi("alice", &[gss::KRB5_MECHANISM, TOY]).unwrap();
    let mut mechanism = None;
    for _ in 0..10 {
        p.drive().unwrap();
        let events: Vec<Event> = p.client_events.drain(..).collect();
        for ev in events {
            let action = match ev {
                Event::GssapiMechanism { oid } => {
                    mechanism = Some(oid.clone());
                    gss::client_step(&mut client_ctx, &oid, None)
                }
                Event::GssapiToken { token } => {
                    gss::client_step(&mut client_ctx, mechanism.as_deref().unwrap(), Some(&token))
                }
                Event::AuthSuccess { .. } => {
                    assert!(p.server.is_authenticated());
                    return;
                }
                Event::AuthFailure { .. } => panic!("gssapi failed"),
                _ => continue,
            };
            match action {
                ClientAction::Token(t) => p.client.gssapi_token(&t).unwrap(),
                ClientAction::TokenThenMic(t) => {
                    p.client.gssapi_token(&t).unwrap();
                    let mic = client_ctx.get_mic(&p.client.gssapi_mic_data().unwrap()).unwrap();
                    p.client.gssapi_finish(Some(&mic)).unwrap();
                }
                ClientAction::Mic => {
                    let mic = client_ctx.get_mic(&p.client.gssapi_mic_data().unwrap()).unwrap();
                    p.client.gssapi_finish(Some(&mic)).unwrap();
                }
                ClientAction::Fail(e) => panic!("{e:?}"),
            }
        }
    }
    panic!("gssapi-with-mic did not finish");
}

#[test]
fn password_falls_back_to_keyboard_interactive_like_paramiko() {
    let prompt = |echo| {
        AuthReply::Prompts(InfoRequest {
            name: String::new(),
            instruction: String::new(),
            prompts: vec![Prompt::new("Password: ", echo)],
        })
    };
    let mut p = pair(|s| s.auth.methods = vec![AuthMethod::PublicKey, AuthMethod::KeyboardInteractive]);
    p.auth_policy = Some(Box::new(move |_, a| match a {
        AuthAttempt::KeyboardInteractive { .. } => prompt(false),
        AuthAttempt::KeyboardInteractiveResponse { answers } if answers.len() == 1 && answers[0].expose() == "pw" => {
            AuthReply::Accept
        }
        _ => AuthReply::Reject,
    }));
    p.client.auth_password("alice", "pw").unwrap();
    p.drive().unwrap();
    assert!(succeeded(&p));
    assert!(failures(&p).is_empty(), "the refused password method is not reported");
    assert!(!p.client_events.iter().any(|e| matches!(e, Event::AuthPrompts(_))), "the lone prompt was answered");

    // Without the fallback the refusal is reported.
    let mut p = pair(|s| s.auth.methods = vec![AuthMethod::KeyboardInteractive]);
    p.auth_policy = Some(Box::new(move |_, _| prompt(false)));
    p.client.auth_password_only("alice", "pw").unwrap();
    p.drive().unwrap();
    assert_eq!(failures(&p), [(vec!["keyboard-interactive".to_owned()], false)]);

    // A prompt that is not a lone secret one goes to the application.
    let mut p = pair(|s| s.auth.methods = vec![AuthMethod::KeyboardInteractive]);
    p.auth_policy = Some(Box::new(move |_, _| prompt(true)));
    p.client.auth_password("alice", "pw").unwrap();
    p.drive().unwrap();
    assert!(p.client_events.iter().any(|e| matches!(e, Event::AuthPrompts(_))));
}

// ---- review fixes -----------------------------------------------------------------------

#[test]
fn a_yes_to_a_query_only_ever_earns_pk_ok() {
    // Partial on a query is PK_OK (Paramiko servers answer queries that way), and it does
    // not count as a passed publickey step.
    let mut p = pair(|s| s.auth.required = vec![vec![AuthMethod::PublicKey, AuthMethod::Password]]);
    p.auth_policy = Some(Box::new(|_, a| match a {
        AuthAttempt::PublicKey { verified: false, .. } => AuthReply::Partial,
        AuthAttempt::PublicKey { verified: true, .. } => AuthReply::Reject,
        _ => AuthReply::Accept,
    }));
    p.client.auth_publickey("alice", local("ed25519")).unwrap();
    p.drive().unwrap();
    // PK_OK, then the signed request was refused: the list still starts with publickey.
    assert_eq!(failures(&p), [(vec!["publickey".to_owned()], false)]);
    p.client.auth_password("alice", "pw").unwrap();
    p.drive().unwrap();
    assert!(!p.client.is_authenticated());
    assert_eq!(failures(&p).last().unwrap(), &(vec!["publickey".to_owned()], false));
}

#[test]
fn a_gssapi_start_cannot_be_accepted_without_a_context() {
    let mut p = pair(|s| s.auth.methods = vec![AuthMethod::GssapiWithMic]);
    p.client.auth_gssapi("alice", &[gss::KRB5_MECHANISM]).unwrap();
    p.drive().unwrap();
    let (token, _, attempt) = last_request(&p).unwrap();
    assert!(matches!(attempt, AuthAttempt::Gssapi { .. }));
    assert!(matches!(p.server.auth_reply(token, AuthReply::Accept), Err(Error::ApiMisuse(_))));
    assert!(matches!(p.server.auth_reply(token, AuthReply::Partial), Err(Error::ApiMisuse(_))));
    p.server.auth_reply(token, AuthReply::Reject).unwrap();
    p.drive().unwrap();
    assert!(!p.server.is_authenticated());
}

#[test]
fn partial_that_completes_the_list_authenticates() {
    let mut p = pair(|s| s.auth.required = vec![vec![AuthMethod::Password]]);
    p.auth_policy = Some(Box::new(|_, _| AuthReply::Partial));
    p.client.auth_password("alice", "pw").unwrap();
    p.drive().unwrap();
    assert!(succeeded(&p));
}

#[test]
fn one_key_cannot_pass_two_publickey_steps() {
    let mut p = pair(|s| s.auth.required = vec![vec![AuthMethod::PublicKey, AuthMethod::PublicKey]]);
    p.auth_policy = Some(Box::new(|_, _| AuthReply::Accept));
    p.client.auth_publickey("alice", local("ed25519")).unwrap();
    p.drive().unwrap();
    assert_eq!(failures(&p), [(vec!["publickey".to_owned()], true)]);
    p.client.auth_publickey("alice", local("ed25519")).unwrap();
    p.drive().unwrap();
    assert!(!p.client.is_authenticated(), "the same key twice");
    assert_eq!(failures(&p).last().unwrap(), &(vec!["publickey".to_owned()], false));
    p.client.auth_publickey("alice", local("ecdsa256")).unwrap();
    p.drive().unwrap();
    assert!(succeeded(&p));
}

#[test]
fn gssapi_errtok_is_not_answered_and_the_client_can_move_on() {
    let mut p = pair(|s| s.auth.methods = vec![AuthMethod::GssapiWithMic, AuthMethod::Password]);
    p.auth_policy = Some(Box::new(|_, a| match a {
        AuthAttempt::Gssapi { mechanisms } => AuthReply::GssapiMechanism(mechanisms[0].clone()),
        AuthAttempt::Password { .. } => AuthReply::Accept,
        _ => AuthReply::Reject,
    }));
    p.client.auth_gssapi("alice", &[gss::KRB5_MECHANISM]).unwrap();
    p.drive().unwrap();
    assert!(p.client_events.iter().any(|e| matches!(e, Event::GssapiMechanism { .. })));
    // The local context failed: abort with an error token, then use a password.
    p.client.gssapi_abort(Some(b"no ticket")).unwrap();
    p.client.auth_password("alice", "pw").unwrap();
    p.drive().unwrap();
    assert!(succeeded(&p), "a FAILURE for the ERRTOK would have answered the password request");
    assert!(failures(&p).is_empty());
}

#[test]
fn keyboard_interactive_answers_must_match_the_prompts() {
    let mut p = pair(|_| {});
    p.auth_policy = Some(Box::new(|_, a| match a {
        AuthAttempt::KeyboardInteractive { .. } => AuthReply::Prompts(InfoRequest {
            name: String::new(),
            instruction: String::new(),
            prompts: vec![Prompt::new("a", true), Prompt::new("b", false)],
        }),
        _ => AuthReply::Accept,
    }));
    // Client side: no prompts yet, then the wrong number of answers.
    p.client.auth_keyboard_interactive("alice", "").unwrap();
    assert!(matches!(p.client.auth_info_response(&[]), Err(Error::ApiMisuse(_))));
    p.drive().unwrap();
    assert!(matches!(p.client.auth_info_response(&["one"]), Err(Error::ApiMisuse(_))));
    // Server side: a response with one answer for two prompts fails, unseen by the app.
    let before = count(&p.server_events, |e| matches!(e, Event::AuthRequest { .. }));
    p.client.transport_mut().send(|w| crate::wire::auth::InfoResponse::encode([&b"x"[..]].into_iter(), w)).unwrap();
    p.client_to_server_only().unwrap();
    assert_eq!(count(&p.server_events, |e| matches!(e, Event::AuthRequest { .. })), before);
    assert!(!p.server.is_closed());
}

#[test]
fn repeated_none_requests_count_after_the_first() {
    let mut p = pair(|s| s.auth.max_attempts = 3);
    p.auth_policy = Some(Box::new(|_, _| AuthReply::Reject));
    p.client.request_service("ssh-userauth").unwrap();
    p.drive().unwrap();
    for _ in 0..10 {
        let req = UserauthRequest { user: "alice", service: "ssh-connection", method: RequestMethod::None };
        p.client.transport_mut().send(|w| req.encode(w)).unwrap();
    }
    let _ = p.client_to_server_only();
    // The first none is free; the next three reach the limit.
    assert_eq!(count(&p.server_events, |e| matches!(e, Event::AuthRequest { .. })), 4);
    assert!(p.server.is_closed());
}

#[test]
fn success_released_by_a_key_exchange_starts_compression_right_after_it() {
    use crate::algorithm::Compression;
    let mut c = client::Config::default();
    c.transport.algorithms.compression = AlgorithmList::new([Compression::ZlibOpenSsh]);
    let mut p = pair_with(c, |s| s.transport.algorithms.compression = AlgorithmList::new([Compression::ZlibOpenSsh]));
    p.client.auth_password("alice", "pw").unwrap();
    p.drive().unwrap();
    let (token, _, _) = last_request(&p).unwrap();
    // Our KEXINIT is out when the application says yes: SUCCESS waits for the new keys.
    p.server.rekey().unwrap();
    p.server.auth_reply(token, AuthReply::Accept).unwrap();
    p.drive().unwrap();
    assert!(p.client.is_authenticated() && p.server.is_authenticated());
    assert_eq!(p.server.key_exchanges(), 2);
    let before = p.moved.1;
    p.server.send_ignore(&[0u8; 60_000]).unwrap();
    p.drive().unwrap();
    assert!(p.moved.1 - before < 2_000, "compression did not start");
}

/// Paramiko's `get_allowed_auths(username)`: the application narrows the methods when the
/// first request names the user. Failures list only those, requests for others fail
/// without asking, and an accept for a method taken away while pending still fails.
#[test]
fn methods_restricted_for_the_user() {
    let mut p = pair(|_| {});
    p.client.auth_password("alice", "pw").unwrap();
    p.drive().unwrap();
    let (token, user, attempt) = last_request(&p).unwrap();
    assert_eq!((user.as_str(), matches!(attempt, AuthAttempt::Password { .. })), ("alice", true));
    p.server.restrict_auth_methods(&[AuthMethod::PublicKey, AuthMethod::GssapiWithMic]);
    p.server.auth_reply(token, AuthReply::Accept).unwrap();
    p.drive().unwrap();
    // GSS-API is not configured: a restriction cannot add a method.
    assert_eq!(failures(&p), [(vec!["publickey".into()], false)]);
    assert!(!p.client.is_authenticated() && !p.server.is_authenticated());
    let asked = count(&p.server_events, |e| matches!(e, Event::AuthRequest { .. }));
    p.client.auth_password("alice", "pw").unwrap();
    p.drive().unwrap();
    assert_eq!(count(&p.server_events, |e| matches!(e, Event::AuthRequest { .. })), asked, "password is off");
    assert_eq!(failures(&p).len(), 2);
    p.auth_policy = Some(Box::new(|_, _| AuthReply::Accept));
    p.client.auth_publickey("alice", local("ed25519")).unwrap();
    p.drive().unwrap();
    assert!(succeeded(&p));
}
