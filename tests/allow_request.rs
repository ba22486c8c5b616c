//! `allow_request` refuses handshakes before any session exists: polling gets 403 with the
//! Engine.IO "Forbidden" error, a WebSocket upgrade is refused before its 101, and requests
//! of existing sessions are not asked again.

#[path = "common/mod.rs"]
mod common;

use std::net::TcpStream;

use common::client::{http_request, Client, Options, Transport};
use sockio::{Context, SocketIo, Value};

#[test]
fn refused_handshakes_get_forbidden_on_both_transports() {
    let io = SocketIo::new();
    io.allow_request(|req: &sockio::HttpRequest| req.header("x-api-key") == Some("secret"));
    io.on("echo", |_: Context, v: Value| v);
    let served = common::serve::tokio(&io);

    // polling handshake without the key
    let (status, body) = http_request(
        served.addr,
        "GET",
        "/socket.io/?EIO=4&transport=polling",
        &[],
        b"",
    );
    assert_eq!(status, 403);
    assert_eq!(body, br#"{"code":4,"message":"Forbidden"}"#);

    // WebSocket handshake without the key: refused before the 101
    let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", served.addr);
    let err = tungstenite::client(url, TcpStream::connect(served.addr).unwrap()).unwrap_err();
    let tungstenite::HandshakeError::Failure(tungstenite::Error::Http(resp)) = err else {
        panic!("expected an HTTP refusal, got {err}");
    };
    assert_eq!(resp.status(), 403);
    assert_eq!(io.stats().sessions, 0, "no session was created");

    // with the key, both transports (and the upgrade of a polling session) work
    for transport in [Transport::Polling, Transport::WebSocket, Transport::Upgrade] {
        let mut opts = Options::new(transport);
        opts.headers.push(("x-api-key".into(), "secret".into()));
        let mut c = Client::connect(served.addr, opts, "/", None);
        assert_eq!(
            c.emit_ack("/", "echo", serde_json::json!([1])),
            vec![Value::from(1)]
        );
        c.close();
    }
    served.stop();
}
