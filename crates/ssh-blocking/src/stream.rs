//! Byte streams the driver can run a connection over: a TCP or Unix socket, a child
//! process's pipes (ProxyCommand), or any reader and writer pair.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use crate::Channel;

/// A stream split into the halves the driver's reader and writer threads own, plus a way
/// to unblock a reader stuck in `read` when the connection ends.
pub struct Stream {
    pub(crate) reader: Box<dyn Read + Send>,
    pub(crate) writer: Box<dyn Write + Send>,
    pub(crate) shutdown: Box<dyn Fn() + Send + Sync>,
    /// The socket under `writer`, when it is one: a thread that made output sends it with
    /// `MSG_DONTWAIT`, and leaves to the writer thread only what the socket did not take.
    #[cfg(unix)]
    pub(crate) socket: Option<std::sync::Arc<std::os::fd::OwnedFd>>,
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
        Self {
            reader: Box::new(reader),
            writer: Box::new(writer),
            shutdown: Box::new(shutdown),
            #[cfg(unix)]
            socket: None,
        }
    }

    /// A socket's halves, and one more duplicate of it that both ends the stream and takes
    /// the sends that must not block.
    #[cfg(unix)]
    fn socket(
        reader: impl Read + Send + 'static,
        writer: impl Write + Send + 'static,
        socket: std::os::fd::OwnedFd,
    ) -> Self {
        let socket = std::sync::Arc::new(socket);
        let closer = std::sync::Arc::clone(&socket);
        let mut stream = Self::from_parts(reader, writer, move || {
            let _ = rustix::net::shutdown(&*closer, rustix::net::Shutdown::Both);
        });
        stream.socket = Some(socket);
        stream
    }
}

impl Stream {
    /// Runs `command` with `/bin/sh -c` and talks over its stdin and stdout (OpenSSH's
    /// and Paramiko's `ProxyCommand`); its stderr stays the caller's. Ending the stream
    /// kills the command.
    pub fn proxy_command(command: &str) -> io::Result<Self> {
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other("ProxyCommand: no pipes"));
        };
        let child = Mutex::new(child);
        Ok(Self::from_parts(stdout, stdin, move || {
            let mut c = child.lock().unwrap_or_else(|p| p.into_inner());
            let _ = c.kill();
            let _ = c.wait();
        }))
    }
}

/// A channel as a stream (ProxyJump: a connection through another connection's
/// `direct-tcpip` channel). Ending the stream closes the channel.
impl From<Channel> for Stream {
    fn from(channel: Channel) -> Self {
        let stdin = channel.stdin();
        let closer = channel.stdin();
        Self::from_parts(channel, stdin, move || closer.close())
    }
}

impl TryFrom<TcpStream> for Stream {
    type Error = io::Error;

    fn try_from(s: TcpStream) -> io::Result<Self> {
        s.set_nodelay(true)?;
        let reader = s.try_clone()?;
        #[cfg(unix)]
        let stream = Self::socket(reader, s.try_clone()?, s.into());
        #[cfg(not(unix))]
        let stream = {
            let closer = s.try_clone()?;
            Self::from_parts(reader, s, move || {
                let _ = closer.shutdown(std::net::Shutdown::Both);
            })
        };
        Ok(stream)
    }
}

#[cfg(unix)]
impl TryFrom<std::os::unix::net::UnixStream> for Stream {
    type Error = io::Error;

    fn try_from(s: std::os::unix::net::UnixStream) -> io::Result<Self> {
        Ok(Self::socket(s.try_clone()?, s.try_clone()?, s.into()))
    }
}
