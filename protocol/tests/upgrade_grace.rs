//! A polling GET that arrives during an upgrade, after the probe was answered, is held for the
//! upgrade grace: the client's `5` may be on its way on the WebSocket, which a driver reads on
//! another task than the GET. When the `5` comes meanwhile, the GET gets the 400 of any GET
//! after the upgrade (what node answers a GET sent after `5`); otherwise a noop once the grace
//! is over.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{Client, Harness};
use sockio_protocol::config::DEFAULT_UPGRADE_GRACE;
use sockio_protocol::http::{Frame, HttpRequest, Method};
use sockio_protocol::time::TimerKind;
use sockio_protocol::{Config, Input, Payload, SocketId, TransportHandle};

const BAD_REQUEST: &[u8] = br#"{"code":3,"message":"Bad request"}"#;
const MS: Duration = Duration::from_millis(1);

/// A connected polling client whose WebSocket has been probed (`3probe` sent, the GET parked
/// at that time released): the socket and the WebSocket.
fn probed(h: &mut Harness) -> (Client, SocketId, TransportHandle) {
    let mut c = Client::polling(h);
    let id = c.connect(h, "/", None);
    c.texts(h);
    let parked = h.request(Method::Get, &poll_query(&c), Bytes::new());
    let ws = h.handle();
    h.input(Input::WebSocketOpen {
        now: h.now,
        transport: ws,
        request: HttpRequest {
            query: format!("EIO=4&transport=websocket&sid={}", c.sid),
            ..Default::default()
        },
    });
    ws_text(h, ws, b"2probe");
    assert_eq!(
        h.ws.get_mut(&ws).unwrap().pop_front(),
        Some(Frame::Text(Bytes::from_static(b"3probe")))
    );
    assert_eq!(
        &h.http[&parked].body[..],
        b"6",
        "the GET parked at the probe is released at once"
    );
    (c, id, ws)
}

fn poll_query(c: &Client) -> String {
    format!("EIO=4&transport=polling&sid={}", c.sid)
}

fn ws_text(h: &mut Harness, ws: TransportHandle, text: &'static [u8]) {
    h.input(Input::WebSocketMessage {
        now: h.now,
        transport: ws,
        frame: Frame::Text(Bytes::from_static(text)),
    });
}

#[test]
fn the_upgrade_packet_during_the_grace_refuses_the_held_get() {
    let mut h = Harness::new(Config::default());
    let (c, id, ws) = probed(&mut h);
    let get = h.request(Method::Get, &poll_query(&c), Bytes::new());
    h.server
        .socket(id)
        .unwrap()
        .emit(Payload::json("[\"queued\"]"))
        .unwrap();
    h.drain();
    h.advance(DEFAULT_UPGRADE_GRACE - MS);
    assert!(!h.http.contains_key(&get), "held");
    ws_text(&mut h, ws, b"5");
    assert_eq!(h.http[&get].status, 400);
    assert_eq!(&h.http[&get].body[..], BAD_REQUEST);
    // The same answer as a GET sent after the `5`.
    let after = h.request(Method::Get, &poll_query(&c), Bytes::new());
    assert_eq!(h.http[&after].status, 400);
    assert_eq!(h.http[&after].body, h.http[&get].body);
    // Nothing is lost: what waited goes over the WebSocket.
    assert_eq!(
        h.ws.get_mut(&ws).unwrap().pop_front(),
        Some(Frame::Text(Bytes::from_static(b"42[\"queued\"]")))
    );
    assert_eq!(
        h.server
            .session_is_websocket(h.server.socket_info(id).unwrap().session),
        Some(true)
    );
    assert_eq!(h.server.last_timeout_reason(), None, "no timer fired");
}

#[test]
fn without_the_upgrade_packet_the_held_get_gets_a_noop_when_the_grace_ends() {
    let mut h = Harness::new(Config::default());
    let (c, id, ws) = probed(&mut h);
    let get = h.request(Method::Get, &poll_query(&c), Bytes::new());
    assert_eq!(h.deadline, h.now + DEFAULT_UPGRADE_GRACE);
    h.advance(DEFAULT_UPGRADE_GRACE - MS);
    assert!(!h.http.contains_key(&get), "held");
    h.advance(MS);
    assert_eq!(h.http[&get].status, 200);
    assert_eq!(&h.http[&get].body[..], b"6");
    assert_eq!(
        h.server.last_timeout_reason(),
        Some(TimerKind::UpgradeGrace)
    );
    // The client polls again while it still waits: held again, and so on until its `5`.
    let again = h.request(Method::Get, &poll_query(&c), Bytes::new());
    assert!(!h.http.contains_key(&again), "held");
    ws_text(&mut h, ws, b"5");
    assert_eq!(h.http[&again].status, 400);
    assert_eq!(
        h.server
            .session_is_websocket(h.server.socket_info(id).unwrap().session),
        Some(true)
    );
}

