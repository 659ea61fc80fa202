//! Byte streams the driver can run a connection over: a TCP or Unix socket, a child
//! process's pipes (ProxyCommand), or any reader and writer pair.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};

/// A stream split into the halves the driver's reader and writer threads own, plus a way
/// to unblock a reader stuck in `read` when the connection ends.
pub struct Stream {
    pub(crate) reader: Box<dyn Read + Send>,
    pub(crate) writer: Box<dyn Write + Send>,
    pub(crate) shutdown: Box<dyn Fn() + Send + Sync>,
}

impl Stream {
    /// Any reader and writer. `shutdown` must make a blocked `read` return (close the
    /// descriptor, kill the process); without one, the reader thread lingers until the peer
    /// closes.
    pub fn from_parts(
        reader: impl Read + Send + 'static,
        writer: impl Write + Send + 'static,
        shutdown: impl Fn() + Send + Sync + 'static,
    ) -> Self {
        Self { reader: Box::new(reader), writer: Box::new(writer), shutdown: Box::new(shutdown) }
    }
}

impl TryFrom<TcpStream> for Stream {
    type Error = io::Error;

    fn try_from(s: TcpStream) -> io::Result<Self> {
        s.set_nodelay(true)?;
        let reader = s.try_clone()?;
        let closer = s.try_clone()?;
        Ok(Self::from_parts(reader, s, move || {
            let _ = closer.shutdown(Shutdown::Both);
        }))
    }
}

#[cfg(unix)]
impl TryFrom<std::os::unix::net::UnixStream> for Stream {
    type Error = io::Error;

    fn try_from(s: std::os::unix::net::UnixStream) -> io::Result<Self> {
        let reader = s.try_clone()?;
        let closer = s.try_clone()?;
        Ok(Self::from_parts(reader, s, move || {
            let _ = closer.shutdown(Shutdown::Both);
        }))
    }
}
