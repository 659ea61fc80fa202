//! Paramiko's `ServerInterface` over a `TcpListener`: a thread per connection answers the
//! core's decisions by calling a [`ServerHandler`], and each accepted exec, shell or
//! subsystem runs in its own thread with the [`Channel`] to serve.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::thread;
use std::time::{Duration, Instant};

use ssh_proto::auth::{AuthMethod, AuthReply};
use ssh_proto::connection::{
    ChannelId, ChannelKind, ChannelRequest, ExitStatus, GlobalReply, GlobalRequest, OpenFailure, PtyRequest,
};
use ssh_proto::driver::{
    AllowedAuths, AuthQuestion, CONTROL_QUEUE, MAX_REMOTE_FORWARDS, Serve, SessionQuestion, SessionSetup, SessionStep,
};
pub use ssh_proto::driver::{AuthDecision, Interactive, SessionControl, X11Forwarding};
use ssh_proto::{DisconnectReason, Event, server};

use crate::channel::Channel;
use crate::engine::{Shared, Wake};
use crate::forward::{Listening, origin, pump};
use crate::{Error, Stream};

/// How long the server waits for the client to confirm a channel it opens (agent,
/// forwarded-tcpip).
const OPEN_TIMEOUT: Duration = Duration::from_secs(30);

