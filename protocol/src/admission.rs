//! [`HttpConnections`]: the table of connections still in their HTTP phase, so that slow or
//! idle ones cannot lock everybody else out.
//!
//! A connection that is reading a request head or body, or waiting between requests, costs the
//! server a socket and a buffer while the peer decides how fast it goes. The table caps how
//! many of them there are: when a new one would go over the cap, the one that has been waiting
//! the longest is handed back to be closed. Connections the engine is answering (a parked
//! long-polling GET) and upgraded ones (WebSockets) are not in it; they have their own bounds
//! (heartbeats, queue caps).
//!
//! Pure bookkeeping: the runtime adapters keep it behind their own lock, with whatever they
//! need to close a connection as the payload `T`.

use std::collections::{BTreeMap, HashMap};

/// A connection's number in an [`HttpConnections`] table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// Connections in their HTTP phase, oldest first; see the [module docs](self).
#[derive(Debug)]
pub struct HttpConnections<T> {
    cap: usize,
    next: u64,
    /// Every connection in the table, with the position it holds in `waiting` while it waits.
    entries: HashMap<ConnId, (T, Option<u64>)>,
    /// The waiting ones, by the order they started waiting in.
    waiting: BTreeMap<u64, ConnId>,
}

impl<T> HttpConnections<T> {
    /// A table that keeps at most `cap` waiting connections (at least 1).
    pub fn new(cap: usize) -> Self {
        HttpConnections {
            cap: cap.max(1),
            next: 0,
            entries: HashMap::new(),
            waiting: BTreeMap::new(),
        }
    }

    /// Takes in a new connection, waiting for its first request. Then call
    /// [`over_cap`](Self::over_cap) until it returns `None`, closing what it returns.
    pub fn admit(&mut self, payload: T) -> ConnId {
        let id = ConnId(self.next);
        self.next += 1;
        self.entries.insert(id, (payload, None));
        self.wait(id);
        id
    }

    /// While more connections wait than the cap allows, takes out the one that has waited the
    /// longest, to be closed.
    pub fn over_cap(&mut self) -> Option<(ConnId, T)> {
        if self.waiting.len() > self.cap {
            self.oldest()
        } else {
            None
        }
    }

    /// Takes out the connection that has waited the longest, for instance when the process
    /// ran out of file descriptors.
    pub fn oldest(&mut self) -> Option<(ConnId, T)> {
        let (_, id) = self.waiting.pop_first()?;
        self.entries.remove(&id).map(|(t, _)| (id, t))
    }

    /// The connection waits for (or reads) a request: it may be closed to make room (call
    /// [`over_cap`](Self::over_cap) afterwards).
    pub fn wait(&mut self, id: ConnId) {
        let seq = self.next;
        if let Some((_, pos)) = self.entries.get_mut(&id) {
            if pos.is_none() {
                self.next += 1;
                *pos = Some(seq);
                self.waiting.insert(seq, id);
            }
        }
    }

    /// The connection's request is with the engine (a parked GET, a handler): it is not closed
    /// to make room until it waits again.
    pub fn busy(&mut self, id: ConnId) {
        if let Some((_, pos)) = self.entries.get_mut(&id) {
            if let Some(seq) = pos.take() {
                self.waiting.remove(&seq);
            }
        }
    }

    /// The connection ended or was upgraded: it leaves the table.
    pub fn remove(&mut self, id: ConnId) -> Option<T> {
        let (t, pos) = self.entries.remove(&id)?;
        if let Some(seq) = pos {
            self.waiting.remove(&seq);
        }
        Some(t)
    }

    /// Connections in the table.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Connections that wait for or read a request.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_waiting_goes_first() {
        let mut t = HttpConnections::new(2);
        let a = t.admit("a");
        let b = t.admit("b");
        assert_eq!(t.over_cap(), None);
        t.busy(a);
        let _c = t.admit("c");
        assert_eq!(t.over_cap(), None, "a busy connection does not count");
        t.wait(a);
        assert_eq!(t.over_cap(), Some((b, "b")), "b waited longest");
        assert_eq!(t.over_cap(), None);
        let _d = t.admit("d");
        assert_eq!(t.over_cap().map(|(_, n)| n), Some("c"));
        assert_eq!(t.waiting(), 2);
        assert_eq!(t.remove(a), Some("a"));
        assert_eq!(t.remove(a), None);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn a_full_table_of_busy_connections_still_admits() {
        let mut t = HttpConnections::new(1);
        let ids: Vec<_> = (0..5)
            .map(|i| {
                let id = t.admit(i);
                assert!(t.over_cap().is_none());
                t.busy(id);
                id
            })
            .collect();
        assert_eq!((t.len(), t.waiting()), (5, 0));
        t.wait(ids[3]);
        t.wait(ids[1]);
        assert_eq!(
            t.oldest(),
            Some((ids[3], 3)),
            "ordered by when they started waiting"
        );
        assert_eq!(t.waiting(), 1);
    }
}