#[test]
fn a_held_get_whose_client_went_away_leaves_no_timer() {
    let mut h = Harness::new(Config::default());
    let (c, _, ws) = probed(&mut h);
    let get = h.request(Method::Get, &poll_query(&c), Bytes::new());
    h.input(Input::TransportClosed {
        now: h.now,
        transport: get,
    });
    assert!(
        h.deadline > h.now + DEFAULT_UPGRADE_GRACE,
        "grace cancelled"
    );
    h.advance(DEFAULT_UPGRADE_GRACE);
    assert!(!h.http.contains_key(&get), "nobody to answer");
    ws_text(&mut h, ws, b"5");
    assert!(!h.ws_closed.contains(&ws));
}

#[test]
fn a_failed_upgrade_turns_the_held_get_into_a_parked_one() {
    let mut h = Harness::new(Config::default());
    let (c, id, ws) = probed(&mut h);
    let get = h.request(Method::Get, &poll_query(&c), Bytes::new());
    ws_text(&mut h, ws, b"garbage");
    assert!(h.ws_closed.contains(&ws), "the probe is over");
    assert!(!h.http.contains_key(&get), "parked, on polling again");
    h.advance(DEFAULT_UPGRADE_GRACE);
    assert!(
        !h.http.contains_key(&get),
        "no grace any more: it waits for data"
    );
    h.server
        .socket(id)
        .unwrap()
        .emit(Payload::json("[\"data\"]"))
        .unwrap();
    h.drain();
    assert_eq!(&h.http[&get].body[..], b"42[\"data\"]");
}

#[test]
fn a_zero_grace_answers_at_once() {
    let mut h = Harness::new(Config::default().upgrade_grace(Duration::ZERO));
    let (c, _, ws) = probed(&mut h);
    let get = h.request(Method::Get, &poll_query(&c), Bytes::new());
    assert_eq!(&h.http[&get].body[..], b"6");
    ws_text(&mut h, ws, b"5");
    let after = h.request(Method::Get, &poll_query(&c), Bytes::new());
    assert_eq!(h.http[&after].status, 400);
}

#[test]
fn the_refusal_carries_the_cors_headers_of_the_held_get() {
    let config = Config::default()
        .cors(sockio_protocol::Cors::List(vec![
            "http://example.test".into()
        ]))
        .cors_credentials(true);
    let mut h = Harness::new(config);
    let (c, _, ws) = probed(&mut h);
    let get = h.handle();
    h.input(Input::HttpRequest {
        now: h.now,
        transport: get,
        request: HttpRequest {
            method: Method::Get,
            path: "/socket.io/".into(),
            query: poll_query(&c),
            headers: vec![("origin".into(), "http://example.test".into())],
            ..Default::default()
        },
    });
    ws_text(&mut h, ws, b"5");
    let resp = &h.http[&get];
    assert_eq!(resp.status, 400);
    assert!(resp
        .headers
        .iter()
        .any(|(n, v)| *n == "Access-Control-Allow-Origin" && v == "http://example.test"));
}

#[test]
fn a_client_that_polls_again_after_the_probe_still_upgrades() {
    // The harness client polls once more after the probe when its GET came back before it
    // (here with data), as socket.io-client does when a response reached it before `3probe`,
    // and sends `5` once that GET came back: its upgrade takes the grace longer.
    let mut h = Harness::new(Config::default());
    let mut c = Client::polling(&mut h);
    let id = c.connect(&mut h, "/", None);
    c.texts(&mut h);
    h.server
        .socket(id)
        .unwrap()
        .emit(Payload::json("[\"before\"]"))
        .unwrap();
    h.drain();
    let start = h.now;
    c.upgrade(&mut h);
    assert_eq!(h.now - start, DEFAULT_UPGRADE_GRACE);
    h.server
        .socket(id)
        .unwrap()
        .emit(Payload::json("[\"after\"]"))
        .unwrap();
    h.drain();
    assert_eq!(c.texts(&mut h), vec!["2[\"before\"]", "2[\"after\"]"]);
    assert!(h.ws[&c.ws.unwrap()].is_empty());
}
