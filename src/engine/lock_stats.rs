//! How long the engine's locks are held, for the scaling benchmark (Cargo feature
//! `lock-stats`; without it, `Held` is a plain wrapper and nothing is measured).
//!
//! Two kinds: a shard's lock (taken by the connections of that shard and by whatever visits
//! every shard: broadcasts, room commands, counts) and the process-wide ones (the handler
//! registry, recovery's moved-socket map, the test client's idle wait), which no message
//! should need.

use std::ops::{Deref, DerefMut};

/// Which lock a `Held` guard holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One shard's state.
    Shard,
    /// A lock every thread of the process may need.
    Global,
}

/// Totals since the process started (or since [`reset`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LockStats {
    /// Nanoseconds shard locks were held, summed over threads.
    pub shard_held_ns: u64,
    /// Times a shard lock was taken.
    pub shard_acquisitions: u64,
    /// Nanoseconds process-wide locks were held, summed over threads.
    pub global_held_ns: u64,
    /// Times a process-wide lock was taken.
    pub global_acquisitions: u64,
}

#[cfg(feature = "lock-stats")]
mod imp {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};

    use super::{Kind, LockStats};

    /// One thread's totals: written by that thread only, so that measuring adds no cache line
    /// every thread writes.
    #[derive(Default)]
    struct Counters {
        shard_ns: AtomicU64,
        shard_n: AtomicU64,
        global_ns: AtomicU64,
        global_n: AtomicU64,
    }

    /// Every thread's counters, for the totals.
    static ALL: Mutex<Vec<Arc<Counters>>> = Mutex::new(Vec::new());

    thread_local! {
        static MINE: Arc<Counters> = {
            let c = Arc::new(Counters::default());
            ALL.lock().unwrap_or_else(|p| p.into_inner()).push(c.clone());
            c
        };
    }

    pub(super) type Start = std::time::Instant;

    pub(super) fn start() -> Start {
        std::time::Instant::now()
    }

    pub(super) fn record(kind: Kind, start: Start) {
        let ns = start.elapsed().as_nanos() as u64;
        MINE.with(|c| {
            let (total, count) = match kind {
                Kind::Shard => (&c.shard_ns, &c.shard_n),
                Kind::Global => (&c.global_ns, &c.global_n),
            };
            total.fetch_add(ns, Ordering::Relaxed);
            count.fetch_add(1, Ordering::Relaxed);
        });
    }

    pub(super) fn snapshot() -> LockStats {
        let all = ALL.lock().unwrap_or_else(|p| p.into_inner());
        let mut s = LockStats::default();
        for c in all.iter() {
            s.shard_held_ns += c.shard_ns.load(Ordering::Relaxed);
            s.shard_acquisitions += c.shard_n.load(Ordering::Relaxed);
            s.global_held_ns += c.global_ns.load(Ordering::Relaxed);
            s.global_acquisitions += c.global_n.load(Ordering::Relaxed);
        }
        s
    }

    pub(super) fn reset() {
        for c in ALL.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            for a in [&c.shard_ns, &c.shard_n, &c.global_ns, &c.global_n] {
                a.store(0, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(not(feature = "lock-stats"))]
mod imp {
    use super::{Kind, LockStats};

    pub(super) type Start = ();

    pub(super) fn start() -> Start {}

    pub(super) fn record(_: Kind, _: Start) {}

    pub(super) fn snapshot() -> LockStats {
        LockStats::default()
    }

    pub(super) fn reset() {}
}

/// What the locks were held for so far (zeros without the `lock-stats` feature).
pub fn snapshot() -> LockStats {
    imp::snapshot()
}

/// Starts the totals over.
pub fn reset() {
    imp::reset()
}

/// A lock guard that records how long it was held.
pub(crate) struct Held<G> {
    guard: G,
    kind: Kind,
    start: imp::Start,
}

impl<G> Held<G> {
    pub(crate) fn new(guard: G, kind: Kind) -> Self {
        Held {
            guard,
            kind,
            start: imp::start(),
        }
    }
}

impl<G: Deref> Deref for Held<G> {
    type Target = G::Target;

    fn deref(&self) -> &G::Target {
        &self.guard
    }
}

impl<G: DerefMut> DerefMut for Held<G> {
    fn deref_mut(&mut self) -> &mut G::Target {
        &mut self.guard
    }
}

impl<G> Drop for Held<G> {
    // Without the feature, `start` is `()`.
    #[allow(clippy::unit_arg)]
    fn drop(&mut self) {
        imp::record(self.kind, self.start);
    }
}
