//! Sending: to the sender, to everybody, broadcast without the sender, to a room, to a sid,
//! skip_sid, another namespace, and context-free emits from another thread.

use sockio::{Context, SocketIo, SocketIoTestClient};

fn names(c: &mut SocketIoTestClient, ns: &str) -> Vec<String> {
    c.get_received(ns)
        .into_iter()
        .map(|r| format!("{}:{}", r.name, serde_json::to_string(&r.args).unwrap()))
        .collect()
}

#[test]
fn emit_and_send_reach_the_sender_only() {
    let io = SocketIo::new();
    io.on("hi", |ctx: Context| {
        ctx.emit("reply", ("a", 1)).unwrap();
        ctx.send("text").unwrap();
    });
    let mut a = SocketIoTestClient::new(&io);
    let mut b = SocketIoTestClient::new(&io);
    a.emit("hi", ());
    assert_eq!(
        names(&mut a, "/"),
        vec!["reply:[\"a\",1]", "message:[\"text\"]"]
    );
    assert!(names(&mut b, "/").is_empty());
}

#[test]
fn broadcast_with_and_without_the_sender() {
    let io = SocketIo::new();
    io.on("all", |ctx: Context| ctx.broadcast().emit("x", 1).unwrap());
    io.on("others", |ctx: Context| {
        ctx.broadcast().include_self(false).emit("y", 2).unwrap()
    });
    let mut a = SocketIoTestClient::new(&io);
    let mut b = SocketIoTestClient::new(&io);
    a.emit("all", ());
    a.emit("others", ());
    assert_eq!(names(&mut a, "/"), vec!["x:[1]"]);
    assert_eq!(names(&mut b, "/"), vec!["x:[1]", "y:[2]"]);
}

#[test]
fn rooms_sids_skip_and_namespaces() {
    let io = SocketIo::new();
    io.of("/chat").on("noop", |_: Context| {});
    io.on("join", |ctx: Context, room: String| ctx.join_room(room));
    let mut a = SocketIoTestClient::new(&io);
    let mut b = SocketIoTestClient::new(&io);
    let mut c = io.test_client().namespace("/chat").connect(&io);
    a.emit("join", "red");
    b.emit("join", "red");
    let sid_a = a.sid("/").unwrap().to_string();
    io.to("red").emit("room", ()).unwrap();
    io.to("red")
        .skip_sid(sid_a.clone())
        .emit("skipped", ())
        .unwrap();
    io.to(sid_a.clone()).emit("direct", ()).unwrap();
    io.to_all("/chat").emit("chat", "hey").unwrap();
    io.emit("everyone", ()).unwrap();
    assert_eq!(
        names(&mut a, "/"),
        vec!["room:[]", "direct:[]", "everyone:[]"]
    );
    assert_eq!(
        names(&mut b, "/"),
        vec!["room:[]", "skipped:[]", "everyone:[]"]
    );
    assert_eq!(names(&mut c, "/chat"), vec!["chat:[\"hey\"]"]);
}

#[test]
fn emits_from_another_thread() {
    let io = SocketIo::new();
    let mut a = SocketIoTestClient::new(&io);
    let io2 = io.clone();
    std::thread::spawn(move || {
        for i in 0..3 {
            io2.emit("tick", i).unwrap();
        }
    })
    .join()
    .unwrap();
    assert_eq!(names(&mut a, "/"), vec!["tick:[0]", "tick:[1]", "tick:[2]"]);
}

/// The same client in another namespace has another sid: `to(ctx.sid()).namespace(..)` names
/// an empty room there, `in_namespace` finds its socket through its Engine.IO session.
#[test]
fn the_same_client_in_another_namespace() {
    let io = SocketIo::new();
    io.of("/chat").on_connect(|_: Context| ());
    io.on("to chat", |ctx: Context| {
        assert_ne!(ctx.sid_in("/chat").as_deref(), Some(ctx.sid()));
        ctx.to(ctx.sid().to_string())
            .namespace("/chat")
            .emit("by sid room", ())?;
        ctx.in_namespace("/chat")?.emit("hello", "from /")
    });
    io.on("to nowhere", |ctx: Context| {
        assert_eq!(ctx.sid_in("/other"), None);
        matches!(
            ctx.in_namespace("/other"),
            Err(sockio::EmitError::NoSuchClient)
        )
    });
    let mut c = sockio::SocketIoTestClient::new(&io);
    let mut other = sockio::SocketIoTestClient::new(&io);
    assert!(c.connect("/chat", None));
    assert!(other.connect("/chat", None));
    c.emit("to chat", ());
    let got = c.get_received("/chat");
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].name, "hello");
    assert_eq!(got[0].args, vec![sockio::json!("from /")]);
    assert!(other.get_received("/chat").is_empty());
    let ack = c.emit_with_ack("/", "to nowhere", ()).unwrap();
    assert!(ack.get::<bool>(0).unwrap());
}
