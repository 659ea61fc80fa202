//! A client connection: Paramiko's `Transport`. The handshake, each authentication method
//! as its own call, and channels.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ssh_proto::algorithm::HostKeyAlgorithm;
use ssh_proto::auth::InfoRequest;
use ssh_proto::client::Identity;
use ssh_proto::connection::{ChannelKind, GlobalReply, GlobalRequest};
pub use ssh_proto::driver::{AuthOutcome, HostKeyVerifier};
use ssh_proto::driver::{AuthStep, Timeouts};
use ssh_proto::ssh_key::PublicKey;
use ssh_proto::{DisconnectReason, KeyPair, ServerHostKey, client};

use crate::Error;
use crate::accept::{Acceptor, ForwardHandler, Forwarded};
use crate::channel::Channel;
use crate::engine::{Shared, Wake};
use crate::stream::Stream;

/// Answers one round of keyboard-interactive prompts, one answer per prompt.
type PromptAnswerer<'a> = dyn FnMut(&InfoRequest) -> Vec<String> + 'a;

/// Signs user-authentication data with a key held elsewhere (the agent); `None` declines.
type Signer<'a> = dyn FnMut(&PublicKey, HostKeyAlgorithm, &[u8]) -> Option<Vec<u8>> + 'a;

/// What an authentication call can answer while it waits.
#[derive(Default)]
struct Answers<'a> {
    prompts: Option<&'a mut PromptAnswerer<'a>>,
    signer: Option<&'a mut Signer<'a>>,
}

/// An SSH client connection driven by two I/O threads.
///
/// ```no_run
/// use ssh_blocking::{AuthOutcome, Session};
/// let tcp = std::net::TcpStream::connect("127.0.0.1:22")?;
/// let session = Session::handshake(tcp.try_into()?, Default::default(), Default::default(), |_key: &_| Ok(()))?;
/// assert_eq!(session.auth_password("me", "secret")?, AuthOutcome::Success);
/// let mut ch = session.open_session()?;
/// ch.exec("uname -a")?;
/// let out = ch.read_all()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Session {
    shared: Arc<Shared<client::Connection>>,
    timeouts: Timeouts,
    host_key: ServerHostKey,
    banner: std::sync::Mutex<Option<String>>,
    acceptor: Arc<Acceptor>,
}

fn deadline(t: Option<Duration>) -> Option<Instant> {
    t.map(|t| Instant::now() + t)
}

impl Session {
    /// Runs the handshake over `stream`: version exchange, key exchange, and the host key
    /// decision by `verifier`. A refused key disconnects with
    /// `HOST_KEY_NOT_VERIFIABLE` and returns [`Error::HostKeyRejected`].
    pub fn handshake(
        stream: Stream,
        config: client::Config,
        timeouts: Timeouts,
        mut verifier: impl HostKeyVerifier,
    ) -> Result<Self, Error> {
        let rng = Box::new(ssh_proto::BufferedRng::new(rand_core::UnwrapErr(getrandom::SysRng)));
        let conn = client::Connection::new(Arc::new(config), Instant::now(), rng)?;
        let shared = Shared::start(conn, stream, "ssh-client")?;
        let until = deadline(timeouts.handshake);
        let fail = |shared: &Shared<client::Connection>, e: Error| {
            shared.close(DisconnectReason::ByApplication, "handshake failed");
            e
        };
        let (token, key) = shared
            .wait_for(Wake::Any, until, "the server's host key", |st| st.mux.take_host_key().map(Ok))
            .map_err(|e| fail(&shared, e))?;
        tracing::debug!(key = %key.to_openssh(), "server host key");
        if let Err(why) = verifier.verify(&key) {
            tracing::info!(%why, "host key rejected");
            {
                let mut g = shared.lock();
                let _ = g.conn.reject_host_key(token);
            }
            shared.close(DisconnectReason::HostKeyNotVerifiable, "host key rejected");
            return Err(Error::HostKeyRejected(why));
        }
        shared.lock().conn.accept_host_key(token).map_err(|e| fail(&shared, e.into()))?;
        shared
            .wait_for(Wake::Any, until, "the key exchange", |st| st.conn.is_established().then_some(Ok(())))
            .map_err(|e| fail(&shared, e))?;
        if let Some(n) = shared.lock().conn.negotiated() {
            use ssh_proto::algorithm::Algorithm;
            tracing::debug!(
                kex = n.kex.name(),
                host_key = n.host_key.name(),
                cipher = n.cipher_c2s.name(),
                mac = n.mac_c2s.map_or("<aead>", |m| m.name()),
                "keys exchanged"
            );
        }
        Ok(Self { shared, timeouts, host_key: key, banner: std::sync::Mutex::new(None), acceptor: Arc::default() })
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
        self.shared.lock().conn.negotiated()
    }

