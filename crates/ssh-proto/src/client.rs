//! The client role.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Instant;
//! use ssh_proto::{client, Event, SeededRng};
//!
//! let config = Arc::new(client::Config::default());
//! let now = Instant::now();
//! let mut conn = client::Connection::new(config, now, Box::new(SeededRng::new(1))).unwrap();
//! // Our identification and KEXINIT are ready to be written to the socket.
//! let hello = conn.poll_transmit().unwrap();
//! assert!(hello.starts_with(b"SSH-2.0-"));
//! assert!(conn.poll_event().is_none());
//! ```

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use rand_core::CryptoRng;

use crate::algorithm::{AlgorithmList, HostKeyAlgorithm};
use crate::api::{channel_api, connection_api};
use crate::auth::SignToken;
use crate::auth::client::{ClientAuth, USERAUTH_SERVICE};
use crate::config::TransportConfig;
use crate::connection::{ChannelError, ConnectionConfig, ConnectionLayer, GlobalRequest, GlobalToken};
use crate::error::Error;
use crate::event::{Event, HostKeyToken};
use crate::hostkey::ServerHostKey;
use crate::transport::{GexSizes, Received, Side, Timer, Transport};
use crate::wire::msg;
use crate::wire::transport::Service;

pub use crate::auth::client::Identity;

/// Client settings.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// Transport settings.
    pub transport: TransportConfig,
    /// Group sizes for diffie-hellman-group-exchange.
    pub gex: GexSizes,
    /// Public key algorithms we sign with in `publickey` authentication, in preference
    /// order (OpenSSH `PubkeyAcceptedAlgorithms`, Paramiko's `disabled_algorithms["pubkeys"]`).
    /// For RSA keys the first one the server lists in `server-sig-algs` is used; without that
    /// list each is tried in turn.
    pub publickey_algorithms: AlgorithmList<HostKeyAlgorithm>,
    /// Channels, windows, keepalive (`ServerAliveInterval`), idle timeout.
    pub connection: ConnectionConfig,
}

/// One client connection: feed it bytes and time, take bytes and events out.
///
/// The drive loop, whatever the event loop:
/// 1. write out [`poll_transmit`](Self::poll_transmit) until `None`;
/// 2. handle every [`poll_event`](Self::poll_event) (answering decisions such as
///    [`Event::HostKey`] with [`accept_host_key`](Self::accept_host_key));
/// 3. wait for input or [`poll_timeout`](Self::poll_timeout), then call
///    [`handle_input`](Self::handle_input) / [`handle_timeout`](Self::handle_timeout) and repeat.
///
/// After the host key is accepted, authenticate with one of the `auth_*` commands (the
/// `ssh-userauth` service is requested automatically) and wait for [`Event::AuthSuccess`] or
/// [`Event::AuthFailure`]; then open channels.
pub struct Connection {
    t: Transport,
    pending_services: VecDeque<String>,
    auth: ClientAuth,
    conn: ConnectionLayer,
}

impl Connection {
    /// A connection that will speak first: its identification line and KEXINIT are queued.
    pub fn new(config: Arc<Config>, now: Instant, rng: Box<dyn CryptoRng + Send>) -> Result<Self, Error> {
        config.connection.validate(&config.transport.limits)?;
        let transport = Arc::new(config.transport.clone());
        let t = Transport::new(Side::Client { gex: config.gex }, transport, now, rng)?;
        Ok(Self {
            t,
            pending_services: VecDeque::new(),
            auth: ClientAuth::new(config.publickey_algorithms.clone()),
            conn: ConnectionLayer::new(config.connection.clone()),
        })
    }

    connection_api!();
    channel_api!();

    /// Trusts the host key of the pending [`Event::HostKey`].
    pub fn accept_host_key(&mut self, token: HostKeyToken) -> Result<(), Error> {
        self.t.accept_host_key(token)?;
        // Input that arrived while the decision was pending is processed now.
        self.process(self.t.now)
    }

    /// Refuses the host key of the pending [`Event::HostKey`]; the connection ends with
    /// `HOST_KEY_NOT_VERIFIABLE`.
    pub fn reject_host_key(&mut self, token: HostKeyToken) -> Result<(), Error> {
        self.t.reject_host_key(token)
    }

