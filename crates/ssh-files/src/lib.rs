//! The user's side of OpenSSH, for both drivers (`ssh-blocking`, `ssh-tokio`): what a
//! client reads from the file system and the environment before it connects. The core
//! ([`ssh_proto`]) parses and decides; this crate only reads and writes the files.
//!
//! - [`ConnectOptions`]: Paramiko's `SSHClient.connect` arguments, from code or from a
//!   resolved ssh_config ([`ConnectOptions::from_config`]).
//! - [`SystemEnvironment`] and [`local_user`]: the operating system behind ssh_config
//!   resolution (files, globs, `Match exec`, variables, name lookup, the account).
//! - [`KnownHostsVerifier`]: host key policies over known_hosts files.
//! - [`load_key`], [`default_keys`]: private key files.
//!
//! ```
//! use ssh_files::{ConnectOptions, UnknownHostPolicy};
//!
//! let mut o = ConnectOptions::new("127.0.0.1", 2222, "me");
//! o.policy = UnknownHostPolicy::AcceptNew;
//! o.known_hosts = Some("/tmp/known_hosts".into());
//! assert_eq!(o.known_hosts_name(), ("127.0.0.1", 2222));
//! ```

mod config;
mod keys;
mod known_hosts;
mod options;

pub use config::{SystemEnvironment, local_user};
pub use keys::{default_keys, load_key};
pub use known_hosts::{KnownHostsVerifier, UnknownHostPolicy};
pub use options::{Answers, ConnectOptions, PromptFn, Prompter};
pub use ssh_proto::driver::{AuthMethod, Error, Timeouts};
