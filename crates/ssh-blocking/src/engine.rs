//! The I/O engine shared by client and server connections: two threads per connection
//! drive the sans-IO core, and user handles wait on its state.
//!
//! - The **reader** thread blocks in `read`, feeds the bytes to the core and sorts the
//!   events it raises into per-channel and per-connection queues.
//! - The **writer** thread sends what the core wants sent and fires its timers. It writes
//!   without holding the state lock, so a peer that does not read cannot stop the reader
//!   (both sides writing into full socket buffers would otherwise deadlock).
//!
//! User calls lock the state, issue a core command, and wake the writer. Waiting calls sleep
//! on one condition variable that every state change notifies.

use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ssh_proto::connection::{
    ChannelError, ChannelId, ChannelKind, ChannelRequest, ExitStatus, GlobalReply, GlobalRequest, GlobalToken,
    OpenFailure, RequestToken,
};
use ssh_proto::{DisconnectReason, Event, client, server};

use crate::Error;
use crate::channel::Channel;
use crate::stream::Stream;

/// The sans-IO connection calls the engine needs, for both roles.
pub(crate) trait Core: Send + 'static {
    fn handle_input(&mut self, data: &[u8], now: Instant) -> Result<(), ssh_proto::Error>;
    fn handle_eof(&mut self) -> Result<(), ssh_proto::Error>;
    fn handle_timeout(&mut self, now: Instant) -> Result<(), ssh_proto::Error>;
    fn poll_transmit(&mut self) -> Option<Bytes>;
    fn poll_event(&mut self) -> Option<Event>;
    fn poll_timeout(&self) -> Option<Instant>;
    fn pending_output(&self) -> usize;
    fn is_closed(&self) -> bool;
    fn close(&mut self, reason: DisconnectReason, description: &str);
    fn channel_consumed(&mut self, id: ChannelId, n: usize) -> Result<(), ChannelError>;
    fn channel_request_reply(&mut self, id: ChannelId, token: RequestToken, success: bool) -> Result<(), ChannelError>;
    fn global_request_reply(&mut self, token: GlobalToken, reply: GlobalReply) -> Result<(), ChannelError>;
    fn reject_channel(&mut self, id: ChannelId, reason: OpenFailure, description: &str) -> Result<(), ChannelError>;
    fn channel_send(&mut self, id: ChannelId, data: &[u8]) -> Result<usize, ChannelError>;
    fn channel_send_extended(&mut self, id: ChannelId, code: u32, data: &[u8]) -> Result<usize, ChannelError>;
    fn channel_eof(&mut self, id: ChannelId) -> Result<(), ChannelError>;
    fn channel_close(&mut self, id: ChannelId) -> Result<(), ChannelError>;
    fn channel_request(
        &mut self,
        id: ChannelId,
        request: &ChannelRequest,
        want_reply: bool,
    ) -> Result<(), ChannelError>;
    fn open_channel(&mut self, kind: &ChannelKind) -> Result<ChannelId, ChannelError>;
    fn accept_channel(&mut self, id: ChannelId) -> Result<(), ChannelError>;
    fn global_request(
        &mut self,
        request: &GlobalRequest,
        want_reply: bool,
    ) -> Result<Option<GlobalToken>, ChannelError>;
}

macro_rules! impl_core {
    ($($t:ty),*) => {$(
        impl Core for $t {
            fn handle_input(&mut self, data: &[u8], now: Instant) -> Result<(), ssh_proto::Error> {
                <$t>::handle_input(self, data, now)
            }
            fn handle_eof(&mut self) -> Result<(), ssh_proto::Error> {
                <$t>::handle_eof(self)
            }
            fn handle_timeout(&mut self, now: Instant) -> Result<(), ssh_proto::Error> {
                <$t>::handle_timeout(self, now)
            }
            fn poll_transmit(&mut self) -> Option<Bytes> {
                <$t>::poll_transmit(self)
            }
            fn poll_event(&mut self) -> Option<Event> {
                <$t>::poll_event(self)
            }
            fn poll_timeout(&self) -> Option<Instant> {
                <$t>::poll_timeout(self)
            }
            fn pending_output(&self) -> usize {
                <$t>::pending_output(self)
            }
            fn is_closed(&self) -> bool {
                <$t>::is_closed(self)
            }
            fn close(&mut self, reason: DisconnectReason, description: &str) {
                <$t>::close(self, reason, description)
            }
            fn channel_consumed(&mut self, id: ChannelId, n: usize) -> Result<(), ChannelError> {
                <$t>::channel_consumed(self, id, n)
            }
            fn channel_request_reply(&mut self, id: ChannelId, token: RequestToken, success: bool) -> Result<(), ChannelError> {
                <$t>::channel_request_reply(self, id, token, success)
            }
            fn global_request_reply(&mut self, token: GlobalToken, reply: GlobalReply) -> Result<(), ChannelError> {
                <$t>::global_request_reply(self, token, reply)
            }
            fn reject_channel(&mut self, id: ChannelId, reason: OpenFailure, description: &str) -> Result<(), ChannelError> {
                <$t>::reject_channel(self, id, reason, description)
            }
            fn channel_send(&mut self, id: ChannelId, data: &[u8]) -> Result<usize, ChannelError> {
                <$t>::channel_send(self, id, data)
            }
            fn channel_send_extended(&mut self, id: ChannelId, code: u32, data: &[u8]) -> Result<usize, ChannelError> {
                <$t>::channel_send_extended(self, id, code, data)
            }
            fn channel_eof(&mut self, id: ChannelId) -> Result<(), ChannelError> {
                <$t>::channel_eof(self, id)
            }
            fn channel_close(&mut self, id: ChannelId) -> Result<(), ChannelError> {
                <$t>::channel_close(self, id)
            }
            fn channel_request(&mut self, id: ChannelId, request: &ChannelRequest, want_reply: bool) -> Result<(), ChannelError> {
                <$t>::channel_request(self, id, request, want_reply)
            }
            fn open_channel(&mut self, kind: &ChannelKind) -> Result<ChannelId, ChannelError> {
                <$t>::open_channel(self, kind)
            }
            fn accept_channel(&mut self, id: ChannelId) -> Result<(), ChannelError> {
                <$t>::accept_channel(self, id)
            }
            fn global_request(&mut self, request: &GlobalRequest, want_reply: bool) -> Result<Option<GlobalToken>, ChannelError> {
                <$t>::global_request(self, request, want_reply)
            }
        }
    )*};
}

