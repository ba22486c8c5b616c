//! Connection state recovery: a client whose transport dropped reconnects with its pid and
//! last offset and gets its sid, its rooms and every event it missed, in order, once.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{event_args, sio, Client, Harness, Mode};
use serde_json::{json, Value};
use sockio_protocol::http::Frame;
use sockio_protocol::socketio::PacketKind;
use sockio_protocol::{Config, Event, Input, Payload, RecoveryConfig, SocketId};

fn config() -> Config {
    Config::default().connection_state_recovery(Some(RecoveryConfig::default()))
}

fn client(h: &mut Harness, mode: Mode) -> Client {
    match mode {
        Mode::Polling => Client::polling(h),
        Mode::WebSocket => Client::websocket(h),
    }
}

/// A connected client: its socket, sid and pid (from the CONNECT reply).
fn connected(h: &mut Harness, mode: Mode, nsp: &str) -> (Client, SocketId, String, String) {
    let mut c = client(h, mode);
    let id = c.connect(h, nsp, None);
    let texts = c.texts(h);
    let reply = sio(&texts[0]);
    assert_eq!(reply.kind, PacketKind::Connect);
    let data = reply.value().unwrap();
    let sid = data["sid"].as_str().unwrap().to_string();
    let pid = data["pid"]
        .as_str()
        .expect("a pid with recovery on")
        .to_string();
    assert_eq!(data.as_object().unwrap().len(), 2, "{data}");
    assert_eq!(h.server.socket_info(id).unwrap().sid.as_str(), sid);
    (c, id, sid, pid)
}

/// The transport goes away under the client (no close packet, no namespace disconnect).
fn drop_transport(h: &mut Harness, c: &mut Client) {
    match c.mode {
        Mode::WebSocket => {
            let t = c.ws.unwrap();
            h.input(Input::TransportClosed {
                now: h.now,
                transport: t,
            });
        }
        // A polling client that stops polling is noticed by the heartbeat.
        Mode::Polling => h.advance(Duration::from_millis(25_000 + 20_000 + 1)),
    }
    assert_eq!(h.server.session_count(), 0, "the session is gone");
}

fn broadcast(h: &mut Harness, to: Option<&str>, json: &str) {
    let mut b = h.server.broadcast("/");
    if let Some(r) = to {
        b = b.to(r);
    }
    let _ = b.emit(&Payload::json(json.to_string()));
    h.drain();
}

/// The offset an event carries (its last argument).
fn offset(text: &str) -> String {
    let args = event_args(text);
    args.last()
        .and_then(Value::as_str)
        .expect("an offset")
        .to_string()
}

/// The events as received, without their offsets.
fn without_offsets(texts: &[String]) -> Vec<Value> {
    texts
        .iter()
        .map(|t| {
            let mut a = event_args(t);
            assert!(a.pop().is_some_and(|o| o.is_string()), "offset in {t}");
            Value::Array(a)
        })
        .collect()
}

fn recovered_connect(h: &mut Harness) -> (SocketId, bool) {
    h.events
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::Connect {
                socket, recovered, ..
            } => Some((*socket, *recovered)),
            _ => None,
        })
        .unwrap()
}

