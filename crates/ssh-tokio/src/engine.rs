//! The I/O engine of one connection: two tasks drive the sans-IO core, and user handles
//! poll its state.
//!
//! - The **reader** task reads the stream, feeds the bytes to the core and has the core's
//!   [`Demux`] sort the events into per-channel buffers and the front-end's queue.
//! - Output is written by whoever made it, when the socket takes it at once: a task that
//!   writes to a channel seals the packets and sends them in the same poll, sparing a task
//!   switch per packet. The **writer** task sends what the socket did not take, fires the
//!   core's timers and ends the stream. Nobody writes while holding the state lock, so a
//!   peer that does not read cannot stop the reader.
//!
//! User calls lock the state (a plain mutex: it is never held across an `.await`), issue a
//! core command and, when they must wait, leave their task's waker with what they wait
//! for: a channel's news or room, or any change.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::io::{self, ErrorKind};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use bytes::{Buf, Bytes};
use ssh_proto::DisconnectReason;
use ssh_proto::connection::{
    ChannelError, ChannelId, ChannelKind, ChannelRequest, ExitStatus, GlobalReply, GlobalRequest,
};
use ssh_proto::driver::{
    Change, ChannelBuffers, ChannelStream, Demux, Driven, Ended, FrontEnd, Input, Opening, StreamSetting,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedReadHalf;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::Error;
use crate::channel::Channel;

/// How much one read takes from the socket.
const READ_CHUNK: usize = 64 * 1024;

thread_local! {
    /// Each runtime thread's receive buffer for TCP connections: bytes go from it to the
    /// core within one poll, so one buffer per thread serves every connection.
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_CHUNK]);
}

/// A connection the engine can drive: either role, movable between tasks.
pub(crate) trait Core: Driven + Send + 'static {}

impl<T: Driven + Send + 'static> Core for T {}

/// Wakers left by tasks waiting on something; woken all at once when it changes.
#[derive(Default)]
pub(crate) struct WakerList(Vec<Waker>);

impl WakerList {
    fn register(&mut self, waker: &Waker) {
        if !self.0.iter().any(|w| w.will_wake(waker)) {
            self.0.push(waker.clone());
        }
    }

    fn wake(&mut self) {
        for w in self.0.drain(..) {
            w.wake();
        }
    }
}

/// A channel's waiters: its readers and others waiting for news (data, EOF, close,
/// replies, the open's outcome), and its writers waiting for room.
#[derive(Default)]
pub(crate) struct Waiters {
    news: WakerList,
    room: WakerList,
}

impl Waiters {
    fn wake(&mut self, change: Change) {
        if change.news() {
            self.news.wake();
        }
        if change.room() {
            self.room.wake();
        }
    }
}

/// What the engine keeps per channel: the core's buffers, and its waiters.
pub(crate) type ChannelState = ChannelBuffers<Waiters>;

/// Everything behind the lock.
pub(crate) struct State<C> {
    pub(crate) conn: C,
    /// The channels' buffers and the front-end's events, sorted by the core.
    pub(crate) mux: Demux<Waiters>,
    /// Waiters for any change (setup steps, authentication, global request replies).
    any: WakerList,
    /// The core raised events or the connection ended since `any` was last woken. What
    /// those waiters look at changes only then; waking them on every unlock would wake a
    /// waiter with its own poll's unlock, and it would spin.
    any_changed: bool,
}

/// Logs the end of the connection when it just ended.
fn log_end(was_up: bool, ended: &Option<Ended>) {
    if let (true, Some(end)) = (was_up, ended) {
        tracing::debug!(reason = %end.reason, description = %end.description, "disconnected");
    }
}

/// What a waiter waits for.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Wake {
    /// Any change.
    Any,
    /// News on a channel.
    News(ChannelId),
    /// Room to send on a channel.
    Room(ChannelId),
}

