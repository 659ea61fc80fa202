//! The server side of user authentication: each request becomes an
//! [`Event::AuthRequest`]; input processing pauses until the application answers it (requests
//! must be answered in order), so a slow decision never needs a queue.

use std::sync::Arc;

use bytes::Bytes;
use ssh_key::{Certificate, PublicKey};

use super::{AuthAttempt, AuthMethod, AuthReply, AuthToken, InfoRequest, Secret};
use crate::algorithm::{Algorithm, AlgorithmList, HostKeyAlgorithm};
use crate::auth::client::CONNECTION_SERVICE;
use crate::error::Error;
use crate::event::Event;
use crate::keys;
use crate::transport::Transport;
use crate::wire::auth::{
    InfoRequest as WireInfoRequest, InfoResponse, PkOk, RequestMethod, TextMessage, UserauthFailure, UserauthRequest,
    WirePrompt, decode_empty, gssapi_mic_data, publickey_signed_data,
};
use crate::wire::msg;
use crate::wire::transport::OpaqueData;

/// Server-side user-authentication settings.
#[derive(Clone, Debug)]
pub struct AuthConfig {
    /// Methods offered (in the order listed to clients).
    pub methods: Vec<AuthMethod>,
    /// OpenSSH `AuthenticationMethods`: when not empty, the user is authenticated once every
    /// method of one of these lists succeeded, in order; until then successes are partial.
    pub required: Vec<Vec<AuthMethod>>,
    /// Public key algorithms accepted for `publickey`.
    pub publickey_algorithms: AlgorithmList<HostKeyAlgorithm>,
    /// A banner sent before the first reply (OpenSSH `Banner`).
    pub banner: Option<String>,
    /// Failed attempts (`none` excluded) before the connection is closed with
    /// `NO_MORE_AUTH_METHODS_AVAILABLE` (OpenSSH `MaxAuthTries`, default 6).
    pub max_attempts: u32,
    /// Time allowed from connect to authenticated (OpenSSH `LoginGraceTime`, default 120 s).
    pub timeout: Option<core::time::Duration>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            methods: vec![AuthMethod::PublicKey, AuthMethod::KeyboardInteractive, AuthMethod::Password],
            required: Vec::new(),
            publickey_algorithms: AlgorithmList::default(),
            banner: None,
            max_attempts: 6,
            timeout: Some(core::time::Duration::from_secs(120)),
        }
    }
}

/// What the pending decision is about, so the reply can be checked and acted on.
#[derive(Debug)]
enum Deciding {
    None,
    Password,
    /// A publickey query: accept means `PK_OK` with these fields.
    PublicKeyQuery {
        algorithm: HostKeyAlgorithm,
        blob: Bytes,
    },
    /// A verified signature by the key with this blob.
    PublicKeySigned {
        blob: Bytes,
    },
    /// A keyboard-interactive start or response.
    KeyboardInteractive,
    Gssapi {
        mechanisms: Vec<Bytes>,
    },
    GssapiToken,
    GssapiFinal,
}

#[derive(Debug)]
enum State {
    /// Waiting for a request.
    Ready,
    /// The application has [`Event::AuthRequest`] `token` and has not answered.
    Deciding {
        token: u64,
        about: Deciding,
    },
    /// Prompts sent; waiting for the client's INFO_RESPONSE with this many answers.
    AwaitInfoResponse {
        prompts: usize,
    },
    /// GSS-API context establishment: waiting for a client token, MIC or EXCHANGE_COMPLETE.
    Gssapi,
    Done,
}

/// Server user-authentication state.
#[derive(Debug)]
pub(crate) struct ServerAuth {
    /// The server's configuration (shared); `cfg.auth` is ours.
    cfg: Arc<crate::server::Config>,
    state: State,
    /// The user and service of the first request (changing them is refused, as OpenSSH does).
    user: Option<(String, String)>,
    failures: u32,
    banner_sent: bool,
    /// `AuthenticationMethods` progress: what is left of each list.
    remaining: Vec<Vec<AuthMethod>>,
    /// Keys that already passed a step: a list naming publickey twice needs two keys.
    used_keys: Vec<Bytes>,
    /// Whether a `none` request was seen (only the first is free, as in OpenSSH).
    none_seen: bool,
    /// The application's narrowing of the configured methods for this user.
    restricted: Option<Vec<AuthMethod>>,
}

