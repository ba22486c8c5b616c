//! [`Outbox`]: the messages waiting for one WebSocket's writer.
//!
//! The engine fills it while it holds its shard (so that a connection's messages keep the order
//! the protocol core put them in) and wakes the writer after letting go of the shard. When it
//! holds more than its capacity the engine tells the core the WebSocket is blocked, so that
//! data waits in the session's bounded queue instead; once the writer has taken it down to half,
//! the outbox tells the engine it is writable again.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Waker};

use sockio_protocol::{TransportHandle, WsOut, WsOutbox};

use super::Engine;

/// Where frames go when nobody writes them to a socket (the in-memory test client).
pub(crate) type Listener = Box<dyn Fn(WsOut) + Send + Sync>;

/// Laid out so that what [`push`](Self::push) touches (the lock, the queue, the waker, the
/// capacity and the counter) is one cache line: a broadcast pushes to every recipient's
/// outbox, and each of them is cold.
#[repr(C, align(64))]
pub(crate) struct Outbox {
    /// What the engine queued and the writer has not taken yet.
    inner: Mutex<Inner>,
    /// Messages in `inner` and `taken` together, read without either lock: a writer that
    /// looks for more without waiting (`try_next`) takes no lock when there is none.
    available: AtomicU32,
    /// Whether the writer sleeps on the waker in `inner` (it went to sleep with the outbox
    /// empty and has not looked at it since). While it runs, a push wakes nobody: the writer
    /// looks again before it sleeps, and a wake-up would only poll it once more for nothing.
    parked: AtomicBool,
    /// What the writer took out of `inner` in one go and hands out one by one: the writer
    /// locks `inner` once per batch, not once per message.
    taken: Mutex<VecDeque<WsOut>>,
    /// Whether the core was told the WebSocket is blocked (read without `inner`).
    blocked: AtomicBool,
    /// Messages it holds, at most, when it tells the core it is writable again.
    half_cap: usize,
    engine: Weak<Engine>,
    transport: TransportHandle,
    listener: Option<Listener>,
}