impl<C: Core> State<C> {
    /// Feeds what the reader got; returns whether the connection is still open.
    fn feed(&mut self, input: Input<'_>) -> bool {
        self.any_changed = true;
        let State { conn, mux, .. } = self;
        let was_up = mux.ended.is_none();
        let (open, error) = mux.feed(conn, input, Instant::now(), &mut |_, w, change| w.wake(change));
        // A protocol error has already queued the DISCONNECT and raised the event.
        if let Some(e) = error {
            tracing::debug!(error = %e, "protocol error");
        }
        log_end(was_up, &mux.ended);
        open
    }

    fn dispatch(&mut self) {
        self.any_changed = true;
        let State { conn, mux, .. } = self;
        let was_up = mux.ended.is_none();
        mux.dispatch(conn, &mut |_, w, change| w.wake(change));
        log_end(was_up, &mux.ended);
    }

    fn end(&mut self, ended: Ended) {
        self.any_changed = true;
        self.mux.end(ended, &mut |_, w, change| w.wake(change));
    }

    fn register(&mut self, wake: Wake, waker: &Waker) {
        let list = match wake {
            Wake::Any => &mut self.any,
            Wake::News(id) => match self.mux.channels.get_mut(&id) {
                Some(ch) => &mut ch.waiters.news,
                None => &mut self.any,
            },
            Wake::Room(id) => match self.mux.channels.get_mut(&id) {
                Some(ch) => &mut ch.waiters.room,
                None => &mut self.any,
            },
        };
        list.register(waker);
    }

    /// Wakes the waiters for any change, when there was one.
    fn wake_connection_waiters(&mut self) {
        if std::mem::take(&mut self.any_changed) {
            self.any.wake();
        }
    }

    /// Taking the output freed room in the core's output buffer.
    fn room_freed(&mut self) {
        for ch in self.mux.channels.values_mut() {
            ch.waiters.room.wake();
        }
    }
}

/// The lock, the stream's writing half and the writer's doorbell of one connection.
pub(crate) struct Shared<C> {
    state: Mutex<State<C>>,
    /// The writing half. Whoever takes output from the core holds it from before taking
    /// until the bytes are written or queued in it, so output leaves in the order it was
    /// made. Never held across an `.await`: every write through it is a poll.
    pen: Mutex<Pen>,
    /// Rung when the writer may have work: output the socket did not take, a timer that
    /// moved, the end.
    wake_writer: Notify,
    reader: Mutex<Option<JoinHandle<()>>>,
}

/// The stream's writing half and what was taken from the core but not written yet.
struct Pen {
    writer: Pin<Box<dyn AsyncWrite + Send>>,
    queued: VecDeque<Bytes>,
    /// Written but not flushed: the stream was not ready for the flush.
    unflushed: bool,
    /// A write through failed; the writer task ends the connection with it.
    failed: Option<io::Error>,
}

impl Pen {
    /// Whether a task other than the writer may write: nothing waits for the stream. While
    /// something does, only the writer task polls the stream, so the waker it left there is
    /// never replaced by a write through's.
    fn idle(&self) -> bool {
        self.queued.is_empty() && !self.unflushed && self.failed.is_none()
    }
}

/// A locked view of the state that, when dropped, sends the core's output (or rings the
/// writer for it), rings the writer for a new deadline or the end, and wakes the
/// connection's waiters, so every command's output goes out without each call remembering
/// to.
pub(crate) struct Guard<'a, C: Core> {
    pub(crate) st: MutexGuard<'a, State<C>>,
    shared: &'a Shared<C>,
    timer: Option<Instant>,
    /// Declared after `st`: fields drop in order, so the output taken while the state was
    /// locked is written once it is unlocked.
    through: WriteThrough<'a, C>,
}

/// The pen with output taken into it by a [`Guard`], written when this drops.
struct WriteThrough<'a, C: Core> {
    shared: &'a Shared<C>,
    pen: Option<MutexGuard<'a, Pen>>,
}

