//! A sans-IO SSH-2 protocol core: bytes and commands in, bytes and events out.
//!
//! `ssh-proto` has no sockets, threads, clocks, files or environment access. A driver (the
//! `ssh-blocking` or `ssh-tokio` crates, or your own event loop) owns the stream and the
//! clock and drives a [`client::Connection`] or [`server::Connection`] with four kinds of
//! call: [`handle_input`](client::Connection::handle_input),
//! [`handle_timeout`](client::Connection::handle_timeout),
//! [`poll_transmit`](client::Connection::poll_transmit) /
//! [`poll_event`](client::Connection::poll_event) /
//! [`poll_timeout`](client::Connection::poll_timeout), and commands such as
//! [`accept_host_key`](client::Connection::accept_host_key).
//!
//! A complete in-memory handshake, driven by hand:
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Instant;
//! use ssh_proto::{client, server, Event, HostKey, SeededRng};
//!
//! let now = Instant::now();
//! let host_key = HostKey::generate_ed25519(&mut SeededRng::new(1));
//! let mut s = server::Connection::new(Arc::new(server::Config::new(vec![host_key])), now, Box::new(SeededRng::new(2))).unwrap();
//! let mut c = client::Connection::new(Arc::new(client::Config::default()), now, Box::new(SeededRng::new(3))).unwrap();
//! c.request_service("ssh-userauth").unwrap();
//! let mut accepted = false;
//! for _ in 0..20 {
//!     while let Some(bytes) = c.poll_transmit() { s.handle_input(&bytes, now).unwrap(); }
//!     while let Some(bytes) = s.poll_transmit() { c.handle_input(&bytes, now).unwrap(); }
//!     while let Some(ev) = c.poll_event() {
//!         match ev {
//!             // A real client checks known_hosts here.
//!             Event::HostKey { token, .. } => c.accept_host_key(token).unwrap(),
//!             Event::ServiceAccepted { service } => accepted = service == "ssh-userauth",
//!             _ => {}
//!         }
//!     }
//!     while s.poll_event().is_some() {}
//! }
//! assert!(accepted);
//! ```

// Peer input must never panic: outside tests, no unwrap/expect/panic/unchecked indexing.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

pub mod agent;
pub mod algorithm;
mod api;
pub mod auth;
pub mod client;
mod config;
pub mod connection;
pub mod driver;
mod error;
mod event;
#[cfg(feature = "fuzzing")]
pub mod fuzz;
pub mod hostkey;
pub mod keys;
pub mod known_hosts;
pub mod pattern;
mod rng;
pub mod server;
pub mod ssh_config;
pub mod testing;
pub mod transport;
pub mod wire;

pub use config::{DEFAULT_SOFTWARE_VERSION, Limits, RekeyPolicy, TransportConfig};
pub use error::{DisconnectReason, Error, KexError, Limit, PacketError, TimeoutKind, VersionError};
pub use event::{Event, HostKeyToken, Initiator};
pub use hostkey::{HostKey, ServerHostKey};
pub use keys::{KeyPair, SigningError};
pub use rng::{BufferedRng, SeededRng};
pub use transport::{GexSizes, Moduli, Negotiated};

/// Re-exported so drivers and applications use the same key types.
pub use ssh_key;
