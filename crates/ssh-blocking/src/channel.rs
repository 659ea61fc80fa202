//! Channels as blocking handles: `Read` for standard output, [`Stderr`] for standard error,
//! `Write` for standard input, and the session requests (exec, shell, subsystem, pty, env).

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ssh_proto::connection::{ChannelId, ChannelRequest, ExitStatus, PtyRequest, TerminalModes};

use crate::Error;
use crate::engine::{Link, Which};

/// An open channel. Dropping it closes the channel.
///
/// Reads return standard output until the peer's EOF (then `Ok(0)`); [`Channel::stderr`]
/// reads extended data. A read or write waits at most the channel's timeout
/// ([`Channel::set_timeout`]), then fails with `ErrorKind::TimedOut`.
pub struct Channel {
    link: Arc<dyn Link>,
    id: ChannelId,
    timeout: Option<Duration>,
}

/// Standard input of a [`Channel`], usable from another thread than the reader.
pub struct Stdin {
    link: Arc<dyn Link>,
    id: ChannelId,
    timeout: Option<Duration>,
}

impl Stdin {
    /// No more standard input.
    pub fn send_eof(&self) -> Result<(), Error> {
        self.link.eof(self.id)
    }
}

impl Write for Stdin {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(self.link.write(self.id, Which::Stdout, buf, deadline(self.timeout))?)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Standard error of a [`Channel`] (SSH extended data type 1).
pub struct Stderr {
    link: Arc<dyn Link>,
    id: ChannelId,
    timeout: Option<Duration>,
}

fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    timeout.map(|t| Instant::now() + t)
}

impl Channel {
    pub(crate) fn new(link: Arc<dyn Link>, id: ChannelId, timeout: Option<Duration>) -> Self {
        Self { link, id, timeout }
    }

    /// The channel's identifier in the core.
    pub fn id(&self) -> ChannelId {
        self.id
    }

    /// How long a read, write or request may wait (`None`: forever). Paramiko's
    /// `settimeout`.
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    fn request(&self, request: ChannelRequest, want_reply: bool) -> Result<(), Error> {
        self.link.request(self.id, &request, want_reply, deadline(self.timeout))
    }

    /// Runs `command` on the server (`exec`).
    pub fn exec(&self, command: &str) -> Result<(), Error> {
        self.request(ChannelRequest::Exec { command: command.as_bytes().to_vec().into() }, true)
    }

    /// Starts the user's login shell.
    pub fn shell(&self) -> Result<(), Error> {
        self.request(ChannelRequest::Shell, true)
    }

    /// Starts a subsystem (`sftp`, …).
    pub fn subsystem(&self, name: &str) -> Result<(), Error> {
        self.request(ChannelRequest::Subsystem { name: name.to_owned() }, true)
    }

    /// Sets an environment variable for the command (the server may ignore it, as sshd
    /// does for names outside `AcceptEnv`, so no reply is asked for).
    pub fn set_env(&self, name: &str, value: &str) -> Result<(), Error> {
        self.request(ChannelRequest::Env { name: name.to_owned(), value: value.to_owned() }, false)
    }

    /// Asks for a pseudo-terminal.
    pub fn request_pty(&self, term: &str, cols: u32, rows: u32) -> Result<(), Error> {
        let pty = PtyRequest {
            term: term.to_owned(),
            cols,
            rows,
            width_px: 0,
            height_px: 0,
            modes: TerminalModes::default(),
        };
        self.request(ChannelRequest::Pty(pty), true)
    }

    /// Tells the server the terminal changed size.
    pub fn resize_pty(&self, cols: u32, rows: u32) -> Result<(), Error> {
        self.request(ChannelRequest::WindowChange { cols, rows, width_px: 0, height_px: 0 }, false)
    }

    /// Asks the server to forward the agent on this session (`auth-agent-req@openssh.com`);
    /// the agent channels it then opens go to [`crate::Session::set_agent_handler`].
    pub fn request_agent_forwarding(&self) -> Result<(), Error> {
        self.request(ChannelRequest::AuthAgent, true)
    }

    /// Sends a signal (`TERM`, `INT`, …) to the remote command.
    pub fn signal(&self, name: &str) -> Result<(), Error> {
        self.request(ChannelRequest::Signal { name: name.to_owned() }, false)
    }

    /// No more standard input (`shutdown_write`).
    pub fn send_eof(&self) -> Result<(), Error> {
        self.link.eof(self.id)
    }

    /// Waits for the channel to close and returns the command's exit status or signal
    /// (`None` if the server sent none). `timeout` bounds the wait.
    pub fn recv_exit_status(&self, timeout: Option<Duration>) -> Result<Option<ExitStatus>, Error> {
        self.link.exit_status(self.id, deadline(timeout))
    }

    /// Bytes of standard output received and not read yet.
    pub fn buffered(&self) -> usize {
        self.link.buffered(self.id, Which::Stdout)
    }

    /// Server side: writes to the client's standard error (extended data type 1), waiting
    /// for window as needed.
    pub fn write_stderr(&self, data: &[u8]) -> Result<(), Error> {
        let mut rest = data;
        while !rest.is_empty() {
            let n = self.link.write(self.id, Which::Stderr, rest, deadline(self.timeout))?;
            rest = rest.get(n..).unwrap_or_default();
        }
        Ok(())
    }

    /// Server side: reports the command's exit status (send it before closing).
    pub fn send_exit_status(&self, status: ExitStatus) -> Result<(), Error> {
        self.request(ChannelRequest::Exit(status), false)
    }

    /// A writer for standard input (to feed the command while another thread reads).
    pub fn stdin(&self) -> Stdin {
        Stdin { link: Arc::clone(&self.link), id: self.id, timeout: self.timeout }
    }

    /// A reader for standard error.
    pub fn stderr(&self) -> Stderr {
        Stderr { link: Arc::clone(&self.link), id: self.id, timeout: self.timeout }
    }

    /// Reads standard output to its end, returning it.
    pub fn read_all(&mut self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        self.read_to_end(&mut out)?;
        Ok(out)
    }
}

impl Read for Channel {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.link.read(self.id, Which::Stdout, buf, deadline(self.timeout))?)
    }
}

impl Read for Stderr {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.link.read(self.id, Which::Stderr, buf, deadline(self.timeout))?)
    }
}

impl Write for Channel {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(self.link.write(self.id, Which::Stdout, buf, deadline(self.timeout))?)
    }

    /// Data goes out as soon as the window allows; nothing is held back to flush.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        self.link.close(self.id);
    }
}
