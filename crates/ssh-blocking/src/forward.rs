//! Forwarding: moving bytes between a TCP connection or Unix socket and a channel (`-L`
//! and `-R` on the client, their listeners and targets on the server, the forwarded agent). Only copying lives here; which channels
//! exist and what they may carry is the core's business.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use crate::channel::Channel;
use crate::{Error, Session};

/// A byte stream [`pump`] can copy to and from a channel: a TCP connection or a Unix
/// socket (the forwarded agent).
pub trait Duplex: Read + Write + Send + Sized + 'static {
    /// A second handle on the same stream, for the other direction.
    fn try_clone(&self) -> io::Result<Self>;
    /// Ends our sending half, keeping the receiving one (half-close).
    fn shutdown_write(&self) -> io::Result<()>;
    /// A descriptor of the stream that channel data can be written into directly (see
    /// [`crate::Reader::copy_to`]); `None` copies through a buffer.
    #[cfg(unix)]
    fn sink(&self) -> Option<io::Result<std::os::fd::OwnedFd>> {
        None
    }
}

impl Duplex for TcpStream {
    fn try_clone(&self) -> io::Result<Self> {
        let s = TcpStream::try_clone(self)?;
        s.set_nodelay(true)?;
        Ok(s)
    }
    fn shutdown_write(&self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
    #[cfg(unix)]
    fn sink(&self) -> Option<io::Result<std::os::fd::OwnedFd>> {
        Some(TcpStream::try_clone(self).map(Into::into))
    }
}

impl Duplex for UnixStream {
    fn try_clone(&self) -> io::Result<Self> {
        UnixStream::try_clone(self)
    }
    fn shutdown_write(&self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
    #[cfg(unix)]
    fn sink(&self) -> Option<io::Result<std::os::fd::OwnedFd>> {
        Some(UnixStream::try_clone(self).map(Into::into))
    }
}

/// Copies `stream` → channel and channel → `stream` until both directions end, then closes
/// the channel. EOF is passed on in each direction separately (half-close).
pub fn pump(mut channel: Channel, stream: impl Duplex) -> io::Result<()> {
    let mut from_stream = stream.try_clone()?;
    let mut stdin = channel.stdin();
    let upstream = thread::Builder::new().name("ssh-forward-up".into()).spawn(move || {
        let r = io::copy(&mut from_stream, &mut stdin);
        let _ = stdin.send_eof();
        r
    })?;
    let mut to_stream = stream;
    let down = copy_out(&mut channel, &mut to_stream);
    let _ = to_stream.shutdown_write();
    let up = upstream.join().unwrap_or_else(|_| Err(io::Error::other("forwarding thread panicked")));
    drop(channel);
    down.and(up.map(|_| ()))
}

fn copy_out(channel: &mut Channel, out: &mut impl Duplex) -> io::Result<()> {
    // The connection's reader thread writes into the stream itself while it keeps up.
    #[cfg(unix)]
    if let Some(sink) = out.sink() {
        return channel.reader().copy_to(sink?).map(|_| ());
    }
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = channel.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        out.write_all(buf.get(..n).unwrap_or_default())?;
    }
}

/// A listening socket whose connections each go to `serve` in a thread of their own.
/// Dropping it stops accepting.
pub(crate) struct Listening {
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    accepting: Option<thread::JoinHandle<()>>,
}

impl Listening {
    pub(crate) fn start(listener: TcpListener, serve: impl Fn(TcpStream) + Send + Sync + 'static) -> io::Result<Self> {
        let addr = listener.local_addr()?;
        let stopping = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&stopping);
        let serve = Arc::new(serve);
        let accepting = thread::Builder::new().name("ssh-forward-accept".into()).spawn(move || {
            for tcp in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(tcp) = tcp else { continue };
                let serve = Arc::clone(&serve);
                let _ = thread::Builder::new().name("ssh-forward".into()).spawn(move || serve(tcp));
            }
        })?;
        Ok(Self { addr, stopping, accepting: Some(accepting) })
    }

    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wake the blocked accept (an unspecified bind address is reached over loopback).
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(match wake {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        let woken = TcpStream::connect_timeout(&wake, std::time::Duration::from_secs(5)).is_ok();
        // The socket is closed once the accepting thread is gone: a cancelled forward
        // stops listening before its reply goes out.
        if let (true, Some(t)) = (woken, self.accepting.take()) {
            let _ = t.join();
        }
    }
}

/// The address and port a TCP connection came from, as forwarding channels name them.
pub(crate) fn origin(tcp: &TcpStream) -> (String, u16) {
    tcp.peer_addr().map_or(("127.0.0.1".to_owned(), 0), |p| (p.ip().to_string(), p.port()))
}

/// A local forward (`ssh -L`): connections to the bound address are carried to
/// `host:port` as seen from the server. Dropping it stops accepting.
pub struct LocalForward {
    listening: Listening,
}

impl LocalForward {
    /// Listens on `bind` and forwards each connection through `session` to `host:port`.
    pub fn start(session: Arc<Session>, bind: SocketAddr, host: &str, port: u16) -> io::Result<Self> {
        let host = host.to_owned();
        let listening = Listening::start(TcpListener::bind(bind)?, move |tcp| {
            let (orig, orig_port) = origin(&tcp);
            // The server refused: drop the TCP connection, as ssh does.
            if let Ok(ch) = session.open_direct_tcpip(&host, port, &orig, orig_port) {
                let _ = pump(ch, tcp);
            }
        })?;
        Ok(Self { listening })
    }

    /// The local address connections go to (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listening.local_addr()
    }
}

/// A remote forward (`ssh -R`): the server listens on `address:port` and each connection
/// it accepts is carried back and connected to `host:port` as seen from this machine.
/// Dropping it cancels the forward.
pub struct RemoteForward {
    session: Arc<Session>,
    address: String,
    port: u32,
}

impl RemoteForward {
    /// Asks the server to listen on `address:port` (port 0: it chooses) and forwards each
    /// connection to `host:port`.
    pub fn start(session: Arc<Session>, address: &str, port: u32, host: &str, target_port: u16) -> Result<Self, Error> {
        let host = host.to_owned();
        let port = session.request_port_forward(address, port, move |ch, _from| {
            // Nobody listens there: closing the channel tells the server, as ssh does.
            if let Ok(tcp) = TcpStream::connect((host.as_str(), target_port)) {
                let _ = pump(ch, tcp);
            }
        })?;
        Ok(Self { session, address: address.to_owned(), port })
    }

    /// The port the server listens on (useful with port 0).
    pub fn remote_port(&self) -> u32 {
        self.port
    }
}

impl Drop for RemoteForward {
    fn drop(&mut self) {
        let _ = self.session.cancel_port_forward(&self.address, self.port);
    }
}
