//! Paramiko's `SSHClient.connect` arguments, as one value both drivers' `Client` take.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ssh_proto::auth::InfoRequest;
use ssh_proto::driver::{AuthMethod, Error, KeySource, LoginPlan, Timeouts, password_answers, password_prompt};
use ssh_proto::ssh_config::{JumpHost, Proxy};
use ssh_proto::{KeyPair, client};

use crate::{KnownHostsVerifier, UnknownHostPolicy, default_keys, load_key};

/// The function behind a [`Prompter`].
pub type PromptFn = dyn Fn(&InfoRequest) -> Vec<String> + Send + Sync;

/// One login's answers to keyboard-interactive prompts ([`ConnectOptions::interactive_answers`]).
pub type Answers<'a> = Box<dyn FnMut(&InfoRequest) -> Vec<String> + Send + 'a>;

/// Answers keyboard-interactive prompts (one answer per prompt), for [`ConnectOptions::prompter`].
#[derive(Clone)]
pub struct Prompter(pub Arc<PromptFn>);

impl std::fmt::Debug for Prompter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Prompter")
    }
}

/// Paramiko's `SSHClient.connect` arguments, plus what ssh_config adds (proxies, host key
/// alias, keepalive, algorithms: see [`ConnectOptions::from_config`]).
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// Host name or address.
    pub host: String,
    /// Port (22).
    pub port: u16,
    /// User name.
    pub username: String,
    /// Password, tried after the keys.
    pub password: Option<String>,
    /// Keys already loaded (`pkey`), tried first.
    pub keys: Vec<Arc<KeyPair>>,
    /// Private key files (`key_filename`), tried after `keys`; a file that cannot be loaded
    /// is an error.
    pub key_files: Vec<PathBuf>,
    /// Passphrase for encrypted key files.
    pub passphrase: Option<String>,
    /// Try the agent's keys after the key files (`allow_agent`, default yes).
    pub allow_agent: bool,
    /// The agent's socket (`None`: `SSH_AUTH_SOCK`).
    pub agent_socket: Option<PathBuf>,
    /// Try `~/.ssh/id_ed25519`, `id_ecdsa`, `id_rsa` last (`look_for_keys`, default yes);
    /// ones that are missing or need a passphrase are skipped.
    pub look_for_keys: bool,
    /// The methods to try, in this order among the three kinds (`PreferredAuthentications`;
    /// default all, in Paramiko's order: keys, password, keyboard-interactive).
    pub auth_methods: Vec<AuthMethod>,
    /// Answers keyboard-interactive prompts, and asks for the password when none is given
    /// and the server still wants one; without it, only a single hidden prompt is answered,
    /// with the password (Paramiko's fallback).
    pub prompter: Option<Prompter>,
    /// TCP connect timeout (`timeout`).
    pub connect_timeout: Option<Duration>,
    /// Handshake, auth and channel timeouts.
    pub timeouts: Timeouts,
    /// The user's known_hosts file (read, and written by `AutoAdd` / `AcceptNew`).
    pub known_hosts: Option<PathBuf>,
    /// System known_hosts files (read only).
    pub system_known_hosts: Vec<PathBuf>,
    /// The name to look the host key up by (`HostKeyAlias`), instead of `host:port`.
    pub host_key_alias: Option<String>,
    /// What to do with an unknown host key.
    pub policy: UnknownHostPolicy,
    /// How to reach the host: directly, through a command's stdio (`ProxyCommand`, run by
    /// `/bin/sh -c`, tokens already expanded) or through jump hosts (`ProxyJump`), each
    /// authenticated with these same credentials and known_hosts.
    pub proxy: Proxy,
    /// The protocol configuration (algorithms, limits, compression, keepalive, rekeying).
    pub config: client::Config,
}

