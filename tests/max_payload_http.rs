//! `max_payload` governs polling bodies end to end on a real server: a POST up to the limit is
//! accepted even over the adapter's default 1 MB, and a POST over it, by any amount, is
//! refused and closes its session.
#![cfg(feature = "tokio")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use sockio::SocketIo;

/// One HTTP/1.1 request on a fresh connection: (status, body).
fn http(addr: SocketAddr, method: &str, query: &str, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    let head = format!(
        "{method} /socket.io/?{query} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    // The server may answer (and close) before the whole of an oversized body is written.
    let _ = s.write_all(body);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, body.to_string())
}

fn handshake(addr: SocketAddr) -> String {
    let (status, body) = http(addr, "GET", "EIO=4&transport=polling", b"");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body[1..]).unwrap();
    v["sid"].as_str().unwrap().to_string()
}

fn serve(io: SocketIo) -> (SocketAddr, tokio::runtime::Runtime) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move { io.serve(listener, std::future::pending()).await });
    (addr, rt)
}

/// A polling body of `len` bytes: one message packet of filler.
fn message(len: usize) -> Vec<u8> {
    let mut b = vec![b'a'; len];
    b[0] = b'4';
    b
}

#[test]
fn a_larger_max_payload_accepts_bodies_over_one_megabyte() {
    let io = SocketIo::builder().max_payload(2_000_000).build();
    let (addr, _rt) = serve(io);
    let sid = handshake(addr);
    let q = format!("EIO=4&transport=polling&sid={sid}");
    // A plain Engine.IO message that is no Socket.IO packet closes the session as a parse
    // error, so send a valid CONNECT padded with noops: "40" then "6" packets.
    let mut body = b"40".to_vec();
    while body.len() < 1_500_000 {
        body.extend_from_slice(b"\x1e6");
    }
    let (status, text) = http(addr, "POST", &q, &body);
    assert_eq!((status, text.as_str()), (200, "ok"));
}

#[test]
fn a_body_over_max_payload_closes_its_session_whatever_its_size() {
    let io = SocketIo::builder().max_payload(10_000).build();
    let (addr, _rt) = serve(io);
    for len in [10_001, 50_000, 3_000_000] {
        let sid = handshake(addr);
        let q = format!("EIO=4&transport=polling&sid={sid}");
        let (status, _) = http(addr, "POST", &q, &message(len));
        assert_eq!(status, 413, "a {len}-byte body is refused");
        let (status, body) = http(addr, "GET", &q, b"");
        let closed = (status == 200 && body.split('\x1e').any(|p| p == "1"))
            || (status == 400 && body.contains("\"code\":1"));
        assert!(closed, "{len}: the session is closed ({status} {body})");
    }
}
