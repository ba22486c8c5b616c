//! Running futures with std alone: [`block_on`] parks the calling thread between polls,
//! [`spawn`] gives a future a thread of its own, and [`Sleep`] is woken by one timer thread
//! that keeps every pending deadline in an ordered map.
//!
//! A thread per task is what a blocking server wants: a handler that blocks (a database call,
//! `std::thread::sleep`) holds up its own socket and nothing else.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// Wakes a thread parked in [`block_on`].
struct Unpark {
    thread: Thread,
    woken: AtomicBool,
}

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

/// Runs `future` to completion on the calling thread, parking it while the future waits.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let unpark = Arc::new(Unpark {
        thread: thread::current(),
        woken: AtomicBool::new(false),
    });
    let waker = Waker::from(unpark.clone());
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        // `park` may return spuriously; the flag says whether a wake really happened.
        while !unpark.woken.swap(false, Ordering::Acquire) {
            thread::park();
        }
    }
}

/// Runs `future` in the background on a thread of its own (named `sockio-task`), which ends
/// with the future.
pub fn spawn<F: Future<Output = ()> + Send + 'static>(future: F) {
    if let Err(e) = crate::spawn_thread("sockio-task", move || block_on(future)) {
        tracing::error!(error = %e, "could not start a thread for a task; the task is dropped");
    }
}

/// Waits until `deadline`.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep { deadline, id: None }
}

/// Waits for `duration` to pass.
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(Instant::now() + duration)
}

/// The future of [`sleep_until`] and [`sleep`].
#[derive(Debug)]
#[must_use = "a sleep does nothing unless awaited"]
pub struct Sleep {
    deadline: Instant,
    /// Set once registered with the timer thread.
    id: Option<u64>,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // Check the clock first: the timer thread only wakes; the clock decides.
        if Instant::now() >= self.deadline {
            self.unregister();
            return Poll::Ready(());
        }
        let t = timers();
        let id = *self
            .id
            .get_or_insert_with(|| t.next_id.fetch_add(1, Ordering::Relaxed));
        let key = (self.deadline, id);
        let mut map = t.lock();
        let earliest = map.keys().next().is_none_or(|first| key < *first);
        map.insert(key, cx.waker().clone());
        drop(map);
        if earliest {
            t.changed.notify_one();
        }
        Poll::Pending
    }
}

impl Sleep {
    fn unregister(&mut self) {
        if let Some(id) = self.id.take() {
            timers().lock().remove(&(self.deadline, id));
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.unregister();
    }
}

/// The pending deadlines, in order, with the wakers to call.
struct Timers {
    map: Mutex<BTreeMap<(Instant, u64), Waker>>,
    changed: Condvar,
    next_id: AtomicU64,
}

impl Timers {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<(Instant, u64), Waker>> {
        // Wakers never panic while the lock is held, but a poisoned map is still sound.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The timer state; the first call starts the timer thread, which lives as long as the
/// process.
fn timers() -> &'static Timers {
    static TIMERS: OnceLock<&'static Timers> = OnceLock::new();
    TIMERS.get_or_init(|| {
        let t: &'static Timers = Box::leak(Box::new(Timers {
            map: Mutex::new(BTreeMap::new()),
            changed: Condvar::new(),
            next_id: AtomicU64::new(0),
        }));
        crate::spawn_thread("sockio-timer", move || run_timers(t))
            .expect("the timer thread starts");
        t
    })
}

fn run_timers(t: &'static Timers) {
    let mut map = t.lock();
    loop {
        let now = Instant::now();
        let mut due = Vec::new();
        while let Some(entry) = map.first_entry() {
            if entry.key().0 > now {
                break;
            }
            due.push(entry.remove());
        }
        if !due.is_empty() {
            drop(map);
            due.into_iter().for_each(Waker::wake);
            map = t.lock();
            continue;
        }
        map = match map.keys().next() {
            Some(&(at, _)) => {
                t.changed
                    .wait_timeout(map, at - now)
                    .unwrap_or_else(|p| p.into_inner())
                    .0
            }
            None => t.changed.wait(map).unwrap_or_else(|p| p.into_inner()),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleeps_end_in_deadline_order() {
        let start = Instant::now();
        let order = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        for (i, ms) in [(0, 60u64), (1, 20), (2, 40)] {
            let order = order.clone();
            let tx = tx.clone();
            spawn(async move {
                sleep(Duration::from_millis(ms)).await;
                order.lock().unwrap().push(i);
                tx.send(()).unwrap();
            });
        }
        for _ in 0..3 {
            rx.recv_timeout(Duration::from_secs(5)).unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec![1, 2, 0]);
        assert!(start.elapsed() >= Duration::from_millis(60));
    }

    #[test]
    fn dropped_sleeps_leave_no_timer_behind() {
        let far = sleep(Duration::from_secs(3600));
        let mut far = Box::pin(far);
        let waker = Waker::from(Arc::new(Unpark {
            thread: thread::current(),
            woken: AtomicBool::new(false),
        }));
        assert!(far
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
        let key = (far.deadline, far.id.unwrap());
        assert!(timers().lock().contains_key(&key));
        drop(far);
        assert!(!timers().lock().contains_key(&key));
        // A sleep in the past is ready at once.
        block_on(sleep_until(Instant::now() - Duration::from_millis(1)));
    }

    #[test]
    fn block_on_is_woken_from_other_threads() {
        let (tx, rx) = async_channel::bounded(1);
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(20));
            tx.send_blocking(7).unwrap();
        });
        assert_eq!(block_on(rx.recv()).unwrap(), 7);
    }
}
