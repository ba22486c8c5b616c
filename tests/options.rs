//! Builder options seen on the wire through the tokio server: path, heartbeat values, max
//! payload, CORS, the session cookie and the allowed transports.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use sockio::{SocketIo, Transport};

/// Serves `io` on 127.0.0.1:0 in a runtime of its own; returns the address.
fn serve(io: SocketIo) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            io.serve(listener, std::future::pending()).await.unwrap();
        });
    });
    rx.recv_timeout(Duration::from_secs(10)).unwrap()
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`).
fn http(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete response");
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Response {
        status,
        headers,
        body: body.to_string(),
    }
}

fn open_packet(body: &str) -> serde_json::Value {
    assert!(body.starts_with('0'), "an open packet: {body}");
    serde_json::from_str(&body[1..]).unwrap()
}

#[test]
fn path_heartbeat_and_payload_values_reach_the_handshake() {
    let io = SocketIo::builder()
        .path("/realtime")
        .ping_interval(Duration::from_millis(1500))
        .ping_timeout(Duration::from_millis(700))
        .max_payload(2_000_000)
        .build();
    let addr = serve(io);

    let default_path = http(addr, "GET", "/socket.io/?EIO=4&transport=polling", &[], b"");
    assert_eq!(default_path.status, 404);

    let r = http(addr, "GET", "/realtime/?EIO=4&transport=polling", &[], b"");
    assert_eq!(r.status, 200);
    let open = open_packet(&r.body);
    assert_eq!(open["pingInterval"], 1500);
    assert_eq!(open["pingTimeout"], 700);
    assert_eq!(open["maxPayload"], 2_000_000);
    assert_eq!(open["upgrades"], serde_json::json!(["websocket"]));
    let sid = open["sid"].as_str().unwrap();

    // a body over 1 MB but under max_payload is accepted: a CONNECT padded with auth data
    let pad = "x".repeat(1_200_000);
    let connect = format!("40{{\"pad\":\"{pad}\"}}");
    let target = format!("/realtime/?EIO=4&transport=polling&sid={sid}");
    let r = http(addr, "POST", &target, &[], connect.as_bytes());
    assert_eq!(r.status, 200, "{}", r.body);
    let r = http(addr, "GET", &target, &[], b"");
    assert!(r.body.starts_with("40{\"sid\":"), "{}", r.body);

    // over max_payload the session ends
    let too_big = format!("42[\"x\",\"{}\"]", "y".repeat(2_000_100));
    let r = http(addr, "POST", &target, &[], too_big.as_bytes());
    assert!(r.status >= 400, "status {}", r.status);
    let r = http(addr, "GET", &target, &[], b"");
    assert_eq!(r.status, 400, "the session is gone: {}", r.body);
}

#[test]
fn cors_is_same_origin_by_default_and_configurable() {
    let addr = serve(SocketIo::new());
    let hs = "/socket.io/?EIO=4&transport=polling";
    let same = format!("http://{addr}");
    let r = http(addr, "GET", hs, &[("Origin", &same)], b"");
    assert_eq!(r.status, 200);
    let r = http(addr, "GET", hs, &[("Origin", "https://evil.example")], b"");
    assert_eq!(r.status, 403);
    assert!(r.body.contains("\"code\":4"), "{}", r.body);

    let io = SocketIo::builder()
        .cors_allowed_origins(["https://app.example"])
        .build();
    let addr = serve(io);
    let r = http(addr, "GET", hs, &[("Origin", "https://app.example")], b"");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("Access-Control-Allow-Origin"),
        Some("https://app.example")
    );
    assert_eq!(
        r.header("Access-Control-Allow-Credentials"),
        None,
        "credentials only when asked for"
    );
    let r = http(addr, "GET", hs, &[("Origin", "https://other.example")], b"");
    assert_eq!(r.status, 403);

    let io = SocketIo::builder()
        .cors_allowed_origins(["https://app.example"])
        .cors_credentials(true)
        .build();
    let addr = serve(io);
    let r = http(addr, "GET", hs, &[("Origin", "https://app.example")], b"");
    assert_eq!(r.header("Access-Control-Allow-Credentials"), Some("true"));

    let addr = serve(SocketIo::builder().cors_allowed_origins(["*"]).build());
    let r = http(
        addr,
        "GET",
        hs,
        &[("Origin", "https://anyone.example")],
        b"",
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("Access-Control-Allow-Origin"),
        Some("*"),
        "any origin: no origin echoed"
    );
    assert_eq!(r.header("Access-Control-Allow-Credentials"), None);
    let preflight = http(
        addr,
        "OPTIONS",
        hs,
        &[
            ("Origin", "https://anyone.example"),
            ("Access-Control-Request-Method", "POST"),
        ],
        b"",
    );
    assert!(preflight.status == 200 || preflight.status == 204);
    assert!(preflight
        .header("Access-Control-Allow-Methods")
        .is_some_and(|m| m.contains("POST")));
}

#[test]
fn cookie_is_set_when_asked_for() {
    let addr = serve(SocketIo::new());
    let r = http(addr, "GET", "/socket.io/?EIO=4&transport=polling", &[], b"");
    assert!(r.header("Set-Cookie").is_none(), "no cookie by default");

    let addr = serve(SocketIo::builder().cookie("io").build());
    let r = http(addr, "GET", "/socket.io/?EIO=4&transport=polling", &[], b"");
    let sid = open_packet(&r.body)["sid"].as_str().unwrap().to_string();
    let cookie = r.header("Set-Cookie").expect("a session cookie");
    assert!(cookie.starts_with(&format!("io={sid}")), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "{cookie}");

    let io = SocketIo::builder().cookie("io").cookie_secure(true).build();
    let addr = serve(io);
    let r = http(addr, "GET", "/socket.io/?EIO=4&transport=polling", &[], b"");
    let cookie = r.header("Set-Cookie").expect("a session cookie");
    assert!(cookie.contains("; Secure"), "{cookie}");
}

#[test]
fn transports_can_be_restricted() {
    let io = SocketIo::builder()
        .transports(&[Transport::WebSocket])
        .build();
    let addr = serve(io);
    let r = http(addr, "GET", "/socket.io/?EIO=4&transport=polling", &[], b"");
    assert_eq!(r.status, 400);
    assert!(
        r.body.contains("\"code\":0"),
        "unknown transport: {}",
        r.body
    );

    let io = SocketIo::builder()
        .transports(&[Transport::Polling])
        .build();
    let addr = serve(io);
    let r = http(addr, "GET", "/socket.io/?EIO=4&transport=polling", &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(open_packet(&r.body)["upgrades"], serde_json::json!([]));
}
