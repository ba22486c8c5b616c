//! A property of the sharded engine: with clients spread over several shards, random joins,
//! leaves, disconnects and broadcasts (to rooms, except rooms, skipping a client) reach every
//! client that the rooms select at that moment, exactly once and in the order sent, whatever
//! shard the client lives on.

use std::collections::BTreeSet;
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use proptest::prelude::*;
use serde_json::json;
use sockio::protocol::{Frame, HttpRequest, WsOut};
use sockio::{SocketIo, WebSocketConnection};

const ROOMS: [&str; 3] = ["a", "b", "c"];

#[derive(Debug, Clone)]
enum Op {
    Join(usize, usize),
    Leave(usize, usize),
    Disconnect(usize),
    Broadcast {
        to: Option<usize>,
        except: Option<usize>,
        skip: Option<usize>,
    },
}

fn op(clients: usize) -> impl Strategy<Value = Op> {
    let c = 0..clients;
    let r = 0..ROOMS.len();
    prop_oneof![
        3 => (c.clone(), r.clone()).prop_map(|(c, r)| Op::Join(c, r)),
        2 => (c.clone(), r.clone()).prop_map(|(c, r)| Op::Leave(c, r)),
        1 => c.clone().prop_map(Op::Disconnect),
        5 => (
            proptest::option::of(r.clone()),
            proptest::option::of(r),
            proptest::option::of(c),
        )
            .prop_map(|(to, except, skip)| Op::Broadcast { to, except, skip }),
    ]
}

/// A connected in-memory client and what the model says of it.
struct Client {
    conn: WebSocketConnection,
    sid: String,
    rooms: BTreeSet<usize>,
    connected: bool,
    /// Broadcasts the model says it gets, in order.
    expected: Vec<u64>,
    /// Broadcasts it got.
    got: Vec<u64>,
    /// It saw the server's DISCONNECT.
    disconnected: bool,
}

fn connect(io: &SocketIo) -> (WebSocketConnection, String) {
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
            Some(WsOut::Frame(Frame::Text(t))) if t.starts_with(b"40") => {
                let v: serde_json::Value = serde_json::from_slice(&t[2..]).unwrap();
                return (c, v["sid"].as_str().unwrap().to_owned());
            }
            Some(_) => {}
            None => std::thread::yield_now(),
        }
    }
}

/// Takes what every client's writer would write now.
fn drain(clients: &mut [Client]) {
    let mut cx = TaskContext::from_waker(Waker::noop());
    for c in clients.iter_mut() {
        while let Poll::Ready(Some(m)) = c.conn.outbox().poll_next(&mut cx) {
            let WsOut::Frame(Frame::Text(t)) = m else {
                continue;
            };
            match &t[..] {
                b"2" => {
                    let _ = c.conn.receive(Frame::Text(Bytes::from_static(b"3")));
                }
                b"41" => c.disconnected = true,
                t if t.starts_with(b"42") => {
                    let v: serde_json::Value = serde_json::from_slice(&t[2..]).unwrap();
                    assert_eq!(v[0], "b");
                    c.got.push(v[1].as_u64().unwrap());
                }
                other => panic!("unexpected {:?}", String::from_utf8_lossy(other)),
            }
        }
    }
}

fn run(shards: usize, per_shard: usize, ops: &[Op]) {
    let io = SocketIo::builder().shards(shards).build();
    // Each thread opens its clients on its own home shard.
    let mut clients: Vec<Client> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..shards)
            .map(|_| s.spawn(|| (0..per_shard).map(|_| connect(&io)).collect::<Vec<_>>()))
            .collect();
        threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .map(|(conn, sid)| Client {
                conn,
                sid,
                rooms: BTreeSet::new(),
                connected: true,
                expected: Vec::new(),
                got: Vec::new(),
                disconnected: false,
            })
            .collect()
    });
    let n = clients.len();
    let mut next_id = 0u64;
    for op in ops {
        match *op {
            Op::Join(c, r) => {
                let c = &mut clients[c % n];
                io.enter_room(&c.sid, ROOMS[r], "/");
                if c.connected {
                    c.rooms.insert(r);
                }
            }
            Op::Leave(c, r) => {
                let c = &mut clients[c % n];
                io.leave_room(&c.sid, ROOMS[r], "/");
                c.rooms.remove(&r);
            }
            Op::Disconnect(c) => {
                let c = &mut clients[c % n];
                io.disconnect(&c.sid, "/");
                c.connected = false;
                c.rooms.clear();
            }
            Op::Broadcast { to, except, skip } => {
                let id = next_id;
                next_id += 1;
                let mut e = match to {
                    Some(r) => io.to(ROOMS[r]),
                    None => io.to_all("/"),
                };
                if let Some(r) = except {
                    e = e.except(ROOMS[r]);
                }
                if let Some(s) = skip {
                    e = e.skip_sid(clients[s % n].sid.clone());
                }
                e.emit("b", json!(id)).unwrap();
                for (i, c) in clients.iter_mut().enumerate() {
                    let selected = c.connected
                        && to.is_none_or(|r| c.rooms.contains(&r))
                        && except.is_none_or(|r| !c.rooms.contains(&r))
                        && skip.is_none_or(|s| s % n != i);
                    if selected {
                        c.expected.push(id);
                    }
                }
            }
        }
        drain(&mut clients);
    }
    for (i, c) in clients.iter().enumerate() {
        assert_eq!(c.got, c.expected, "client {i} (sid {})", c.sid);
        assert_eq!(c.disconnected, !c.connected, "client {i}: DISCONNECT");
    }
    // The shards account for every client still connected (disconnect handlers run on the
    // runtime: give them a moment).
    let connected = clients.iter().filter(|c| c.connected).count();
    let until = Instant::now() + Duration::from_secs(10);
    while io.connected_count() != connected && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(io.connected_count(), connected);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn broadcasts_reach_exactly_whom_the_rooms_select_on_every_shard(
        shards in 1usize..=3,
        per_shard in 1usize..=4,
        ops in proptest::collection::vec(op(12), 1..60),
    ) {
        run(shards, per_shard, &ops);
    }
}
