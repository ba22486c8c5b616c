//! Connection state recovery across servers side by side (shards): the socket kept by the
//! server the client left is exported, imported by the one it came back to before its CONNECT,
//! and restored there with its sid, rooms and what it missed, once.

mod common;

use common::{event_args, sio, Client, Harness};
use serde_json::{json, Value};
use sockio_protocol::socketio::PacketKind;
use sockio_protocol::{Config, Event, Input, Payload, RecoveryConfig};

fn config(tag: u8) -> Config {
    Config::default()
        .connection_state_recovery(Some(RecoveryConfig::default()))
        .sid_tag(Some(tag))
}

#[test]
fn a_socket_kept_by_one_server_is_restored_by_another() {
    let mut b = Harness::new(config(1));
    let mut a = Harness::new(config(0));

    // Connected to B, in a room, gets one event, then its transport drops.
    let mut c = Client::websocket(&mut b);
    let id = c.connect(&mut b, "/", None);
    let reply = sio(&c.texts(&mut b)[0]).value().unwrap();
    let (sid, pid) = (
        reply["sid"].as_str().unwrap().to_string(),
        reply["pid"].as_str().unwrap().to_string(),
    );
    assert!(sid.starts_with('B'), "B's tag: {sid}");
    b.server.socket(id).unwrap().join("room");
    let _ = b.server.broadcast("/").emit(&Payload::json("[\"seen\"]"));
    b.drain();
    let texts = c.texts(&mut b);
    let last = event_args(&texts[0])
        .last()
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    let t = c.ws.unwrap();
    b.input(Input::TransportClosed {
        now: b.now,
        transport: t,
    });
    // Missed while away: one to its room, one to the namespace, one to another room.
    for (to, json) in [
        (Some("room"), "[\"r\"]"),
        (None, "[\"all\"]"),
        (Some("other"), "[\"not\"]"),
    ] {
        let mut bc = b.server.broadcast("/");
        if let Some(r) = to {
            bc = bc.to(r);
        }
        let _ = bc.emit(&Payload::json(json));
        b.drain();
    }

    // It comes back to A: the driver moves the kept socket over before the CONNECT.
    let auth = json!({"pid": pid, "offset": last});
    let transfer = b.server.export_recovery("/", &auth).expect("kept by B");
    b.drain();
    assert_eq!(transfer.sid().as_str(), sid);
    assert!(
        b.server.export_recovery("/", &auth).is_none(),
        "taken out of B"
    );
    a.server.import_recovery(transfer);
    a.drain();
    let mut c = Client::websocket(&mut a);
    let id = c.connect(&mut a, "/", Some(&auth.to_string()));
    assert!(a.events.iter().any(|e| matches!(
        e,
        Event::Connect {
            recovered: true,
            ..
        }
    )));
    let info = a.server.socket_info(id).unwrap();
    assert_eq!(info.sid.as_str(), sid, "the same sid");
    assert!(info.rooms.iter().any(|r| r.as_str() == "room"));
    let texts = c.texts(&mut a);
    assert_eq!(sio(&texts[0]).kind, PacketKind::Connect);
    let names: Vec<Value> = texts[1..]
        .iter()
        .map(|t| event_args(t)[0].clone())
        .collect();
    assert_eq!(
        names,
        vec![json!("r"), json!("all")],
        "what it missed, once, in order"
    );

    // From now on A logs what it misses: a second drop and return, on A.
    let _ = a
        .server
        .broadcast("/")
        .to("room")
        .emit(&Payload::json("[\"later\"]"));
    a.drain();
    let got = c.texts(&mut a);
    assert_eq!(event_args(&got[0])[0], json!("later"));
}
