//! Through each message queue: one process disconnects a client of another process by sid,
//! in one namespace; the client's disconnect handler runs on its own process.

#![cfg(any(feature = "redis", feature = "amqp", feature = "nats"))]

mod queue_common;

use std::sync::{Arc, Mutex};

use queue_common::{cluster, eventually, Broker};
use sockio::{Context, DisconnectReason, SocketIoTestClient};

fn remote_sids_are_disconnected(broker: Broker) {
    let s = cluster(broker, "remote_disconnect", 2);
    let reasons = Arc::new(Mutex::new(Vec::new()));
    let seen = reasons.clone();
    s[1].on_disconnect(move |ctx: Context, reason: DisconnectReason| {
        seen.lock().unwrap().push((ctx.sid().to_string(), reason));
    });
    let mut victim = s[1].test_client().connect(&s[1]);
    assert!(victim.connect("/chat", None));
    let mut bystander = SocketIoTestClient::new(&s[1]);
    let sid = victim.sid("/").unwrap().to_string();
    assert_eq!(s[1].connected_count(), 3);
    s[0].disconnect(&sid, "/");
    eventually("the remote client is disconnected", || {
        s[1].rooms(&sid, "/").is_empty() && !reasons.lock().unwrap().is_empty()
    });
    assert_eq!(
        reasons.lock().unwrap().as_slice(),
        [(sid, DisconnectReason::ServerNamespaceDisconnect)]
    );
    assert!(!victim.is_connected("/"));
    assert!(
        victim.is_connected("/chat"),
        "other namespaces stay connected"
    );
    assert!(bystander.is_connected("/"));
    assert_eq!(s[1].connected_count(), 2);
}

#[cfg(feature = "redis")]
#[test]
fn redis() {
    remote_sids_are_disconnected(Broker::Redis);
}

#[cfg(feature = "amqp")]
#[test]
fn amqp() {
    remote_sids_are_disconnected(Broker::Amqp);
}

#[cfg(feature = "nats")]
#[test]
fn nats() {
    remote_sids_are_disconnected(Broker::Nats);
}
