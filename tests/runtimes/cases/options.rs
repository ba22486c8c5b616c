//! Flask-SocketIO's `SocketIO(...)` options: `always_connect`, `allow_upgrades`,
//! `http_compression` and `compression_threshold`.

use std::io::Read;

use serde_json::{json, Value};
use sockio::{ConnectError, Context};

use crate::common::client::{http_exchange, Client};
use crate::{Rt, Transport};

/// With `always_connect`, the client is connected before its connect handler finishes (here
/// the handler waits until the client saw its CONNECT answer), and a refusal disconnects it
/// instead of answering `connect_error`.
pub fn always_connect_accepts_before_the_handler(rt: &Rt) {
    let io = (rt.builder)().always_connect(true).build();
    let (release, released) = async_channel::bounded::<()>(1);
    io.on_connect(move |ctx: Context, auth: Option<Value>| {
        let released = released.clone();
        async move {
            if auth.is_some_and(|a| a["refuse"] == json!(true)) {
                return Err(ConnectError::new("refused"));
            }
            let _ = released.recv().await;
            ctx.emit("welcome", ())?;
            Ok(())
        }
    });
    let served = rt.serve(&io);
    let mut a = rt.client(&served);
    release.send_blocking(()).unwrap();
    a.expect("/", "welcome");

    let mut b = Client::open(served.addr, rt.options());
    assert!(b.join("/", Some(json!({"refuse": true}))).is_ok());
    b.expect_disconnect("/");
}

/// With `allow_upgrades(false)` the open packet offers no upgrade and an upgrade is refused;
/// WebSocket from the start still works.
pub fn allow_upgrades_off(rt: &Rt) {
    let io = (rt.builder)().allow_upgrades(false).build();
    io.on("ping", |_: Context| "pong");
    let served = rt.serve(&io);
    let (status, _, open) = http_exchange(
        served.addr,
        "GET",
        "/socket.io/?EIO=4&transport=polling",
        &[],
        b"",
    );
    assert_eq!(status, 200);
    let open: Value = serde_json::from_slice(&open[1..]).unwrap();
    assert_eq!(open["upgrades"], json!([]));
    let sid = open["sid"].as_str().unwrap();
    let url = format!(
        "ws://{}/socket.io/?EIO=4&transport=websocket&sid={sid}",
        served.addr
    );
    match tungstenite::connect(url) {
        Err(tungstenite::Error::Http(r)) => assert_eq!(r.status(), 400),
        Ok(_) => panic!("the upgrade went ahead"),
        Err(e) => panic!("unexpected error: {e}"),
    }
    let target = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    assert_eq!(
        http_exchange(served.addr, "POST", &target, &[], b"1").0,
        200
    );
    if rt.transport != Transport::Upgrade {
        let mut c = rt.client(&served);
        assert_eq!(c.emit_ack("/", "ping", json!([])), vec![json!("pong")]);
    }
    // Stopped while the client is still there: its session closes with the server.
    served.stop();
}

/// A polling response of at least `compression_threshold` bytes is gzip- or
/// deflate-compressed for a client that accepts it; smaller ones, and every one with
/// `http_compression(false)`, are not.
pub fn polling_responses_are_compressed(rt: &Rt) {
    if rt.transport != Transport::Polling {
        return; // only long-polling responses are compressed; one transport is enough
    }
    for compression in [true, false] {
        let io = (rt.builder)()
            .http_compression(compression)
            .compression_threshold(2000)
            .build();
        let served = rt.serve(&io);
        let gzip = [("accept-encoding".to_string(), "gzip, deflate".to_string())];
        let deflate = [("accept-encoding".to_string(), "deflate".to_string())];
        let (_, _, open) = http_exchange(
            served.addr,
            "GET",
            "/socket.io/?EIO=4&transport=polling",
            &gzip,
            b"",
        );
        let open: Value = serde_json::from_slice(&open[1..]).unwrap();
        let target = format!(
            "/socket.io/?EIO=4&transport=polling&sid={}",
            open["sid"].as_str().unwrap()
        );
        let (status, _, _) = http_exchange(served.addr, "POST", &target, &[], b"40");
        assert_eq!(status, 200);
        // the CONNECT answer is small: sent as it is
        let (_, headers, body) = http_exchange(served.addr, "GET", &target, &gzip, b"");
        assert!(body.starts_with(b"40{"), "{headers:?}");
        let big = "x".repeat(200_000);
        for (accept, encoding) in [(&gzip, "gzip"), (&deflate, "deflate")] {
            io.emit("big", big.clone()).unwrap();
            let (status, headers, body) = http_exchange(served.addr, "GET", &target, accept, b"");
            assert_eq!(status, 200);
            let content_encoding = headers
                .iter()
                .find(|(n, _)| n == "content-encoding")
                .map(|(_, v)| v.as_str());
            let text = if compression {
                assert_eq!(content_encoding, Some(encoding));
                assert!(body.len() < 10_000, "{} bytes", body.len());
                let mut text = String::new();
                if encoding == "gzip" {
                    flate2::read::GzDecoder::new(&body[..])
                        .read_to_string(&mut text)
                        .unwrap();
                } else {
                    flate2::read::ZlibDecoder::new(&body[..])
                        .read_to_string(&mut text)
                        .unwrap();
                }
                text
            } else {
                assert_eq!(content_encoding, None);
                String::from_utf8(body).unwrap()
            };
            assert_eq!(text, format!("42[\"big\",\"{big}\"]"));
        }
        // The client closes, so that stopping the server waits for nobody.
        http_exchange(served.addr, "POST", &target, &[], b"1");
        served.stop();
    }
}