    /// Completed key exchanges (the first one included).
    pub fn key_exchanges(&self) -> u64 {
        self.shared.lock().conn.key_exchanges()
    }

    /// Whether authentication has succeeded.
    pub fn is_authenticated(&self) -> bool {
        self.shared.lock().conn.is_authenticated()
    }

    /// Whether the connection is still up.
    pub fn is_active(&self) -> bool {
        self.shared.lock().mux.ended.is_none()
    }

    /// Waits for the outcome of the authentication request just sent, answering
    /// keyboard-interactive prompts with `answer` (none given: empty answers, so the server
    /// moves on). `answer` runs without the session's lock, so a human may take their time.
    fn auth_outcome(&self, mut answers: Answers<'_>) -> Result<AuthOutcome, Error> {
        let until = deadline(self.timeouts.auth);
        loop {
            let step = self.shared.wait_for(Wake::Any, until, "authentication", |st| {
                let banner = &mut |message| *self.banner.lock().unwrap_or_else(|p| p.into_inner()) = Some(message);
                st.mux.take_auth_step(banner).map(Ok)
            })?;
            match step {
                AuthStep::Done(outcome) => {
                    tracing::debug!(?outcome, "authentication");
                    return Ok(outcome);
                }
                AuthStep::Prompts(request) => {
                    let replies = match answers.prompts.as_mut() {
                        Some(f) => f(&request),
                        None => Vec::new(),
                    };
                    let refs: Vec<&str> = replies.iter().map(String::as_str).collect();
                    self.shared.lock().conn.auth_info_response(&refs)?;
                }
                AuthStep::Sign { token, key, algorithm, data } => {
                    let signature = answers.signer.as_mut().and_then(|f| f(&key, algorithm, &data));
                    let mut g = self.shared.lock();
                    match signature {
                        Some(sig) => g.conn.provide_signature(token, &sig)?,
                        None => g.conn.signature_failed(token)?,
                    }
                }
            }
        }
    }

    /// `none` authentication (learns the allowed methods, or logs in a user without one).
    pub fn auth_none(&self, user: &str) -> Result<AuthOutcome, Error> {
        self.shared.lock().conn.auth_none(user)?;
        self.auth_outcome(Answers::default())
    }

    /// Password authentication (falls back to keyboard-interactive with the same password
    /// when the server only offers that, as Paramiko does).
    pub fn auth_password(&self, user: &str, password: &str) -> Result<AuthOutcome, Error> {
        self.shared.lock().conn.auth_password(user, password)?;
        self.auth_outcome(Answers::default())
    }

    /// Keyboard-interactive authentication: `answer` gets each round of prompts and returns
    /// one answer per prompt (Paramiko's `auth_interactive`).
    pub fn auth_interactive(
        &self,
        user: &str,
        submethods: &str,
        mut answer: impl FnMut(&InfoRequest) -> Vec<String>,
    ) -> Result<AuthOutcome, Error> {
        self.shared.lock().conn.auth_keyboard_interactive(user, submethods)?;
        self.auth_outcome(Answers { prompts: Some(&mut answer), signer: None })
    }

