//! Server heartbeats: pings on schedule, pongs reset, silence times the session out.

mod common;

use std::time::Duration;

use common::{Client, Harness};
use sockio_protocol::{Config, DisconnectReason, Event};

fn config() -> Config {
    Config::default()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
}

#[test]
fn answered_pings_keep_the_session_alive() {
    let mut h = Harness::new(config());
    let mut ws = Client::websocket(&mut h);
    let mut poll = Client::polling(&mut h);
    ws.connect(&mut h, "/", None);
    poll.connect(&mut h, "/", None);
    for _ in 0..20 {
        h.advance(Duration::from_millis(100));
        ws.poll(&mut h);
        poll.poll(&mut h);
    }
    assert!(ws.pings >= 5, "pings: {}", ws.pings);
    assert!(poll.pings >= 4, "pings: {}", poll.pings);
    assert!(!h
        .events
        .iter()
        .any(|e| matches!(e, Event::SessionClosed { .. })));
}

#[test]
fn unanswered_ping_times_out_websocket() {
    let mut h = Harness::new(config());
    let mut c = Client::websocket(&mut h);
    let id = c.connect(&mut h, "/", None);
    c.auto_pong = false;
    h.advance(Duration::from_millis(299));
    c.poll(&mut h);
    assert_eq!(c.pings, 0);
    h.advance(Duration::from_millis(1));
    c.poll(&mut h);
    assert_eq!(c.pings, 1);
    h.advance(Duration::from_millis(200));
    c.poll(&mut h);
    assert!(c.closed);
    assert!(h.events.contains(&Event::Disconnect {
        socket: id,
        namespace: "/".into(),
        reason: DisconnectReason::PingTimeout
    }));
    assert_eq!(h.server.session_count(), 0);
}

#[test]
fn vanished_polling_client_is_reaped_and_parked_get_answered() {
    let mut h = Harness::new(config());
    let mut c = Client::polling(&mut h);
    c.connect(&mut h, "/", None);
    c.texts(&mut h);
    // a parked GET stays open, the client never answers
    c.auto_pong = false;
    h.advance(Duration::from_secs(2));
    c.poll(&mut h);
    assert!(h.events.iter().any(|e| matches!(
        e,
        Event::SessionClosed {
            reason: DisconnectReason::PingTimeout,
            ..
        }
    )));
    assert_eq!(h.server.session_count(), 0);
    assert_eq!(h.server.socket_count(), 0);
}

#[test]
fn session_without_namespace_is_closed_after_connect_timeout() {
    let mut h = Harness::new(config().connect_timeout(Duration::from_secs(1)));
    let mut c = Client::websocket(&mut h);
    for _ in 0..12 {
        h.advance(Duration::from_millis(100));
        c.poll(&mut h);
    }
    assert!(h.events.iter().any(|e| matches!(
        e,
        Event::SessionClosed {
            reason: DisconnectReason::ConnectTimeout,
            ..
        }
    )));
}

#[test]
fn spurious_and_early_timeouts_are_harmless() {
    let mut h = Harness::new(config());
    let mut c = Client::websocket(&mut h);
    c.connect(&mut h, "/", None);
    for _ in 0..10 {
        h.input(sockio_protocol::Input::Timeout(h.now));
    }
    // time going backwards is clamped
    h.input(sockio_protocol::Input::Timeout(
        h.now - Duration::from_millis(50),
    ));
    c.poll(&mut h);
    assert_eq!(c.pings, 0);
    assert!(!c.closed);
}

#[test]
fn the_pong_deadline_counts_from_the_due_time_of_the_ping() {
    let ms = Duration::from_millis;
    let mut h = Harness::new(config());
    let mut c = Client::websocket(&mut h);
    c.connect(&mut h, "/", None);
    c.auto_pong = false;
    let start = h.now;
    // The driver's timer wakes 2 ms after the ping was due (tokio rounds to the millisecond).
    h.now = start + ms(302);
    h.input(sockio_protocol::Input::Timeout(h.now));
    c.poll(&mut h);
    assert_eq!(c.pings, 1);
    assert_eq!(
        h.deadline,
        start + ms(500),
        "due + pingTimeout, not now + pingTimeout"
    );
    h.advance(ms(197));
    c.poll(&mut h);
    assert!(!c.closed);
    h.advance(ms(1));
    c.poll(&mut h);
    assert!(c.closed, "closed at pingInterval + pingTimeout");
}

#[test]
fn a_stalled_server_does_not_charge_the_client_for_its_stall() {
    let ms = Duration::from_millis;
    let mut h = Harness::new(config());
    let mut c = Client::websocket(&mut h);
    c.connect(&mut h, "/", None);
    c.auto_pong = false;
    let start = h.now;
    // The server was stopped for 400 ms: the ping goes out 400 ms late, past the pong deadline
    // it would have had. The client is charged a tenth of the timeout (20 ms) at most.
    h.now = start + ms(700);
    h.input(sockio_protocol::Input::Timeout(h.now));
    c.poll(&mut h);
    assert_eq!(c.pings, 1);
    assert!(!c.closed);
    assert_eq!(h.deadline, start + ms(700 - 20 + 200));
}

/// However late the driver's timer is, a deadline that passed before an input arrived has
/// passed: a pong that comes 1 ms after the ping timeout (the driver's timer not fired yet)
/// finds the session closed; one that comes 1 ms before it keeps it.
#[test]
fn inputs_after_a_deadline_see_it_fired_without_the_drivers_timer() {
    let ms = Duration::from_millis;
    let mut h = Harness::new(config());
    let mut c = Client::websocket(&mut h);
    c.connect(&mut h, "/", None);
    c.auto_pong = false;
    let start = h.now;
    h.advance(ms(300));
    c.poll(&mut h);
    assert_eq!(c.pings, 1);
    // No timeout input after this: only the client's pong, 1 ms past pingInterval + pingTimeout.
    h.now = start + ms(501);
    c.send_text(&mut h, &["3"]);
    c.poll(&mut h);
    assert!(c.closed, "the ping timeout fired before the late pong");

    let mut h = Harness::new(config());
    let mut c = Client::websocket(&mut h);
    c.connect(&mut h, "/", None);
    c.auto_pong = false;
    let start = h.now;
    h.advance(ms(300));
    c.poll(&mut h);
    h.now = start + ms(499);
    c.send_text(&mut h, &["3"]);
    c.poll(&mut h);
    assert!(!c.closed, "a pong in time keeps the session");
}
