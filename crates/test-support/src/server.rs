//! Our server ([`ssh_proto::server::Connection`]) behind a std::net listener on 127.0.0.1:0,
//! one thread per connection, driven like `ssh-proto/examples/keyscan.rs` drives the client.
//! It lets in whom [`ServerOptions::auth`] allows (nobody by default) and serves them the
//! toy shell of [`crate::toy_shell`].

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use ssh_proto::{DisconnectReason, Event, Initiator, Negotiated, server};

use crate::client::{describe, system_rng};
use crate::toy_shell::{AuthPolicy, ToyShell};

/// How a connection ended, from our server's side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disconnect {
    /// The reason code (sent or received).
    pub reason: DisconnectReason,
    /// The description (sent or received).
    pub description: String,
    /// Who ended it.
    pub initiator: Initiator,
    /// The local error behind it, if any.
    pub error: Option<String>,
}

/// What our server saw on one connection, recorded when the connection ends.
#[derive(Clone, Debug)]
pub struct ConnectionRecord {
    /// The client's address.
    pub peer: SocketAddr,
    /// The client's identification line.
    pub peer_version: Option<String>,
    /// The algorithms of the first key exchange.
    pub negotiated: Option<Negotiated>,
    /// The session identifier.
    pub session_id: Option<Vec<u8>>,
    /// The service granted.
    pub service: Option<String>,
    /// Completed key exchanges.
    pub key_exchanges: u64,
    /// Authentication attempts seen (`user`, method name).
    pub auth_attempts: Vec<(String, String)>,
    /// The user that authenticated.
    pub authenticated: Option<String>,
    /// Commands run in the toy shell.
    pub commands: Vec<String>,
    /// The `Disconnected` event.
    pub disconnect: Option<Disconnect>,
    /// An error returned by the connection or the socket.
    pub error: Option<String>,
}

/// [`TestServer`] settings.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// Longest life of one connection before the server closes it.
    pub connection_timeout: Duration,
    /// Who may log in (default: nobody); those who do get the toy shell.
    pub auth: AuthPolicy,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self { connection_timeout: Duration::from_secs(60), auth: AuthPolicy::default() }
    }
}

#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    next_id: AtomicU64,
    records: Mutex<Vec<ConnectionRecord>>,
    recorded: Condvar,
    streams: Mutex<HashMap<u64, TcpStream>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

/// Our server on a free 127.0.0.1 port. Stops on drop: the accept loop is woken and joined,
/// open connections are shut down and their threads joined (bounded).
pub struct TestServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Starts serving with default [`ServerOptions`].
    pub fn start(config: Arc<server::Config>) -> std::io::Result<Self> {
        Self::start_with(config, ServerOptions::default())
    }

    /// Starts serving.
    pub fn start_with(config: Arc<server::Config>, options: ServerOptions) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        let accept = thread::Builder::new()
            .name(format!("test-server-accept-{}", addr.port()))
            .spawn(move || accept_loop(listener, config, options, s))?;
        Ok(Self { addr, shared, accept: Some(accept) })
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every connection that has ended so far.
    pub fn records(&self) -> Vec<ConnectionRecord> {
        self.shared.records.lock().expect("records lock").clone()
    }

    /// Waits (bounded) until the connection from `peer` has ended, and returns its record.
    pub fn wait_record(&self, peer: SocketAddr, timeout: Duration) -> Option<ConnectionRecord> {
        self.wait_record_where(|r| r.peer == peer, timeout)
    }

    /// Waits (bounded) for a record whose client port is `port`.
    pub fn wait_record_port(&self, port: u16, timeout: Duration) -> Option<ConnectionRecord> {
        self.wait_record_where(|r| r.peer.port() == port, timeout)
    }

    /// Waits (bounded) for the first record matching `pred`.
    pub fn wait_record_where(
        &self,
        pred: impl Fn(&ConnectionRecord) -> bool,
        timeout: Duration,
    ) -> Option<ConnectionRecord> {
        let deadline = Instant::now() + timeout;
        let mut records = self.shared.records.lock().expect("records lock");
        loop {
            if let Some(r) = records.iter().find(|r| pred(r)) {
                return Some(r.clone());
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            records = self.shared.recorded.wait_timeout(records, deadline - now).expect("records lock").0;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept().
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        for s in self.shared.streams.lock().expect("streams lock").values() {
            let _ = s.shutdown(Shutdown::Both);
        }
        let mut handles: Vec<JoinHandle<()>> = self.accept.take().into_iter().collect();
        let deadline = Instant::now() + Duration::from_secs(10);
        // The accept thread may still push workers: join it first.
        join_bounded(&mut handles, deadline);
        let mut workers = std::mem::take(&mut *self.shared.workers.lock().expect("workers lock"));
        join_bounded(&mut workers, deadline);
        if !handles.is_empty() || !workers.is_empty() {
            eprintln!(
                "test-support: TestServer on {}: {} thread(s) did not stop within 10 s; detached",
                self.addr,
                handles.len() + workers.len()
            );
        }
    }
}

fn join_bounded(handles: &mut Vec<JoinHandle<()>>, deadline: Instant) {
    while !handles.is_empty() && Instant::now() < deadline {
        let (done, pending): (Vec<_>, Vec<_>) = handles.drain(..).partition(|h| h.is_finished());
        for h in done {
            let _ = h.join();
        }
        *handles = pending;
        if !handles.is_empty() {
            thread::sleep(Duration::from_millis(5));
        }
    }
}

fn accept_loop(listener: TcpListener, config: Arc<server::Config>, options: ServerOptions, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let Ok(peer) = stream.peer_addr() else { continue };
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        if let Ok(clone) = stream.try_clone() {
            shared.streams.lock().expect("streams lock").insert(id, clone);
        }
        let (config, s) = (config.clone(), shared.clone());
        let timeout = options.connection_timeout;
        let policy = options.auth.clone();
        let worker = thread::Builder::new().name(format!("test-server-conn-{peer}")).spawn(move || {
            let record = serve(stream, peer, config, timeout, policy);
            s.streams.lock().expect("streams lock").remove(&id);
            s.records.lock().expect("records lock").push(record);
            s.recorded.notify_all();
        });
        let mut workers = shared.workers.lock().expect("workers lock");
        // Reap finished workers so a long matrix does not accumulate handles.
        let (done, pending): (Vec<_>, Vec<_>) = workers.drain(..).partition(|h| h.is_finished());
        for h in done {
            let _ = h.join();
        }
        *workers = pending;
        if let Ok(w) = worker {
            workers.push(w);
        }
    }
}

