//! Paramiko's `SSHClient`, async: connect (directly, through a ProxyCommand or jump
//! hosts), check the host key against known_hosts, log in in the core's [`LoginPlan`]
//! order, run commands. The same [`ConnectOptions`] as the blocking driver's `Client`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ssh_files::ConnectOptions;
use ssh_proto::driver::{AuthMethod, AuthOutcome, HostKeyVerifier, KeySource, LoginPlan};
use ssh_proto::ssh_config::Proxy;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::{AgentConnection, Channel, Error, ProxyCommand, Session, Stderr};

/// An authenticated connection (Paramiko's `SSHClient`). Dropping it closes the
/// connection, then those of the jump hosts it went through.
///
/// Cancelling one of its futures drops what it had made so far: `connect` closes the
/// connections it opened, `exec_command` and the others close their channel.
///
/// ```no_run
/// # async fn run() -> Result<(), ssh_tokio::Error> {
/// use ssh_tokio::{Client, ConnectOptions, UnknownHostPolicy};
/// use tokio::io::AsyncReadExt;
///
/// let mut o = ConnectOptions::new("127.0.0.1", 22, "me");
/// o.policy = UnknownHostPolicy::AcceptNew;
/// o.known_hosts = Some("/home/me/.ssh/known_hosts".into());
/// let client = Client::connect(&o).await?;
/// let mut exec = client.exec_command("uname -a").await?;
/// let mut out = String::new();
/// exec.stdout.read_to_string(&mut out).await?;
/// let status = exec.stdout.exit_status().await?;
/// # Ok(()) }
/// ```
pub struct Client {
    session: Arc<Session>,
    /// Bounds opening a channel and its first request in the calls below.
    channel_timeout: Option<Duration>,
    /// The jump hosts' connections this one runs through, kept open while it lives (and
    /// dropped after it: fields drop in order).
    _jumps: Vec<Client>,
}

/// What `exec_command` returns: the command's channel (standard output when read,
/// standard input when written, exit status) and its standard error.
pub struct Exec {
    /// Standard output and input, and the exit status.
    pub stdout: Channel,
    /// Standard error.
    pub stderr: Stderr,
}

/// `fut`, or [`Error::Timeout`] naming `what` after `limit`.
async fn timed<T>(
    limit: Option<Duration>,
    what: &'static str,
    fut: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    match limit {
        Some(limit) => tokio::time::timeout(limit, fut).await.map_err(|_| Error::Timeout(what))?,
        None => fut.await,
    }
}

impl Client {
    /// Connects (directly, through the proxy command or the jump hosts), verifies the host
    /// key, and authenticates.
    ///
    /// Cancelling it drops the connections made so far.
    pub async fn connect(options: &ConnectOptions) -> Result<Self, Error> {
        match &options.proxy {
            Proxy::Direct => Self::connect_tcp(options).await,
            Proxy::Command(command) => Self::connect_stream(ProxyCommand::spawn(command)?, options).await,
            Proxy::Jump(hops) => {
                let mut jumps: Vec<Client> = Vec::new();
                for hop in hops {
                    let o = options.for_hop(hop);
                    let next = match jumps.last() {
                        None => Self::connect_tcp(&o).await?,
                        Some(previous) => Self::connect_stream(previous.tunnel(&o).await?, &o).await?,
                    };
                    jumps.push(next);
                }
                let client = match jumps.last() {
                    None => Self::connect_tcp(options).await?,
                    Some(last) => Self::connect_stream(last.tunnel(options).await?, options).await?,
                };
                Ok(Self { _jumps: jumps, ..client })
            }
        }
    }

    /// A `direct-tcpip` channel to `o.host:o.port` through this connection.
    async fn tunnel(&self, o: &ConnectOptions) -> Result<Channel, Error> {
        timed(
            o.timeouts.channel,
            "opening the jump channel",
            self.session.open_direct_tcpip(&o.host, o.port, "127.0.0.1", 0),
        )
        .await
    }

    async fn connect_tcp(o: &ConnectOptions) -> Result<Self, Error> {
        let tcp = timed(o.connect_timeout, "TCP connect", async {
            Ok(tokio::net::TcpStream::connect((o.host.as_str(), o.port)).await?)
        })
        .await?;
        tcp.set_nodelay(true)?;
        let verifier = o.verifier();
        let session =
            timed(o.timeouts.handshake, "the handshake", Session::over_tcp(tcp, o.config.clone(), verifier)).await?;
        Self::login(session, o).await
    }

