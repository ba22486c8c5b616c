//! Events of one client are handled in order, one at a time, whether their handlers finish at
//! once (plain functions) or wait (async functions that sleep), however the two mix and
//! however fast the client sends them.

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
    let io = rt.io();
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
