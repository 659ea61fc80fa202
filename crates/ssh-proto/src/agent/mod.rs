//! The SSH agent protocol (draft-miller-ssh-agent, as OpenSSH speaks it), both sides, sans-IO.
//!
//! - [`Request`] / [`Response`]: every message, typed, with `to_frame` (the framed bytes)
//!   and `decode` (one payload); [`FrameDecoder`] splits a byte stream into payloads, with a
//!   size limit ([`DEFAULT_MAX_MESSAGE`], 256 KiB as in OpenSSH).
//! - [`AgentClient`]: queue requests, feed the agent's bytes, get responses matched to
//!   requests in order. Its signatures answer [`Event::AuthSign`](crate::Event::AuthSign).
//! - [`AgentServer`]: one agent connection; feed the client's bytes, get response bytes and
//!   [`AgentEvent`]s (confirmations). It checks and records `session-bind@openssh.com`
//!   (host certificates included) and keeps at most two maximum-size messages of answers
//!   queued: later requests wait until [`poll_transmit`](AgentServer::poll_transmit) drains
//!   them ([`has_unanswered`](AgentServer::has_unanswered)). The keys are in an
//!   [`AgentBackend`]: the built-in [`MemoryAgent`] or the driver's own.
//!
//! No socket, clock or file is touched: the driver owns the Unix socket, passes its clock
//! (seconds) for key lifetimes and an RNG for RSA blinding.
//!
//! ```
//! use ssh_proto::agent::{AgentClient, AgentKey, AgentServer, Constraint, MemoryAgent};
//! use ssh_proto::{KeyPair, SeededRng};
//!
//! let key = KeyPair::generate_ed25519(&mut SeededRng::new(1));
//! let mut store = MemoryAgent::new();
//! let mut server = AgentServer::new();
//! let mut client = AgentClient::new();
//! let lifetime = vec![Constraint::Lifetime(60)];
//! client.add_identity(AgentKey::new(key.private_key()).unwrap(), "laptop", lifetime).unwrap();
//! let list = client.request_identities();
//! let now = 1_000; // the driver's clock, in seconds
//! while let Some(bytes) = client.poll_transmit() {
//!     server.handle_input(&bytes, &mut store, now, &mut SeededRng::new(2)).unwrap();
//! }
//! while let Some(bytes) = server.poll_transmit() {
//!     client.handle_input(&bytes).unwrap();
//! }
//! client.poll_response().unwrap().1.unwrap().into_success().unwrap();
//! let (id, ids) = client.poll_response().unwrap();
//! assert_eq!(id, list);
//! assert_eq!(ids.unwrap().into_identities().unwrap()[0].comment, "laptop");
//! assert_eq!(store.next_expiry(), Some(1_060));
//! store.expire(1_060);
//! assert!(store.is_empty());
//! ```

mod client;
mod constraint;
mod error;
mod frame;
mod key;
mod message;
mod server;
mod store;

#[cfg(test)]
mod tests;

pub use client::{AgentClient, RequestId};
pub use constraint::{
    CONSTRAIN_CONFIRM, CONSTRAIN_EXTENSION, CONSTRAIN_LIFETIME, CONSTRAIN_MAXSIGN, Constraint, MAX_CONSTRAINTS,
    RESTRICT_DESTINATION,
};
pub use error::AgentError;
pub use frame::{DEFAULT_MAX_MESSAGE, FrameDecoder};
pub use key::AgentKey;
pub use message::{
    AddIdentity, AddSmartcardKey, ExtensionRequest, ExtensionResponse, Identity, MAX_IDENTITIES, QUERY, Request,
    Response, SESSION_BIND, Secret, SessionBind, SignFlags, SignRequest, number,
};
pub use server::{
    AgentBackend, AgentEvent, AgentServer, ConfirmToken, ConnectionState, Decision, MAX_SESSION_BINDS, Outcome,
    RequestContext,
};
pub use store::{MAX_COMMENT, MAX_KEYS, MAX_UNLOCK_FAILURES, MemoryAgent};
