//! [`SessionData`]: what the driver keeps about one client connection (an Engine.IO session):
//! its handshake request and its pending-events budget, with the [`Gate`] a paused client's
//! readers wait at.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::handler::BoxFuture;
use crate::Request;

/// What the driver keeps about one Engine.IO session (one client connection).
pub(crate) struct SessionData {
    /// The handshake request, shared with the protocol core (one copy per session).
    pub(crate) request: Arc<Request>,
    /// Events received from this client and not yet handled, over all its sockets.
    events: AtomicUsize,
    event_bytes: AtomicUsize,
    /// Closed while reading from this client is paused (`EventBacklog::Pause`).
    pub(crate) gate: Arc<Gate>,
}

impl SessionData {
    pub(crate) fn new(request: Arc<Request>) -> Self {
        SessionData {
            request,
            events: AtomicUsize::new(0),
            event_bytes: AtomicUsize::new(0),
            gate: Arc::default(),
        }
    }

    /// Counts an event of `bytes` against the budget `caps` (events, bytes): `None` (and
    /// nothing counted) when it does not fit, unless `force`. One event always fits.
    pub(crate) fn reserve(
        self: &Arc<Self>,
        bytes: usize,
        caps: (usize, usize),
        force: bool,
    ) -> Option<Pending> {
        let events = self.events.fetch_add(1, Ordering::AcqRel) + 1;
        let total = self.event_bytes.fetch_add(bytes, Ordering::AcqRel) + bytes;
        let fits = events == 1 || (events <= caps.0 && total <= caps.1);
        let pending = Pending {
            session: self.clone(),
            bytes,
            caps,
        };
        if fits || force {
            Some(pending)
        } else {
            drop(pending);
            None
        }
    }

    /// Whether more is pending than `caps` allow.
    pub(crate) fn over(&self, caps: (usize, usize)) -> bool {
        self.events.load(Ordering::Acquire) > caps.0
            || self.event_bytes.load(Ordering::Acquire) > caps.1
    }
}

/// One event counted against its client's pending-events budget, released when dropped (the
/// event was handled, or thrown away with its socket).
pub(crate) struct Pending {
    session: Arc<SessionData>,
    bytes: usize,
    caps: (usize, usize),
}

impl Drop for Pending {
    fn drop(&mut self) {
        let s = &self.session;
        let events = s.events.fetch_sub(1, Ordering::AcqRel) - 1;
        let bytes = s.event_bytes.fetch_sub(self.bytes, Ordering::AcqRel) - self.bytes;
        // A paused client reads again once its handlers caught up to half the budget.
        if s.gate.is_closed() && events <= self.caps.0 / 2 && bytes <= self.caps.1 / 2 {
            s.gate.open();
        }
    }
}

/// A gate readers wait at while a client is paused.
#[derive(Default)]
pub(crate) struct Gate {
    closed: AtomicBool,
    waiters: Mutex<Vec<std::task::Waker>>,
}

impl Gate {
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    pub(crate) fn open(&self) {
        self.closed.store(false, Ordering::Release);
        let waiters = std::mem::take(&mut *self.waiters.lock().unwrap_or_else(|p| p.into_inner()));
        waiters.into_iter().for_each(std::task::Waker::wake);
    }

    /// Resolves once the gate is open.
    pub(crate) fn wait(self: Arc<Self>) -> BoxFuture<()> {
        Box::pin(std::future::poll_fn(move |cx| {
            if !self.is_closed() {
                return std::task::Poll::Ready(());
            }
            let mut waiters = self.waiters.lock().unwrap_or_else(|p| p.into_inner());
            // Checked again under the lock `open` takes after clearing the flag.
            if !self.is_closed() {
                return std::task::Poll::Ready(());
            }
            if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
                waiters.push(cx.waker().clone());
            }
            std::task::Poll::Pending
        }))
    }
}
