//! Paramiko's `SSHClient`: connect, check the host key against known_hosts, authenticate
//! in Paramiko's order, run commands.

use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ssh_proto::auth::{InfoRequest, Prompt};
use ssh_proto::keys::file::decode_private_key;
use ssh_proto::ssh_config::Proxy;
use ssh_proto::{KeyPair, client};

use crate::channel::{Channel, Stderr, Stdin};
use crate::host_keys::{KnownHostsVerifier, UnknownHostPolicy};
use crate::session::{AuthOutcome, HostKeyVerifier, Session, Timeouts};
use crate::{AgentConnection, Error, Stream};

/// The function behind a [`Prompter`].
pub type PromptFn = dyn Fn(&InfoRequest) -> Vec<String> + Send + Sync;

/// Answers keyboard-interactive prompts (one answer per prompt), for [`ConnectOptions::prompter`].
#[derive(Clone)]
pub struct Prompter(pub Arc<PromptFn>);

impl std::fmt::Debug for Prompter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Prompter")
    }
}

/// An authentication method [`Client::connect`] may try, in Paramiko's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    /// Keys: given, key files, the agent's, `~/.ssh` defaults.
    PublicKey,
    /// The password.
    Password,
    /// Keyboard-interactive: the prompter, or the password for a single hidden prompt.
    KeyboardInteractive,
}

impl AuthMethod {
    /// The method's name on the wire (`PreferredAuthentications`).
    pub fn name(self) -> &'static str {
        match self {
            Self::PublicKey => "publickey",
            Self::Password => "password",
            Self::KeyboardInteractive => "keyboard-interactive",
        }
    }

    /// The method with this wire name.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::PublicKey, Self::Password, Self::KeyboardInteractive].into_iter().find(|m| m.name() == name)
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
            auth_methods: vec![AuthMethod::PublicKey, AuthMethod::Password, AuthMethod::KeyboardInteractive],
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
}

/// An authenticated connection (Paramiko's `SSHClient`).
pub struct Client {
    session: Arc<Session>,
    /// The jump hosts' connections this one runs through, kept open while it lives (and
    /// dropped after it: fields drop in order).
    _jumps: Vec<Client>,
}

/// What `exec_command` returns: standard input, output and error of the command.
pub struct Exec {
    /// Standard input.
    pub stdin: Stdin,
    /// Standard output, and the channel (exit status, signals).
    pub stdout: Channel,
    /// Standard error.
    pub stderr: Stderr,
}

/// A private key file, decrypted with `passphrase` if it is encrypted.
pub(crate) fn load_key(path: &std::path::Path, passphrase: Option<&str>) -> Result<KeyPair, Error> {
    let text = std::fs::read_to_string(path)?;
    let loaded = decode_private_key(&text, passphrase.map(str::as_bytes))
        .map_err(|e| Error::Io(std::io::Error::other(format!("{}: {e}", path.display()))))?;
    Ok(KeyPair::new(loaded.key)?)
}

fn tcp(host: &str, port: u16, timeout: Option<Duration>) -> Result<TcpStream, Error> {
    let addrs: Vec<_> = (host, port).to_socket_addrs()?.collect();
    let mut last = None;
    for addr in addrs {
        let r = match timeout {
            Some(t) => TcpStream::connect_timeout(&addr, t),
            None => TcpStream::connect(addr),
        };
        match r {
            Ok(tcp) => return Ok(tcp),
            Err(e) => last = Some(e),
        }
    }
    Err(Error::Io(last.unwrap_or_else(|| std::io::Error::other(format!("{host} has no address")))))
}

impl Client {
    /// Connects (directly, through the proxy command or the jump hosts), verifies the host
    /// key, and authenticates.
    pub fn connect(options: &ConnectOptions) -> Result<Self, Error> {
        match &options.proxy {
            Proxy::Direct => {
                Self::connect_stream(tcp(&options.host, options.port, options.connect_timeout)?.try_into()?, options)
            }
            Proxy::Command(command) => Self::connect_stream(Stream::proxy_command(command)?, options),
            Proxy::Jump(hops) => {
                let mut jumps: Vec<Client> = Vec::new();
                for hop in hops {
                    let mut o = options.clone();
                    (o.proxy, o.host_key_alias) = (Proxy::Direct, None);
                    (o.host, o.port) = (hop.host.clone(), hop.port.unwrap_or(22));
                    if let Some(u) = &hop.user {
                        o.username = u.clone();
                    }
                    let stream = Self::next_hop(jumps.last(), &o)?;
                    jumps.push(Self::connect_stream(stream, &o)?);
                }
                let client = Self::connect_stream(Self::next_hop(jumps.last(), options)?, options)?;
                Ok(Self { session: client.session, _jumps: jumps })
            }
        }
    }

