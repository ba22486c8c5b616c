//! Events both ways and acknowledgements both ways, over polling and WebSocket.

mod common;

use std::time::{Duration, Instant};

use common::{raw, Client, Harness, Mode};
use sockio_protocol::{AckId, Config, Event, Payload};

fn client(h: &mut Harness, mode: Mode) -> Client {
    match mode {
        Mode::Polling => Client::polling(h),
        Mode::WebSocket => Client::websocket(h),
    }
}

fn client_events_reach_the_server(mode: Mode) {
    let mut h = Harness::new(Config::default());
    let mut c = client(&mut h, mode);
    let id = c.connect(&mut h, "/", None);
    let sid = h.server.socket_info(id).unwrap().sid;
    assert_eq!(c.texts(&mut h), vec![format!("0{{\"sid\":\"{sid}\"}}")]);
    h.take_events();

    c.send_text(
        &mut h,
        &["42[\"chat\",\"hi\",{\"n\":1}]", "4212[\"question\"]"],
    );
    let events = h.take_events();
    assert_eq!(
        events,
        vec![
            Event::Message {
                socket: id,
                data: raw(r#"["chat","hi",{"n":1}]"#),
                attachments: Default::default(),
                ack: None
            },
            Event::Message {
                socket: id,
                data: raw(r#"["question"]"#),
                attachments: Default::default(),
                ack: Some(12)
            },
        ]
    );
    h.server
        .socket(id)
        .unwrap()
        .ack(12, Payload::json("[\"answer\",42]"))
        .unwrap();
    h.drain();
    assert_eq!(c.texts(&mut h), vec!["312[\"answer\",42]"]);
}

#[test]
fn client_events_reach_the_server_polling() {
    client_events_reach_the_server(Mode::Polling);
}

#[test]
fn client_events_reach_the_server_websocket() {
    client_events_reach_the_server(Mode::WebSocket);
}

#[test]
fn server_emit_with_ack_gets_the_answer() {
    let mut h = Harness::new(Config::default());
    let mut c = Client::websocket(&mut h);
    let id = c.connect(&mut h, "/", None);
    c.texts(&mut h);
    let ack = h
        .server
        .socket(id)
        .unwrap()
        .emit_with_ack(Payload::json("[\"ping\"]"), None)
        .unwrap();
    h.drain();
    assert_eq!(c.texts(&mut h), vec!["20[\"ping\"]"]);
    h.take_events();
    c.send_text(&mut h, &["430[\"pong\",1]"]);
    assert_eq!(
        h.take_events(),
        vec![Event::Ack {
            socket: id,
            ack,
            data: raw(r#"["pong",1]"#),
            attachments: Default::default()
        }]
    );
    // a second, duplicate answer is ignored
    c.send_text(&mut h, &["430[\"pong\",1]"]);
    assert!(h.take_events().is_empty());
}

#[test]
fn ack_deadline_fires_once_and_late_answers_are_ignored() {
    let mut h = Harness::new(Config::default());
    let mut c = Client::websocket(&mut h);
    let id = c.connect(&mut h, "/", None);
    let deadline: Instant = h.now + Duration::from_secs(5);
    let a0 = h
        .server
        .socket(id)
        .unwrap()
        .emit_with_ack(Payload::json("[\"a\"]"), Some(deadline))
        .unwrap();
    let a1 = h
        .server
        .socket(id)
        .unwrap()
        .emit_with_ack(
            Payload::json("[\"b\"]"),
            Some(deadline + Duration::from_secs(5)),
        )
        .unwrap();
    h.drain();
    assert_eq!((a0, a1), (AckId(0), AckId(1)));
    h.take_events();
    h.advance(Duration::from_secs(6));
    assert_eq!(
        h.take_events(),
        vec![Event::AckTimeout {
            socket: id,
            ack: a0
        }]
    );
    c.send_text(&mut h, &["430[]"]);
    assert!(h.take_events().is_empty(), "late ack ignored");
    c.send_text(&mut h, &["431[]"]);
    assert_eq!(h.take_events().len(), 1);
    h.advance(Duration::from_secs(10));
    assert!(!h
        .take_events()
        .iter()
        .any(|e| matches!(e, Event::AckTimeout { .. })));
}

#[test]
fn pending_acks_are_capped() {
    let mut h = Harness::new(Config::default().max_pending_acks(2));
    let mut c = Client::websocket(&mut h);
    let id = c.connect(&mut h, "/", None);
    let mut s = h.server.socket(id).unwrap();
    s.emit_with_ack(Payload::json("[\"a\"]"), None).unwrap();
    s.emit_with_ack(Payload::json("[\"a\"]"), None).unwrap();
    let err = s.emit_with_ack(Payload::json("[\"a\"]"), None).unwrap_err();
    assert_eq!(
        err,
        sockio_protocol::EmitError::TooManyPendingAcks(Payload::json("[\"a\"]"))
    );
    h.drain();
}