    /// Public key authentication with a local key (the core signs).
    pub fn auth_publickey(&self, user: &str, key: Arc<KeyPair>) -> Result<AuthOutcome, Error> {
        self.shared.lock().conn.auth_publickey(user, Identity::Key(key))?;
        self.auth_outcome(Answers::default())
    }

    /// Keyboard-interactive with the prompts shown on standard output and the answers read
    /// from standard input (Paramiko's `auth_interactive_dumb`).
    pub fn auth_interactive_dumb(&self, user: &str) -> Result<AuthOutcome, Error> {
        use std::io::{BufRead, Write};
        self.auth_interactive(user, "", |request| {
            let mut out = std::io::stdout().lock();
            for text in [&request.name, &request.instruction] {
                if !text.is_empty() {
                    let _ = writeln!(out, "{text}");
                }
            }
            request
                .prompts
                .iter()
                .map(|p| {
                    let _ = write!(out, "{}", p.text);
                    let _ = out.flush();
                    let mut line = String::new();
                    let _ = std::io::stdin().lock().read_line(&mut line);
                    line.trim_end_matches(['\r', '\n']).to_owned()
                })
                .collect()
        })
    }

    /// Sends a global request and waits for the reply (Paramiko's `global_request`).
    pub fn global_request(&self, request: &GlobalRequest) -> Result<GlobalReply, Error> {
        self.shared.global_request(request, deadline(self.timeouts.channel))
    }

    /// Public key authentication with a key the agent holds (an identity it listed): the
    /// agent signs, without the session's lock held.
    pub fn auth_agent_key(
        &self,
        user: &str,
        identity: &ssh_proto::agent::Identity,
        agent: &mut crate::AgentConnection,
    ) -> Result<AuthOutcome, Error> {
        let key = identity.public_key().map_err(|e| Error::Io(std::io::Error::other(format!("agent key: {e}"))))?;
        let certificate = identity.certificate().map(Box::new);
        self.shared.lock().conn.auth_publickey(user, Identity::External { key, certificate })?;
        let mut sign =
            |key: &PublicKey, algorithm: HostKeyAlgorithm, data: &[u8]| agent.sign_for_auth(key, algorithm, data).ok();
        self.auth_outcome(Answers { prompts: None, signer: Some(&mut sign) })
    }

    /// Opens a session channel (for exec, shell or a subsystem).
    pub fn open_session(&self) -> Result<Channel, Error> {
        self.open_channel(&ChannelKind::Session)
    }

    /// Opens a channel of any type and waits for the server's answer.
    pub fn open_channel(&self, kind: &ChannelKind) -> Result<Channel, Error> {
        self.shared.open_channel(kind, deadline(self.timeouts.channel))
    }

    /// Opens a `direct-tcpip` channel to `host:port` as seen from the server (what `-L`
    /// uses); `originator` is the address the connection came from.
    pub fn open_direct_tcpip(
        &self,
        host: &str,
        port: u16,
        originator: &str,
        originator_port: u16,
    ) -> Result<Channel, Error> {
        self.open_channel(&ChannelKind::DirectTcpip {
            host: host.to_owned(),
            port: u32::from(port),
            originator: originator.to_owned(),
            originator_port: u32::from(originator_port),
        })
    }

    /// Asks the server to listen on `address:port` (`ssh -R`; port 0 lets it choose) and
    /// returns the port it listens on. Each connection it accepts arrives as a channel,
    /// handed with its origin to `handler` in a thread of its own.
    pub fn request_port_forward(
        &self,
        address: &str,
        port: u32,
        handler: impl Fn(Channel, Forwarded) + Send + Sync + 'static,
    ) -> Result<u32, Error> {
        self.acceptor.start(&self.shared)?;
        let handler: ForwardHandler = Arc::new(handler);
        // A port asked for by number is routed before the server can use it.
        if port != 0 {
            self.acceptor.add_forward(address, port, Arc::clone(&handler));
        }
        let request = GlobalRequest::TcpipForward { address: address.to_owned(), port };
        let reply = self.shared.global_request(&request, deadline(self.timeouts.channel));
        let Ok(GlobalReply::Success { bound_port, .. }) = reply else {
            self.acceptor.remove_forward(address, port);
            reply?;
            return Err(Error::RequestRefused(format!("tcpip-forward {address}:{port}")));
        };
        let bound = bound_port.unwrap_or(port);
        self.acceptor.add_forward(address, bound, handler);
        Ok(bound)
    }