    /// The stream to `o.host:o.port`: over TCP, or through the previous hop's
    /// `direct-tcpip` channel.
    fn next_hop(previous: Option<&Client>, o: &ConnectOptions) -> Result<Stream, Error> {
        match previous {
            None => Ok(tcp(&o.host, o.port, o.connect_timeout)?.try_into()?),
            Some(p) => Ok(p.session.open_direct_tcpip(&o.host, o.port, "127.0.0.1", 0)?.into()),
        }
    }

    /// Like [`Client::connect`] over an existing stream (Paramiko's `sock`).
    pub fn connect_stream(stream: Stream, options: &ConnectOptions) -> Result<Self, Error> {
        let mut verifier = match &options.host_key_alias {
            Some(alias) => KnownHostsVerifier::new(alias, 22, options.policy),
            None => KnownHostsVerifier::new(&options.host, options.port, options.policy),
        };
        if let Some(f) = &options.known_hosts {
            verifier = verifier.user_file(f);
        }
        for f in &options.system_known_hosts {
            verifier = verifier.system_file(f);
        }
        Self::connect_with(stream, options, verifier)
    }

    /// Like [`Client::connect_stream`] with a custom host key check.
    pub fn connect_with(
        stream: Stream,
        options: &ConnectOptions,
        verifier: impl HostKeyVerifier,
    ) -> Result<Self, Error> {
        let session = Session::handshake(stream, options.config.clone(), options.timeouts, verifier)?;
        let client = Self { session: Arc::new(session), _jumps: Vec::new() };
        client.authenticate(options)?;
        Ok(client)
    }

    /// Paramiko's order: given keys, key files, the agent's keys, `~/.ssh` keys, then the
    /// password, then keyboard-interactive. The keys asked for come first, so a full agent
    /// never earns "too many authentication failures" before them; a key already tried is
    /// not tried again; a method the server stopped offering is skipped.
    fn authenticate(&self, o: &ConnectOptions) -> Result<(), Error> {
        let s = &self.session;
        let user = o.username.as_str();
        let mut allowed: Option<Vec<String>> = None;
        // Each attempt's outcome: done, or the methods that can continue.
        let settle = |outcome: AuthOutcome, allowed: &mut Option<Vec<String>>| match outcome {
            AuthOutcome::Success => true,
            AuthOutcome::Partial { methods } | AuthOutcome::Failure { methods } => {
                *allowed = Some(methods);
                false
            }
        };
        let offered = |allowed: &Option<Vec<String>>, m: AuthMethod| {
            allowed.as_ref().is_none_or(|a| a.iter().any(|n| n == m.name()))
        };
        for &method in &o.auth_methods {
            if !offered(&allowed, method) {
                continue;
            }
            let done = match method {
                AuthMethod::PublicKey => self.try_keys(o, &mut |outcome| settle(outcome, &mut allowed))?,
                AuthMethod::Password => match (&o.password, &o.prompter) {
                    (Some(p), _) => settle(s.auth_password(user, p)?, &mut allowed),
                    // Asked for only now, when the server still wants one.
                    (None, Some(Prompter(ask))) => {
                        let prompt = Prompt { text: format!("{user}@{}'s password: ", o.host), echo: false };
                        let request =
                            InfoRequest { name: String::new(), instruction: String::new(), prompts: vec![prompt] };
                        match ask(&request).into_iter().next() {
                            Some(p) => settle(s.auth_password(user, &p)?, &mut allowed),
                            None => false,
                        }
                    }
                    (None, None) => false,
                },
                AuthMethod::KeyboardInteractive => match (&o.prompter, &o.password) {
                    (Some(Prompter(f)), _) => settle(s.auth_interactive(user, "", |r| f(r))?, &mut allowed),
                    (None, Some(p)) => {
                        // Paramiko's fallback: the password for a single hidden prompt;
                        // anything else gets empty answers, which the server refuses.
                        let answer = |r: &InfoRequest| match r.prompts.as_slice() {
                            [one] if !one.echo => vec![p.clone()],
                            prompts => vec![String::new(); prompts.len()],
                        };
                        settle(s.auth_interactive(user, "", answer)?, &mut allowed)
                    }
                    (None, None) => false,
                },
            };
            if done {
                return Ok(());
            }
        }
        let allowed = match allowed {
            Some(a) => a,
            // Nothing was tried: ask the server what it allows, for the error.
            None => match s.auth_none(user)? {
                AuthOutcome::Success => return Ok(()),
                AuthOutcome::Partial { methods } | AuthOutcome::Failure { methods } => methods,
            },
        };
        s.close();
        Err(Error::AuthFailed { allowed })
    }

