//! Copying a channel's incoming data into a file descriptor (a command's stdin pipe, a
//! socket) without a thread hand-off per chunk.
//!
//! The thread that calls [`Shared::copy_stdout_to`] (the *copier*) would otherwise read each
//! chunk after the reader thread woke it, and write it on: two thread switches per chunk,
//! which cost more than the copy itself on a fast stream. Instead, the reader thread writes
//! what it has just received straight into the sink, without blocking (the sink is in
//! non-blocking mode), and only what the sink does not take at once is left for the copier,
//! which waits until the sink is writable. Data is written in order because only one of them
//! writes at a time (`Writer`), and the credit for the peer's window follows what was
//! written, so a slow sink holds back its own channel exactly as a slow reader does.
//!
//! The same non-blocking write sends the connection's own output into its socket
//! ([`send_now`]) for a thread that must not wait for the socket.

use std::fs::File;
use std::io::{self, IoSlice};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ssh_proto::connection::ChannelId;
use ssh_proto::driver::{Change, ChannelBuffers};

use super::{Core, Shared, State, Waiter, Waiters, Wake};
use crate::Error;

/// Chunks written in one system call at most (a pipe holds 64 KiB by default: two full
/// packets).
const MAX_SLICES: usize = 16;

/// How writes into the sink avoid blocking.
#[derive(Debug, Clone, Copy)]
enum Mode {
    /// A socket: each send says `MSG_DONTWAIT`, and the descriptor keeps its mode, so a
    /// duplicate of it may go on with blocking reads in another thread (a forwarded
    /// connection's other direction).
    Socket,
    /// A pipe or a character device: the descriptor is in non-blocking mode while the copy
    /// lasts.
    NonBlocking,
    /// A regular file or a block device, where non-blocking mode has no effect: only the
    /// copier writes, so a slow disk never holds up the reader thread.
    CopierOnly,
}

impl Mode {
    /// How to write into `file`; a pipe is put in non-blocking mode (its previous flags
    /// are returned, to put back at the end).
    fn of(file: &File) -> io::Result<(Mode, Option<rustix::fs::OFlags>)> {
        use rustix::fs::{FileType, OFlags};
        if rustix::net::sockopt::socket_type(file).is_ok() {
            return Ok((Mode::Socket, None));
        }
        let kind = FileType::from_raw_mode(rustix::fs::fstat(file)?.st_mode);
        if matches!(kind, FileType::RegularFile | FileType::BlockDevice) {
            return Ok((Mode::CopierOnly, None));
        }
        let flags = rustix::fs::fcntl_getfl(file)?;
        if !flags.contains(OFlags::NONBLOCK) {
            rustix::fs::fcntl_setfl(file, flags | OFlags::NONBLOCK)?;
        }
        Ok((Mode::NonBlocking, Some(flags)))
    }
}

/// Who writes into the sink now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Writer {
    Nobody,
    /// The reader thread, with what it just received.
    ReaderThread,
    /// The copier, waiting for the sink to take more.
    Copier,
}

/// The sink of a channel's standard output while a copier runs.
pub(super) struct Sink {
    file: Arc<File>,
    mode: Mode,
    writer: Writer,
    /// Wakes the copier: the sink is free and there is something to write or to finish.
    pub(super) waiter: Waiter,
    /// A write failed (not for want of room): the copier returns the error.
    failed: Option<io::Error>,
    /// The copier is returning: the reader thread claims nothing more, and the copier
    /// waits only for the reader thread's write in progress to be recorded.
    closing: bool,
    /// Bytes written so far, shared with the copier (which still needs the total once
    /// the channel, and this sink with it, is gone).
    written: Arc<AtomicU64>,
}

impl Sink {
    /// Whether the copier has something to do: data nobody is writing, the channel's end,
    /// a failed write, the connection's end, or (when closing) nothing more to wait for.
    pub(super) fn copier_has_work(&self, ch: &ChannelBuffers<Waiters>, ended: bool) -> bool {
        self.writer == Writer::Nobody
            && (self.closing || !ch.stdout.is_empty() || ch.eof || ch.closed || self.failed.is_some() || ended)
    }
}

/// What the reader thread took to write: the chunks of every claimed channel in one list
/// (kept from one read to the next, so claiming allocates nothing), and per channel its
/// sink, where its chunks end, and how the write went.
#[derive(Default)]
pub(super) struct Claims {
    chunks: Vec<Bytes>,
    claimed: Vec<Claim>,
}

struct Claim {
    id: ChannelId,
    file: Arc<File>,
    mode: Mode,
    end: usize,
    result: io::Result<usize>,
}

/// What the copier does next.
enum Step {
    /// Write the chunks it took into the sink.
    Write(Arc<File>, Mode),
    /// The channel's data has ended and all of it was written (or the channel is gone).
    Done,
}

