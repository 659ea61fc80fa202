//! Paramiko's `ServerInterface`, async: a task per connection answers the core's
//! decisions by awaiting a [`ServerHandler`], and each accepted exec, shell or subsystem
//! runs in a task of its own with the [`Channel`] to serve.
//!
//! A decision that awaits (a database lookup during authentication) holds up only its own
//! connection's next decision: that connection's other channels, and every other
//! connection, keep moving.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use ssh_proto::auth::{AuthMethod, AuthReply};
use ssh_proto::connection::{ChannelId, ChannelKind, ExitStatus, GlobalReply, GlobalRequest, OpenFailure, PtyRequest};
use ssh_proto::driver::{
    AllowedAuths, AuthQuestion, CONTROL_QUEUE, FrontEnd, MAX_REMOTE_FORWARDS, Serve, SessionQuestion, SessionSetup,
    SessionStep,
};
pub use ssh_proto::driver::{AuthDecision, Interactive, SessionControl, X11Forwarding};
use ssh_proto::ssh_key::PublicKey;
use ssh_proto::{DisconnectReason, Event, server};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

use crate::Error;
use crate::channel::Channel;
use crate::engine::{Shared, Wake};
use crate::forward::pump;
use crate::shards::Shards;

/// How long the server waits for the client to confirm a channel it opens (agent,
/// forwarded-tcpip, X11).
const OPEN_TIMEOUT: Duration = Duration::from_secs(30);

