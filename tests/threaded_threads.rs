//! On the threaded runtime every thread started for a client ends when the client goes away:
//! after many Socket.IO clients of every transport have connected, talked and left (politely
//! or not), the server runs as many threads as before; while they are connected and idle, no
//! thread is theirs.

#![cfg(feature = "threaded")]

#[path = "common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::client::{Client, Options, Transport, STEP};
use serde_json::json;
use sockio::{Context, SocketIo};
use sockio_threaded::live_threads;

/// Waits until the adapter runs `n` threads; the count it settled at.
fn settle_at(n: usize) -> usize {
    let end = Instant::now() + STEP;
    while live_threads() != n && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(10));
    }
    live_threads()
}

#[test]
fn threads_end_with_their_clients() {
    let io = SocketIo::builder()
        .runtime(sockio::runtime::Threaded)
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(300))
        .build();
    io.on("echo", |ctx: Context, v: sockio::Value| {
        ctx.broadcast().emit("echoed", v.clone())?;
        Ok::<_, sockio::EmitError>(v)
    });
    let served = common::serve::threaded(&io);
    // Warm up: the engine's timer task and the timer thread start with the first client
    // and live as long as the server.
    let mut c = Client::connect(served.addr, Options::new(Transport::WebSocket), "/", None);
    c.close();
    let mut base = live_threads();
    loop {
        std::thread::sleep(Duration::from_millis(100));
        if live_threads() == base {
            break;
        }
        base = live_threads();
    }

    for round in 0..10 {
        for transport in [Transport::WebSocket, Transport::Polling, Transport::Upgrade] {
            let mut c = Client::connect(served.addr, Options::new(transport), "/", None);
            assert_eq!(c.emit_ack("/", "echo", json!([round])), vec![json!(round)]);
            match round % 3 {
                0 => c.close(),
                1 => c.leave("/"),
                // Gone without a word: the heartbeat finds out.
                _ => c.vanish(),
            }
        }
    }
    // Clients that vanished are dropped after ping interval + timeout.
    let end = Instant::now() + STEP;
    while io.connected_count() != 0 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(io.connected_count(), 0);
    assert_eq!(settle_at(base), base, "threads left behind");

    // While connected and idle, a WebSocket client costs no thread: the adapter's reactor
    // threads serve every WebSocket, and a socket's task runs only while it has events.
    let clients: Vec<Client> = (0..10)
        .map(|_| Client::connect(served.addr, Options::new(Transport::WebSocket), "/", None))
        .collect();
    assert_eq!(settle_at(base), base);
    assert_eq!(io.connected_count(), 10);
    drop(clients);
    assert_eq!(settle_at(base), base);
    served.stop();
}
