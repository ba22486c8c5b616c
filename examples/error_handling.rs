//! Error handling: a namespace's error handler, the default one, and what they can see.

use sockio::{Context, HandlerError, SocketIo, SocketIoTestClient};

fn app() -> SocketIo {
    let io = SocketIo::new();
    io.on(
        "divide",
        |_: Context, a: i64, b: i64| -> Result<i64, HandlerError> {
            a.checked_div(b)
                .ok_or_else(|| HandlerError::new("division by zero"))
        },
    );
    io.on_error(|ctx: Context, e: HandlerError| {
        println!(
            "error in {:?} with {:?}: {e} ({:?})",
            ctx.event(),
            ctx.args(),
            e.kind()
        );
        "an error happened"
    });
    io.of("/admin")
        .on("explode", |_: Context| -> Result<(), HandlerError> {
            Err(HandlerError::new("kaboom"))
        });
    io.on_error_default(|ctx: Context, e: HandlerError| {
        println!("default handler, {}: {e}", ctx.namespace())
    });
    io
}

fn demo(io: &SocketIo) {
    let mut c = SocketIoTestClient::new(io);
    println!(
        "10/2 -> {:?}",
        c.emit_with_ack("/", "divide", (10, 2)).unwrap().values()
    );
    println!(
        "1/0 -> {:?}",
        c.emit_with_ack("/", "divide", (1, 0)).unwrap().values()
    );
    println!(
        "bad args -> {:?}",
        c.emit_with_ack("/", "divide", ("x", "y")).unwrap().values()
    );
    let mut admin = io.test_client().namespace("/admin").connect(io);
    admin.emit_to("/admin", "explode", ());
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
