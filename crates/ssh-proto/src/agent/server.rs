//! The agent side of a connection, sans-IO: bytes in, response bytes and decisions out.
//! The keys live in an [`AgentBackend`] shared by every connection (the built-in one is
//! [`MemoryAgent`](super::MemoryAgent)); what belongs to one connection (its
//! `session-bind@openssh.com` bindings, a pending confirmation) lives here.

use std::collections::VecDeque;

use rand_core::CryptoRng;
use ssh_key::Certificate;
use ssh_key::public::KeyData;

use super::AgentError;
use super::frame::{DEFAULT_MAX_MESSAGE, FrameDecoder};
use super::message::{ExtensionRequest, Request, Response, SESSION_BIND, SessionBind, key_data, number};
use crate::algorithm::{Algorithm, HostKeyAlgorithm};
use crate::keys;
use crate::wire::Reader;

/// Most session bindings kept per connection (OpenSSH's `AGENT_MAX_SESSION_IDS`).
pub const MAX_SESSION_BINDS: usize = 16;

/// What one agent connection has been told about the SSH sessions it serves.
#[derive(Clone, Debug, Default)]
pub struct ConnectionState {
    binds: Vec<SessionBind>,
    bind_attempted: bool,
}

impl ConnectionState {
    /// The verified `session-bind@openssh.com` bindings, oldest first.
    pub fn session_binds(&self) -> &[SessionBind] {
        &self.binds
    }

    /// Whether the connection reached the agent through agent forwarding.
    pub fn is_forwarded(&self) -> bool {
        self.binds.iter().any(|b| b.is_forwarding)
    }

    /// Whether a `session-bind@openssh.com` was received, whether or not it was accepted.
    pub fn bind_attempted(&self) -> bool {
        self.bind_attempted
    }

    /// Whether the connection serves a local program (`ssh-add`, a script) rather than an
    /// SSH session: no binding was ever attempted on it. Since OpenSSH 8.9 `ssh` binds
    /// every connection it uses, for its own authentication as well as when forwarding; a
    /// failed bind does not make a connection local again (OpenSSH's
    /// `session_bind_attempted`).
    pub fn is_local(&self) -> bool {
        !self.bind_attempted && self.binds.is_empty()
    }

    /// Checks and records a binding, in the order of OpenSSH's agent so both answer alike:
    /// the host key (or a host certificate's subject key) must have signed the session
    /// identifier; a connection bound for authentication cannot be bound again; a binding
    /// already recorded is accepted again; a session identifier stays bound to its first
    /// host key; at most [`MAX_SESSION_BINDS`] are kept.
    fn bind(&mut self, bind: SessionBind) -> bool {
        self.bind_attempted = true;
        let Some(key) = host_key_data(&bind.host_key) else { return false };
        let mut r = Reader::new(&bind.signature);
        let Some(alg) =
            r.string().ok().and_then(|n| core::str::from_utf8(n).ok()).and_then(HostKeyAlgorithm::from_name)
        else {
            return false;
        };
        if !keys::verify(&key, alg, &bind.signature, &bind.session_id) {
            return false;
        }
        for b in &self.binds {
            if !b.is_forwarding {
                return false;
            }
            if b.session_id == bind.session_id {
                return b.host_key == bind.host_key;
            }
        }
        if self.binds.len() >= MAX_SESSION_BINDS {
            return false;
        }
        self.binds.push(bind);
        true
    }

    /// A bind that could not even be decoded still counts as attempted.
    fn bind_failed_to_decode(&mut self) {
        self.bind_attempted = true;
    }
}

/// The key that signs for a session-bind host key blob: the key itself, or the subject key
/// of a host certificate (OpenSSH's `ssh` binds with the host key as the server presented
/// it, certificate included).
fn host_key_data(blob: &[u8]) -> Option<KeyData> {
    let name = Reader::new(blob).string().ok()?;
    if name.ends_with(b"-cert-v01@openssh.com") {
        let cert = Certificate::from_bytes(blob).ok()?;
        return Some(cert.public_key().clone());
    }
    key_data(blob)
}

/// Whether a payload that failed to decode was meant as a `session-bind@openssh.com`.
fn is_session_bind(payload: &[u8]) -> bool {
    let mut r = Reader::new(payload);
    r.u8().ok() == Some(number::EXTENSION) && r.string().ok() == Some(SESSION_BIND.as_bytes())
}