/// What the server does for each decision, like Paramiko's `ServerInterface` and the
/// blocking driver's `ServerHandler` under the same names, async. Every method has a
/// refusing default, so a handler implements only what it serves; implement them with
/// `async fn`.
///
/// ```
/// use ssh_tokio::{AuthDecision, ServerHandler, ServerSession};
/// use ssh_tokio::ssh_proto::connection::ExitStatus;
/// use tokio::io::AsyncWriteExt;
///
/// struct Echo;
///
/// impl ServerHandler for Echo {
///     async fn check_auth_password(&self, user: &str, password: &str) -> AuthDecision {
///         // An awaited lookup holds up only this connection.
///         tokio::task::yield_now().await;
///         if (user, password) == ("me", "secret") { AuthDecision::Accept } else { AuthDecision::Reject }
///     }
///     async fn check_exec_request(&self, _command: &[u8]) -> bool {
///         true
///     }
///     async fn exec(&self, session: &mut ServerSession, command: &[u8]) -> ExitStatus {
///         let _ = session.channel.write_all(command).await;
///         ExitStatus::Code(0)
///     }
/// }
/// ```
pub trait ServerHandler: Send + Sync + 'static {
    /// The methods `user` may authenticate with (Paramiko's `get_allowed_auths`), asked
    /// once, on the user's first request. `None` (the default) offers the configured
    /// `server::Config` methods; this can narrow them, not add to them.
    fn get_allowed_auths(&self, _user: &str) -> impl Future<Output = Option<Vec<AuthMethod>>> + Send {
        async { None }
    }
    /// `none` authentication.
    fn check_auth_none(&self, _user: &str) -> impl Future<Output = AuthDecision> + Send {
        async { AuthDecision::Reject }
    }
    /// Password authentication.
    fn check_auth_password(&self, _user: &str, _password: &str) -> impl Future<Output = AuthDecision> + Send {
        async { AuthDecision::Reject }
    }
    /// Whether `key` may log in `user`. Called for the query and again for the signed
    /// request (whose signature the core has verified).
    fn check_auth_publickey(&self, _user: &str, _key: &PublicKey) -> impl Future<Output = AuthDecision> + Send {
        async { AuthDecision::Reject }
    }
    /// Keyboard-interactive start.
    fn check_auth_interactive(&self, _user: &str, _submethods: &[String]) -> impl Future<Output = Interactive> + Send {
        async { Interactive::Decide(AuthDecision::Reject) }
    }
    /// Keyboard-interactive answers.
    fn check_auth_interactive_response(
        &self,
        _user: &str,
        _answers: &[&str],
    ) -> impl Future<Output = Interactive> + Send {
        async { Interactive::Decide(AuthDecision::Reject) }
    }
    /// Whether to open a channel of this kind (sessions by default). An accepted
    /// `direct-tcpip` channel is served by [`ServerHandler::direct_tcpip`].
    fn check_channel_request(&self, kind: &ChannelKind) -> impl Future<Output = bool> + Send {
        let yes = matches!(kind, ChannelKind::Session);
        async move { yes }
    }
    /// Serves an accepted `direct-tcpip` channel (its own task): by default connects to
    /// `host:port` and copies both ways, as sshd does for `-L`.
    fn direct_tcpip(&self, channel: Channel, host: &str, port: u16) -> impl Future<Output = ()> + Send {
        let host = host.to_owned();
        async move {
            if let Ok(tcp) = TcpStream::connect((host.as_str(), port)).await {
                let _ = tcp.set_nodelay(true);
                let _ = pump(channel, tcp).await;
            }
        }
    }
    /// Where to listen for a remote forward the client asks for (`ssh -R address:port`;
    /// port 0: any), or `None` to refuse; see the blocking driver's method of the same
    /// name for the rules.
    fn check_port_forward_request(
        &self,
        _address: &str,
        _port: u16,
    ) -> impl Future<Output = Option<SocketAddr>> + Send {
        async { None }
    }
    /// Answers a global request other than `tcpip-forward` and its cancel (Paramiko's
    /// `check_global_request`). Refused by default, which OpenSSH's keepalives take as
    /// proof of life.
    fn global_request(&self, _request: &GlobalRequest) -> impl Future<Output = GlobalReply> + Send {
        async { GlobalReply::Failure }
    }
    /// Whether to allocate a pseudo-terminal ([`ServerSession::pty`]).
    fn check_pty_request(&self, _pty: &PtyRequest) -> impl Future<Output = bool> + Send {
        async { false }
    }
    /// Whether to accept an environment variable ([`ServerSession::env`]).
    fn check_env_request(&self, _name: &str, _value: &str) -> impl Future<Output = bool> + Send {
        async { false }
    }
    /// Whether to forward the client's agent on this session
    /// ([`ServerSession::agent_forwarding`]).
    fn check_agent_forward_request(&self) -> impl Future<Output = bool> + Send {
        async { false }
    }
    /// Whether to forward X11 on this session ([`ServerSession::x11`]).
    fn check_x11_request(&self, _x11: &X11Forwarding) -> impl Future<Output = bool> + Send {
        async { false }
    }
    /// Whether to run `command`; when yes, [`ServerHandler::exec`] runs it.
    fn check_exec_request(&self, _command: &[u8]) -> impl Future<Output = bool> + Send {
        async { false }
    }
    /// Serves an accepted exec (its own task). The returned status is sent and the
    /// channel closed when it returns.
    fn exec(&self, _session: &mut ServerSession, _command: &[u8]) -> impl Future<Output = ExitStatus> + Send {
        async { ExitStatus::Code(127) }
    }
    /// Whether to start a shell; when yes, [`ServerHandler::shell`] serves it.
    fn check_shell_request(&self) -> impl Future<Output = bool> + Send {
        async { false }
    }
    /// Serves an accepted shell (its own task).
    fn shell(&self, _session: &mut ServerSession) -> impl Future<Output = ExitStatus> + Send {
        async { ExitStatus::Code(127) }
    }
    /// Whether a subsystem of this name exists; when yes, [`ServerHandler::subsystem`]
    /// serves it.
    fn check_subsystem_request(&self, _name: &str) -> impl Future<Output = bool> + Send {
        async { false }
    }
    /// Serves an accepted subsystem (its own task).
    fn subsystem(&self, _session: &mut ServerSession, _name: &str) -> impl Future<Output = ExitStatus> + Send {
        async { ExitStatus::Code(1) }
    }
}

