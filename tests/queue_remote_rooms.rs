//! Through each message queue: one process puts a client of another process into a room and
//! takes it out again (`enter_room` / `leave_room` by sid).

#![cfg(any(feature = "redis", feature = "amqp", feature = "nats"))]

mod queue_common;

use queue_common::{cluster, eventually, receive, Broker};
use sockio::SocketIoTestClient;

fn rooms_of_remote_sids_change(broker: Broker) {
    let s = cluster(broker, "remote_rooms", 2);
    let mut remote = SocketIoTestClient::new(&s[1]);
    let mut chat = s[1].test_client().namespace("/chat").connect(&s[1]);
    let sid = remote.sid("/").unwrap().to_string();
    let chat_sid = chat.sid("/chat").unwrap().to_string();
    s[0].enter_room(&sid, "team", "/");
    s[0].enter_room(&chat_sid, "team", "/chat");
    eventually("the remote client joined", || {
        s[1].rooms(&sid, "/").contains(&"team".to_string())
            && s[1].rooms(&chat_sid, "/chat").contains(&"team".to_string())
    });
    s[0].to("team").emit("team news", ()).unwrap();
    s[0].to("team")
        .namespace("/chat")
        .emit("chat team news", ())
        .unwrap();
    receive(&mut remote, "/", &[("team news", 1)]);
    receive(&mut chat, "/chat", &[("chat team news", 1)]);
    s[0].leave_room(&sid, "team", "/");
    eventually("the remote client left", || {
        !s[1].rooms(&sid, "/").contains(&"team".to_string())
    });
    assert!(s[1].rooms(&chat_sid, "/chat").contains(&"team".to_string()));
    s[0].to("team").emit("team news", ()).unwrap();
    receive(&mut remote, "/", &[("team news", 0)]);
}

#[cfg(feature = "redis")]
#[test]
fn redis() {
    rooms_of_remote_sids_change(Broker::Redis);
}

#[cfg(feature = "amqp")]
#[test]
fn amqp() {
    rooms_of_remote_sids_change(Broker::Amqp);
}

#[cfg(feature = "nats")]
#[test]
fn nats() {
    rooms_of_remote_sids_change(Broker::Nats);
}