/// What the server does for each decision, like Paramiko's `ServerInterface`. Every method
/// has a refusing default, so a handler implements only what it serves. Methods may block
/// (a database lookup): only their own connection waits.
pub trait ServerHandler: Send + Sync + 'static {
    /// The methods `user` may authenticate with (Paramiko's `get_allowed_auths`), asked
    /// once, on the user's first request: failures list only these, and the others fail
    /// without a `check_auth_*` call. `None` (the default) offers the configured
    /// `server::Config` methods; this can narrow them, not add to them.
    fn get_allowed_auths(&self, _user: &str) -> Option<Vec<AuthMethod>> {
        None
    }
    /// `none` authentication.
    fn check_auth_none(&self, _user: &str) -> AuthDecision {
        AuthDecision::Reject
    }
    /// Password authentication.
    fn check_auth_password(&self, _user: &str, _password: &str) -> AuthDecision {
        AuthDecision::Reject
    }
    /// Whether `key` may log in `user`. Called for the query and again for the signed
    /// request (whose signature the core has verified).
    fn check_auth_publickey(&self, _user: &str, _key: &ssh_proto::ssh_key::PublicKey) -> AuthDecision {
        AuthDecision::Reject
    }
    /// Keyboard-interactive start.
    fn check_auth_interactive(&self, _user: &str, _submethods: &[String]) -> Interactive {
        Interactive::Decide(AuthDecision::Reject)
    }
    /// Keyboard-interactive answers.
    fn check_auth_interactive_response(&self, _user: &str, _answers: &[&str]) -> Interactive {
        Interactive::Decide(AuthDecision::Reject)
    }
    /// Whether to open a channel of this kind (sessions by default). An accepted
    /// `direct-tcpip` channel is served by [`ServerHandler::direct_tcpip`].
    fn check_channel_request(&self, kind: &ChannelKind) -> bool {
        matches!(kind, ChannelKind::Session)
    }
    /// Serves an accepted `direct-tcpip` channel (its own thread): by default connects to
    /// `host:port` and copies both ways, as sshd does for `-L`.
    fn direct_tcpip(&self, channel: Channel, host: &str, port: u16) {
        if let Ok(tcp) = std::net::TcpStream::connect((host, port)) {
            let _ = pump(channel, tcp);
        }
    }
    /// Where to listen for a remote forward the client asks for (`ssh -R address:port`;
    /// port 0: any), or `None` to refuse. The server binds the returned address and carries
    /// each connection to the client in a `forwarded-tcpip` channel until the client
    /// cancels or leaves. sshd's `GatewayPorts no` is `Some((Ipv4Addr::LOCALHOST,
    /// port).into())` whatever the address. For a request with a fixed port, return that
    /// port: the client knows the forward by the port it asked for, and that is the port the
    /// `forwarded-tcpip` channels name.
    fn check_port_forward_request(&self, _address: &str, _port: u16) -> Option<SocketAddr> {
        None
    }
    /// Answers a global request other than `tcpip-forward` and its cancel (Paramiko's
    /// `check_global_request`): keepalives, `no-more-sessions@openssh.com`, host key
    /// proofs, a protocol of the application's own. Refused by default, which OpenSSH's
    /// keepalives take as proof of life. A request without want-reply is answered nowhere.
    fn global_request(&self, _request: &GlobalRequest) -> GlobalReply {
        GlobalReply::Failure
    }
    /// Whether to allocate a pseudo-terminal; an accepted request reaches the command as
    /// [`ServerSession::pty`].
    fn check_pty_request(&self, _pty: &PtyRequest) -> bool {
        false
    }
    /// Whether to accept an environment variable; accepted ones reach the command as
    /// [`ServerSession::env`].
    fn check_env_request(&self, _name: &str, _value: &str) -> bool {
        false
    }
    /// Whether to forward the client's agent on this session (`auth-agent-req@openssh.com`);
    /// accepted, it shows as [`ServerSession::agent_forwarding`].
    fn check_agent_forward_request(&self) -> bool {
        false
    }
    /// Whether to forward X11 on this session (`x11-req`; Paramiko's `check_x11_request`);
    /// accepted, it shows as [`ServerSession::x11`], and
    /// [`ServerSession::open_x11_channel`] carries each X client to the client's display.
    fn check_x11_request(&self, _x11: &X11Forwarding) -> bool {
        false
    }
    /// Whether to run `command`; when yes, [`ServerHandler::exec`] runs it.
    fn check_exec_request(&self, _command: &[u8]) -> bool {
        false
    }
    /// Serves an accepted exec (its own thread). The returned status is sent and the
    /// channel closed when it returns.
    fn exec(&self, _session: &mut ServerSession, _command: &[u8]) -> ExitStatus {
        ExitStatus::Code(127)
    }
    /// Whether to start a shell; when yes, [`ServerHandler::shell`] serves it.
    fn check_shell_request(&self) -> bool {
        false
    }
    /// Serves an accepted shell (its own thread).
    fn shell(&self, _session: &mut ServerSession) -> ExitStatus {
        ExitStatus::Code(127)
    }
    /// Whether a subsystem of this name exists; when yes, [`ServerHandler::subsystem`]
    /// serves it (ssh-sftp plugs in here).
    fn check_subsystem_request(&self, _name: &str) -> bool {
        false
    }
    /// Serves an accepted subsystem (its own thread).
    fn subsystem(&self, _session: &mut ServerSession, _name: &str) -> ExitStatus {
        ExitStatus::Code(1)
    }
}

/// A session channel being served: the channel, what the client set up before the command
/// (environment, pty, agent forwarding), and the control requests that arrive while it runs.
pub struct ServerSession {
    /// The channel: `Read` is the client's stdin, `Write` its stdout,
    /// [`Channel::write_stderr`] its stderr.
    pub channel: Channel,
    /// Environment variables the handler accepted, in the order sent.
    pub env: Vec<(String, String)>,
    /// The pseudo-terminal the handler accepted, with the latest size.
    pub pty: Option<PtyRequest>,
    /// Whether agent forwarding was accepted on this session.
    pub agent_forwarding: bool,
    /// The X11 forwarding accepted on this session: the display the command should use is
    /// the server's to make (sshd listens on a TCP display and sets `DISPLAY`).
    pub x11: Option<X11Forwarding>,
    controls: Receiver<SessionControl>,
    conn: Arc<Shared<server::Connection>>,
}

impl ServerSession {
    /// The next control request, if one is waiting.
    pub fn try_control(&self) -> Option<SessionControl> {
        self.controls.try_recv().ok()
    }

