//! Through each message queue: `skip_sid` (and `include_self(false)` in a handler) leaves out
//! a client whichever process it is on; everybody else still gets the emit once.

#![cfg(any(feature = "redis", feature = "amqp", feature = "nats"))]

mod queue_common;

use queue_common::{cluster, receive, Broker};
use sockio::{Context, SocketIoTestClient};

fn skipped_sids_are_skipped_on_every_process(broker: Broker) {
    let s = cluster(broker, "skip_sid", 2);
    s[0].on("to others", |ctx: Context| {
        ctx.broadcast().include_self(false).emit("others", ())
    });
    let mut a1 = SocketIoTestClient::new(&s[0]);
    let mut a2 = SocketIoTestClient::new(&s[0]);
    let mut b1 = SocketIoTestClient::new(&s[1]);
    let mut b2 = SocketIoTestClient::new(&s[1]);
    let b1_sid = b1.sid("/").unwrap().to_string();
    let a2_sid = a2.sid("/").unwrap().to_string();
    // Skipping a remote sid, and two sids on different processes at once.
    s[0].to_all("/")
        .skip_sid(b1_sid.clone())
        .emit("most", ())
        .unwrap();
    s[1].to_all("/")
        .skip_sid(b1_sid)
        .skip_sid(a2_sid)
        .emit("fewer", ())
        .unwrap();
    a1.emit("to others", ());
    receive(&mut a1, "/", &[("most", 1), ("fewer", 1), ("others", 0)]);
    receive(&mut a2, "/", &[("most", 1), ("fewer", 0), ("others", 1)]);
    receive(&mut b1, "/", &[("most", 0), ("fewer", 0), ("others", 1)]);
    receive(&mut b2, "/", &[("most", 1), ("fewer", 1), ("others", 1)]);
}

#[cfg(feature = "redis")]
#[test]
fn redis() {
    skipped_sids_are_skipped_on_every_process(Broker::Redis);
}

#[cfg(feature = "amqp")]
#[test]
fn amqp() {
    skipped_sids_are_skipped_on_every_process(Broker::Amqp);
}

#[cfg(feature = "nats")]
#[test]
fn nats() {
    skipped_sids_are_skipped_on_every_process(Broker::Nats);
}