impl_core!(client::Connection, server::Connection);

/// Received bytes of one stream of a channel (data or extended data), as the core handed
/// them over, and how much of them the peer's window has not been credited for yet.
///
/// Flow control: a stream may hold up to `absorb` bytes that are already credited (read
/// ahead); beyond that the window opens only as the application reads. Standard output
/// absorbs nothing, so a slow reader holds back its own channel and nothing else. Standard
/// error absorbs up to its limit, so a command flooding both streams cannot stall standard
/// output while nobody reads its standard error (Paramiko #1778): the window is one per
/// channel, shared by both streams.
pub(crate) struct Incoming {
    chunks: VecDeque<Bytes>,
    len: usize,
    uncredited: usize,
    absorb: usize,
}

/// Default read-ahead of a channel's standard error.
pub(crate) const STDERR_ABSORB: usize = 128 << 20;

impl Incoming {
    fn new(absorb: usize) -> Self {
        Self { chunks: VecDeque::new(), len: 0, uncredited: 0, absorb }
    }

    /// Credits what may be credited now; returns that many bytes.
    fn settle(&mut self) -> usize {
        let keep = self.uncredited.min(self.len.saturating_sub(self.absorb));
        std::mem::replace(&mut self.uncredited, keep) - keep
    }

    /// Adds received bytes; returns how many to credit to the peer now.
    fn push(&mut self, b: Bytes) -> usize {
        self.len += b.len();
        self.uncredited += b.len();
        if !b.is_empty() {
            self.chunks.push_back(b);
        }
        self.settle()
    }

    /// Moves everything of `other` behind our bytes; returns how many to credit now.
    fn append(&mut self, other: &mut Incoming) -> usize {
        self.len += std::mem::take(&mut other.len);
        self.uncredited += std::mem::take(&mut other.uncredited);
        self.chunks.append(&mut other.chunks);
        self.settle()
    }

    /// Drops every buffered byte; returns how many to credit now.
    fn clear(&mut self) -> usize {
        self.chunks.clear();
        self.len = 0;
        std::mem::take(&mut self.uncredited)
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Copies up to `out.len()` bytes out; returns how many, and how many to credit.
    pub(crate) fn take(&mut self, out: &mut [u8]) -> (usize, usize) {
        let mut n = 0;
        while n < out.len() {
            let Some(front) = self.chunks.front_mut() else { break };
            let k = front.len().min(out.len() - n);
            if let (Some(dst), Some(src)) = (out.get_mut(n..n + k), front.get(..k)) {
                dst.copy_from_slice(src);
            }
            bytes::Buf::advance(front, k);
            if front.is_empty() {
                self.chunks.pop_front();
            }
            n += k;
        }
        self.len -= n;
        (n, self.settle())
    }
}

/// Whether a channel we opened is open yet.
pub(crate) enum Opening {
    Pending,
    Open,
    Failed { reason: OpenFailure, description: String },
}

/// What the driver keeps per channel.
pub(crate) struct ChannelState {
    pub(crate) opening: Opening,
    pub(crate) stdout: Incoming,
    pub(crate) stderr: Incoming,
    pub(crate) eof: bool,
    pub(crate) closed: bool,
    /// The handle is gone: data is consumed as it arrives and the entry goes at close.
    pub(crate) dropped: bool,
    /// Standard error goes into `stdout` (Paramiko's `set_combine_stderr`).
    pub(crate) combine_stderr: bool,
    /// Standard output is no longer wanted (`shutdown_read`): consumed as it arrives.
    pub(crate) discard_stdout: bool,
    pub(crate) exit: Option<ExitStatus>,
    /// Answers to our want-reply requests, in order.
    pub(crate) replies: VecDeque<(String, bool)>,
    /// Wakes the channel's readers and other waiters for news (data, EOF, close, replies,
    /// the open's outcome); `room` wakes its writers. Each wait wakes only for its own kind
    /// of change, so a thread reading a channel sleeps while another writes to it.
    news: Waiters,
    room: Waiters,
}

/// A condition variable, how many wait on it, and whether it has something to tell them.
#[derive(Default)]
struct Waiters {
    cv: Arc<Condvar>,
    waiting: u32,
    dirty: bool,
}

impl ChannelState {
    /// This channel (`id`) has news or room for its waiters; `dirty` lists the channels
    /// that have, once each.
    fn mark(&mut self, id: ChannelId, dirty: &mut Vec<ChannelId>, news: bool, room: bool) {
        let was = self.news.dirty || self.room.dirty;
        self.news.dirty |= news;
        self.room.dirty |= room;
        if !was && (self.news.dirty || self.room.dirty) {
            dirty.push(id);
        }
    }

