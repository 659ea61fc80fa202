//! An in-memory pair of connections for tests, fuzzing, benchmarks and demos: a client and
//! a server wired back to back, with injected time and deterministic randomness. Nothing
//! here touches a socket or a clock.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Instant;
//! use ssh_proto::testing::Pair;
//! use ssh_proto::{client, server, HostKey, SeededRng};
//!
//! let key = HostKey::generate_ed25519(&mut SeededRng::new(9));
//! let mut pair = Pair::new(client::Config::default(), server::Config::new(vec![key]), Instant::now(), 1).unwrap();
//! pair.drive().unwrap();
//! assert!(pair.client.is_established() && pair.server.is_established());
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::auth::{AuthAttempt, AuthReply};
use crate::event::Event;
use crate::rng::SeededRng;
use crate::{Error, client, server};

/// Answers the server's authentication requests in the pair: `(user, attempt) -> reply`.
pub type AuthPolicy = Box<dyn FnMut(&str, &AuthAttempt) -> AuthReply + Send>;

/// Which way bytes travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Client to server.
    ToServer,
    /// Server to client.
    ToClient,
}

/// A hook that sees (and may rewrite) every chunk in flight.
pub type Tamper = Box<dyn FnMut(Direction, &mut Vec<u8>) + Send>;

/// A client and a server connected in memory.
pub struct Pair {
    /// The client end.
    pub client: client::Connection,
    /// The server end.
    pub server: server::Connection,
    /// The shared simulated clock.
    pub now: Instant,
    /// Every event the client raised, in order.
    pub client_events: Vec<Event>,
    /// Every event the server raised, in order.
    pub server_events: Vec<Event>,
    /// Answer host key checks with accept (the default) or reject.
    pub accept_host_keys: bool,
    /// Delivery chunk sizes, cycled (empty: whole buffers).
    pub chunks: Vec<usize>,
    chunk_pos: usize,
    /// Rewrites bytes in flight.
    pub tamper: Option<Tamper>,
    /// Answers [`Event::AuthRequest`] on the server (left in `server_events` too); `None`
    /// leaves them for the test to answer.
    pub auth_policy: Option<AuthPolicy>,
    /// Bytes moved in each direction.
    pub moved: (u64, u64),
}

impl Pair {
    /// Creates both ends; `seed` fixes all randomness (the server uses `seed + 1`).
    pub fn new(
        client_config: impl Into<Arc<client::Config>>,
        server_config: impl Into<Arc<server::Config>>,
        now: Instant,
        seed: u64,
    ) -> Result<Self, Error> {
        let client = client::Connection::new(client_config.into(), now, Box::new(SeededRng::new(seed)))?;
        let server =
            server::Connection::new(server_config.into(), now, Box::new(SeededRng::new(seed.wrapping_add(1))))?;
        Ok(Self {
            client,
            server,
            now,
            client_events: Vec::new(),
            server_events: Vec::new(),
            accept_host_keys: true,
            chunks: Vec::new(),
            chunk_pos: 0,
            tamper: None,
            auth_policy: None,
            moved: (0, 0),
        })
    }

    /// A pair that has finished the handshake and authenticated `user` with `none` (the
    /// server accepts it): the connection protocol is open on both ends.
    pub fn authenticated(
        client_config: impl Into<Arc<client::Config>>,
        server_config: impl Into<Arc<server::Config>>,
        now: Instant,
        seed: u64,
    ) -> Result<Self, Error> {
        let mut p = Self::new(client_config, server_config, now, seed)?;
        p.auth_policy = Some(Box::new(|_, _| AuthReply::Accept));
        p.client.auth_none("user")?;
        p.drive()?;
        if !(p.client.is_authenticated() && p.server.is_authenticated()) {
            return Err(Error::ApiMisuse("the pair did not authenticate"));
        }
        Ok(p)
    }

    fn deliver(&mut self, dir: Direction, bytes: Bytes) -> Result<(), Error> {
        let mut data = bytes.to_vec();
        if let Some(t) = &mut self.tamper {
            t(dir, &mut data);
        }
        match dir {
            Direction::ToServer => self.moved.0 += data.len() as u64,
            Direction::ToClient => self.moved.1 += data.len() as u64,
        }
        let mut pos = 0;
        while pos < data.len() {
            let n = if self.chunks.is_empty() {
                data.len() - pos
            } else {
                let n = self.chunks.get(self.chunk_pos % self.chunks.len()).copied().unwrap_or(1).max(1);
                self.chunk_pos += 1;
                n.min(data.len() - pos)
            };
            let piece = data.get(pos..pos + n).unwrap_or_default();
            match dir {
                Direction::ToServer => self.server.handle_input(piece, self.now)?,
                Direction::ToClient => self.client.handle_input(piece, self.now)?,
            }
            pos += n;
        }
        Ok(())
    }

