//! Connection events: connect and disconnect handlers, the reason of a disconnect, and
//! disconnecting a client from a handler or from outside.

use sockio::{Context, DisconnectReason, SocketIo, SocketIoTestClient};

fn app() -> SocketIo {
    let io = SocketIo::new();
    io.on_connect(|ctx: Context| {
        println!(
            "{} connected from {:?}",
            ctx.sid(),
            ctx.request().peer_addr()
        );
        ctx.emit("welcome", ())
    });
    io.on_disconnect(|ctx: Context, reason: DisconnectReason| {
        println!("{} disconnected: {reason}", ctx.sid())
    });
    io.on("bye", |ctx: Context| ctx.disconnect());
    io
}

fn demo(io: &SocketIo) {
    let mut a = SocketIoTestClient::new(io);
    a.emit("bye", ());
    let b = SocketIoTestClient::new(io);
    io.disconnect(b.sid("/").unwrap(), "/");
    let mut c = SocketIoTestClient::new(io);
    c.disconnect("/");
    println!("connected now: {}", io.connected_count());
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