impl ConnectOptions {
    /// Options for `username@host:port` with Paramiko's defaults (reject unknown hosts).
    pub fn new(host: &str, port: u16, username: &str) -> Self {
        Self {
            host: host.to_owned(),
            port,
            username: username.to_owned(),
            password: None,
            keys: Vec::new(),
            key_files: Vec::new(),
            passphrase: None,
            allow_agent: true,
            agent_socket: None,
            look_for_keys: true,
            auth_methods: AuthMethod::ORDER.to_vec(),
            prompter: None,
            connect_timeout: Some(Duration::from_secs(30)),
            timeouts: Timeouts::default(),
            known_hosts: None,
            system_known_hosts: Vec::new(),
            host_key_alias: None,
            policy: UnknownHostPolicy::Reject,
            proxy: Proxy::Direct,
            config: client::Config::default(),
        }
    }

    /// The host and port known_hosts files list this host's key under: the
    /// `HostKeyAlias` (port 22) when there is one.
    pub fn known_hosts_name(&self) -> (&str, u16) {
        match &self.host_key_alias {
            Some(alias) => (alias, 22),
            None => (&self.host, self.port),
        }
    }

    /// The host key check these options ask for: the policy over the user's and the
    /// system's known_hosts files.
    pub fn verifier(&self) -> KnownHostsVerifier {
        let (host, port) = self.known_hosts_name();
        let mut verifier = KnownHostsVerifier::new(host, port, self.policy);
        if let Some(f) = &self.known_hosts {
            verifier = verifier.user_file(f);
        }
        for f in &self.system_known_hosts {
            verifier = verifier.system_file(f);
        }
        verifier
    }

    /// The options for a jump host on the way: its host, port and user, these
    /// credentials and known_hosts, connected directly (the driver supplies the stream).
    pub fn for_hop(&self, hop: &JumpHost) -> Self {
        let mut o = self.clone();
        (o.proxy, o.host_key_alias) = (Proxy::Direct, None);
        (o.host, o.port) = (hop.host.clone(), hop.port.unwrap_or(22));
        if let Some(u) = &hop.user {
            o.username = u.clone();
        }
        o
    }

    /// The login these options describe, in Paramiko's order.
    pub fn login_plan(&self) -> LoginPlan {
        LoginPlan::new(&self.auth_methods)
    }

    /// The local keys `source` holds, in order: the given keys, the key files (one that
    /// cannot be loaded is an error, as in Paramiko) or the `~/.ssh` defaults (when
    /// `look_for_keys`). The agent's keys are the driver's to ask for: none here.
    pub fn local_keys(&self, source: KeySource) -> Result<Vec<Arc<KeyPair>>, Error> {
        let passphrase = self.passphrase.as_deref();
        Ok(match source {
            KeySource::Given => self.keys.clone(),
            KeySource::Files => {
                self.key_files.iter().map(|path| load_key(path, passphrase).map(Arc::new)).collect::<Result<_, _>>()?
            }
            KeySource::Defaults if self.look_for_keys => default_keys(passphrase).into_iter().map(Arc::new).collect(),
            KeySource::Defaults | KeySource::Agent => Vec::new(),
        })
    }

    /// The password for the `password` method: the one given, else the prompter's answer
    /// to ssh's question, asked only now that the server still wants one. `None`: the
    /// method is skipped.
    pub fn password_to_send(&self) -> Option<String> {
        match (&self.password, &self.prompter) {
            (Some(p), _) => Some(p.clone()),
            (None, Some(Prompter(ask))) => ask(&password_prompt(&self.username, &self.host)).into_iter().next(),
            (None, None) => None,
        }
    }

    /// How keyboard-interactive prompts are answered: by the prompter, else with the
    /// password for a single hidden prompt (Paramiko's fallback). `None`: the method is
    /// skipped.
    pub fn interactive_answers(&self) -> Option<Answers<'_>> {
        match (&self.prompter, &self.password) {
            (Some(Prompter(f)), _) => Some(Box::new(|r| f(r))),
            (None, Some(p)) => Some(Box::new(|r| password_answers(r, p))),
            (None, None) => None,
        }
    }

    /// The agent socket to ask for keys, when the agent may be used: the one given, else
    /// `SSH_AUTH_SOCK`.
    pub fn agent_socket_path(&self) -> Option<PathBuf> {
        if !self.allow_agent {
            return None;
        }
        self.agent_socket
            .clone()
            .or_else(|| std::env::var_os("SSH_AUTH_SOCK").filter(|s| !s.is_empty()).map(PathBuf::from))
    }
}
