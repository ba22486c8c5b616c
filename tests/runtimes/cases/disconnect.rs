//! Disconnect handlers get the reason: the client leaving a namespace, closing, vanishing,
//! or the server disconnecting it (from a handler or from outside).

use std::sync::mpsc;
use std::time::Duration;

use serde_json::json;
use sockio::{Context, DisconnectReason};

use crate::{Client, Rt, Transport};

fn recording(
    rt: &Rt,
    tweak: fn(sockio::SocketIoBuilder) -> sockio::SocketIoBuilder,
) -> (sockio::SocketIo, mpsc::Receiver<(String, DisconnectReason)>) {
    let io = tweak((rt.builder)()).build();
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    io.on_disconnect(move |ctx: Context, reason: DisconnectReason| {
        let _ = tx.lock().unwrap().send((ctx.sid().to_string(), reason));
    });
    io.on("kick me", |ctx: Context| ctx.disconnect());
    (io, rx)
}

fn next(rx: &mpsc::Receiver<(String, DisconnectReason)>) -> (String, DisconnectReason) {
    rx.recv_timeout(crate::STEP).expect("a disconnect")
}

pub fn disconnect_reasons(rt: &Rt) {
    // Short heartbeats, so that a vanished polling client is noticed quickly.
    let (io, rx) = recording(rt, |b| {
        b.ping_interval(Duration::from_millis(200))
            .ping_timeout(Duration::from_millis(300))
    });
    let served = rt.serve(&io);

    let mut c = rt.client(&served);
    let sid = c.sid("/");
    c.leave("/");
    assert_eq!(
        next(&rx),
        (sid, DisconnectReason::ClientNamespaceDisconnect)
    );

    let mut c = rt.client(&served);
    let sid = c.sid("/");
    c.close();
    assert_eq!(next(&rx), (sid, DisconnectReason::TransportClose));

    let mut c = rt.client(&served);
    let sid = c.sid("/");
    c.vanish();
    let expected = match rt.transport {
        // A polling client that stops polling is found out by the heartbeat.
        Transport::Polling => DisconnectReason::PingTimeout,
        _ => DisconnectReason::TransportClose,
    };
    assert_eq!(next(&rx), (sid, expected));
    assert_eq!(io.connected_count(), 0);
}

pub fn server_side_disconnect(rt: &Rt) {
    let (io, rx) = recording(rt, |b| b);
    let served = rt.serve(&io);

    let mut c = rt.client(&served);
    let sid = c.sid("/");
    c.emit("/", "kick me", json!([]));
    c.expect_disconnect("/");
    assert_eq!(
        next(&rx),
        (sid, DisconnectReason::ServerNamespaceDisconnect)
    );

    // From outside any handler, one namespace of several.
    let mut c = Client::open(served.addr, rt.options());
    let sid = c.join("/", None).unwrap();
    io.of("/other").on("ping", |_: Context| "pong");
    c.join("/other", None).unwrap();
    io.disconnect(&sid, "/");
    c.expect_disconnect("/");
    assert_eq!(
        next(&rx),
        (sid, DisconnectReason::ServerNamespaceDisconnect)
    );
    assert_eq!(c.emit_ack("/other", "ping", json!([])), vec![json!("pong")]);
    assert!(!c.is_closed());
}
