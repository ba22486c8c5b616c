//! Long-polling rules: one parked GET, POST while parked, payload limit, parse errors.

mod common;

use bytes::Bytes;
use common::{Client, Harness};
use sockio_protocol::http::Method;
use sockio_protocol::{Config, DisconnectReason, Event, Payload};

#[test]
fn a_second_concurrent_get_closes_the_session() {
    let mut h = Harness::new(Config::default());
    let c = Client::polling(&mut h);
    let q = format!("EIO=4&transport=polling&sid={}", c.sid);
    let first = h.request(Method::Get, &q, Bytes::new());
    assert!(!h.http.contains_key(&first), "parked");
    let second = h.request(Method::Get, &q, Bytes::new());
    assert_eq!(h.http[&second].status, 400);
    assert_eq!(
        &h.http[&first].body[..],
        b"1",
        "the parked GET gets the close packet"
    );
    assert!(h.events.iter().any(|e| matches!(
        e,
        Event::SessionClosed {
            reason: DisconnectReason::TransportError,
            ..
        }
    )));
    let third = h.request(Method::Get, &q, Bytes::new());
    assert_eq!(h.http[&third].status, 400);
}

#[test]
fn post_while_a_get_is_parked_and_batched_answers() {
    let mut h = Harness::new(Config::default());
    let mut c = Client::polling(&mut h);
    let id = c.connect(&mut h, "/", None);
    c.texts(&mut h);
    let q = format!("EIO=4&transport=polling&sid={}", c.sid);
    let get = h.request(Method::Get, &q, Bytes::new());
    let post = h.request(Method::Post, &q, Bytes::from_static(b"42[\"x\"]"));
    assert_eq!(&h.http[&post].body[..], b"ok");
    assert!(!h.http.contains_key(&get));
    // three emits in one drain go out in one response
    for _ in 0..3 {
        h.server
            .socket(id)
            .unwrap()
            .emit(Payload::json("[\"y\"]"))
            .unwrap();
    }
    h.drain();
    assert_eq!(
        &h.http[&get].body[..],
        b"42[\"y\"]\x1e42[\"y\"]\x1e42[\"y\"]"
    );
}

#[test]
fn oversized_post_is_refused_and_closes() {
    let mut h = Harness::new(Config::default().max_payload(10));
    let c = Client::polling(&mut h);
    let q = format!("EIO=4&transport=polling&sid={}", c.sid);
    let t = h.request(Method::Post, &q, Bytes::from(vec![b'4'; 11]));
    assert_eq!(h.http[&t].status, 413);
    assert!(h.events.iter().any(|e| matches!(
        e,
        Event::SessionClosed {
            reason: DisconnectReason::TransportError,
            ..
        }
    )));
}

#[test]
fn garbage_is_a_parse_error_for_that_session_only() {
    let mut h = Harness::new(Config::default());
    let mut good = Client::polling(&mut h);
    good.connect(&mut h, "/", None);
    let bad = Client::polling(&mut h);
    let q = format!("EIO=4&transport=polling&sid={}", bad.sid);
    // Engine.IO-level garbage fails the request; Socket.IO-level garbage closes the session
    // while the request itself was well-formed.
    let cases: [(&[u8], u16); 6] = [
        (b"\xff\xfe", 400),
        (b"9", 400),
        (b"bnot-base64!", 400),
        (b"4\x1e", 200),
        (b"42[\"x\"", 200),
        (b"0", 200),
    ];
    for (body, status) in cases {
        let bad = Client::polling(&mut h);
        let q = format!("EIO=4&transport=polling&sid={}", bad.sid);
        let t = h.request(Method::Post, &q, Bytes::from_static(body));
        assert_eq!(h.http[&t].status, status, "{body:?}");
        assert!(h.events.iter().any(|e| matches!(
            e,
            Event::SessionClosed {
                reason: DisconnectReason::ParseError,
                ..
            }
        )));
        h.take_events();
    }
    let t = h.request(Method::Other, &q, Bytes::new());
    assert_eq!(h.http[&t].status, 400);
    good.send_text(&mut h, &["42[\"still ok\"]"]);
    assert!(h.events.iter().any(|e| matches!(e, Event::Message { .. })));
}
