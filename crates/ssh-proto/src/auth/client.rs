//! The client side of user authentication: one attempt at a time, each answered by the
//! server with success, failure (perhaps partial) or a method-specific message 60/61.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use ssh_key::{Certificate, PublicKey};

use super::{InfoRequest, Prompt, SignToken};
use crate::algorithm::{Algorithm, AlgorithmList, HostKeyAlgorithm};
use crate::error::Error;
use crate::event::Event;
use crate::keys::{self, KeyPair};
use crate::transport::Transport;
use crate::wire::auth::{
    GssError, InfoRequest as WireInfoRequest, InfoResponse, PkOk, RequestMethod, TextMessage, UserauthFailure,
    UserauthRequest, decode_empty, gssapi_mic_data, publickey_signed_data,
};
use crate::wire::msg;
use crate::wire::transport::OpaqueData;

/// The service user authentication starts (RFC 4252 §5).
pub(crate) const CONNECTION_SERVICE: &str = "ssh-connection";
/// The service that carries user authentication (RFC 4252 §4).
pub(crate) const USERAUTH_SERVICE: &str = "ssh-userauth";

/// Sends `SSH_MSG_USERAUTH_REQUEST` for `ssh-connection`.
fn send_userauth(t: &mut Transport, user: &str, method: RequestMethod<'_>) -> Result<(), Error> {
    t.send(|w| UserauthRequest { user, service: CONNECTION_SERVICE, method }.encode(w))
}

/// What proves the client's identity for `publickey`.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Identity {
    /// A private key held by this process: the core signs.
    Key(Arc<KeyPair>),
    /// A private key and a user certificate for it.
    Certificate(Arc<KeyPair>, Box<Certificate>),
    /// The private key is elsewhere (an agent, an HSM): each signature is asked for with
    /// [`Event::AuthSign`] and given back with `provide_signature`.
    External {
        /// The public key.
        key: PublicKey,
        /// A user certificate for it, if any.
        certificate: Option<Box<Certificate>>,
    },
}

impl Identity {
    fn public_key(&self) -> &PublicKey {
        match self {
            Self::Key(k) | Self::Certificate(k, _) => k.public_key(),
            Self::External { key, .. } => key,
        }
    }

    fn certificate(&self) -> Option<&Certificate> {
        match self {
            Self::Key(_) => None,
            Self::Certificate(_, c) => Some(c),
            Self::External { certificate, .. } => certificate.as_deref(),
        }
    }

    /// The blob sent as the public key: the certificate when there is one.
    fn blob(&self) -> Result<Vec<u8>, Error> {
        let r = match self.certificate() {
            Some(c) => c.to_bytes(),
            None => self.public_key().to_bytes(),
        };
        r.map_err(|e| Error::Config(format!("cannot encode the public key: {e}")))
    }
}

#[derive(Debug)]
enum PkStage {
    Query,
    AwaitSignature { token: u64, data: Vec<u8> },
    Signed,
}

#[derive(Debug)]
struct PublicKeyAttempt {
    identity: Identity,
    blob: Vec<u8>,
    /// The algorithm of the request in flight.
    current: HostKeyAlgorithm,
    /// Algorithms still to try if the server refuses the current one (RSA without
    /// `server-sig-algs`: rsa-sha2-512, then rsa-sha2-256, …).
    fallback: VecDeque<HostKeyAlgorithm>,
    stage: PkStage,
}

#[derive(Debug)]
enum GssStage {
    /// Waiting for the server's choice among these mechanisms.
    AwaitMechanism(Vec<Vec<u8>>),
    /// Exchanging context tokens.
    Context,
    /// MIC or EXCHANGE_COMPLETE sent.
    Finished,
}

#[derive(Debug)]
enum Attempt {
    None,
    /// With the password kept when keyboard-interactive may stand in for it.
    Password {
        fallback: Option<super::Secret>,
    },
    PublicKey(Box<PublicKeyAttempt>),
    /// With the password to answer a lone secret prompt, when standing in for `password`,
    /// and the number of prompts the application has to answer, once asked.
    KeyboardInteractive {
        answer: Option<super::Secret>,
        prompts: Option<usize>,
    },
    Gssapi(GssStage),
}

