//! Rooms: join, leave, close, list rooms and members, from handlers and from the server handle.

use std::time::Duration;

use serde_json::json;
use sockio::Context;

use crate::Rt;

pub fn rooms_join_leave_close(rt: &Rt) {
    let io = rt.io();
    io.on("join", |ctx: Context, room: String| {
        ctx.join_room(room.clone());
        ctx.to(room).emit("status", format!("{} joined", ctx.sid()))
    });
    io.on("leave", |ctx: Context, room: String| ctx.leave_room(&room));
    io.on("close", |ctx: Context, room: String| ctx.close_room(&room));
    io.on("rooms", |ctx: Context| ctx.rooms());
    let served = rt.serve(&io);
    let mut a = rt.client(&served);
    let mut b = rt.client(&served);
    let (sa, sb) = (a.sid("/"), b.sid("/"));

    assert_eq!(
        a.emit_ack("/", "rooms", json!([])),
        vec![json!([sa.clone()])]
    );
    a.emit("/", "join", json!(["red"]));
    assert_eq!(a.expect("/", "status"), vec![json!(format!("{sa} joined"))]);
    b.emit("/", "join", json!(["red"]));
    assert_eq!(a.expect("/", "status"), vec![json!(format!("{sb} joined"))]);
    assert_eq!(b.expect("/", "status"), vec![json!(format!("{sb} joined"))]);
    assert_eq!(
        a.emit_ack("/", "rooms", json!([])),
        vec![json!([sa.clone(), "red"])]
    );
    let mut members = io.room_members("red", "/");
    members.sort();
    let mut expected = vec![sa.clone(), sb.clone()];
    expected.sort();
    assert_eq!(members, expected);

    b.emit_ack("/", "leave", json!(["red"]));
    io.to("red").emit("only a", ()).unwrap();
    assert_eq!(a.event().name, "only a");
    b.no_event(Duration::from_millis(150));

    // The server handle puts clients in rooms and lists them.
    io.enter_room(&sb, "blue", "/");
    assert_eq!(io.rooms(&sb, "/"), vec![sb.clone(), "blue".to_string()]);
    io.to("blue").emit("blue news", ()).unwrap();
    assert_eq!(b.event().name, "blue news");
    io.leave_room(&sb, "blue", "/");
    assert_eq!(io.rooms(&sb, "/"), vec![sb.clone()]);

    // close_room empties a room, from a handler or from outside.
    b.emit_ack("/", "join", json!(["red"]));
    assert_eq!(a.event().name, "status");
    assert_eq!(b.event().name, "status");
    a.emit_ack("/", "close", json!(["red"]));
    assert!(io.room_members("red", "/").is_empty());
    io.to("red").emit("nobody", ()).unwrap();
    io.enter_room(&sa, "green", "/");
    io.close_room("green", "/");
    io.to("green").emit("nobody", ()).unwrap();
    a.no_event(Duration::from_millis(150));
    b.no_event(Duration::from_millis(1));

    // A client that leaves is in no room any more.
    b.emit_ack("/", "join", json!(["red"]));
    assert_eq!(b.event().name, "status");
    b.close();
    let end = std::time::Instant::now() + crate::STEP;
    while !io.room_members("red", "/").is_empty() && std::time::Instant::now() < end {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(io.room_members("red", "/").is_empty());
}
