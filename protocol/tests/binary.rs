//! Binary attachments: reassembly from the client on both transports, and encoding to it.

mod common;

use bytes::Bytes;
use common::{raw, Client, Harness, Mode};
use smallvec::smallvec;
use sockio_protocol::http::Frame;
use sockio_protocol::{Config, Event, Payload};

fn binary_from_client(mode: Mode) {
    let mut h = Harness::new(Config::default());
    let mut c = match mode {
        Mode::Polling => Client::polling(&mut h),
        Mode::WebSocket => Client::websocket(&mut h),
    };
    let id = c.connect(&mut h, "/", None);
    h.take_events();
    c.send_binary(
        &mut h,
        "452-7[\"upload\",{\"_placeholder\":true,\"num\":0},{\"x\":{\"_placeholder\":true,\"num\":1}}]",
        &[b"\x00\x01", b"\xff"],
    );
    let events = h.take_events();
    assert_eq!(
        events,
        vec![Event::Message {
            socket: id,
            data: raw(
                r#"["upload",{"_placeholder":true,"num":0},{"x":{"_placeholder":true,"num":1}}]"#
            ),
            attachments: smallvec![Bytes::from_static(b"\x00\x01"), Bytes::from_static(b"\xff")],
            ack: Some(7),
        }]
    );
}

#[test]
fn binary_from_client_polling() {
    binary_from_client(Mode::Polling);
}

#[test]
fn binary_from_client_websocket() {
    binary_from_client(Mode::WebSocket);
}

#[test]
fn binary_to_client_is_a_binary_event_followed_by_frames() {
    let mut h = Harness::new(Config::default());
    let mut c = Client::websocket(&mut h);
    let id = c.connect(&mut h, "/", None);
    c.texts(&mut h);
    let payload = Payload {
        json: Bytes::from_static(b"[\"file\",{\"_placeholder\":true,\"num\":0}]"),
        attachments: smallvec![Bytes::from_static(b"abc")],
    };
    h.server.socket(id).unwrap().emit(payload).unwrap();
    h.drain();
    assert_eq!(
        c.frames(&mut h),
        vec![
            Frame::Text(Bytes::from_static(
                b"51-[\"file\",{\"_placeholder\":true,\"num\":0}]"
            )),
            Frame::Binary(Bytes::from_static(b"abc")),
        ]
    );
}

#[test]
fn binary_ack_from_client() {
    let mut h = Harness::new(Config::default());
    let mut c = Client::websocket(&mut h);
    let id = c.connect(&mut h, "/", None);
    let ack = h
        .server
        .socket(id)
        .unwrap()
        .emit_with_ack(Payload::json("[\"q\"]"), None)
        .unwrap();
    h.drain();
    h.take_events();
    c.send_binary(&mut h, "461-0[{\"_placeholder\":true,\"num\":0}]", &[b"zz"]);
    assert_eq!(
        h.take_events(),
        vec![Event::Ack {
            socket: id,
            ack,
            data: raw(r#"[{"_placeholder":true,"num":0}]"#),
            attachments: smallvec![Bytes::from_static(b"zz")],
        }]
    );
}

#[test]
fn text_while_attachments_are_expected_is_a_parse_error() {
    let mut h = Harness::new(Config::default());
    let mut c = Client::websocket(&mut h);
    c.connect(&mut h, "/", None);
    h.take_events();
    c.send_text(
        &mut h,
        &["451-[\"a\",{\"_placeholder\":true,\"num\":0}]", "42[\"b\"]"],
    );
    let events = h.take_events();
    assert!(events.iter().any(|e| matches!(
        e,
        Event::SessionClosed {
            reason: sockio_protocol::DisconnectReason::ParseError,
            ..
        }
    )));
}

#[test]
fn attachment_count_and_size_are_capped() {
    let mut h = Harness::new(Config::default().max_attachments(2).max_attachment_bytes(4));
    let mut c = Client::websocket(&mut h);
    c.connect(&mut h, "/", None);
    h.take_events();
    c.send_text(&mut h, &["453-[\"a\"]"]);
    assert!(h
        .take_events()
        .iter()
        .any(|e| matches!(e, Event::SessionClosed { .. })));

    let mut c = Client::websocket(&mut h);
    c.connect(&mut h, "/", None);
    h.take_events();
    c.send_binary(
        &mut h,
        "452-[\"a\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]",
        &[b"abc", b"de"],
    );
    assert!(h
        .take_events()
        .iter()
        .any(|e| matches!(e, Event::SessionClosed { .. })));
}
