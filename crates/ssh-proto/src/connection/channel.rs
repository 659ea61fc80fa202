//! One channel's state: windows in both directions, EOF/close progress, and the request
//! replies owed in each direction.

use std::collections::VecDeque;

use super::request::ExitStatus;

/// Where a channel is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelState {
    /// We sent `CHANNEL_OPEN` and wait for the confirmation.
    Opening,
    /// The peer asked to open it; the application has not answered.
    PendingAccept,
    /// Open in both directions (until EOF/CLOSE).
    Open,
}

/// A snapshot of a channel for drivers and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelInfo {
    /// Life-cycle state.
    pub state: ChannelState,
    /// The peer's channel number.
    pub remote_id: u32,
    /// Bytes the peer may still send us before we adjust the window.
    pub recv_window: u32,
    /// Bytes delivered to the application and not yet reported consumed.
    pub unconsumed: u32,
    /// Bytes we may still send.
    pub send_window: u32,
    /// Largest data packet the peer accepts.
    pub send_max_packet: u32,
    /// Whether we sent EOF.
    pub eof_sent: bool,
    /// Whether the peer sent EOF.
    pub eof_received: bool,
    /// Whether we sent CLOSE.
    pub close_sent: bool,
}

#[derive(Debug)]
pub(crate) struct Channel {
    /// Which use of the channel number this is (see `ChannelId`).
    pub(crate) generation: u32,
    pub(crate) state: ChannelState,
    pub(crate) remote_id: u32,
    /// Credit the peer has left.
    pub(crate) recv_window: u32,
    pub(crate) recv_window_max: u32,
    pub(crate) recv_max_packet: u32,
    /// Consumed by the application, not yet returned to the peer. Invariant:
    /// `recv_window + unconsumed + unadjusted == recv_window_max`.
    pub(crate) unadjusted: u32,
    pub(crate) send_window: u32,
    pub(crate) send_max_packet: u32,
    pub(crate) eof_sent: bool,
    pub(crate) eof_received: bool,
    pub(crate) close_sent: bool,
    /// The application was told "blocked" and waits for `ChannelWritable`.
    pub(crate) want_writable: bool,
    /// Names of our want-reply requests, oldest first (replies come in order).
    pub(crate) requests_out: VecDeque<Box<str>>,
    /// The peer's want-reply requests, oldest first: token and the answer once given.
    pub(crate) requests_in: VecDeque<(u64, Option<bool>)>,
    pub(crate) exit: Option<ExitStatus>,
}

impl Channel {
    pub(crate) fn new(state: ChannelState, recv_window: u32, recv_max_packet: u32) -> Self {
        Self {
            generation: 0,
            state,
            remote_id: 0,
            recv_window,
            recv_window_max: recv_window,
            recv_max_packet,
            unadjusted: 0,
            send_window: 0,
            send_max_packet: 0,
            eof_sent: false,
            eof_received: false,
            close_sent: false,
            want_writable: false,
            requests_out: VecDeque::new(),
            requests_in: VecDeque::new(),
            exit: None,
        }
    }

    /// Bytes delivered to the application and not yet consumed.
    pub(crate) fn unconsumed(&self) -> u32 {
        self.recv_window_max.saturating_sub(self.recv_window).saturating_sub(self.unadjusted)
    }

    /// Records `n` consumed bytes (clamped to what was delivered); returns the window
    /// adjustment to send now, if any. Like OpenSSH: once the peer has used more than three
    /// packets' worth or half of the window, return everything consumed.
    pub(crate) fn consume(&mut self, n: u32) -> Option<u32> {
        let n = n.min(self.unconsumed());
        self.unadjusted += n;
        let used = self.recv_window_max - self.recv_window;
        let due = used > self.recv_max_packet.saturating_mul(3) || self.recv_window < self.recv_window_max / 2;
        if self.unadjusted > 0 && due {
            let adjust = self.unadjusted;
            self.recv_window += adjust;
            self.unadjusted = 0;
            Some(adjust)
        } else {
            None
        }
    }

    pub(crate) fn info(&self) -> ChannelInfo {
        ChannelInfo {
            state: self.state,
            remote_id: self.remote_id,
            recv_window: self.recv_window,
            unconsumed: self.unconsumed(),
            send_window: self.send_window,
            send_max_packet: self.send_max_packet,
            eof_sent: self.eof_sent,
            eof_received: self.eof_received,
            close_sent: self.close_sent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Window accounting under any interleaving of deliveries and consumption: nothing
        /// goes negative, the invariant holds, and everything consumed is eventually returned.
        #[test]
        fn window_invariant(ops in proptest::collection::vec((any::<bool>(), 0u32..100_000), 0..200)) {
            let mut ch = Channel::new(ChannelState::Open, 1 << 20, 32 * 1024);
            let mut returned = 0u64;
            let mut delivered = 0u64;
            for (deliver, n) in ops {
                if deliver {
                    let n = n.min(ch.recv_window).min(ch.recv_max_packet);
                    ch.recv_window -= n;
                    delivered += u64::from(n);
                } else if let Some(a) = ch.consume(n) {
                    returned += u64::from(a);
                }
                prop_assert_eq!(ch.recv_window + ch.unconsumed() + ch.unadjusted, ch.recv_window_max);
                prop_assert!(ch.recv_window <= ch.recv_window_max);
            }
            // Consume everything left: the whole window comes back.
            if let Some(a) = ch.consume(u32::MAX) {
                returned += u64::from(a);
            }
            prop_assert!(returned <= delivered);
            prop_assert!(ch.recv_window >= ch.recv_window_max / 2 || ch.unadjusted == 0);
        }
    }
}
