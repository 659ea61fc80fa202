//! The server role.

use std::sync::Arc;
use std::time::Instant;

use rand_core::CryptoRng;

use crate::api::{channel_api, connection_api};
use crate::auth::server::ServerAuth;
use crate::auth::{AuthMethod, AuthReply, AuthToken};
use crate::config::TransportConfig;
use crate::connection::{ConnectionConfig, ConnectionLayer, GlobalRequest};
use crate::error::{Error, TimeoutKind};
use crate::hostkey::HostKey;
use crate::transport::{Moduli, Received, Side, Timer, Transport};
use crate::wire::msg;
use crate::wire::transport::Service;

pub use crate::auth::server::AuthConfig;

/// Public key signature algorithms announced in `server-sig-algs` by default.
pub const DEFAULT_SERVER_SIG_ALGS: &[&str] = &[
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "rsa-sha2-256",
];

/// Server settings, shared by every connection of a server.
#[derive(Clone, Debug)]
pub struct Config {
    /// Transport settings. `algorithms.host_key` filters which of the host keys' algorithms
    /// are offered.
    pub transport: TransportConfig,
    /// Host keys (at least one).
    pub host_keys: Vec<HostKey>,
    /// Groups for diffie-hellman-group-exchange (Paramiko's `load_server_moduli`; the driver
    /// reads the file and passes [`Moduli::parse`] its text).
    pub moduli: Moduli,
    /// Services clients may request.
    pub services: Vec<String>,
    /// `server-sig-algs` announced to clients (RFC 8308).
    pub server_sig_algs: Vec<String>,
    /// User authentication: methods, `AuthenticationMethods`, banner, limits.
    pub auth: AuthConfig,
    /// Channels, windows, keepalive (`ClientAliveInterval`), idle timeout.
    pub connection: ConnectionConfig,
    /// Announce the host keys after authentication (`hostkeys-00@openssh.com`, for the
    /// client's `UpdateHostKeys`). On by default, as in OpenSSH.
    pub announce_host_keys: bool,
}

impl Config {
    /// Defaults with these host keys.
    pub fn new(host_keys: Vec<HostKey>) -> Self {
        Self {
            transport: TransportConfig::default(),
            host_keys,
            moduli: Moduli::default(),
            services: vec!["ssh-userauth".to_owned()],
            server_sig_algs: DEFAULT_SERVER_SIG_ALGS.iter().map(|s| (*s).to_owned()).collect(),
            auth: AuthConfig::default(),
            connection: ConnectionConfig::default(),
            announce_host_keys: true,
        }
    }
}

/// One server connection: feed it bytes and time, take bytes and events out.
///
/// Drive it exactly like [`client::Connection`](crate::client::Connection). Authentication
/// attempts arrive as [`Event::AuthRequest`](crate::Event::AuthRequest), answered with
/// [`auth_reply`](Self::auth_reply); input waits meanwhile.
pub struct Connection {
    t: Transport,
    /// Shared by every connection of the server.
    config: Arc<Config>,
    accepted_service: Option<String>,
    auth: ServerAuth,
    conn: ConnectionLayer,
}

impl Connection {
    /// A connection for a freshly accepted stream; our identification and KEXINIT are queued.
    pub fn new(config: Arc<Config>, now: Instant, rng: Box<dyn CryptoRng + Send>) -> Result<Self, Error> {
        config.connection.validate(&config.transport.limits)?;
        let mut t = Transport::new(Side::Server(config.clone()), Arc::new(config.transport.clone()), now, rng)?;
        t.set_timer(Timer::Auth, config.auth.timeout.map(|d| now + d));
        Ok(Self {
            t,
            accepted_service: None,
            auth: ServerAuth::new(config.clone()),
            conn: ConnectionLayer::new(config.connection.clone()),
            config,
        })
    }

    connection_api!();
    channel_api!();

    /// The service the client was granted.
    pub fn service(&self) -> Option<&str> {
        self.accepted_service.as_deref()
    }

