//! The drive contract both roles share, written once and expanded into each role's
//! `Connection` so that both expose the same methods with the same documentation.

/// Expands the shared driver-facing methods. The type must have `t: Transport` and
/// `conn: ConnectionLayer` fields and the methods
/// `fn dispatch(&mut self, pkt: Received, now: Instant) -> Result<(), Error>`,
/// `fn input_paused(&self) -> bool` and
/// `fn on_timer(&mut self, timer: Timer, now: Instant) -> Result<(), Error>`.
macro_rules! connection_api {
    () => {
        /// Feeds bytes received from the peer (any fragmentation) and processes every
        /// complete packet. On a fatal error the connection queues a DISCONNECT for
        /// [`poll_transmit`](Self::poll_transmit), raises [`Event::Disconnected`](crate::Event::Disconnected),
        /// and returns the error; later calls return [`Error::Closed`](crate::Error::Closed).
        pub fn handle_input(&mut self, data: &[u8], now: std::time::Instant) -> Result<(), crate::Error> {
            self.t.receive(data)?;
            self.process(now)
        }

        /// Reports that the peer closed the stream.
        pub fn handle_eof(&mut self) -> Result<(), crate::Error> {
            self.t.receive_eof()
        }

        /// Call when the deadline from [`poll_timeout`](Self::poll_timeout) has passed.
        pub fn handle_timeout(&mut self, now: std::time::Instant) -> Result<(), crate::Error> {
            for timer in self.t.handle_timeout(now)? {
                if let Err(e) = self.on_timer(timer, now) {
                    return Err(self.t.fail(e));
                }
            }
            self.process(now)
        }

        /// Bytes to write to the peer: everything queued so far, coalesced in one buffer.
        /// Call after every other call until it returns `None`.
        #[must_use]
        pub fn poll_transmit(&mut self) -> Option<bytes::Bytes> {
            let out = self.t.poll_transmit();
            if out.is_some() {
                self.conn.room_freed(&mut self.t);
            }
            out
        }

        /// Heap held by this connection's I/O buffers (receive, output, key-exchange deferral,
        /// compression), for memory accounting; received `Bytes` still held by the
        /// application keep their part of the receive buffer alive beyond this.
        pub fn buffer_capacity(&self) -> usize {
            self.t.buffer_capacity()
        }

        /// Releases the memory of empty I/O buffers and queues, for servers holding many idle
        /// connections: they are allocated again when traffic resumes. Call it when the
        /// connection has gone quiet (after `poll_transmit` returned `None` and events are
        /// drained); it never drops data.
        pub fn shrink_buffers(&mut self) {
            self.t.shrink_buffers()
        }

        /// Bytes queued for the peer and not yet taken by [`poll_transmit`](Self::poll_transmit).
        pub fn pending_output(&self) -> usize {
            self.t.pending_output()
        }

        /// The next event, in the order things happened.
        #[must_use]
        pub fn poll_event(&mut self) -> Option<crate::Event> {
            self.t.events.pop_front()
        }

        /// When to call [`handle_timeout`](Self::handle_timeout) next (`None`: no deadline).
        #[must_use]
        pub fn poll_timeout(&self) -> Option<std::time::Instant> {
            self.t.poll_timeout()
        }

        /// The next deadline and what it is for (for logs).
        pub fn next_timer(&self) -> Option<(std::time::Instant, crate::transport::Timer)> {
            self.t.next_timer()
        }

        /// Starts a key re-exchange now (no effect while one is running). Traffic continues:
        /// messages sent meanwhile are queued and go out, in order, under the new keys.
        pub fn rekey(&mut self) -> Result<(), crate::Error> {
            self.t.rekey()
        }

        /// Sends `SSH_MSG_IGNORE` (traffic padding, keepalive that needs no answer).
        pub fn send_ignore(&mut self, data: &[u8]) -> Result<(), crate::Error> {
            self.t.send_ignore(data)
        }

        /// Sends a `ping@openssh.com` request; the answer is [`Event::Pong`](crate::Event::Pong).
        /// Fails with [`Error::ApiMisuse`](crate::Error::ApiMisuse) unless the peer announced the extension.
        pub fn send_ping(&mut self, data: &[u8]) -> Result<(), crate::Error> {
            self.t.send_ping(data)
        }

        /// Ends the connection with `SSH_MSG_DISCONNECT`.
        pub fn close(&mut self, reason: crate::DisconnectReason, description: &str) {
            self.t.close(reason, description)
        }

        /// Whether the connection has ended.
        pub fn is_closed(&self) -> bool {
            self.t.is_closed()
        }

        /// Whether the first key exchange completed.
        pub fn is_established(&self) -> bool {
            self.t.is_established()
        }

        /// The algorithms of the last completed key exchange.
        pub fn negotiated(&self) -> Option<crate::transport::Negotiated> {
            self.t.negotiated
        }

        /// The session identifier (the first exchange hash).
        pub fn session_id(&self) -> Option<&[u8]> {
            self.t.session_id.as_deref()
        }

        /// The peer's identification line, once received.
        pub fn peer_version(&self) -> Option<&crate::transport::PeerVersion> {
            self.t.peer_id.as_ref()
        }

        /// Our identification line (without CR LF).
        pub fn local_version(&self) -> &str {
            &self.t.local_id
        }

        /// Completed key exchanges, the first one included.
        pub fn key_exchanges(&self) -> u64 {
            self.t.kex_count
        }

        fn process(&mut self, now: std::time::Instant) -> Result<(), crate::Error> {
            let before = self.t.opener.counters.packets;
            while let Some(pkt) = self.t.poll_packet(now)? {
                if let Err(e) = self.dispatch(pkt, now) {
                    return Err(self.t.fail(e));
                }
                self.t.paused = self.input_paused();
            }
            if self.t.opener.counters.packets != before {
                self.conn.received(&mut self.t, now);
            }
            self.conn.room_freed(&mut self.t);
            Ok(())
        }
    };
}

