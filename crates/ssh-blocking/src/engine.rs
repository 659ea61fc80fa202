//! The I/O engine shared by client and server connections: two threads per connection
//! drive the sans-IO core, and user handles wait on its state.
//!
//! - The **reader** thread blocks in `read`, feeds the bytes to the core and has the
//!   core's [`Demux`] sort the events it raises into per-channel buffers and the
//!   front-end's queue.
//! - The **writer** thread sends what the core wants sent and fires its timers. It writes
//!   without holding the state lock, so a peer that does not read cannot stop the reader
//!   (both sides writing into full socket buffers would otherwise deadlock).
//!
//! User calls lock the state, issue a core command, and wake the writer. Waiting calls sleep
//! on the condition variable of what they wait for (a channel's news or room, the
//! front-end's events, or any change), woken only when that changed.

use std::io::{Read, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ssh_proto::DisconnectReason;
use ssh_proto::connection::{
    ChannelError, ChannelId, ChannelKind, ChannelRequest, ExitStatus, GlobalReply, GlobalRequest,
};
use ssh_proto::driver::{
    Change, ChannelBuffers, ChannelStream, Demux, Driven, Ended, FrontEnd, Input, Opening, StreamSetting,
};

use crate::Error;
use crate::channel::Channel;
use crate::stream::Stream;

#[cfg(unix)]
mod sink;

/// A connection the engine can drive: either role, movable to its threads.
pub(crate) trait Core: Driven + Send + 'static {}

impl<T: Driven + Send + 'static> Core for T {}

/// What the engine keeps per channel: the core's buffers, and its waiters.
pub(crate) type ChannelState = ChannelBuffers<Waiters>;

/// Wakes the channel's readers and other waiters for news (data, EOF, close, replies, the
/// open's outcome); `room` wakes its writers. Each wait wakes only for its own kind of
/// change, so a thread reading a channel sleeps while another writes to it.
#[derive(Default)]
pub(crate) struct Waiters {
    news: Waiter,
    room: Waiter,
    /// Where standard output goes while a copier runs (see `sink`); its copier has a
    /// condition variable of its own, woken only for what the reader thread left to it.
    /// Boxed: most channels never have one, and idle connections are counted in bytes.
    #[cfg(unix)]
    sink: Option<Box<sink::Sink>>,
}

impl Waiters {
    /// Channel `id` has `change` for its waiters; `dirty` lists the channels that have,
    /// once each. A channel gone is told at once: nothing will find it in the list.
    fn mark(&mut self, id: ChannelId, dirty: &mut Vec<ChannelId>, change: Change) {
        if change == Change::Gone {
            self.news.cv.notify_all();
            self.room.cv.notify_all();
            #[cfg(unix)]
            if let Some(sink) = &self.sink {
                sink.waiter.cv.notify_all();
            }
            return;
        }
        let was = self.news.dirty || self.room.dirty;
        self.news.dirty |= change.news();
        self.room.dirty |= change.room();
        if !was && (self.news.dirty || self.room.dirty) {
            dirty.push(id);
        }
    }
}

/// A condition variable, how many wait on it, and whether it has something to tell them.
#[derive(Default)]
struct Waiter {
    cv: Arc<Condvar>,
    waiting: u32,
    dirty: bool,
}

/// The error for waits on a connection that ended.
fn ended_error(ended: &Ended) -> Error {
    Error::Disconnected { reason: ended.reason, description: ended.description.clone() }
}

/// Everything behind the lock.
pub(crate) struct State<C> {
    pub(crate) conn: C,
    /// The channels' buffers and the front-end's events, sorted by the core.
    pub(crate) mux: Demux<Waiters>,
    /// How many wait for any change (setup steps, `select`).
    any_waiting: u32,
    /// How many wait for connection-level events.
    events_waiting: u32,
    /// The writer thread sleeps on `wake` and nobody has woken it yet. A notify costs a
    /// system call even with no one waiting, so a busy writer is not notified at all: it
    /// looks for output again before it sleeps.
    writer_asleep: bool,
    /// The pen holds output a channel writer could not send without blocking: the writer
    /// thread sends it.
    leftover: bool,
    /// Channels with news or room for their waiters since they were last woken.
    dirty: Vec<ChannelId>,
}

/// Logs the end of the connection when it just ended.
fn log_end(was_up: bool, ended: &Option<Ended>) {
    if let (true, Some(end)) = (was_up, ended) {
        tracing::debug!(reason = %end.reason, description = %end.description, "disconnected");
    }
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
    /// Work for the copier of a channel's standard output.
    #[cfg(unix)]
    Sink(ChannelId),
}

impl<C: Core> State<C> {
    /// Channel `id` has `change` for its waiters.
    fn mark(&mut self, id: ChannelId, change: Change) {
        let State { mux, dirty, .. } = self;
        mux.wake(id, change, &mut |id, w, change| w.mark(id, dirty, change));
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
            Wake::News(id) => self.mux.channels.get_mut(&id).map(|ch| &mut ch.waiters.news),
            Wake::Room(id) => self.mux.channels.get_mut(&id).map(|ch| &mut ch.waiters.room),
            #[cfg(unix)]
            Wake::Sink(id) => self.sink_waiter(id),
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
            Wake::News(id) => self.mux.channels.get_mut(&id).map(|ch| &mut ch.waiters.news),
            Wake::Room(id) => self.mux.channels.get_mut(&id).map(|ch| &mut ch.waiters.room),
            #[cfg(unix)]
            Wake::Sink(id) => self.sink_waiter(id),
        };
        if let Some(w) = w {
            w.waiting = w.waiting.saturating_sub(1);
        }
    }

    #[cfg(unix)]
    fn sink_waiter(&mut self, id: ChannelId) -> Option<&mut Waiter> {
        self.mux.channels.get_mut(&id).and_then(|ch| ch.waiters.sink.as_mut()).map(|s| &mut s.waiter)
    }

    /// Wakes the writers of every channel with one waiting: output room was freed.
    fn room_freed(&mut self) {
        for (id, ch) in self.mux.channels.iter_mut().filter(|(_, ch)| ch.waiters.room.waiting > 0) {
            ch.waiters.mark(*id, &mut self.dirty, Change::Room);
        }
    }

    /// Returns `n` bytes of window to the peer of channel `id`.
    pub(crate) fn credit(&mut self, id: ChannelId, n: usize) {
        if n > 0 {
            let _ = self.conn.channel_consumed(id, n);
        }
    }

    /// Sorts the core's events: channel traffic into its channel, the rest into `events`.
    /// Feeds what the reader got; returns whether the connection is still open.
    fn feed(&mut self, input: Input<'_>) -> bool {
        let State { conn, mux, dirty, .. } = self;
        let was_up = mux.ended.is_none();
        let (open, error) = mux.feed(conn, input, Instant::now(), &mut |id, w, change| w.mark(id, dirty, change));
        // A protocol error has already queued the DISCONNECT and raised the event.
        if let Some(e) = error {
            tracing::debug!(error = %e, "protocol error");
        }
        log_end(was_up, &mux.ended);
        open
    }

    fn dispatch(&mut self) {
        let State { conn, mux, dirty, .. } = self;
        let was_up = mux.ended.is_none();
        mux.dispatch(conn, &mut |id, w, change| w.mark(id, dirty, change));
        log_end(was_up, &mux.ended);
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
    /// The stream's writing half. Whoever takes output from the core holds it from before
    /// taking until the bytes are written, so output leaves in the order it was made: the
    /// writer thread, or a channel writer that finds the writer thread asleep and sends
    /// its own packets (sparing a thread switch per write).
    pen: Mutex<Pen>,
    shutdown: Box<dyn Fn() + Send + Sync>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// The stream's writing half, and the output taken to be written with it (kept from one
/// write to the next, so taking output allocates nothing).
struct Pen {
    writer: Box<dyn Write + Send>,
    taken: Vec<Bytes>,
    /// The socket under `writer`, if it is one, for sends without blocking.
    #[cfg(unix)]
    socket: Option<Arc<std::os::fd::OwnedFd>>,
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
        self.conn.pending_output() > 0
            || self.leftover
            || self.conn.poll_timeout() != timer_before
            || self.conn.is_closed()
    }

    /// Whether the thread that just made output may send it itself: the writer thread
    /// sleeps (so no output of its own is on the way), the timer it sleeps for is the one
    /// it knows (`timer_before`), and the connection is open.
    fn may_send_through(&self, timer_before: Option<Instant>) -> bool {
        self.writer_asleep
            && self.conn.pending_output() > 0
            && self.conn.poll_timeout() == timer_before
            && !self.conn.is_closed()
    }

    /// The pen holds output a sender left: the writer thread sends it.
    #[cfg(unix)]
    fn hand_over(&mut self, wake: &Condvar) {
        self.leftover = true;
        let timer = self.conn.poll_timeout();
        self.wake_writer(wake, timer);
    }

    /// Wakes the writer thread if it sleeps and has work; once per sleep.
    fn wake_writer(&mut self, wake: &Condvar, timer_before: Option<Instant>) {
        if self.writer_asleep && self.writer_has_work(timer_before) {
            self.writer_asleep = false;
            wake.notify_one();
        }
    }
}

#[cfg(unix)]
impl Pen {
    /// Sends what was taken as far as the socket takes it without blocking; returns
    /// whether some is left. A failed send leaves everything to the writer thread, whose
    /// blocking write meets the same error and ends the connection.
    fn send_available(&mut self) -> bool {
        let Pen { taken, socket: Some(socket), .. } = self else { return !self.taken.is_empty() };
        let mut sent = 0;
        while sent < taken.len() {
            let mut n = match sink::send_now(&*socket, taken.get(sent..).unwrap_or_default()) {
                Ok(n) if n > 0 => n,
                _ => break,
            };
            while let Some(b) = taken.get_mut(sent)
                && n > 0
            {
                let k = n.min(b.len());
                bytes::Buf::advance(b, k);
                n -= k;
                if b.is_empty() {
                    sent += 1;
                }
            }
        }
        taken.drain(..sent);
        !taken.is_empty()
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
        // Output made under a guard is small (requests, window adjustments, replies): sent
        // from here while the socket takes it at once, it spares the writer thread a
        // wake-up. The reader thread's window adjustments for data it copied are the
        // most frequent.
        #[cfg(unix)]
        if !thread::panicking()
            && self.st.may_send_through(self.timer)
            && let Ok(mut pen) = self.shared.pen.try_lock()
            && pen.socket.is_some()
        {
            self.shared.take_output(&mut self.st, &mut pen);
            if pen.send_available() {
                self.st.hand_over(&self.shared.wake);
            }
        }
        // Whatever is left for the writer thread (a timer that moved meanwhile, say).
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
        #[cfg(unix)]
        let Stream { reader, writer, shutdown, socket } = stream;
        #[cfg(not(unix))]
        let Stream { reader, writer, shutdown } = stream;
        let shared = Arc::new(Self {
            state: Mutex::new(State {
                conn,
                mux: Demux::new(if front_end_answers { FrontEnd::ALL } else { FrontEnd::NONE }),
                any_waiting: 0,
                events_waiting: 0,
                writer_asleep: false,
                leftover: false,
                dirty: Vec::new(),
            }),
            changed: Condvar::new(),
            events: Condvar::new(),
            wake: Condvar::new(),
            pen: Mutex::new(Pen {
                writer,
                taken: Vec::new(),
                #[cfg(unix)]
                socket,
            }),
            shutdown,
            threads: Mutex::new(Vec::new()),
        });
        let r = Arc::clone(&shared);
        let reader = thread::Builder::new().name(format!("{name}-read")).spawn(move || r.read_loop(reader))?;
        let w = Arc::clone(&shared);
        let writer = thread::Builder::new().name(format!("{name}-write")).spawn(move || w.write_loop())?;
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
        if st.mux.take_events_pushed() && st.events_waiting > 0 {
            self.events.notify_all();
        }
        // Drained, not taken: the list keeps its allocation from packet to packet.
        let State { dirty, mux, .. } = st;
        #[cfg(unix)]
        let ended = mux.ended.is_some();
        for id in dirty.drain(..) {
            let Some(ch) = mux.channels.get_mut(&id) else { continue };
            for w in [&mut ch.waiters.news, &mut ch.waiters.room] {
                if std::mem::take(&mut w.dirty) && w.waiting > 0 {
                    w.cv.notify_all();
                }
            }
            #[cfg(unix)]
            if let Some(sink) = &ch.waiters.sink
                && sink.waiter.waiting > 0
                && sink.copier_has_work(ch, ended)
            {
                sink.waiter.cv.notify_all();
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
            if let Some(end) = &st.mux.ended {
                break Err(ended_error(end));
            }
            let now = Instant::now();
            let wait = match deadline {
                Some(d) if d <= now => break Err(Error::Timeout(what)),
                Some(d) => Some(d - now),
                None => None,
            };
            st = self.sleep(st, wake, wait);
        };
        // What `ready` made (a window adjustment for data read, say) goes out from here
        // when it can, as a channel write's does.
        if deadline.is_none() {
            self.write_through(st, timer);
        } else {
            st.wake_writer(&self.wake, timer);
            self.notify_waiters(&mut st);
        }
        result
    }

    /// Waits until `ready` returns `Some`, without a deadline and through the end of the
    /// connection: for a wait known to be short (another thread's step that cannot block).
    #[cfg(unix)]
    fn wait_quietly<T>(&self, wake: Wake, mut ready: impl FnMut(&mut State<C>) -> Option<T>) -> T {
        let mut st = self.raw_lock();
        let timer = st.conn.poll_timeout();
        let result = loop {
            if let Some(r) = ready(&mut st) {
                break r;
            }
            st = self.sleep(st, wake, None);
        };
        st.wake_writer(&self.wake, timer);
        self.notify_waiters(&mut st);
        result
    }

    /// One sleep of a wait for `wake`, `wait` long at most.
    fn sleep<'a>(
        &'a self,
        mut st: MutexGuard<'a, State<C>>,
        wake: Wake,
        wait: Option<Duration>,
    ) -> MutexGuard<'a, State<C>> {
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
        st
    }

    fn read_loop(&self, mut reader: Box<dyn Read + Send>) {
        let mut buf = vec![0u8; 64 * 1024];
        #[cfg(unix)]
        let mut claims = sink::Claims::default();
        loop {
            let r = reader.read(&mut buf);
            let input = match &r {
                Ok(0) => Input::End,
                Ok(n) => Input::Bytes(buf.get(..*n).unwrap_or_default()),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => Input::Failed(e.to_string()),
            };
            let mut g = self.lock();
            let open = g.st.feed(input);
            // What just arrived for a channel copied into a sink goes there from this
            // thread, outside the lock, without waking the copier.
            #[cfg(unix)]
            {
                g.st.claim_sinks(&mut claims);
                drop(g);
                self.write_claims(&mut claims);
            }
            if !open {
                return;
            }
        }
    }

    fn pen_lock(&self) -> MutexGuard<'_, Pen> {
        self.pen.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the core's output into the pen (whose holder the caller is) and lets the
    /// senders that waited for the room it freed go on.
    fn take_output(&self, st: &mut State<C>, pen: &mut Pen) {
        // Dispatching the events of what was taken may queue more (an automatic reply):
        // taken too, so nothing waits behind a sender that does not wake the writer.
        loop {
            while let Some(b) = st.conn.poll_transmit() {
                pen.taken.push(b);
            }
            st.dispatch();
            if st.conn.pending_output() == 0 {
                break;
            }
        }
        st.room_freed();
        self.notify_waiters(st);
    }

    /// Writes what the pen took; a failure ends the connection.
    fn send_taken(&self, pen: &mut Pen) -> bool {
        let Pen { writer, taken, .. } = pen;
        let mut failed = None;
        for b in taken.drain(..) {
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
        let Some(e) = failed else { return true };
        let mut g = self.lock();
        g.st.conn.close(DisconnectReason::ConnectionLost, &format!("write: {e}"));
        g.st.dispatch();
        drop(g);
        (self.shutdown)();
        false
    }

    /// Sends what the pen took as far as the socket takes it without blocking, and leaves
    /// the rest to the writer thread, so the caller goes back to making output (reading
    /// the command's, say) while the writer waits for the socket. Without a socket, sends
    /// all of it.
    fn send_taken_or_hand_over(&self, mut pen: MutexGuard<'_, Pen>) {
        #[cfg(unix)]
        if pen.socket.is_some() {
            if pen.send_available() {
                let mut st = self.raw_lock();
                st.hand_over(&self.wake);
            }
            return;
        }
        self.send_taken(&mut pen);
    }

    /// After a core command by a caller without a deadline: if the writer thread is
    /// asleep, sends the output itself instead of waking it. A caller with a deadline
    /// leaves the socket to the writer thread, so that a peer that stops reading cannot
    /// hold it in `write` past its deadline.
    fn write_through(&self, mut st: MutexGuard<'_, State<C>>, timer: Option<Instant>) {
        if st.may_send_through(timer)
            && let Ok(mut pen) = self.pen.try_lock()
        {
            self.take_output(&mut st, &mut pen);
            drop(st);
            self.send_taken_or_hand_over(pen);
            return;
        }
        st.wake_writer(&self.wake, timer);
        self.notify_waiters(&mut st);
    }

    fn write_loop(&self) {
        loop {
            let mut st = self.raw_lock();
            loop {
                let now = Instant::now();
                if st.conn.poll_timeout().is_some_and(|t| t <= now) {
                    let _ = st.conn.handle_timeout(now);
                    st.dispatch();
                    self.notify_waiters(&mut st);
                }
                if st.conn.pending_output() > 0 || st.leftover || st.conn.is_closed() {
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
            // The pen before the output: a channel writer may be sending what it took.
            let mut pen = match self.pen.try_lock() {
                Ok(pen) => pen,
                Err(_) => {
                    drop(st);
                    let pen = self.pen_lock();
                    st = self.raw_lock();
                    pen
                }
            };
            let closed = st.conn.is_closed();
            st.leftover = false;
            self.take_output(&mut st, &mut pen);
            drop(st);
            if !self.send_taken(&mut pen) {
                return;
            }
            drop(pen);
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
            g.mux.channels.insert(id, ChannelState::new(Opening::Pending));
            id
        };
        // The handle owns the entry from here: if the wait times out, dropping it closes
        // the channel once the peer confirms it, and the entry goes.
        let link: Arc<dyn Link> = self.clone();
        let channel = Channel::new(link, id, None);
        self.wait_for(Wake::News(id), deadline, "the channel to open", |st| {
            Some(st.mux.open_outcome(id)?.map_err(|(reason, description)| Error::ChannelOpen { reason, description }))
        })?;
        Ok(channel)
    }

    /// Accepts the peer's channel `id` (from a `ChannelOpenRequest` event) as a handle.
    pub(crate) fn accept_channel(self: &Arc<Self>, id: ChannelId) -> Result<Channel, Error> {
        {
            let mut g = self.lock();
            g.conn.accept_channel(id)?;
            g.mux.channels.insert(id, ChannelState::new(Opening::Open));
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
        self.wait_for(Wake::Any, deadline, "the global request reply", |st| st.mux.take_global_reply(token).map(Ok))
    }
}

/// The channel operations a [`crate::Channel`] handle needs, whatever the role.
pub(crate) trait Link: Send + Sync {
    fn read(
        &self,
        id: ChannelId,
        stream: ChannelStream,
        buf: &mut [u8],
        deadline: Option<Instant>,
    ) -> Result<usize, Error>;
    fn write(
        &self,
        id: ChannelId,
        stream: ChannelStream,
        data: &[u8],
        deadline: Option<Instant>,
    ) -> Result<usize, Error>;
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
    fn buffered(&self, id: ChannelId, stream: ChannelStream) -> usize;
    /// Copies standard output into `sink` until EOF (see `sink`); each wait lasts at most
    /// `timeout`.
    #[cfg(unix)]
    fn copy_to(&self, id: ChannelId, sink: std::fs::File, timeout: Option<Duration>) -> Result<u64, Error>;
    fn configure(&self, id: ChannelId, setting: StreamSetting);
    /// Waits until one of `ids` has something to read (data on either stream, EOF or
    /// close); returns the positions in `ids` of those that do.
    fn wait_readable(&self, ids: &[ChannelId], deadline: Option<Instant>) -> Result<Vec<usize>, Error>;
}

impl<C: Core> Link for Shared<C> {
    fn read(
        &self,
        id: ChannelId,
        stream: ChannelStream,
        buf: &mut [u8],
        deadline: Option<Instant>,
    ) -> Result<usize, Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.wait_for(Wake::News(id), deadline, "channel data", |st| {
            let State { conn, mux, .. } = st;
            #[cfg(unix)]
            if stream == ChannelStream::Stdout && mux.channels.get(&id).is_some_and(|ch| ch.waiters.sink.is_some()) {
                let e = std::io::Error::new(std::io::ErrorKind::InvalidInput, "the channel is being copied to a sink");
                return Some(Err(Error::Io(e)));
            }
            mux.read(conn, id, stream, buf).map(Ok)
        })
    }

    fn write(
        &self,
        id: ChannelId,
        stream: ChannelStream,
        data: &[u8],
        deadline: Option<Instant>,
    ) -> Result<usize, Error> {
        if data.is_empty() {
            return Ok(0);
        }
        let send = |st: &mut State<C>| {
            ssh_proto::driver::send(&mut st.conn, id, stream, data).map(|r| r.map_err(Error::Channel))
        };
        if deadline.is_some() {
            return self.wait_for(Wake::Room(id), deadline, "channel window", send);
        }
        // Without a deadline, the common case first: room now, and the packets sent here.
        let mut st = self.raw_lock();
        let timer = st.conn.poll_timeout();
        match send(&mut st) {
            Some(Ok(n)) => {
                self.write_through(st, timer);
                Ok(n)
            }
            Some(Err(e)) => Err(e),
            None => {
                drop(st);
                self.wait_for(Wake::Room(id), None, "channel window", send)
            }
        }
    }

    fn request(
        &self,
        id: ChannelId,
        request: &ChannelRequest,
        want_reply: bool,
        deadline: Option<Instant>,
    ) -> Result<(), Error> {
        let name = request.name().to_owned();
        // A full output queue holds the request back until the writer makes room.
        let sent = self.wait_for(Wake::Room(id), deadline, "room for the channel request", |st| {
            match st.conn.channel_request(id, request, want_reply) {
                Ok(()) => Some(Ok(want_reply.then(|| st.mux.request_sent(id)))),
                Err(ChannelError::OutputFull) => None,
                Err(e) => Some(Err(e.into())),
            }
        })?;
        let Some(n) = sent else { return Ok(()) };
        self.wait_for(Wake::News(id), deadline, "channel request reply", |st| {
            let success = st.mux.take_reply(id, n)?;
            Some(if success { Ok(()) } else { Err(Error::RequestRefused(name.clone())) })
        })
    }

    fn eof(&self, id: ChannelId) -> Result<(), Error> {
        let mut g = self.lock();
        let State { conn, mux, dirty, .. } = &mut *g.st;
        Ok(mux.eof(conn, id, &mut |id, w, change| w.mark(id, dirty, change))?)
    }

    fn close(&self, id: ChannelId) {
        let mut g = self.lock();
        let State { conn, mux, dirty, .. } = &mut *g.st;
        mux.release(conn, id, &mut |id, w, change| w.mark(id, dirty, change));
    }

    fn exit_status(&self, id: ChannelId, deadline: Option<Instant>) -> Result<Option<ExitStatus>, Error> {
        self.wait_for(Wake::News(id), deadline, "exit status", |st| st.mux.exit_status(id).map(Ok))
    }

    fn configure(&self, id: ChannelId, setting: StreamSetting) {
        let mut g = self.lock();
        let st = &mut *g.st;
        let Some(ch) = st.mux.channels.get_mut(&id) else { return };
        let credit = ch.configure(setting);
        st.credit(id, credit);
        // Another thread may read the stream that changed.
        st.mark(id, Change::News);
    }

    fn wait_readable(&self, ids: &[ChannelId], deadline: Option<Instant>) -> Result<Vec<usize>, Error> {
        self.wait_for(Wake::Any, deadline, "a readable channel", |st| {
            let ready: Vec<usize> = ids
                .iter()
                .enumerate()
                .filter(|(_, id)| {
                    st.mux
                        .channels
                        .get(id)
                        .is_none_or(|ch| !ch.stdout.is_empty() || !ch.stderr.is_empty() || ch.eof || ch.closed)
                })
                .map(|(i, _)| i)
                .collect();
            (!ready.is_empty()).then_some(Ok(ready))
        })
    }

    #[cfg(unix)]
    fn copy_to(&self, id: ChannelId, sink: std::fs::File, timeout: Option<Duration>) -> Result<u64, Error> {
        self.copy_stdout_to(id, sink, timeout)
    }

    fn buffered(&self, id: ChannelId, stream: ChannelStream) -> usize {
        let g = self.lock();
        g.mux.channels.get(&id).map_or(0, |ch| match stream {
            ChannelStream::Stdout => ch.stdout.len(),
            ChannelStream::Stderr => ch.stderr.len(),
        })
    }
}