    /// Like [`Client::connect`] over an existing stream (Paramiko's `sock`): a
    /// [`ProxyCommand`], a [`Channel`] of another session, a Unix socket.
    pub async fn connect_stream<S>(stream: S, options: &ConnectOptions) -> Result<Self, Error>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        Self::connect_with(stream, options, options.verifier()).await
    }

    /// Like [`Client::connect_stream`] with a custom host key check.
    pub async fn connect_with<S>(
        stream: S,
        options: &ConnectOptions,
        verifier: impl HostKeyVerifier,
    ) -> Result<Self, Error>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let handshake = Session::handshake(stream, options.config.clone(), verifier);
        let session = timed(options.timeouts.handshake, "the handshake", handshake).await?;
        Self::login(session, options).await
    }

    async fn login(session: Session, o: &ConnectOptions) -> Result<Self, Error> {
        let client = Self { session: Arc::new(session), channel_timeout: o.timeouts.channel, _jumps: Vec::new() };
        client.authenticate(o).await?;
        Ok(client)
    }

    /// The login in the core's [`LoginPlan`] order; only the I/O (key files, the agent,
    /// prompts) is done here. Each attempt is bounded by the auth timeout.
    async fn authenticate(&self, o: &ConnectOptions) -> Result<(), Error> {
        let s = &self.session;
        let user = o.username.as_str();
        let limit = o.timeouts.auth;
        let mut plan = o.login_plan();
        while let Some(method) = plan.next_method() {
            let done = match method {
                AuthMethod::PublicKey => self.try_keys(o, &mut plan).await?,
                AuthMethod::Password => match o.password_to_send() {
                    Some(p) => plan.settle(timed(limit, "password", s.auth_password(user, &p)).await?),
                    None => false,
                },
                AuthMethod::KeyboardInteractive => match o.interactive_answers() {
                    Some(answers) => {
                        plan.settle(timed(limit, "keyboard-interactive", s.auth_interactive(user, "", answers)).await?)
                    }
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
            None => match timed(limit, "none", s.auth_none(user)).await? {
                AuthOutcome::Success => return Ok(()),
                AuthOutcome::Partial { methods } | AuthOutcome::Failure { methods } => methods,
            },
        };
        s.close();
        Err(Error::AuthFailed { allowed })
    }

    /// Public keys from each [`KeySource`] in order; true once logged in.
    async fn try_keys(&self, o: &ConnectOptions, plan: &mut LoginPlan) -> Result<bool, Error> {
        let s = &self.session;
        let user = o.username.as_str();
        let limit = o.timeouts.auth;
        for source in KeySource::ORDER {
            if source == KeySource::Agent {
                // An agent that is not there or fails is skipped, as Paramiko does.
                let Some(socket) = o.agent_socket_path() else { continue };
                let Ok(mut agent) = AgentConnection::connect(socket).await else { continue };
                for identity in agent.identities().await.unwrap_or_default() {
                    let Ok(key) = identity.public_key() else { continue };
                    if plan.first_offer(&key)
                        && plan.settle(timed(limit, "publickey", s.auth_agent_key(user, &identity, &mut agent)).await?)
                    {
                        return Ok(true);
                    }
                }
                continue;
            }
            for key in o.local_keys(source)? {
                if plan.first_offer(key.public_key())
                    && plan.settle(timed(limit, "publickey", s.auth_publickey(user, key)).await?)
                {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// The underlying session (Paramiko's `get_transport()`); clone the `Arc` to share it
    /// with forwarders and other tasks.
    pub fn session(&self) -> &Arc<Session> {
        &self.session
    }

    /// Runs `command` and returns its standard streams. Opening the channel and starting
    /// the command are bounded by the channel timeout.
    pub async fn exec_command(&self, command: &str) -> Result<Exec, Error> {
        let ch = timed(self.channel_timeout, "exec", async {
            let ch = self.session.open_session().await?;
            ch.exec(command).await?;
            Ok(ch)
        })
        .await?;
        Ok(Exec { stderr: ch.stderr(), stdout: ch })
    }

    /// Starts an interactive shell on a pseudo-terminal (Paramiko's `invoke_shell`).
    pub async fn invoke_shell(&self, term: &str, cols: u32, rows: u32) -> Result<Channel, Error> {
        timed(self.channel_timeout, "shell", async {
            let ch = self.session.open_session().await?;
            ch.request_pty(term, cols, rows).await?;
            ch.shell().await?;
            Ok(ch)
        })
        .await
    }

    /// Starts a subsystem (`sftp`, …) on a new channel (Paramiko's `invoke_subsystem`).
    pub async fn invoke_subsystem(&self, name: &str) -> Result<Channel, Error> {
        timed(self.channel_timeout, "subsystem", async {
            let ch = self.session.open_session().await?;
            ch.subsystem(name).await?;
            Ok(ch)
        })
        .await
    }

    /// Disconnects.
    pub fn close(&self) {
        self.session.close();
    }
}
