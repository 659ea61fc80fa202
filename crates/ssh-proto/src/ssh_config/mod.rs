//! ssh_config(5): parsing and host resolution with OpenSSH 9.2's semantics (readconf.c and
//! ssh.c are the reference), sans-IO: files, globbing, `Match exec`, environment variables
//! and name resolution come from the driver through [`Environment`], the local account from
//! [`LocalUser`].
//!
//! What it does, as OpenSSH does:
//! - keywords case-insensitive, `Keyword value` and `Keyword=value`, quotes and `\` escapes,
//!   `#` comments; unknown keywords are errors unless `IgnoreUnknown` lists them; errors name
//!   the file and line ([`ConfigError`]);
//! - `Host` patterns with `*`, `?` and `!`; `Match all|canonical|final|exec|host|originalhost|
//!   user|localuser`, each negatable; `Include` with globs and `~`, relative paths under
//!   `~/.ssh` (user config) or `/etc/ssh` (system config), nesting limited to 16;
//! - first value wins; IdentityFile, CertificateFile, LocalForward, RemoteForward,
//!   DynamicForward and SendEnv accumulate; SetEnv, the known hosts lists, CanonicalDomains
//!   and CanonicalizePermittedCNAMEs are set by their first line; algorithm lists keep their
//!   `+`/`-`/`^` specification verbatim ([`Resolved::algorithms`]);
//! - `Hostname` `%h`, lowercasing, CanonicalizeHostname with CanonicalDomains, MaxDots,
//!   FallbackLocal and PermittedCNAMEs through [`Environment::resolve`], then the second pass
//!   that `Match canonical` / `Match final` see;
//! - `%` tokens and `${VAR}` in the options OpenSSH expands ([`Resolved::expand`]);
//! - [`Resolved::to_ssh_g`] prints what `ssh -G` prints, defaults included.
//!
//! Deliberate differences: file permission checks (`Bad owner or permissions`) are the
//! caller's; `Port` takes numbers only (no service names); `~user/` is not expanded; an
//! address as host name is neither resolved nor reformatted; `IPQoS` values and
//! `TunnelDevice` are checked for their argument count only and printed as written
//! (lowercased); `UpdateHostKeys ask` is not turned off the way ssh.c does when a command
//! or ControlPersist is in play; unsupported options are dropped silently. `%j` is accepted
//! (OpenSSH 9.4+) although 9.2's `%C` does not include it. Defaults are those of Debian's
//! 9.2p1 build (ForwardX11Trusted yes, ServerAliveInterval 300 under BatchMode, the GSSAPI
//! lines).
//!
//! ```
//! use ssh_proto::ssh_config::{LocalUser, MemoryEnvironment, Query, Sources, resolve};
//!
//! let mut env = MemoryEnvironment::default();
//! env.files.insert("/cfg".into(), "Host web*\n  User deploy\n  Port 2222\nHost *\n  User nobody\n".into());
//! let me = LocalUser { user: "me".into(), home: "/home/me".into(), uid: 1000, hostname: "box".into() };
//! let r = resolve(&Query::new("web1"), &Sources::File("/cfg".into()), &me, &mut env).unwrap();
//! assert_eq!((r.user(), r.port()), ("deploy", 2222));
//! assert!(r.to_ssh_g().starts_with("host web1\nuser deploy\nhostname web1\nport 2222\n"));
//! ```

mod dump;
mod env;
mod error;
mod expand;
mod forward;
mod jump;
mod keyword;
mod lexer;
mod names;
mod options;
mod resolve;
mod syntax;
mod view;

pub use env::{Environment, LocalUser, MemoryEnvironment};
pub use error::{ConfigError, ErrorKind};
pub use expand::{ExpandError, Tokens, Vars, expand};
pub use forward::{Endpoint, Forward};
pub use jump::{JumpHost, parse_hop, parse_jump_list};
pub use syntax::{ConfigFile, Directive};
pub use view::{Algorithms, Proxy, StrictHostKeyChecking};

use options::Options;

/// How many files one pass may read (Include fan-out bound; OpenSSH has none).
pub const MAX_FILES: usize = 256;

/// What is being connected to, with the command line's `-l`, `-p` and `-o` (which win over
/// the config files, as in OpenSSH).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    /// The host as given.
    pub host: String,
    /// `-l user`.
    pub user: Option<String>,
    /// `-p port`.
    pub port: Option<u16>,
    /// `-o` lines (`Keyword=value` or `Keyword value`), read once before the files as ssh
    /// does, after `user` and `port`. Among themselves the first value wins; to keep the
    /// command line's order between `-p`/`-l` and `-o` exactly, pass `-p 22` as `Port=22`
    /// here instead. `Host`, `Match` and `Include` are refused, file name `command-line`.
    pub options: Vec<String>,
}

impl Query {
    /// A query for a host with no command-line overrides.
    pub fn new(host: impl Into<String>) -> Self {
        Self { host: host.into(), user: None, port: None, options: Vec::new() }
    }
}

/// Which configuration files are read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sources {
    /// One file as a user configuration (`ssh -F FILE`); it must exist.
    File(String),
    /// `~/.ssh/config` then `/etc/ssh/ssh_config`, either may be missing.
    Standard,
    /// No files (`ssh -F none`).
    None,
}

/// Resolves the configuration for one host: both passes, canonicalization, defaults.
pub fn resolve<E: Environment>(
    query: &Query,
    sources: &Sources,
    local: &LocalUser,
    env: &mut E,
) -> Result<Resolved, ConfigError> {
    resolve::resolve(query, sources, local, env)
}

/// The options that apply to one host, with expansion done where `ssh -G` does it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    host_arg: String,
    hostname: String,
    opts: Options,
    local: LocalUser,
    tokens: Tokens,
    expanded: view::Expanded,
}

#[cfg(test)]
mod tests;