/// A request that waits for the `ssh-userauth` service to be accepted.
#[derive(Debug)]
enum Queued {
    None,
    Password { password: super::Secret, new_password: Option<super::Secret>, fallback: bool },
    PublicKey(Identity),
    KeyboardInteractive { submethods: String },
    Gssapi { mechanisms: Vec<Vec<u8>> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    NotRequested,
    Requested,
    Accepted,
}

#[derive(Debug)]
enum State {
    Idle,
    /// Waiting for the service accept before sending this attempt.
    Queued(Queued),
    Pending(Attempt),
    Done,
}

/// Client user-authentication state.
#[derive(Debug)]
pub(crate) struct ClientAuth {
    service: Service,
    state: State,
    user: String,
    /// Public key algorithms we are willing to sign with.
    algorithms: AlgorithmList<HostKeyAlgorithm>,
}

impl ClientAuth {
    pub(crate) fn new(algorithms: AlgorithmList<HostKeyAlgorithm>) -> Self {
        Self { service: Service::NotRequested, state: State::Idle, user: String::new(), algorithms }
    }

    pub(crate) fn is_authenticated(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// The user of the current (or successful) attempt.
    pub(crate) fn user(&self) -> &str {
        &self.user
    }

    /// Whether the `ssh-userauth` service still has to be requested.
    pub(crate) fn needs_service_request(&self) -> bool {
        self.service == Service::NotRequested
    }

    /// The `ssh-userauth` service request went out.
    pub(crate) fn note_service_requested(&mut self) {
        if self.service == Service::NotRequested {
            self.service = Service::Requested;
        }
    }

    /// The service was accepted: send what was waiting for it.
    pub(crate) fn service_accepted(&mut self, t: &mut Transport) -> Result<(), Error> {
        self.service = Service::Accepted;
        match std::mem::replace(&mut self.state, State::Idle) {
            State::Queued(q) => self.send_queued(t, q),
            other => {
                self.state = other;
                Ok(())
            }
        }
    }

    fn start(&mut self, t: &mut Transport, user: &str, q: Queued) -> Result<(), Error> {
        match self.state {
            State::Idle => {}
            State::Done => return Err(Error::ApiMisuse("already authenticated")),
            State::Queued(_) | State::Pending(_) => {
                return Err(Error::ApiMisuse("an authentication attempt is already in progress"));
            }
        }
        if t.is_closed() {
            return Err(Error::Closed);
        }
        self.user = user.to_owned();
        match self.service {
            Service::Accepted => self.send_queued(t, q),
            Service::Requested => {
                self.state = State::Queued(q);
                Ok(())
            }
            Service::NotRequested => Err(Error::ApiMisuse("request the ssh-userauth service first")),
        }
    }

    fn send_request(&self, t: &mut Transport, method: RequestMethod<'_>) -> Result<(), Error> {
        send_userauth(t, &self.user, method)
    }

    fn send_queued(&mut self, t: &mut Transport, q: Queued) -> Result<(), Error> {
        let attempt = match q {
            Queued::None => {
                self.send_request(t, RequestMethod::None)?;
                Attempt::None
            }
            Queued::Password { password, new_password, fallback } => {
                let new = new_password.as_ref().map(|p| p.expose().as_bytes());
                self.send_request(
                    t,
                    RequestMethod::Password { password: password.expose().as_bytes(), new_password: new },
                )?;
                Attempt::Password { fallback: fallback.then_some(password) }
            }
            Queued::PublicKey(identity) => {
                let mut candidates = self.candidates(t, &identity);
                let Some(current) = candidates.pop_front() else {
                    // Nothing we may sign with is acceptable to the server: a local failure.
                    let methods = Vec::new();
                    t.events.push_back(Event::AuthFailure { methods, partial_success: false });
                    return Ok(());
                };
                let blob = identity.blob()?;
                let a = PublicKeyAttempt { identity, blob, current, fallback: candidates, stage: PkStage::Query };
                self.send_query(t, &a)?;
                Attempt::PublicKey(Box::new(a))
            }
            Queued::KeyboardInteractive { submethods } => {
                self.send_request(
                    t,
                    RequestMethod::KeyboardInteractive { language: b"", submethods: submethods.as_bytes() },
                )?;
                Attempt::KeyboardInteractive { answer: None, prompts: None }
            }
            Queued::Gssapi { mechanisms } => {
                let offered = mechanisms.iter().map(Vec::as_slice).collect();
                self.send_request(t, RequestMethod::GssapiWithMic { mechanisms: offered })?;
                Attempt::Gssapi(GssStage::AwaitMechanism(mechanisms))
            }
        };
        self.state = State::Pending(attempt);
        Ok(())
    }

    /// Signature algorithms to try for `identity`, best first: ours (in preference order)
    /// for its key family, limited to the server's `server-sig-algs` when it sent them.
    fn candidates(&self, t: &Transport, identity: &Identity) -> VecDeque<HostKeyAlgorithm> {
        let Some(family) = keys::family_of(identity.public_key().key_data()) else { return VecDeque::new() };
        let cert = identity.certificate().is_some();
        let server = t.peer_ext.server_sig_algs.as_deref();
        self.algorithms
            .as_slice()
            .iter()
            .copied()
            .filter(|a| a.family() == family && a.is_certificate() == cert)
            .filter(|a| server.is_none_or(|list| list.iter().any(|n| n == a.signature_name())))
            .collect()
    }

    fn send_query(&self, t: &mut Transport, a: &PublicKeyAttempt) -> Result<(), Error> {
        let method = RequestMethod::PublicKey { algorithm: a.current.name(), key: &a.blob, signature: None };
        self.send_request(t, method)
    }

    // ---- commands ------------------------------------------------------------------------

    pub(crate) fn none(&mut self, t: &mut Transport, user: &str) -> Result<(), Error> {
        self.start(t, user, Queued::None)
    }

    pub(crate) fn password(
        &mut self,
        t: &mut Transport,
        user: &str,
        password: &str,
        new_password: Option<&str>,
        fallback: bool,
    ) -> Result<(), Error> {
        let q = Queued::Password { password: password.into(), new_password: new_password.map(Into::into), fallback };
        self.start(t, user, q)
    }

    pub(crate) fn publickey(&mut self, t: &mut Transport, user: &str, identity: Identity) -> Result<(), Error> {
        if keys::family_of(identity.public_key().key_data()).is_none() {
            return Err(Error::Config(format!("unsupported key type {}", identity.public_key().algorithm())));
        }
        self.start(t, user, Queued::PublicKey(identity))
    }

    pub(crate) fn keyboard_interactive(
        &mut self,
        t: &mut Transport,
        user: &str,
        submethods: &str,
    ) -> Result<(), Error> {
        self.start(t, user, Queued::KeyboardInteractive { submethods: submethods.to_owned() })
    }

    pub(crate) fn gssapi(&mut self, t: &mut Transport, user: &str, mechanisms: &[&[u8]]) -> Result<(), Error> {
        if mechanisms.is_empty() {
            return Err(Error::ApiMisuse("gssapi-with-mic needs at least one mechanism"));
        }
        self.start(t, user, Queued::Gssapi { mechanisms: mechanisms.iter().map(|m| m.to_vec()).collect() })
    }

    pub(crate) fn info_response(&mut self, t: &mut Transport, answers: &[&str]) -> Result<(), Error> {
        match &mut self.state {
            State::Pending(Attempt::KeyboardInteractive { prompts: pending @ Some(_), .. }) => {
                if *pending != Some(answers.len()) {
                    return Err(Error::ApiMisuse("one answer per prompt"));
                }
                t.send(|w| InfoResponse::encode(answers.iter().map(|a| a.as_bytes()), w))?;
                *pending = None;
                Ok(())
            }
            _ => Err(Error::ApiMisuse("no keyboard-interactive prompts are pending")),
        }
    }

    pub(crate) fn provide_signature(
        &mut self,
        t: &mut Transport,
        token: SignToken,
        signature: &[u8],
    ) -> Result<(), Error> {
        let State::Pending(Attempt::PublicKey(a)) = &mut self.state else {
            return Err(Error::ApiMisuse("no signature was asked for"));
        };
        let PkStage::AwaitSignature { token: want, data } = &a.stage else {
            return Err(Error::ApiMisuse("no signature was asked for"));
        };
        if *want != token.0 {
            return Err(Error::ApiMisuse("stale signature token"));
        }
        // An agent answers with the full blob; refuse anything else before the server does.
        if !keys::verify(a.identity.public_key().key_data(), a.current, signature, data) {
            return Err(Error::ApiMisuse("the signature does not verify with the key being offered"));
        }
        let method = RequestMethod::PublicKey { algorithm: a.current.name(), key: &a.blob, signature: Some(signature) };
        send_userauth(t, &self.user, method)?;
        a.stage = PkStage::Signed;
        Ok(())
    }

    /// Gives up on an external signature (the agent refused): the attempt fails locally.
    pub(crate) fn signature_failed(&mut self, t: &mut Transport, token: SignToken) -> Result<(), Error> {
        match &self.state {
            State::Pending(Attempt::PublicKey(a)) if matches!(a.stage, PkStage::AwaitSignature { token: want, .. } if want == token.0) =>
            {
                self.state = State::Idle;
                t.events.push_back(Event::AuthFailure { methods: Vec::new(), partial_success: false });
                Ok(())
            }
            _ => Err(Error::ApiMisuse("no signature was asked for")),
        }
    }

    pub(crate) fn gssapi_token(&mut self, t: &mut Transport, token: &[u8]) -> Result<(), Error> {
        match &self.state {
            State::Pending(Attempt::Gssapi(GssStage::Context)) => {
                t.send(|w| OpaqueData { data: token }.encode(msg::USERAUTH_61, w))
            }
            _ => Err(Error::ApiMisuse("no GSS-API context is being established")),
        }
    }

    /// Gives up on gssapi-with-mic (the local context failed): sends `errtok` if the
    /// mechanism produced one (RFC 4462 §3.9), and another method may start at once.
    pub(crate) fn gssapi_abort(&mut self, t: &mut Transport, errtok: Option<&[u8]>) -> Result<(), Error> {
        if !matches!(self.state, State::Pending(Attempt::Gssapi(_))) {
            return Err(Error::ApiMisuse("no GSS-API exchange is in progress"));
        }
        if let Some(token) = errtok {
            t.send(|w| OpaqueData { data: token }.encode(msg::USERAUTH_GSSAPI_ERRTOK, w))?;
        }
        self.state = State::Idle;
        Ok(())
    }

    /// The data the MIC must cover.
    pub(crate) fn gssapi_mic_data(&self, t: &Transport) -> Option<Vec<u8>> {
        match (&self.state, t.session_id.as_deref()) {
            (State::Pending(Attempt::Gssapi(GssStage::Context)), Some(sid)) => {
                Some(gssapi_mic_data(sid, &self.user, CONNECTION_SERVICE))
            }
            _ => None,
        }
    }

    /// Finishes the GSS-API exchange with a MIC (or, with `None`, `EXCHANGE_COMPLETE`).
    pub(crate) fn gssapi_finish(&mut self, t: &mut Transport, mic: Option<&[u8]>) -> Result<(), Error> {
        let State::Pending(Attempt::Gssapi(stage @ GssStage::Context)) = &mut self.state else {
            return Err(Error::ApiMisuse("no GSS-API context is being established"));
        };
        match mic {
            Some(m) => t.send(|w| OpaqueData { data: m }.encode(msg::USERAUTH_GSSAPI_MIC, w))?,
            None => t.send(|w| w.extend_from_slice(&[msg::USERAUTH_GSSAPI_EXCHANGE_COMPLETE]))?,
        }
        *stage = GssStage::Finished;
        Ok(())
    }

    // ---- input ---------------------------------------------------------------------------

    /// Handles a user-authentication message (50–79) from the server.
    pub(crate) fn handle(&mut self, t: &mut Transport, number: u8, payload: &Bytes) -> Result<(), Error> {
        let bad = Transport::wire_error(number);
        let unexpected = |expected| Error::UnexpectedMessage { msg: number, expected };
        if number == msg::USERAUTH_BANNER {
            // RFC 4252 §5.4: only before authentication completes.
            if matches!(self.state, State::Done) {
                return Err(unexpected("no banner after authentication"));
            }
            let b = TextMessage::decode(payload, number).map_err(bad)?;
            // Bounded: a banner is for humans; keep the first 64 KiB.
            let message: String = String::from_utf8_lossy(b.text).chars().take(64 * 1024).collect();
            t.events.push_back(Event::AuthBanner { message });
            return Ok(());
        }
        let State::Pending(attempt) = &mut self.state else {
            return Err(unexpected("no authentication reply without a request"));
        };
        match number {
            msg::USERAUTH_SUCCESS => {
                decode_empty(payload, number).map_err(bad)?;
                self.state = State::Done;
                t.set_authenticated();
                t.events.push_back(Event::AuthSuccess { user: self.user.clone() });
                Ok(())
            }
            msg::USERAUTH_FAILURE => {
                let f = UserauthFailure::decode(payload).map_err(bad)?;
                // A refused query with another algorithm left to try: try it, quietly.
                if let Attempt::PublicKey(a) = attempt
                    && matches!(a.stage, PkStage::Query)
                    && !f.partial_success
                    && let Some(next) = a.fallback.pop_front()
                {
                    a.current = next;
                    let method = RequestMethod::PublicKey { algorithm: next.name(), key: &a.blob, signature: None };
                    return send_userauth(t, &self.user, method);
                }
                // Paramiko's password fallback: the server takes no passwords but does
                // keyboard-interactive (PAM): try that, answering its prompt with the password.
                if let Attempt::Password { fallback } = attempt
                    && !f.partial_success
                    && !f.methods.contains("password")
                    && f.methods.contains("keyboard-interactive")
                    && let Some(password) = fallback.take()
                {
                    let method = RequestMethod::KeyboardInteractive { language: b"", submethods: b"" };
                    send_userauth(t, &self.user, method)?;
                    self.state = State::Pending(Attempt::KeyboardInteractive { answer: Some(password), prompts: None });
                    return Ok(());
                }
                self.state = State::Idle;
                t.events
                    .push_back(Event::AuthFailure { methods: f.methods.to_vec(), partial_success: f.partial_success });
                Ok(())
            }
            msg::USERAUTH_60 => match attempt {
                Attempt::PublicKey(a) if matches!(a.stage, PkStage::Query) => {
                    let ok = PkOk::decode(payload).map_err(bad)?;
                    if ok.algorithm != a.current.name() || ok.key != a.blob.as_slice() {
                        return Err(Error::InvalidMessage {
                            msg: number,
                            reason: crate::wire::WireError::InvalidValue,
                        });
                    }
                    let sid = t.session_id.clone().ok_or(Error::ApiMisuse("no session identifier"))?;
                    let data = publickey_signed_data(&sid, &self.user, CONNECTION_SERVICE, a.current.name(), &a.blob);
                    match &a.identity {
                        Identity::Key(k) | Identity::Certificate(k, _) => {
                            let sig =
                                k.sign(a.current, &data, &mut *t.rng).map_err(|e| Error::Config(e.to_string()))?;
                            let method = RequestMethod::PublicKey {
                                algorithm: a.current.name(),
                                key: &a.blob,
                                signature: Some(&sig),
                            };
                            send_userauth(t, &self.user, method)?;
                            a.stage = PkStage::Signed;
                        }
                        Identity::External { key, .. } => {
                            let token = t.next_token;
                            t.next_token += 1;
                            t.events.push_back(Event::AuthSign {
                                token: SignToken(token),
                                key: Box::new(key.clone()),
                                algorithm: a.current,
                                data: Bytes::copy_from_slice(&data),
                            });
                            a.stage = PkStage::AwaitSignature { token, data };
                        }
                    }
                    Ok(())
                }
                Attempt::Password { .. } => {
                    let m = TextMessage::decode(payload, number).map_err(bad)?;
                    self.state = State::Idle;
                    t.events
                        .push_back(Event::AuthPasswordChange { prompt: String::from_utf8_lossy(m.text).into_owned() });
                    Ok(())
                }
                Attempt::KeyboardInteractive { answer, prompts } => {
                    let r = WireInfoRequest::decode(payload).map_err(bad)?;
                    // Standing in for `password`: a lone secret prompt gets the password, an
                    // empty round gets no answers; anything else goes to the application.
                    if let Some(pw) = answer.as_ref() {
                        let answers: Option<Vec<&[u8]>> = match r.prompts.as_slice() {
                            [] => Some(Vec::new()),
                            [p] if !p.echo => Some(vec![pw.expose().as_bytes()]),
                            _ => None,
                        };
                        if let Some(answers) = answers {
                            return t.send(|w| InfoResponse::encode(answers.into_iter(), w));
                        }
                    }
                    let lossy = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                    let request = InfoRequest {
                        name: lossy(r.name),
                        instruction: lossy(r.instruction),
                        prompts: r.prompts.iter().map(|p| Prompt { text: lossy(p.prompt), echo: p.echo }).collect(),
                    };
                    *prompts = Some(request.prompts.len());
                    t.events.push_back(Event::AuthPrompts(request));
                    Ok(())
                }
                Attempt::Gssapi(stage @ GssStage::AwaitMechanism(_)) => {
                    let m = OpaqueData::decode(payload, number).map_err(bad)?;
                    // RFC 4462 §3.3: one of the mechanisms we offered.
                    if !matches!(stage, GssStage::AwaitMechanism(offered) if offered.iter().any(|o| o.as_slice() == m.data))
                    {
                        return Err(Error::InvalidMessage {
                            msg: number,
                            reason: crate::wire::WireError::InvalidValue,
                        });
                    }
                    *stage = GssStage::Context;
                    t.events.push_back(Event::GssapiMechanism { oid: Bytes::copy_from_slice(m.data) });
                    Ok(())
                }
                _ => Err(unexpected("message 60 for the method in progress")),
            },
            msg::USERAUTH_61 => match attempt {
                Attempt::Gssapi(GssStage::Context) => {
                    let m = OpaqueData::decode(payload, number).map_err(bad)?;
                    t.events.push_back(Event::GssapiToken { token: Bytes::copy_from_slice(m.data) });
                    Ok(())
                }
                _ => Err(unexpected("message 61 for the method in progress")),
            },
            msg::USERAUTH_GSSAPI_ERROR | msg::USERAUTH_GSSAPI_ERRTOK => match attempt {
                Attempt::Gssapi(_) => {
                    let ev = if number == msg::USERAUTH_GSSAPI_ERROR {
                        let e = GssError::decode(payload).map_err(bad)?;
                        Event::GssapiError {
                            major: e.major,
                            minor: e.minor,
                            message: String::from_utf8_lossy(e.message).into_owned(),
                        }
                    } else {
                        let e = OpaqueData::decode(payload, number).map_err(bad)?;
                        Event::GssapiErrorToken { token: Bytes::copy_from_slice(e.data) }
                    };
                    t.events.push_back(ev);
                    Ok(())
                }
                _ => Err(unexpected("GSS-API messages only during gssapi-with-mic")),
            },
            _ => Err(unexpected("a user-authentication reply")),
        }
    }
}
