//! Paramiko's `SSHClient`: connect, check the host key against known_hosts, authenticate
//! in Paramiko's order (the core's [`LoginPlan`]), run commands.

use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use ssh_files::ConnectOptions;
use ssh_proto::driver::{AuthMethod, KeySource, LoginPlan};
use ssh_proto::ssh_config::Proxy;

use crate::channel::{Channel, Stderr, Stdin};
use crate::session::{AuthOutcome, HostKeyVerifier, Session};
use crate::{AgentConnection, Error, Stream};

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
                    let o = options.for_hop(hop);
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
        Self::connect_with(stream, options, options.verifier())
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

    /// The login in the core's [`LoginPlan`] order; only the I/O (key files, the agent,
    /// prompts) is done here.
    fn authenticate(&self, o: &ConnectOptions) -> Result<(), Error> {
        let s = &self.session;
        let user = o.username.as_str();
        let mut plan = o.login_plan();
        while let Some(method) = plan.next_method() {
            let done = match method {
                AuthMethod::PublicKey => self.try_keys(o, &mut plan)?,
                AuthMethod::Password => match o.password_to_send() {
                    Some(p) => plan.settle(s.auth_password(user, &p)?),
                    None => false,
                },
                AuthMethod::KeyboardInteractive => match o.interactive_answers() {
                    Some(answers) => plan.settle(s.auth_interactive(user, "", answers)?),
                    None => false,
                },
            };
            if done {
                return Ok(());
            }
        }
        let allowed = match plan.allowed() {
            Some(a) => a.to_vec(),
            // Nothing was tried: ask the server what it allows, for the error.
            None => match s.auth_none(user)? {
                AuthOutcome::Success => return Ok(()),
                AuthOutcome::Partial { methods } | AuthOutcome::Failure { methods } => methods,
            },
        };
        s.close();
        Err(Error::AuthFailed { allowed })
    }

    /// Public keys from each [`KeySource`] in order; true once logged in.
    fn try_keys(&self, o: &ConnectOptions, plan: &mut LoginPlan) -> Result<bool, Error> {
        let s = &self.session;
        let user = o.username.as_str();
        for source in KeySource::ORDER {
            if source == KeySource::Agent {
                // An agent that is not there or fails is skipped, as Paramiko does.
                let Some(Ok(mut agent)) = o.agent_socket_path().map(AgentConnection::connect) else { continue };
                for identity in agent.identities().unwrap_or_default() {
                    let Ok(key) = identity.public_key() else { continue };
                    if plan.first_offer(&key) && plan.settle(s.auth_agent_key(user, &identity, &mut agent)?) {
                        return Ok(true);
                    }
                }
                continue;
            }
            for key in o.local_keys(source)? {
                if plan.first_offer(key.public_key()) && plan.settle(s.auth_publickey(user, key)?) {
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
