//! Connection state recovery through the in-memory test client: after a dropped connection
//! the client gets its sid, rooms and session back, the connect handler knows it recovered,
//! and the events sent meanwhile arrive first, in order, once.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use sockio::{Context, DisconnectReason, SocketIo, SocketIoTestClient};

fn server() -> (SocketIo, Arc<Mutex<Vec<String>>>) {
    let io = SocketIo::builder()
        .connection_state_recovery(Duration::from_secs(60))
        .build();
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    io.on_connect(move |ctx: Context| {
        l.lock()
            .unwrap()
            .push(format!("connect recovered={}", ctx.recovered()));
        if !ctx.recovered() {
            ctx.join_room("red");
            ctx.session_set("user", "ada")?;
        }
        ctx.emit("welcome", ctx.recovered())?;
        Ok::<_, sockio::EmitError>(())
    });
    let l = log.clone();
    io.on_disconnect(move |_ctx: Context, reason: DisconnectReason| {
        l.lock().unwrap().push(format!("disconnect {reason}"));
    });
    io.on("whoami", |ctx: Context| {
        json!({
            "sid": ctx.sid(),
            "rooms": ctx.rooms(),
            "user": ctx.session_get::<String>("user"),
        })
    });
    (io, log)
}

fn names(c: &mut SocketIoTestClient) -> Vec<(String, Vec<serde_json::Value>)> {
    c.get_received("/")
        .into_iter()
        .map(|r| (r.name, r.args))
        .collect()
}

#[test]
fn a_dropped_connection_recovers_its_socket_and_missed_events() {
    let (io, log) = server();
    let mut c = SocketIoTestClient::new(&io);
    let sid = c.sid("/").unwrap().to_string();
    assert!(!c.recovered("/"));
    assert_eq!(
        names(&mut c),
        [("welcome".into(), vec![json!(false)])],
        "no offset in args"
    );

    c.drop_connection();
    io.emit("news", 1).unwrap();
    io.to("red").emit("red", json!({"n": 2})).unwrap();
    io.to("blue").emit("blue", 3).unwrap();
    io.to(sid.as_str()).emit("direct", 4).unwrap();

    assert!(c.reconnect());
    assert!(c.recovered("/"));
    assert_eq!(c.sid("/"), Some(sid.as_str()));
    assert_eq!(
        names(&mut c),
        [
            ("news".into(), vec![json!(1)]),
            ("red".into(), vec![json!({"n": 2})]),
            ("direct".into(), vec![json!(4)]),
            ("welcome".into(), vec![json!(true)]),
        ]
    );
    let me = c.emit_with_ack("/", "whoami", ()).unwrap();
    assert_eq!(
        me.values(),
        [json!({"sid": sid, "rooms": [sid, "red"], "user": "ada"})]
    );
    assert_eq!(
        *log.lock().unwrap(),
        [
            "connect recovered=false",
            "disconnect transport close",
            "connect recovered=true",
        ]
    );

    // And again: the offset of the last event it got is where it resumes.
    c.drop_connection();
    io.emit("later", ()).unwrap();
    assert!(c.reconnect());
    assert!(c.recovered("/"));
    assert_eq!(
        names(&mut c),
        [
            ("later".into(), vec![]),
            ("welcome".into(), vec![json!(true)])
        ]
    );
}

#[test]
fn every_namespace_recovers() {
    let io = SocketIo::builder().with_connection_state_recovery().build();
    io.of("/chat")
        .on_connect(|ctx: Context| ctx.join_room("lobby"));
    let mut c = SocketIoTestClient::new(&io);
    assert!(c.connect("/chat", None));
    let (root, chat) = (
        c.sid("/").unwrap().to_string(),
        c.sid("/chat").unwrap().to_string(),
    );
    c.drop_connection();
    io.of("/chat").to("lobby").emit("lobby", "hi").unwrap();
    assert!(c.reconnect());
    assert!(c.recovered("/") && c.recovered("/chat"));
    assert_eq!(c.sid("/"), Some(root.as_str()));
    assert_eq!(c.sid("/chat"), Some(chat.as_str()));
    let got: Vec<_> = c
        .get_received("/chat")
        .into_iter()
        .map(|r| r.args)
        .collect();
    assert_eq!(got, [vec![json!("hi")]]);
    assert_eq!(io.rooms(&chat, "/chat"), [chat.clone(), "lobby".into()]);
}
