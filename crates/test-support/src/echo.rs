//! A loopback TCP echo service for forwarding tests: every connection gets its bytes back,
//! then a half-close. It stops accepting when dropped.

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

/// The running echo service.
pub struct EchoServer {
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
}

impl EchoServer {
    /// Listens on an ephemeral 127.0.0.1 port.
    pub fn start() -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let stopping = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&stopping);
        thread::spawn(move || {
            for s in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(s) = s else { continue };
                thread::spawn(move || {
                    if let Ok(mut r) = s.try_clone() {
                        let mut w = s;
                        let _ = io::copy(&mut r, &mut w);
                        let _ = w.shutdown(Shutdown::Write);
                    }
                });
            }
        });
        Ok(Self { addr, stopping })
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wake the blocked accept so the thread sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

/// Sends `data` to `addr` (retrying the connect for up to 20 s while a listener comes up),
/// half-closes, and returns everything that comes back before the peer's EOF (30 s read
/// timeout). With an echo service behind a forward, the result must equal `data`.
pub fn round_trip(addr: SocketAddr, data: &[u8]) -> io::Result<Vec<u8>> {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut s = loop {
        match TcpStream::connect(addr) {
            Ok(s) => break s,
            Err(_) if std::time::Instant::now() < until => thread::sleep(std::time::Duration::from_millis(50)),
            Err(e) => return Err(e),
        }
    };
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
    let mut r = s.try_clone()?;
    let sent = data.to_vec();
    let writer = thread::spawn(move || -> io::Result<()> {
        io::Write::write_all(&mut s, &sent)?;
        s.shutdown(Shutdown::Write)
    });
    let mut got = Vec::new();
    io::Read::read_to_end(&mut r, &mut got)?;
    writer.join().map_err(|_| io::Error::other("writer panicked"))??;
    Ok(got)
}