struct Inner {
    /// In order; the writer takes all of it at once.
    queue: Vec<WsOut>,
    waker: Option<Waker>,
    /// Messages it holds before the core is told the WebSocket is blocked.
    cap: u32,
    /// The engine let go: once the queue is empty, the connection ends.
    finished: bool,
    /// The writer is gone: nothing more is kept.
    closed: bool,
    /// Messages go straight to `listener` (`listener.is_some()`, kept here so that a push
    /// reads nothing outside this cache line).
    direct: bool,
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
        let cap = cap.clamp(1, u32::MAX as usize);
        Outbox {
            inner: Mutex::new(Inner {
                queue: Vec::new(),
                waker: None,
                cap: cap as u32,
                finished: false,
                closed: false,
                direct: false,
            }),
            available: AtomicU32::new(0),
            parked: AtomicBool::new(false),
            taken: Mutex::default(),
            blocked: AtomicBool::new(false),
            half_cap: cap / 2,
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
        let outbox = Outbox {
            listener: Some(listener),
            ..Outbox::new(usize::MAX, engine, transport)
        };
        outbox.lock().direct = true;
        outbox
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing runs user code under this lock; a poisoned one is still consistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a message (the engine does, holding the connection's shard).
    pub(crate) fn push(&self, m: WsOut) -> Pushed {
        let mut inner = self.lock();
        if inner.closed || inner.direct {
            drop(inner);
            if let Some(listener) = &self.listener {
                listener(m);
            }
            return Pushed {
                wake: None,
                blocked: false,
            };
        }
        inner.queue.push(m);
        self.available.fetch_add(1, Ordering::Release);
        let blocked =
            inner.queue.len() > inner.cap as usize && !self.blocked.swap(true, Ordering::AcqRel);
        // Read under the lock the writer sets it under before it sleeps: a writer that is
        // asleep is always seen as such. The waker stays for the next time.
        let wake = if self.parked.load(Ordering::Acquire) {
            self.parked.store(false, Ordering::Release);
            inner.waker.clone()
        } else {
            None
        };
        Pushed { wake, blocked }
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
        if cx.is_none() && self.parked.load(Ordering::Relaxed) {
            // A writer that looks without a waker runs: pushes need not wake it until it
            // parks again.
            self.parked.store(false, Ordering::Relaxed);
        }
        if self.available.load(Ordering::Acquire) == 0 {
            // Nothing queued, `taken` included (the counter covers it, and only this writer
            // takes from it). A running writer's look ends here, without a lock; one that
            // would sleep asks `inner`, where pushes go, under its lock alone.
            if cx.is_none() {
                return Poll::Pending;
            }
            let inner = self.lock();
            if inner.queue.is_empty() {
                return self.sleep(inner, cx);
            }
        }
        let mut taken = self.taken.lock().unwrap_or_else(|p| p.into_inner());
        if taken.is_empty() {
            let mut inner = self.lock();
            if inner.queue.is_empty() {
                return self.sleep(inner, cx);
            }
            // Everything queued, at once; the engine keeps filling the emptied one (both keep
            // their buffers: the conversions between `Vec` and `VecDeque` do not copy).
            let emptied = Vec::from(std::mem::take(&mut *taken));
            *taken = VecDeque::from(std::mem::replace(&mut inner.queue, emptied));
        }
        let next = taken.pop_front();
        if next.is_some() {
            self.available.fetch_sub(1, Ordering::AcqRel);
        }
        let writable = self.blocked.load(Ordering::Acquire)
            && taken.len() <= self.half_cap
            && self.blocked.swap(false, Ordering::AcqRel);
        drop(taken);
        if writable {
            if let Some(engine) = self.engine.upgrade() {
                engine.ws_writable(self.transport);
            }
        }
        Poll::Ready(next)
    }

    /// Nothing queued (`inner` says so, under its lock): the end, or the writer's waker kept
    /// for the next push.
    fn sleep(
        &self,
        mut inner: MutexGuard<'_, Inner>,
        cx: Option<&mut Context<'_>>,
    ) -> Poll<Option<WsOut>> {
        if inner.finished || inner.closed {
            return Poll::Ready(None);
        }
        if let Some(cx) = cx {
            match &inner.waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => inner.waker = Some(cx.waker().clone()),
            }
            self.parked.store(true, Ordering::Release);
        }
        Poll::Pending
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
        inner.queue = Vec::new();
        inner.waker = None;
        drop(inner);
        *self.taken.lock().unwrap_or_else(|p| p.into_inner()) = VecDeque::new();
        self.available.store(0, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `push` touches is one cache line (the lock and what it guards, then the counter).
    #[test]
    #[cfg(target_os = "linux")]
    fn what_a_push_touches_is_one_cache_line() {
        assert_eq!(std::mem::offset_of!(Outbox, inner), 0);
        assert!(std::mem::offset_of!(Outbox, available) + std::mem::size_of::<AtomicU32>() <= 64);
        assert!(std::mem::offset_of!(Outbox, parked) < 64);
        assert_eq!(std::mem::align_of::<Outbox>(), 64);
    }

    /// Messages come out in the order they went in, across the writer's batches, and the
    /// outbox reports the writer caught up once it took a blocked outbox down to half.
    #[test]
    fn order_holds_across_batches() {
        let outbox = Outbox::new(4, Weak::new(), TransportHandle(1));
        let frame = |i: u8| WsOut::Frame(sockio_protocol::Frame::Text(vec![i].into()));
        let mut blocked = false;
        for i in 0..6 {
            blocked |= outbox.push(frame(i)).blocked;
        }
        assert!(blocked, "over its capacity of 4");
        let mut seen = Vec::new();
        for i in 6..9 {
            seen.push(outbox.try_next().expect("queued"));
            outbox.push(frame(i));
        }
        while let Some(m) = outbox.try_next() {
            seen.push(m);
        }
        let bytes: Vec<u8> = seen
            .into_iter()
            .map(|m| match m {
                WsOut::Frame(sockio_protocol::Frame::Text(b)) => b[0],
                _ => panic!("a frame"),
            })
            .collect();
        assert_eq!(bytes, (0..9).collect::<Vec<u8>>());
        assert!(!outbox.blocked.load(Ordering::Acquire), "caught up");
        assert!(outbox.try_next().is_none());
    }
}
