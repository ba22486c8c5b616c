//! Closing: client close packet, transport loss, server close and graceful shutdown.

mod common;

use bytes::Bytes;
use common::{Client, Harness};
use sockio_protocol::http::{HttpRequest, Method};
use sockio_protocol::{Config, DisconnectReason, Event, Input, Payload};

#[test]
fn client_close_packet_and_transport_loss() {
    let mut h = Harness::new(Config::default());
    let mut a = Client::polling(&mut h);
    let ida = a.connect(&mut h, "/", None);
    a.send_text(&mut h, &["1"]);
    assert!(h.events.contains(&Event::Disconnect {
        socket: ida,
        namespace: "/".into(),
        reason: DisconnectReason::TransportClose
    }));

    let mut b = Client::websocket(&mut h);
    let idb = b.connect(&mut h, "/", None);
    h.input(Input::TransportClosed {
        now: h.now,
        transport: b.ws.unwrap(),
    });
    assert!(h.events.contains(&Event::Disconnect {
        socket: idb,
        namespace: "/".into(),
        reason: DisconnectReason::TransportClose
    }));
    assert_eq!(h.server.session_count(), 0);
    assert_eq!(h.server.socket_count(), 0);
    // stale input for the closed transport is ignored
    h.input(Input::TransportClosed {
        now: h.now,
        transport: b.ws.unwrap(),
    });
}

#[test]
fn shutdown_flushes_queued_packets_then_closes() {
    let mut h = Harness::new(Config::default());
    let mut ws = Client::websocket(&mut h);
    let mut poll = Client::polling(&mut h);
    let a = ws.connect(&mut h, "/", None);
    let b = poll.connect(&mut h, "/", None);
    ws.texts(&mut h);
    poll.texts(&mut h);
    h.server
        .socket(a)
        .unwrap()
        .emit(Payload::json("[\"bye\"]"))
        .unwrap();
    h.server
        .socket(b)
        .unwrap()
        .emit(Payload::json("[\"bye\"]"))
        .unwrap();
    h.server.shutdown();
    h.drain();
    assert_eq!(ws.texts(&mut h), vec!["2[\"bye\"]"]);
    assert!(ws.closed);
    // the polling client picks up the last packets and the close on its next GET
    assert_eq!(h.server.session_count(), 1);
    assert_eq!(poll.texts(&mut h), vec!["2[\"bye\"]"]);
    assert!(poll.closed);
    assert_eq!(h.server.session_count(), 0);
    let reasons: Vec<_> = h
        .events
        .iter()
        .filter_map(|e| match e {
            Event::SessionClosed { reason, .. } => Some(*reason),
            _ => None,
        })
        .collect();
    assert_eq!(reasons, vec![DisconnectReason::ServerShuttingDown; 2]);
}

#[test]
fn closing_polling_session_without_a_get_lingers_then_ends() {
    let mut h = Harness::new(Config::default());
    let mut c = Client::polling(&mut h);
    let id = c.connect(&mut h, "/", None);
    c.texts(&mut h);
    let session = h.server.socket_info(id).unwrap().session;
    h.server.close_session(session);
    h.drain();
    assert_eq!(h.server.session_count(), 1);
    h.advance(std::time::Duration::from_secs(21));
    assert_eq!(h.server.session_count(), 0);
    assert!(h.events.iter().any(|e| matches!(
        e,
        Event::SessionClosed {
            reason: DisconnectReason::ForcedClose,
            ..
        }
    )));
}

#[test]
fn after_shutdown_new_sessions_are_refused_and_old_ones_finish() {
    let mut h = Harness::new(Config::default());
    let mut c = Client::polling(&mut h);
    c.connect(&mut h, "/", None);
    c.texts(&mut h);
    h.server.shutdown();
    h.drain();
    assert!(h.server.is_shutting_down());

    let t = h.request(Method::Get, "EIO=4&transport=polling", Bytes::new());
    assert_eq!(h.http[&t].status, 503, "no new polling session");
    let refused = h.server.websocket_refusal(&HttpRequest {
        query: "EIO=4&transport=websocket".into(),
        ..Default::default()
    });
    assert_eq!(
        refused.map(|r| r.status),
        Some(503),
        "no new WebSocket session"
    );
    let ws = h.handle();
    h.input(Input::WebSocketOpen {
        now: h.now,
        transport: ws,
        request: HttpRequest {
            query: "EIO=4&transport=websocket".into(),
            ..Default::default()
        },
    });
    assert!(
        h.ws_closed.contains(&ws),
        "a WebSocket that opened anyway is closed"
    );

    // the existing session still gets its close on its next GET
    c.poll(&mut h);
    assert!(c.closed);
    assert_eq!(h.server.session_count(), 0);
}