    /// One round: move everything queued in both directions and collect events (answering
    /// host key checks). Returns whether anything moved.
    /// Events are collected even when delivery fails, so the final `Disconnected` of both
    /// ends is always recorded.
    pub fn step(&mut self) -> Result<bool, Error> {
        let moved = self.move_bytes();
        let events = self.collect_events();
        let (moved, events) = (moved?, events?);
        Ok(moved || events)
    }

    fn move_bytes(&mut self) -> Result<bool, Error> {
        let mut progressed = false;
        while let Some(b) = self.client.poll_transmit() {
            progressed = true;
            self.deliver(Direction::ToServer, b)?;
        }
        while let Some(b) = self.server.poll_transmit() {
            progressed = true;
            self.deliver(Direction::ToClient, b)?;
        }
        Ok(progressed)
    }

    fn collect_events(&mut self) -> Result<bool, Error> {
        let mut progressed = false;
        while let Some(ev) = self.client.poll_event() {
            progressed = true;
            if let Event::HostKey { token, .. } = &ev {
                if self.accept_host_keys {
                    self.client.accept_host_key(*token)?;
                } else {
                    let _ = self.client.reject_host_key(*token);
                }
            }
            self.client_events.push(ev);
        }
        while let Some(ev) = self.server.poll_event() {
            progressed = true;
            let answer = self.answer(&ev);
            self.server_events.push(ev);
            if let Some((token, reply)) = answer {
                self.server.auth_reply(token, reply)?;
            }
        }
        // A DISCONNECT queued by a failing end still reaches the other end.
        if self.client.is_closed() || self.server.is_closed() {
            let _ = self.move_bytes();
            while let Some(ev) = self.client.poll_event() {
                self.client_events.push(ev);
            }
            while let Some(ev) = self.server.poll_event() {
                self.server_events.push(ev);
            }
        }
        Ok(progressed)
    }

    /// The auth policy's answer to a server event, if it is an authentication request.
    fn answer(&mut self, ev: &Event) -> Option<(crate::auth::AuthToken, AuthReply)> {
        match (ev, &mut self.auth_policy) {
            (Event::AuthRequest { token, user, attempt, .. }, Some(policy)) => Some((*token, policy(user, attempt))),
            _ => None,
        }
    }

    /// Steps until nothing moves (at most 10 000 rounds).
    pub fn drive(&mut self) -> Result<(), Error> {
        for _ in 0..10_000 {
            if !self.step()? {
                return Ok(());
            }
        }
        Err(Error::ApiMisuse("pair did not go idle within 10 000 rounds"))
    }

    /// Advances the clock, fires due timers on both ends, and drives. Events are collected
    /// even when a timer ends a connection (its error is returned after the drive).
    pub fn advance(&mut self, d: Duration) -> Result<(), Error> {
        self.now += d;
        let mut first = Ok(());
        if self.client.poll_timeout().is_some_and(|t| t <= self.now) {
            first = self.client.handle_timeout(self.now);
        }
        if self.server.poll_timeout().is_some_and(|t| t <= self.now) {
            let r = self.server.handle_timeout(self.now);
            first = first.and(r);
        }
        let driven = self.drive();
        first.and(driven)
    }

    /// Moves the client's output to the server only, answering the server's events as
    /// [`step`](Self::step) does, and drops what the server sends back: for feeding a server
    /// requests the client state machine would not make.
    pub fn client_to_server_only(&mut self) -> Result<(), Error> {
        while let Some(b) = self.client.poll_transmit() {
            self.deliver(Direction::ToServer, b)?;
        }
        for _ in 0..10_000 {
            while self.server.poll_transmit().is_some() {}
            let mut progressed = false;
            while let Some(ev) = self.server.poll_event() {
                progressed = true;
                let answer = self.answer(&ev);
                self.server_events.push(ev);
                if let Some((token, reply)) = answer
                    && let Err(e) = self.server.auth_reply(token, reply)
                {
                    self.server_events.extend(std::iter::from_fn(|| self.server.poll_event()));
                    return Err(e);
                }
            }
            if !progressed {
                break;
            }
        }
        Ok(())
    }
}
