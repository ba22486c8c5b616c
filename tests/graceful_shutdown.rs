//! Graceful shutdown: a polling client with no request parked still gets what was queued for
//! it and its close on its next request; a WebSocket client gets its packets then a close;
//! new connections are refused meanwhile; every disconnect handler has run by the time
//! serving returns.

#[path = "common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::client::{http_request, Client, Options, Transport};
use sockio::{Context, DisconnectReason, SocketIo};

fn text(body: &[u8]) -> String {
    String::from_utf8_lossy(body).into_owned()
}

#[test]
fn clients_get_their_last_packets_and_handlers_run_before_serve_returns() {
    let io = SocketIo::new();
    let goodbyes = Arc::new(AtomicUsize::new(0));
    let seen = goodbyes.clone();
    io.on_disconnect(move |_: Context, reason: DisconnectReason| {
        assert_eq!(reason, DisconnectReason::ServerShuttingDown);
        // A slow handler: serving must wait for it.
        std::thread::sleep(Duration::from_millis(200));
        seen.fetch_add(1, Ordering::SeqCst);
    });
    let served = common::serve::tokio(&io);
    let addr = served.addr;

    // A polling client by hand, so that no GET is parked when the server stops.
    let (status, open) = http_request(addr, "GET", "/socket.io/?EIO=4&transport=polling", &[], b"");
    assert_eq!(status, 200);
    let open: serde_json::Value = serde_json::from_str(&text(&open)[1..]).unwrap();
    let target = format!(
        "/socket.io/?EIO=4&transport=polling&sid={}",
        open["sid"].as_str().unwrap()
    );
    assert_eq!(http_request(addr, "POST", &target, &[], b"40").0, 200);
    let (_, connected) = http_request(addr, "GET", &target, &[], b"");
    assert!(text(&connected).starts_with("40{\"sid\":"));

    let mut ws = Client::connect(addr, Options::new(Transport::WebSocket), "/", None);

    for i in 0..3 {
        io.emit("last", i).unwrap();
    }
    ws.expect("/", "last");
    let stopping = std::thread::spawn(move || served.stop());
    std::thread::sleep(Duration::from_millis(100));

    // New connections are refused while the server drains.
    let (status, _) = http_request(addr, "GET", "/socket.io/?EIO=4&transport=polling", &[], b"");
    assert_eq!(status, 503);

    // The polling client's next request brings it everything and the close.
    let (status, rest) = http_request(addr, "GET", &target, &[], b"");
    assert_eq!(status, 200);
    assert_eq!(
        text(&rest),
        "42[\"last\",0]\u{1e}42[\"last\",1]\u{1e}42[\"last\",2]\u{1e}1"
    );
    assert_eq!(ws.expect("/", "last"), vec![serde_json::json!(1)]);
    assert_eq!(ws.expect("/", "last"), vec![serde_json::json!(2)]);
    ws.expect_closed();

    stopping.join().unwrap();
    assert_eq!(
        goodbyes.load(Ordering::SeqCst),
        2,
        "both disconnect handlers ran"
    );
}