    pub(crate) fn new(opening: Opening) -> Self {
        Self {
            opening,
            stdout: Incoming::new(0),
            stderr: Incoming::new(STDERR_ABSORB),
            eof: false,
            closed: false,
            dropped: false,
            combine_stderr: false,
            discard_stdout: false,
            exit: None,
            replies: VecDeque::new(),
            news: Waiters::default(),
            room: Waiters::default(),
        }
    }
}

/// How the connection ended.
#[derive(Clone, Debug)]
pub(crate) struct Ended {
    pub(crate) reason: DisconnectReason,
    pub(crate) description: String,
}

impl Ended {
    pub(crate) fn error(&self) -> Error {
        Error::Disconnected { reason: self.reason, description: self.description.clone() }
    }
}

/// Everything behind the lock.
pub(crate) struct State<C> {
    pub(crate) conn: C,
    pub(crate) channels: HashMap<ChannelId, ChannelState>,
    /// Connection-level events for the role's front-end (host key, auth, global requests,
    /// channel open requests).
    pub(crate) events: VecDeque<Event>,
    /// `events` grew or the connection ended since the event waiters were last woken.
    events_pushed: bool,
    /// How many wait for any change (setup steps, `select`).
    any_waiting: u32,
    /// How many wait for connection-level events.
    events_waiting: u32,
    /// The writer thread sleeps on `wake` and nobody has woken it yet. A notify costs a
    /// system call even with no one waiting, so a busy writer is not notified at all: it
    /// looks for output again before it sleeps.
    writer_asleep: bool,
    /// Channels with news or room for their waiters since they were last woken.
    dirty: Vec<ChannelId>,
    pub(crate) ended: Option<Ended>,
    /// Whether a front-end answers these itself; otherwise the engine says no.
    pub(crate) takes_channel_requests: bool,
    pub(crate) takes_global_requests: bool,
    pub(crate) takes_channel_opens: bool,
}

/// What a waiter waits for: it picks the condition variable that wakes it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Wake {
    /// Any change.
    Any,
    /// Connection-level events, or the end.
    Events,
    /// News on a channel: data, EOF, close, request replies, the open's outcome.
    News(ChannelId),
    /// Room to send on a channel: window, output buffer.
    Room(ChannelId),
}

impl<C: Core> State<C> {
    /// Channel `id` has news for its waiters (`news`) or room for its writers (`room`).
    fn mark(&mut self, id: ChannelId, news: bool, room: bool) {
        if let Some(ch) = self.channels.get_mut(&id) {
            ch.mark(id, &mut self.dirty, news, room);
        }
    }

    /// Counts a waiter in for `wake`. Returns what it was counted as (a wait on a channel
    /// that is gone waits for any change) and the channel's condition variable, `None` for
    /// the connection's own ones.
    fn count_in(&mut self, wake: Wake) -> (Wake, Option<Arc<Condvar>>) {
        let w = match wake {
            Wake::Events => {
                self.events_waiting += 1;
                return (wake, None);
            }
            Wake::News(id) => self.channels.get_mut(&id).map(|ch| &mut ch.news),
            Wake::Room(id) => self.channels.get_mut(&id).map(|ch| &mut ch.room),
            Wake::Any => None,
        };
        match w {
            Some(w) => {
                w.waiting += 1;
                (wake, Some(Arc::clone(&w.cv)))
            }
            None => {
                self.any_waiting += 1;
                (Wake::Any, None)
            }
        }
    }

    /// Counts out a waiter counted in as `counted` (a channel gone meanwhile took its
    /// count with it).
    fn count_out(&mut self, counted: Wake) {
        let w = match counted {
            Wake::Events => {
                self.events_waiting = self.events_waiting.saturating_sub(1);
                return;
            }
            Wake::Any => {
                self.any_waiting = self.any_waiting.saturating_sub(1);
                return;
            }
            Wake::News(id) => self.channels.get_mut(&id).map(|ch| &mut ch.news),
            Wake::Room(id) => self.channels.get_mut(&id).map(|ch| &mut ch.room),
        };
        if let Some(w) = w {
            w.waiting = w.waiting.saturating_sub(1);
        }
    }

    /// The connection is over: every waiter must look.
    fn end(&mut self, ended: Ended) {
        self.ended = Some(ended);
        self.events_pushed = true;
        for (id, ch) in &mut self.channels {
            ch.mark(*id, &mut self.dirty, true, true);
        }
    }

