//! [`Mailbox`]: the ordered, unbounded queue of one socket's events, read by one task.
//!
//! A socket is mostly idle, so what matters is what an empty mailbox keeps: a `VecDeque`
//! that holds a handful of slots, shrunk back after a burst, and one waker. A general
//! channel keeps a block of slots (about 4 KB) per socket once anything went through it.

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
    /// The reader waiting for the next item.
    waker: Option<Waker>,
}

impl<T> Mailbox<T> {
    pub(crate) fn new() -> Self {
        Mailbox {
            inner: Mutex::new(Inner {
                items: VecDeque::new(),
                closed: false,
                waker: None,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        // Nothing runs user code under this lock; a poisoned one is still consistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `item`; gives it back when the mailbox is closed.
    pub(crate) fn push(&self, item: T) -> Result<(), T> {
        let waker = {
            let mut inner = self.lock();
            if inner.closed {
                return Err(item);
            }
            inner.items.push_back(item);
            inner.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// Takes no more items; those queued can still be read.
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

    /// The next item, if one is queued.
    pub(crate) fn try_recv(&self) -> Option<T> {
        self.lock().pop()
    }

    /// The next item; `None` once the mailbox is closed and empty. One reader at a time.
    pub(crate) async fn recv(&self) -> Option<T> {
        poll_fn(|cx| {
            let mut inner = self.lock();
            if let Some(item) = inner.pop() {
                return Poll::Ready(Some(item));
            }
            if inner.closed {
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
    use std::sync::Arc;

    #[test]
    fn items_come_out_in_order_then_none_after_close() {
        let m = Mailbox::new();
        for i in 0..100 {
            m.push(i).unwrap();
        }
        m.close();
        assert_eq!(m.push(100), Err(100));
        let got: Vec<_> = std::iter::from_fn(|| futures_lite::future::block_on(m.recv())).collect();
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
    fn a_waiting_reader_is_woken_by_push_and_by_close() {
        let m = Arc::new(Mailbox::new());
        let reader = {
            let m = m.clone();
            std::thread::spawn(move || {
                let mut got = Vec::new();
                while let Some(v) = futures_lite::future::block_on(m.recv()) {
                    got.push(v);
                }
                got
            })
        };
        for i in 0..1000 {
            m.push(i).unwrap();
            if i % 100 == 0 {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
        m.close();
        assert_eq!(reader.join().unwrap(), (0..1000).collect::<Vec<_>>());
    }
}
