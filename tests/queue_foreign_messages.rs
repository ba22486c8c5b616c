//! Messages other programs publish on Redis reach sockio clients: python-socketio's JSON
//! (plain, and double-encoded as Kombu does, with binary), node `@socket.io/redis-emitter`
//! msgpack on `socket.io#/#` and `socket.io#/#<room>#` (binary too). Pickled and malformed
//! messages are logged and ignored without disturbing anything.

#![cfg(feature = "redis")]

mod queue_common;

use queue_common::{args_of, cluster, receive, Broker};
use rmpv::Value as Mp;
use serde_json::json;
use sockio::SocketIoTestClient;

fn publish(channel: &str, body: &[u8]) {
    let client = redis::Client::open(Broker::Redis.url()).unwrap();
    let mut conn = client.get_connection().unwrap();
    let _: i64 = redis::cmd("PUBLISH")
        .arg(channel)
        .arg(body)
        .query(&mut conn)
        .unwrap();
}

fn emitter_message(data: Vec<Mp>, rooms: &[&str]) -> Vec<u8> {
    let s = |x: &str| Mp::String(x.into());
    let msg = Mp::Array(vec![
        s("emitter"),
        Mp::Map(vec![
            (s("type"), Mp::from(2)),
            (s("data"), Mp::Array(data)),
            (s("nsp"), s("/")),
        ]),
        Mp::Map(vec![
            (s("rooms"), Mp::Array(rooms.iter().map(|r| s(r)).collect())),
            (s("flags"), Mp::Map(vec![])),
            (s("except"), Mp::Array(vec![])),
        ]),
    ]);
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, &msg).unwrap();
    out
}

#[test]
fn foreign_publishers_reach_clients() {
    let s = cluster(Broker::Redis, "foreign", 1);
    let mut c = SocketIoTestClient::new(&s[0]);
    let mut outsider = SocketIoTestClient::new(&s[0]);
    c.emit("join", "r");
    let channel = queue_common::last_channel();

    // Ignored, and logged: pickle, not JSON, unknown method, bad binary.
    publish(
        &channel,
        b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00}\x94.",
    );
    publish(&channel, b"not json");
    publish(&channel, br#"{"method": "teleport"}"#);
    publish(
        &channel,
        br#"{"method": "emit", "event": "bad", "data": [[{"_placeholder": true, "num": 3}]], "binary": true}"#,
    );
    // python-socketio's RedisManager, write-only.
    publish(
        &channel,
        br#"{"method": "emit", "event": "py", "data": ["hi", 2], "binary": false, "namespace": "/", "room": "r", "skip_sid": null, "callback": null, "host_id": "somepythonprocess"}"#,
    );
    // The same through Kombu (a JSON string holding the JSON), with binary.
    let inner = r#"{"method": "emit", "event": "kombu", "data": [[{"_placeholder": true, "num": 0}], "AAEC"], "binary": true, "namespace": "/", "room": null, "skip_sid": null, "callback": null, "host_id": "kombu"}"#;
    publish(&channel, &serde_json::to_vec(&json!(inner)).unwrap());
    // node's redis-emitter: to everybody, then to one room (its own channel), with a Buffer.
    publish(
        "socket.io#/#",
        &emitter_message(vec![Mp::String("node".into()), Mp::from(7)], &[]),
    );
    publish(
        "socket.io#/#r#",
        &emitter_message(
            vec![Mp::String("node room".into()), Mp::Binary(vec![9, 8, 7])],
            &["r"],
        ),
    );

    let got = receive(
        &mut c,
        "/",
        &[
            ("bad", 0),
            ("py", 1),
            ("kombu", 1),
            ("node", 1),
            ("node room", 1),
        ],
    );
    assert_eq!(args_of(&got, "py"), vec![json!("hi"), json!(2)]);
    assert_eq!(args_of(&got, "kombu"), vec![json!([0, 1, 2])]);
    assert_eq!(args_of(&got, "node"), vec![json!(7)]);
    assert_eq!(args_of(&got, "node room"), vec![json!([9, 8, 7])]);
    receive(
        &mut outsider,
        "/",
        &[("py", 0), ("kombu", 1), ("node", 1), ("node room", 0)],
    );
}
