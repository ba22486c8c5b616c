//! `ignore_queue()`: an emit that reaches the clients of its own process only, not the other
//! processes of the message queue (Flask-SocketIO's `ignore_queue=True`).

#![cfg(feature = "redis")]

mod queue_common;

use queue_common::{cluster, receive, Broker};
use sockio::SocketIoTestClient;

#[test]
fn redis() {
    let s = cluster(Broker::Redis, "ignore_queue", 2);
    let mut a = SocketIoTestClient::new(&s[0]);
    let mut b = SocketIoTestClient::new(&s[1]);
    s[0].to_all("/").ignore_queue().emit("local", 1).unwrap();
    // Sent after, through the queue: once b has it, the local emit would have come before.
    s[0].emit("everyone", 2).unwrap();
    receive(&mut a, "/", &[("local", 1), ("everyone", 1)]);
    receive(&mut b, "/", &[("local", 0), ("everyone", 1)]);
}