impl ServerAuth {
    pub(crate) fn new(cfg: Arc<crate::server::Config>) -> Self {
        let remaining = cfg.auth.required.clone();
        Self {
            cfg,
            state: State::Ready,
            user: None,
            failures: 0,
            banner_sent: false,
            remaining,
            used_keys: Vec::new(),
            none_seen: false,
            restricted: None,
        }
    }

    /// Offers only those of the configured methods that are in `methods` from now on.
    pub(crate) fn restrict(&mut self, methods: &[AuthMethod]) {
        self.restricted = Some(methods.to_vec());
    }

    pub(crate) fn is_authenticated(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Whether input must wait for the application's answer.
    pub(crate) fn is_blocked(&self) -> bool {
        matches!(self.state, State::Deciding { .. })
    }

    /// The authenticated (or authenticating) user.
    pub(crate) fn user(&self) -> Option<&str> {
        self.user.as_ref().map(|(u, _)| u.as_str())
    }

    /// Methods a client may try now: the configured ones, narrowed to the next step of the
    /// `AuthenticationMethods` lists.
    fn allowed(&self) -> Vec<AuthMethod> {
        self.cfg
            .auth
            .methods
            .iter()
            .copied()
            .filter(|m| *m != AuthMethod::None)
            .filter(|m| self.restricted.as_ref().is_none_or(|r| r.contains(m)))
            .filter(|m| self.remaining.is_empty() || self.remaining.iter().any(|l| l.first() == Some(m)))
            .collect()
    }

    fn send_failure(&mut self, t: &mut Transport, partial: bool, counts: bool) -> Result<(), Error> {
        if counts {
            self.failures += 1;
        }
        if self.failures >= self.cfg.auth.max_attempts {
            return Err(Error::AuthAttemptsExceeded(self.failures));
        }
        let allowed = self.allowed();
        t.send(|w| UserauthFailure::encode(allowed.iter().map(|m| m.name()), partial, w))?;
        self.state = State::Ready;
        Ok(())
    }

    fn send_success(&mut self, t: &mut Transport) -> Result<(), Error> {
        t.send(|w| w.extend_from_slice(&[msg::USERAUTH_SUCCESS]))?;
        self.state = State::Done;
        t.authenticated_on_send();
        let user = self.user().unwrap_or_default().to_owned();
        t.events.push_back(Event::AuthSuccess { user });
        Ok(())
    }

    /// Sends the banner (once, before anything else of user authentication).
    pub(crate) fn send_banner(&mut self, t: &mut Transport, text: &str) -> Result<(), Error> {
        if matches!(self.state, State::Done) {
            return Err(Error::ApiMisuse("the banner must come before authentication succeeds"));
        }
        self.banner_sent = true;
        t.send(|w| TextMessage { text: text.as_bytes(), language: b"" }.encode(msg::USERAUTH_BANNER, w))
    }

    fn ask(&mut self, t: &mut Transport, about: Deciding, attempt: AuthAttempt) {
        let token = t.next_token;
        t.next_token += 1;
        let (user, service) = self.user.clone().unwrap_or_default();
        t.events.push_back(Event::AuthRequest { token: AuthToken(token), user, service, attempt });
        self.state = State::Deciding { token, about };
    }

    /// Handles a user-authentication message (50–79) from the client.
    pub(crate) fn handle(&mut self, t: &mut Transport, number: u8, payload: &Bytes) -> Result<(), Error> {
        let bad = Transport::wire_error(number);
        match (&self.state, number) {
            // RFC 4252 §5.1: requests after success are ignored.
            (State::Done, msg::USERAUTH_REQUEST) => Ok(()),
            (State::Ready, msg::USERAUTH_REQUEST) => {
                let req = UserauthRequest::decode(payload).map_err(bad)?;
                self.request(t, req)
            }
            (&State::AwaitInfoResponse { prompts }, msg::USERAUTH_61) => {
                let r = InfoResponse::decode(payload).map_err(bad)?;
                // RFC 4256 §3.4: a response with the wrong number of answers fails.
                if r.answers.len() != prompts {
                    return self.send_failure(t, false, true);
                }
                let answers = r.answers.iter().map(|a| Secret::from_wire(a)).collect();
                self.ask(t, Deciding::KeyboardInteractive, AuthAttempt::KeyboardInteractiveResponse { answers });
                Ok(())
            }
            (State::Gssapi, msg::USERAUTH_61) => {
                let m = OpaqueData::decode(payload, number).map_err(bad)?;
                let token = Bytes::copy_from_slice(m.data);
                self.ask(t, Deciding::GssapiToken, AuthAttempt::GssapiToken { token });
                Ok(())
            }
            (State::Gssapi, msg::USERAUTH_GSSAPI_MIC) => {
                let m = OpaqueData::decode(payload, number).map_err(bad)?;
                let sid = t.session_id.clone().unwrap_or_default();
                let (user, service) = self.user.clone().unwrap_or_default();
                let mic_data = Bytes::from(gssapi_mic_data(&sid, &user, &service));
                let mic = Bytes::copy_from_slice(m.data);
                self.ask(t, Deciding::GssapiFinal, AuthAttempt::GssapiMic { mic, mic_data });
                Ok(())
            }
            (State::Gssapi, msg::USERAUTH_GSSAPI_EXCHANGE_COMPLETE) => {
                decode_empty(payload, number).map_err(bad)?;
                self.ask(t, Deciding::GssapiFinal, AuthAttempt::GssapiExchangeComplete);
                Ok(())
            }
            // The client gave up on the GSS-API exchange and has moved on: no reply (RFC 4462
            // §3.9; a FAILURE here would answer its next request), nothing counted.
            (State::Gssapi, msg::USERAUTH_GSSAPI_ERRTOK) => {
                OpaqueData::decode(payload, number).map_err(bad)?;
                self.state = State::Ready;
                Ok(())
            }
            (State::Gssapi | State::AwaitInfoResponse { .. }, msg::USERAUTH_REQUEST) => {
                // A new request abandons the method in progress (RFC 4256 §3.4, RFC 4462 §3.4).
                self.state = State::Ready;
                let req = UserauthRequest::decode(payload).map_err(bad)?;
                self.request(t, req)
            }
            _ => Err(Error::UnexpectedMessage { msg: number, expected: "a user-authentication request" }),
        }
    }

    fn request(&mut self, t: &mut Transport, req: UserauthRequest<'_>) -> Result<(), Error> {
        if req.service != CONNECTION_SERVICE {
            return Err(Error::ServiceNotAvailable(req.service.to_owned()));
        }
        match &self.user {
            Some((u, s)) if u != req.user || s != req.service => {
                return Err(Error::UnexpectedMessage {
                    msg: msg::USERAUTH_REQUEST,
                    expected: "the same user and service as the first request",
                });
            }
            Some(_) => {}
            None => self.user = Some((req.user.to_owned(), req.service.to_owned())),
        }
        if !self.banner_sent {
            self.banner_sent = true;
            if let Some(b) = self.cfg.auth.banner.clone() {
                t.send(|w| TextMessage { text: b.as_bytes(), language: b"" }.encode(msg::USERAUTH_BANNER, w))?;
            }
        }
        let method = AuthMethod::from_name(req.method.name());
        let allowed = method.is_some_and(|m| m == AuthMethod::None || self.allowed().contains(&m));
        if !allowed {
            return self.send_failure(t, false, true);
        }
        match req.method {
            RequestMethod::None => {
                self.ask(t, Deciding::None, AuthAttempt::None);
                Ok(())
            }
            RequestMethod::Password { password, new_password } => {
                let attempt = AuthAttempt::Password {
                    password: Secret::from_wire(password),
                    new_password: new_password.map(Secret::from_wire),
                };
                self.ask(t, Deciding::Password, attempt);
                Ok(())
            }
            RequestMethod::PublicKey { algorithm, key, signature } => {
                self.publickey(t, req.user, req.service, algorithm, key, signature)
            }
            RequestMethod::KeyboardInteractive { submethods, .. } => {
                let submethods = String::from_utf8_lossy(submethods)
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .take(16)
                    .map(str::to_owned)
                    .collect();
                self.ask(t, Deciding::KeyboardInteractive, AuthAttempt::KeyboardInteractive { submethods });
                Ok(())
            }
            RequestMethod::GssapiWithMic { mechanisms } => {
                let mechanisms: Vec<Bytes> = mechanisms.iter().map(|m| Bytes::copy_from_slice(m)).collect();
                let attempt = AuthAttempt::Gssapi { mechanisms: mechanisms.clone() };
                self.ask(t, Deciding::Gssapi { mechanisms }, attempt);
                Ok(())
            }
            // Unknown methods were refused above.
            RequestMethod::Other { .. } => self.send_failure(t, false, true),
        }
    }

    fn publickey(
        &mut self,
        t: &mut Transport,
        user: &str,
        service: &str,
        algorithm: &str,
        blob: &[u8],
        signature: Option<&[u8]>,
    ) -> Result<(), Error> {
        let accepted = self.cfg.auth.publickey_algorithms.as_slice();
        let Some(alg) = accepted.iter().copied().find(|a| a.name() == algorithm) else {
            return self.send_failure(t, false, true);
        };
        let parsed = if alg.is_certificate() {
            Certificate::from_bytes(blob).ok().filter(|c| c.cert_type() == ssh_key::certificate::CertType::User).map(
                |c| {
                    let key = PublicKey::new(c.public_key().clone(), "");
                    (key, Some(Box::new(c)))
                },
            )
        } else {
            PublicKey::from_bytes(blob).ok().map(|k| (k, None))
        };
        let Some((key, certificate)) = parsed.filter(|(k, _)| keys::family_of(k.key_data()) == Some(alg.family()))
        else {
            return self.send_failure(t, false, true);
        };
        match signature {
            None => {
                let about = Deciding::PublicKeyQuery { algorithm: alg, blob: Bytes::copy_from_slice(blob) };
                self.ask(t, about, AuthAttempt::PublicKey { algorithm: alg, key, certificate, verified: false });
                Ok(())
            }
            Some(sig) => {
                let sid = t.session_id.clone().ok_or(Error::ApiMisuse("no session identifier"))?;
                let data = publickey_signed_data(&sid, user, service, algorithm, blob);
                if !keys::verify(key.key_data(), alg, sig, &data) {
                    // A wrong signature never reaches the application.
                    return self.send_failure(t, false, true);
                }
                self.ask(
                    t,
                    Deciding::PublicKeySigned { blob: Bytes::copy_from_slice(blob) },
                    AuthAttempt::PublicKey { algorithm: alg, key, certificate, verified: true },
                );
                Ok(())
            }
        }
    }

    /// The application's answer to the pending [`Event::AuthRequest`]. A reply that does
    /// not fit the step is refused with [`Error::ApiMisuse`] and the decision stays pending.
    pub(crate) fn reply(&mut self, t: &mut Transport, token: AuthToken, reply: AuthReply) -> Result<(), Error> {
        let State::Deciding { token: want, about } = &self.state else {
            return Err(Error::ApiMisuse("no authentication decision is pending"));
        };
        if *want != token.0 {
            return Err(Error::ApiMisuse("stale authentication token"));
        }
        let fits = match (about, &reply) {
            // No security context yet: nothing to accept.
            (Deciding::Gssapi { .. }, AuthReply::Accept | AuthReply::Partial) => {
                Err("a GSS-API start is answered with a mechanism or a rejection")
            }
            (Deciding::GssapiToken, AuthReply::Accept | AuthReply::Partial) => {
                Err("a GSS-API token step is answered with a token or a rejection")
            }
            (_, AuthReply::Accept | AuthReply::Partial | AuthReply::Reject) => Ok(()),
            (Deciding::Password, AuthReply::ChangePassword { .. }) => Ok(()),
            (_, AuthReply::ChangePassword { .. }) => Err("ChangePassword answers password attempts only"),
            (Deciding::KeyboardInteractive, AuthReply::Prompts(_)) => Ok(()),
            (_, AuthReply::Prompts(_)) => Err("Prompts answers keyboard-interactive attempts only"),
            (Deciding::Gssapi { mechanisms }, AuthReply::GssapiMechanism(oid)) if mechanisms.contains(oid) => Ok(()),
            (Deciding::Gssapi { .. }, AuthReply::GssapiMechanism(_)) => {
                Err("the GSS-API mechanism must be one the client offered")
            }
            (Deciding::GssapiToken, AuthReply::GssapiToken(_)) => Ok(()),
            (_, AuthReply::GssapiMechanism(_) | AuthReply::GssapiToken(_)) => {
                Err("GSS-API replies answer gssapi-with-mic steps only")
            }
        };
        fits.map_err(Error::ApiMisuse)?;
        let State::Deciding { about, .. } = std::mem::replace(&mut self.state, State::Ready) else {
            return Err(Error::ApiMisuse("no authentication decision is pending"));
        };
        let method = match about {
            Deciding::None => AuthMethod::None,
            Deciding::Password => AuthMethod::Password,
            Deciding::PublicKeyQuery { .. } | Deciding::PublicKeySigned { .. } => AuthMethod::PublicKey,
            Deciding::KeyboardInteractive => AuthMethod::KeyboardInteractive,
            Deciding::Gssapi { .. } | Deciding::GssapiToken | Deciding::GssapiFinal => AuthMethod::GssapiWithMic,
        };
        match (about, reply) {
            // A query proves nothing: whatever the application says yes with is only PK_OK
            // (Paramiko servers answer queries with partial success).
            (Deciding::PublicKeyQuery { algorithm, blob }, AuthReply::Accept | AuthReply::Partial) => {
                t.send(|w| PkOk { algorithm: algorithm.name(), key: &blob }.encode(w))
            }
            (Deciding::PublicKeySigned { blob }, AuthReply::Accept | AuthReply::Partial)
                if !self.remaining.is_empty() && self.used_keys.contains(&blob) =>
            {
                // OpenSSH's auth2_key_already_used: one key cannot pass two publickey steps.
                self.send_failure(t, false, true)
            }
            // Restricted while the decision was pending: the method is off for this user.
            (_, AuthReply::Accept | AuthReply::Partial)
                if method != AuthMethod::None && !self.allowed().contains(&method) =>
            {
                self.send_failure(t, false, true)
            }
            (about, reply @ (AuthReply::Accept | AuthReply::Partial)) => {
                if let Deciding::PublicKeySigned { blob } = about
                    && !self.remaining.is_empty()
                {
                    self.used_keys.push(blob);
                }
                let complete = self.remaining.is_empty() && reply == AuthReply::Accept || self.advance(method);
                if complete { self.send_success(t) } else { self.send_failure(t, true, false) }
            }
            (_, AuthReply::Reject) => {
                // The first `none` is free: clients use it to learn the methods.
                let counts = method != AuthMethod::None || std::mem::replace(&mut self.none_seen, true);
                self.send_failure(t, false, counts)
            }
            (_, AuthReply::ChangePassword { prompt }) => {
                t.send(|w| TextMessage { text: prompt.as_bytes(), language: b"" }.encode(msg::USERAUTH_60, w))
            }
            (_, AuthReply::Prompts(InfoRequest { name, instruction, prompts })) => {
                let prompts: Vec<WirePrompt<'_>> =
                    prompts.iter().map(|p| WirePrompt { prompt: p.text.as_bytes(), echo: p.echo }).collect();
                let req = WireInfoRequest {
                    name: name.as_bytes(),
                    instruction: instruction.as_bytes(),
                    language: b"",
                    prompts,
                };
                t.send(|w| req.encode(w))?;
                self.state = State::AwaitInfoResponse { prompts: req.prompts.len() };
                Ok(())
            }
            (_, AuthReply::GssapiMechanism(oid)) => {
                t.send(|w| OpaqueData { data: &oid }.encode(msg::USERAUTH_60, w))?;
                self.state = State::Gssapi;
                Ok(())
            }
            (_, AuthReply::GssapiToken(token)) => {
                if !token.is_empty() {
                    t.send(|w| OpaqueData { data: &token }.encode(msg::USERAUTH_61, w))?;
                }
                self.state = State::Gssapi;
                Ok(())
            }
        }
    }

    /// Drops `method` from the front of the `AuthenticationMethods` lists it starts;
    /// returns whether one of them is now complete.
    fn advance(&mut self, method: AuthMethod) -> bool {
        let mut complete = false;
        for list in &mut self.remaining {
            if list.first() == Some(&method) {
                list.remove(0);
                complete |= list.is_empty();
            }
        }
        complete
    }
}
