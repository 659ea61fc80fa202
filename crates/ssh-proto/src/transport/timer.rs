//! Deadlines as data: one slot per timer kind, `poll_timeout` is their minimum.

use std::time::Instant;

/// Why the connection wants to be woken up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Timer {
    /// End of the time allowed for the identification and first key exchange.
    Handshake,
    /// Time-based rekey.
    Rekey,
    /// Server: end of the time allowed for user authentication.
    Auth,
    /// Time to send a keepalive probe (or to give up on the peer).
    Keepalive,
    /// End of the idle time allowed without channel activity.
    Idle,
}

const COUNT: usize = 5;

impl Timer {
    fn index(self) -> usize {
        match self {
            Self::Handshake => 0,
            Self::Rekey => 1,
            Self::Auth => 2,
            Self::Keepalive => 3,
            Self::Idle => 4,
        }
    }

    const ALL: [Timer; COUNT] = [Timer::Handshake, Timer::Rekey, Timer::Auth, Timer::Keepalive, Timer::Idle];
}

/// The timer table.
#[derive(Clone, Debug, Default)]
pub(crate) struct Timers {
    slots: [Option<Instant>; COUNT],
}

impl Timers {
    pub(crate) fn set(&mut self, t: Timer, at: Option<Instant>) {
        if let Some(slot) = self.slots.get_mut(t.index()) {
            *slot = at;
        }
    }

    pub(crate) fn get(&self, t: Timer) -> Option<Instant> {
        self.slots.get(t.index()).copied().flatten()
    }

    /// The earliest deadline and its reason.
    pub(crate) fn next(&self) -> Option<(Instant, Timer)> {
        Timer::ALL.iter().filter_map(|&t| self.get(t).map(|at| (at, t))).min_by_key(|(at, _)| *at)
    }

    /// Timers whose deadline is at or before `now`, cleared as they are returned.
    pub(crate) fn expired(&mut self, now: Instant) -> Vec<Timer> {
        let mut out = Vec::new();
        for t in Timer::ALL {
            if self.get(t).is_some_and(|at| at <= now) {
                self.set(t, None);
                out.push(t);
            }
        }
        out
    }
}
