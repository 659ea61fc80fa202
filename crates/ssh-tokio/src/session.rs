//! A client connection: the blocking driver's `Session`, async. The handshake, each
//! authentication method as its own call, and channels.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use ssh_proto::auth::InfoRequest;
use ssh_proto::client::Identity;
use ssh_proto::connection::{ChannelKind, GlobalReply, GlobalRequest};
use ssh_proto::driver::{AuthOutcome, AuthStep, Forwarded, FrontEnd, HostKeyVerifier};
use ssh_proto::{DisconnectReason, KeyPair, ServerHostKey, client};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::accept::{Acceptor, Route};
use crate::channel::Channel;
use crate::engine::{Shared, Wake};
use crate::{AgentConnection, Error};

/// Answers one round of keyboard-interactive prompts, one answer per prompt.
/// `Send`, so that authentication futures can move between tasks.
type PromptAnswerer<'a> = dyn FnMut(&InfoRequest) -> Vec<String> + Send + 'a;

/// An SSH client connection driven by two tasks on the current tokio runtime.
///
/// Dropping it closes the connection. Its futures are cancellation-safe unless their
/// documentation says otherwise; bound them with `tokio::time::timeout`.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use ssh_tokio::{AuthOutcome, Session};
/// use tokio::io::AsyncReadExt;
///
/// let tcp = tokio::net::TcpStream::connect("127.0.0.1:22").await?;
/// tcp.set_nodelay(true)?;
/// let session = Session::handshake(tcp, Default::default(), |_key: &_| Ok(())).await?;
/// assert_eq!(session.auth_password("me", "secret").await?, AuthOutcome::Success);
/// let mut ch = session.open_session().await?;
/// ch.exec("uname -a").await?;
/// let mut out = Vec::new();
/// ch.read_to_end(&mut out).await?;
/// # Ok(()) }
/// ```
pub struct Session {
    shared: Arc<Shared<client::Connection>>,
    host_key: ServerHostKey,
    banner: Mutex<Option<String>>,
    acceptor: Arc<Acceptor>,
}