/// A session channel being served: the channel, what the client set up before the command
/// (environment, pty, agent forwarding), and the control requests that arrive while it runs.
pub struct ServerSession {
    /// The channel: reading reads the client's stdin, writing writes its stdout,
    /// [`Channel::stderr`] writes its stderr.
    pub channel: Channel,
    /// Environment variables the handler accepted, in the order sent.
    pub env: Vec<(String, String)>,
    /// The pseudo-terminal the handler accepted, with the latest size.
    pub pty: Option<PtyRequest>,
    /// Whether agent forwarding was accepted on this session.
    pub agent_forwarding: bool,
    /// The X11 forwarding accepted on this session.
    pub x11: Option<X11Forwarding>,
    /// The control requests that arrive while the command runs (a field of its own, so a
    /// task can wait on them while the channel is read and written).
    pub controls: Controls,
    conn: Arc<Shared<server::Connection>>,
}

/// Signals, window changes and breaks for a running command ([`ServerSession::controls`]).
pub struct Controls(mpsc::Receiver<SessionControl>);

impl Controls {
    /// The next control request, if one is waiting.
    pub fn try_next(&mut self) -> Option<SessionControl> {
        self.0.try_recv().ok()
    }

    /// Waits for the next control request (`None` once the session is over).
    /// Cancellation-safe.
    pub async fn next(&mut self) -> Option<SessionControl> {
        self.0.recv().await
    }
}

impl ServerSession {
    /// The next control request, if one is waiting.
    pub fn try_control(&mut self) -> Option<SessionControl> {
        self.controls.try_next()
    }

    /// Waits for the next control request (`None` once the session is over).
    /// Cancellation-safe.
    pub async fn control(&mut self) -> Option<SessionControl> {
        self.controls.next().await
    }

    /// Opens a channel to the client's forwarded agent (`auth-agent@openssh.com`).
    /// Refused unless [`ServerSession::agent_forwarding`].
    pub async fn open_agent_channel(&self) -> Result<Channel, Error> {
        match self.agent_opener() {
            Some(opener) => opener.open().await,
            None => Err(Error::RequestRefused("auth-agent@openssh.com: agent forwarding was not requested".into())),
        }
    }

    /// What opens agent channels from other tasks; `None` unless
    /// [`ServerSession::agent_forwarding`].
    pub fn agent_opener(&self) -> Option<AgentOpener> {
        self.agent_forwarding.then(|| AgentOpener { conn: Arc::clone(&self.conn) })
    }

    /// Opens an `x11` channel to the client for an X client that connected from
    /// `originator:originator_port`. Refused unless [`ServerSession::x11`].
    pub async fn open_x11_channel(&self, originator: &str, originator_port: u32) -> Result<Channel, Error> {
        if self.x11.is_none() {
            return Err(Error::RequestRefused("x11: X11 forwarding was not requested".into()));
        }
        let kind = ChannelKind::X11 { originator: originator.to_owned(), originator_port };
        open_to_client(&self.conn, &kind).await
    }
}

/// Opens a channel to the client, bounded by [`OPEN_TIMEOUT`].
async fn open_to_client(conn: &Arc<Shared<server::Connection>>, kind: &ChannelKind) -> Result<Channel, Error> {
    match tokio::time::timeout(OPEN_TIMEOUT, conn.open_channel(kind)).await {
        Ok(r) => r,
        Err(_) => Err(Error::Timeout("the client to confirm a channel it was asked to open")),
    }
}

/// Opens channels to a session's forwarded agent ([`ServerSession::agent_opener`]).
#[derive(Clone)]
pub struct AgentOpener {
    conn: Arc<Shared<server::Connection>>,
}

impl AgentOpener {
    /// Opens an `auth-agent@openssh.com` channel to the client's agent.
    pub async fn open(&self) -> Result<Channel, Error> {
        open_to_client(&self.conn, &ChannelKind::AuthAgent).await
    }
}

/// A future a registered subsystem returns ([`Server::subsystem`]).
pub type SubsystemFuture<'a> = Pin<Box<dyn Future<Output = ExitStatus> + Send + 'a>>;

