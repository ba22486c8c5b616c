//! Connection state recovery refused: an expired window, an unknown or malformed pid or
//! offset, a namespace disconnect or a forced close make the reconnection an ordinary new
//! connection (a new sid, only its own room, nothing replayed).

mod common;

use std::time::Duration;

use common::{event_args, sio, Client, Harness};
use serde_json::{json, Value};
use sockio_protocol::{Config, Event, Input, Payload, RecoveryConfig, SocketId};

const WINDOW: Duration = Duration::from_secs(30);

fn config() -> Config {
    let recovery = RecoveryConfig::default()
        .max_disconnection_duration(WINDOW)
        .max_packets(4);
    Config::default().connection_state_recovery(Some(recovery))
}

struct Lost {
    sid: String,
    pid: String,
    offset: String,
}

/// A WebSocket client in room `red` that got one broadcast, then lost its transport.
fn lost(h: &mut Harness) -> Lost {
    let mut c = Client::websocket(h);
    let id = c.connect(h, "/", None);
    h.server.socket(id).unwrap().join("red");
    let _ = h.server.broadcast("/").emit(&Payload::json(r#"["seen"]"#));
    h.drain();
    let texts = c.texts(h);
    let reply = sio(&texts[0]).value().unwrap();
    let offset = event_args(&texts[1]).pop().unwrap();
    h.input(Input::TransportClosed {
        now: h.now,
        transport: c.ws.unwrap(),
    });
    let _ = h
        .server
        .broadcast("/")
        .emit(&Payload::json(r#"["missed"]"#));
    h.drain();
    Lost {
        sid: reply["sid"].as_str().unwrap().into(),
        pid: reply["pid"].as_str().unwrap().into(),
        offset: offset.as_str().unwrap().into(),
    }
}

/// Reconnects with `auth`; the socket, whether it was recovered, and what the client got.
fn reconnect(h: &mut Harness, auth: &Value) -> (SocketId, bool, Vec<String>) {
    let mut c = Client::websocket(h);
    let id = c.connect(h, "/", Some(&auth.to_string()));
    let recovered = h
        .events
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::Connect {
                socket, recovered, ..
            } if *socket == id => Some(*recovered),
            _ => None,
        })
        .unwrap();
    (id, recovered, c.texts(h))
}

fn assert_new_connection(h: &mut Harness, old: &Lost, auth: Value) {
    let (id, recovered, texts) = reconnect(h, &auth);
    assert!(!recovered, "{auth}");
    let info = h.server.socket_info(id).unwrap();
    assert_ne!(info.sid.as_str(), old.sid, "{auth}");
    assert_eq!(info.rooms.len(), 1, "only its own room: {auth}");
    assert_eq!(texts.len(), 1, "nothing replayed: {texts:?}");
    let reply = sio(&texts[0]).value().unwrap();
    assert_eq!(reply["sid"].as_str(), Some(info.sid.as_str()));
    assert_ne!(reply["pid"].as_str(), Some(old.pid.as_str()), "a new pid");
}

#[test]
fn an_expired_window_is_a_new_connection() {
    let mut h = Harness::new(config());
    let old = lost(&mut h);
    assert_eq!(h.server.recovery_stats().unwrap().sockets, 1);
    // The deadline of the kept state drives the timer: nothing else is pending.
    h.advance(WINDOW);
    let stats = h.server.recovery_stats().unwrap();
    assert_eq!((stats.sockets, stats.packets, stats.namespaces), (0, 0, 0));
    assert_new_connection(&mut h, &old, json!({"pid": old.pid, "offset": old.offset}));
}

#[test]
fn just_inside_the_window_recovers() {
    let mut h = Harness::new(config());
    let old = lost(&mut h);
    h.advance(WINDOW - Duration::from_millis(1));
    let (_, recovered, texts) = reconnect(&mut h, &json!({"pid": old.pid, "offset": old.offset}));
    assert!(recovered);
    assert_eq!(texts.len(), 2, "{texts:?}");
}

#[test]
fn unknown_or_malformed_pids_and_offsets_are_new_connections() {
    let mut h = Harness::new(config());
    let old = lost(&mut h);
    let other_pid = "AAAAAAAAAAAAAAAAAAAA";
    for auth in [
        json!({"pid": other_pid, "offset": old.offset}),
        json!({"pid": "short", "offset": old.offset}),
        json!({"pid": 12, "offset": old.offset}),
        json!({"offset": old.offset}),
        json!({"pid": old.pid, "offset": 123}),
        json!({"pid": old.pid, "offset": null}),
        json!({"pid": old.pid, "offset": "unknown"}),
        json!({"pid": old.pid, "offset": format!("{}0", old.offset)}),
    ] {
        assert_new_connection(&mut h, &old, auth);
    }
    // None of that used the kept state up: the right pid and offset still work.
    let (id, recovered, texts) = reconnect(&mut h, &json!({"pid": old.pid, "offset": old.offset}));
    assert!(recovered);
    assert_eq!(h.server.socket_info(id).unwrap().sid.as_str(), old.sid);
    assert_eq!(event_args(&texts[1])[0], "missed");
    // ... once.
    assert_new_connection(&mut h, &old, json!({"pid": old.pid, "offset": old.offset}));
}

#[test]
fn an_offset_dropped_by_the_cap_is_a_new_connection() {
    let mut h = Harness::new(config());
    let old = lost(&mut h);
    for i in 0..4 {
        let _ = h
            .server
            .broadcast("/")
            .emit(&Payload::json(format!(r#"["flood",{i}]"#)));
    }
    h.drain();
    assert_eq!(h.server.recovery_stats().unwrap().packets, 4);
    assert_new_connection(&mut h, &old, json!({"pid": old.pid, "offset": old.offset}));
    // without an offset too: what it may have missed is gone
    assert_new_connection(&mut h, &old, json!({"pid": old.pid}));
}

fn disconnected_by(reason: &str) {
    let mut h = Harness::new(config());
    let mut c = Client::websocket(&mut h);
    let id = c.connect(&mut h, "/", None);
    let texts = c.texts(&mut h);
    let reply = sio(&texts[0]).value().unwrap();
    let old = Lost {
        sid: reply["sid"].as_str().unwrap().into(),
        pid: reply["pid"].as_str().unwrap().into(),
        offset: String::new(),
    };
    match reason {
        "client namespace disconnect" => c.send_text(&mut h, &["41"]),
        "server namespace disconnect" => {
            h.server.socket(id).unwrap().disconnect();
            h.drain();
        }
        "forced close" => {
            let session = h.server.socket_info(id).unwrap().session;
            h.server.close_session(session);
            h.drain();
        }
        "parse error" => c.send_text(&mut h, &["4nonsense"]),
        _ => unreachable!(),
    }
    let gone = h.events.iter().any(|e| {
        matches!(e, Event::Disconnect { socket, reason: r, .. } if *socket == id && r.as_str() == reason)
    });
    assert!(gone, "{reason}: {:?}", h.events);
    assert_eq!(h.server.recovery_stats().unwrap().sockets, 0, "{reason}");
    assert_new_connection(&mut h, &old, json!({"pid": old.pid}));
}

#[test]
fn namespace_disconnects_forced_closes_and_parse_errors_are_not_kept() {
    for reason in [
        "client namespace disconnect",
        "server namespace disconnect",
        "forced close",
        "parse error",
    ] {
        disconnected_by(reason);
    }
}

#[test]
fn a_rejected_recovery_is_not_kept_again() {
    let mut h = Harness::new(config());
    let old = lost(&mut h);
    h.auto_accept = false;
    let mut c = Client::websocket(&mut h);
    let id = c.connect(&mut h, "/", Some(&json!({"pid": old.pid}).to_string()));
    h.server.socket(id).unwrap().reject("no", None);
    h.drain();
    assert_eq!(h.server.recovery_stats().unwrap().sockets, 0);
}

#[test]
fn a_recovery_whose_transport_drops_before_acceptance_is_kept_again() {
    let mut h = Harness::new(config());
    let old = lost(&mut h);
    h.advance(Duration::from_secs(10));
    h.auto_accept = false;
    let mut c = Client::websocket(&mut h);
    c.connect(
        &mut h,
        "/",
        Some(&json!({"pid": old.pid, "offset": old.offset}).to_string()),
    );
    assert_eq!(h.server.recovery_stats().unwrap().sockets, 0, "taken");
    h.input(Input::TransportClosed {
        now: h.now,
        transport: c.ws.unwrap(),
    });
    assert_eq!(h.server.recovery_stats().unwrap().sockets, 1, "kept again");
    h.auto_accept = true;
    let (_, recovered, texts) = reconnect(&mut h, &json!({"pid": old.pid, "offset": old.offset}));
    assert!(recovered);
    assert_eq!(texts.len(), 2, "{texts:?}");
}

#[test]
fn a_recovery_kept_again_keeps_its_first_disconnection_time() {
    let mut h = Harness::new(config());
    let old = lost(&mut h);
    h.advance(WINDOW - Duration::from_secs(5));
    h.auto_accept = false;
    let mut c = Client::websocket(&mut h);
    c.connect(&mut h, "/", Some(&json!({"pid": old.pid}).to_string()));
    h.input(Input::TransportClosed {
        now: h.now,
        transport: c.ws.unwrap(),
    });
    assert_eq!(h.server.recovery_stats().unwrap().sockets, 1);
    h.advance(Duration::from_secs(5));
    assert_eq!(
        h.server.recovery_stats().unwrap().sockets,
        0,
        "expired on time"
    );
}

#[test]
fn off_by_default() {
    let mut h = Harness::new(Config::default());
    let mut c = Client::websocket(&mut h);
    let id = c.connect(&mut h, "/", None);
    let _ = h.server.broadcast("/").emit(&Payload::json(r#"["a",1]"#));
    h.server
        .socket(id)
        .unwrap()
        .emit(Payload::json(r#"["b"]"#))
        .unwrap();
    h.drain();
    let sid = h.server.socket_info(id).unwrap().sid;
    let texts = c.texts(&mut h);
    assert_eq!(
        texts,
        [
            format!(r#"0{{"sid":"{sid}"}}"#),
            r#"2["a",1]"#.into(),
            r#"2["b"]"#.into()
        ]
    );
    assert!(h.server.recovery_stats().is_none());
    h.input(Input::TransportClosed {
        now: h.now,
        transport: c.ws.unwrap(),
    });
    let mut c2 = Client::websocket(&mut h);
    let id2 = c2.connect(&mut h, "/", Some(r#"{"pid":"x","offset":"y"}"#));
    assert_ne!(h.server.socket_info(id2).unwrap().sid, sid);
}
