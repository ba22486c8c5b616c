//! Every thread the adapter starts ends when its connection does: after many connections of
//! every kind (keep-alive HTTP, WebSockets closed properly or dropped, requests abandoned
//! half-way) the adapter runs as many threads as before, and while they are open a WebSocket
//! costs no thread (a few reactor threads, started with the first one, serve them all and end
//! with the server).

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::{connect, read_reply, start, stop, websocket, STEP};
use sockio_threaded::{live_threads, ServerConfig};
use tungstenite::Message;

/// Threads of this process, as the kernel counts them.
fn os_threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Waits until the adapter runs `n` threads; the count it settled at.
fn settle_at(n: usize) -> usize {
    let end = Instant::now() + STEP;
    while live_threads() != n && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(10));
    }
    live_threads()
}

#[test]
fn no_thread_outlives_its_connection() {
    let server = start(ServerConfig::default(), None);
    // Warm up: the timer thread starts on first use and stays.
    sockio_threaded::block_on(sockio_threaded::sleep(Duration::from_millis(1)));
    let before = live_threads();
    let before_os = os_threads();
    // The first WebSocket starts the reactor threads, one per core.
    let mut ws = websocket(server.addr);
    ws.close(None).unwrap();
    while ws.read().is_ok() {}
    std::thread::sleep(Duration::from_millis(100));
    let base = live_threads();
    let base_os = os_threads();
    let cores = std::thread::available_parallelism().unwrap().get();
    assert_eq!(base - before, cores, "one reactor thread per core");
    assert_eq!(base_os - before_os, cores);

    for round in 0..30 {
        // Keep-alive HTTP, then the client leaves.
        let mut s = connect(server.addr);
        s.write_all(b"GET /socket.io/?a HTTP/1.1\r\n\r\nPOST /socket.io/ HTTP/1.1\r\nContent-Length: 1\r\n\r\nb")
            .unwrap();
        assert_eq!(read_reply(&mut s).status, 200);
        assert_eq!(read_reply(&mut s).body, b"Post||b");
        drop(s);
        // A request abandoned in the middle of its body.
        let mut s = connect(server.addr);
        s.write_all(b"POST /socket.io/ HTTP/1.1\r\nContent-Length: 100\r\n\r\nhalf")
            .unwrap();
        drop(s);
        // A WebSocket closed properly, and one just dropped.
        let mut ws = websocket(server.addr);
        ws.send(Message::text(format!("{round}"))).unwrap();
        assert_eq!(ws.read().unwrap(), Message::text(format!("{round}")));
        ws.close(None).unwrap();
        while ws.read().is_ok() {}
        drop(websocket(server.addr));
    }
    assert_eq!(settle_at(base), base, "adapter threads left behind");
    assert_eq!(os_threads(), base_os);

    // Open at once: no thread per WebSocket, only the echo task of the handlers in this test.
    while server.events.try_recv().is_ok() {}
    let open: Vec<_> = (0..20).map(|_| websocket(server.addr)).collect();
    let mut opened = 0;
    while opened < 20 {
        if server.events.recv_timeout(STEP).unwrap() == "open" {
            opened += 1;
        }
    }
    assert_eq!(settle_at(base + 20), base + 20);
    drop(open);
    assert_eq!(settle_at(base), base);
    stop(server);
    // The reactor threads end with the server.
    assert_eq!(settle_at(before), before);
    // Only the serving thread of this test is gone (and the helper that joined it).
    let end = Instant::now() + STEP;
    while os_threads() != before_os - 1 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(os_threads(), before_os - 1);
}