    /// Like [`Session::request_port_forward`] without a handler (Paramiko's
    /// `request_port_forward(address, port)`): the connections wait for
    /// [`Session::accept`].
    pub fn request_port_forward_queued(&self, address: &str, port: u32) -> Result<u32, Error> {
        let queue = self.acceptor.queue_handler();
        self.request_port_forward(address, port, move |channel, from| queue(channel, from))
    }

    /// The next connection of a forward requested with
    /// [`Session::request_port_forward_queued`], waiting at most `timeout` (Paramiko's
    /// `accept`); `None` when none arrived in time.
    pub fn accept(&self, timeout: Option<Duration>) -> Option<(Channel, Forwarded)> {
        self.acceptor.accept(timeout)
    }

    /// Stops a remote forward: the server stops listening on `address:port` (the port
    /// [`Session::request_port_forward`] returned).
    pub fn cancel_port_forward(&self, address: &str, port: u32) -> Result<(), Error> {
        self.acceptor.remove_forward(address, port);
        let request = GlobalRequest::CancelTcpipForward { address: address.to_owned(), port };
        match self.shared.global_request(&request, deadline(self.timeouts.channel))? {
            GlobalReply::Success { .. } => Ok(()),
            GlobalReply::Failure => Err(Error::RequestRefused(format!("cancel-tcpip-forward {address}:{port}"))),
        }
    }

    /// Accepts the agent channels the server opens on sessions that asked for agent
    /// forwarding ([`Channel::request_agent_forwarding`]), handing each to `handler` in a
    /// thread of its own.
    pub fn set_agent_handler(&self, handler: impl Fn(Channel) + Send + Sync + 'static) -> Result<(), Error> {
        self.acceptor.set_agent(Arc::new(handler));
        self.acceptor.start(&self.shared)
    }

    /// Serves each X11 channel the server opens (after [`Channel::request_x11`]) with
    /// `handler`, in a thread of its own: the channel, and the X client's address and port
    /// on the server. Paramiko's `request_x11(handler=…)`; connect it to the local display.
    pub fn set_x11_handler(&self, handler: impl Fn(Channel, String, u32) + Send + Sync + 'static) -> Result<(), Error> {
        self.acceptor.set_x11(Arc::new(handler));
        self.acceptor.start(&self.shared)
    }

    /// Forwards agent channels to the agent listening on `socket` (usually
    /// `SSH_AUTH_SOCK`), as `ssh -A` does; ask for forwarding on each session with
    /// [`Channel::request_agent_forwarding`].
    pub fn forward_agent(&self, socket: impl Into<std::path::PathBuf>) -> Result<(), Error> {
        let socket = socket.into();
        self.set_agent_handler(move |channel| {
            // No agent there: the closed channel tells the server's client so.
            if let Ok(agent) = std::os::unix::net::UnixStream::connect(&socket) {
                let _ = crate::forward::pump(channel, agent);
            }
        })
    }

    /// Starts a key re-exchange now.
    pub fn rekey(&self) -> Result<(), Error> {
        Ok(self.shared.lock().conn.rekey()?)
    }

    /// Sends an `SSH_MSG_IGNORE` with `data` (traffic padding, keepalive).
    pub fn send_ignore(&self, data: &[u8]) -> Result<(), Error> {
        Ok(self.shared.lock().conn.send_ignore(data)?)
    }

    /// Disconnects (`BY_APPLICATION`) and stops the I/O threads.
    pub fn close(&self) {
        self.shared.close(DisconnectReason::ByApplication, "closed by the application");
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.close();
    }
}
