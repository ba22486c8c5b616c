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
