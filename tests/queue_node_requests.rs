//! node `@socket.io/redis-emitter` requests published on Redis (`socket.io-request#<nsp>#`)
//! apply to sockio clients: `socketsJoin`, `socketsLeave` and `disconnectSockets`, selected
//! by rooms and exclusions.

#![cfg(feature = "redis")]

mod queue_common;

use queue_common::{cluster, eventually, Broker};
use sockio::SocketIoTestClient;

fn publish(channel: &str, body: &str) {
    let client = redis::Client::open(Broker::Redis.url()).unwrap();
    let mut conn = client.get_connection().unwrap();
    let _: i64 = redis::cmd("PUBLISH")
        .arg(channel)
        .arg(body)
        .query(&mut conn)
        .unwrap();
}

#[test]
fn emitter_requests_select_and_change_clients() {
    let s = cluster(Broker::Redis, "node_requests", 1);
    let io = &s[0];
    // A room name no other test uses: every Redis test server hears these requests.
    let tag = queue_common::last_channel().replace('.', "-");
    let (red, green, blue) = (
        format!("{tag}-red"),
        format!("{tag}-green"),
        format!("{tag}-blue"),
    );
    let mut a = SocketIoTestClient::new(io);
    let mut b = SocketIoTestClient::new(io);
    let mut c = io.test_client().namespace("/chat").connect(io);
    a.emit("join", red.clone());
    b.emit("join", red.clone());
    b.emit("join", blue.clone());
    c.emit_to("/chat", "join", red.clone());
    let (a_sid, b_sid) = (
        a.sid("/").unwrap().to_string(),
        b.sid("/").unwrap().to_string(),
    );

    // The members of red in "/", except those in blue, join green.
    publish(
        "socket.io-request#/#",
        &format!(
            r#"{{"type":2,"opts":{{"rooms":["{red}"],"except":["{blue}"]}},"rooms":["{green}"]}}"#
        ),
    );
    eventually("a joined green", || {
        io.room_members(&green, "/") == vec![a_sid.clone()]
    });
    assert!(
        io.room_members(&green, "/chat").is_empty(),
        "another namespace"
    );

    // Everybody in "/" leaves red.
    publish(
        "socket.io-request#/#",
        &format!(r#"{{"type":3,"opts":{{"rooms":[],"except":[]}},"rooms":["{red}"]}}"#),
    );
    eventually("red is empty in /", || {
        io.room_members(&red, "/").is_empty()
    });
    assert_eq!(io.room_members(&red, "/chat").len(), 1);

    // The members of blue are disconnected from "/".
    publish(
        "socket.io-request#/#",
        &format!(r#"{{"type":4,"opts":{{"rooms":["{blue}"],"except":[]}},"close":false}}"#),
    );
    eventually("b is disconnected", || io.rooms(&b_sid, "/").is_empty());
    assert!(a.is_connected("/"));
    assert!(c.is_connected("/chat"));
}
