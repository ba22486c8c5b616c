//! Through each message queue: an emit to one sid (its own room) reaches that client on
//! another process, in its namespace, and nobody else.

#![cfg(any(feature = "redis", feature = "amqp", feature = "nats"))]

mod queue_common;

use queue_common::{args_of, cluster, receive, Broker};
use serde_json::json;
use sockio::SocketIoTestClient;

fn emits_to_a_sid_reach_it_on_another_process(broker: Broker) {
    let s = cluster(broker, "emit_sid", 2);
    let mut target = SocketIoTestClient::new(&s[1]);
    let mut other_b = SocketIoTestClient::new(&s[1]);
    let mut other_a = SocketIoTestClient::new(&s[0]);
    let mut chat = s[1].test_client().namespace("/chat").connect(&s[1]);
    let sid = target.sid("/").unwrap().to_string();
    let chat_sid = chat.sid("/chat").unwrap().to_string();
    s[0].to(sid.clone()).emit("private", "for you").unwrap();
    s[0].to(chat_sid)
        .namespace("/chat")
        .send("in chat")
        .unwrap();
    // The sid is not a room of another namespace.
    s[0].to(sid)
        .namespace("/chat")
        .emit("wrong namespace", ())
        .unwrap();
    let got = receive(&mut target, "/", &[("private", 1), ("wrong namespace", 0)]);
    assert_eq!(args_of(&got, "private"), vec![json!("for you")]);
    let got = receive(
        &mut chat,
        "/chat",
        &[("message", 1), ("wrong namespace", 0)],
    );
    assert_eq!(args_of(&got, "message"), vec![json!("in chat")]);
    for c in [&mut other_a, &mut other_b] {
        receive(c, "/", &[("private", 0)]);
    }
}

#[cfg(feature = "redis")]
#[test]
fn redis() {
    emits_to_a_sid_reach_it_on_another_process(Broker::Redis);
}

#[cfg(feature = "amqp")]
#[test]
fn amqp() {
    emits_to_a_sid_reach_it_on_another_process(Broker::Amqp);
}

#[cfg(feature = "nats")]
#[test]
fn nats() {
    emits_to_a_sid_reach_it_on_another_process(Broker::Nats);
}