    /// Waits up to `timeout` for the next control request (`None` also when the channel is
    /// gone).
    pub fn control_timeout(&self, timeout: Duration) -> Option<SessionControl> {
        self.controls.recv_timeout(timeout).ok()
    }

    /// Opens a channel to the client's forwarded agent (`auth-agent@openssh.com`); what
    /// sshd does for each connection to the `SSH_AUTH_SOCK` it made for the session.
    /// Refused unless [`ServerSession::agent_forwarding`].
    pub fn open_agent_channel(&self) -> Result<Channel, Error> {
        match self.agent_opener() {
            Some(opener) => opener.open(),
            None => Err(Error::RequestRefused("auth-agent@openssh.com: agent forwarding was not requested".into())),
        }
    }

    /// What opens agent channels from other threads (`Send + Sync + Clone`), such as the
    /// one accepting on the session's `SSH_AUTH_SOCK`; `None` unless
    /// [`ServerSession::agent_forwarding`].
    pub fn agent_opener(&self) -> Option<AgentOpener> {
        self.agent_forwarding.then(|| AgentOpener { conn: Arc::clone(&self.conn) })
    }

    /// Opens an `x11` channel to the client for an X client that connected from
    /// `originator:originator_port` to the display the server made for this session.
    /// Refused unless [`ServerSession::x11`].
    pub fn open_x11_channel(&self, originator: &str, originator_port: u32) -> Result<Channel, Error> {
        if self.x11.is_none() {
            return Err(Error::RequestRefused("x11: X11 forwarding was not requested".into()));
        }
        let kind = ChannelKind::X11 { originator: originator.to_owned(), originator_port };
        self.conn.open_channel(&kind, Some(Instant::now() + OPEN_TIMEOUT))
    }
}

/// Opens channels to a session's forwarded agent ([`ServerSession::agent_opener`]).
#[derive(Clone)]
pub struct AgentOpener {
    conn: Arc<Shared<server::Connection>>,
}

impl AgentOpener {
    /// Opens an `auth-agent@openssh.com` channel to the client's agent.
    pub fn open(&self) -> Result<Channel, Error> {
        self.conn.open_channel(&ChannelKind::AuthAgent, Some(Instant::now() + OPEN_TIMEOUT))
    }
}

/// A session channel before and while its command runs.
#[derive(Default)]
struct Session {
    /// The channel's handle until its command takes it (dropping it closes the channel).
    channel: Option<Channel>,
    setup: SessionSetup,
    running: Option<SyncSender<SessionControl>>,
}

/// Serves a subsystem registered by name ([`Server::subsystem`]).
pub type SubsystemFn = dyn Fn(&mut ServerSession) -> ExitStatus + Send + Sync;

/// What one connection's front-end answers with: the handler, and subsystems by name
/// (which take precedence over [`ServerHandler::subsystem`]).
#[derive(Clone)]
struct Handlers {
    handler: Arc<dyn ServerHandler>,
    subsystems: Arc<HashMap<String, Arc<SubsystemFn>>>,
}

/// The connections a [`Server`] is serving, for [`StopHandle::disconnect_all`].
type Live = Arc<Mutex<Vec<Weak<Shared<server::Connection>>>>>;

/// A listening server.
pub struct Server {
    listener: TcpListener,
    config: Arc<server::Config>,
    handlers: Handlers,
    stopping: Arc<AtomicBool>,
    live: Live,
}

impl Server {
    /// Binds `addr` (port 0 picks a free port).
    pub fn bind(addr: impl ToSocketAddrs, config: server::Config, handler: impl ServerHandler) -> Result<Self, Error> {
        Ok(Self {
            listener: TcpListener::bind(addr)?,
            config: Arc::new(config),
            handlers: Handlers { handler: Arc::new(handler), subsystems: Arc::default() },
            stopping: Arc::new(AtomicBool::new(false)),
            live: Live::default(),
        })
    }

