//! [`Mailbox`]: the ordered, unbounded queue of one socket's events, read by one task.
//!
//! A socket is mostly idle, so what matters is what an empty mailbox keeps: a `VecDeque`
//! that holds a handful of slots, shrunk back after a burst, and one waker. A general
//! channel keeps a block of slots (about 4 KB) per socket once anything went through it.
//!
//! The reader is started on demand and ends once the mailbox is empty, so an idle socket has
//! no task at all: [`push`](Mailbox::push) says when the caller must start one.
//!
//! One item is handled at a time: [`recv`](Mailbox::recv) hands out the next one only after
//! the reader said it [`finished`](Mailbox::finished) the last. Somebody else may handle an
//! item in the reader's place while the mailbox is idle (nothing queued, nothing being
//! handled): [`try_claim`](Mailbox::try_claim) takes that turn, [`release`](Mailbox::release)
//! gives it back, and [`hand_over`](Mailbox::hand_over) gives the reader what is left of it
//! to finish first.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::{Mutex, MutexGuard};
use std::task::{Poll, Waker};

/// Slots an empty mailbox may keep; more are given back.
const KEEP: usize = 4;

/// A multi-producer, single-consumer queue that never blocks its producers.
pub(crate) struct Mailbox<T> {
    inner: Mutex<Inner<T>>,
}

struct Inner<T> {
    items: VecDeque<T>,
    closed: bool,
    /// An item is being handled, by the reader or by whoever claimed the turn.
    running: bool,
    /// A reader exists (or its starter was told to start one).
    scheduled: bool,
    /// The reader waiting for the next item.
    waker: Option<Waker>,
}