impl Session {
    /// Runs the handshake over `stream` (any `AsyncRead + AsyncWrite`: TCP, a Unix socket,
    /// a channel of another session): version exchange, key exchange, and the host key
    /// decision by `verifier`. A refused key disconnects with `HOST_KEY_NOT_VERIFIABLE` and
    /// returns [`Error::HostKeyRejected`].
    ///
    /// Cancelling it drops the connection.
    pub async fn handshake<S>(stream: S, config: client::Config, verifier: impl HostKeyVerifier) -> Result<Self, Error>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        Self::establish(|conn| Shared::start(conn, stream, FrontEnd::NONE), config, verifier).await
    }

    async fn establish(
        start: impl FnOnce(client::Connection) -> Arc<Shared<client::Connection>>,
        config: client::Config,
        mut verifier: impl HostKeyVerifier,
    ) -> Result<Self, Error> {
        let rng = Box::new(ssh_proto::BufferedRng::new(rand_core::UnwrapErr(getrandom::SysRng)));
        let conn = client::Connection::new(Arc::new(config), Instant::now(), rng)?;
        let shared = start(conn);
        // Until it is returned, a failure or a cancellation ends the connection.
        let guard = Closer(Some(Arc::clone(&shared)));
        let (token, key) = shared.wait_for(Wake::Any, |st| st.mux.take_host_key().map(Ok)).await?;
        tracing::debug!(key = %key.to_openssh(), "server host key");
        if let Err(why) = verifier.verify(&key) {
            tracing::info!(%why, "host key rejected");
            {
                let mut g = shared.lock();
                let _ = g.st.conn.reject_host_key(token);
            }
            shared.disconnect(DisconnectReason::HostKeyNotVerifiable, "host key rejected");
            return Err(Error::HostKeyRejected(why));
        }
        shared.lock().st.conn.accept_host_key(token)?;
        shared.wait_for(Wake::Any, |st| st.conn.is_established().then_some(Ok(()))).await?;
        drop(guard.disarm());
        Ok(Self { shared, host_key: key, banner: Mutex::new(None), acceptor: Arc::default() })
    }

    /// Connects over TCP to `addr` (with `TCP_NODELAY`, as every handshake round trip
    /// needs) and runs [`Session::handshake`].
    pub async fn connect(
        addr: impl tokio::net::ToSocketAddrs,
        config: client::Config,
        verifier: impl HostKeyVerifier,
    ) -> Result<Self, Error> {
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        Self::over_tcp(tcp, config, verifier).await
    }

    /// [`Session::handshake`] over TCP, read by readiness into a per-thread buffer (an
    /// idle connection holds no read buffer).
    pub(crate) async fn over_tcp(
        tcp: tokio::net::TcpStream,
        config: client::Config,
        verifier: impl HostKeyVerifier,
    ) -> Result<Self, Error> {
        Self::establish(|conn| Shared::start_tcp(conn, tcp, FrontEnd::NONE), config, verifier).await
    }

    /// The server's host key, as verified.
    pub fn remote_host_key(&self) -> &ServerHostKey {
        &self.host_key
    }

    /// The server's authentication banner, if it sent one.
    pub fn banner(&self) -> Option<String> {
        self.banner.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The algorithms of the current keys.
    pub fn negotiated(&self) -> Option<ssh_proto::Negotiated> {
        self.shared.lock().st.conn.negotiated()
    }

    /// Completed key exchanges (the first one included).
    pub fn key_exchanges(&self) -> u64 {
        self.shared.lock().st.conn.key_exchanges()
    }

    /// Whether authentication has succeeded.
    pub fn is_authenticated(&self) -> bool {
        self.shared.lock().st.conn.is_authenticated()
    }

    /// Whether the connection is still up.
    pub fn is_active(&self) -> bool {
        self.shared.lock().st.mux.ended.is_none()
    }

    /// Waits until the connection ends, and says how ([`Error::Disconnected`]).
    /// Cancellation-safe.
    pub async fn closed(&self) -> Error {
        match self.shared.wait_for(Wake::Any, |_| None::<Result<std::convert::Infallible, Error>>).await {
            Err(e) => e,
            Ok(never) => match never {},
        }
    }

    /// Waits for the outcome of the authentication request just sent, answering
    /// keyboard-interactive prompts with `answer` (none given: empty answers, so the server
    /// moves on) and signing with `agent` (none given: the signature fails).
    ///
    /// Not cancellation-safe: the request stays in flight, and its outcome would be taken
    /// by the next authentication call.
    async fn auth_outcome(
        &self,
        mut answer: Option<&mut PromptAnswerer<'_>>,
        mut agent: Option<&mut AgentConnection>,
    ) -> Result<AuthOutcome, Error> {
        loop {
            let step = self
                .shared
                .wait_for(Wake::Any, |st| {
                    let banner = &mut |message| *self.banner.lock().unwrap_or_else(|p| p.into_inner()) = Some(message);
                    st.mux.take_auth_step(banner).map(Ok)
                })
                .await?;
            // Prompts and signatures are answered without the lock held.
            match step {
                AuthStep::Done(outcome) => {
                    tracing::debug!(?outcome, "authentication");
                    return Ok(outcome);
                }
                AuthStep::Prompts(request) => {
                    let replies = answer.as_mut().map(|f| f(&request)).unwrap_or_default();
                    let refs: Vec<&str> = replies.iter().map(String::as_str).collect();
                    self.shared.lock().st.conn.auth_info_response(&refs)?;
                }
                AuthStep::Sign { token, key, algorithm, data } => {
                    let signature = match agent.as_mut() {
                        Some(a) => a.sign_for_auth(&key, algorithm, &data).await.ok(),
                        None => None,
                    };
                    let mut g = self.shared.lock();
                    match signature {
                        Some(sig) => g.st.conn.provide_signature(token, &sig)?,
                        None => g.st.conn.signature_failed(token)?,
                    }
                }
            }
        }
    }

    /// `none` authentication (learns the allowed methods, or logs in a user without one).
    pub async fn auth_none(&self, user: &str) -> Result<AuthOutcome, Error> {
        self.shared.lock().st.conn.auth_none(user)?;
        self.auth_outcome(None, None).await
    }

    /// Password authentication (falls back to keyboard-interactive with the same password
    /// when the server only offers that, as Paramiko does).
    pub async fn auth_password(&self, user: &str, password: &str) -> Result<AuthOutcome, Error> {
        self.shared.lock().st.conn.auth_password(user, password)?;
        self.auth_outcome(None, None).await
    }

    /// Keyboard-interactive authentication: `answer` gets each round of prompts and returns
    /// one answer per prompt (Paramiko's `auth_interactive`).
    pub async fn auth_interactive(
        &self,
        user: &str,
        submethods: &str,
        mut answer: impl FnMut(&InfoRequest) -> Vec<String> + Send,
    ) -> Result<AuthOutcome, Error> {
        self.shared.lock().st.conn.auth_keyboard_interactive(user, submethods)?;
        self.auth_outcome(Some(&mut answer), None).await
    }

    /// Public key authentication with a local key (the core signs).
    pub async fn auth_publickey(&self, user: &str, key: Arc<KeyPair>) -> Result<AuthOutcome, Error> {
        self.shared.lock().st.conn.auth_publickey(user, Identity::Key(key))?;
        self.auth_outcome(None, None).await
    }

    /// Public key authentication with a key the agent holds (an identity it listed): the
    /// agent signs. Not cancellation-safe (see [`AgentConnection`]).
    pub async fn auth_agent_key(
        &self,
        user: &str,
        identity: &ssh_proto::agent::Identity,
        agent: &mut AgentConnection,
    ) -> Result<AuthOutcome, Error> {
        let key = identity.public_key().map_err(|e| Error::Io(std::io::Error::other(format!("agent key: {e}"))))?;
        let certificate = identity.certificate().map(Box::new);
        self.shared.lock().st.conn.auth_publickey(user, Identity::External { key, certificate })?;
        self.auth_outcome(None, Some(agent)).await
    }

    /// Opens a session channel (for exec, shell, subsystem). Dropping the future before
    /// it finishes closes the channel once it opens.
    pub async fn open_session(&self) -> Result<Channel, Error> {
        self.open_channel(&ChannelKind::Session).await
    }

    /// Opens a channel of any type.
    pub async fn open_channel(&self, kind: &ChannelKind) -> Result<Channel, Error> {
        self.shared.open_channel(kind).await
    }

    /// Opens a `direct-tcpip` channel to `host:port` through the server (`ssh -L`, a jump
    /// host's next hop).
    pub async fn open_direct_tcpip(
        &self,
        host: &str,
        port: u16,
        originator: &str,
        originator_port: u16,
    ) -> Result<Channel, Error> {
        let kind = ChannelKind::DirectTcpip {
            host: host.to_owned(),
            port: u32::from(port),
            originator: originator.to_owned(),
            originator_port: u32::from(originator_port),
        };
        self.open_channel(&kind).await
    }

    /// Sends a global request and waits for the reply (Paramiko's `global_request`).
    pub async fn global_request(&self, request: &GlobalRequest) -> Result<GlobalReply, Error> {
        self.shared.global_request(request).await
    }

    /// Asks the server to listen on `address:port` (`ssh -R`; port 0 lets it choose) and
    /// returns the port it listens on. Each connection it accepts arrives as a channel,
    /// handed with its origin to `handler` on the session's accepting task: spawn whatever
    /// takes time.
    pub async fn request_port_forward(
        &self,
        address: &str,
        port: u32,
        handler: impl Fn(Channel, Forwarded) + Send + Sync + 'static,
    ) -> Result<u32, Error> {
        self.forward(address, port, Route::Handler(Arc::new(handler))).await
    }

    /// Like [`Session::request_port_forward`] without a handler (Paramiko's
    /// `request_port_forward(address, port)`): the connections wait for
    /// [`Session::accept`].
    pub async fn request_port_forward_queued(&self, address: &str, port: u32) -> Result<u32, Error> {
        self.forward(address, port, Route::Accept).await
    }

    async fn forward(&self, address: &str, port: u32, route: Route) -> Result<u32, Error> {
        self.acceptor.start(&self.shared);
        // A port asked for by number is routed before the server can use it.
        if port != 0 {
            self.acceptor.add_forward(address, port, route.clone());
        }
        let request = GlobalRequest::TcpipForward { address: address.to_owned(), port };
        let reply = self.global_request(&request).await;
        let Ok(GlobalReply::Success { bound_port, .. }) = reply else {
            self.acceptor.remove_forward(address, port);
            reply?;
            return Err(Error::RequestRefused(format!("tcpip-forward {address}:{port}")));
        };
        let bound = bound_port.unwrap_or(port);
        self.acceptor.add_forward(address, bound, route);
        Ok(bound)
    }

    /// Stops a remote forward: the server stops listening on `address:port` (the port the
    /// request returned).
    pub async fn cancel_port_forward(&self, address: &str, port: u32) -> Result<(), Error> {
        self.acceptor.remove_forward(address, port);
        let request = GlobalRequest::CancelTcpipForward { address: address.to_owned(), port };
        match self.global_request(&request).await? {
            GlobalReply::Success { .. } => Ok(()),
            GlobalReply::Failure => Err(Error::RequestRefused(format!("cancel-tcpip-forward {address}:{port}"))),
        }
    }

    /// The next connection of a forward requested with
    /// [`Session::request_port_forward_queued`] (Paramiko's `accept`), once one arrives.
    /// Cancellation-safe: a connection is taken only when it is returned. Bound it with
    /// `tokio::time::timeout`.
    pub async fn accept(&self) -> Result<(Channel, Forwarded), Error> {
        self.acceptor.start(&self.shared);
        let next = self.acceptor.queued.lock().await.recv().await;
        // None: the accepting task ended with the connection.
        match next {
            Some(next) => Ok(next),
            None => Err(self.closed().await),
        }
    }

    /// Accepts the agent channels the server opens on sessions that asked for agent
    /// forwarding ([`Channel::request_agent_forwarding`]), handing each to `handler` on the
    /// session's accepting task: spawn whatever takes time.
    pub fn set_agent_handler(&self, handler: impl Fn(Channel) + Send + Sync + 'static) {
        self.acceptor.set_agent(Arc::new(handler));
        self.acceptor.start(&self.shared);
    }

    /// Serves each X11 channel the server opens (after [`Channel::request_x11`]) with
    /// `handler`, on the session's accepting task (spawn whatever takes time): the channel,
    /// and the X client's address and port on the server. Connect it to the local display.
    pub fn set_x11_handler(&self, handler: impl Fn(Channel, String, u32) + Send + Sync + 'static) {
        self.acceptor.set_x11(Arc::new(handler));
        self.acceptor.start(&self.shared);
    }

    /// Forwards agent channels to the agent listening on `socket` (usually
    /// `SSH_AUTH_SOCK`), as `ssh -A` does; ask for forwarding on each session with
    /// [`Channel::request_agent_forwarding`].
    pub fn forward_agent(&self, socket: impl Into<std::path::PathBuf>) {
        let socket = socket.into();
        self.set_agent_handler(move |channel| {
            let socket = socket.clone();
            tokio::spawn(async move {
                // No agent there: the closed channel tells the server's client so.
                if let Ok(agent) = tokio::net::UnixStream::connect(&socket).await {
                    let _ = crate::forward::pump(channel, agent).await;
                }
            });
        });
    }

    /// Starts a key exchange now (Paramiko's `renegotiate_keys`); traffic keeps moving.
    pub fn rekey(&self) -> Result<(), Error> {
        Ok(self.shared.lock().st.conn.rekey()?)
    }

    /// Sends an `SSH_MSG_IGNORE` with `data` (Paramiko's `send_ignore`).
    pub fn send_ignore(&self, data: &[u8]) -> Result<(), Error> {
        Ok(self.shared.lock().st.conn.send_ignore(data)?)
    }

    /// Ends the connection: DISCONNECT goes out, the tasks stop.
    pub fn close(&self) {
        self.shared.disconnect(DisconnectReason::ByApplication, "closed by the application");
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.close();
    }
}

/// Ends the connection when dropped, unless disarmed.
struct Closer(Option<Arc<Shared<client::Connection>>>);

impl Closer {
    fn disarm(mut self) -> Option<Arc<Shared<client::Connection>>> {
        self.0.take()
    }
}

impl Drop for Closer {
    fn drop(&mut self) {
        if let Some(shared) = self.0.take() {
            shared.disconnect(DisconnectReason::ByApplication, "handshake failed");
        }
    }
}