/// Serves a subsystem registered by name ([`Server::subsystem`]).
pub type SubsystemFn = dyn for<'a> Fn(&'a mut ServerSession) -> SubsystemFuture<'a> + Send + Sync;

/// A session channel before and while its command runs.
#[derive(Default)]
struct Session {
    /// The channel's handle until its command takes it (dropping it closes the channel).
    channel: Option<Channel>,
    setup: SessionSetup,
    running: Option<mpsc::Sender<SessionControl>>,
}

/// What one connection's front end answers with: the handler, and subsystems by name
/// (which take precedence over [`ServerHandler::subsystem`]).
struct Handlers<H> {
    handler: Arc<H>,
    subsystems: Arc<HashMap<String, Arc<SubsystemFn>>>,
}

impl<H> Clone for Handlers<H> {
    fn clone(&self) -> Self {
        Self { handler: Arc::clone(&self.handler), subsystems: Arc::clone(&self.subsystems) }
    }
}

/// The connections a [`Server`] is serving, by number, for [`StopHandle::disconnect_all`].
#[derive(Default)]
struct Live {
    next: AtomicU64,
    conns: Mutex<HashMap<u64, Weak<Shared<server::Connection>>>>,
}

impl Live {
    fn conns(&self) -> MutexGuard<'_, HashMap<u64, Weak<Shared<server::Connection>>>> {
        self.conns.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Takes a connection off the live list when its task ends, however it ends.
struct Listed(Arc<Live>, u64);

impl Drop for Listed {
    fn drop(&mut self) {
        self.0.conns().remove(&self.1);
    }
}

/// A listening async server.
///
/// ```no_run
/// # async fn run() -> Result<(), ssh_tokio::Error> {
/// use ssh_tokio::{Server, ServerHandler};
/// use ssh_tokio::ssh_proto::{HostKey, server};
///
/// struct Nobody;
/// impl ServerHandler for Nobody {}
///
/// let host_key = HostKey::generate_ed25519(&mut rand_core::UnwrapErr(getrandom::SysRng));
/// let server = Server::bind("127.0.0.1:0", server::Config::new(vec![host_key]), Nobody).await?;
/// println!("listening on {}", server.local_addr()?);
/// server.serve().await
/// # }
/// ```
pub struct Server<H> {
    listener: TcpListener,
    config: Arc<server::Config>,
    handlers: Handlers<H>,
    stop: Arc<Notify>,
    live: Arc<Live>,
    shards: Option<Shards>,
}

impl<H: ServerHandler> Server<H> {
    /// Binds `addr` (port 0 picks a free port).
    pub async fn bind(addr: impl ToSocketAddrs, config: server::Config, handler: H) -> Result<Self, Error> {
        Ok(Self {
            listener: TcpListener::bind(addr).await?,
            config: Arc::new(config),
            handlers: Handlers { handler: Arc::new(handler), subsystems: Arc::default() },
            stop: Arc::new(Notify::new()),
            live: Arc::default(),
            shards: None,
        })
    }

    /// Serves the connections on `threads` threads of the server's own, each running a
    /// single-threaded runtime, instead of on the runtime that calls [`Server::serve`].
    /// Every task of a connection (its handler's too: `tokio::spawn` in a handler spawns on
    /// the connection's thread) then runs on one thread, so passing data between them
    /// wakes no other thread; each new connection goes to the thread serving the fewest.
    /// One thread per core suits a server whose connections each move a lot of data: an
    /// upload through the `sshd-tokio` example ran about 10 % faster this way on 2 cores.
    /// A connection that keeps its thread busy slows the others on it, which a
    /// work-stealing runtime would move elsewhere.
    ///
    /// The threads end when the server is dropped, and the connections still open on
    /// them end with them.
    ///
    /// ```no_run
    /// # async fn run(server: ssh_tokio::Server<impl ssh_tokio::ServerHandler>) -> Result<(), ssh_tokio::Error> {
    /// let cores = std::thread::available_parallelism()?;
    /// let server = server.sharded(cores)?;
    /// server.serve().await
    /// # }
    /// ```
    pub fn sharded(mut self, threads: NonZeroUsize) -> Result<Self, Error> {
        self.shards = Some(Shards::start(threads)?);
        Ok(self)
    }

