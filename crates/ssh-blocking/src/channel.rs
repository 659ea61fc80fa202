//! Channels as blocking handles: `Read` for standard output, [`Stderr`] for standard error,
//! `Write` for standard input, and the session requests (exec, shell, subsystem, pty, env).

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ssh_proto::connection::{ChannelId, ChannelRequest, ExitStatus, PtyRequest, TerminalModes};
use ssh_proto::driver::{ChannelStream, StreamSetting};

use crate::Error;
use crate::engine::Link;

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

    /// Closes the whole channel (both directions), as dropping the [`Channel`] does: a
    /// reader blocked on it returns.
    pub(crate) fn close(&self) {
        self.link.close(self.id);
    }
}

impl Write for Stdin {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.link
            .write(self.id, ChannelStream::Stdout, buf, deadline(self.timeout))
            .map_err(|e| io_error(e, self.timeout))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Standard output of a [`Channel`] as a reader usable from another thread than the
/// writer: on a client the command's output, on a server the client's input.
pub struct Reader {
    link: Arc<dyn Link>,
    id: ChannelId,
    timeout: Option<Duration>,
}

impl Reader {
    /// Copies the data the peer sends into `sink` (a pipe to a command, a socket, a file)
    /// until the peer's EOF or close; returns the bytes copied. `sink` is closed on return,
    /// so a pipe's reader sees EOF. A socket keeps its mode (each send is non-blocking on its
    /// own), so a duplicate of it may go on reading in another thread. A pipe is in
    /// non-blocking mode while the copy lasts (its duplicates share that), and gets its
    /// flags back at the end. A regular file is written by this thread only, so a slow
    /// disk never holds up the connection.
    ///
    /// Faster than a loop of `read` and `write`: while the sink takes data at once, the
    /// connection's reader thread writes each chunk there as it arrives, without waking
    /// this thread, and without copying it into a buffer first. This thread writes only what
    /// the sink could not take, once it can. The peer's window follows what the sink took,
    /// so a slow sink holds back this channel only.
    ///
    /// Each wait (for data, or for the sink to take it) lasts at most the channel's timeout:
    /// a stream that keeps moving never times out, one that stalls for that long does.
    /// A failed write returns its error, and what was not written stays buffered for `read`.
    /// A pipe whose reader has gone fails with `BrokenPipe` only where `SIGPIPE` is ignored,
    /// as Rust programs do from the start; a host process that keeps the default action
    /// must ignore it too, or be killed by the first such write (sockets never raise it).
    /// While this runs, reads of the channel's standard output fail with `InvalidInput`.
    ///
    /// ```no_run
    /// # fn serve(channel: &ssh_blocking::Channel) -> std::io::Result<()> {
    /// let mut child = std::process::Command::new("cat").stdin(std::process::Stdio::piped()).spawn()?;
    /// let stdin = child.stdin.take().expect("piped");
    /// let copied = channel.reader().copy_to(stdin)?;
    /// println!("{copied} bytes to cat");
    /// # Ok(()) }
    /// ```
    #[cfg(unix)]
    pub fn copy_to(&mut self, sink: impl Into<std::os::fd::OwnedFd>) -> io::Result<u64> {
        let file = std::fs::File::from(sink.into());
        self.link.copy_to(self.id, file, self.timeout).map_err(|e| io_error(e, self.timeout))
    }

    /// No more data is wanted, as [`Channel::shutdown_read`]: what is buffered is dropped
    /// and what arrives is discarded (after a sink failed, say).
    pub fn shutdown_read(&self) {
        self.link.configure(self.id, StreamSetting::ShutdownRead);
    }
}

impl Read for Reader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.link
            .read(self.id, ChannelStream::Stdout, buf, deadline(self.timeout))
            .map_err(|e| io_error(e, self.timeout))
    }
}

