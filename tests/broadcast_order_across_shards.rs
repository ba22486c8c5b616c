//! Broadcasts from several threads at once, on a server with several shards: a thread that
//! finds a shard busy leaves its broadcast to the holder, and still every client gets every
//! broadcast exactly once, each thread's in the order it sent them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{json, Value};
use sockio::protocol::{Frame, HttpRequest, WsOut};
use sockio::{SocketIo, WebSocketConnection};

const CLIENTS: usize = 24;
const EMITTERS: usize = 3;
const EACH: u64 = 1500;

fn connect(io: &SocketIo) -> WebSocketConnection {
    let request = HttpRequest {
        path: "/socket.io/".into(),
        query: "EIO=4&transport=websocket".into(),
        ..Default::default()
    };
    let mut c = io.open_websocket(request);
    let _ = c.receive(Frame::Text(Bytes::from_static(b"40")));
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(Instant::now() < until, "no CONNECT reply");
        match c.outbox().try_next() {
            Some(WsOut::Frame(Frame::Text(t))) if t.starts_with(b"40") => return c,
            Some(_) => {}
            None => std::thread::yield_now(),
        }
    }
}

#[test]
fn every_client_gets_every_broadcast_once_in_each_senders_order() {
    let io = SocketIo::builder().shards(2).build();
    // Connections opened from different threads land on different shards.
    let mut clients: Vec<WebSocketConnection> = std::thread::scope(|s| {
        let halves: Vec<_> = (0..2)
            .map(|_| s.spawn(|| (0..CLIENTS / 2).map(|_| connect(&io)).collect::<Vec<_>>()))
            .collect();
        halves.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let done = AtomicBool::new(false);
    // Per client, per emitter: the next sequence number expected.
    let mut next = vec![[0u64; EMITTERS]; CLIENTS];
    std::thread::scope(|s| {
        let emitters: Vec<_> = (0..EMITTERS)
            .map(|k| {
                let io = &io;
                s.spawn(move || {
                    for seq in 0..EACH {
                        io.emit("n", json!([k, seq])).unwrap();
                    }
                })
            })
            .collect();
        // Looks at the shards meanwhile (a holder that only reads must not strand a post).
        let io_ref = &io;
        let done_ref = &done;
        s.spawn(move || {
            while !done_ref.load(Ordering::Relaxed) {
                let _ = io_ref.stats();
                std::thread::yield_now();
            }
        });
        // The clients' writers: drain every outbox until everything arrived.
        let waker = Waker::noop();
        let mut cx = TaskContext::from_waker(waker);
        let until = Instant::now() + Duration::from_secs(60);
        let total = CLIENTS as u64 * EMITTERS as u64 * EACH;
        let mut got = 0u64;
        while got < total {
            assert!(
                Instant::now() < until,
                "only {got} of {total} deliveries arrived"
            );
            let mut any = false;
            for (i, c) in clients.iter_mut().enumerate() {
                while let Poll::Ready(Some(m)) = c.outbox().poll_next(&mut cx) {
                    any = true;
                    let WsOut::Frame(Frame::Text(t)) = m else {
                        panic!("client {i}: unexpected {m:?}");
                    };
                    if &t[..] == b"2" {
                        let _ = c.receive(Frame::Text(Bytes::from_static(b"3")));
                        continue;
                    }
                    let text = std::str::from_utf8(&t).unwrap();
                    let packet: Value = serde_json::from_str(&text[2..]).unwrap();
                    assert_eq!(packet[0], "n", "client {i}: {text}");
                    let k = packet[1][0].as_u64().unwrap() as usize;
                    let seq = packet[1][1].as_u64().unwrap();
                    assert_eq!(
                        seq, next[i][k],
                        "client {i}, emitter {k}: out of order or lost"
                    );
                    next[i][k] += 1;
                    got += 1;
                }
            }
            if !any {
                std::thread::yield_now();
            }
        }
        for e in emitters {
            e.join().unwrap();
        }
        done.store(true, Ordering::Relaxed);
    });
    assert!(next.iter().all(|n| n.iter().all(|&x| x == EACH)));
}
