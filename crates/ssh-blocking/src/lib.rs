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
mod config;
mod engine;
mod forward;
mod host_keys;
mod server;
mod session;
mod stream;

pub use accept::Forwarded;
pub use agent::AgentConnection;
pub use channel::{Channel, Reader, Stderr, Stdin, select};
pub use client::{AuthMethod, Client, ConnectOptions, Exec, PromptFn, Prompter};
pub use config::{SystemEnvironment, local_user};
pub use forward::{Duplex, LocalForward, RemoteForward, pump};
pub use host_keys::{KnownHostsVerifier, UnknownHostPolicy};
pub use server::{
    AgentOpener, AuthDecision, Interactive, Server, ServerHandler, ServerSession, SessionControl, StopHandle,
    SubsystemFn, X11Forwarding, serve_connection,
};
pub use session::{AuthOutcome, HostKeyVerifier, Session, Timeouts};
pub use ssh_proto::driver::Error;
pub use stream::Stream;

/// Re-exported so users name the core's types through one crate.
pub use ssh_proto;