/// Standard error of a [`Channel`] (SSH extended data type 1): a client reads it, a server
/// writes it.
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

    /// How long a read, write or request may wait (`None`: forever), then
    /// `ErrorKind::TimedOut`. Paramiko's `settimeout`; a zero timeout is non-blocking.
    /// Handles taken with [`Channel::stdin`] and [`Channel::stderr`] copy the timeout then.
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    /// Non-blocking mode (Paramiko's `setblocking(0)`): reads and writes that would wait fail
    /// with `ErrorKind::WouldBlock` instead. Same as a zero timeout; `false` blocks forever.
    pub fn set_nonblocking(&mut self, nonblocking: bool) {
        self.timeout = nonblocking.then_some(Duration::ZERO);
    }

    /// Standard error goes into standard output from now on, what is buffered included
    /// (Paramiko's `set_combine_stderr(True)`).
    pub fn combine_stderr(&self) {
        self.link.configure(self.id, StreamSetting::CombineStderr);
    }

    /// How much standard error may pile up unread before the channel's window stops
    /// (default 128 MiB). The window is one per channel: a command writing to both streams
    /// cannot be read through standard output alone once its unread standard error fills
    /// this, so read both, combine them, or raise this.
    pub fn set_stderr_read_ahead(&self, bytes: usize) {
        self.link.configure(self.id, StreamSetting::StderrReadAhead(bytes));
    }

    /// No more standard output is wanted (Paramiko's `shutdown_read`): what is buffered is
    /// dropped and what arrives is discarded, so the peer is never held back by it.
    pub fn shutdown_read(&self) {
        self.link.configure(self.id, StreamSetting::ShutdownRead);
    }

    /// Whether a read would return at once (data on standard output or error, EOF or
    /// close): Paramiko's `recv_ready` / `recv_stderr_ready` together with `exit_status_ready`.
    pub fn readable(&self) -> bool {
        self.link.wait_readable(&[self.id], Some(Instant::now())).is_ok()
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

    /// Asks the server to forward X11 connections of this session's command (`x11-req`;
    /// Paramiko's `request_x11`, `ssh -X`): `auth_protocol` and the hex `auth_cookie` are what
    /// the server's X clients must present. The X connections arrive as channels for the
    /// handler of [`crate::Session::set_x11_handler`]; set it first.
    pub fn request_x11(
        &self,
        auth_protocol: &str,
        auth_cookie: &str,
        screen: u32,
        single_connection: bool,
    ) -> Result<(), Error> {
        let request = ChannelRequest::X11 {
            single_connection,
            auth_protocol: auth_protocol.to_owned(),
            auth_cookie: auth_cookie.to_owned(),
            screen,
        };
        self.request(request, true)
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
        self.link.buffered(self.id, ChannelStream::Stdout)
    }

    /// Server side: writes to the client's standard error (extended data type 1), waiting
    /// for window as needed.
    pub fn write_stderr(&self, data: &[u8]) -> Result<(), Error> {
        let mut rest = data;
        while !rest.is_empty() {
            let n = self.link.write(self.id, ChannelStream::Stderr, rest, deadline(self.timeout))?;
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

    /// A reader for standard output (the client's input, on a server) that another thread
    /// can own while this handle writes.
    pub fn reader(&self) -> Reader {
        Reader { link: Arc::clone(&self.link), id: self.id, timeout: self.timeout }
    }

    /// Standard error: a reader on a client, a writer on a server.
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

/// Waits until at least one of `channels` is [`Channel::readable`], at most `timeout`;
/// returns the positions of the readable ones (`select` over Paramiko channels). The
/// channels must belong to one session.
pub fn select(channels: &[&Channel], timeout: Option<Duration>) -> Result<Vec<usize>, Error> {
    let Some(first) = channels.first() else { return Ok(Vec::new()) };
    if channels.iter().any(|c| !Arc::ptr_eq(&c.link, &first.link)) {
        return Err(Error::Io(io::Error::new(io::ErrorKind::InvalidInput, "select: channels of different sessions")));
    }
    let ids: Vec<ChannelId> = channels.iter().map(|c| c.id).collect();
    first.link.wait_readable(&ids, deadline(timeout))
}

/// The `io::Error` of a failed read or write: a zero timeout is non-blocking mode.
fn io_error(e: Error, timeout: Option<Duration>) -> io::Error {
    match e {
        Error::Timeout(_) if timeout == Some(Duration::ZERO) => io::Error::new(io::ErrorKind::WouldBlock, e),
        e => e.into(),
    }
}

impl Read for Channel {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.link
            .read(self.id, ChannelStream::Stdout, buf, deadline(self.timeout))
            .map_err(|e| io_error(e, self.timeout))
    }
}

impl Read for Stderr {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.link
            .read(self.id, ChannelStream::Stderr, buf, deadline(self.timeout))
            .map_err(|e| io_error(e, self.timeout))
    }
}

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.link
            .write(self.id, ChannelStream::Stderr, buf, deadline(self.timeout))
            .map_err(|e| io_error(e, self.timeout))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for Channel {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.link
            .write(self.id, ChannelStream::Stdout, buf, deadline(self.timeout))
            .map_err(|e| io_error(e, self.timeout))
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
