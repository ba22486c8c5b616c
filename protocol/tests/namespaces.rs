//! Namespace connections: auth payload, accept, reject with data, client and server disconnect.

mod common;

use common::{Client, Harness};
use serde_json::json;
use sockio_protocol::{Config, DisconnectReason, Event, Payload};

#[test]
fn connect_carries_auth_and_can_be_rejected_with_data() {
    let mut h = Harness::new(Config::default());
    h.auto_accept = false;
    let mut c = Client::websocket(&mut h);
    let id = c.connect(&mut h, "/admin", Some("{\"token\":\"t0k\"}"));
    let Some(Event::Connect {
        auth, namespace, ..
    }) = h.events.last().cloned()
    else {
        panic!("connect event")
    };
    assert_eq!(auth, Some(json!({"token": "t0k"})));
    assert_eq!(namespace.as_str(), "/admin");
    // emits before the decision wait for it... and vanish with a rejection
    h.server
        .socket(id)
        .unwrap()
        .emit(Payload::json("[\"early\"]"))
        .unwrap();
    h.server
        .socket(id)
        .unwrap()
        .reject("Not authorized", Some(&json!({"retry": false})));
    h.drain();
    assert_eq!(
        c.texts(&mut h),
        vec!["4/admin,{\"message\":\"Not authorized\",\"data\":{\"retry\":false}}"]
    );
    assert!(h.server.socket(id).is_none());
    // the session survives and may connect again
    let id2 = c.connect(&mut h, "/admin", None);
    h.server
        .socket(id2)
        .unwrap()
        .emit(Payload::json("[\"early\"]"))
        .unwrap();
    h.server.socket(id2).unwrap().accept();
    h.drain();
    let texts = c.texts(&mut h);
    assert!(texts[0].starts_with("0/admin,{\"sid\":\""), "{texts:?}");
    assert_eq!(texts[1], "2/admin,[\"early\"]");
}

#[test]
fn client_and_server_disconnects_have_their_reasons() {
    let mut h = Harness::new(Config::default());
    let mut c = Client::polling(&mut h);
    let a = c.connect(&mut h, "/", None);
    let b = c.connect(&mut h, "/chat", None);
    c.texts(&mut h);
    c.send_text(&mut h, &["41/chat,"]);
    assert!(h.events.contains(&Event::Disconnect {
        socket: b,
        namespace: "/chat".into(),
        reason: DisconnectReason::ClientNamespaceDisconnect
    }));
    h.server.socket(a).unwrap().disconnect();
    h.drain();
    assert!(h.events.contains(&Event::Disconnect {
        socket: a,
        namespace: "/".into(),
        reason: DisconnectReason::ServerNamespaceDisconnect
    }));
    assert_eq!(c.texts(&mut h), vec!["1"]);
    // the Engine.IO session stays open
    assert_eq!(h.server.session_count(), 1);
}

#[test]
fn events_for_unconnected_namespaces_are_ignored_and_caps_apply() {
    let mut h = Harness::new(Config::default().max_namespaces(2));
    let mut c = Client::websocket(&mut h);
    c.connect(&mut h, "/", None);
    h.take_events();
    c.send_text(&mut h, &["42/other,[\"x\"]"]);
    assert!(h.take_events().is_empty());
    c.connect(&mut h, "/a", None);
    c.texts(&mut h);
    c.send_text(&mut h, &["40/b,"]);
    assert_eq!(
        c.texts(&mut h),
        vec!["4/b,{\"message\":\"too many namespaces\"}"]
    );
    assert_eq!(h.server.socket_count(), 2);
}

#[test]
fn socket_sid_differs_from_engine_sid() {
    let mut h = Harness::new(Config::default());
    let mut c = Client::websocket(&mut h);
    let id = c.connect(&mut h, "/", None);
    let info = h.server.socket_info(id).unwrap();
    assert_ne!(info.sid.as_str(), c.sid);
    assert_eq!(h.server.socket_by_sid(info.sid.as_str()), Some(id));
}

#[test]
fn rooms_joined_while_pending_take_effect_on_accept() {
    let mut h = Harness::new(Config::default());
    h.auto_accept = false;
    let mut c = Client::websocket(&mut h);
    let id = c.connect(&mut h, "/", None);
    assert!(h.server.socket(id).unwrap().join("lobby"));
    h.drain();
    assert!(
        h.server.room_members("/", "lobby").is_empty(),
        "not before accept"
    );
    h.server
        .broadcast("/")
        .to("lobby")
        .emit(&Payload::json("[\"early\"]"));
    h.server.socket(id).unwrap().accept();
    h.drain();
    assert_eq!(h.server.room_members("/", "lobby"), vec![id]);
    let rooms: Vec<String> = h
        .server
        .socket_info(id)
        .unwrap()
        .rooms
        .iter()
        .map(|r| r.to_string())
        .collect();
    assert_eq!(rooms[1], "lobby");
    assert_eq!(rooms[0], h.server.socket_info(id).unwrap().sid.to_string());
    let texts = c.texts(&mut h);
    assert_eq!(
        texts.len(),
        1,
        "only CONNECT: the broadcast happened before accept: {texts:?}"
    );
}