    /// Wakes the writers of every channel with one waiting: output room was freed.
    fn room_freed(&mut self) {
        for (id, ch) in self.channels.iter_mut().filter(|(_, ch)| ch.room.waiting > 0) {
            ch.mark(*id, &mut self.dirty, false, true);
        }
    }

    /// Returns `n` bytes of window to the peer of channel `id`.
    pub(crate) fn credit(&mut self, id: ChannelId, n: usize) {
        if n > 0 {
            let _ = self.conn.channel_consumed(id, n);
        }
    }

    /// Sorts the core's events: channel traffic into its channel, the rest into `events`.
    fn dispatch(&mut self) {
        while let Some(ev) = self.conn.poll_event() {
            match ev {
                Event::ChannelOpened { id } => {
                    if let Some(ch) = self.channels.get_mut(&id) {
                        ch.opening = Opening::Open;
                    }
                    self.mark(id, true, true);
                }
                Event::ChannelOpenFailed { id, reason, description } => {
                    if let Some(ch) = self.channels.get_mut(&id) {
                        ch.opening = Opening::Failed { reason, description };
                    }
                    self.mark(id, true, true);
                }
                Event::ChannelData { id, data } => {
                    let credit = match self.channels.get_mut(&id) {
                        Some(ch) if !ch.dropped && !ch.discard_stdout => ch.stdout.push(data),
                        _ => data.len(),
                    };
                    self.credit(id, credit);
                    self.mark(id, true, false);
                }
                Event::ChannelExtendedData { id, code, data } => {
                    let credit = match self.channels.get_mut(&id) {
                        Some(ch) if code == 1 && !ch.dropped => match (ch.combine_stderr, ch.discard_stdout) {
                            (true, true) => data.len(),
                            (true, false) => ch.stdout.push(data),
                            (false, _) => ch.stderr.push(data),
                        },
                        // Other extended data types have no reader: consume them so the
                        // window keeps moving.
                        _ => data.len(),
                    };
                    self.credit(id, credit);
                    self.mark(id, true, false);
                }
                Event::ChannelEof { id } => {
                    if let Some(ch) = self.channels.get_mut(&id) {
                        ch.eof = true;
                    }
                    self.mark(id, true, false);
                }
                Event::ChannelRequestResult { id, request, success } => {
                    if let Some(ch) = self.channels.get_mut(&id) {
                        ch.replies.push_back((request, success));
                    }
                    self.mark(id, true, false);
                }
                Event::ChannelWritable { id } => self.mark(id, false, true),
                Event::ChannelClosed { id, exit } => match self.channels.get_mut(&id) {
                    Some(ch) if ch.dropped => {
                        // Handles of its streams may still wait on it: they find it gone.
                        if let Some(ch) = self.channels.remove(&id) {
                            ch.news.cv.notify_all();
                            ch.room.cv.notify_all();
                        }
                    }
                    Some(ch) => {
                        ch.closed = true;
                        ch.eof = true;
                        ch.exit = exit;
                        self.mark(id, true, true);
                    }
                    None => {}
                },
                // Requests of the peer on our channels that no handler takes (OpenSSH's
                // keepalive@openssh.com among them) get a "no", so the peer never waits.
                Event::ChannelRequest { id, token: Some(token), request } if !self.takes_channel_requests => {
                    let _ = request;
                    let _ = self.conn.channel_request_reply(id, token, false);
                }
                Event::GlobalRequest { token, request } if !self.takes_global_requests => {
                    let _ = request;
                    if let Some(token) = token {
                        let _ = self.conn.global_request_reply(token, GlobalReply::Failure);
                    }
                }
                Event::ChannelOpenRequest { id, kind } if !self.takes_channel_opens => {
                    let _ = kind;
                    let _ = self.conn.reject_channel(
                        id,
                        OpenFailure::AdministrativelyProhibited,
                        "no handler for this channel",
                    );
                }
                Event::Disconnected { reason, description, .. } => {
                    tracing::debug!(%reason, %description, "disconnected");
                    self.end(Ended { reason, description });
                }
                // What a front-end waits for.
                ev @ (Event::HostKey { .. }
                | Event::AuthBanner { .. }
                | Event::AuthSuccess { .. }
                | Event::AuthFailure { .. }
                | Event::AuthPasswordChange { .. }
                | Event::AuthPrompts(_)
                | Event::AuthSign { .. }
                | Event::AuthRequest { .. }
                | Event::GlobalRequestResult { .. }
                | Event::ChannelRequest { .. }
                | Event::GlobalRequest { .. }
                | Event::ChannelOpenRequest { .. }) => {
                    self.events.push_back(ev);
                    self.events_pushed = true;
                }
                // Informational (key exchanges, ext-info, debug, pong, host key
                // announcements).
                _ => {}
            }
        }
    }
}

/// The lock, the condition variables and the thread handles of one connection.
pub(crate) struct Shared<C> {
    state: Mutex<State<C>>,
    /// Wakes the waits for any change (setup steps, `select`, global request replies) on
    /// every state change, when there are such waits.
    changed: Condvar,
    /// Notified when `events` grows or the connection ends: a front-end waiting for events
    /// sleeps through the channel traffic that `changed` wakes everyone for.
    events: Condvar,
    /// Wakes the writer thread: output or a new timer may be waiting.
    wake: Condvar,
    shutdown: Box<dyn Fn() + Send + Sync>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// A locked view of the state that wakes the waiters when dropped, and the writer when it
/// has something to do, so every command's output goes out without each call remembering
/// to.
pub(crate) struct Guard<'a, C: Core> {
    pub(crate) st: MutexGuard<'a, State<C>>,
    shared: &'a Shared<C>,
    timer: Option<Instant>,
}