    /// The server host key accepted for this connection.
    pub fn server_host_key(&self) -> Option<&ServerHostKey> {
        self.t.host_key.as_ref()
    }

    /// The signature algorithms the server announced in `server-sig-algs`, if it did.
    pub fn server_sig_algs(&self) -> Option<&[String]> {
        self.t.peer_ext.server_sig_algs.as_deref()
    }

    /// Requests a service; answered by [`Event::ServiceAccepted`]. May be called before the
    /// key exchange finishes: the request is queued until then. The `auth_*` commands
    /// request `ssh-userauth` themselves.
    pub fn request_service(&mut self, name: &str) -> Result<(), Error> {
        self.t.send(|w| Service { name }.encode(msg::SERVICE_REQUEST, w))?;
        self.pending_services.push_back(name.to_owned());
        if name == USERAUTH_SERVICE {
            self.auth.note_service_requested();
        }
        Ok(())
    }

    // ---- authentication ------------------------------------------------------------------

    /// Tries the `none` method (it tells which methods the server allows).
    pub fn auth_none(&mut self, user: &str) -> Result<(), Error> {
        self.userauth_service()?;
        self.auth.none(&mut self.t, user)
    }

    /// Tries `password`. [`Event::AuthPasswordChange`] means the server wants a new one.
    /// Like Paramiko's `auth_password`, a server that takes no passwords but offers
    /// keyboard-interactive gets that instead, its lone secret prompt answered with the
    /// password (other prompts arrive as [`Event::AuthPrompts`]); use
    /// [`auth_password_only`](Self::auth_password_only) to prevent it.
    pub fn auth_password(&mut self, user: &str, password: &str) -> Result<(), Error> {
        self.userauth_service()?;
        self.auth.password(&mut self.t, user, password, None, true)
    }

    /// Tries `password` and nothing else.
    pub fn auth_password_only(&mut self, user: &str, password: &str) -> Result<(), Error> {
        self.userauth_service()?;
        self.auth.password(&mut self.t, user, password, None, false)
    }

    /// Answers [`Event::AuthPasswordChange`] with the old and the new password.
    pub fn auth_password_change(&mut self, user: &str, old: &str, new: &str) -> Result<(), Error> {
        self.userauth_service()?;
        self.auth.password(&mut self.t, user, old, Some(new), false)
    }

    /// Tries `publickey`: a query first, then the signature once the server accepts the key
    /// (signed here for a local key; asked for with [`Event::AuthSign`] for an external one).
    pub fn auth_publickey(&mut self, user: &str, identity: Identity) -> Result<(), Error> {
        self.userauth_service()?;
        self.auth.publickey(&mut self.t, user, identity)
    }

    /// Answers [`Event::AuthSign`] with the signature blob (`string alg ‖ string sig`, as an
    /// agent returns it). A signature that does not verify is refused before it is sent.
    pub fn provide_signature(&mut self, token: SignToken, signature: &[u8]) -> Result<(), Error> {
        self.auth.provide_signature(&mut self.t, token, signature)
    }

    /// Answers [`Event::AuthSign`] with a refusal (the agent declined): the attempt fails.
    pub fn signature_failed(&mut self, token: SignToken) -> Result<(), Error> {
        self.auth.signature_failed(&mut self.t, token)
    }

    /// Tries `keyboard-interactive`; prompts arrive as [`Event::AuthPrompts`].
    pub fn auth_keyboard_interactive(&mut self, user: &str, submethods: &str) -> Result<(), Error> {
        self.userauth_service()?;
        self.auth.keyboard_interactive(&mut self.t, user, submethods)
    }

    /// Answers the last [`Event::AuthPrompts`], one answer per prompt.
    pub fn auth_info_response(&mut self, answers: &[&str]) -> Result<(), Error> {
        self.auth.info_response(&mut self.t, answers)
    }

    /// Tries `gssapi-with-mic` with these mechanism OIDs (DER); see [`crate::auth::gss`].
    pub fn auth_gssapi(&mut self, user: &str, mechanisms: &[&[u8]]) -> Result<(), Error> {
        self.userauth_service()?;
        self.auth.gssapi(&mut self.t, user, mechanisms)
    }

    /// Sends a GSS-API context token.
    pub fn gssapi_token(&mut self, token: &[u8]) -> Result<(), Error> {
        self.auth.gssapi_token(&mut self.t, token)
    }

