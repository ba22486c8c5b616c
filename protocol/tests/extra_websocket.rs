//! A WebSocket for a live session that cannot take it (upgrading, upgraded, or on WebSocket
//! from the start) opens and is closed at once, as node's engine.io does (101, then a close
//! frame); the session's own transport keeps working. Only an unknown sid is refused before
//! the handshake.

mod common;

use bytes::Bytes;
use common::{Client, Harness};
use sockio_protocol::http::{Frame, HttpRequest};
use sockio_protocol::{Config, Input, Payload, SocketId, TransportHandle};

fn ws_request(sid: &str) -> HttpRequest {
    HttpRequest {
        path: "/socket.io/".into(),
        query: format!("EIO=4&transport=websocket&sid={sid}"),
        ..Default::default()
    }
}

/// Checks the driver would answer 101, opens the WebSocket, and asserts the core closes it at
/// once without a single frame.
fn extra_websocket_is_closed_at_once(h: &mut Harness, sid: &str) {
    let request = ws_request(sid);
    assert_eq!(
        h.server.websocket_refusal(&request),
        None,
        "accepted before the handshake"
    );
    let t = h.handle();
    h.input(Input::WebSocketOpen {
        now: h.now,
        transport: t,
        request,
    });
    assert!(h.ws_closed.contains(&t), "closed at once");
    assert!(
        h.ws.get(&t).is_none_or(|q| q.is_empty()),
        "no frame before the close"
    );
    // What the peer sends meanwhile is ignored, and so is the end of the connection.
    h.input(Input::WebSocketMessage {
        now: h.now,
        transport: t,
        frame: Frame::Text(Bytes::from_static(b"2probe")),
    });
    assert!(h.ws.get(&t).is_none_or(|q| q.is_empty()));
    h.input(Input::TransportClosed {
        now: h.now,
        transport: t,
    });
}

fn emit(h: &mut Harness, id: SocketId, n: u32) {
    h.server
        .socket(id)
        .unwrap()
        .emit(Payload::json(format!("[\"n\",{n}]")))
        .unwrap();
    h.drain();
}

fn probe_message(h: &mut Harness, ws: TransportHandle, text: &'static [u8]) {
    h.input(Input::WebSocketMessage {
        now: h.now,
        transport: ws,
        frame: Frame::Text(Bytes::from_static(text)),
    });
}

#[test]
fn an_upgraded_session_keeps_its_websocket() {
    let mut h = Harness::new(Config::default());
    let mut c = Client::polling(&mut h);
    let id = c.connect(&mut h, "/", None);
    c.texts(&mut h);
    c.upgrade(&mut h);
    for n in 0..3 {
        extra_websocket_is_closed_at_once(&mut h, &c.sid);
        emit(&mut h, id, n);
        assert_eq!(c.texts(&mut h), vec![format!("2[\"n\",{n}]")]);
    }
    c.send_text(&mut h, &["42[\"still here\"]"]);
    assert!(h
        .events
        .iter()
        .any(|e| matches!(e, sockio_protocol::Event::Message { .. })));
    assert!(!c.closed);
}

#[test]
fn an_upgrading_session_keeps_its_probe() {
    let mut h = Harness::new(Config::default());
    let mut c = Client::polling(&mut h);
    let id = c.connect(&mut h, "/", None);
    c.texts(&mut h);
    let ws = h.handle();
    h.input(Input::WebSocketOpen {
        now: h.now,
        transport: ws,
        request: ws_request(&c.sid),
    });
    // Before the probe, then after it.
    extra_websocket_is_closed_at_once(&mut h, &c.sid);
    probe_message(&mut h, ws, b"2probe");
    assert_eq!(
        h.ws.get_mut(&ws).unwrap().pop_front(),
        Some(Frame::Text(Bytes::from_static(b"3probe")))
    );
    extra_websocket_is_closed_at_once(&mut h, &c.sid);
    probe_message(&mut h, ws, b"5");
    assert!(!h.ws_closed.contains(&ws));
    emit(&mut h, id, 1);
    assert_eq!(
        h.ws.get_mut(&ws).unwrap().pop_front(),
        Some(Frame::Text(Bytes::from_static(b"42[\"n\",1]")))
    );
    assert_eq!(
        h.server
            .session_is_websocket(h.server.socket_info(id).unwrap().session),
        Some(true)
    );
}

#[test]
fn a_websocket_session_keeps_its_websocket() {
    let mut h = Harness::new(Config::default());
    let mut c = Client::websocket(&mut h);
    let id = c.connect(&mut h, "/", None);
    c.texts(&mut h);
    extra_websocket_is_closed_at_once(&mut h, &c.sid);
    emit(&mut h, id, 1);
    assert_eq!(c.texts(&mut h), vec!["2[\"n\",1]"]);
    assert!(!c.closed);
}

#[test]
fn only_an_unknown_sid_is_refused_before_the_handshake() {
    let h = Harness::new(Config::default());
    let refusal = h
        .server
        .websocket_refusal(&ws_request("AAAAAAAAAAAAAAAAAAAA"))
        .expect("refused");
    assert_eq!(refusal.status, 400);
    assert_eq!(
        &refusal.body[..],
        br#"{"code":1,"message":"Session ID unknown"}"#
    );
}
