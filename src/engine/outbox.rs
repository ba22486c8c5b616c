//! [`Outbox`]: the messages waiting for one WebSocket's writer.
//!
//! The engine fills it while it holds its shard (so that a connection's messages keep the order
//! the protocol core put them in) and wakes the writer after letting go of the shard. When it
//! holds more than its capacity the engine tells the core the WebSocket is blocked, so that
//! data waits in the session's bounded queue instead; once the writer has taken it down to half,
//! the outbox tells the engine it is writable again.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Waker};

use sockio_protocol::{TransportHandle, WsOut, WsOutbox};

use super::Engine;

/// Where frames go when nobody writes them to a socket (the in-memory test client).
pub(crate) type Listener = Box<dyn Fn(WsOut) + Send + Sync>;

pub(crate) struct Outbox {
    /// What the engine queued and the writer has not taken yet.
    inner: Mutex<Inner>,
    /// What the writer took out of `inner` in one go and hands out one by one: the writer
    /// locks `inner` once per batch, not once per message.
    taken: Mutex<VecDeque<WsOut>>,
    /// Whether the core was told the WebSocket is blocked (read without `inner`).
    blocked: AtomicBool,
    /// Messages in `inner` and `taken` together, read without either lock: a writer that
    /// looks for more without waiting (`try_next`) takes no lock when there is none.
    available: AtomicUsize,
    /// Messages it holds before the core is told the WebSocket is blocked.
    cap: usize,
    engine: Weak<Engine>,
    transport: TransportHandle,
    listener: Option<Listener>,
}

#[derive(Default)]
struct Inner {
    queue: VecDeque<WsOut>,
    waker: Option<Waker>,
    /// The engine let go: once the queue is empty, the connection ends.
    finished: bool,
    /// The writer is gone: nothing more is kept.
    closed: bool,
}

/// What [`Outbox::push`] did.
pub(crate) struct Pushed {
    /// The writer to wake, once the shard is let go.
    pub(crate) wake: Option<Waker>,
    /// The outbox just went over its capacity: tell the core the WebSocket is blocked.
    pub(crate) blocked: bool,
}

impl Outbox {
    pub(crate) fn new(cap: usize, engine: Weak<Engine>, transport: TransportHandle) -> Self {
        Outbox {
            inner: Mutex::default(),
            taken: Mutex::default(),
            blocked: AtomicBool::new(false),
            available: AtomicUsize::new(0),
            cap: cap.max(1),
            engine,
            transport,
            listener: None,
        }
    }

    /// An outbox whose messages go straight to `listener`, for a client that lives in memory.
    pub(crate) fn direct(
        engine: Weak<Engine>,
        transport: TransportHandle,
        listener: Listener,
    ) -> Self {
        Outbox {
            listener: Some(listener),
            ..Outbox::new(usize::MAX, engine, transport)
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing runs user code under this lock; a poisoned one is still consistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a message (the engine does, holding the connection's shard).
    pub(crate) fn push(&self, m: WsOut) -> Pushed {
        if let Some(listener) = &self.listener {
            listener(m);
            return Pushed {
                wake: None,
                blocked: false,
            };
        }
        let mut inner = self.lock();
        if inner.closed {
            return Pushed {
                wake: None,
                blocked: false,
            };
        }
        inner.queue.push_back(m);
        self.available.fetch_add(1, Ordering::Release);
        let blocked = inner.queue.len() > self.cap && !self.blocked.swap(true, Ordering::AcqRel);
        Pushed {
            wake: inner.waker.take(),
            blocked,
        }
    }

    /// The engine lets go of the connection: the writer ends once it wrote what is queued.
    pub(crate) fn finish(&self) -> Option<Waker> {
        let mut inner = self.lock();
        inner.finished = true;
        inner.waker.take()
    }

    /// Takes the next message; tells the engine when the writer caught up with a blocked
    /// WebSocket.
    fn take(&self, cx: Option<&mut Context<'_>>) -> Poll<Option<WsOut>> {
        if cx.is_none() && self.available.load(Ordering::Acquire) == 0 {
            return Poll::Pending;
        }
        let mut taken = self.taken.lock().unwrap_or_else(|p| p.into_inner());
        if taken.is_empty() {
            let mut inner = self.lock();
            if inner.queue.is_empty() {
                if inner.finished || inner.closed {
                    return Poll::Ready(None);
                }
                if let Some(cx) = cx {
                    match &inner.waker {
                        Some(w) if w.will_wake(cx.waker()) => {}
                        _ => inner.waker = Some(cx.waker().clone()),
                    }
                }
                return Poll::Pending;
            }
            // Everything queued, at once; the engine keeps filling the (empty) other queue.
            std::mem::swap(&mut inner.queue, &mut *taken);
        }
        let next = taken.pop_front();
        if next.is_some() {
            self.available.fetch_sub(1, Ordering::AcqRel);
        }
        let writable = self.blocked.load(Ordering::Acquire)
            && taken.len() <= self.cap / 2
            && self.blocked.swap(false, Ordering::AcqRel);
        drop(taken);
        if writable {
            if let Some(engine) = self.engine.upgrade() {
                engine.ws_writable(self.transport);
            }
        }
        Poll::Ready(next)
    }
}

impl WsOutbox for Outbox {
    fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Option<WsOut>> {
        self.take(Some(cx))
    }

    fn try_next(&self) -> Option<WsOut> {
        match self.take(None) {
            Poll::Ready(m) => m,
            Poll::Pending => None,
        }
    }

    fn close(&self) {
        let mut inner = self.lock();
        inner.closed = true;
        inner.queue = VecDeque::new();
        inner.waker = None;
        drop(inner);
        *self.taken.lock().unwrap_or_else(|p| p.into_inner()) = VecDeque::new();
        self.available.store(0, Ordering::Release);
    }
}
