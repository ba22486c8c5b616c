//! Broadcasting: to everyone, to everyone but the sender, skipping a sid, and from outside
//! any handler.

use sockio::{Context, SocketIo, SocketIoTestClient};

fn app() -> SocketIo {
    let io = SocketIo::new();
    io.on("shout", |ctx: Context, msg: String| {
        ctx.broadcast().emit("shouted", msg)
    });
    io.on("whisper", |ctx: Context, msg: String| {
        ctx.broadcast().include_self(false).emit("whispered", msg)
    });
    io
}

fn demo(io: &SocketIo) {
    let mut a = SocketIoTestClient::new(io);
    let mut b = SocketIoTestClient::new(io);
    a.emit("shout", "hello everyone");
    a.emit("whisper", "psst");
    io.emit("server news", "from the server").unwrap();
    io.to_all("/")
        .skip_sid(a.sid("/").unwrap().to_string())
        .emit("not for a", ())
        .unwrap();
    for (name, c) in [("a", &mut a), ("b", &mut b)] {
        let got: Vec<String> = c.get_received("/").into_iter().map(|r| r.name).collect();
        println!("{name} received {got:?}");
    }
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
