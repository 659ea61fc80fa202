//! An async SSH client and server over tokio, driving the sans-IO [`ssh_proto`] core: the blocking
//! driver's concepts under the same names, so moving between the two is a change of
//! `.await`, not of design.
//!
//! Each connection runs two tasks (one reading, one writing and firing timers); [`Session`]
//! and [`Channel`] calls lock the core's state, issue a command, and wait by leaving their
//! task's waker with what they wait for. Channels implement `AsyncRead` (standard output)
//! and `AsyncWrite` (standard input); [`Channel::stderr`] reads standard error.

mod accept;
mod agent;
mod channel;
mod client;
mod engine;
mod forward;
mod server;
mod session;
mod shards;
mod stream;

pub use agent::AgentConnection;
pub use channel::{Channel, Stderr, Stdin};
pub use client::{Client, Exec};
pub use forward::{LocalForward, RemoteForward, pump};
pub use server::{
    AgentOpener, AuthDecision, Controls, Interactive, Server, ServerHandler, ServerSession, SessionControl, StopHandle,
    SubsystemFn, SubsystemFuture, X11Forwarding, serve_connection,
};
pub use session::Session;
/// The user's files, shared with the blocking driver: connect options, ssh_config, known_hosts, keys.
pub use ssh_files::{
    AuthMethod, ConnectOptions, KnownHostsVerifier, PromptFn, Prompter, SystemEnvironment, Timeouts, UnknownHostPolicy,
    default_keys, load_key, local_user,
};
pub use ssh_proto::driver::{AuthOutcome, Error, Forwarded, HostKeyVerifier};
pub use stream::ProxyCommand;

/// Re-exported for [`ConnectOptions::from_config`] and the other file helpers.
pub use ssh_files;
/// Re-exported so users name the core's types through one crate.
pub use ssh_proto;