    /// Serves the subsystem `name` (`sftp`, …) with `serve` on every connection from now
    /// on, whatever the handler's `check_subsystem_request` says: ssh-sftp plugs in here.
    pub fn subsystem(
        mut self,
        name: &str,
        serve: impl Fn(&mut ServerSession) -> ExitStatus + Send + Sync + 'static,
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

    /// Accepts connections until [`StopHandle::stop`], each served by its own thread. A
    /// connection whose handler panics or fails ends alone; the server keeps serving.
    pub fn serve(&self) -> Result<(), Error> {
        for stream in self.listener.incoming() {
            if self.stopping.load(Ordering::SeqCst) {
                break;
            }
            let Ok(tcp) = stream else { continue };
            tracing::debug!(peer = ?tcp.peer_addr().ok(), "connection accepted");
            let Ok(stream) = Stream::try_from(tcp) else { continue };
            let (config, handlers, live) = (Arc::clone(&self.config), self.handlers.clone(), Arc::clone(&self.live));
            let _ = thread::Builder::new().name("ssh-server-conn".into()).spawn(move || {
                let _ = catch_unwind(AssertUnwindSafe(|| serve(stream, config, &handlers, Some(&live))));
            });
        }
        Ok(())
    }

    /// A handle that stops [`Server::serve`] from another thread.
    pub fn stop_handle(&self) -> Result<StopHandle, Error> {
        Ok(StopHandle { addr: self.local_addr()?, stopping: Arc::clone(&self.stopping), live: Arc::clone(&self.live) })
    }
}

/// Stops a serving [`Server`].
#[derive(Clone)]
pub struct StopHandle {
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    live: Live,
}

impl StopHandle {
    /// Stops accepting (connections already open keep running to their end).
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wake the blocked accept.
        let _ = std::net::TcpStream::connect(self.addr);
    }

    /// Ends every connection the server is serving with a DISCONNECT (`BY_APPLICATION`,
    /// "server shutting down"), without waiting: their handlers' channels close, and their
    /// clients see the connection end. With [`StopHandle::stop`], a shutdown.
    pub fn disconnect_all(&self) {
        let live: Vec<_> = lock_live(&self.live).iter().filter_map(Weak::upgrade).collect();
        for conn in live {
            conn.disconnect(DisconnectReason::ByApplication, "server shutting down");
        }
    }
}

fn lock_live(live: &Live) -> MutexGuard<'_, Vec<Weak<Shared<server::Connection>>>> {
    live.lock().unwrap_or_else(|p| p.into_inner())
}

/// Serves one connection over `stream` until it ends.
pub fn serve_connection(
    stream: Stream,
    config: Arc<server::Config>,
    handler: Arc<dyn ServerHandler>,
) -> Result<(), Error> {
    serve(stream, config, &Handlers { handler, subsystems: Arc::default() }, None)
}

fn serve(stream: Stream, config: Arc<server::Config>, handlers: &Handlers, live: Option<&Live>) -> Result<(), Error> {
    let rng = Box::new(ssh_proto::BufferedRng::new(rand_core::UnwrapErr(getrandom::SysRng)));
    let conn = server::Connection::new(config, Instant::now(), rng)?;
    let shared = Shared::start_with(conn, stream, "ssh-server", true)?;
    if let Some(live) = live {
        let mut live = lock_live(live);
        live.retain(|c| c.strong_count() > 0);
        live.push(Arc::downgrade(&shared));
    }
    let result = front_end(&shared, handlers);
    shared.close(DisconnectReason::ByApplication, "server closing");
    result
}

