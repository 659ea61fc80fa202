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