    /// Serves the subsystem `name` (`sftp`, …) with `serve` on every connection from now
    /// on, whatever the handler's `check_subsystem_request` says: ssh-sftp plugs in here.
    /// `serve` returns a boxed future: `|session| Box::pin(async move { … })`.
    pub fn subsystem(
        mut self,
        name: &str,
        serve: impl for<'a> Fn(&'a mut ServerSession) -> SubsystemFuture<'a> + Send + Sync + 'static,
    ) -> Self {
        let mut map = (*self.handlers.subsystems).clone();
        map.insert(name.to_owned(), Arc::new(serve));
        self.handlers.subsystems = Arc::new(map);
        self
    }

    /// The bound address.
    pub fn local_addr(&self) -> Result<SocketAddr, Error> {
        Ok(self.listener.local_addr()?)
    }

    /// How many connections are being served now.
    pub fn connections(&self) -> usize {
        self.live.conns().len()
    }

    /// Accepts connections until [`StopHandle::stop`], each served by its own task. A
    /// connection whose handler panics or fails ends alone; the server keeps serving.
    pub async fn serve(&self) -> Result<(), Error> {
        loop {
            let accepted = tokio::select! {
                () = self.stop.notified() => return Ok(()),
                accepted = self.listener.accept() => accepted,
            };
            let (tcp, peer) = match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Out of descriptors, say: retrying at once would spin.
                    tracing::debug!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            tracing::debug!(%peer, "connection accepted");
            let _ = tcp.set_nodelay(true);
            let (config, handlers, live) = (Arc::clone(&self.config), self.handlers.clone(), Arc::clone(&self.live));
            let Some((shard, load)) = self.shards.as_ref().and_then(Shards::pick) else {
                tokio::spawn(serve_tcp(tcp, peer, config, handlers, live));
                continue;
            };
            // The socket moves to the shard's own I/O driver.
            let tcp = match tcp.into_std() {
                Ok(tcp) => tcp,
                Err(e) => {
                    tracing::debug!(error = %e, %peer, "cannot move the connection to its thread");
                    continue;
                }
            };
            shard.spawn(async move {
                let _load = load;
                match TcpStream::from_std(tcp) {
                    Ok(tcp) => serve_tcp(tcp, peer, config, handlers, live).await,
                    Err(e) => tracing::debug!(error = %e, %peer, "cannot move the connection to its thread"),
                }
            });
        }
    }

    /// A handle that stops [`Server::serve`] and ends connections.
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle { stop: Arc::clone(&self.stop), live: Arc::clone(&self.live) }
    }
}

/// Stops a serving [`Server`].
#[derive(Clone)]
pub struct StopHandle {
    stop: Arc<Notify>,
    live: Arc<Live>,
}

impl StopHandle {
    /// Stops accepting (connections already open keep running to their end).
    pub fn stop(&self) {
        self.stop.notify_one();
    }

    /// Ends every connection the server is serving with a DISCONNECT (`BY_APPLICATION`,
    /// "server shutting down"), without waiting.
    pub fn disconnect_all(&self) {
        let live: Vec<_> = self.live.conns().values().filter_map(Weak::upgrade).collect();
        for conn in live {
            conn.disconnect(DisconnectReason::ByApplication, "server shutting down");
        }
    }
}

/// Serves one accepted TCP connection until it ends.
async fn serve_tcp<H: ServerHandler>(
    tcp: TcpStream,
    peer: SocketAddr,
    config: Arc<server::Config>,
    handlers: Handlers<H>,
    live: Arc<Live>,
) {
    if let Err(e) = serve(|conn| Shared::start_tcp(conn, tcp, FrontEnd::ALL), config, handlers, Some(live)).await {
        tracing::debug!(error = %e, %peer, "connection ended");
    }
}

