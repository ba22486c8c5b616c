//! With `async_handlers(false)`, events of one client are handled in order, one at a time,
//! whether their handlers finish at once (plain functions) or wait (async functions that
//! sleep), however the two mix and however fast the client sends them. By default
//! (`async_handlers(true)`, as Flask-SocketIO) they start in arrival order and one that waits
//! does not hold up the next.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use sockio::Context;

use crate::Rt;

/// What the handlers saw: the order they finished in, and whether two ever overlapped.
#[derive(Default)]
struct Log {
    order: Vec<u64>,
    running: bool,
    overlapped: bool,
}

impl Log {
    fn enter(&mut self) {
        self.overlapped |= self.running;
        self.running = true;
    }

    fn leave(&mut self, n: u64) {
        self.order.push(n);
        self.running = false;
    }
}

pub fn events_of_one_client_run_in_order(rt: &Rt) {
    let io = (rt.builder)().async_handlers(false).build();
    let log = Arc::new(Mutex::new(Log::default()));
    let fast_log = log.clone();
    io.on("fast", move |_: Context, n: u64| {
        let mut l = fast_log.lock().unwrap();
        l.enter();
        l.leave(n);
        n
    });
    let slow_log = log.clone();
    io.on("slow", move |ctx: Context, n: u64| {
        let log = slow_log.clone();
        async move {
            log.lock().unwrap().enter();
            ctx.io().sleep(Duration::from_millis(15)).await;
            log.lock().unwrap().leave(n);
            n
        }
    });
    let served = rt.serve(&io);
    let mut c = rt.client(&served);

    // Sent back to back, each asking for an acknowledgement; every mix of the two kinds.
    let kinds = [
        "slow", "fast", "fast", "slow", "slow", "fast", "slow", "fast", "fast", "fast", "slow",
    ];
    let ids: Vec<u64> = kinds
        .iter()
        .enumerate()
        .map(|(n, kind)| c.emit_asking("/", kind, json!([n]), Vec::new()))
        .collect();
    for (n, id) in ids.into_iter().enumerate() {
        assert_eq!(c.wait_ack("/", id).0, vec![json!(n)]);
    }
    let log = log.lock().unwrap();
    assert_eq!(log.order, (0..kinds.len() as u64).collect::<Vec<_>>());
    assert!(!log.overlapped, "two handlers of one client overlapped");
}

/// By default a client's events start in arrival order, and an async handler that waits does
/// not hold up the client's next events: a fast event sent after a slow one is answered
/// first, while handlers that finish at once still finish in arrival order.
pub fn events_of_one_client_run_concurrently_by_default(rt: &Rt) {
    let io = rt.io();
    let started = Arc::new(Mutex::new(Vec::new()));
    let order = started.clone();
    io.on("fast", move |_: Context, n: u64| {
        order.lock().unwrap().push(n);
        n
    });
    let order = started.clone();
    io.on("slow", move |ctx: Context, n: u64| {
        order.lock().unwrap().push(n);
        async move {
            ctx.io().sleep(Duration::from_millis(300)).await;
            n
        }
    });
    let served = rt.serve(&io);
    let mut c = rt.client(&served);
    let slow = c.emit_asking("/", "slow", json!([0]), Vec::new());
    let fast: Vec<u64> = (1..=5)
        .map(|n| c.emit_asking("/", "fast", json!([n]), Vec::new()))
        .collect();
    let t0 = std::time::Instant::now();
    for (n, id) in fast.into_iter().enumerate() {
        assert_eq!(c.wait_ack("/", id).0, vec![json!(n + 1)]);
    }
    assert!(
        t0.elapsed() < Duration::from_millis(250),
        "the fast ones did not wait for the slow one: {:?}",
        t0.elapsed()
    );
    assert_eq!(c.wait_ack("/", slow).0, vec![json!(0)]);
    assert_eq!(
        *started.lock().unwrap(),
        vec![0, 1, 2, 3, 4, 5],
        "started in arrival order"
    );
}