/// What a backend is given with each request.
pub struct RequestContext<'a> {
    /// The caller's clock in seconds (any fixed origin; lifetimes are measured on it).
    pub now: u64,
    /// Randomness (RSA blinding, lock salts).
    pub rng: &'a mut dyn CryptoRng,
    /// This connection's bindings.
    pub connection: &'a ConnectionState,
    /// Whether the agent's user has already confirmed this request (after
    /// [`Outcome::Confirm`]).
    pub confirmed: bool,
}

/// A backend's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Send this response.
    Reply(Response),
    /// Ask the agent's user first ([`AgentEvent::Confirm`]); on approval the same request
    /// comes back with [`RequestContext::confirmed`] set, on refusal `SSH_AGENT_FAILURE` is sent.
    Confirm {
        /// The key blob the request would use.
        key_blob: Vec<u8>,
        /// The key's comment.
        comment: String,
    },
}

/// Holds keys and answers requests: the built-in [`MemoryAgent`](super::MemoryAgent), or a
/// driver's own (a hardware token, a remote signer). `session-bind@openssh.com` is handled
/// by [`AgentServer`] before the backend sees anything (but only while
/// [`is_locked`](Self::is_locked) is false); every other request comes here.
pub trait AgentBackend {
    /// Answers one request.
    fn handle(&mut self, request: &Request, ctx: &mut RequestContext<'_>) -> Outcome;

    /// Whether the keys are locked (`SSH_AGENTC_LOCK`). A locked agent answers nothing but
    /// unlock, so the connection then refuses `session-bind@openssh.com` as well, without
    /// counting it as attempted (OpenSSH does not look at requests while locked).
    fn is_locked(&self) -> bool;
}

/// Identifies a pending confirmation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConfirmToken(pub(crate) u64);

/// A decision the agent's user must make.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AgentEvent {
    /// A key added with the confirm constraint is about to be used: answer with
    /// [`AgentServer::confirm`]. Later requests on this connection wait meanwhile.
    Confirm {
        /// Pass back to answer.
        token: ConfirmToken,
        /// The key's blob.
        key_blob: Vec<u8>,
        /// The key's comment.
        comment: String,
    },
}

/// The user's answer to [`AgentEvent::Confirm`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead.
    Allow,
    /// Refuse (the client gets `SSH_AGENT_FAILURE`).
    Deny,
}

/// One agent connection.
///
/// ```
/// use ssh_proto::agent::{AgentClient, AgentServer, MemoryAgent, Response};
/// use ssh_proto::SeededRng;
///
/// let mut store = MemoryAgent::new();
/// let mut server = AgentServer::new();
/// let mut client = AgentClient::new();
/// let id = client.request_identities();
/// while let Some(bytes) = client.poll_transmit() {
///     server.handle_input(&bytes, &mut store, 0, &mut SeededRng::new(1)).unwrap();
/// }
/// while let Some(bytes) = server.poll_transmit() {
///     client.handle_input(&bytes).unwrap();
/// }
/// assert_eq!(client.poll_response(), Some((id, Ok(Response::Identities(vec![])))));
/// ```
#[derive(Debug)]
pub struct AgentServer {
    decoder: FrameDecoder,
    out: VecDeque<Vec<u8>>,
    /// Bytes in `out`.
    queued: usize,
    events: VecDeque<AgentEvent>,
    connection: ConnectionState,
    pending: Option<(ConfirmToken, Request)>,
    next_token: u64,
}

impl Default for AgentServer {
    fn default() -> Self {
        Self::new()
    }
}

impl AgentServer {
    /// A connection with the default message size limit (256 KiB).
    pub fn new() -> Self {
        Self::with_max_message(DEFAULT_MAX_MESSAGE)
    }

    /// A connection that rejects messages longer than `max` bytes.
    pub fn with_max_message(max: usize) -> Self {
        Self {
            decoder: FrameDecoder::new(max),
            out: VecDeque::new(),
            queued: 0,
            events: VecDeque::new(),
            connection: ConnectionState::default(),
            pending: None,
            next_token: 0,
        }
    }

    /// This connection's bindings.
    pub fn connection(&self) -> &ConnectionState {
        &self.connection
    }