impl<C: Core> State<C> {
    /// After a read: claims for the reader thread the sinks of the channels that just got
    /// data and that nobody is writing into, taking their chunks (at most `MAX_SLICES`
    /// each). The copier is not woken for what is claimed.
    pub(super) fn claim_sinks(&mut self, claims: &mut Claims) {
        let State { mux, dirty, .. } = self;
        for id in dirty.iter() {
            let Some(ch) = mux.channels.get_mut(id) else { continue };
            let Some(sink) = ch.waiters.sink.as_mut() else { continue };
            if sink.writer != Writer::Nobody
                || sink.closing
                || sink.failed.is_some()
                || matches!(sink.mode, Mode::CopierOnly)
                || ch.stdout.is_empty()
            {
                continue;
            }
            sink.writer = Writer::ReaderThread;
            claims.chunks.extend(ch.stdout.chunks().take(MAX_SLICES).cloned());
            claims.claimed.push(Claim {
                id: *id,
                file: Arc::clone(&sink.file),
                mode: sink.mode,
                end: claims.chunks.len(),
                result: Ok(0),
            });
        }
    }

    /// Records how a write into the sink of channel `id` went: what was written is consumed
    /// (and credited to the peer), and the sink is free again. Wakes the copier when
    /// something is left for it.
    fn commit_sink(&mut self, id: ChannelId, result: io::Result<usize>) {
        let ended = self.mux.ended.is_some();
        let Some(ch) = self.mux.channels.get_mut(&id) else { return };
        let Some(sink) = ch.waiters.sink.as_mut() else { return };
        sink.writer = Writer::Nobody;
        let credit = match result {
            Ok(n) => {
                sink.written.fetch_add(n as u64, Ordering::Relaxed);
                ch.stdout.consume(n)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
            Err(e) => {
                sink.failed = Some(e);
                0
            }
        };
        let wake = ch.waiters.sink.as_ref().is_some_and(|s| s.copier_has_work(ch, ended));
        self.credit(id, credit);
        if wake {
            self.mark(id, Change::News);
        }
    }

    /// The copier's next step on channel `id`, `None` while it must wait. A final step
    /// marks the sink closing, so the reader thread claims nothing after it.
    fn copier_step(&mut self, id: ChannelId, chunks: &mut Vec<Bytes>) -> Option<Result<Step, Error>> {
        let Some(ch) = self.mux.channels.get_mut(&id) else { return Some(Ok(Step::Done)) };
        let sink = ch.waiters.sink.as_mut()?;
        if sink.writer != Writer::Nobody {
            return None;
        }
        if let Some(e) = sink.failed.take() {
            sink.closing = true;
            return Some(Err(Error::Io(e)));
        }
        if !ch.stdout.is_empty() {
            sink.writer = Writer::Copier;
            chunks.extend(ch.stdout.chunks().take(MAX_SLICES).cloned());
            return Some(Ok(Step::Write(Arc::clone(&sink.file), sink.mode)));
        }
        let done = ch.eof || ch.closed;
        sink.closing |= done;
        done.then_some(Ok(Step::Done))
    }

    /// The copier's last step, whatever ended the copy: once the reader thread's write in
    /// progress (if any) is recorded, takes the sink away; `None` while that write lasts.
    fn close_sink(&mut self, id: ChannelId) -> Option<Option<Box<Sink>>> {
        let Some(ch) = self.mux.channels.get_mut(&id) else { return Some(None) };
        let sink = ch.waiters.sink.as_mut()?;
        sink.closing = true;
        if sink.writer == Writer::ReaderThread {
            return None;
        }
        Some(ch.waiters.sink.take())
    }
}

impl<C: Core> Shared<C> {
    /// The reader thread's writes of what it claimed: one non-blocking write per sink, then
    /// one lock to record them all.
    pub(super) fn write_claims(&self, claims: &mut Claims) {
        if claims.claimed.is_empty() {
            return;
        }
        let mut start = 0;
        for claim in &mut claims.claimed {
            let chunks = claims.chunks.get(start..claim.end).unwrap_or_default();
            claim.result = write_chunks(&claim.file, claim.mode, chunks);
            start = claim.end;
        }
        claims.chunks.clear();
        let mut g = self.lock();
        for claim in claims.claimed.drain(..) {
            g.st.commit_sink(claim.id, claim.result);
        }
    }