impl<C: Core> Drop for WriteThrough<'_, C> {
    fn drop(&mut self) {
        let Some(mut pen) = self.pen.take() else { return };
        // No task waits on this poll: what the stream does not take now is the writer's.
        let mut cx = Context::from_waker(Waker::noop());
        match self.shared.poll_pen(&mut pen, &mut cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => {
                pen.failed = Some(e);
                self.shared.wake_writer.notify_one();
            }
            Poll::Pending => self.shared.wake_writer.notify_one(),
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
        let st = &mut *self.st;
        if st.conn.pending_output() > 0 {
            match self.shared.pen.try_lock() {
                Ok(mut pen) if pen.idle() => {
                    take_output(st, &mut pen);
                    self.through.pen = Some(pen);
                }
                _ => self.shared.wake_writer.notify_one(),
            }
        }
        if st.conn.poll_timeout() != self.timer || st.conn.is_closed() {
            self.shared.wake_writer.notify_one();
        }
        st.wake_connection_waiters();
    }
}

/// Moves the core's output into the pen (whose holder the caller is) and wakes the senders
/// that waited for the room it freed. Returns whether there was any.
fn take_output<C: Core>(st: &mut State<C>, pen: &mut Pen) -> bool {
    let mut took = false;
    while let Some(b) = st.conn.poll_transmit() {
        pen.queued.push_back(b);
        took = true;
    }
    // A command may have made the core process input that waited (an auth reply releases
    // requests the client sent ahead): sort what it raised.
    let State { conn, mux, any_changed, .. } = st;
    mux.dispatch(conn, &mut |_, w, change| w.wake(change));
    *any_changed |= mux.take_events_pushed();
    if took {
        st.room_freed();
    }
    took
}

