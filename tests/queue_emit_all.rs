//! Through each message queue: a server-side emit and send to everybody reach the clients
//! of every process exactly once, in the default namespace and in another one.

#![cfg(any(feature = "redis", feature = "amqp", feature = "nats"))]

mod queue_common;

use queue_common::{args_of, cluster, receive, Broker};
use serde_json::json;
use sockio::SocketIoTestClient;

fn emit_and_send_reach_every_process(broker: Broker) {
    let s = cluster(broker, "emit_all", 2);
    let mut a = SocketIoTestClient::new(&s[0]);
    let mut b = SocketIoTestClient::new(&s[1]);
    let mut a_chat = s[0].test_client().namespace("/chat").connect(&s[0]);
    let mut b_chat = s[1].test_client().namespace("/chat").connect(&s[1]);
    s[0].emit("news", ("hello", 2)).unwrap();
    s[1].send(json!({"plain": true})).unwrap();
    s[1].to_all("/chat").emit("chat news", "hi chat").unwrap();
    for c in [&mut a, &mut b] {
        let got = receive(c, "/", &[("news", 1), ("message", 1), ("chat news", 0)]);
        assert_eq!(args_of(&got, "news"), vec![json!("hello"), json!(2)]);
        assert_eq!(args_of(&got, "message"), vec![json!({"plain": true})]);
    }
    for c in [&mut a_chat, &mut b_chat] {
        let got = receive(c, "/chat", &[("chat news", 1), ("news", 0)]);
        assert_eq!(args_of(&got, "chat news"), vec![json!("hi chat")]);
    }
}

#[cfg(feature = "redis")]
#[test]
fn redis() {
    emit_and_send_reach_every_process(Broker::Redis);
}

#[cfg(feature = "amqp")]
#[test]
fn amqp() {
    emit_and_send_reach_every_process(Broker::Amqp);
}

#[cfg(feature = "nats")]
#[test]
fn nats() {
    emit_and_send_reach_every_process(Broker::Nats);
}
