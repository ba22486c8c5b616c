//! Mounted in axum and served with `into_make_service_with_connect_info::<SocketAddr>()`, the
//! handshake request knows the peer address (`ctx.request().peer_addr()`).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sockio::{Context, SocketIo};

fn http(addr: SocketAddr, method: &str, target: &str, body: &str) -> (u16, String, SocketAddr) {
    let mut s = TcpStream::connect(addr).unwrap();
    let local = s.local_addr().unwrap();
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
    (status, body.to_string(), local)
}

#[test]
fn axum_connect_info_is_the_peer_address() {
    let io = SocketIo::new();
    let seen: Arc<Mutex<Option<Option<SocketAddr>>>> = Arc::default();
    let seen2 = seen.clone();
    io.on_connect(move |ctx: Context| {
        *seen2.lock().unwrap() = Some(ctx.request().peer_addr());
    });
    let app = axum::Router::new().layer(io.layer());

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
            let make = app.into_make_service_with_connect_info::<SocketAddr>();
            axum::serve(listener, make).await.unwrap();
        });
    });
    let addr = rx.recv_timeout(Duration::from_secs(10)).unwrap();

    let (status, open, handshake_from) =
        http(addr, "GET", "/socket.io/?EIO=4&transport=polling", "");
    assert_eq!(status, 200);
    let open: serde_json::Value = serde_json::from_str(&open[1..]).unwrap();
    let target = format!(
        "/socket.io/?EIO=4&transport=polling&sid={}",
        open["sid"].as_str().unwrap()
    );
    assert_eq!(http(addr, "POST", &target, "40").0, 200);
    let (_, connected, _) = http(addr, "GET", &target, "");
    assert!(connected.starts_with("40{\"sid\":"), "{connected}");
    assert_eq!(*seen.lock().unwrap(), Some(Some(handshake_from)));
}
