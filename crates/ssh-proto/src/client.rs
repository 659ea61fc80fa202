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

use crate::api::connection_api;
use crate::config::TransportConfig;
use crate::error::Error;
use crate::event::{Event, HostKeyToken};
use crate::hostkey::ServerHostKey;
use crate::transport::{GexSizes, Received, Side, Transport};
use crate::wire::msg;
use crate::wire::transport::Service;

/// Client settings.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// Transport settings.
    pub transport: TransportConfig,
    /// Group sizes for diffie-hellman-group-exchange.
    pub gex: GexSizes,
}

/// One client connection: feed it bytes and time, take bytes and events out.
///
/// The drive loop, whatever the event loop:
/// 1. write out [`poll_transmit`](Self::poll_transmit) until `None`;
/// 2. handle every [`poll_event`](Self::poll_event) (answering decisions such as
///    [`Event::HostKey`] with [`accept_host_key`](Self::accept_host_key));
/// 3. wait for input or [`poll_timeout`](Self::poll_timeout), then call
///    [`handle_input`](Self::handle_input) / [`handle_timeout`](Self::handle_timeout) and repeat.
pub struct Connection {
    t: Transport,
    pending_services: VecDeque<String>,
}

impl Connection {
    /// A connection that will speak first: its identification line and KEXINIT are queued.
    pub fn new(config: Arc<Config>, now: Instant, rng: Box<dyn CryptoRng + Send>) -> Result<Self, Error> {
        let transport = Arc::new(config.transport.clone());
        let t = Transport::new(Side::Client { gex: config.gex }, transport, now, rng)?;
        Ok(Self { t, pending_services: VecDeque::new() })
    }

    connection_api!();

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

    /// Requests a service (`ssh-userauth`); answered by [`Event::ServiceAccepted`]. May be
    /// called before the key exchange finishes: the request is queued until then.
    pub fn request_service(&mut self, name: &str) -> Result<(), Error> {
        self.t.send(|w| Service { name }.encode(msg::SERVICE_REQUEST, w))?;
        self.pending_services.push_back(name.to_owned());
        Ok(())
    }

    fn dispatch(&mut self, pkt: Received, _now: Instant) -> Result<(), Error> {
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
                Ok(())
            }
            msg::SERVICE_REQUEST => {
                Err(Error::UnexpectedMessage { msg: number, expected: "no SERVICE_REQUEST to a client" })
            }
            // No upper layer is attached yet: RFC 4253 §11.4.
            _ => self.t.send_unimplemented(pkt.seq),
        }
    }

    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn transport_mut(&mut self) -> &mut Transport {
        &mut self.t
    }
}
