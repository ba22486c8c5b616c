//! Unit tests of the server that need its private state.

use super::*;
use crate::fuzzing::TestEntropy;

fn drain(server: &mut Server) {
    for _ in 0..1000 {
        match server.poll_output() {
            Output::Timeout(_) => return server.check_invariants(),
            Output::Event(Event::Connect { socket, .. }) => {
                server.socket(socket).expect("live").accept();
            }
            _ => {}
        }
    }
    panic!("no Timeout");
}

/// Regression (whole_server fuzz target, invariant "no empty namespace kept"): namespace
/// names are chosen by clients, so an entry left behind for every namespace a client once
/// joined let one client grow the server's memory without bound.
#[test]
fn namespaces_are_dropped_when_their_last_socket_leaves() {
    let now = Instant::now();
    let mut server = Server::new(Config::default(), Box::new(TestEntropy(7)), now);
    let ws = TransportHandle(1);
    server.handle_input(Input::WebSocketOpen {
        now,
        transport: ws,
        request: HttpRequest {
            query: "EIO=4&transport=websocket".into(),
            ..Default::default()
        },
    });
    drain(&mut server);
    let send = |server: &mut Server, text: String| {
        server.handle_input(Input::WebSocketMessage {
            now,
            transport: ws,
            frame: Frame::Text(Bytes::from(text)),
        });
        drain(server);
    };
    for i in 0..100 {
        send(&mut server, format!("40/n{i},"));
        assert_eq!(server.namespaces.len(), 1);
        send(&mut server, format!("41/n{i},"));
        assert!(server.namespaces.is_empty(), "namespace /n{i} kept");
    }
    send(&mut server, "40".into());
    let socket = server.namespace_sockets("/")[0];
    server.socket(socket).expect("live").disconnect();
    drain(&mut server);
    assert!(server.namespaces.is_empty());
}

/// Regression (whole_server fuzz target, invariant "room listed twice"): a pending socket
/// that joined its own sid's room listed it twice once accepted, so after leaving it the
/// socket still claimed a room the index no longer had it in.
#[test]
fn own_room_joined_while_pending_is_listed_once() {
    let now = Instant::now();
    let mut server = Server::new(Config::default(), Box::new(TestEntropy(9)), now);
    let ws = TransportHandle(1);
    server.handle_input(Input::WebSocketOpen {
        now,
        transport: ws,
        request: HttpRequest {
            query: "EIO=4&transport=websocket".into(),
            ..Default::default()
        },
    });
    while !matches!(server.poll_output(), Output::Timeout(_)) {}
    server.handle_input(Input::WebSocketMessage {
        now,
        transport: ws,
        frame: Frame::Text(Bytes::from_static(b"40")),
    });
    let socket = loop {
        match server.poll_output() {
            Output::Event(Event::Connect { socket, .. }) => break socket,
            Output::Timeout(_) => panic!("no connect event"),
            _ => {}
        }
    };
    while !matches!(server.poll_output(), Output::Timeout(_)) {}
    let mut s = server.socket(socket).expect("pending socket");
    let sid = s.sid().to_string();
    assert!(s.join(sid.as_str()));
    s.accept();
    drain(&mut server);
    let info = server.socket_info(socket).expect("live");
    assert_eq!(info.rooms, [Room::from(sid.as_str())]);
    assert!(server.socket(socket).expect("live").leave(&sid));
    drain(&mut server);
    assert!(server.socket_info(socket).expect("live").rooms.is_empty());
    assert!(server.room_members("/", &sid).is_empty());
}
