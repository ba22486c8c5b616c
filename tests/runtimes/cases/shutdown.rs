//! Shutting the server down delivers what was queued, tells every client, runs the
//! disconnect handlers, and returns. A long-polling client gets what is queued for it, and its
//! close, with its next GET: the server keeps serving the requests of its sessions while they
//! finish.

use std::time::Instant;

use serde_json::json;
use sockio::{Context, DisconnectReason};

use crate::Rt;

pub fn shutdown_delivers_then_closes(rt: &Rt) {
    let io = rt.io();
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    io.on_disconnect(move |_: Context, reason: DisconnectReason| {
        let _ = tx.lock().unwrap().send(reason);
    });
    let served = rt.serve(&io);
    let mut a = rt.client(&served);
    let mut b = rt.client(&served);
    // A round trip, so that an upgrade is complete on the server too: a session still
    // upgrading when the server shuts down is closed over polling, which it has stopped.
    for c in [&mut a, &mut b] {
        assert!(c.emit_ack("/", "unhandled", json!([])).is_empty());
    }
    for i in 0..20 {
        io.emit("last words", i).unwrap();
    }
    let read_all = |c: &mut crate::Client| {
        for i in 0..20 {
            assert_eq!(c.expect("/", "last words"), vec![json!(i)]);
        }
    };
    let started = Instant::now();
    served.stop();
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
    for c in [&mut a, &mut b] {
        read_all(c);
        c.expect_closed();
    }
    for _ in 0..2 {
        assert_eq!(
            rx.recv_timeout(crate::STEP).unwrap(),
            DisconnectReason::ServerShuttingDown
        );
    }
}

/// `io.shutdown()` from anywhere (here a handler) shuts the server down gracefully and makes
/// serving return, without the shutdown future of `serve`.
pub fn io_shutdown_ends_serving(rt: &Rt) {
    let io = rt.io();
    io.on("stop", |ctx: Context| ctx.io().shutdown());
    let mut served = rt.serve(&io);
    let mut a = rt.client(&served);
    io.emit("before", 1).unwrap();
    assert_eq!(a.expect("/", "before"), vec![json!(1)]);
    a.emit("/", "stop", json!([]));
    assert!(
        served.returned_within(std::time::Duration::from_secs(5)),
        "serving did not return after io.shutdown()"
    );
    a.expect_closed();
}
