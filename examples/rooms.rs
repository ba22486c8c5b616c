//! Rooms: join, leave, emit to a room, list rooms, close a room.

use sockio::{Context, SocketIo, SocketIoTestClient};

fn app() -> SocketIo {
    let io = SocketIo::new();
    io.on("join", |ctx: Context, room: String| {
        ctx.join_room(room.clone());
        ctx.to(room)
            .emit("status", format!("{} has entered the room", ctx.sid()))
    });
    io.on("leave", |ctx: Context, room: String| {
        ctx.leave_room(&room);
        ctx.to(room)
            .emit("status", format!("{} has left the room", ctx.sid()))
    });
    io.on("say", |ctx: Context, room: String, text: String| {
        ctx.to(room).emit("said", text)
    });
    io.on("my rooms", |ctx: Context| ctx.rooms());
    io.on("close", |ctx: Context, room: String| ctx.close_room(&room));
    io
}

fn demo(io: &SocketIo) {
    let mut a = SocketIoTestClient::new(io);
    let mut b = SocketIoTestClient::new(io);
    a.emit("join", "lobby");
    b.emit("join", "lobby");
    a.emit("say", ("lobby", "hi lobby"));
    println!(
        "a's rooms: {:?}",
        a.emit_with_ack("/", "my rooms", ()).unwrap().values()
    );
    println!("lobby: {:?}", io.room_members("lobby", "/"));
    b.emit("leave", "lobby");
    a.emit("close", "lobby");
    println!("lobby after close: {:?}", io.room_members("lobby", "/"));
    println!(
        "b received: {:?}",
        b.get_received("/")
            .iter()
            .map(|r| (&r.name, &r.args))
            .collect::<Vec<_>>()
    );
}

/// `cargo run --example NAME -- serve` serves on 127.0.0.1:5000; without it, the in-memory demo.
#[tokio::main]
async fn main() -> std::io::Result<()> {
    let io = app();
    if std::env::args().any(|a| a == "serve") {
        println!(
            "serving on http://127.0.0.1:5000 (async_mode {})",
            io.async_mode()
        );
        return io.run("127.0.0.1:5000").await;
    }
    demo(&io);
    Ok(())
}
