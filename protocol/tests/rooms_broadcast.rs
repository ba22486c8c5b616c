//! Rooms and broadcast: own-sid room, to/except/skip, close_room, encode-once sharing.

mod common;

use common::{Client, Harness};
use sockio_protocol::http::Frame;
use sockio_protocol::{Config, Payload, SocketId};

fn setup(n: usize) -> (Harness, Vec<Client>, Vec<SocketId>) {
    let mut h = Harness::new(Config::default());
    let mut clients = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..n {
        let mut c = Client::websocket(&mut h);
        ids.push(c.connect(&mut h, "/", None));
        c.texts(&mut h);
        clients.push(c);
    }
    (h, clients, ids)
}

fn got(h: &mut Harness, clients: &mut [Client]) -> Vec<usize> {
    clients.iter_mut().map(|c| c.texts(h).len()).collect()
}

#[test]
fn every_socket_is_in_its_own_room() {
    let (mut h, mut clients, ids) = setup(2);
    let sid = h.server.socket_info(ids[1]).unwrap().sid;
    assert_eq!(
        h.server.socket_info(ids[1]).unwrap().rooms[0].as_str(),
        sid.as_str()
    );
    h.server
        .broadcast("/")
        .to(sid.as_str())
        .emit(&Payload::json("[\"dm\"]"));
    h.drain();
    assert_eq!(got(&mut h, &mut clients), vec![0, 1]);
}

#[test]
fn broadcast_to_rooms_except_and_skip() {
    let (mut h, mut clients, ids) = setup(4);
    for (i, id) in ids.iter().enumerate() {
        let mut s = h.server.socket(*id).unwrap();
        if i < 3 {
            assert!(s.join("red"));
            assert!(!s.join("red"));
        }
        if i == 1 {
            s.join("vip");
        }
    }
    h.drain();
    let r = h.server.broadcast("/").emit(&Payload::json("[\"all\"]"));
    assert_eq!(r.delivered, 4);
    h.server
        .broadcast("/")
        .to("red")
        .except("vip")
        .skip(ids[0])
        .emit(&Payload::json("[\"x\"]"));
    h.server
        .broadcast("/")
        .to("red")
        .to("vip")
        .emit(&Payload::json("[\"union\"]"));
    h.drain();
    assert_eq!(got(&mut h, &mut clients), vec![2, 2, 3, 1]);
}

#[test]
fn leave_close_room_and_disconnect_clean_up() {
    let (mut h, mut clients, ids) = setup(3);
    for id in &ids {
        h.server.socket(*id).unwrap().join("room");
    }
    assert!(h.server.socket(ids[0]).unwrap().leave("room"));
    assert!(!h.server.socket(ids[0]).unwrap().leave("room"));
    h.drain();
    let mut members = h.server.room_members("/", "room");
    members.sort();
    assert_eq!(members, vec![ids[1], ids[2]]);
    h.server.socket(ids[1]).unwrap().disconnect();
    h.drain();
    assert_eq!(h.server.room_members("/", "room"), vec![ids[2]]);
    h.server.close_room("/", "room");
    assert!(h.server.room_members("/", "room").is_empty());
    assert_eq!(h.server.socket_info(ids[2]).unwrap().rooms.len(), 1);
    assert!(!h.server.rooms("/").iter().any(|r| r.as_str() == "room"));
    let texts = clients[1].texts(&mut h);
    assert_eq!(texts, vec!["1"]);
}

#[test]
fn broadcast_shares_one_buffer_between_recipients() {
    let (mut h, _clients, ids) = setup(3);
    h.ws.clear();
    h.server.broadcast("/").emit(&Payload::json("[\"shared\"]"));
    h.drain();
    let ptrs: Vec<*const u8> =
        h.ws.values()
            .map(|q| match &q[0] {
                Frame::Text(b) => b.as_ptr(),
                Frame::Binary(b) => b.as_ptr(),
            })
            .collect();
    assert_eq!(ptrs.len(), ids.len());
    assert!(
        ptrs.windows(2).all(|w| w[0] == w[1]),
        "one encoding shared by all"
    );
}

#[test]
fn namespaces_are_separate() {
    let mut h = Harness::new(Config::default());
    let mut a = Client::websocket(&mut h);
    a.connect(&mut h, "/", None);
    let mut b = Client::websocket(&mut h);
    b.connect(&mut h, "/chat", None);
    a.texts(&mut h);
    b.texts(&mut h);
    h.server.broadcast("/chat").emit(&Payload::json("[\"hi\"]"));
    h.drain();
    assert!(a.texts(&mut h).is_empty());
    assert_eq!(b.texts(&mut h), vec!["2/chat,[\"hi\"]"]);
}

#[test]
fn rooms_per_socket_are_capped() {
    let mut h = Harness::new(Config::default().max_rooms_per_socket(3));
    let mut c = Client::websocket(&mut h);
    let id = c.connect(&mut h, "/", None);
    let mut s = h.server.socket(id).unwrap();
    assert_eq!(s.try_join("a"), Ok(true));
    assert_eq!(s.try_join("a"), Ok(false));
    assert_eq!(s.try_join("b"), Ok(true));
    assert_eq!(
        s.try_join("c"),
        Err(sockio_protocol::socketio::RoomsFull { max: 3 }),
        "its own room, a and b"
    );
    assert!(!s.join("c"));
    assert!(s.leave("a"));
    assert!(s.join("c"));
    assert_eq!(s.rooms().len(), 3);
}
