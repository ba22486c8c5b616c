//! Through each message queue: binary arguments (top-level and nested) reach the clients of
//! another process byte for byte.

#![cfg(any(feature = "redis", feature = "amqp", feature = "nats"))]

mod queue_common;

use queue_common::{args_of, cluster, receive, Broker};
use serde::Serialize;
use serde_json::json;
use sockio::{Binary, Json, SocketIoTestClient};

#[derive(Serialize)]
struct File {
    name: &'static str,
    data: Binary,
}

fn binary_crosses_processes(broker: Broker) {
    let s = cluster(broker, "binary", 2);
    let mut remote = SocketIoTestClient::new(&s[1]);
    let all_bytes: Vec<u8> = (0..=255).collect();
    s[0].emit(
        "upload",
        (
            Binary::from(all_bytes.clone()),
            Json(File {
                name: "f.bin",
                data: Binary::from(&b"\x00\x01"[..]),
            }),
            "text",
        ),
    )
    .unwrap();
    let got = receive(&mut remote, "/", &[("upload", 1)]);
    let args = args_of(&got, "upload");
    assert_eq!(args[0], json!(all_bytes));
    assert_eq!(args[1], json!({"name": "f.bin", "data": [0, 1]}));
    assert_eq!(args[2], json!("text"));
}

#[cfg(feature = "redis")]
#[test]
fn redis() {
    binary_crosses_processes(Broker::Redis);
}

#[cfg(feature = "amqp")]
#[test]
fn amqp() {
    binary_crosses_processes(Broker::Amqp);
}

#[cfg(feature = "nats")]
#[test]
fn nats() {
    binary_crosses_processes(Broker::Nats);
}
