//! Heartbeats: a client that answers pings stays; one that stops is dropped with
//! "ping timeout".

use std::time::Duration;

use serde_json::json;
use sockio::{Context, DisconnectReason};

use crate::{Client, Rt};

pub fn heartbeats_keep_or_drop_the_connection(rt: &Rt) {
    let io = (rt.builder)()
        .ping_interval(Duration::from_millis(100))
        .ping_timeout(Duration::from_millis(200))
        .build();
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    io.on_disconnect(move |ctx: Context, reason: DisconnectReason| {
        let _ = tx.lock().unwrap().send((ctx.sid().to_string(), reason));
    });
    io.on("alive", |_: Context| true);
    let served = rt.serve(&io);

    let mut good = rt.client(&served);
    let mut opts = rt.options();
    opts.answer_pings = false;
    let mut mute = Client::connect(served.addr, opts, "/", None);
    let mute_sid = mute.sid("/");
    let (sid, reason) = rx.recv_timeout(crate::STEP).unwrap();
    assert_eq!((sid, reason), (mute_sid, DisconnectReason::PingTimeout));
    mute.expect_closed();
    // Several ping periods later the good client is still there.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(good.emit_ack("/", "alive", json!([])), vec![json!(true)]);
    assert!(rx.try_recv().is_err());
}