impl<C: Core> State<C> {
    /// Whether the writer thread has work: output to send, a timer that moved, or a
    /// connection to end. Waking it only then spares a context switch per state change.
    fn writer_has_work(&self, timer_before: Option<Instant>) -> bool {
        self.conn.pending_output() > 0 || self.conn.poll_timeout() != timer_before || self.conn.is_closed()
    }

    /// Wakes the writer thread if it sleeps and has work; once per sleep.
    fn wake_writer(&mut self, wake: &Condvar, timer_before: Option<Instant>) {
        if self.writer_asleep && self.writer_has_work(timer_before) {
            self.writer_asleep = false;
            wake.notify_one();
        }
    }
}

impl<C: Core> std::ops::Deref for Guard<'_, C> {
    type Target = State<C>;
    fn deref(&self) -> &State<C> {
        &self.st
    }
}

impl<C: Core> std::ops::DerefMut for Guard<'_, C> {
    fn deref_mut(&mut self) -> &mut State<C> {
        &mut self.st
    }
}

impl<C: Core> Drop for Guard<'_, C> {
    fn drop(&mut self) {
        self.st.wake_writer(&self.shared.wake, self.timer);
        self.shared.notify_waiters(&mut self.st);
    }
}

impl<C: Core> Shared<C> {
    /// Starts the reader and writer threads for `conn` over `stream`.
    pub(crate) fn start(conn: C, stream: Stream, name: &str) -> Result<Arc<Self>, Error> {
        Self::start_with(conn, stream, name, false)
    }

    /// Like [`Shared::start`]; `front_end_answers` says a front-end answers the peer's
    /// channel opens, channel requests and global requests itself (servers).
    pub(crate) fn start_with(conn: C, stream: Stream, name: &str, front_end_answers: bool) -> Result<Arc<Self>, Error> {
        let Stream { reader, writer, shutdown } = stream;
        let shared = Arc::new(Self {
            state: Mutex::new(State {
                conn,
                channels: HashMap::new(),
                events: VecDeque::new(),
                events_pushed: false,
                any_waiting: 0,
                events_waiting: 0,
                writer_asleep: false,
                dirty: Vec::new(),
                ended: None,
                takes_channel_requests: front_end_answers,
                takes_global_requests: front_end_answers,
                takes_channel_opens: front_end_answers,
            }),
            changed: Condvar::new(),
            events: Condvar::new(),
            wake: Condvar::new(),
            shutdown,
            threads: Mutex::new(Vec::new()),
        });
        let r = Arc::clone(&shared);
        let reader = thread::Builder::new().name(format!("{name}-read")).spawn(move || r.read_loop(reader))?;
        let w = Arc::clone(&shared);
        let writer = thread::Builder::new().name(format!("{name}-write")).spawn(move || w.write_loop(writer))?;
        shared.threads_lock().extend([reader, writer]);
        Ok(shared)
    }

    fn threads_lock(&self) -> MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.threads.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Locks the state (a panicked holder cannot poison it for everyone else: the state is
    /// still consistent at every core call boundary).
    pub(crate) fn lock(&self) -> Guard<'_, C> {
        let st = self.raw_lock();
        let timer = st.conn.poll_timeout();
        Guard { st, shared: self, timer }
    }

    fn raw_lock(&self) -> MutexGuard<'_, State<C>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wakes whoever waits for what changed: everyone on `changed`, the event waiters only
    /// when there are events for them.
    fn notify_waiters(&self, st: &mut State<C>) {
        if st.any_waiting > 0 {
            self.changed.notify_all();
        }
        if std::mem::take(&mut st.events_pushed) && st.events_waiting > 0 {
            self.events.notify_all();
        }
        // Drained, not taken: the list keeps its allocation from packet to packet.
        let State { dirty, channels, .. } = st;
        for id in dirty.drain(..) {
            let Some(ch) = channels.get_mut(&id) else { continue };
            for w in [&mut ch.news, &mut ch.room] {
                if std::mem::take(&mut w.dirty) && w.waiting > 0 {
                    w.cv.notify_all();
                }
            }
        }
    }