    /// Answers the pending [`Event::AuthRequest`](crate::Event::AuthRequest). Input that
    /// waited for the answer is processed now.
    pub fn auth_reply(&mut self, token: AuthToken, reply: AuthReply) -> Result<(), Error> {
        if let Err(e) = self.auth.reply(&mut self.t, token, reply) {
            return Err(self.t.fail(e));
        }
        self.after_auth(self.t.now)?;
        self.t.paused = self.input_paused();
        self.process(self.t.now)
    }

    /// Narrows the authentication methods offered on this connection to those of the
    /// configured ones that are in `methods` (Paramiko's `get_allowed_auths(username)`):
    /// failures list only these from now on, requests for others fail without an
    /// [`Event::AuthRequest`](crate::Event::AuthRequest), and accepting a pending request
    /// for another one fails it. The user cannot change after the first request, so call
    /// this when that request's event arrives, before answering it.
    pub fn restrict_auth_methods(&mut self, methods: &[AuthMethod]) {
        self.auth.restrict(methods);
    }

    /// Sends a banner to show before authentication (in addition to the configured one).
    pub fn send_auth_banner(&mut self, text: &str) -> Result<(), Error> {
        self.auth.send_banner(&mut self.t, text)
    }

    /// Whether the client is authenticated.
    pub fn is_authenticated(&self) -> bool {
        self.auth.is_authenticated()
    }

    /// The user being (or that was) authenticated.
    pub fn user(&self) -> Option<&str> {
        self.auth.user()
    }

    /// Starts the connection protocol once authentication has succeeded.
    fn after_auth(&mut self, now: Instant) -> Result<(), Error> {
        if !self.auth.is_authenticated() || self.conn.is_active() {
            return Ok(());
        }
        self.t.set_timer(Timer::Auth, None);
        self.conn.activate(&mut self.t, now);
        if self.config.announce_host_keys {
            let keys = self
                .config
                .host_keys
                .iter()
                .filter_map(|k| k.public_key().to_bytes().ok())
                .map(bytes::Bytes::from)
                .collect();
            self.conn.global_request(&mut self.t, &GlobalRequest::HostKeys { keys }, false).map_err(|e| match e {
                crate::connection::ChannelError::Connection(e) => e,
                _ => Error::ApiMisuse("cannot announce host keys"),
            })?;
        }
        Ok(())
    }

    fn input_paused(&self) -> bool {
        self.auth.is_blocked()
    }

    fn on_timer(&mut self, timer: Timer, now: Instant) -> Result<(), Error> {
        match timer {
            Timer::Auth if !self.auth.is_authenticated() => Err(Error::Timeout(TimeoutKind::Auth)),
            Timer::Keepalive => self.conn.on_keepalive(&mut self.t, now),
            Timer::Idle => self.conn.on_idle(&mut self.t, now),
            _ => Ok(()),
        }
    }

    fn dispatch(&mut self, pkt: Received, now: Instant) -> Result<(), Error> {
        let number = pkt.payload.first().copied().unwrap_or(0);
        match number {
            msg::SERVICE_REQUEST => {
                let s = Service::decode(&pkt.payload, number).map_err(Transport::wire_error(number))?;
                if self.accepted_service.is_some() || !self.config.services.iter().any(|n| n == s.name) {
                    return Err(Error::ServiceNotAvailable(s.name.to_owned()));
                }
                let name = s.name.to_owned();
                self.t.send(|w| Service { name: &name }.encode(msg::SERVICE_ACCEPT, w))?;
                self.accepted_service = Some(name);
                Ok(())
            }
            msg::SERVICE_ACCEPT => {
                Err(Error::UnexpectedMessage { msg: number, expected: "no SERVICE_ACCEPT to a server" })
            }
            n if msg::is_userauth(n) => {
                if self.accepted_service.as_deref() != Some("ssh-userauth") {
                    return Err(Error::UnexpectedMessage {
                        msg: n,
                        expected: "SERVICE_REQUEST before user authentication",
                    });
                }
                self.auth.handle(&mut self.t, n, &pkt.payload)?;
                self.after_auth(now)
            }
            n if msg::is_connection(n) => self.conn.handle(&mut self.t, n, &pkt, now),
            _ => self.t.send_unimplemented(pkt.seq),
        }
    }

    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn transport_mut(&mut self) -> &mut Transport {
        &mut self.t
    }
}
