//! Bounded outbound queues: refusals hand the payload back; slow consumers are dropped or
//! disconnected by policy without affecting the others.

mod common;

use common::{Client, Harness};
use std::time::Duration;

use sockio_protocol::{Config, DisconnectReason, EmitError, Event, Input, Payload, SlowConsumer};

#[test]
fn direct_emit_to_a_full_queue_returns_the_payload() {
    let mut h = Harness::new(Config::default().max_queue_packets(3));
    let mut c = Client::polling(&mut h);
    let id = c.connect(&mut h, "/", None);
    c.texts(&mut h);
    for _ in 0..3 {
        h.server
            .socket(id)
            .unwrap()
            .emit(Payload::json("[\"x\"]"))
            .unwrap();
    }
    let err = h
        .server
        .socket(id)
        .unwrap()
        .emit(Payload::json("[\"y\"]"))
        .unwrap_err();
    assert_eq!(err, EmitError::QueueFull(Payload::json("[\"y\"]")));
    h.drain();
    assert_eq!(c.texts(&mut h).len(), 3);
    h.server
        .socket(id)
        .unwrap()
        .emit(Payload::json("[\"y\"]"))
        .unwrap();
}

#[test]
fn slow_consumer_is_disconnected_and_others_get_everything() {
    let mut h = Harness::new(Config::default().max_queue_packets(100));
    let mut slow = Client::polling(&mut h);
    let slow_id = slow.connect(&mut h, "/", None);
    slow.texts(&mut h);
    let mut fast = Client::websocket(&mut h);
    fast.connect(&mut h, "/", None);
    fast.texts(&mut h);
    let mut received = 0;
    for i in 0..10_000 {
        h.server
            .broadcast("/")
            .emit(&Payload::json(format!("[\"n\",{i}]")));
        h.drain();
        received += fast.texts(&mut h).len();
    }
    assert_eq!(received, 10_000);
    assert!(h.events.contains(&Event::Disconnect {
        socket: slow_id,
        namespace: "/".into(),
        reason: DisconnectReason::SlowConsumer
    }));
}

#[test]
fn drop_policy_and_volatile_skip_without_disconnecting() {
    let mut h = Harness::new(
        Config::default()
            .max_queue_packets(10)
            .slow_consumer(SlowConsumer::Drop),
    );
    let mut slow = Client::polling(&mut h);
    slow.connect(&mut h, "/", None);
    slow.texts(&mut h);
    let mut dropped = 0;
    for _ in 0..50 {
        dropped += h
            .server
            .broadcast("/")
            .emit(&Payload::json("[\"n\"]"))
            .dropped;
    }
    h.drain();
    assert_eq!(dropped, 40);
    assert_eq!(slow.texts(&mut h).len(), 10);
    // volatile: dropped while no GET is parked
    let r = h
        .server
        .broadcast("/")
        .volatile()
        .emit(&Payload::json("[\"v\"]"));
    assert_eq!((r.delivered, r.dropped), (0, 1));
    slow.poll(&mut h); // parks a GET
    let r = h
        .server
        .broadcast("/")
        .volatile()
        .emit(&Payload::json("[\"v\"]"));
    assert_eq!((r.delivered, r.dropped), (1, 0));
    h.drain();
    assert!(h.server.session_count() == 1);
}

fn blocked(h: &mut Harness, c: &Client, blocked: bool) {
    let transport = c.ws.expect("a WebSocket client");
    let now = h.now;
    h.input(if blocked {
        Input::WebSocketBlocked { now, transport }
    } else {
        Input::WebSocketWritable { now, transport }
    });
}

#[test]
fn a_blocked_websocket_keeps_data_queued_but_still_gets_pings() {
    let mut h = Harness::new(Config::default());
    let mut c = Client::websocket(&mut h);
    c.auto_pong = false;
    let id = c.connect(&mut h, "/", None);
    c.texts(&mut h);
    blocked(&mut h, &c, true);
    for i in 0..3 {
        h.server
            .socket(id)
            .unwrap()
            .emit(Payload::json(format!("[\"n\",{i}]")))
            .unwrap();
    }
    h.drain();
    assert!(c.texts(&mut h).is_empty(), "data waits while blocked");
    h.advance(Duration::from_millis(25_000));
    assert!(c.texts(&mut h).is_empty());
    assert_eq!(c.pings, 1, "the ping does not wait");
    blocked(&mut h, &c, false);
    assert_eq!(
        c.texts(&mut h),
        vec!["2[\"n\",0]", "2[\"n\",1]", "2[\"n\",2]"],
        "what waited goes out in order once writable"
    );
    assert_eq!(h.server.session_count(), 1);
}

#[test]
fn a_blocked_websocket_that_stays_blocked_is_a_slow_consumer() {
    let mut h = Harness::new(Config::default().max_queue_packets(50));
    let mut stuck = Client::websocket(&mut h);
    let stuck_id = stuck.connect(&mut h, "/", None);
    let mut fine = Client::websocket(&mut h);
    fine.connect(&mut h, "/", None);
    stuck.texts(&mut h);
    fine.texts(&mut h);
    blocked(&mut h, &stuck, true);
    let mut received = 0;
    for i in 0..1_000 {
        h.server
            .broadcast("/")
            .emit(&Payload::json(format!("[\"n\",{i}]")));
        h.drain();
        received += fine.texts(&mut h).len();
    }
    assert_eq!(received, 1_000);
    assert!(h.events.contains(&Event::Disconnect {
        socket: stuck_id,
        namespace: "/".into(),
        reason: DisconnectReason::SlowConsumer
    }));
    assert!(h.ws_closed.contains(&stuck.ws.unwrap()));
}

#[test]
fn volatile_packets_skip_a_blocked_websocket() {
    let mut h = Harness::new(Config::default());
    let mut c = Client::websocket(&mut h);
    c.connect(&mut h, "/", None);
    c.texts(&mut h);
    blocked(&mut h, &c, true);
    let r = h
        .server
        .broadcast("/")
        .volatile()
        .emit(&Payload::json("[\"v\"]"));
    assert_eq!((r.delivered, r.dropped), (0, 1));
    blocked(&mut h, &c, false);
    let r = h
        .server
        .broadcast("/")
        .volatile()
        .emit(&Payload::json("[\"v\"]"));
    assert_eq!((r.delivered, r.dropped), (1, 0));
    h.drain();
    assert_eq!(c.texts(&mut h), vec!["2[\"v\"]"]);
}
