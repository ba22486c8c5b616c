//! Polling to WebSocket upgrade: probe, noop release, switch, and nothing lost or duplicated.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{Client, Harness, Mode};
use sockio_protocol::config::DEFAULT_UPGRADE_GRACE;
use sockio_protocol::http::{Frame, HttpRequest, Method};
use sockio_protocol::{Config, Input, Payload};

#[test]
fn upgrade_keeps_every_packet_exactly_once() {
    let mut h = Harness::new(Config::default());
    let mut c = Client::polling(&mut h);
    let id = c.connect(&mut h, "/", None);
    let mut seen = c.texts(&mut h);
    // packets emitted before, during and after the upgrade
    for i in 0..3 {
        h.server
            .socket(id)
            .unwrap()
            .emit(Payload::json(format!("[\"n\",{i}]")))
            .unwrap();
    }
    h.drain();
    c.upgrade(&mut h);
    seen.extend(c.texts(&mut h));
    for i in 3..6 {
        h.server
            .socket(id)
            .unwrap()
            .emit(Payload::json(format!("[\"n\",{i}]")))
            .unwrap();
    }
    h.drain();
    seen.extend(c.texts(&mut h));
    let numbered: Vec<&String> = seen.iter().filter(|s| s.starts_with("2[\"n\"")).collect();
    let expected: Vec<String> = (0..6).map(|i| format!("2[\"n\",{i}]")).collect();
    assert_eq!(numbered, expected.iter().collect::<Vec<_>>());
    assert_eq!(c.mode, Mode::WebSocket);
    assert_eq!(
        h.server
            .session_is_websocket(h.server.socket_info(id).unwrap().session),
        Some(true)
    );
}

#[test]
fn packets_queued_after_the_probe_wait_for_the_switch() {
    let mut h = Harness::new(Config::default());
    let mut c = Client::polling(&mut h);
    let id = c.connect(&mut h, "/", None);
    c.texts(&mut h);
    c.poll(&mut h); // park a GET
    let ws = h.handle();
    let q = format!("EIO=4&transport=websocket&sid={}", c.sid);
    h.input(Input::WebSocketOpen {
        now: h.now,
        transport: ws,
        request: HttpRequest {
            query: q,
            ..Default::default()
        },
    });
    h.input(Input::WebSocketMessage {
        now: h.now,
        transport: ws,
        frame: Frame::Text(Bytes::from_static(b"2probe")),
    });
    // the parked GET got the noop
    c.poll(&mut h);
    assert!(c.received.is_empty());
    h.server
        .socket(id)
        .unwrap()
        .emit(Payload::json("[\"late\"]"))
        .unwrap();
    h.drain();
    assert_eq!(
        h.ws[&ws].len(),
        1,
        "only 3probe on the WebSocket before the switch"
    );
    h.input(Input::WebSocketMessage {
        now: h.now,
        transport: ws,
        frame: Frame::Text(Bytes::from_static(b"5")),
    });
    assert_eq!(
        h.ws[&ws].back(),
        Some(&Frame::Text(Bytes::from_static(b"42[\"late\"]")))
    );
}

#[test]
fn failed_probe_and_upgrade_timeout_fall_back_to_polling() {
    let mut h = Harness::new(Config::default());
    let mut c = Client::polling(&mut h);
    let id = c.connect(&mut h, "/", None);
    c.texts(&mut h);
    let ws = h.handle();
    let q = format!("EIO=4&transport=websocket&sid={}", c.sid);
    h.input(Input::WebSocketOpen {
        now: h.now,
        transport: ws,
        request: HttpRequest {
            query: q.clone(),
            ..Default::default()
        },
    });
    h.input(Input::WebSocketMessage {
        now: h.now,
        transport: ws,
        frame: Frame::Text(Bytes::from_static(b"garbage")),
    });
    assert!(h.ws_closed.contains(&ws));
    h.server
        .socket(id)
        .unwrap()
        .emit(Payload::json("[\"still\"]"))
        .unwrap();
    h.drain();
    assert_eq!(c.texts(&mut h), vec!["2[\"still\"]"]);

    let ws2 = h.handle();
    h.input(Input::WebSocketOpen {
        now: h.now,
        transport: ws2,
        request: HttpRequest {
            query: q,
            ..Default::default()
        },
    });
    h.advance(std::time::Duration::from_secs(11));
    assert!(h.ws_closed.contains(&ws2), "upgrade timed out");
    assert!(!c.closed);
}

#[test]
fn websocket_for_unknown_or_websocket_session_is_closed() {
    let mut h = Harness::new(Config::default());
    let c = Client::websocket(&mut h);
    let ws = h.handle();
    let q = format!("EIO=4&transport=websocket&sid={}", c.sid);
    h.input(Input::WebSocketOpen {
        now: h.now,
        transport: ws,
        request: HttpRequest {
            query: q,
            ..Default::default()
        },
    });
    assert!(h.ws_closed.contains(&ws));
    let ws = h.handle();
    let q = "EIO=4&transport=websocket&sid=BBBBBBBBBBBBBBBBBBBB".to_string();
    h.input(Input::WebSocketOpen {
        now: h.now,
        transport: ws,
        request: HttpRequest {
            query: q,
            ..Default::default()
        },
    });
    assert!(h.ws_closed.contains(&ws));
    // polling requests on a WebSocket session are refused
    let t = h.request(
        Method::Get,
        &format!("EIO=4&transport=polling&sid={}", c.sid),
        Bytes::new(),
    );
    assert_eq!(h.http[&t].status, 400);
}

#[test]
fn a_get_sent_after_the_probe_gets_a_noop_after_the_grace() {
    let mut h = Harness::new(Config::default());
    let mut c = Client::polling(&mut h);
    let id = c.connect(&mut h, "/", None);
    c.texts(&mut h);
    let q = format!("EIO=4&transport=polling&sid={}", c.sid);
    let first = h.request(Method::Get, &q, Bytes::new());
    let ws = h.handle();
    h.input(Input::WebSocketOpen {
        now: h.now,
        transport: ws,
        request: HttpRequest {
            query: format!("EIO=4&transport=websocket&sid={}", c.sid),
            ..Default::default()
        },
    });
    h.input(Input::WebSocketMessage {
        now: h.now,
        transport: ws,
        frame: Frame::Text(Bytes::from_static(b"2probe")),
    });
    assert_eq!(&h.http[&first].body[..], b"6", "the parked GET is released");
    // The client saw the noop before the probe's answer and polled once more: that GET is
    // held for the upgrade grace (a `5` may be on its way), then gets its noop.
    let second = h.request(Method::Get, &q, Bytes::new());
    assert!(!h.http.contains_key(&second), "held for the grace");
    h.advance(DEFAULT_UPGRADE_GRACE - Duration::from_millis(1));
    assert!(!h.http.contains_key(&second), "held for the grace");
    h.advance(Duration::from_millis(1));
    assert_eq!(
        &h.http[&second].body[..],
        b"6",
        "a GET after the probe gets a noop once the grace is over"
    );
    h.server
        .socket(id)
        .unwrap()
        .emit(Payload::json("[\"after\"]"))
        .unwrap();
    h.drain();
    h.input(Input::WebSocketMessage {
        now: h.now,
        transport: ws,
        frame: Frame::Text(Bytes::from_static(b"5")),
    });
    assert_eq!(
        h.ws[&ws].back(),
        Some(&Frame::Text(Bytes::from_static(b"42[\"after\"]"))),
        "data waited for the switch"
    );
}
