//! Channel handles: standard output and input as `AsyncRead`/`AsyncWrite`, requests, exit
//! status.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use ssh_proto::connection::{ChannelId, ChannelRequest, ExitStatus, PtyRequest};
use ssh_proto::driver::{ChannelStream, StreamSetting};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::Error;
use crate::engine::Link;

/// One channel (a session, a forwarded connection…). Reading reads its standard output
/// (data), writing writes its standard input; [`Channel::stderr`] reads standard error.
/// Dropping it closes the channel.
///
/// Reads and writes are cancellation-safe: a read that is dropped consumed nothing, a
/// write that is dropped sent nothing.
pub struct Channel {
    link: Arc<dyn Link>,
    id: ChannelId,
}

/// Standard input of a [`Channel`], writable from another task than the one reading it
/// (`shutdown` sends EOF). Dropping it does not close the channel.
pub struct Stdin {
    link: Arc<dyn Link>,
    id: ChannelId,
}

impl Stdin {
    /// No more standard input.
    pub fn send_eof(&self) -> Result<(), Error> {
        self.link.eof(self.id)
    }
}

/// Standard error of a [`Channel`] (extended data), readable while the channel is read
/// from another task; on a server's channel, writing sends standard error.
pub struct Stderr {
    link: Arc<dyn Link>,
    id: ChannelId,
}

impl Channel {
    pub(crate) fn new(link: Arc<dyn Link>, id: ChannelId) -> Self {
        Self { link, id }
    }

    /// The channel's local number.
    pub fn id(&self) -> ChannelId {
        self.id
    }

    /// Sends a channel request and, with `want_reply`, waits for the answer. Requests are
    /// numbered, so concurrent requests on one channel each get their own answer.
    ///
    /// The request waits while the connection's output queue is full (a loop of `set_env`
    /// or `signal` calls cannot grow it without bound). Cancelling that wait sends nothing;
    /// cancelling the wait for the reply does not cancel the request: the server may still
    /// act on it (run the command, allocate the pty); its answer is dropped.
    async fn request(&self, request: ChannelRequest, want_reply: bool) -> Result<(), Error> {
        let name = request.name().to_owned();
        // A full output queue holds the request back until the writer makes room.
        let sent = poll_fn(|cx| self.link.poll_send_request(cx, self.id, &request, want_reply)).await?;
        let Some(n) = sent else { return Ok(()) };
        match poll_fn(|cx| self.link.poll_reply(cx, self.id, n)).await? {
            true => Ok(()),
            false => Err(Error::RequestRefused(name)),
        }
    }

    /// Runs `command` on the server (`exec`).
    pub async fn exec(&self, command: &str) -> Result<(), Error> {
        self.request(ChannelRequest::Exec { command: command.as_bytes().to_vec().into() }, true).await
    }

    /// Starts the user's login shell.
    pub async fn shell(&self) -> Result<(), Error> {
        self.request(ChannelRequest::Shell, true).await
    }

    /// Starts a subsystem (`sftp`, …).
    pub async fn subsystem(&self, name: &str) -> Result<(), Error> {
        self.request(ChannelRequest::Subsystem { name: name.to_owned() }, true).await
    }

    /// Sets an environment variable for the command (the server may ignore it, as sshd
    /// does for names outside `AcceptEnv`, so no reply is asked for).
    pub async fn set_env(&self, name: &str, value: &str) -> Result<(), Error> {
        self.request(ChannelRequest::Env { name: name.to_owned(), value: value.to_owned() }, false).await
    }

    /// Asks for a pseudo-terminal.
    pub async fn request_pty(&self, term: &str, cols: u32, rows: u32) -> Result<(), Error> {
        let pty = PtyRequest { term: term.to_owned(), cols, rows, ..PtyRequest::default() };
        self.request(ChannelRequest::Pty(pty), true).await
    }

    /// Tells the server the terminal changed size.
    pub async fn resize_pty(&self, cols: u32, rows: u32) -> Result<(), Error> {
        self.request(ChannelRequest::WindowChange { cols, rows, width_px: 0, height_px: 0 }, false).await
    }

    /// Asks the server to forward X11 connections of this session's command (`x11-req`;
    /// Paramiko's `request_x11`, `ssh -X`): `auth_protocol` and the hex `auth_cookie` are what
    /// the server's X clients must present. The X connections arrive as channels for the
    /// handler of [`crate::Session::set_x11_handler`]; set it first.
    pub async fn request_x11(
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
        self.request(request, true).await
    }

