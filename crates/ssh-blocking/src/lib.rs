//! A blocking SSH client and server over `std::net` and threads, driving the sans-IO
//! [`ssh_proto`] core: what Paramiko's `Transport` and `Channel` do, without protocol logic
//! of its own.
//!
//! Each connection runs two I/O threads (one reading, one writing and firing timers);
//! [`Session`] and [`Channel`] calls lock the core's state, issue a command and wait on a
//! condition variable.

mod accept;
mod agent;
mod channel;
mod client;
mod engine;
mod forward;
mod server;
mod session;
mod stream;

pub use accept::Forwarded;
pub use agent::AgentConnection;
pub use channel::{Channel, Reader, Stderr, Stdin, select};
pub use client::{Client, Exec};
pub use forward::{Duplex, LocalForward, RemoteForward, pump};
pub use server::{
    AgentOpener, AuthDecision, Interactive, Server, ServerHandler, ServerSession, SessionControl, StopHandle,
    SubsystemFn, X11Forwarding, serve_connection,
};
pub use session::{AuthOutcome, HostKeyVerifier, Session};
/// The user's files, shared with the async driver: connect options, ssh_config, known_hosts, keys.
pub use ssh_files::{
    AuthMethod, ConnectOptions, KnownHostsVerifier, PromptFn, Prompter, SystemEnvironment, Timeouts, UnknownHostPolicy,
    default_keys, load_key, local_user,
};
pub use ssh_proto::driver::Error;
pub use stream::Stream;

/// Re-exported for [`ConnectOptions::from_config`] and the other file helpers.
pub use ssh_files;
/// Re-exported so users name the core's types through one crate.
pub use ssh_proto;