fn recover_over(from: Mode, to: Mode) {
    let mut h = Harness::new(config());
    let (mut c, id, sid, pid) = connected(&mut h, from, "/");
    h.server.socket(id).unwrap().join("red");
    h.drain();
    broadcast(&mut h, None, r#"["seen",1]"#);
    let seen = c.texts(&mut h);
    assert_eq!(seen.len(), 1);
    let last = offset(&seen[0]);

    drop_transport(&mut h, &mut c);
    broadcast(&mut h, None, r#"["all",2]"#);
    broadcast(&mut h, Some("red"), r#"["red",3]"#);
    broadcast(&mut h, Some("blue"), r#"["blue",4]"#);
    broadcast(&mut h, Some(&sid), r#"["to-me",5]"#);
    assert_eq!(h.server.recovery_stats().unwrap().sockets, 1);

    let mut c2 = client(&mut h, to);
    let auth = json!({"pid": pid, "offset": last}).to_string();
    let id2 = c2.connect(&mut h, "/", Some(&auth));
    let (connect_id, recovered) = recovered_connect(&mut h);
    assert_eq!((connect_id, recovered), (id2, true));
    let info = h.server.socket_info(id2).unwrap();
    assert_eq!(info.sid.as_str(), sid, "same sid");
    let rooms: Vec<&str> = info.rooms.iter().map(|r| r.as_str()).collect();
    assert_eq!(rooms, [sid.as_str(), "red"], "same rooms");
    assert!(info.connected);

    let texts = c2.texts(&mut h);
    assert_eq!(texts[0], format!(r#"0{{"sid":"{sid}","pid":"{pid}"}}"#));
    assert_eq!(
        without_offsets(&texts[1..]),
        vec![json!(["all", 2]), json!(["red", 3]), json!(["to-me", 5])]
    );
    // Live traffic follows, to the restored rooms too.
    broadcast(&mut h, Some("red"), r#"["live",6]"#);
    let live = c2.texts(&mut h);
    assert_eq!(without_offsets(&live), vec![json!(["live", 6])]);
    assert_eq!(h.server.recovery_stats().unwrap().sockets, 0);
}

#[test]
fn websocket_client_gets_what_it_missed() {
    recover_over(Mode::WebSocket, Mode::WebSocket);
}

#[test]
fn polling_client_gets_what_it_missed() {
    recover_over(Mode::Polling, Mode::Polling);
}

#[test]
fn reconnection_on_another_transport() {
    recover_over(Mode::Polling, Mode::WebSocket);
    recover_over(Mode::WebSocket, Mode::Polling);
}

#[test]
fn recovery_survives_an_upgrade_before_the_drop() {
    let mut h = Harness::new(config());
    let (mut c, _, sid, pid) = connected(&mut h, Mode::Polling, "/");
    c.upgrade(&mut h);
    broadcast(&mut h, None, r#"["a"]"#);
    let last = offset(&c.texts(&mut h)[0]);
    drop_transport(&mut h, &mut c);
    broadcast(&mut h, None, r#"["b"]"#);
    let mut c2 = Client::polling(&mut h);
    let auth = json!({"pid": pid, "offset": last}).to_string();
    c2.connect(&mut h, "/", Some(&auth));
    let texts = c2.texts(&mut h);
    assert!(texts[0].contains(&sid));
    assert_eq!(without_offsets(&texts[1..]), vec![json!(["b"])]);
}

#[test]
fn binary_events_come_back_with_their_attachments() {
    let mut h = Harness::new(config());
    let (mut c, _, _, pid) = connected(&mut h, Mode::WebSocket, "/");
    broadcast(&mut h, None, r#"["seen"]"#);
    let last = offset(&c.texts(&mut h)[0]);
    drop_transport(&mut h, &mut c);
    let payload = Payload {
        json: Bytes::from_static(br#"["file",{"_placeholder":true,"num":0},"x"]"#),
        attachments: [Bytes::from_static(&[1, 2, 3])].into_iter().collect(),
    };
    let r = h.server.broadcast("/").emit(&payload);
    assert_eq!(r.delivered, 0, "nobody connected");
    h.drain();

    let mut c2 = Client::websocket(&mut h);
    let auth = json!({"pid": pid, "offset": last}).to_string();
    c2.connect(&mut h, "/", Some(&auth));
    let frames = c2.frames(&mut h);
    assert_eq!(frames.len(), 3, "{frames:?}");
    let Frame::Text(header) = &frames[1] else {
        panic!("header first")
    };
    let header = std::str::from_utf8(header).unwrap();
    assert!(header.starts_with("51-["), "{header}");
    let args = event_args(header);
    assert_eq!(
        args[..3],
        [
            json!("file"),
            json!({"_placeholder": true, "num": 0}),
            json!("x")
        ]
    );
    assert!(
        args[3].is_string(),
        "the offset comes after the placeholders"
    );
    assert_eq!(frames[2], Frame::Binary(Bytes::from_static(&[1, 2, 3])));
}

#[test]
fn without_an_offset_everything_since_the_connection_is_replayed() {
    let mut h = Harness::new(config());
    let (mut c, _, sid, pid) = connected(&mut h, Mode::WebSocket, "/");
    drop_transport(&mut h, &mut c);
    broadcast(&mut h, None, r#"["missed"]"#);
    let mut c2 = Client::websocket(&mut h);
    // socket.io-client leaves the offset out when it never handled an event with one
    let auth = json!({"pid": pid}).to_string();
    let id = c2.connect(&mut h, "/", Some(&auth));
    assert_eq!(recovered_connect(&mut h), (id, true));
    let texts = c2.texts(&mut h);
    assert!(texts[0].contains(&sid));
    assert_eq!(without_offsets(&texts[1..]), vec![json!(["missed"])]);
}

#[test]
fn a_recovered_socket_recovers_again() {
    let mut h = Harness::new(config());
    let (mut c, _, sid, pid) = connected(&mut h, Mode::WebSocket, "/");
    let mut last = None::<String>;
    for round in 0..3 {
        broadcast(&mut h, None, &format!(r#"["r",{round}]"#));
        drop_transport(&mut h, &mut c);
        broadcast(&mut h, None, &format!(r#"["m",{round}]"#));
        c = Client::websocket(&mut h);
        let auth = match &last {
            Some(o) => json!({"pid": pid, "offset": o}),
            None => json!({"pid": pid}),
        };
        let id = c.connect(&mut h, "/", Some(&auth.to_string()));
        assert_eq!(recovered_connect(&mut h), (id, true), "round {round}");
        let texts = c.texts(&mut h);
        assert_eq!(texts[0], format!(r#"0{{"sid":"{sid}","pid":"{pid}"}}"#));
        // the broadcast before the drop never arrived either (the drop came first)
        let got = without_offsets(&texts[1..]);
        assert_eq!(got, vec![json!(["r", round]), json!(["m", round])]);
        last = Some(offset(texts.last().unwrap()));
    }
}

#[test]
fn events_sent_while_the_recovered_socket_waits_are_replayed_once() {
    let mut h = Harness::new(config());
    let (mut c, _, _, pid) = connected(&mut h, Mode::WebSocket, "/");
    broadcast(&mut h, None, r#"["seen"]"#);
    let last = offset(&c.texts(&mut h)[0]);
    drop_transport(&mut h, &mut c);
    broadcast(&mut h, None, r#"["before"]"#);

    h.auto_accept = false;
    let mut c2 = Client::websocket(&mut h);
    let auth = json!({"pid": pid, "offset": last}).to_string();
    let id = c2.connect(&mut h, "/", Some(&auth));
    assert_eq!(recovered_connect(&mut h), (id, true));
    // while the application decides: a broadcast, then an emit to the socket itself
    broadcast(&mut h, None, r#"["while"]"#);
    let mut s = h.server.socket(id).unwrap();
    s.emit(Payload::json(r#"["welcome"]"#)).unwrap();
    h.drain();
    assert!(c2.texts(&mut h).is_empty(), "nothing before the decision");
    h.server.socket(id).unwrap().accept();
    h.drain();
    let texts = c2.texts(&mut h);
    assert!(sio(&texts[0]).kind == PacketKind::Connect);
    assert_eq!(
        without_offsets(&texts[1..]),
        vec![json!(["before"]), json!(["while"]), json!(["welcome"])]
    );
}

#[test]
fn each_namespace_recovers_on_its_own() {
    let mut h = Harness::new(config());
    let mut c = Client::websocket(&mut h);
    c.connect(&mut h, "/", None);
    c.connect(&mut h, "/chat", None);
    let texts = c.texts(&mut h);
    let pids: Vec<String> = texts
        .iter()
        .map(|t| sio(t).value().unwrap()["pid"].as_str().unwrap().to_string())
        .collect();
    assert_ne!(pids[0], pids[1]);
    drop_transport(&mut h, &mut c);
    let _ = h
        .server
        .broadcast("/chat")
        .emit(&Payload::json(r#"["chat"]"#));
    h.drain();
    let mut c2 = Client::websocket(&mut h);
    // the pid of / means nothing in /chat
    let auth = json!({"pid": pids[0]}).to_string();
    let id = c2.connect(&mut h, "/chat", Some(&auth));
    assert_eq!(recovered_connect(&mut h), (id, false));
    let auth = json!({"pid": pids[1]}).to_string();
    let mut c3 = Client::websocket(&mut h);
    let id = c3.connect(&mut h, "/chat", Some(&auth));
    assert_eq!(recovered_connect(&mut h), (id, true));
    let texts = c3.texts(&mut h);
    assert_eq!(texts.len(), 2);
    assert!(texts[0].starts_with("0/chat,"));
    assert!(texts[1].starts_with(r#"2/chat,["chat","#), "{}", texts[1]);
}

#[test]
fn application_data_is_kept_with_the_socket() {
    let mut h = Harness::new(config());
    let (mut c, _, sid, pid) = connected(&mut h, Mode::WebSocket, "/");
    drop_transport(&mut h, &mut c);
    h.server
        .keep_recovery_data("/", &sid, Box::new(String::from("session")))
        .unwrap();
    assert!(
        h.server
            .keep_recovery_data("/", "AAAAAAAAAAAAAAAAAAAA", Box::new(1))
            .is_err(),
        "nothing kept for an unknown sid"
    );
    h.auto_accept = false;
    let mut c2 = Client::websocket(&mut h);
    let id = c2.connect(&mut h, "/", Some(&json!({"pid": pid}).to_string()));
    let data = h.server.take_recovery_data(id).expect("data of the socket");
    assert_eq!(data.downcast_ref::<String>().unwrap(), "session");
    assert!(h.server.take_recovery_data(id).is_none(), "taken once");
    h.server.socket(id).unwrap().accept();
    h.drain();
    assert!(c2.texts(&mut h)[0].contains(&sid));
}

#[test]
fn an_offset_from_an_earlier_socket_replays_only_what_this_one_missed() {
    // One kept socket at most, so that a second drop evicts the first.
    let recovery = RecoveryConfig::default().max_sessions(1);
    let mut h = Harness::new(Config::default().connection_state_recovery(Some(recovery)));
    let (mut c, _, _, pid1) = connected(&mut h, Mode::WebSocket, "/");
    broadcast(&mut h, None, r#"["x"]"#);
    let stale = offset(&c.texts(&mut h)[0]);
    drop_transport(&mut h, &mut c);
    let (mut other, _, _, _) = connected(&mut h, Mode::WebSocket, "/");
    drop_transport(&mut h, &mut other);
    broadcast(&mut h, None, r#"["w"]"#);
    // pid1 was evicted: a new socket, and socket.io-client keeps its stale offset
    let mut c2 = Client::websocket(&mut h);
    let auth = json!({"pid": pid1, "offset": stale}).to_string();
    let id = c2.connect(&mut h, "/", Some(&auth));
    assert_eq!(recovered_connect(&mut h), (id, false));
    let texts = c2.texts(&mut h);
    let pid2 = sio(&texts[0]).value().unwrap()["pid"]
        .as_str()
        .unwrap()
        .to_string();
    drop_transport(&mut h, &mut c2);
    broadcast(&mut h, None, r#"["z"]"#);
    let mut c3 = Client::websocket(&mut h);
    let auth = json!({"pid": pid2, "offset": stale}).to_string();
    let id = c3.connect(&mut h, "/", Some(&auth));
    assert_eq!(recovered_connect(&mut h), (id, true));
    let texts = c3.texts(&mut h);
    assert_eq!(
        without_offsets(&texts[1..]),
        vec![json!(["z"])],
        "not x nor w"
    );
}
