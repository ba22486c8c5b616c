//! Receiving messages: `message`, `json`, named events, several and typed arguments, async
//! handlers, and handler return values as acknowledgements.

use serde::Deserialize;
use sockio::{Context, SocketIo, SocketIoTestClient, Value};

#[derive(Deserialize)]
struct Point {
    x: f64,
    y: f64,
}

async fn distance(ctx: Context, p: Point) -> f64 {
    ctx.io().sleep(std::time::Duration::from_millis(1)).await;
    (p.x * p.x + p.y * p.y).sqrt()
}

fn app() -> SocketIo {
    let io = SocketIo::new();
    io.on("message", |_: Context, text: String| {
        println!("message: {text}")
    });
    io.on("json", |_: Context, value: Value| println!("json: {value}"));
    io.on(
        "move",
        |_: Context, x: i32, y: i32, label: Option<String>| {
            println!("move to {x},{y} {}", label.unwrap_or_default());
        },
    );
    io.on("distance", distance);
    io.on("add", |_: Context, a: i32, b: i32| a + b);
    io.on("*", |ctx: Context| {
        println!("unhandled {:?} {:?}", ctx.event(), ctx.args())
    });
    io
}

fn demo(io: &SocketIo) {
    let mut c = SocketIoTestClient::new(io);
    c.send("hello");
    c.emit("json", sockio::json!({"a": 1}));
    c.emit("move", (3, 4));
    c.emit("move", (5, 6, "home"));
    let d = c
        .emit_with_ack("/", "distance", sockio::json!({"x": 3.0, "y": 4.0}))
        .unwrap();
    println!("distance ack: {:?}", d.values());
    println!(
        "add ack: {:?}",
        c.emit_with_ack("/", "add", (1, 2)).unwrap().values()
    );
    c.emit("whatever", ("x", 1));
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
