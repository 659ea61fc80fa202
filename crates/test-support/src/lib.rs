//! Real peers on loopback for the interop tests of the workspace.
//!
//! - [`Sshd`]: OpenSSH `sshd` in a temporary directory, with host keys of every type and a
//!   host certificate for each, every algorithm it supports enabled, on a free 127.0.0.1 port.
//! - [`ParamikoServer`] / [`ParamikoClient`]: Paramiko's transport in server and client mode,
//!   driven by the Python scripts in `python/`; [`ScriptProcess`] runs any of those scripts
//!   as a conversation of JSON lines.
//! - [`TestServer`]: *our* server ([`ssh_proto::server::Connection`]) behind a std::net
//!   listener, one thread per connection.
//! - [`client_handshake`]: *our* client, key exchange plus an `ssh-userauth` service request.
//! - [`fixtures`]: the host keys and certificates in `ssh-proto/testdata/hostkeys`.
//! - [`run_matrix`]: runs a list of cases over a few worker threads and reports counts and time.
//!
//! Every child process is bounded in time and killed on drop; every temporary directory is
//! removed on drop. When a peer is missing, [`peers_available`] (or [`require_peers!`]) prints
//! a loud `SKIPPED:` line and the test returns, unless `SSH_INTEROP=require` is set, in which
//! case it panics.
//!
//! ```no_run
//! use test_support::{Peer, Sshd, client_handshake, require_peers};
//! # fn t() {
//! require_peers!(Peer::Sshd, Peer::SshKeygen, Peer::Ssh);
//! let sshd = Sshd::start().unwrap();
//! let out = client_handshake(sshd.addr(), ssh_proto::client::Config::default(), std::time::Duration::from_secs(10))
//!     .unwrap();
//! println!("{:?}", out.negotiated);
//! # }
//! ```

pub mod agent;
pub mod algos;
mod client;
mod data;
mod echo;
pub mod fixtures;
mod matrix;
mod paramiko;
mod peers;
pub mod process;
mod script;
mod server;
mod session;
mod sshd;
pub mod toy_shell;

pub use agent::SshAgent;
pub use algos::Combo;
pub use client::{Outcome, client_handshake, system_rng};
pub use data::pattern;
pub use echo::{EchoServer, round_trip};
pub use matrix::{MatrixReport, default_workers, run_matrix, run_matrix_with};
pub use paramiko::{
    ParamikoAlgorithms, ParamikoAuth, ParamikoCase, ParamikoClient, ParamikoExec, ParamikoNegotiated, ParamikoServer,
    ParamikoServerOptions, paramiko_algorithms, paramiko_exec,
};
pub use peers::{Peer, interop_required, peers_available, python};
pub use script::ScriptProcess;
/// Re-exported for tests that read [`ScriptProcess`] output.
pub use serde_json;
pub use server::{ConnectionRecord, Disconnect, ServerOptions, TestServer};
pub use session::{Credential, ExecOutcome, ExecRequest, client_exec};
pub use sshd::{GeneratedHostKey, Sshd, SshdAlgorithms, SshdOptions};
pub use toy_shell::AuthPolicy;

/// Returns from the calling test (after a loud `SKIPPED:` line) unless every listed peer is
/// installed; panics instead when `SSH_INTEROP=require` is set.
#[macro_export]
macro_rules! require_peers {
    ($($peer:expr),+ $(,)?) => {
        if !$crate::peers_available(&[$($peer),+]) {
            return;
        }
    };
}
