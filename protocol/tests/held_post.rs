//! A long-polling client that sends without reading: once more than one payload's worth
//! (`max_payload`) waits for it and no GET is parked, the answer to its POST waits for its
//! next GET, so the client cannot send the next one; a second POST meanwhile is a protocol
//! error, as with the reference server.

mod common;

use bytes::Bytes;
use common::{Client, Harness};
use sockio_protocol::http::Method;
use sockio_protocol::{Config, DisconnectReason, Event, Payload};

fn query(c: &Client) -> String {
    format!("EIO=4&transport=polling&sid={}", c.sid)
}

#[test]
fn a_post_waits_while_the_client_does_not_read() {
    let mut h = Harness::new(Config::default().max_payload(1_000));
    let mut c = Client::polling(&mut h);
    let id = c.connect(&mut h, "/", None);
    // More than one payload waits for the client.
    let big = format!("[\"big\",\"{}\"]", "x".repeat(1_200));
    h.server
        .socket(id)
        .unwrap()
        .emit(Payload::json(big))
        .unwrap();
    h.drain();

    let post = h.request(Method::Post, &query(&c), Bytes::from_static(b"42[\"a\"]"));
    assert!(
        !h.http.contains_key(&post),
        "answered only once the client reads"
    );
    assert!(
        h.events.iter().any(|e| matches!(e, Event::Message { .. })),
        "but handled"
    );

    // The GET takes what waited; the POST is answered with it.
    let texts = c.texts(&mut h);
    assert!(
        texts.iter().any(|t| t.starts_with("2[\"big\"")),
        "{texts:?}"
    );
    let answer = h.http.remove(&post).expect("answered after the GET");
    assert_eq!((answer.status, &answer.body[..]), (200, &b"ok"[..]));

    // With nothing waiting, POSTs are answered at once again.
    c.send_text(&mut h, &["42[\"b\"]"]);
    assert!(!c.closed);
}

#[test]
fn a_second_post_while_one_waits_closes_the_session() {
    let mut h = Harness::new(Config::default().max_payload(1_000));
    let mut c = Client::polling(&mut h);
    let id = c.connect(&mut h, "/", None);
    let big = format!("[\"big\",\"{}\"]", "x".repeat(1_200));
    h.server
        .socket(id)
        .unwrap()
        .emit(Payload::json(big))
        .unwrap();
    h.drain();
    let first = h.request(Method::Post, &query(&c), Bytes::from_static(b"42[\"a\"]"));
    let second = h.request(Method::Post, &query(&c), Bytes::from_static(b"42[\"b\"]"));
    assert_eq!(h.http.remove(&second).map(|r| r.status), Some(400));
    assert!(
        h.events.iter().any(|e| matches!(
            e,
            Event::SessionClosed {
                reason: DisconnectReason::TransportError,
                ..
            }
        )),
        "{:?}",
        h.events
    );
    assert_eq!(
        h.http.remove(&first).map(|r| r.status),
        Some(200),
        "the waiting POST is answered when its session ends"
    );
}

#[test]
fn a_waiting_post_whose_client_left_is_forgotten() {
    let mut h = Harness::new(Config::default().max_payload(1_000));
    let mut c = Client::polling(&mut h);
    let id = c.connect(&mut h, "/", None);
    let big = format!("[\"big\",\"{}\"]", "x".repeat(1_200));
    h.server
        .socket(id)
        .unwrap()
        .emit(Payload::json(big))
        .unwrap();
    h.drain();
    let post = h.request(Method::Post, &query(&c), Bytes::from_static(b"42[\"a\"]"));
    h.input(sockio_protocol::Input::TransportClosed {
        now: h.now,
        transport: post,
    });
    // The next POST is not an overlap.
    let again = h.request(Method::Post, &query(&c), Bytes::from_static(b"42[\"b\"]"));
    assert!(
        !h.http.contains_key(&again),
        "still waits for the client to read"
    );
    c.texts(&mut h);
    assert_eq!(h.http.remove(&again).map(|r| r.status), Some(200));
    assert!(h.http.remove(&post).is_none(), "nobody to answer");
}
