//! Through each message queue: an emit to a room reaches its members on every process, and
//! only them, exactly once; from a handler too (`ctx.to(room)`), and with `except`.

#![cfg(any(feature = "redis", feature = "amqp", feature = "nats"))]

mod queue_common;

use queue_common::{args_of, cluster, receive, Broker};
use serde_json::json;
use sockio::{Context, SocketIoTestClient};

fn room_emits_reach_members_on_every_process(broker: Broker) {
    let s = cluster(broker, "emit_room", 2);
    s[1].on("shout", |ctx: Context, room: String| {
        ctx.to(room).emit("shouted", "from b")
    });
    let mut a_in = SocketIoTestClient::new(&s[0]);
    let mut a_out = SocketIoTestClient::new(&s[0]);
    let mut b_in = SocketIoTestClient::new(&s[1]);
    let mut b_out = SocketIoTestClient::new(&s[1]);
    let mut b_vip = SocketIoTestClient::new(&s[1]);
    a_in.emit("join", "lobby");
    b_in.emit("join", "lobby");
    b_vip.emit("join", "lobby");
    b_vip.emit("join", "vip");
    s[0].to("lobby").emit("lobby news", 1).unwrap();
    b_out.emit("shout", "lobby");
    s[0].to("lobby").except("vip").emit("not vip", ()).unwrap();
    for c in [&mut a_in, &mut b_in] {
        let got = receive(c, "/", &[("lobby news", 1), ("shouted", 1), ("not vip", 1)]);
        assert_eq!(args_of(&got, "lobby news"), vec![json!(1)]);
        assert_eq!(args_of(&got, "shouted"), vec![json!("from b")]);
    }
    receive(
        &mut b_vip,
        "/",
        &[("lobby news", 1), ("shouted", 1), ("not vip", 0)],
    );
    for c in [&mut a_out, &mut b_out] {
        receive(c, "/", &[("lobby news", 0), ("shouted", 0), ("not vip", 0)]);
    }
}

#[cfg(feature = "redis")]
#[test]
fn redis() {
    room_emits_reach_members_on_every_process(Broker::Redis);
}

#[cfg(feature = "amqp")]
#[test]
fn amqp() {
    room_emits_reach_members_on_every_process(Broker::Amqp);
}

#[cfg(feature = "nats")]
#[test]
fn nats() {
    room_emits_reach_members_on_every_process(Broker::Nats);
}
