//! What a server logs: every refusal and peer fault once, at a fitting level, with the peer
//! address, the sid and the reason (403 from CORS or `allow_request`, 413, 431, a packet that
//! does not parse), and at `trace` every packet in and out (python-socketio's `engineio_logger`).
#![cfg(feature = "tokio")]

#[path = "common/mod.rs"]
mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::client::http_request;
use sockio::{Context, SocketIo};

/// Log lines, collected from a global subscriber at `trace`.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Lines {
    fn install(level: tracing::Level) -> Lines {
        let lines = Lines::default();
        let writer = lines.clone();
        tracing_subscriber::fmt()
            .with_max_level(level)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        lines
    }

    /// The lines so far, and forgets them.
    fn take(&self) -> Vec<String> {
        let bytes = std::mem::take(&mut *self.0.lock().unwrap());
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_string)
            .collect()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn handshake(addr: std::net::SocketAddr) -> String {
    let (status, open) = http_request(addr, "GET", "/socket.io/?EIO=4&transport=polling", &[], b"");
    assert_eq!(status, 200);
    let open: serde_json::Value = serde_json::from_str(&text(&open)[1..]).unwrap();
    open["sid"].as_str().unwrap().to_string()
}

fn one(lines: &[String], all: &[&str]) -> String {
    let found: Vec<&String> = lines
        .iter()
        .filter(|l| all.iter().all(|w| l.contains(w)))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one line with {all:?} in:\n{}",
        lines.join("\n")
    );
    found[0].clone()
}

#[test]
fn refusals_and_faults_are_logged_and_packets_traced() {
    let lines = Lines::install(tracing::Level::TRACE);
    let io = SocketIo::builder()
        .cors_allowed_origins(["https://good.example"])
        .max_payload(1000)
        .build();
    io.allow_request(|req: &sockio::HttpRequest| req.header("x-deny").is_none());
    io.on("echo", |_: Context, s: String| s);
    io.of("/private").on_connect(
        |_: Context, auth: Option<std::collections::HashMap<String, String>>| auth.is_some(),
    );
    let served = common::serve::tokio(&io);
    let addr = served.addr;
    lines.take();

    // 403 by CORS
    let evil = [("origin".to_string(), "https://evil.example".to_string())];
    let (status, _) = http_request(
        addr,
        "GET",
        "/socket.io/?EIO=4&transport=polling",
        &evil,
        b"",
    );
    assert_eq!(status, 403);
    let l = lines.take();
    let line = one(&l, &["request refused", "status=403"]);
    assert!(
        line.contains("DEBUG") && line.contains("peer=Some(127.0.0.1:"),
        "{line}"
    );

    // 403 by allow_request
    let deny = [("x-deny".to_string(), "1".to_string())];
    let (status, _) = http_request(
        addr,
        "GET",
        "/socket.io/?EIO=4&transport=polling",
        &deny,
        b"",
    );
    assert_eq!(status, 403);
    one(
        &lines.take(),
        &["request refused", "status=403", "allow_request"],
    );

    // 413, with the sid, at warn
    let sid = handshake(addr);
    lines.take();
    let target = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    let (status, _) = http_request(addr, "POST", &target, &[], &[b'4'; 2000]);
    assert_eq!(status, 413);
    let l = lines.take();
    let line = one(&l, &["request refused", "status=413"]);
    assert!(line.contains("WARN") && line.contains(&sid), "{line}");

    // a request head over max_http_head (16 KiB): 431, at warn, with the peer
    lines.take();
    let big = [("x-big".to_string(), "a".repeat(20 * 1024))];
    let (status, _) = http_request(
        addr,
        "GET",
        "/socket.io/?EIO=4&transport=polling",
        &big,
        b"",
    );
    assert_eq!(status, 431);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut l = Vec::new();
    while std::time::Instant::now() < deadline {
        l.extend(lines.take());
        if l.iter().any(|line| line.contains("status=431")) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let line = one(&l, &["request refused", "status=431"]);
    assert!(
        line.contains("WARN") && line.contains("peer=127.0.0.1:"),
        "{line}"
    );

    // a packet that does not parse closes its session: the reason, with the sid
    let sid = handshake(addr);
    let target = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    lines.take();
    http_request(addr, "POST", &target, &[], b"4Znot a packet");
    let l = lines.take();
    let line = one(&l, &["session closed", "parse error"]);
    assert!(
        line.contains(&sid) && line.contains("peer=Some(127.0.0.1:"),
        "{line}"
    );

    // a namespace nobody serves, and a connect handler's refusal
    let sid = handshake(addr);
    let target = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    lines.take();
    http_request(addr, "POST", &target, &[], b"40/nowhere,");
    let l = lines.take();
    let line = one(&l, &["namespace connection refused", "Invalid namespace"]);
    assert!(line.contains("/nowhere") && line.contains(&sid), "{line}");
    http_request(addr, "POST", &target, &[], b"40/private,{\"token\":1}");
    std::thread::sleep(std::time::Duration::from_millis(100));
    let l = lines.take();
    let line = one(
        &l,
        &["namespace connection refused", "invalid auth payload"],
    );
    assert!(
        line.contains("/private") && line.contains("DEBUG"),
        "{line}"
    );

    // normal traffic at trace: each packet in and out, with its type and sid
    let sid = handshake(addr);
    let target = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    http_request(addr, "POST", &target, &[], b"40");
    http_request(addr, "GET", &target, &[], b"");
    lines.take();
    http_request(addr, "POST", &target, &[], b"421[\"echo\",\"hi\"]");
    let (_, ack) = http_request(addr, "GET", &target, &[], b"");
    assert_eq!(text(&ack), "431[\"hi\"]");
    let l = lines.take();
    let line = one(&l, &["packet", "direction=\"in\"", "message/EVENT"]);
    assert!(
        line.contains("TRACE") && line.contains(&sid) && line.contains("polling"),
        "{line}"
    );
    let line = one(&l, &["packet", "direction=\"out\"", "message/ACK"]);
    assert!(line.contains("size=9"), "{line}");
    // The polling sessions left open would hold a graceful shutdown for the ping timeout.
    std::mem::forget(served);
}
