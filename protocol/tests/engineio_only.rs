//! Plain Engine.IO mode: messages reach the application undecoded and go back as sent, over
//! polling and WebSocket, and a session needs no namespace connection to stay open.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::Harness;
use sockio_protocol::http::{Frame, Method};
use sockio_protocol::{Config, Event, HttpRequest, Input};

fn open_polling(h: &mut Harness) -> String {
    let t = h.request(Method::Get, "EIO=4&transport=polling", Bytes::new());
    let body = h.http.remove(&t).unwrap().body;
    let v: serde_json::Value = serde_json::from_slice(&body[1..]).unwrap();
    v["sid"].as_str().unwrap().to_string()
}

fn messages(h: &mut Harness) -> Vec<Frame> {
    h.take_events()
        .into_iter()
        .filter_map(|e| match e {
            Event::EngineMessage { frame, .. } => Some(frame),
            _ => None,
        })
        .collect()
}

#[test]
fn polling_messages_arrive_undecoded_and_go_back_as_sent() {
    let mut h = Harness::new(Config::default().engineio_only(true));
    let sid = open_polling(&mut h);
    h.take_events();
    // Not Socket.IO at all: "hello", then binary (b + base64 of [1, 2, 3]).
    let q = format!("EIO=4&transport=polling&sid={sid}");
    let t = h.request(Method::Post, &q, Bytes::from_static(b"4hello\x1ebAQID"));
    assert_eq!(h.http.remove(&t).unwrap().status, 200);
    let got = messages(&mut h);
    assert_eq!(
        got,
        vec![
            Frame::Text(Bytes::from_static(b"hello")),
            Frame::Binary(Bytes::from_static(&[1, 2, 3])),
        ]
    );
    let session = h.server.session_by_sid(&sid).expect("session is live");
    for f in got {
        h.server.send_message(session, f).unwrap();
    }
    h.drain();
    let t = h.request(Method::Get, &q, Bytes::new());
    assert_eq!(&h.http.remove(&t).unwrap().body[..], b"4hello\x1ebAQID");
}

#[test]
fn websocket_messages_arrive_undecoded_and_go_back_as_sent() {
    let mut h = Harness::new(Config::default().engineio_only(true));
    let ws = h.handle();
    let request = HttpRequest {
        method: Method::Get,
        path: "/socket.io/".into(),
        query: "EIO=4&transport=websocket".into(),
        ..Default::default()
    };
    h.input(Input::WebSocketOpen {
        now: h.now,
        transport: ws,
        request,
    });
    let open = h.ws.get_mut(&ws).unwrap().pop_front().unwrap();
    let Frame::Text(open) = open else {
        panic!("open packet is text")
    };
    let v: serde_json::Value = serde_json::from_slice(&open[1..]).unwrap();
    let sid = v["sid"].as_str().unwrap().to_string();
    h.take_events();
    for frame in [
        Frame::Text(Bytes::from_static(b"4\xc3\xa9t\xc3\xa9")),
        Frame::Binary(Bytes::from_static(&[0, 255])),
    ] {
        h.input(Input::WebSocketMessage {
            now: h.now,
            transport: ws,
            frame,
        });
    }
    let got = messages(&mut h);
    assert_eq!(got[0], Frame::Text(Bytes::from("été")));
    assert_eq!(got[1], Frame::Binary(Bytes::from_static(&[0, 255])));
    let session = h.server.session_by_sid(&sid).unwrap();
    for f in got {
        h.server.send_message(session, f).unwrap();
    }
    h.drain();
    let sent: Vec<Frame> = h.ws.get_mut(&ws).unwrap().drain(..).collect();
    assert_eq!(
        sent,
        vec![
            Frame::Text(Bytes::from("4été")),
            Frame::Binary(Bytes::from_static(&[0, 255])),
        ]
    );
}

#[test]
fn a_session_without_namespace_stays_open_past_the_connect_timeout() {
    let config = Config::default()
        .engineio_only(true)
        .connect_timeout(Duration::from_millis(100))
        .ping_interval(Duration::from_secs(10));
    let mut h = Harness::new(config);
    let sid = open_polling(&mut h);
    h.advance(Duration::from_secs(1));
    assert!(h.server.session_by_sid(&sid).is_some());
}

#[test]
fn send_message_hands_the_frame_back_when_the_session_is_gone() {
    let mut h = Harness::new(Config::default().engineio_only(true));
    let sid = open_polling(&mut h);
    let session = h.server.session_by_sid(&sid).unwrap();
    h.server.close_session(session);
    h.drain();
    let frame = Frame::Text(Bytes::from_static(b"late"));
    assert_eq!(h.server.send_message(session, frame.clone()), Err(frame));
}