    /// Waits until `ready` returns `Some`, the connection ends, or `deadline` passes.
    /// `ready` may issue core commands: their output is sent when it returns.
    /// `wake` says what `ready` looks at, so that only a change of that wakes the wait
    /// (the end of the connection wakes every wait).
    pub(crate) fn wait_for<T>(
        &self,
        wake: Wake,
        deadline: Option<Instant>,
        what: &'static str,
        mut ready: impl FnMut(&mut State<C>) -> Option<Result<T, Error>>,
    ) -> Result<T, Error> {
        let mut st = self.raw_lock();
        let timer = st.conn.poll_timeout();
        let result = loop {
            if let Some(r) = ready(&mut st) {
                break r;
            }
            if let Some(end) = &st.ended {
                break Err(end.error());
            }
            let now = Instant::now();
            let wait = match deadline {
                Some(d) if d <= now => break Err(Error::Timeout(what)),
                Some(d) => Some(d - now),
                None => None,
            };
            let (counted, channel_cv) = st.count_in(wake);
            let cv: &Condvar = match (&channel_cv, counted) {
                (Some(cv), _) => cv,
                (None, Wake::Events) => &self.events,
                (None, _) => &self.changed,
            };
            st = match wait {
                Some(d) => cv.wait_timeout(st, d).unwrap_or_else(|p| p.into_inner()).0,
                None => cv.wait(st).unwrap_or_else(|p| p.into_inner()),
            };
            st.count_out(counted);
        };
        st.wake_writer(&self.wake, timer);
        self.notify_waiters(&mut st);
        drop(st);
        result
    }

    fn read_loop(&self, mut reader: Box<dyn Read + Send>) {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let r = reader.read(&mut buf);
            let mut g = self.lock();
            let st = &mut *g.st;
            let fed = match r {
                Ok(0) => st.conn.handle_eof(),
                Ok(n) => st.conn.handle_input(buf.get(..n).unwrap_or_default(), Instant::now()),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    st.conn.close(DisconnectReason::ConnectionLost, &format!("read: {e}"));
                    Ok(())
                }
            };
            // A protocol error has already queued the DISCONNECT and raised the event.
            if let Err(e) = &fed {
                tracing::debug!(error = %e, "protocol error");
            }
            st.dispatch();
            if st.conn.is_closed() {
                if st.ended.is_none() {
                    st.end(Ended { reason: DisconnectReason::ConnectionLost, description: "stream ended".into() });
                }
                return;
            }
        }
    }

    fn write_loop(&self, mut writer: Box<dyn Write + Send>) {
        let mut out: Vec<Bytes> = Vec::new();
        loop {
            let mut st = self.raw_lock();
            loop {
                let now = Instant::now();
                if st.conn.poll_timeout().is_some_and(|t| t <= now) {
                    let _ = st.conn.handle_timeout(now);
                    st.dispatch();
                    self.notify_waiters(&mut st);
                }
                while let Some(b) = st.conn.poll_transmit() {
                    out.push(b);
                }
                if !out.is_empty() || st.conn.is_closed() {
                    break;
                }
                let wait = st.conn.poll_timeout().map(|t| t.saturating_duration_since(now));
                st.writer_asleep = true;
                st = match wait {
                    Some(d) => {
                        self.wake.wait_timeout(st, d.max(Duration::from_millis(1))).unwrap_or_else(|p| p.into_inner()).0
                    }
                    None => self.wake.wait(st).unwrap_or_else(|p| p.into_inner()),
                };
                st.writer_asleep = false;
            }
            let closed = st.conn.is_closed();
            // Taking the output freed room that senders may wait for.
            st.dispatch();
            st.room_freed();
            self.notify_waiters(&mut st);
            drop(st);
            let mut failed = None;
            for b in out.drain(..) {
                if let Err(e) = writer.write_all(&b) {
                    failed = Some(e);
                    break;
                }
            }
            if failed.is_none()
                && let Err(e) = writer.flush()
            {
                failed = Some(e);
            }
            if let Some(e) = failed {
                let mut g = self.lock();
                g.st.conn.close(DisconnectReason::ConnectionLost, &format!("write: {e}"));
                g.st.dispatch();
                drop(g);
                (self.shutdown)();
                return;
            }
            if closed {
                // The DISCONNECT (if any) is out: end the stream so the reader returns.
                (self.shutdown)();
                return;
            }
        }
    }

    /// Ends the connection: DISCONNECT goes out, then the threads stop on their own.
    pub(crate) fn disconnect(&self, reason: DisconnectReason, description: &str) {
        let mut g = self.lock();
        if !g.st.conn.is_closed() {
            g.st.conn.close(reason, description);
            g.st.dispatch();
        }
    }

    /// Ends the connection (sending DISCONNECT) and joins the threads.
    pub(crate) fn close(&self, reason: DisconnectReason, description: &str) {
        self.disconnect(reason, description);
        let threads: Vec<JoinHandle<()>> = self.threads_lock().drain(..).collect();
        let me = thread::current().id();
        for t in threads {
            if t.thread().id() != me {
                let _ = t.join();
            }
        }
    }
}

impl<C: Core> Shared<C> {
    /// Opens a channel of `kind` and waits until the peer confirms or refuses it.
    pub(crate) fn open_channel(
        self: &Arc<Self>,
        kind: &ChannelKind,
        deadline: Option<Instant>,
    ) -> Result<Channel, Error> {
        let id = {
            let mut g = self.lock();
            let id = g.conn.open_channel(kind)?;
            g.channels.insert(id, ChannelState::new(Opening::Pending));
            id
        };
        self.wait_for(Wake::News(id), deadline, "the channel to open", |st| {
            let ch = st.channels.get_mut(&id)?;
            match &ch.opening {
                Opening::Pending => None,
                Opening::Open => Some(Ok(())),
                Opening::Failed { reason, description } => {
                    let e = Error::ChannelOpen { reason: *reason, description: description.clone() };
                    st.channels.remove(&id);
                    Some(Err(e))
                }
            }
        })?;
        let link: Arc<dyn Link> = self.clone();
        Ok(Channel::new(link, id, None))
    }