    /// Abandons gssapi-with-mic after a local failure, sending the mechanism's error token
    /// if there is one; another method may be tried right away.
    pub fn gssapi_abort(&mut self, errtok: Option<&[u8]>) -> Result<(), Error> {
        self.auth.gssapi_abort(&mut self.t, errtok)
    }

    /// The data the GSS-API MIC must cover, while a context is being established.
    pub fn gssapi_mic_data(&self) -> Option<Vec<u8>> {
        self.auth.gssapi_mic_data(&self.t)
    }

    /// Ends the GSS-API exchange with a MIC over [`gssapi_mic_data`](Self::gssapi_mic_data),
    /// or with `None` for `EXCHANGE_COMPLETE` (no integrity).
    pub fn gssapi_finish(&mut self, mic: Option<&[u8]>) -> Result<(), Error> {
        self.auth.gssapi_finish(&mut self.t, mic)
    }

    /// Whether user authentication succeeded.
    pub fn is_authenticated(&self) -> bool {
        self.auth.is_authenticated()
    }

    /// The user of the last authentication attempt.
    pub fn user(&self) -> &str {
        self.auth.user()
    }

    // ---- connection extras ---------------------------------------------------------------

    /// Promises the server that no further session channels will be opened
    /// (`no-more-sessions@openssh.com`).
    pub fn no_more_sessions(&mut self) -> Result<(), ChannelError> {
        self.conn.global_request(&mut self.t, &GlobalRequest::NoMoreSessions, false).map(|_| ())
    }

    /// Asks the server to prove possession of host keys it announced
    /// ([`Event::HostKeysAnnounced`]); [`Event::HostKeysProved`] lists those it proved.
    pub fn prove_host_keys(&mut self, keys: &[ssh_key::PublicKey]) -> Result<Option<GlobalToken>, ChannelError> {
        let blobs = keys.iter().filter_map(|k| k.to_bytes().ok()).map(bytes::Bytes::from).collect();
        self.conn.global_request(&mut self.t, &GlobalRequest::HostKeysProve { keys: blobs }, true)
    }

    fn userauth_service(&mut self) -> Result<(), Error> {
        if self.auth.needs_service_request() && !self.auth.is_authenticated() {
            self.request_service(USERAUTH_SERVICE)?;
        }
        Ok(())
    }

    fn input_paused(&self) -> bool {
        false
    }

    fn on_timer(&mut self, timer: Timer, now: Instant) -> Result<(), Error> {
        match timer {
            Timer::Keepalive => self.conn.on_keepalive(&mut self.t, now),
            Timer::Idle => self.conn.on_idle(&mut self.t, now),
            _ => Ok(()),
        }
    }

    fn dispatch(&mut self, pkt: Received, now: Instant) -> Result<(), Error> {
        let number = pkt.payload.first().copied().unwrap_or(0);
        match number {
            msg::SERVICE_ACCEPT => {
                let s = Service::decode(&pkt.payload, number).map_err(Transport::wire_error(number))?;
                if self.pending_services.front().map(String::as_str) != Some(s.name) {
                    return Err(Error::UnexpectedMessage {
                        msg: number,
                        expected: "SERVICE_ACCEPT for a requested service",
                    });
                }
                self.pending_services.pop_front();
                self.t.events.push_back(Event::ServiceAccepted { service: s.name.to_owned() });
                if s.name == USERAUTH_SERVICE {
                    self.auth.service_accepted(&mut self.t)?;
                }
                Ok(())
            }
            msg::SERVICE_REQUEST => {
                Err(Error::UnexpectedMessage { msg: number, expected: "no SERVICE_REQUEST to a client" })
            }
            n if msg::is_userauth(n) => {
                self.auth.handle(&mut self.t, n, &pkt.payload)?;
                if self.auth.is_authenticated() && !self.conn.is_active() {
                    self.conn.activate(&mut self.t, now);
                }
                Ok(())
            }
            n if msg::is_connection(n) => self.conn.handle(&mut self.t, n, &pkt, now),
            // RFC 4253 §11.4.
            _ => self.t.send_unimplemented(pkt.seq),
        }
    }

    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn transport_mut(&mut self) -> &mut Transport {
        &mut self.t
    }
}
