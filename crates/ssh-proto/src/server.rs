//! The server role.

use std::sync::Arc;
use std::time::Instant;

use rand_core::CryptoRng;

use crate::api::connection_api;
use crate::config::TransportConfig;
use crate::error::{DisconnectReason, Error};
use crate::hostkey::HostKey;
use crate::transport::{Moduli, Received, Side, Transport};
use crate::wire::msg;
use crate::wire::transport::Service;

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
        }
    }
}

/// One server connection: feed it bytes and time, take bytes and events out.
///
/// Drive it exactly like [`client::Connection`](crate::client::Connection).
pub struct Connection {
    t: Transport,
    services: Arc<[String]>,
    accepted_service: Option<String>,
}

impl Connection {
    /// A connection for a freshly accepted stream; our identification and KEXINIT are queued.
    pub fn new(config: Arc<Config>, now: Instant, rng: Box<dyn CryptoRng + Send>) -> Result<Self, Error> {
        let side = Side::Server {
            host_keys: config.host_keys.clone().into(),
            moduli: Arc::new(config.moduli.clone()),
            server_sig_algs: config.server_sig_algs.clone().into(),
        };
        let t = Transport::new(side, Arc::new(config.transport.clone()), now, rng)?;
        Ok(Self { t, services: config.services.clone().into(), accepted_service: None })
    }

    connection_api!();

    /// The service the client was granted.
    pub fn service(&self) -> Option<&str> {
        self.accepted_service.as_deref()
    }

    fn dispatch(&mut self, pkt: Received, _now: Instant) -> Result<(), Error> {
        let number = pkt.payload.first().copied().unwrap_or(0);
        match number {
            msg::SERVICE_REQUEST => {
                let s = Service::decode(&pkt.payload, number).map_err(Transport::wire_error(number))?;
                if self.accepted_service.is_some() || !self.services.iter().any(|n| n == s.name) {
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
            // User authentication is not part of this build yet: refuse it cleanly.
            msg::USERAUTH_FIRST => {
                self.t.close(DisconnectReason::NoMoreAuthMethodsAvailable, "user authentication is not available");
                Ok(())
            }
            _ => self.t.send_unimplemented(pkt.seq),
        }
    }

    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn transport_mut(&mut self) -> &mut Transport {
        &mut self.t
    }
}