    /// Accepts the peer's channel `id` (from a `ChannelOpenRequest` event) as a handle.
    pub(crate) fn accept_channel(self: &Arc<Self>, id: ChannelId) -> Result<Channel, Error> {
        {
            let mut g = self.lock();
            g.conn.accept_channel(id)?;
            g.channels.insert(id, ChannelState::new(Opening::Open));
        }
        let link: Arc<dyn Link> = self.clone();
        Ok(Channel::new(link, id, None))
    }

    /// Sends a global request and waits for its reply.
    pub(crate) fn global_request(
        &self,
        request: &GlobalRequest,
        deadline: Option<Instant>,
    ) -> Result<GlobalReply, Error> {
        let token = self.lock().conn.global_request(request, true)?;
        let Some(token) = token else { return Err(Error::RequestRefused(request.name().to_owned())) };
        self.wait_for(Wake::Any, deadline, "the global request reply", |st| {
            let at = st
                .events
                .iter()
                .position(|e| matches!(e, Event::GlobalRequestResult { token: t, .. } if *t == token))?;
            match st.events.remove(at) {
                Some(Event::GlobalRequestResult { reply, .. }) => Some(Ok(reply)),
                _ => None,
            }
        })
    }
}

/// Which of a channel's two incoming streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Which {
    Stdout,
    Stderr,
}

/// The channel operations a [`crate::Channel`] handle needs, whatever the role.
pub(crate) trait Link: Send + Sync {
    fn read(&self, id: ChannelId, which: Which, buf: &mut [u8], deadline: Option<Instant>) -> Result<usize, Error>;
    fn write(&self, id: ChannelId, which: Which, data: &[u8], deadline: Option<Instant>) -> Result<usize, Error>;
    fn request(
        &self,
        id: ChannelId,
        request: &ChannelRequest,
        want_reply: bool,
        deadline: Option<Instant>,
    ) -> Result<(), Error>;
    fn eof(&self, id: ChannelId) -> Result<(), Error>;
    fn close(&self, id: ChannelId);
    fn exit_status(&self, id: ChannelId, deadline: Option<Instant>) -> Result<Option<ExitStatus>, Error>;
    fn buffered(&self, id: ChannelId, which: Which) -> usize;
    fn configure(&self, id: ChannelId, setting: StreamSetting);
    /// Waits until one of `ids` has something to read (data on either stream, EOF or
    /// close); returns the positions in `ids` of those that do.
    fn wait_readable(&self, ids: &[ChannelId], deadline: Option<Instant>) -> Result<Vec<usize>, Error>;
}

/// How a channel's incoming streams are handled.
#[derive(Clone, Copy, Debug)]
pub(crate) enum StreamSetting {
    /// Standard error goes into standard output (what is buffered moves over now).
    CombineStderr,
    /// Standard output is not wanted any more: dropped, and consumed as it arrives.
    ShutdownRead,
    /// Standard error may be read ahead up to this many bytes.
    StderrReadAhead(usize),
}