fn front_end(shared: &Arc<Shared<server::Connection>>, handlers: &Handlers) -> Result<(), Error> {
    let handler = &handlers.handler;
    let mut sessions: HashMap<ChannelId, Session> = HashMap::new();
    // Remote forwards by the (address, port) the client knows them by; dropped with the
    // connection, which stops their listeners.
    let mut forwards: HashMap<(String, u32), Listening> = HashMap::new();
    let mut allowed = AllowedAuths::default();
    loop {
        let ev = match shared.wait_for(Wake::Events, None, "an event", |st| st.mux.events.pop_front().map(Ok)) {
            Ok(ev) => ev,
            Err(Error::Disconnected { .. }) => return Ok(()),
            Err(e) => return Err(e),
        };
        match ev {
            Event::AuthRequest { token, user, attempt, .. } => {
                if allowed.must_ask()
                    && let Some(methods) = handler.get_allowed_auths(&user)
                {
                    shared.lock().conn.restrict_auth_methods(&methods);
                    if !AllowedAuths::permits(&methods, &attempt) {
                        shared.lock().conn.auth_reply(token, AuthReply::Reject)?;
                        continue;
                    }
                }
                let reply: AuthReply = match AuthQuestion::of(&attempt) {
                    Some(AuthQuestion::None) => handler.check_auth_none(&user).into(),
                    Some(AuthQuestion::Password(password)) => handler.check_auth_password(&user, password).into(),
                    Some(AuthQuestion::PublicKey(key)) => handler.check_auth_publickey(&user, key).into(),
                    Some(AuthQuestion::Interactive(submethods)) => {
                        handler.check_auth_interactive(&user, submethods).into()
                    }
                    Some(AuthQuestion::InteractiveResponse(answers)) => {
                        handler.check_auth_interactive_response(&user, &answers).into()
                    }
                    None => AuthReply::Reject,
                };
                shared.lock().conn.auth_reply(token, reply)?;
            }
            Event::ChannelOpenRequest { id, kind } => {
                // Setups of channels that have since closed go (ids are reused); their
                // handles drop here, outside the lock, which frees the channels' state.
                let closed: Vec<ChannelId> = {
                    let g = shared.lock();
                    sessions.keys().filter(|id| g.mux.channels.get(id).is_none_or(|ch| ch.closed)).copied().collect()
                };
                for gone in closed {
                    sessions.remove(&gone);
                }
                if !handler.check_channel_request(&kind) {
                    // The client may have given up on it meanwhile: that is not the end of
                    // the connection.
                    let _ = shared.lock().conn.reject_channel(id, OpenFailure::AdministrativelyProhibited, "refused");
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
                        let _ = thread::Builder::new().name("ssh-server-forward".into()).spawn(move || {
                            let _ = catch_unwind(AssertUnwindSafe(|| handler.direct_tcpip(channel, &host, port)));
                        });
                    }
                    // Accepted by the handler but served by nothing: it closes at once.
                    _ => drop(channel),
                }
            }
            Event::ChannelRequest { id, token, request } => {
                let (ok, serve) = match sessions.get_mut(&id) {
                    Some(session) => session_request(handlers, session, request),
                    None => (false, None),
                };
                if let Some(token) = token {
                    // The client may have closed the channel while the handler decided.
                    let _ = shared.lock().conn.channel_request_reply(id, token, ok);
                }
                if let (Some(what), Some(session)) = (serve, sessions.get_mut(&id))
                    && let Some(handle) = session.channel.take()
                {
                    let (tx, rx) = sync_channel(CONTROL_QUEUE);
                    session.running = Some(tx);
                    let setup = &mut session.setup;
                    let session = ServerSession {
                        channel: handle,
                        env: std::mem::take(&mut setup.env),
                        pty: setup.pty.clone(),
                        agent_forwarding: setup.agent_forwarding,
                        x11: setup.x11.clone(),
                        controls: rx,
                        conn: Arc::clone(shared),
                    };
                    let handler = Arc::clone(handler);
                    let subsystems = Arc::clone(&handlers.subsystems);
                    let _ = thread::Builder::new().name("ssh-server-channel".into()).spawn(move || {
                        let mut session = session;
                        let status = catch_unwind(AssertUnwindSafe(|| match &what {
                            Serve::Exec(cmd) => handler.exec(&mut session, cmd),
                            Serve::Shell => handler.shell(&mut session),
                            Serve::Subsystem(name) => match subsystems.get(name) {
                                Some(serve) => serve(&mut session),
                                None => handler.subsystem(&mut session, name),
                            },
                        }))
                        .unwrap_or_else(|_| {
                            tracing::warn!("a channel handler panicked; its channel ends with status 255");
                            ExitStatus::Code(255)
                        });
                        let _ = session.channel.send_eof();
                        let _ = session.channel.send_exit_status(status);
                        // Dropping the channel closes it.
                    });
                }
            }
            Event::GlobalRequest { token, request } => {
                let reply = global_request(shared, handler, &mut forwards, request);
                if let Some(token) = token {
                    shared.lock().conn.global_request_reply(token, reply)?;
                }
            }
            _ => {}
        }
    }
}

