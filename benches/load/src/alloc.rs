//! Counting allocations, for the bench server's `--count-allocs` mode.
//!
//! [`CountingAlloc`] wraps the system allocator. It counts only once [`enable`] was called;
//! until then each allocation pays one relaxed atomic load, so the same binary serves the
//! timed runs. [`Probe`] turns the counts into allocations per event: a handler marks it on
//! every call, and the allocations between the first and the last mark, divided by the
//! calls in between, are what one whole cycle costs end to end (reading the frame, decoding,
//! dispatch, the handler, encoding, the writes), as long as nothing else runs meanwhile.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use serde_json::{json, Value};

use crate::stats::sig3;

static ENABLED: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicU64 = AtomicU64::new(0);
static REALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

/// The system allocator, counting calls once [`enable`]d. Install it with
/// `#[global_allocator]`.
#[derive(Debug, Default, Clone, Copy)]
pub struct CountingAlloc;

// SAFETY: every method forwards to `System` with the same arguments; counting has no effect
// on the memory returned.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if ENABLED.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
            BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        }
        // SAFETY: the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if ENABLED.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
            BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        }
        // SAFETY: the caller upholds `alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` through this allocator.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if ENABLED.load(Ordering::Relaxed) {
            REALLOCS.fetch_add(1, Ordering::Relaxed);
            BYTES.fetch_add(
                new_size.saturating_sub(layout.size()) as u64,
                Ordering::Relaxed,
            );
        }
        // SAFETY: `ptr` came from `System` through this allocator; the caller upholds
        // `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Starts counting.
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// Counts so far.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// `alloc` and `alloc_zeroed` calls.
    pub allocs: u64,
    /// `realloc` calls.
    pub reallocs: u64,
    /// Bytes requested (growth only, for reallocs).
    pub bytes: u64,
}

/// The counts now.
pub fn counts() -> Counts {
    Counts {
        allocs: ALLOCS.load(Ordering::Relaxed),
        reallocs: REALLOCS.load(Ordering::Relaxed),
        bytes: BYTES.load(Ordering::Relaxed),
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Window {
    first: Counts,
    last: Counts,
    marks: u64,
    /// Recipients at the last mark (for broadcasts).
    recipients: u64,
}

/// Allocations per event, from marks at every handler call.
#[derive(Debug, Default)]
pub struct Probe {
    window: Mutex<Option<Window>>,
}

impl Probe {
    /// Records one event (with `recipients` for broadcasts, else 1).
    pub fn mark(&self, recipients: u64) {
        let now = counts();
        let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        let w = w.get_or_insert(Window {
            first: now,
            ..Window::default()
        });
        w.last = now;
        w.marks += 1;
        w.recipients = recipients;
    }

    /// Per-event figures as JSON (null when fewer than two events were marked).
    pub fn report(&self) -> Value {
        let w = *self.window.lock().unwrap_or_else(|p| p.into_inner());
        let Some(w) = w.filter(|w| w.marks >= 2) else {
            return Value::Null;
        };
        let cycles = (w.marks - 1) as f64;
        let allocs = (w.last.allocs - w.first.allocs) as f64 / cycles;
        let reallocs = (w.last.reallocs - w.first.reallocs) as f64 / cycles;
        let bytes = (w.last.bytes - w.first.bytes) as f64 / cycles;
        json!({
            "events": w.marks,
            "allocs": sig3(allocs),
            "reallocs": sig3(reallocs),
            "bytes": sig3(bytes),
            "recipients": w.recipients,
            "allocs_per_recipient": sig3(allocs / w.recipients.max(1) as f64),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_needs_two_marks() {
        let p = Probe::default();
        assert_eq!(p.report(), Value::Null);
        p.mark(1);
        assert_eq!(p.report(), Value::Null);
        p.mark(1);
        assert_eq!(p.report()["events"], 2);
    }
}