impl<T> Mailbox<T> {
    pub(crate) fn new() -> Self {
        Mailbox {
            inner: Mutex::new(Inner {
                items: VecDeque::new(),
                closed: false,
                running: false,
                scheduled: false,
                waker: None,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        // Nothing runs user code under this lock; a poisoned one is still consistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `item`; gives it back when the mailbox is closed. `Ok(true)`: no reader runs,
    /// the caller must start one.
    pub(crate) fn push(&self, item: T) -> Result<bool, T> {
        let (waker, start) = {
            let mut inner = self.lock();
            if inner.closed {
                return Err(item);
            }
            inner.items.push_back(item);
            (
                inner.waker.take(),
                !std::mem::replace(&mut inner.scheduled, true),
            )
        };
        if let Some(w) = waker {
            w.wake();
        }
        Ok(start)
    }

    /// Takes no more items; those queued can still be read, and nobody can claim a turn.
    pub(crate) fn close(&self) {
        let waker = {
            let mut inner = self.lock();
            inner.closed = true;
            inner.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// The next item, if one is queued, whoever is handling one.
    pub(crate) fn try_recv(&self) -> Option<T> {
        self.lock().pop()
    }

    /// The next item, once nothing else is being handled; `None` once the mailbox is empty:
    /// the reader then ends (the next [`push`](Self::push) asks for a new one). One reader,
    /// which calls [`finished`](Self::finished) after each item.
    pub(crate) async fn recv(&self) -> Option<T> {
        poll_fn(|cx| {
            let mut inner = self.lock();
            if !inner.running {
                if let Some(item) = inner.pop() {
                    inner.running = true;
                    return Poll::Ready(Some(item));
                }
                inner.scheduled = false;
                inner.waker = None;
                return Poll::Ready(None);
            }
            match &mut inner.waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                slot => *slot = Some(cx.waker().clone()),
            }
            Poll::Pending
        })
        .await
    }

    /// The reader is done with the item [`recv`](Self::recv) gave it.
    pub(crate) fn finished(&self) {
        self.lock().running = false;
    }

    /// Takes the reader's turn when nothing is queued, being handled, or closed: the caller
    /// handles one item itself, then [`release`](Self::release)s or
    /// [`hand_over`](Self::hand_over)s. Items pushed meanwhile wait.
    pub(crate) fn try_claim(&self) -> bool {
        let mut inner = self.lock();
        let free = !inner.running && !inner.closed && inner.items.is_empty();
        if free {
            inner.running = true;
        }
        free
    }

    /// Takes out every queued item `drop_it` says to drop; returns how many.
    pub(crate) fn discard(&self, drop_it: impl Fn(&T) -> bool) -> usize {
        let dropped: Vec<T> = {
            let mut inner = self.lock();
            let mut dropped = Vec::new();
            let mut kept = VecDeque::new();
            for item in inner.items.drain(..) {
                if drop_it(&item) {
                    dropped.push(item);
                } else {
                    kept.push_back(item);
                }
            }
            inner.items = kept;
            dropped
        };
        // Dropped outside the lock: an item may own anything.
        dropped.len()
    }

    /// Gives a claimed turn back.
    pub(crate) fn release(&self) {
        let waker = {
            let mut inner = self.lock();
            inner.running = false;
            // With nothing queued the reader's waker stays for the next push.
            if inner.items.is_empty() {
                None
            } else {
                inner.waker.take()
            }
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Gives a claimed turn back with `item` (what is left of the claimed work) first in
    /// line, ahead of what was pushed meanwhile, closed or not. True when no reader runs: the
    /// caller must start one.
    pub(crate) fn hand_over(&self, item: T) -> bool {
        let (waker, start) = {
            let mut inner = self.lock();
            inner.items.push_front(item);
            inner.running = false;
            (
                inner.waker.take(),
                !std::mem::replace(&mut inner.scheduled, true),
            )
        };
        if let Some(w) = waker {
            w.wake();
        }
        start
    }
}

impl<T> Inner<T> {
    fn pop(&mut self) -> Option<T> {
        let item = self.items.pop_front();
        if self.items.is_empty() && self.items.capacity() > KEEP {
            self.items.shrink_to(KEEP);
        }
        item
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::sync::Arc;

    #[test]
    fn items_come_out_in_order_then_none_after_close() {
        let m = Mailbox::new();
        for i in 0..100 {
            m.push(i).unwrap();
        }
        m.close();
        assert_eq!(m.push(100), Err(100));
        let got: Vec<_> = std::iter::from_fn(|| {
            let item = futures_lite::future::block_on(m.recv());
            m.finished();
            item
        })
        .collect();
        assert_eq!(got, (0..100).collect::<Vec<_>>());
        assert_eq!(m.try_recv(), None);
    }

    #[test]
    fn an_empty_mailbox_gives_back_what_a_burst_took() {
        let m = Mailbox::new();
        for i in 0..1000 {
            m.push(i).unwrap();
        }
        while m.try_recv().is_some() {}
        assert!(m.lock().items.capacity() <= KEEP);
    }

    #[test]
    fn a_reader_starts_on_demand_and_ends_when_the_mailbox_is_empty() {
        let m = Mailbox::new();
        assert_eq!(m.push(1), Ok(true), "nobody reads: start a reader");
        assert_eq!(m.push(2), Ok(false), "one is on its way");
        let read = |m: &Mailbox<i32>| {
            let item = futures_lite::future::block_on(m.recv());
            if item.is_some() {
                m.finished();
            }
            item
        };
        assert_eq!(read(&m), Some(1));
        assert_eq!(read(&m), Some(2));
        assert_eq!(read(&m), None, "empty: the reader ends");
        assert_eq!(m.push(3), Ok(true), "and the next item starts another");
        assert_eq!(read(&m), Some(3));
    }

    #[test]
    fn readers_started_on_demand_see_every_item_once_in_order_one_at_a_time() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let m = Arc::new(Mailbox::new());
        let got = Arc::new(Mutex::new(Vec::new()));
        let active = Arc::new(AtomicUsize::new(0));
        let mut readers = Vec::new();
        for i in 0..2000 {
            if m.push(i).unwrap() {
                let (m, got, active) = (m.clone(), got.clone(), active.clone());
                readers.push(std::thread::spawn(move || {
                    while let Some(v) = futures_lite::future::block_on(m.recv()) {
                        assert_eq!(active.fetch_add(1, Ordering::SeqCst), 0, "two at once");
                        got.lock().unwrap().push(v);
                        active.fetch_sub(1, Ordering::SeqCst);
                        m.finished();
                    }
                }));
            }
            if i % 200 == 0 {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
        // Items are handled one at a time, and the last reader has read everything once
        // it is done.
        for r in readers {
            r.join().unwrap();
        }
        assert_eq!(*got.lock().unwrap(), (0..2000).collect::<Vec<_>>());
    }

    #[test]
    fn a_claimed_turn_holds_the_reader_back_and_a_hand_over_goes_first() {
        let m = Mailbox::new();
        assert!(m.try_claim());
        assert!(!m.try_claim(), "one turn at a time");
        assert_eq!(m.push(2), Ok(true));
        let mut recv = Box::pin(m.recv());
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        assert!(
            recv.as_mut().poll(&mut cx).is_pending(),
            "the turn is claimed"
        );
        assert!(!m.hand_over(1), "the reader started for 2 is there");
        assert_eq!(recv.as_mut().poll(&mut cx), Poll::Ready(Some(1)));
        assert!(!m.try_claim(), "the reader has it");
        m.finished();
        assert!(!m.try_claim(), "something is queued");
        assert_eq!(futures_lite::future::block_on(m.recv()), Some(2));
        m.finished();
        assert!(m.try_claim());
        m.release();
        m.close();
        assert!(!m.try_claim(), "closed");
    }
}
