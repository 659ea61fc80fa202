//! Paramiko's `ServerInterface` over a `TcpListener`: a thread per connection answers the
//! core's decisions by calling a [`ServerHandler`], and each accepted exec, shell or
//! subsystem runs in its own thread with the [`Channel`] to serve.

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Instant;

use ssh_proto::auth::{AuthAttempt, AuthReply, InfoRequest};
use ssh_proto::connection::{ChannelKind, ChannelRequest, ExitStatus, OpenFailure, PtyRequest};
use ssh_proto::{DisconnectReason, Event, server};

use crate::channel::Channel;
use crate::engine::{ChannelState, Link, Opening, Shared};
use crate::{Error, Stream};

/// An authentication decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthDecision {
    /// Authenticated.
    Accept,
    /// This step passed; more are needed.
    Partial,
    /// Refused.
    Reject,
}

impl From<AuthDecision> for AuthReply {
    fn from(d: AuthDecision) -> Self {
        match d {
            AuthDecision::Accept => AuthReply::Accept,
            AuthDecision::Partial => AuthReply::Partial,
            AuthDecision::Reject => AuthReply::Reject,
        }
    }
}

/// A keyboard-interactive step: prompts to show, or a decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Interactive {
    /// Ask these prompts; the answers come to `check_auth_interactive_response`.
    Prompts(InfoRequest),
    /// Decide now.
    Decide(AuthDecision),
}

/// What the server does for each decision, like Paramiko's `ServerInterface`. Every method
/// has a refusing default, so a handler implements only what it serves. Methods may block
/// (a database lookup): only their own connection waits.
pub trait ServerHandler: Send + Sync + 'static {
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
            let _ = crate::forward::pump(channel, tcp);
        }
    }
    /// Whether to allocate a pseudo-terminal.
    fn check_pty_request(&self, _pty: &PtyRequest) -> bool {
        false
    }
    /// Whether to accept an environment variable.
    fn check_env_request(&self, _name: &str, _value: &str) -> bool {
        false
    }
    /// The terminal changed size.
    fn window_change(&self, _cols: u32, _rows: u32) {}
    /// Whether to run `command`; when yes, [`ServerHandler::exec`] runs it.
    fn check_exec_request(&self, _command: &[u8]) -> bool {
        false
    }
    /// Serves an accepted exec on `channel` (its own thread). The returned status is sent
    /// and the channel closed when it returns.
    fn exec(&self, _channel: &mut Channel, _command: &[u8]) -> ExitStatus {
        ExitStatus::Code(127)
    }
    /// Whether to start a shell; when yes, [`ServerHandler::shell`] serves it.
    fn check_shell_request(&self) -> bool {
        false
    }
    /// Serves an accepted shell on `channel` (its own thread).
    fn shell(&self, _channel: &mut Channel) -> ExitStatus {
        ExitStatus::Code(127)
    }
    /// Whether a subsystem of this name exists; when yes, [`ServerHandler::subsystem`]
    /// serves it (ssh-sftp plugs in here).
    fn check_subsystem_request(&self, _name: &str) -> bool {
        false
    }
    /// Serves an accepted subsystem on `channel` (its own thread).
    fn subsystem(&self, _channel: &mut Channel, _name: &str) -> ExitStatus {
        ExitStatus::Code(1)
    }
}

/// A listening server.
pub struct Server {
    listener: TcpListener,
    config: Arc<server::Config>,
    handler: Arc<dyn ServerHandler>,
    stopping: Arc<AtomicBool>,
}

impl Server {
    /// Binds `addr` (port 0 picks a free port).
    pub fn bind(addr: impl ToSocketAddrs, config: server::Config, handler: impl ServerHandler) -> Result<Self, Error> {
        Ok(Self {
            listener: TcpListener::bind(addr)?,
            config: Arc::new(config),
            handler: Arc::new(handler),
            stopping: Arc::new(AtomicBool::new(false)),
        })
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
            let Ok(stream) = Stream::try_from(tcp) else { continue };
            let (config, handler) = (Arc::clone(&self.config), Arc::clone(&self.handler));
            let _ = thread::Builder::new().name("ssh-server-conn".into()).spawn(move || {
                let _ = catch_unwind(AssertUnwindSafe(|| serve_connection(stream, config, handler)));
            });
        }
        Ok(())
    }

    /// A handle that stops [`Server::serve`] from another thread.
    pub fn stop_handle(&self) -> Result<StopHandle, Error> {
        Ok(StopHandle { addr: self.local_addr()?, stopping: Arc::clone(&self.stopping) })
    }
}

/// Stops a serving [`Server`].
#[derive(Clone)]
pub struct StopHandle {
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
}

impl StopHandle {
    /// Stops accepting (connections already open keep running to their end).
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wake the blocked accept.
        let _ = std::net::TcpStream::connect(self.addr);
    }
}