/// Serves one connection over `stream` (any `AsyncRead + AsyncWrite`) until it ends.
pub async fn serve_connection<H: ServerHandler, S>(
    stream: S,
    config: Arc<server::Config>,
    handler: Arc<H>,
) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let start = |conn| Shared::start(conn, stream, FrontEnd::ALL);
    serve(start, config, Handlers { handler, subsystems: Arc::default() }, None).await
}

/// Serves one connection whose tasks `start` spawns: TCP is read through readiness, with
/// no buffer of its own while idle; any other stream through a buffer.
async fn serve<H: ServerHandler>(
    start: impl FnOnce(server::Connection) -> Arc<Shared<server::Connection>>,
    config: Arc<server::Config>,
    handlers: Handlers<H>,
    live: Option<Arc<Live>>,
) -> Result<(), Error> {
    let rng = Box::new(ssh_proto::BufferedRng::new(rand_core::UnwrapErr(getrandom::SysRng)));
    let conn = server::Connection::new(config, Instant::now(), rng)?;
    let shared = start(conn);
    let _listed = live.map(|live| {
        let n = live.next.fetch_add(1, Ordering::Relaxed);
        live.conns().insert(n, Arc::downgrade(&shared));
        Listed(live, n)
    });
    // The front end runs in a task of its own, so a handler that panics ends this
    // connection (its state is dropped) and nothing else. Dropping this future (a
    // cancelled `serve_connection`) ends the connection too.
    let mut front = Ending { front: tokio::spawn(front_end(Arc::clone(&shared), handlers)), shared };
    match (&mut front.front).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "a connection's handler panicked; the connection ends");
            Ok(())
        }
    }
}

/// A connection's front end, which ends the connection when dropped, however the serving
/// future ends (done, failed, cancelled).
struct Ending {
    front: JoinHandle<Result<(), Error>>,
    shared: Arc<Shared<server::Connection>>,
}

impl Drop for Ending {
    fn drop(&mut self) {
        self.front.abort();
        self.shared.disconnect(DisconnectReason::ByApplication, "server closing");
    }
}