impl<C: Core> Link for Shared<C> {
    fn read(&self, id: ChannelId, which: Which, buf: &mut [u8], deadline: Option<Instant>) -> Result<usize, Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.wait_for(Wake::News(id), deadline, "channel data", |st| {
            let Some(ch) = st.channels.get_mut(&id) else { return Some(Ok(0)) };
            let incoming = match which {
                Which::Stdout => &mut ch.stdout,
                Which::Stderr => &mut ch.stderr,
            };
            if incoming.len() > 0 {
                let (n, credit) = incoming.take(buf);
                st.credit(id, credit);
                return Some(Ok(n));
            }
            (ch.eof || ch.closed).then_some(Ok(0))
        })
    }

    fn write(&self, id: ChannelId, which: Which, data: &[u8], deadline: Option<Instant>) -> Result<usize, Error> {
        if data.is_empty() {
            return Ok(0);
        }
        let send = |st: &mut State<C>| match which {
            Which::Stdout => st.conn.channel_send(id, data),
            Which::Stderr => st.conn.channel_send_extended(id, 1, data),
        };
        self.wait_for(Wake::Room(id), deadline, "channel window", |st| match send(st) {
            Ok(0) => None,
            Ok(n) => Some(Ok(n)),
            Err(ChannelError::Blocked(_) | ChannelError::OutputFull) => None,
            Err(e) => Some(Err(Error::Channel(e))),
        })
    }

    fn request(
        &self,
        id: ChannelId,
        request: &ChannelRequest,
        want_reply: bool,
        deadline: Option<Instant>,
    ) -> Result<(), Error> {
        let name = request.name().to_owned();
        {
            let mut g = self.lock();
            g.conn.channel_request(id, request, want_reply)?;
            if let Some(ch) = g.channels.get_mut(&id) {
                ch.replies.clear();
            }
        }
        if !want_reply {
            return Ok(());
        }
        self.wait_for(Wake::News(id), deadline, "channel request reply", |st| {
            let Some(ch) = st.channels.get_mut(&id) else { return Some(Err(Error::RequestRefused(name.clone()))) };
            match ch.replies.pop_front() {
                Some((_, true)) => Some(Ok(())),
                Some((_, false)) => Some(Err(Error::RequestRefused(name.clone()))),
                None if ch.closed => Some(Err(Error::RequestRefused(name.clone()))),
                None => None,
            }
        })
    }

    fn eof(&self, id: ChannelId) -> Result<(), Error> {
        let mut g = self.lock();
        // A writer of another handle waits in vain from now on: let it find out.
        g.mark(id, false, true);
        match g.conn.channel_eof(id) {
            Ok(()) | Err(ChannelError::Finished(_)) => Ok(()),
            Err(e) => Err(Error::Channel(e)),
        }
    }

    fn close(&self, id: ChannelId) {
        let mut g = self.lock();
        let _ = g.conn.channel_close(id);
        let closed = match g.channels.get_mut(&id) {
            Some(ch) => {
                ch.dropped = true;
                ch.closed
            }
            None => false,
        };
        if closed {
            // Handles of its streams may still wait on it: they find it gone.
            if let Some(ch) = g.channels.remove(&id) {
                ch.news.cv.notify_all();
                ch.room.cv.notify_all();
            }
        } else {
            g.mark(id, true, true);
        }
    }

    fn exit_status(&self, id: ChannelId, deadline: Option<Instant>) -> Result<Option<ExitStatus>, Error> {
        self.wait_for(Wake::News(id), deadline, "exit status", |st| match st.channels.get(&id) {
            None => Some(Ok(None)),
            Some(ch) if ch.closed => Some(Ok(ch.exit.clone())),
            Some(_) => None,
        })
    }

    fn configure(&self, id: ChannelId, setting: StreamSetting) {
        let mut g = self.lock();
        let st = &mut *g.st;
        let Some(ch) = st.channels.get_mut(&id) else { return };
        let credit = match setting {
            StreamSetting::CombineStderr => {
                ch.combine_stderr = true;
                if ch.discard_stdout { ch.stderr.clear() } else { ch.stdout.append(&mut ch.stderr) }
            }
            StreamSetting::ShutdownRead => {
                ch.discard_stdout = true;
                ch.stdout.clear() + if ch.combine_stderr { ch.stderr.clear() } else { 0 }
            }
            StreamSetting::StderrReadAhead(n) => {
                ch.stderr.absorb = n;
                ch.stderr.settle()
            }
        };
        st.credit(id, credit);
        // Another thread may read the stream that changed.
        st.mark(id, true, false);
    }

    fn wait_readable(&self, ids: &[ChannelId], deadline: Option<Instant>) -> Result<Vec<usize>, Error> {
        self.wait_for(Wake::Any, deadline, "a readable channel", |st| {
            let ready: Vec<usize> = ids
                .iter()
                .enumerate()
                .filter(|(_, id)| {
                    st.channels
                        .get(id)
                        .is_none_or(|ch| ch.stdout.len() > 0 || ch.stderr.len() > 0 || ch.eof || ch.closed)
                })
                .map(|(i, _)| i)
                .collect();
            (!ready.is_empty()).then_some(Ok(ready))
        })
    }

    fn buffered(&self, id: ChannelId, which: Which) -> usize {
        let g = self.lock();
        g.channels.get(&id).map_or(0, |ch| match which {
            Which::Stdout => ch.stdout.len(),
            Which::Stderr => ch.stderr.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Incoming;
    use bytes::Bytes;

    fn chunk(n: usize) -> Bytes {
        Bytes::from(vec![7u8; n])
    }

    #[test]
    fn without_read_ahead_credit_follows_reads() {
        let mut s = Incoming::new(0);
        assert_eq!(s.push(chunk(100)), 0);
        assert_eq!(s.push(chunk(50)), 0);
        let mut out = [0u8; 120];
        assert_eq!(s.take(&mut out), (120, 120));
        assert_eq!(s.take(&mut out), (30, 30));
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn read_ahead_is_credited_on_arrival_up_to_its_limit() {
        let mut s = Incoming::new(100);
        assert_eq!(s.push(chunk(60)), 60);
        // 40 more fit; the other 20 wait for a read.
        assert_eq!(s.push(chunk(60)), 40);
        assert_eq!(s.len(), 120);
        let mut out = [0u8; 10];
        assert_eq!(s.take(&mut out), (10, 10));
        assert_eq!(s.take(&mut out), (10, 10));
        // Nothing uncredited is left: reads below the limit credit nothing.
        assert_eq!(s.take(&mut out), (10, 0));
        // 90 buffered: 10 of the next 30 fit; raising the limit credits the rest at once.
        assert_eq!(s.push(chunk(30)), 10);
        s.absorb = 1000;
        assert_eq!(s.settle(), 20);
    }

    #[test]
    fn moving_and_dropping_keep_the_window_whole() {
        let mut err = Incoming::new(10);
        assert_eq!(err.push(chunk(25)), 10);
        let mut out = Incoming::new(0);
        assert_eq!(out.push(chunk(5)), 0);
        // Moved into a stream without read-ahead, the credited part stays credited.
        assert_eq!(out.append(&mut err), 0);
        assert_eq!((out.len(), err.len()), (30, 0));
        assert_eq!(out.clear(), 20);
        assert_eq!(out.len(), 0);
    }
}
