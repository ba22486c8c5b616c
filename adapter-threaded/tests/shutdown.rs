//! Graceful shutdown: stop accepting, answer requests in progress, close idle keep-alive
//! connections, let WebSockets write what is queued and close, then return.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::{connect, is_closed, read_reply, start, websocket, STEP};
use sockio_threaded::ServerConfig;
use tungstenite::Message;

#[test]
fn shutdown_finishes_every_connection_and_returns() {
    let server = start(ServerConfig::default(), None);
    // An idle keep-alive connection.
    let mut idle = connect(server.addr);
    idle.write_all(b"GET /socket.io/?a HTTP/1.1\r\n\r\n")
        .unwrap();
    assert_eq!(read_reply(&mut idle).status, 200);
    // A request the handler answers only at shutdown.
    let mut parked = connect(server.addr);
    parked
        .write_all(b"GET /socket.io/?park HTTP/1.1\r\n\r\n")
        .unwrap();
    // A WebSocket.
    let mut ws = websocket(server.addr);
    assert_eq!(server.events.recv_timeout(STEP).unwrap(), "open");
    ws.send(Message::text("x")).unwrap();
    assert_eq!(ws.read().unwrap(), Message::text("x"));
    while server.seen.requests.lock().unwrap().len() < 2 {
        std::thread::sleep(Duration::from_millis(5));
    }

    let started = Instant::now();
    let addr = server.addr;
    let shutdown = server.shutdown.clone();
    let serving = std::thread::spawn(move || server.thread.join());
    shutdown.shutdown();

    let r = read_reply(&mut parked);
    assert_eq!(r.body, b"Get|park|");
    assert_eq!(r.header("connection"), Some("close"));
    assert!(is_closed(&mut parked));
    assert!(is_closed(&mut idle));
    assert!(matches!(ws.read().unwrap(), Message::Close(_)));
    // Our answer to the close lets the server finish at once.
    assert!(ws.read().is_err());
    serving.join().unwrap().unwrap().unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    // Nobody accepts any more.
    let refused = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500));
    assert!(refused.is_err());
    // Triggering again is harmless.
    shutdown.shutdown();
    assert!(shutdown.is_triggered());
}