    /// Asks the server to forward its agent connections back over this session's
    /// connection (`ssh -A`); serve them with [`crate::Session::forward_agent`].
    pub async fn request_agent_forwarding(&self) -> Result<(), Error> {
        self.request(ChannelRequest::AuthAgent, true).await
    }

    /// Sends a signal (`TERM`, `INT`, …) to the remote command.
    pub async fn signal(&self, name: &str) -> Result<(), Error> {
        self.request(ChannelRequest::Signal { name: name.to_owned() }, false).await
    }

    /// No more standard input (also what `shutdown` of the writer does).
    pub fn send_eof(&self) -> Result<(), Error> {
        self.link.eof(self.id)
    }

    /// Server side: reports the command's exit status (send it before closing). Waits, as
    /// every request does, while the connection's output queue is full.
    pub async fn send_exit_status(&self, status: ExitStatus) -> Result<(), Error> {
        self.request(ChannelRequest::Exit(status), false).await
    }

    /// Waits for the channel to close and returns the command's exit status or signal
    /// (`None` if the server sent none). Cancellation-safe; bound it with
    /// `tokio::time::timeout`.
    pub async fn exit_status(&self) -> Result<Option<ExitStatus>, Error> {
        poll_fn(|cx| self.link.poll_exit(cx, self.id)).await
    }

    /// How much standard error may be buffered unread before it holds back the channel's
    /// window (default 128 MiB, so a command flooding both streams cannot stall standard
    /// output while nobody reads standard error; lower it when many channels run and
    /// standard error may go unread).
    pub fn set_stderr_read_ahead(&self, bytes: usize) {
        self.link.configure(self.id, StreamSetting::StderrReadAhead(bytes));
    }

    /// Standard error goes into standard output from now on, what is buffered included
    /// (Paramiko's `set_combine_stderr(True)`).
    pub fn combine_stderr(&self) {
        self.link.configure(self.id, StreamSetting::CombineStderr);
    }

    /// No more standard output is wanted (Paramiko's `shutdown_read`): what is buffered is
    /// dropped and what arrives is discarded, so the peer is never held back by it.
    pub fn shutdown_read(&self) {
        self.link.configure(self.id, StreamSetting::ShutdownRead);
    }

    /// A handle on the channel's standard input, for writing from another task.
    pub fn stdin(&self) -> Stdin {
        Stdin { link: Arc::clone(&self.link), id: self.id }
    }

    /// A handle on the channel's standard error.
    pub fn stderr(&self) -> Stderr {
        Stderr { link: Arc::clone(&self.link), id: self.id }
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        self.link.close(self.id);
    }
}

fn poll_read_stream(
    link: &dyn Link,
    cx: &mut Context<'_>,
    id: ChannelId,
    stream: ChannelStream,
    buf: &mut ReadBuf<'_>,
) -> Poll<io::Result<()>> {
    let n = std::task::ready!(link.poll_read(cx, id, stream, buf.initialize_unfilled()))?;
    buf.advance(n);
    Poll::Ready(Ok(()))
}

impl AsyncRead for Channel {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        poll_read_stream(&*self.link, cx, self.id, ChannelStream::Stdout, buf)
    }
}

impl AsyncRead for Stderr {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        poll_read_stream(&*self.link, cx, self.id, ChannelStream::Stderr, buf)
    }
}

/// `AsyncWrite` for a handle on `$stream` of its channel. Sent data is in the connection's
/// output at once (the writer task delivers it), so there is nothing to flush; `shutdown`
/// sends EOF when `$eof` (standard error has no EOF of its own).
macro_rules! channel_writer {
    ($handle:ty, $stream:expr, $eof:expr) => {
        impl AsyncWrite for $handle {
            fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
                self.link.poll_write(cx, self.id, $stream, data).map_err(io::Error::from)
            }

            fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(if $eof { self.link.eof(self.id).map_err(io::Error::from) } else { Ok(()) })
            }
        }
    };
}

channel_writer!(Channel, ChannelStream::Stdout, true);
channel_writer!(Stdin, ChannelStream::Stdout, true);
channel_writer!(Stderr, ChannelStream::Stderr, false);
