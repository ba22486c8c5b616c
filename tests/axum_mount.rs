//! `SocketIo::layer` mounts the server into an axum `Router`: ordinary routes keep working and
//! a Socket.IO conversation (handshake, CONNECT, an event with its ack) runs on the engine path.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use axum::routing::get;
use sockio::{Context, SocketIo};

fn http(addr: SocketAddr, method: &str, target: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let req = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}

#[test]
fn socketio_runs_inside_an_axum_router() {
    let io = SocketIo::new();
    io.on("add", |_: Context, a: i64, b: i64| a + b);
    let app = axum::Router::new()
        .route("/hello", get(|| async { "hello from axum" }))
        .layer(io.layer());

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
            axum::serve(listener, app).await.unwrap();
        });
    });
    let addr = rx.recv_timeout(Duration::from_secs(10)).unwrap();

    assert_eq!(
        http(addr, "GET", "/hello", ""),
        (200, "hello from axum".into())
    );

    let (status, open) = http(addr, "GET", "/socket.io/?EIO=4&transport=polling", "");
    assert_eq!(status, 200);
    let open: serde_json::Value = serde_json::from_str(&open[1..]).unwrap();
    let target = format!(
        "/socket.io/?EIO=4&transport=polling&sid={}",
        open["sid"].as_str().unwrap()
    );
    assert_eq!(http(addr, "POST", &target, "40").0, 200);
    let (_, connected) = http(addr, "GET", &target, "");
    assert!(connected.starts_with("40{\"sid\":"), "{connected}");
    assert_eq!(http(addr, "POST", &target, "421[\"add\",2,3]").0, 200);
    let (_, ack) = http(addr, "GET", &target, "");
    assert_eq!(ack, "431[5]");
}
