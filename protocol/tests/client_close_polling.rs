//! A client's close packet over long-polling: the parked GET is answered with a noop, as node's
//! engine.io answers it, and the session is gone. A server-side close keeps answering the
//! parked GET with the close packet.

mod common;

use bytes::Bytes;
use common::{Client, Harness};
use sockio_protocol::http::{Frame, HttpRequest, Method};
use sockio_protocol::{Config, DisconnectReason, Event, Input};

const UNKNOWN_SID: &[u8] = br#"{"code":1,"message":"Session ID unknown"}"#;

fn query(c: &Client) -> String {
    format!("EIO=4&transport=polling&sid={}", c.sid)
}

fn closed_with(h: &Harness, reason: DisconnectReason) -> bool {
    h.events
        .iter()
        .any(|e| matches!(e, Event::SessionClosed { reason: r, .. } if *r == reason))
}

#[test]
fn the_parked_get_gets_a_noop_then_the_session_is_gone() {
    let mut h = Harness::new(Config::default());
    let mut c = Client::polling(&mut h);
    let id = c.connect(&mut h, "/", None);
    c.texts(&mut h);
    let parked = h.request(Method::Get, &query(&c), Bytes::new());
    assert!(!h.http.contains_key(&parked), "parked");

    let post = h.request(Method::Post, &query(&c), Bytes::from_static(b"1"));
    assert_eq!(h.http[&post].status, 200);
    assert_eq!(&h.http[&post].body[..], b"ok");
    assert_eq!(h.http[&parked].status, 200);
    assert_eq!(
        &h.http[&parked].body[..],
        b"6",
        "a noop, not the close packet"
    );
    assert!(h.events.contains(&Event::Disconnect {
        socket: id,
        namespace: "/".into(),
        reason: DisconnectReason::TransportClose,
    }));
    assert!(closed_with(&h, DisconnectReason::TransportClose));
    assert_eq!(h.server.session_count(), 0);

    let next = h.request(Method::Get, &query(&c), Bytes::new());
    assert_eq!(h.http[&next].status, 400);
    assert_eq!(&h.http[&next].body[..], UNKNOWN_SID);
}

#[test]
fn a_close_after_other_packets_in_the_same_post() {
    let mut h = Harness::new(Config::default());
    let mut c = Client::polling(&mut h);
    c.connect(&mut h, "/", None);
    c.texts(&mut h);
    let parked = h.request(Method::Get, &query(&c), Bytes::new());
    let post = h.request(
        Method::Post,
        &query(&c),
        Bytes::from_static(b"42[\"x\"]\x1e1"),
    );
    assert_eq!(&h.http[&post].body[..], b"ok");
    assert!(h.events.iter().any(|e| matches!(e, Event::Message { .. })));
    assert_eq!(&h.http[&parked].body[..], b"6");
    assert_eq!(h.server.session_count(), 0);
}

#[test]
fn without_a_parked_get_the_next_get_is_refused() {
    let mut h = Harness::new(Config::default());
    let mut c = Client::polling(&mut h);
    c.connect(&mut h, "/", None);
    c.texts(&mut h);
    let post = h.request(Method::Post, &query(&c), Bytes::from_static(b"1"));
    assert_eq!(&h.http[&post].body[..], b"ok");
    assert!(closed_with(&h, DisconnectReason::TransportClose));
    let next = h.request(Method::Get, &query(&c), Bytes::new());
    assert_eq!(h.http[&next].status, 400);
    assert_eq!(&h.http[&next].body[..], UNKNOWN_SID);
}

#[test]
fn during_an_upgrade_the_parked_get_gets_a_noop_and_the_probe_is_closed() {
    let mut h = Harness::new(Config::default());
    let mut c = Client::polling(&mut h);
    c.connect(&mut h, "/", None);
    c.texts(&mut h);
    let parked = h.request(Method::Get, &query(&c), Bytes::new());
    let ws = h.handle();
    h.input(Input::WebSocketOpen {
        now: h.now,
        transport: ws,
        request: HttpRequest {
            query: format!("EIO=4&transport=websocket&sid={}", c.sid),
            ..Default::default()
        },
    });
    let post = h.request(Method::Post, &query(&c), Bytes::from_static(b"1"));
    assert_eq!(&h.http[&post].body[..], b"ok");
    assert_eq!(&h.http[&parked].body[..], b"6");
    assert!(h.ws_closed.contains(&ws), "the probing WebSocket is closed");
    assert_eq!(h.server.session_count(), 0);
}

#[test]
fn a_server_side_close_still_answers_the_parked_get_with_the_close_packet() {
    let mut h = Harness::new(Config::default());
    let mut c = Client::polling(&mut h);
    let id = c.connect(&mut h, "/", None);
    c.texts(&mut h);
    let parked = h.request(Method::Get, &query(&c), Bytes::new());
    let session = h.server.socket_info(id).unwrap().session;
    h.server.close_session(session);
    h.drain();
    assert_eq!(&h.http[&parked].body[..], b"1");
    assert!(closed_with(&h, DisconnectReason::ForcedClose));

    // A second concurrent GET is the client's fault, but the close is the server's.
    let c = Client::polling(&mut h);
    let first = h.request(Method::Get, &query(&c), Bytes::new());
    let second = h.request(Method::Get, &query(&c), Bytes::new());
    assert_eq!(h.http[&second].status, 400);
    assert_eq!(&h.http[&first].body[..], b"1");
}

#[test]
fn a_close_packet_over_websocket_closes_the_session() {
    let mut h = Harness::new(Config::default());
    let mut c = Client::websocket(&mut h);
    c.connect(&mut h, "/", None);
    c.ws_send(&mut h, Frame::Text(Bytes::from_static(b"1")));
    assert!(closed_with(&h, DisconnectReason::TransportClose));
    assert!(h.ws_closed.contains(&c.ws.unwrap()));
}