    /// Copies channel `id`'s standard output into `file` until the peer's EOF (or close);
    /// returns the bytes copied. Each wait for data, or for the sink to take it, lasts at
    /// most `timeout`. `file` is closed on return.
    pub(super) fn copy_stdout_to(&self, id: ChannelId, file: File, timeout: Option<Duration>) -> Result<u64, Error> {
        // The reader thread must never block on the sink. A pipe's flags are put back at
        // the end, also when the sink cannot be installed.
        let (mode, flags) = Mode::of(&file).map_err(Error::Io)?;
        let file = Arc::new(file);
        let written = Arc::new(AtomicU64::new(0));
        let installed = {
            let mut g = self.lock();
            match g.st.mux.channels.get_mut(&id) {
                Some(ch) if ch.waiters.sink.is_none() => {
                    // Data received before the sink was there is the copier's: its first step.
                    ch.waiters.sink = Some(Box::new(Sink {
                        file: Arc::clone(&file),
                        mode,
                        writer: Writer::Nobody,
                        waiter: Waiter::default(),
                        failed: None,
                        closing: false,
                        written: Arc::clone(&written),
                    }));
                    Ok(true)
                }
                Some(_) => {
                    Err(Error::Io(io::Error::new(io::ErrorKind::InvalidInput, "the channel is already being copied")))
                }
                None => Ok(false),
            }
        };
        let result = match installed {
            Ok(true) => {
                let result = self.copy_loop(id, timeout, &written);
                // The reader thread may be writing into the sink still (when a wait timed
                // out or the connection ended): the sink goes once that write is recorded,
                // which takes no longer than one non-blocking write.
                let sink = self.wait_quietly(Wake::Sink(id), |st| st.close_sink(id));
                // Closed outside the lock: closing a socket may block (a linger).
                drop(sink);
                result
            }
            Ok(false) => Ok(0),
            Err(e) => Err(e),
        };
        if let Some(flags) = flags {
            let _ = rustix::fs::fcntl_setfl(&*file, flags);
        }
        result
    }

    fn copy_loop(&self, id: ChannelId, timeout: Option<Duration>, written: &AtomicU64) -> Result<u64, Error> {
        let mut chunks = Vec::with_capacity(MAX_SLICES);
        let deadline = || timeout.map(|t| Instant::now() + t);
        loop {
            // The timeout is for a stall: while the reader thread writes what arrives, the
            // copier sleeps through a healthy stream, and a wait that timed out meanwhile
            // starts over.
            let before = written.load(Ordering::Relaxed);
            let step =
                match self.wait_for(Wake::Sink(id), deadline(), "channel data", |st| st.copier_step(id, &mut chunks)) {
                    Err(Error::Timeout(_)) if written.load(Ordering::Relaxed) != before => continue,
                    step => step?,
                };
            let (file, mode) = match step {
                Step::Write(file, mode) => (file, mode),
                Step::Done => return Ok(written.load(Ordering::Relaxed)),
            };
            let result = write_waiting(&file, mode, &chunks, deadline());
            chunks.clear();
            let timed_out = matches!(&result, Err(e) if e.kind() == io::ErrorKind::TimedOut);
            self.lock().st.commit_sink(id, result);
            if timed_out {
                return Err(Error::Timeout("the sink to take channel data"));
            }
        }
    }
}

/// `MSG_NOSIGNAL` where there is one; Apple's systems have none (there, as everywhere,
/// Rust programs ignore SIGPIPE).
#[cfg(not(target_vendor = "apple"))]
const NO_SIGNAL: rustix::net::SendFlags = rustix::net::SendFlags::NOSIGNAL;
#[cfg(target_vendor = "apple")]
const NO_SIGNAL: rustix::net::SendFlags = rustix::net::SendFlags::empty();

/// Writes `chunks` with one system call (as much as the sink takes), without blocking.
fn write_chunks(fd: impl AsFd, mode: Mode, chunks: &[Bytes]) -> io::Result<usize> {
    use rustix::net::{SendAncillaryBuffer, SendFlags};
    let mut slices = [IoSlice::new(&[]); MAX_SLICES];
    for (slice, chunk) in slices.iter_mut().zip(chunks) {
        *slice = IoSlice::new(chunk);
    }
    let slices = slices.get(..chunks.len().min(MAX_SLICES)).unwrap_or_default();
    loop {
        let written = match mode {
            // No SIGPIPE either: a peer that closed is an error to return, as for a pipe
            // (whose SIGPIPE Rust programs ignore).
            Mode::Socket => {
                rustix::net::sendmsg(&fd, slices, &mut SendAncillaryBuffer::default(), SendFlags::DONTWAIT | NO_SIGNAL)
            }
            Mode::NonBlocking | Mode::CopierOnly => rustix::io::writev(&fd, slices),
        };
        match written {
            Err(rustix::io::Errno::INTR) => {}
            r => return r.map_err(io::Error::from),
        }
    }
}

/// Sends `chunks` (the first `MAX_SLICES` of them) into `socket` with one system call, as
/// much as it takes without blocking.
pub(super) fn send_now(socket: impl AsFd, chunks: &[Bytes]) -> io::Result<usize> {
    write_chunks(socket, Mode::Socket, chunks)
}

/// Writes `chunks` once the sink takes some of them, waiting until `deadline` at most.
fn write_waiting(file: &File, mode: Mode, chunks: &[Bytes], deadline: Option<Instant>) -> io::Result<usize> {
    use rustix::event::{PollFd, PollFlags, Timespec};
    loop {
        match write_chunks(file, mode, chunks) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            r => return r,
        }
        let left = match deadline {
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => Some(Timespec::try_from(left).map_err(io::Error::other)?),
                _ => return Err(io::Error::from(io::ErrorKind::TimedOut)),
            },
            None => None,
        };
        let mut fds = [PollFd::new(file, PollFlags::OUT)];
        match rustix::event::poll(&mut fds, left.as_ref()) {
            // Ready, or an error or hang-up the next write reports; a timeout is found above.
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}