    /// Public keys in Paramiko's order; `settle` says whether an outcome ends the login.
    fn try_keys(&self, o: &ConnectOptions, settle: &mut dyn FnMut(AuthOutcome) -> bool) -> Result<bool, Error> {
        let s = &self.session;
        let user = o.username.as_str();
        let mut tried: Vec<ssh_proto::ssh_key::public::KeyData> = Vec::new();
        let mut fresh = |key: &ssh_proto::ssh_key::PublicKey| {
            let new = !tried.contains(key.key_data());
            if new {
                tried.push(key.key_data().clone());
            }
            new
        };
        let mut keys: Vec<Arc<KeyPair>> = o.keys.clone();
        for path in &o.key_files {
            keys.push(Arc::new(load_key(path, o.passphrase.as_deref())?));
        }
        for key in keys {
            if fresh(key.public_key()) && settle(s.auth_publickey(user, key)?) {
                return Ok(true);
            }
        }
        if o.allow_agent {
            let agent = match &o.agent_socket {
                Some(p) => Some(AgentConnection::connect(p)),
                None => AgentConnection::from_env(),
            };
            // An agent that is not there or fails is skipped, as Paramiko does.
            if let Some(Ok(mut agent)) = agent {
                for identity in agent.identities().unwrap_or_default() {
                    let Ok(key) = identity.public_key() else { continue };
                    if fresh(&key) && settle(s.auth_agent_key(user, &identity, &mut agent)?) {
                        return Ok(true);
                    }
                }
            }
        }
        if o.look_for_keys
            && let Some(home) = std::env::var_os("HOME")
        {
            let dir = PathBuf::from(home).join(".ssh");
            for name in ["id_ed25519", "id_ecdsa", "id_rsa"] {
                let Ok(key) = load_key(&dir.join(name), o.passphrase.as_deref()) else { continue };
                if fresh(key.public_key()) && settle(s.auth_publickey(user, Arc::new(key))?) {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }
    /// The underlying session (Paramiko's `get_transport()`); clone the `Arc` to share it
    /// with forwarders and other threads.
    pub fn session(&self) -> &Arc<Session> {
        &self.session
    }

    /// Runs `command` and returns its standard streams.
    pub fn exec_command(&self, command: &str) -> Result<Exec, Error> {
        let ch = self.session.open_session()?;
        ch.exec(command)?;
        Ok(Exec { stdin: ch.stdin(), stderr: ch.stderr(), stdout: ch })
    }

    /// Starts an interactive shell on a pseudo-terminal (Paramiko's `invoke_shell`).
    pub fn invoke_shell(&self, term: &str, cols: u32, rows: u32) -> Result<Channel, Error> {
        let ch = self.session.open_session()?;
        ch.request_pty(term, cols, rows)?;
        ch.shell()?;
        Ok(ch)
    }

    /// Starts a subsystem (`sftp`, …) on a new channel (Paramiko's `invoke_subsystem`).
    pub fn invoke_subsystem(&self, name: &str) -> Result<Channel, Error> {
        let ch = self.session.open_session()?;
        ch.subsystem(name)?;
        Ok(ch)
    }

    /// Disconnects.
    pub fn close(&self) {
        self.session.close();
    }
}