/// Aborts a task when dropped: a remote forward's listener stops with its connection.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn front_end<H: ServerHandler>(
    shared: Arc<Shared<server::Connection>>,
    handlers: Handlers<H>,
) -> Result<(), Error> {
    let handler = &handlers.handler;
    let mut sessions: HashMap<ChannelId, Session> = HashMap::new();
    // Remote forwards by the (address, port) the client knows them by.
    let mut forwards: HashMap<(String, u32), AbortOnDrop> = HashMap::new();
    let mut allowed = AllowedAuths::default();
    loop {
        let ev = match shared.wait_for(Wake::Any, |st| st.mux.events.pop_front().map(Ok)).await {
            Ok(ev) => ev,
            Err(Error::Disconnected { .. }) => return Ok(()),
            Err(e) => return Err(e),
        };
        match ev {
            Event::AuthRequest { token, user, attempt, .. } => {
                if allowed.must_ask()
                    && let Some(methods) = handler.get_allowed_auths(&user).await
                {
                    shared.lock().st.conn.restrict_auth_methods(&methods);
                    if !AllowedAuths::permits(&methods, &attempt) {
                        shared.lock().st.conn.auth_reply(token, AuthReply::Reject)?;
                        continue;
                    }
                }
                let reply: AuthReply = match AuthQuestion::of(&attempt) {
                    Some(AuthQuestion::None) => handler.check_auth_none(&user).await.into(),
                    Some(AuthQuestion::Password(password)) => handler.check_auth_password(&user, password).await.into(),
                    Some(AuthQuestion::PublicKey(key)) => handler.check_auth_publickey(&user, key).await.into(),
                    Some(AuthQuestion::Interactive(submethods)) => {
                        handler.check_auth_interactive(&user, submethods).await.into()
                    }
                    Some(AuthQuestion::InteractiveResponse(answers)) => {
                        handler.check_auth_interactive_response(&user, &answers).await.into()
                    }
                    None => AuthReply::Reject,
                };
                shared.lock().st.conn.auth_reply(token, reply)?;
            }
            Event::ChannelOpenRequest { id, kind } => {
                // Sessions whose channels have since closed go (ids are reused).
                let closed: Vec<ChannelId> = {
                    let g = shared.lock();
                    sessions.keys().filter(|id| g.st.mux.channels.get(id).is_none_or(|ch| ch.closed)).copied().collect()
                };
                for gone in closed {
                    sessions.remove(&gone);
                }
                if !handler.check_channel_request(&kind).await {
                    // The client may have given up on it meanwhile: that is not the end of
                    // the connection.
                    let _ =
                        shared.lock().st.conn.reject_channel(id, OpenFailure::AdministrativelyProhibited, "refused");
                    continue;
                }
                let channel = shared.accept_channel(id)?;
                match kind {
                    ChannelKind::Session => {
                        sessions.insert(id, Session { channel: Some(channel), ..Session::default() });
                    }
                    ChannelKind::DirectTcpip { host, port, .. } => {
                        let handler = Arc::clone(handler);
                        let port = u16::try_from(port).unwrap_or(0);
                        tokio::spawn(async move { handler.direct_tcpip(channel, &host, port).await });
                    }
                    // Accepted by the handler but served by nothing: it closes at once.
                    _ => drop(channel),
                }
            }
            Event::ChannelRequest { id, token, request } => {
                let (ok, serve) = match sessions.get_mut(&id) {
                    Some(session) => session_request(&handlers, session, request).await,
                    None => (false, None),
                };
                if let Some(token) = token {
                    // The client may have closed the channel while the handler decided.
                    let _ = shared.lock().st.conn.channel_request_reply(id, token, ok);
                }
                if let (Some(what), Some(session)) = (serve, sessions.get_mut(&id))
                    && let Some(channel) = session.channel.take()
                {
                    let (tx, controls) = mpsc::channel(CONTROL_QUEUE);
                    session.running = Some(tx);
                    let setup = &mut session.setup;
                    let session = ServerSession {
                        channel,
                        env: std::mem::take(&mut setup.env),
                        pty: setup.pty.clone(),
                        agent_forwarding: setup.agent_forwarding,
                        x11: setup.x11.clone(),
                        controls: Controls(controls),
                        conn: Arc::clone(&shared),
                    };
                    tokio::spawn(run_command(handlers.clone(), session, what));
                }
            }
            Event::GlobalRequest { token, request } => {
                let reply = global_request(&shared, handler, &mut forwards, request).await;
                if let Some(token) = token {
                    shared.lock().st.conn.global_request_reply(token, reply)?;
                }
            }
            _ => {}
        }
    }
}

/// Runs an accepted command, shell or subsystem, then sends its exit status and closes
/// the channel. A handler that panics ends this channel with status 255, as in the blocking
/// driver, and nothing else.
async fn run_command<H: ServerHandler>(handlers: Handlers<H>, session: ServerSession, what: Serve) {
    let mut session = session;
    let served = {
        let session = &mut session;
        let handlers = &handlers;
        let what = &what;
        let serving: Pin<Box<dyn Future<Output = ExitStatus> + Send + '_>> = Box::pin(async move {
            match what {
                Serve::Exec(command) => handlers.handler.exec(session, command).await,
                Serve::Shell => handlers.handler.shell(session).await,
                Serve::Subsystem(name) => match handlers.subsystems.get(name) {
                    Some(serve) => serve(session).await,
                    None => handlers.handler.subsystem(session, name).await,
                },
            }
        });
        CatchUnwind(serving).await
    };
    let status = served.unwrap_or_else(|_| {
        tracing::warn!("a channel handler panicked; its channel ends with status 255");
        ExitStatus::Code(255)
    });
    let _ = session.channel.send_eof();
    let _ = session.channel.send_exit_status(status).await;
    // Dropping the channel closes it.
}

