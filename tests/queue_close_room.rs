//! Through each message queue: closing a room empties it on every process, and later emits to
//! it reach nobody.

#![cfg(any(feature = "redis", feature = "amqp", feature = "nats"))]

mod queue_common;

use queue_common::{cluster, eventually, receive, Broker};
use sockio::{Context, SocketIoTestClient};

fn closing_a_room_empties_it_everywhere(broker: Broker) {
    let s = cluster(broker, "close_room", 2);
    s[0].on("close", |ctx: Context, room: String| ctx.close_room(&room));
    let mut a = SocketIoTestClient::new(&s[0]);
    let mut b = SocketIoTestClient::new(&s[1]);
    a.emit("join", "game");
    b.emit("join", "game");
    b.emit("join", "other");
    a.emit("close", "game");
    eventually("the room is empty on both processes", || {
        s[0].room_members("game", "/").is_empty() && s[1].room_members("game", "/").is_empty()
    });
    assert_eq!(s[1].room_members("other", "/").len(), 1);
    s[1].to("game").emit("game over", ()).unwrap();
    s[0].to("other").emit("still other", ()).unwrap();
    receive(&mut a, "/", &[("game over", 0), ("still other", 0)]);
    receive(&mut b, "/", &[("game over", 0), ("still other", 1)]);
}

#[cfg(feature = "redis")]
#[test]
fn redis() {
    closing_a_room_empties_it_everywhere(Broker::Redis);
}

#[cfg(feature = "amqp")]
#[test]
fn amqp() {
    closing_a_room_empties_it_everywhere(Broker::Amqp);
}

#[cfg(feature = "nats")]
#[test]
fn nats() {
    closing_a_room_empties_it_everywhere(Broker::Nats);
}
