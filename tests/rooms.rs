//! Rooms: join, leave, close, rooms() with the sid's own room, cleanup on disconnect.

use sockio::{Context, SocketIo, SocketIoTestClient};

#[test]
fn join_leave_close_and_rooms() {
    let io = SocketIo::new();
    io.on("join", |ctx: Context, room: String| ctx.join_room(room));
    io.on("leave", |ctx: Context, room: String| ctx.leave_room(&room));
    io.on("close", |ctx: Context, room: String| ctx.close_room(&room));
    io.on("rooms", |ctx: Context| ctx.rooms());
    let mut a = SocketIoTestClient::new(&io);
    let mut b = SocketIoTestClient::new(&io);
    let sid = a.sid("/").unwrap().to_string();
    a.emit("join", "r1");
    a.emit("join", "r2");
    b.emit("join", "r1");
    let rooms: Vec<String> = a.emit_with_ack("/", "rooms", ()).unwrap().get(0).unwrap();
    assert_eq!(rooms, vec![sid.clone(), "r1".into(), "r2".into()]);
    a.emit("leave", "r2");
    assert_eq!(io.rooms(&sid, "/"), vec![sid.clone(), "r1".to_string()]);
    let mut members = io.room_members("r1", "/");
    members.sort();
    let mut expected = vec![sid.clone(), b.sid("/").unwrap().to_string()];
    expected.sort();
    assert_eq!(members, expected);
    b.emit("close", "r1");
    assert!(io.room_members("r1", "/").is_empty());
    assert_eq!(io.rooms(&sid, "/"), vec![sid.clone()]);
    // rooms are left on disconnect
    a.emit("join", "r3");
    a.disconnect("/");
    assert!(io.room_members("r3", "/").is_empty());
}

#[test]
fn server_side_room_management_by_sid() {
    let io = SocketIo::new();
    let mut a = SocketIoTestClient::new(&io);
    let sid = a.sid("/").unwrap().to_string();
    io.enter_room(&sid, "vip", "/");
    io.to("vip").emit("hello", ()).unwrap();
    io.leave_room(&sid, "vip", "/");
    io.to("vip").emit("gone", ()).unwrap();
    let got: Vec<String> = a.get_received("/").into_iter().map(|r| r.name).collect();
    assert_eq!(got, vec!["hello"]);
}
