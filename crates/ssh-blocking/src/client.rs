//! Paramiko's `SSHClient`: connect, check the host key against known_hosts, authenticate
//! in Paramiko's order, run commands.

use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ssh_proto::keys::file::decode_private_key;
use ssh_proto::{KeyPair, client};

use crate::channel::{Channel, Stderr, Stdin};
use crate::host_keys::{KnownHostsVerifier, UnknownHostPolicy};
use crate::session::{AuthOutcome, HostKeyVerifier, Session, Timeouts};
use crate::{Error, Stream};

/// Paramiko's `SSHClient.connect` arguments.
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
    /// Private key files (`key_filename`), tried after `keys`.
    pub key_files: Vec<PathBuf>,
    /// Passphrase for encrypted key files.
    pub passphrase: Option<String>,
    /// TCP connect timeout (`timeout`).
    pub connect_timeout: Option<Duration>,
    /// Handshake, auth and channel timeouts.
    pub timeouts: Timeouts,
    /// The user's known_hosts file (read, and written by `AutoAdd` / `AcceptNew`).
    pub known_hosts: Option<PathBuf>,
    /// System known_hosts files (read only).
    pub system_known_hosts: Vec<PathBuf>,
    /// What to do with an unknown host key.
    pub policy: UnknownHostPolicy,
    /// The protocol configuration (algorithms, limits, compression).
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
            connect_timeout: Some(Duration::from_secs(30)),
            timeouts: Timeouts::default(),
            known_hosts: None,
            system_known_hosts: Vec::new(),
            policy: UnknownHostPolicy::Reject,
            config: client::Config::default(),
        }
    }
}

/// An authenticated connection (Paramiko's `SSHClient`).
pub struct Client {
    session: Arc<Session>,
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

impl Client {
    /// Connects over TCP, verifies the host key, and authenticates.
    pub fn connect(options: &ConnectOptions) -> Result<Self, Error> {
        let addrs: Vec<_> = (options.host.as_str(), options.port).to_socket_addrs()?.collect();
        let mut last = None;
        for addr in addrs {
            let r = match options.connect_timeout {
                Some(t) => TcpStream::connect_timeout(&addr, t),
                None => TcpStream::connect(addr),
            };
            match r {
                Ok(tcp) => return Self::connect_stream(tcp.try_into()?, options),
                Err(e) => last = Some(e),
            }
        }
        Err(Error::Io(last.unwrap_or_else(|| std::io::Error::other(format!("{} has no address", options.host)))))
    }

    /// Like [`Client::connect`] over an existing stream (Paramiko's `sock`).
    pub fn connect_stream(stream: Stream, options: &ConnectOptions) -> Result<Self, Error> {
        let mut verifier = KnownHostsVerifier::new(&options.host, options.port, options.policy);
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
        let client = Self { session: Arc::new(session) };
        client.authenticate(options)?;
        Ok(client)
    }

    /// Paramiko's order: given keys, then key files, then the password. Each key is tried
    /// once, so a long list never earns "too many authentication failures" for the key
    /// that was asked for: it comes first.
    fn authenticate(&self, o: &ConnectOptions) -> Result<(), Error> {
        let s = &self.session;
        let mut allowed = Vec::new();
        let mut keys: Vec<Arc<KeyPair>> = o.keys.clone();
        for path in &o.key_files {
            let text = std::fs::read_to_string(path)?;
            let pass = o.passphrase.as_deref().map(str::as_bytes);
            let loaded = decode_private_key(&text, pass)
                .map_err(|e| Error::Io(std::io::Error::other(format!("{}: {e}", path.display()))))?;
            keys.push(Arc::new(KeyPair::new(loaded.key)?));
        }
        for key in keys {
            match s.auth_publickey(&o.username, key)? {
                AuthOutcome::Success => return Ok(()),
                AuthOutcome::Partial { methods } | AuthOutcome::Failure { methods } => allowed = methods,
            }
        }
        if let Some(p) = &o.password {
            match s.auth_password(&o.username, p)? {
                AuthOutcome::Success => return Ok(()),
                AuthOutcome::Partial { methods } | AuthOutcome::Failure { methods } => allowed = methods,
            }
        }
        if allowed.is_empty() {
            // Nothing was tried: ask the server what it allows, for the error.
            match s.auth_none(&o.username)? {
                AuthOutcome::Success => return Ok(()),
                AuthOutcome::Partial { methods } | AuthOutcome::Failure { methods } => allowed = methods,
            }
        }
        s.close();
        Err(Error::AuthFailed { allowed })
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

    /// Disconnects.
    pub fn close(&self) {
        self.session.close();
    }
}