/// Serves one connection over `stream` until it ends.
pub fn serve_connection(
    stream: Stream,
    config: Arc<server::Config>,
    handler: Arc<dyn ServerHandler>,
) -> Result<(), Error> {
    let rng = Box::new(rand_core::UnwrapErr(getrandom::SysRng));
    let conn = server::Connection::new(config, Instant::now(), rng)?;
    let shared = Shared::start_with(conn, stream, "ssh-server", true)?;
    let result = front_end(&shared, &handler);
    shared.close(DisconnectReason::ByApplication, "server closing");
    result
}

fn front_end(shared: &Arc<Shared<server::Connection>>, handler: &Arc<dyn ServerHandler>) -> Result<(), Error> {
    loop {
        let ev = match shared.wait_for(None, "an event", |st| st.events.pop_front().map(Ok)) {
            Ok(ev) => ev,
            Err(Error::Disconnected { .. }) => return Ok(()),
            Err(e) => return Err(e),
        };
        match ev {
            Event::AuthRequest { token, user, attempt, .. } => {
                let reply: AuthReply = match &attempt {
                    AuthAttempt::None => handler.check_auth_none(&user).into(),
                    AuthAttempt::Password { password, new_password: None } => {
                        handler.check_auth_password(&user, password.expose()).into()
                    }
                    AuthAttempt::PublicKey { key, certificate: None, .. } => {
                        handler.check_auth_publickey(&user, key).into()
                    }
                    AuthAttempt::KeyboardInteractive { submethods } => {
                        interactive(handler.check_auth_interactive(&user, submethods))
                    }
                    AuthAttempt::KeyboardInteractiveResponse { answers } => {
                        let answers: Vec<&str> = answers.iter().map(|a| a.expose()).collect();
                        interactive(handler.check_auth_interactive_response(&user, &answers))
                    }
                    _ => AuthReply::Reject,
                };
                shared.lock().conn.auth_reply(token, reply)?;
            }
            Event::ChannelOpenRequest { id, kind } => {
                let yes = handler.check_channel_request(&kind);
                {
                    let mut g = shared.lock();
                    if !yes {
                        g.conn.reject_channel(id, OpenFailure::AdministrativelyProhibited, "refused")?;
                        continue;
                    }
                    g.conn.accept_channel(id)?;
                    g.channels.insert(id, ChannelState::new(Opening::Open));
                }
                if let ChannelKind::DirectTcpip { host, port, .. } = kind {
                    let link: Arc<dyn Link> = shared.clone();
                    let handler = Arc::clone(handler);
                    let port = u16::try_from(port).unwrap_or(0);
                    let _ = thread::Builder::new().name("ssh-server-forward".into()).spawn(move || {
                        let channel = Channel::new(link, id, None);
                        let _ = catch_unwind(AssertUnwindSafe(|| handler.direct_tcpip(channel, &host, port)));
                    });
                }
            }
            Event::ChannelRequest { id, token, request } => {
                let (ok, serve) = match &request {
                    ChannelRequest::Pty(pty) => (handler.check_pty_request(pty), None),
                    ChannelRequest::Env { name, value } => (handler.check_env_request(name, value), None),
                    ChannelRequest::WindowChange { cols, rows, .. } => {
                        handler.window_change(*cols, *rows);
                        (true, None)
                    }
                    ChannelRequest::Exec { command } => {
                        let yes = handler.check_exec_request(command);
                        (yes, yes.then(|| Serve::Exec(command.to_vec())))
                    }
                    ChannelRequest::Shell => {
                        let yes = handler.check_shell_request();
                        (yes, yes.then_some(Serve::Shell))
                    }
                    ChannelRequest::Subsystem { name } => {
                        let yes = handler.check_subsystem_request(name);
                        (yes, yes.then(|| Serve::Subsystem(name.clone())))
                    }
                    _ => (false, None),
                };
                if let Some(token) = token {
                    shared.lock().conn.channel_request_reply(id, token, ok)?;
                }
                if let Some(what) = serve {
                    let link: Arc<dyn Link> = shared.clone();
                    let handler = Arc::clone(handler);
                    let _ = thread::Builder::new().name("ssh-server-channel".into()).spawn(move || {
                        let mut channel = Channel::new(link, id, None);
                        let status = catch_unwind(AssertUnwindSafe(|| match &what {
                            Serve::Exec(cmd) => handler.exec(&mut channel, cmd),
                            Serve::Shell => handler.shell(&mut channel),
                            Serve::Subsystem(name) => handler.subsystem(&mut channel, name),
                        }))
                        .unwrap_or(ExitStatus::Code(255));
                        let _ = channel.send_eof();
                        let _ = channel.send_exit_status(status);
                        // Dropping the channel closes it.
                    });
                }
            }
            Event::GlobalRequest { token: Some(token), .. } => {
                shared.lock().conn.global_request_reply(token, ssh_proto::connection::GlobalReply::Failure)?;
            }
            _ => {}
        }
    }
}

enum Serve {
    Exec(Vec<u8>),
    Shell,
    Subsystem(String),
}

fn interactive(i: Interactive) -> AuthReply {
    match i {
        Interactive::Prompts(p) => AuthReply::Prompts(p),
        Interactive::Decide(d) => d.into(),
    }
}
