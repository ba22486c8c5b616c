//! Sending messages: `send` and `emit` to the sender, several arguments, structs, another
//! namespace, and a server-side callback for the client's acknowledgement.

use serde::Serialize;
use sockio::{Context, Json, SocketIo, SocketIoTestClient, Value};

#[derive(Serialize)]
struct Status {
    ok: bool,
    count: usize,
}

fn app() -> SocketIo {
    let io = SocketIo::new();
    io.of("/news").on("noop", |_: Context| {});
    io.on("my event", |ctx: Context, data: Value| {
        ctx.send("got it")?;
        ctx.emit("my response", data)?;
        ctx.emit("two args", ("a", 1))?;
        ctx.emit("a struct", Json(Status { ok: true, count: 2 }))?;
        ctx.io()
            .to_all("/news")
            .emit("news", "someone sent an event")?;
        ctx.emit_with_ack("question", "ready?", |answer| {
            println!("client answered {answer:?}")
        })
    });
    io
}

fn demo(io: &SocketIo) {
    let mut c = SocketIoTestClient::new(io);
    let mut news = io.test_client().namespace("/news").connect(io);
    c.emit("my event", sockio::json!({"data": 42}));
    for r in c.get_received("/") {
        println!("client got {} {:?}", r.name, r.args);
        if let Some(id) = r.ack {
            c.ack("/", id, "yes");
        }
    }
    for r in news.get_received("/news") {
        println!("/news client got {} {:?}", r.name, r.args);
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
