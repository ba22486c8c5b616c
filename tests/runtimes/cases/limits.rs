//! Per-client limits: text with lone UTF-16 surrogates is legal and relayed as it came; a
//! client that sends events faster than its handlers finish them is disconnected with its own
//! reason, or paused (nothing more read from it) until they caught up.

use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use sockio::{Context, DisconnectReason, EventBacklog};

use crate::{Rt, STEP};

/// `"a\ud800b"` (what `JSON.stringify` makes of a string cut inside a surrogate pair) reaches
/// another client exactly as sent when relayed, reads as U+FFFD in a Rust `String`, and the
/// sender's session lives on.
pub fn lone_surrogates_are_relayed_unchanged(rt: &Rt) {
    let io = rt.io();
    io.on("relay", |ctx: Context| {
        ctx.broadcast()
            .include_self(false)
            .emit("relayed", ctx.arguments().clone())
    });
    io.on("as string", |_: Context, text: String| text);
    let served = rt.serve(&io);
    let mut sender = rt.client(&served);
    let mut receiver = rt.client(&served);

    sender.emit_raw("/", r#"["relay","a\ud800b",{"k":"\udc00"}]"#);
    let got = receiver.event();
    assert_eq!(got.name, "relayed");
    assert_eq!(got.raw, r#"["relayed","a\ud800b",{"k":"\udc00"}]"#);

    let ack = sender.emit_asking_raw("/", r#"["as string","x\ud83dy"]"#);
    assert_eq!(sender.wait_ack("/", ack).0, vec![json!("x\u{fffd}y")]);
    assert!(!sender.is_closed(), "the session lives");
}

/// Past `max_pending_events`, a client whose handlers are stuck is disconnected: its
/// disconnect handler sees `too many events`, other clients carry on.
pub fn too_many_pending_events_disconnect(rt: &Rt) {
    let io = (rt.builder)().max_pending_events(8).build();
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    io.on_disconnect(move |ctx: Context, reason: DisconnectReason| {
        let _ = tx.lock().unwrap().send((ctx.sid().to_string(), reason));
    });
    // Stuck until the test ends, when the sender goes away.
    let (release, stuck) = async_channel::bounded::<()>(1);
    io.on("stuck", move |_: Context| {
        let stuck = stuck.clone();
        async move {
            let _ = stuck.recv().await;
        }
    });
    io.on("echo", |_: Context, n: u64| n);
    let served = rt.serve(&io);
    let mut bystander = rt.client(&served);
    let mut c = rt.client(&served);
    let sid = c.sid("/");
    // Eight fit; the ninth is one too many (more would find the session gone).
    for _ in 0..9 {
        c.emit("/", "stuck", json!([]));
    }
    let (who, reason) = rx.recv_timeout(STEP).expect("a disconnect");
    assert_eq!((who, reason), (sid, DisconnectReason::TooManyEvents));
    assert_eq!(reason.as_str(), "too many events");
    let ack = bystander.emit_asking("/", "echo", json!([7]), Vec::new());
    assert_eq!(bystander.wait_ack("/", ack).0, vec![json!(7)]);
    drop(release);
}

/// With `EventBacklog::Pause`, the same client stays connected: the server stops reading from
/// it while its handlers are behind, then reads the rest, and every event is handled.
pub fn pending_events_pause_the_client(rt: &Rt) {
    let io = (rt.builder)()
        .max_pending_events(4)
        .event_backlog(EventBacklog::Pause)
        .build();
    let handled = Arc::new(Mutex::new(Vec::new()));
    let h = handled.clone();
    io.on("slow", move |ctx: Context, n: u64| {
        let h = h.clone();
        async move {
            ctx.io().sleep(Duration::from_millis(20)).await;
            h.lock().unwrap().push(n);
            n
        }
    });
    let served = rt.serve(&io);
    let mut c = rt.client(&served);
    let ids: Vec<u64> = (0..30)
        .map(|n| c.emit_asking("/", "slow", json!([n]), Vec::new()))
        .collect();
    for (n, id) in ids.into_iter().enumerate() {
        assert_eq!(c.wait_ack("/", id).0, vec![json!(n)]);
    }
    assert!(!c.is_closed());
    let mut got = handled.lock().unwrap().clone();
    got.sort_unstable();
    assert_eq!(got, (0..30).collect::<Vec<u64>>(), "nothing lost");
}