/// One connection: after every input or timeout, drain events, then write everything
/// `poll_transmit` has, then read (with a read timeout derived from `poll_timeout`).
fn serve(
    mut sock: TcpStream,
    peer: SocketAddr,
    config: Arc<server::Config>,
    limit: Duration,
    policy: AuthPolicy,
) -> ConnectionRecord {
    let mut rec = ConnectionRecord {
        peer,
        peer_version: None,
        negotiated: None,
        session_id: None,
        service: None,
        key_exchanges: 0,
        auth_attempts: Vec::new(),
        authenticated: None,
        commands: Vec::new(),
        disconnect: None,
        error: None,
    };
    let mut shell = ToyShell::new(policy);
    let deadline = Instant::now() + limit;
    let _ = sock.set_nodelay(true);
    let mut conn = match server::Connection::new(config, Instant::now(), system_rng()) {
        Ok(c) => c,
        Err(e) => {
            rec.error = Some(format!("server config: {}", describe(&e)));
            return rec;
        }
    };
    let mut buf = vec![0u8; 64 * 1024];
    let mut done = false;
    loop {
        while let Some(ev) = conn.poll_event() {
            match ev {
                Event::KeysExchanged { negotiated, initial: true } => rec.negotiated = Some(negotiated),
                Event::AuthRequest { token, user, attempt, .. } => {
                    rec.auth_attempts.push((user, attempt.method().name().to_owned()));
                    if let Err(e) = conn.auth_reply(token, shell.auth(&attempt)) {
                        rec.error.get_or_insert(describe(&e));
                    }
                }
                Event::Disconnected { reason, description, initiator, error } => {
                    rec.disconnect =
                        Some(Disconnect { reason, description, initiator, error: error.as_ref().map(describe) });
                }
                other => {
                    if let Err(e) = shell.event(&mut conn, &other) {
                        rec.error.get_or_insert(e);
                    }
                }
            }
        }
        while let Some(out) = conn.poll_transmit() {
            if let Err(e) = sock.write_all(&out) {
                rec.error.get_or_insert(format!("write: {e}"));
                done = true;
                break;
            }
        }
        if done || conn.is_closed() {
            break;
        }
        let now = Instant::now();
        if now >= deadline {
            rec.error.get_or_insert(format!("connection still open after {limit:?}"));
            conn.close(DisconnectReason::ByApplication, "test server connection timeout");
            done = true;
            continue;
        }
        let wake = conn.poll_timeout().map_or(deadline, |t| t.min(deadline));
        let _ = sock.set_read_timeout(Some(wake.saturating_duration_since(now).max(Duration::from_millis(1))));
        let r = match sock.read(&mut buf) {
            Ok(0) => {
                done = true;
                conn.handle_eof()
            }
            Ok(n) => conn.handle_input(&buf[..n], Instant::now()),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                conn.handle_timeout(Instant::now())
            }
            Err(e) => {
                rec.error.get_or_insert(format!("read: {e}"));
                done = true;
                conn.handle_eof()
            }
        };
        if let Err(e) = r {
            rec.error.get_or_insert(describe(&e));
            done = true;
        }
    }
    rec.peer_version = conn.peer_version().map(|v| v.line.clone());
    rec.session_id = conn.session_id().map(<[u8]>::to_vec);
    rec.service = conn.service().map(str::to_owned);
    rec.key_exchanges = conn.key_exchanges();
    rec.authenticated = shell.authenticated.take();
    rec.commands = std::mem::take(&mut shell.commands);
    let _ = sock.shutdown(Shutdown::Both);
    rec
}
