//! Connection state recovery on the wire: which packets carry an offset (as socket.io 4.6+
//! decides: events without an ack id that are not volatile, broadcast or direct), and the
//! offsets are unique.

mod common;

use std::collections::HashMap;
use std::time::Instant;

use common::{event_args, sio, Client, Harness};
use serde_json::{json, Value};
use sockio_protocol::socketio::PacketKind;
use sockio_protocol::{Config, Event, Payload, RecoveryConfig};

fn config() -> Config {
    Config::default().connection_state_recovery(Some(RecoveryConfig::default()))
}

#[test]
fn events_without_ack_carry_an_offset_last() {
    let mut h = Harness::new(config());
    let mut c = Client::websocket(&mut h);
    let id = c.connect(&mut h, "/", None);
    let mut other = Client::websocket(&mut h);
    other.connect(&mut h, "/", None);
    c.texts(&mut h);
    other.texts(&mut h);

    let mut s = h.server.socket(id).unwrap();
    s.emit(Payload::json(r#"["direct","a"]"#)).unwrap();
    let ack = s
        .emit_with_ack(Payload::json(r#"["asks",1]"#), None)
        .unwrap();
    let _ = h.server.broadcast("/").emit(&Payload::json(r#"["all"]"#));
    let _ = h
        .server
        .broadcast("/")
        .volatile()
        .emit(&Payload::json(r#"["volatile"]"#));
    let _ = h
        .server
        .broadcast("/")
        .skip(id)
        .emit(&Payload::json(r#"["others"]"#));
    h.drain();
    // the client asks for an acknowledgement: the answer is an ACK, with no offset
    c.send_text(&mut h, &[r#"427["question"]"#]);
    let asked = h.events.iter().rev().find_map(|e| match e {
        Event::Message { ack: Some(a), .. } => Some(*a),
        _ => None,
    });
    h.server
        .socket(id)
        .unwrap()
        .ack(asked.unwrap(), Payload::json(r#"["answer"]"#))
        .unwrap();
    h.drain();

    let texts = c.texts(&mut h);
    // One offset per event: a broadcast has the same one for every recipient.
    let mut offsets = HashMap::new();
    let mut with_offset = |t: &str, want: Value| {
        let mut args = event_args(t);
        let o = args.pop().unwrap();
        let o = o.as_str().expect("offset is a string").to_string();
        assert!(o.len() > 8, "{o}");
        assert!(o
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let first = offsets.entry(o).or_insert_with(|| want.clone());
        assert_eq!(*first, want, "offsets are unique");
        assert_eq!(Value::Array(args), want);
    };
    assert_eq!(texts.len(), 5, "{texts:?}");
    with_offset(&texts[0], json!(["direct", "a"]));
    let p = sio(&texts[1]);
    assert_eq!((p.kind, p.id), (PacketKind::Event, Some(ack.0)));
    assert_eq!(
        p.value().unwrap(),
        json!(["asks", 1]),
        "an emit asking for an ack: none"
    );
    with_offset(&texts[2], json!(["all"]));
    assert_eq!(texts[3], r#"2["volatile"]"#, "volatile: none");
    let p = sio(&texts[4]);
    assert_eq!((p.kind, p.id), (PacketKind::Ack, Some(7)));
    assert_eq!(
        p.value().unwrap(),
        json!(["answer"]),
        "an acknowledgement: none"
    );

    let others = other.texts(&mut h);
    assert_eq!(others.len(), 3);
    with_offset(&others[0], json!(["all"]));
    assert_eq!(others[1], r#"2["volatile"]"#);
    with_offset(&others[2], json!(["others"]));
}

#[test]
fn a_broadcast_is_encoded_once_with_one_offset() {
    let mut h = Harness::new(config());
    let mut clients: Vec<Client> = (0..3).map(|_| Client::websocket(&mut h)).collect();
    for c in &mut clients {
        c.connect(&mut h, "/", None);
        c.texts(&mut h);
    }
    let _ = h.server.broadcast("/").emit(&Payload::json(r#"["x"]"#));
    h.drain();
    let texts: Vec<String> = clients
        .iter_mut()
        .map(|c| c.texts(&mut h).remove(0))
        .collect();
    assert!(texts.windows(2).all(|w| w[0] == w[1]), "{texts:?}");
}

#[test]
fn offsets_differ_between_servers() {
    let a = {
        let mut h = Harness::new(config());
        let mut c = Client::websocket(&mut h);
        c.connect(&mut h, "/", None);
        let _ = h.server.broadcast("/").emit(&Payload::json(r#"["x"]"#));
        h.drain();
        c.texts(&mut h).pop().unwrap()
    };
    let b = {
        let mut h = Harness::new(config());
        // another entropy source, as another process would have
        h.server = sockio_protocol::Server::new(
            config(),
            Box::new(sockio_protocol::fuzzing::TestEntropy(4242)),
            Instant::now(),
        );
        let mut c = Client::websocket(&mut h);
        c.connect(&mut h, "/", None);
        let _ = h.server.broadcast("/").emit(&Payload::json(r#"["x"]"#));
        h.drain();
        c.texts(&mut h).pop().unwrap()
    };
    assert_ne!(a, b);
}