    /// Bytes from the client, in any fragmentation. Each whole request is answered in order;
    /// malformed or unknown ones with `SSH_AGENT_FAILURE`.
    ///
    /// Responses queue until [`poll_transmit`](Self::poll_transmit) takes them. Once more
    /// than two maximum-size messages are queued, further requests wait unread in the input
    /// buffer: after draining the queue, call this again (with no new bytes if need be)
    /// while [`has_unanswered`](Self::has_unanswered) says so. A driver stops reading while
    /// requests wait (for the queue to drain or for a confirmation).
    ///
    /// An error (a frame over the size limit, or more than two maximum-size messages of
    /// input buffered while requests wait) means the stream cannot continue: close the
    /// connection.
    pub fn handle_input(
        &mut self,
        data: &[u8],
        backend: &mut dyn AgentBackend,
        now: u64,
        rng: &mut dyn CryptoRng,
    ) -> Result<(), AgentError> {
        self.decoder.push(data);
        // Requests wait behind a pending confirmation; a client that keeps sending meanwhile
        // must not grow the buffer without bound.
        let limit = self.decoder.max_message().saturating_mul(2).saturating_add(8);
        let waiting = self.pending.is_some() || self.output_full();
        if waiting && self.decoder.buffered() > limit {
            return Err(AgentError::Backlog { buffered: self.decoder.buffered(), limit });
        }
        self.process(backend, now, rng)
    }

    /// Answers [`AgentEvent::Confirm`], then goes on with requests that waited for it.
    pub fn confirm(
        &mut self,
        token: ConfirmToken,
        decision: Decision,
        backend: &mut dyn AgentBackend,
        now: u64,
        rng: &mut dyn CryptoRng,
    ) -> Result<(), AgentError> {
        let request = match self.pending.take() {
            Some((t, request)) if t == token => request,
            other => {
                self.pending = other;
                return Err(AgentError::UnknownToken);
            }
        };
        let response = match decision {
            Decision::Deny => Response::Failure,
            Decision::Allow => {
                let mut ctx = RequestContext { now, rng, connection: &self.connection, confirmed: true };
                match backend.handle(&request, &mut ctx) {
                    Outcome::Reply(r) => r,
                    // Asking twice would loop; a backend that does is refused.
                    Outcome::Confirm { .. } => Response::Failure,
                }
            }
        };
        self.queue(&response);
        self.process(backend, now, rng)
    }

    /// The next bytes to send to the client.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        let bytes = self.out.pop_front()?;
        self.queued -= bytes.len();
        Some(bytes)
    }

    /// Whether a whole request waits in the input buffer with nothing in its way but the
    /// output queue: once [`poll_transmit`](Self::poll_transmit) has drained it, call
    /// [`handle_input`](Self::handle_input) (with no new bytes) to answer it.
    pub fn has_unanswered(&self) -> bool {
        self.pending.is_none() && self.decoder.has_frame()
    }

    /// Bytes of responses waiting for [`poll_transmit`](Self::poll_transmit).
    pub fn queued_output(&self) -> usize {
        self.queued
    }

    /// The most response bytes queued before requests are left unread: two maximum-size
    /// messages (one more response may go over it).
    pub fn output_budget(&self) -> usize {
        self.decoder.max_message().saturating_mul(2)
    }

    fn output_full(&self) -> bool {
        self.queued >= self.output_budget()
    }

    fn queue(&mut self, response: &Response) {
        let frame = response.to_frame();
        self.queued += frame.len();
        self.out.push_back(frame);
    }

    /// The next decision to make.
    pub fn poll_event(&mut self) -> Option<AgentEvent> {
        self.events.pop_front()
    }

    fn process(&mut self, backend: &mut dyn AgentBackend, now: u64, rng: &mut dyn CryptoRng) -> Result<(), AgentError> {
        while self.pending.is_none() && !self.output_full() {
            let Some(payload) = self.decoder.next_frame()? else { return Ok(()) };
            let response = match Request::decode(payload) {
                // Locked, the agent looks at nothing but unlock (the backend answers the rest).
                Err(_) if is_session_bind(payload) && !backend.is_locked() => {
                    self.connection.bind_failed_to_decode();
                    Response::Failure
                }
                Err(_) => Response::Failure,
                Ok(Request::Extension(ExtensionRequest::SessionBind(_))) if backend.is_locked() => Response::Failure,
                Ok(Request::Extension(ExtensionRequest::SessionBind(bind))) => {
                    if self.connection.bind(bind) {
                        Response::Success
                    } else {
                        Response::Failure
                    }
                }
                Ok(request) => {
                    let mut ctx =
                        RequestContext { now, rng: &mut *rng, connection: &self.connection, confirmed: false };
                    match backend.handle(&request, &mut ctx) {
                        Outcome::Reply(r) => r,
                        Outcome::Confirm { key_blob, comment } => {
                            let token = ConfirmToken(self.next_token);
                            self.next_token += 1;
                            self.pending = Some((token, request));
                            self.events.push_back(AgentEvent::Confirm { token, key_blob, comment });
                            continue;
                        }
                    }
                }
            };
            self.queue(&response);
        }
        Ok(())
    }
}