/// Expands the connection-protocol commands both roles share (channels, requests, global
/// requests), delegating to the `conn: ConnectionLayer` field.
macro_rules! channel_api {
    () => {
        /// Opens a `session` channel; [`Event::ChannelOpened`](crate::Event::ChannelOpened)
        /// or [`Event::ChannelOpenFailed`](crate::Event::ChannelOpenFailed) follows.
        pub fn open_session(&mut self) -> Result<crate::connection::ChannelId, crate::connection::ChannelError> {
            self.open_channel(&crate::connection::ChannelKind::Session)
        }

        /// Opens a channel of any kind (`direct-tcpip` for `-L`, `forwarded-tcpip` for
        /// `-R`, `x11`, `auth-agent@openssh.com`, …).
        pub fn open_channel(
            &mut self,
            kind: &crate::connection::ChannelKind,
        ) -> Result<crate::connection::ChannelId, crate::connection::ChannelError> {
            self.conn.open(&mut self.t, kind)
        }

        /// Accepts the channel of a pending [`Event::ChannelOpenRequest`](crate::Event::ChannelOpenRequest).
        pub fn accept_channel(
            &mut self,
            id: crate::connection::ChannelId,
        ) -> Result<(), crate::connection::ChannelError> {
            self.conn.accept(&mut self.t, id)
        }

        /// Refuses the channel of a pending [`Event::ChannelOpenRequest`](crate::Event::ChannelOpenRequest).
        pub fn reject_channel(
            &mut self,
            id: crate::connection::ChannelId,
            reason: crate::connection::OpenFailure,
            description: &str,
        ) -> Result<(), crate::connection::ChannelError> {
            self.conn.reject(&mut self.t, id, reason, description)
        }

        /// Sends data: returns how much the peer's window (and the output bound) took, which
        /// may be less than `data.len()`; [`ChannelError::Blocked`](crate::connection::ChannelError::Blocked)
        /// when nothing fits. [`Event::ChannelWritable`](crate::Event::ChannelWritable) says
        /// when to try again.
        pub fn channel_send(
            &mut self,
            id: crate::connection::ChannelId,
            data: &[u8],
        ) -> Result<usize, crate::connection::ChannelError> {
            self.conn.send_data(&mut self.t, id, None, data)
        }

        /// Sends extended data (`code` 1 is stderr), in the same window as data.
        pub fn channel_send_extended(
            &mut self,
            id: crate::connection::ChannelId,
            code: u32,
            data: &[u8],
        ) -> Result<usize, crate::connection::ChannelError> {
            self.conn.send_data(&mut self.t, id, Some(code), data)
        }

        /// Reports that the application consumed `n` bytes of this channel's data; the
        /// peer's window is replenished from these reports only.
        pub fn channel_consumed(
            &mut self,
            id: crate::connection::ChannelId,
            n: usize,
        ) -> Result<(), crate::connection::ChannelError> {
            self.conn.consumed(&mut self.t, id, n)
        }

        /// Sends EOF: no more data from us on this channel.
        pub fn channel_eof(&mut self, id: crate::connection::ChannelId) -> Result<(), crate::connection::ChannelError> {
            self.conn.eof(&mut self.t, id)
        }

        /// Closes the channel; [`Event::ChannelClosed`](crate::Event::ChannelClosed) follows
        /// when the peer's CLOSE arrives.
        pub fn channel_close(
            &mut self,
            id: crate::connection::ChannelId,
        ) -> Result<(), crate::connection::ChannelError> {
            self.conn.close(&mut self.t, id)
        }

        /// Sends a channel request; with `want_reply`,
        /// [`Event::ChannelRequestResult`](crate::Event::ChannelRequestResult) follows.
        pub fn channel_request(
            &mut self,
            id: crate::connection::ChannelId,
            request: &crate::connection::ChannelRequest,
            want_reply: bool,
        ) -> Result<(), crate::connection::ChannelError> {
            self.conn.request(&mut self.t, id, request, want_reply)
        }

        /// Answers a channel request of the peer. Answers go out in the order the requests
        /// came, so an early answer to a later request waits for the earlier ones.
        pub fn channel_request_reply(
            &mut self,
            id: crate::connection::ChannelId,
            token: crate::connection::RequestToken,
            success: bool,
        ) -> Result<(), crate::connection::ChannelError> {
            self.conn.request_reply(&mut self.t, id, token, success)
        }

        /// The state and windows of a channel.
        pub fn channel_info(&self, id: crate::connection::ChannelId) -> Option<crate::connection::ChannelInfo> {
            self.conn.info(id)
        }

        /// The exit status or signal the peer reported on a channel, once it did.
        pub fn channel_exit_status(&self, id: crate::connection::ChannelId) -> Option<&crate::connection::ExitStatus> {
            self.conn.exit_status(id)
        }

        /// Channels in use (open, opening, or waiting for an answer).
        pub fn channel_count(&self) -> usize {
            self.conn.channel_count()
        }

        /// Every channel in use, by local number.
        pub fn channel_ids(&self) -> Vec<crate::connection::ChannelId> {
            self.conn.ids()
        }

        /// Sends a global request; with `want_reply` the returned token comes back in
        /// [`Event::GlobalRequestResult`](crate::Event::GlobalRequestResult).
        pub fn global_request(
            &mut self,
            request: &crate::connection::GlobalRequest,
            want_reply: bool,
        ) -> Result<Option<crate::connection::GlobalToken>, crate::connection::ChannelError> {
            self.conn.global_request(&mut self.t, request, want_reply)
        }

        /// Answers a global request of the peer (in order, like channel requests).
        pub fn global_request_reply(
            &mut self,
            token: crate::connection::GlobalToken,
            reply: crate::connection::GlobalReply,
        ) -> Result<(), crate::connection::ChannelError> {
            self.conn.global_reply(&mut self.t, token, reply)
        }
    };
}

pub(crate) use {channel_api, connection_api};