impl<C: Core> Shared<C> {
    /// Spawns the reader and writer tasks for `conn` over `stream` on the current runtime.
    pub(crate) fn start<S>(conn: C, stream: S, front_end: FrontEnd) -> Arc<Self>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (reader, writer) = tokio::io::split(stream);
        Self::spawn(conn, front_end, writer, |shared| async move { shared.read_loop(reader).await })
    }

    /// [`Shared::start`] over TCP, read through readiness into a per-thread buffer: an idle
    /// connection holds no receive buffer of its own (10,000 idle connections would
    /// otherwise hold 640 MiB of them).
    pub(crate) fn start_tcp(conn: C, tcp: TcpStream, front_end: FrontEnd) -> Arc<Self> {
        let (reader, writer) = tcp.into_split();
        Self::spawn(conn, front_end, writer, |shared| async move { shared.read_tcp(reader).await })
    }

    fn spawn<W, F>(conn: C, front_end: FrontEnd, writer: W, reading: impl FnOnce(Arc<Self>) -> F) -> Arc<Self>
    where
        W: AsyncWrite + Send + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        let shared = Arc::new(Self {
            state: Mutex::new(State {
                conn,
                mux: Demux::new(front_end),
                any: WakerList::default(),
                any_changed: false,
            }),
            pen: Mutex::new(Pen { writer: Box::pin(writer), queued: VecDeque::new(), unflushed: false, failed: None }),
            wake_writer: Notify::new(),
            reader: Mutex::new(None),
        });
        let reading = tokio::spawn(reading(Arc::clone(&shared)));
        *shared.reader.lock().unwrap_or_else(|p| p.into_inner()) = Some(reading);
        let w = Arc::clone(&shared);
        tokio::spawn(async move { w.write_loop().await });
        shared
    }

    /// Locks the state (a panicked holder cannot poison it for everyone else: the state is
    /// consistent at every core call boundary).
    pub(crate) fn lock(&self) -> Guard<'_, C> {
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let timer = st.conn.poll_timeout();
        Guard { st, shared: self, timer, through: WriteThrough { shared: self, pen: None } }
    }

    fn pen_lock(&self) -> MutexGuard<'_, Pen> {
        self.pen.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes what the pen holds and then what the core has made meanwhile, until the core
    /// has nothing left (`Ready(Ok)`), the stream is not ready (`Pending`, the rest queued in
    /// the pen) or writing failed. The caller holds the pen, so it locks the state after it.
    fn poll_pen(&self, pen: &mut Pen, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if let Some(e) = pen.failed.take() {
                return Poll::Ready(Err(e));
            }
            let Pen { writer, queued, unflushed, .. } = pen;
            while let Some(front) = queued.front_mut() {
                match writer.as_mut().poll_write(cx, front) {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Err(ErrorKind::WriteZero.into())),
                    Poll::Ready(Ok(n)) => {
                        front.advance(n.min(front.len()));
                        *unflushed = true;
                        if front.is_empty() {
                            queued.pop_front();
                        }
                    }
                    Poll::Ready(Err(e)) if e.kind() == ErrorKind::Interrupted => {}
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                }
            }
            let mut g = self.lock();
            if !take_output(&mut g.st, pen) {
                break;
            }
        }
        if pen.unflushed {
            match pen.writer.as_mut().poll_flush(cx) {
                Poll::Ready(Ok(())) => pen.unflushed = false,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Polls `ready` once: its result, the connection's end, or `Pending` with the task's
    /// waker left for `wake`. `ready` may issue core commands.
    pub(crate) fn poll_for<T>(
        &self,
        cx: &mut Context<'_>,
        wake: Wake,
        ready: &mut impl FnMut(&mut State<C>) -> Option<Result<T, Error>>,
    ) -> Poll<Result<T, Error>> {
        let mut g = self.lock();
        if let Some(r) = ready(&mut g.st) {
            return Poll::Ready(r);
        }
        if let Some(end) = &g.st.mux.ended {
            return Poll::Ready(Err(Error::Disconnected { reason: end.reason, description: end.description.clone() }));
        }
        g.st.register(wake, cx.waker());
        Poll::Pending
    }

    /// Waits until `ready` returns `Some` or the connection ends. Cancellation-safe as long
    /// as `ready` changes nothing when it returns `None`.
    pub(crate) async fn wait_for<T>(
        &self,
        wake: Wake,
        mut ready: impl FnMut(&mut State<C>) -> Option<Result<T, Error>>,
    ) -> Result<T, Error> {
        poll_fn(|cx| self.poll_for(cx, wake, &mut ready)).await
    }

    async fn read_loop<R: AsyncRead>(&self, reader: R) {
        let mut reader = std::pin::pin!(reader);
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            let r = reader.read(&mut buf).await;
            let input = match &r {
                Ok(0) => Input::End,
                Ok(n) => Input::Bytes(buf.get(..*n).unwrap_or_default()),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => Input::Failed(e.to_string()),
            };
            let mut g = self.lock();
            let open = g.st.feed(input);
            if !open {
                return;
            }
        }
    }

    async fn read_tcp(&self, mut tcp: OwnedReadHalf) {
        loop {
            // A read shorter than the buffer tells tokio the socket is drained, so the next
            // poll waits for readiness instead of making a read that would block.
            let open = poll_fn(|cx| {
                SCRATCH.with_borrow_mut(|buf| {
                    let mut filled = ReadBuf::new(buf);
                    match Pin::new(&mut tcp).poll_read(cx, &mut filled) {
                        Poll::Ready(Ok(())) if filled.filled().is_empty() => {
                            Poll::Ready(self.lock().st.feed(Input::End))
                        }
                        Poll::Ready(Ok(())) => Poll::Ready(self.lock().st.feed(Input::Bytes(filled.filled()))),
                        Poll::Ready(Err(e)) if e.kind() == ErrorKind::Interrupted => {
                            cx.waker().wake_by_ref();
                            Poll::Pending
                        }
                        Poll::Ready(Err(e)) => Poll::Ready(self.lock().st.feed(Input::Failed(e.to_string()))),
                        Poll::Pending => {
                            // Caught up with the peer: empty buffers go back to the
                            // allocator while the connection waits (a busy one gets them
                            // again at once).
                            self.lock().st.conn.shrink_buffers();
                            Poll::Pending
                        }
                    }
                })
            })
            .await;
            if !open {
                return;
            }
        }
    }

    async fn write_loop(&self) {
        loop {
            let (closed, deadline) = {
                let mut g = self.lock();
                let st = &mut *g.st;
                let now = Instant::now();
                if st.conn.poll_timeout().is_some_and(|t| t <= now) {
                    let _ = st.conn.handle_timeout(now);
                    st.dispatch();
                }
                // The guard's drop would ring the writer for the timer it just fired:
                // forget the timer it compares against instead.
                g.timer = g.st.conn.poll_timeout();
                (g.st.conn.is_closed(), g.timer)
            };
            if let Err(e) = poll_fn(|cx| self.poll_pen(&mut self.pen_lock(), cx)).await {
                let mut g = self.lock();
                g.st.conn.close(DisconnectReason::ConnectionLost, &format!("write: {e}"));
                g.st.dispatch();
                drop(g);
                self.stop_reader();
                return;
            }
            if closed {
                // The DISCONNECT (if any) is out.
                let _ = poll_fn(|cx| self.pen_lock().writer.as_mut().poll_shutdown(cx)).await;
                self.stop_reader();
                let mut g = self.lock();
                if g.st.mux.ended.is_none() {
                    g.st.end(Ended { reason: DisconnectReason::ByApplication, description: "closed".into() });
                }
                return;
            }
            match deadline {
                Some(t) => {
                    let t = tokio::time::Instant::from_std(t);
                    tokio::select! {
                        () = self.wake_writer.notified() => {}
                        () = tokio::time::sleep_until(t) => {}
                    }
                }
                None => self.wake_writer.notified().await,
            }
        }
    }

    /// Stops the reader and lets the stream go: its descriptor closes now, not when the
    /// last handle on the connection is dropped.
    fn stop_reader(&self) {
        self.pen_lock().writer = Box::pin(tokio::io::sink());
        if let Some(h) = self.reader.lock().unwrap_or_else(|p| p.into_inner()).take() {
            h.abort();
        }
    }

    /// Ends the connection: DISCONNECT goes out, then the tasks stop on their own.
    pub(crate) fn disconnect(&self, reason: DisconnectReason, description: &str) {
        let mut g = self.lock();
        if !g.st.conn.is_closed() {
            g.st.conn.close(reason, description);
            g.st.dispatch();
        }
    }

    /// Opens a channel of `kind` and waits until the peer confirms or refuses it.
    pub(crate) async fn open_channel(self: &Arc<Self>, kind: &ChannelKind) -> Result<Channel, Error> {
        let id = {
            let mut g = self.lock();
            let id = g.st.conn.open_channel(kind)?;
            g.st.mux.channels.insert(id, ChannelState::new(Opening::Pending));
            id
        };
        // Dropped while waiting, the entry would linger: the channel handle owns it from
        // here, and closes it when dropped.
        let channel = self.channel(id);
        self.wait_for(Wake::News(id), |st| {
            Some(st.mux.open_outcome(id)?.map_err(|(reason, description)| Error::ChannelOpen { reason, description }))
        })
        .await?;
        Ok(channel)
    }

    /// Accepts the peer's channel `id` and returns its handle.
    pub(crate) fn accept_channel(self: &Arc<Self>, id: ChannelId) -> Result<Channel, Error> {
        {
            let mut g = self.lock();
            g.st.conn.accept_channel(id)?;
            g.st.mux.channels.insert(id, ChannelState::new(Opening::Open));
        }
        Ok(self.channel(id))
    }

    /// A handle on channel `id`, which has an entry already.
    pub(crate) fn channel(self: &Arc<Self>, id: ChannelId) -> Channel {
        let link: Arc<dyn Link> = self.clone();
        Channel::new(link, id)
    }

    /// Sends a global request and waits for its reply.
    pub(crate) async fn global_request(&self, request: &GlobalRequest) -> Result<GlobalReply, Error> {
        let token = self.lock().st.conn.global_request(request, true)?;
        let Some(token) = token else { return Err(Error::RequestRefused(request.name().to_owned())) };
        self.wait_for(Wake::Any, |st| st.mux.take_global_reply(token).map(Ok)).await
    }
}

