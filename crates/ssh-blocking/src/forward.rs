//! TCP forwarding: moving bytes between a TCP connection and a channel (`-L` on the
//! client, `direct-tcpip` targets on the server). Only copying lives here; which channels
//! exist and what they may carry is the core's business.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use crate::Session;
use crate::channel::Channel;

/// Copies `tcp` → channel and channel → `tcp` until both directions end, then closes the
/// channel. EOF is passed on in each direction separately (half-close).
pub fn pump(mut channel: Channel, tcp: TcpStream) -> io::Result<()> {
    let _ = tcp.set_nodelay(true);
    let mut from_tcp = tcp.try_clone()?;
    let mut stdin = channel.stdin();
    let upstream = thread::Builder::new().name("ssh-forward-up".into()).spawn(move || {
        let r = io::copy(&mut from_tcp, &mut stdin);
        let _ = stdin.send_eof();
        r
    })?;
    let mut to_tcp = tcp;
    let down = copy_out(&mut channel, &mut to_tcp);
    let _ = to_tcp.shutdown(Shutdown::Write);
    let up = upstream.join().unwrap_or_else(|_| Err(io::Error::other("forwarding thread panicked")));
    drop(channel);
    down.and(up.map(|_| ()))
}

fn copy_out(channel: &mut Channel, tcp: &mut TcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = channel.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        tcp.write_all(buf.get(..n).unwrap_or_default())?;
    }
}

/// A local forward (`ssh -L`): connections to the bound address are carried to
/// `host:port` as seen from the server. Dropping it stops accepting.
pub struct LocalForward {
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
}

impl LocalForward {
    /// Listens on `bind` and forwards each connection through `session` to `host:port`.
    pub fn start(session: Arc<Session>, bind: SocketAddr, host: &str, port: u16) -> io::Result<Self> {
        let listener = TcpListener::bind(bind)?;
        let addr = listener.local_addr()?;
        let stopping = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&stopping);
        let host = host.to_owned();
        thread::Builder::new().name("ssh-forward-accept".into()).spawn(move || {
            for tcp in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(tcp) = tcp else { continue };
                let peer = tcp.peer_addr().ok();
                let (orig, orig_port) = peer.map_or(("127.0.0.1".to_owned(), 0), |p| (p.ip().to_string(), p.port()));
                match session.open_direct_tcpip(&host, port, &orig, orig_port) {
                    Ok(ch) => {
                        let _ = thread::Builder::new().name("ssh-forward".into()).spawn(move || pump(ch, tcp));
                    }
                    // The server refused: drop the TCP connection, as ssh does.
                    Err(_) => drop(tcp),
                }
            }
        })?;
        Ok(Self { addr, stopping })
    }

    /// The local address connections go to (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for LocalForward {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}
