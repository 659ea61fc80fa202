//! An async SSH client and server over tokio, driving the sans-IO [`ssh_proto`] core: the blocking
//! driver's concepts under the same names, so moving between the two is a change of
//! `.await`, not of design.
//!
//! Each connection runs two tasks (one reading, one writing and firing timers); [`Session`]
//! and [`Channel`] calls lock the core's state, issue a command, and wait by leaving their
//! task's waker with what they wait for. Channels implement `AsyncRead` (standard output)
//! and `AsyncWrite` (standard input); [`Channel::stderr`] reads standard error.

mod channel;
mod engine;
mod forward;
mod server;
mod session;

pub use channel::{Channel, Stderr};
pub use forward::{LocalForward, pump};
pub use server::{
    AgentOpener, AuthDecision, Controls, Interactive, Server, ServerHandler, ServerSession, SessionControl, StopHandle,
    SubsystemFn, SubsystemFuture, X11Forwarding, serve_connection,
};
pub use session::Session;
pub use ssh_proto::driver::{AuthOutcome, Error, Forwarded, HostKeyVerifier};

/// Re-exported so users name the core's types through one crate.
pub use ssh_proto;
