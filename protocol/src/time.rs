//! Timers: a fixed table per session and a lazily invalidated heap across sessions.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use crate::id::SessionHandle;

/// The kinds of deadline a session can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerKind {
    /// Time to send the next ping.
    Ping,
    /// The pong for the last ping is due.
    Pong,
    /// The upgrade to WebSocket must have completed.
    Upgrade,
    /// A GET that arrived during the upgrade, after the probe, is answered with a noop unless
    /// the upgrade completed first.
    UpgradeGrace,
    /// The client must have connected to a namespace.
    Connect,
    /// A closing polling session waits this long for a last GET to deliver its close packet.
    Linger,
    /// The earliest acknowledgement deadline of the session's sockets.
    Ack,
}

const KINDS: usize = 7;

impl TimerKind {
    const ALL: [TimerKind; KINDS] = [
        TimerKind::Ping,
        TimerKind::Pong,
        TimerKind::Upgrade,
        TimerKind::UpgradeGrace,
        TimerKind::Connect,
        TimerKind::Linger,
        TimerKind::Ack,
    ];
}

/// One session's deadlines, indexed by kind.
#[derive(Debug, Default, Clone)]
pub(crate) struct Timers([Option<Instant>; KINDS]);

impl Timers {
    pub(crate) fn set(&mut self, kind: TimerKind, at: Option<Instant>) {
        self.0[kind as usize] = at;
    }

    pub(crate) fn get(&self, kind: TimerKind) -> Option<Instant> {
        self.0[kind as usize]
    }

    pub(crate) fn next(&self) -> Option<Instant> {
        self.0.iter().flatten().min().copied()
    }

    /// The kinds whose deadline is at or before `now`, in table order.
    pub(crate) fn expired(&self, now: Instant) -> impl Iterator<Item = TimerKind> + '_ {
        TimerKind::ALL
            .into_iter()
            .filter(move |k| self.get(*k).is_some_and(|t| t <= now))
    }

    pub(crate) fn clear(&mut self) {
        self.0 = [None; KINDS];
    }
}

/// Min-heap of (deadline, session). Entries go stale when a session's deadline moves; the owner
/// checks each popped entry against the session's current deadline.
#[derive(Debug, Default)]
pub(crate) struct TimerHeap(BinaryHeap<Reverse<(Instant, SessionHandle)>>);

impl TimerHeap {
    pub(crate) fn push(&mut self, at: Instant, session: SessionHandle) {
        self.0.push(Reverse((at, session)));
    }

    pub(crate) fn peek(&self) -> Option<(Instant, SessionHandle)> {
        self.0.peek().map(|Reverse(e)| *e)
    }

    pub(crate) fn pop(&mut self) -> Option<(Instant, SessionHandle)> {
        self.0.pop().map(|Reverse(e)| e)
    }

    /// Every entry, in no particular order (for the invariant checks).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Instant, SessionHandle)> + '_ {
        self.0.iter().map(|Reverse(e)| *e)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn next_and_expired() {
        let t0 = Instant::now();
        let mut t = Timers::default();
        assert_eq!(t.next(), None);
        t.set(TimerKind::Pong, Some(t0 + Duration::from_secs(2)));
        t.set(TimerKind::Ping, Some(t0 + Duration::from_secs(1)));
        assert_eq!(t.next(), Some(t0 + Duration::from_secs(1)));
        let exp: Vec<_> = t.expired(t0 + Duration::from_secs(2)).collect();
        assert_eq!(exp, vec![TimerKind::Ping, TimerKind::Pong]);
        t.clear();
        assert_eq!(t.next(), None);
    }

    #[test]
    fn heap_orders_by_deadline() {
        let t0 = Instant::now();
        let mut h = TimerHeap::default();
        let a = SessionHandle {
            index: 0,
            generation: 0,
        };
        let b = SessionHandle {
            index: 1,
            generation: 0,
        };
        h.push(t0 + Duration::from_secs(5), a);
        h.push(t0 + Duration::from_secs(1), b);
        assert_eq!(h.peek(), Some((t0 + Duration::from_secs(1), b)));
        assert_eq!(h.pop().map(|e| e.1), Some(b));
        assert_eq!(h.pop().map(|e| e.1), Some(a));
        assert!(h.pop().is_none());
    }
}
