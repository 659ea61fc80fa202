//! The drive contract both roles share, written once and expanded into each role's
//! `Connection` so that both expose the same methods with the same documentation.

/// Expands the shared driver-facing methods. The type must have a `t: Transport` field and a
/// `fn dispatch(&mut self, pkt: Received, now: Instant) -> Result<(), Error>` method.
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
            self.t.handle_timeout(now)?;
            self.process(now)
        }

        /// Bytes to write to the peer: everything queued so far, coalesced in one buffer.
        /// Call after every other call until it returns `None`.
        #[must_use]
        pub fn poll_transmit(&mut self) -> Option<bytes::Bytes> {
            self.t.poll_transmit()
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
            while let Some(pkt) = self.t.poll_packet(now)? {
                if let Err(e) = self.dispatch(pkt, now) {
                    return Err(self.t.fail(e));
                }
            }
            Ok(())
        }
    };
}

pub(crate) use connection_api;
