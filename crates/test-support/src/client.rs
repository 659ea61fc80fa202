//! Our client over a real TCP connection: key exchange plus an `ssh-userauth` service request,
//! driven exactly like `ssh-proto/examples/keyscan.rs`.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ssh_proto::{DisconnectReason, Error, Event, Negotiated, ServerHostKey, client};

/// The randomness for real connections: the operating system's.
pub fn system_rng() -> Box<dyn rand_core::CryptoRng + Send> {
    Box::new(rand_core::UnwrapErr(getrandom::SysRng))
}

/// What a successful [`client_handshake`] saw.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The algorithms of the (first) key exchange.
    pub negotiated: Negotiated,
    /// The server's host key (or certificate), as verified.
    pub host_key: ServerHostKey,
    /// The session identifier (first exchange hash).
    pub session_id: Vec<u8>,
    /// The server's identification line.
    pub peer_version: String,
    /// Our end of the TCP connection.
    pub local_addr: SocketAddr,
    /// Connect to service accept.
    pub elapsed: Duration,
}

/// Connects to `addr`, completes the key exchange (accepting any host key) and an
/// `ssh-userauth` service request, then closes with `SSH_MSG_DISCONNECT`. Fails with a
/// readable reason (including the peer's disconnect message) on any error or after `timeout`.
pub fn client_handshake(
    addr: SocketAddr,
    config: impl Into<Arc<client::Config>>,
    timeout: Duration,
) -> Result<Outcome, String> {
    let start = Instant::now();
    let deadline = start + timeout;
    let mut sock = TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("connect {addr}: {e}"))?;
    sock.set_nodelay(true).map_err(|e| format!("TCP_NODELAY: {e}"))?;
    let local_addr = sock.local_addr().map_err(|e| e.to_string())?;
    let mut conn =
        client::Connection::new(config.into(), Instant::now(), system_rng()).map_err(|e| format!("config: {e}"))?;
    conn.request_service("ssh-userauth").map_err(|e| e.to_string())?;
    let mut host_key = None;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        while let Some(ev) = conn.poll_event() {
            match ev {
                Event::HostKey { token, key } => {
                    host_key = Some(*key);
                    conn.accept_host_key(token).map_err(|e| describe(&e))?;
                }
                Event::ServiceAccepted { .. } => {
                    let outcome = Outcome {
                        negotiated: conn.negotiated().ok_or("service accepted before a key exchange")?,
                        host_key: host_key.ok_or("service accepted without a host key")?,
                        session_id: conn.session_id().ok_or("no session id")?.to_vec(),
                        peer_version: conn.peer_version().map(|v| v.line.clone()).unwrap_or_default(),
                        local_addr,
                        elapsed: start.elapsed(),
                    };
                    conn.close(DisconnectReason::ByApplication, "interop test done");
                    while let Some(out) = conn.poll_transmit() {
                        let _ = sock.write_all(&out);
                    }
                    let _ = sock.shutdown(std::net::Shutdown::Both);
                    return Ok(outcome);
                }
                Event::Disconnected { reason, description, initiator, error } => {
                    flush(&mut conn, &mut sock);
                    return Err(match error {
                        Some(e) => format!("{}; disconnected ({reason}, {initiator:?}): {description}", describe(&e)),
                        None => format!("disconnected by {initiator:?} ({reason}): {description}"),
                    });
                }
                _ => {}
            }
        }
        if !exchange(&mut conn, &mut sock, &mut buf, deadline)? {
            return Err(format!("timeout after {timeout:?} (key exchanges done: {})", conn.key_exchanges()));
        }
    }
}

/// One round of a client's I/O loop: writes what the connection has queued, waits for input
/// (or the connection's next deadline) until `deadline`, and feeds what came. `Ok(false)`
/// once `deadline` has passed; an error names the cause, with the peer's disconnect
/// message when there was one.
pub(crate) fn exchange(
    conn: &mut client::Connection,
    sock: &mut TcpStream,
    buf: &mut [u8],
    deadline: Instant,
) -> Result<bool, String> {
    while let Some(out) = conn.poll_transmit() {
        sock.write_all(&out).map_err(|e| format!("write: {e}"))?;
    }
    let now = Instant::now();
    if now >= deadline {
        return Ok(false);
    }
    let wake = conn.poll_timeout().map_or(deadline, |t| t.min(deadline));
    sock.set_read_timeout(Some(wake.saturating_duration_since(now).max(Duration::from_millis(1))))
        .map_err(|e| e.to_string())?;
    let r = match sock.read(buf) {
        Ok(0) => conn.handle_eof(),
        Ok(n) => conn.handle_input(buf.get(..n).unwrap_or_default(), Instant::now()),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            conn.handle_timeout(Instant::now())
        }
        Err(e) => return Err(format!("read: {e}")),
    };
    if let Err(e) = r {
        // The Disconnected event carries the peer's description; prefer it.
        let mut msg = describe(&e);
        while let Some(ev) = conn.poll_event() {
            if let Event::Disconnected { reason, description, initiator, .. } = ev {
                msg = format!("{msg}; disconnected ({reason}, {initiator:?}): {description}");
            }
        }
        flush(conn, sock);
        return Err(msg);
    }
    Ok(true)
}

fn flush(conn: &mut client::Connection, sock: &mut TcpStream) {
    while let Some(out) = conn.poll_transmit() {
        let _ = sock.write_all(&out);
    }
}

pub(crate) fn describe(e: &Error) -> String {
    match e {
        Error::NoCommonAlgorithm { kind, ours, theirs } => {
            format!("no common {kind} algorithm: ours [{}], theirs [{}]", ours.join(","), theirs.join(","))
        }
        other => format!("{other} ({other:?})"),
    }
}