/// A future whose panic becomes an `Err`, so the caller can still answer for it.
struct CatchUnwind<F>(F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = Result<F::Output, ()>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        let inner = &mut self.0;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Pin::new(inner).poll(cx))) {
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Ok(std::task::Poll::Ready(v)) => std::task::Poll::Ready(Ok(v)),
            Err(_) => std::task::Poll::Ready(Err(())),
        }
    }
}

/// Answers one request on a session channel: whether it succeeded, and what to start.
async fn session_request<H: ServerHandler>(
    handlers: &Handlers<H>,
    session: &mut Session,
    request: ssh_proto::connection::ChannelRequest,
) -> (bool, Option<Serve>) {
    let handler = &handlers.handler;
    match session.setup.step(request) {
        SessionStep::Answer(ok) => (ok, None),
        SessionStep::Control(control) => (session.running.as_ref().is_some_and(|r| r.try_send(control).is_ok()), None),
        SessionStep::Ask(question) => {
            let yes = match &question {
                SessionQuestion::Pty(pty) => handler.check_pty_request(pty).await,
                SessionQuestion::Env { name, value } => handler.check_env_request(name, value).await,
                SessionQuestion::AgentForwarding => handler.check_agent_forward_request().await,
                SessionQuestion::X11(x11) => handler.check_x11_request(x11).await,
                SessionQuestion::Exec(command) => handler.check_exec_request(command).await,
                SessionQuestion::Shell => handler.check_shell_request().await,
                SessionQuestion::Subsystem(name) => {
                    handlers.subsystems.contains_key(name) || handler.check_subsystem_request(name).await
                }
            };
            (yes, session.setup.decided(question, yes))
        }
    }
}

/// Answers a global request: remote forwards and their cancellation here, anything else
/// by the handler.
async fn global_request<H: ServerHandler>(
    shared: &Arc<Shared<server::Connection>>,
    handler: &Arc<H>,
    forwards: &mut HashMap<(String, u32), AbortOnDrop>,
    request: GlobalRequest,
) -> GlobalReply {
    match request {
        GlobalRequest::TcpipForward { address, port } => {
            if forwards.len() >= MAX_REMOTE_FORWARDS {
                return GlobalReply::Failure;
            }
            let Ok(wanted) = u16::try_from(port) else { return GlobalReply::Failure };
            let Some(bind) = handler.check_port_forward_request(&address, wanted).await else {
                return GlobalReply::Failure;
            };
            let Ok(listener) = TcpListener::bind(bind).await else { return GlobalReply::Failure };
            let Ok(local) = listener.local_addr() else { return GlobalReply::Failure };
            let bound = if wanted == 0 { u32::from(local.port()) } else { port };
            let (conn, name) = (Arc::downgrade(shared), address.clone());
            let accepting = tokio::spawn(async move {
                loop {
                    let (tcp, peer) = match listener.accept().await {
                        Ok(c) => c,
                        Err(_) => {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    };
                    let Some(conn) = conn.upgrade() else { return };
                    let _ = tcp.set_nodelay(true);
                    let kind = ChannelKind::ForwardedTcpip {
                        address: name.clone(),
                        port: bound,
                        originator: peer.ip().to_string(),
                        originator_port: u32::from(peer.port()),
                    };
                    tokio::spawn(async move {
                        if let Ok(channel) = open_to_client(&conn, &kind).await {
                            let _ = pump(channel, tcp).await;
                        }
                    });
                }
            });
            forwards.insert((address, bound), AbortOnDrop(accepting));
            GlobalReply::Success { bound_port: (wanted == 0).then_some(bound), data: Default::default() }
        }
        GlobalRequest::CancelTcpipForward { address, port } => match forwards.remove(&(address, port)) {
            Some(_) => GlobalReply::Success { bound_port: None, data: Default::default() },
            None => GlobalReply::Failure,
        },
        other => handler.global_request(&other).await,
    }
}