/// The channel operations a [`Channel`] handle needs, whatever the role.
pub(crate) trait Link: Send + Sync {
    fn poll_read(
        &self,
        cx: &mut Context<'_>,
        id: ChannelId,
        stream: ChannelStream,
        buf: &mut [u8],
    ) -> Poll<Result<usize, Error>>;
    fn poll_write(
        &self,
        cx: &mut Context<'_>,
        id: ChannelId,
        stream: ChannelStream,
        data: &[u8],
    ) -> Poll<Result<usize, Error>>;
    /// Sends the request, waiting while the output queue is full; with `want_reply`,
    /// returns its number for `poll_reply`.
    fn poll_send_request(
        &self,
        cx: &mut Context<'_>,
        id: ChannelId,
        request: &ChannelRequest,
        want_reply: bool,
    ) -> Poll<Result<Option<u64>, Error>>;
    fn poll_reply(&self, cx: &mut Context<'_>, id: ChannelId, n: u64) -> Poll<Result<bool, Error>>;
    fn configure(&self, id: ChannelId, setting: StreamSetting);
    fn poll_exit(&self, cx: &mut Context<'_>, id: ChannelId) -> Poll<Result<Option<ExitStatus>, Error>>;
    fn eof(&self, id: ChannelId) -> Result<(), Error>;
    fn close(&self, id: ChannelId);
}

impl<C: Core> Link for Shared<C> {
    fn poll_read(
        &self,
        cx: &mut Context<'_>,
        id: ChannelId,
        stream: ChannelStream,
        buf: &mut [u8],
    ) -> Poll<Result<usize, Error>> {
        self.poll_for(cx, Wake::News(id), &mut |st| {
            let State { conn, mux, .. } = st;
            mux.read(conn, id, stream, buf).map(Ok)
        })
    }

    fn poll_write(
        &self,
        cx: &mut Context<'_>,
        id: ChannelId,
        stream: ChannelStream,
        data: &[u8],
    ) -> Poll<Result<usize, Error>> {
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.poll_for(cx, Wake::Room(id), &mut |st| {
            ssh_proto::driver::send(&mut st.conn, id, stream, data).map(|r| r.map_err(Error::Channel))
        })
    }

    fn poll_send_request(
        &self,
        cx: &mut Context<'_>,
        id: ChannelId,
        request: &ChannelRequest,
        want_reply: bool,
    ) -> Poll<Result<Option<u64>, Error>> {
        self.poll_for(cx, Wake::Room(id), &mut |st| match st.conn.channel_request(id, request, want_reply) {
            Ok(()) => Some(Ok(want_reply.then(|| st.mux.request_sent(id)))),
            Err(ChannelError::OutputFull) => None,
            Err(e) => Some(Err(e.into())),
        })
    }

    fn poll_reply(&self, cx: &mut Context<'_>, id: ChannelId, n: u64) -> Poll<Result<bool, Error>> {
        self.poll_for(cx, Wake::News(id), &mut |st| st.mux.take_reply(id, n).map(Ok))
    }

    fn configure(&self, id: ChannelId, setting: StreamSetting) {
        let mut g = self.lock();
        let State { conn, mux, .. } = &mut *g.st;
        let Some(ch) = mux.channels.get_mut(&id) else { return };
        let credit = ch.configure(setting);
        if credit > 0 {
            let _ = conn.channel_consumed(id, credit);
        }
        // Another task may read the stream that changed.
        ch.waiters.wake(Change::News);
    }

    fn poll_exit(&self, cx: &mut Context<'_>, id: ChannelId) -> Poll<Result<Option<ExitStatus>, Error>> {
        self.poll_for(cx, Wake::News(id), &mut |st| st.mux.exit_status(id).map(Ok))
    }

    fn eof(&self, id: ChannelId) -> Result<(), Error> {
        let mut g = self.lock();
        let State { conn, mux, .. } = &mut *g.st;
        Ok(mux.eof(conn, id, &mut |_, w, change| w.wake(change))?)
    }

    fn close(&self, id: ChannelId) {
        let mut g = self.lock();
        let State { conn, mux, .. } = &mut *g.st;
        mux.release(conn, id, &mut |_, w, change| w.wake(change));
    }
}
