//! Protocol answers (CONNECT, CONNECT_ERROR, DISCONNECT) count against the same outbound caps
//! as emits: a peer that asks without reading is closed as a slow consumer, never buffered
//! without bound. What is emitted to a socket still pending acceptance counts too.

mod common;

use common::{Client, Harness};
use sockio_protocol::{Config, DisconnectReason, EmitError, Event, Payload};

fn session_closed_slow(h: &Harness) -> bool {
    h.events.iter().any(|e| {
        matches!(
            e,
            Event::SessionClosed {
                reason: DisconnectReason::SlowConsumer,
                ..
            }
        )
    })
}

#[test]
fn connect_errors_past_max_namespaces_stop_at_the_queue_cap() {
    let config = Config::default().max_namespaces(2).max_queue_packets(8);
    let mut h = Harness::new(config);
    let mut c = Client::polling(&mut h);
    // One POST full of CONNECTs to more namespaces than allowed, and never a GET.
    let connects: Vec<String> = (0..100).map(|i| format!("40/ns{i},")).collect();
    let refs: Vec<&str> = connects.iter().map(String::as_str).collect();
    c.send_text(&mut h, &refs);
    assert!(session_closed_slow(&h), "{:?}", h.events);
    let connects = h
        .events
        .iter()
        .filter(|e| matches!(e, Event::Connect { .. }))
        .count();
    assert_eq!(connects, 2, "two namespaces, then only refusals");
    assert_eq!(h.server.session_count(), 0, "the session is gone");
}

#[test]
fn refusals_of_pending_connections_stop_at_the_queue_cap() {
    let mut h = Harness::new(Config::default().max_queue_packets(4));
    h.auto_accept = false;
    let mut c = Client::polling(&mut h);
    for i in 0..10 {
        c.send_text(&mut h, &[&format!("40/ns{i},")]);
        let pending: Vec<_> = h
            .take_events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Connect { socket, .. } => Some(socket),
                Event::SessionClosed { reason, .. } => {
                    assert_eq!(reason, DisconnectReason::SlowConsumer);
                    h.events.push(e);
                    None
                }
                _ => None,
            })
            .collect();
        for socket in pending {
            h.server
                .socket(socket)
                .unwrap()
                .reject("Invalid namespace", None);
            h.drain();
        }
        if session_closed_slow(&h) {
            assert_eq!(i, 4, "four refusals fit, the fifth does not");
            return;
        }
    }
    panic!("never closed: {:?}", h.events);
}

#[test]
fn emits_to_a_pending_socket_count_against_the_caps() {
    let mut h = Harness::new(Config::default().max_queue_packets(3));
    h.auto_accept = false;
    let mut c = Client::websocket(&mut h);
    c.send_text(&mut h, &["40"]);
    let socket = h
        .take_events()
        .into_iter()
        .find_map(|e| match e {
            Event::Connect { socket, .. } => Some(socket),
            _ => None,
        })
        .unwrap();
    let mut s = h.server.socket(socket).unwrap();
    for _ in 0..3 {
        s.emit(Payload::json("[\"early\"]")).unwrap();
    }
    assert!(matches!(
        s.emit(Payload::json("[\"one too many\"]")),
        Err(EmitError::QueueFull(_))
    ));
    s.accept();
    h.drain();
    assert_eq!(c.texts(&mut h).len(), 4, "the CONNECT and the three emits");
}