/// Answers a global request: remote forwards and their cancellation here, anything else
/// by the handler.
fn global_request(
    shared: &Arc<Shared<server::Connection>>,
    handler: &Arc<dyn ServerHandler>,
    forwards: &mut HashMap<(String, u32), Listening>,
    request: GlobalRequest,
) -> GlobalReply {
    match request {
        GlobalRequest::TcpipForward { address, port } => {
            if forwards.len() >= MAX_REMOTE_FORWARDS {
                return GlobalReply::Failure;
            }
            let Ok(wanted) = u16::try_from(port) else { return GlobalReply::Failure };
            let Some(bind) = handler.check_port_forward_request(&address, wanted) else { return GlobalReply::Failure };
            let Ok(listener) = TcpListener::bind(bind) else { return GlobalReply::Failure };
            let Ok(local) = listener.local_addr() else { return GlobalReply::Failure };
            let bound = if wanted == 0 { u32::from(local.port()) } else { port };
            let (conn, name) = (Arc::clone(shared), address.clone());
            let listening = Listening::start(listener, move |tcp| {
                let (originator, originator_port) = origin(&tcp);
                let kind = ChannelKind::ForwardedTcpip {
                    address: name.clone(),
                    port: bound,
                    originator,
                    originator_port: u32::from(originator_port),
                };
                if let Ok(channel) = conn.open_channel(&kind, Some(Instant::now() + OPEN_TIMEOUT)) {
                    let _ = pump(channel, tcp);
                }
            });
            let Ok(listening) = listening else { return GlobalReply::Failure };
            forwards.insert((address, bound), listening);
            GlobalReply::Success { bound_port: (wanted == 0).then_some(bound), data: Default::default() }
        }
        GlobalRequest::CancelTcpipForward { address, port } => match forwards.remove(&(address, port)) {
            Some(_) => GlobalReply::Success { bound_port: None, data: Default::default() },
            None => GlobalReply::Failure,
        },
        other => handler.global_request(&other),
    }
}

/// Answers one request on a session channel: whether it succeeded, and what to start.
fn session_request(handlers: &Handlers, session: &mut Session, request: ChannelRequest) -> (bool, Option<Serve>) {
    let handler = &handlers.handler;
    match session.setup.step(request) {
        SessionStep::Answer(ok) => (ok, None),
        SessionStep::Control(control) => (session.running.as_ref().is_some_and(|r| r.try_send(control).is_ok()), None),
        SessionStep::Ask(question) => {
            let yes = match &question {
                SessionQuestion::Pty(pty) => handler.check_pty_request(pty),
                SessionQuestion::Env { name, value } => handler.check_env_request(name, value),
                SessionQuestion::AgentForwarding => handler.check_agent_forward_request(),
                SessionQuestion::X11(x11) => handler.check_x11_request(x11),
                SessionQuestion::Exec(command) => handler.check_exec_request(command),
                SessionQuestion::Shell => handler.check_shell_request(),
                SessionQuestion::Subsystem(name) => {
                    handlers.subsystems.contains_key(name) || handler.check_subsystem_request(name)
                }
            };
            (yes, session.setup.decided(question, yes))
        }
    }
}
