//! Authentication: the connect handler reads the client's `auth` payload and refuses with a
//! message and data the client sees in `connect_error`.

use serde::Deserialize;
use sockio::{json, ConnectError, Context, SocketIo};

#[derive(Deserialize)]
struct Auth {
    token: String,
}

fn app() -> SocketIo {
    let io = SocketIo::new();
    io.on_connect(|ctx: Context, auth: Option<Auth>| match auth {
        Some(a) if a.token == "secret" => {
            ctx.session_set("user", "ada")?;
            Ok(())
        }
        Some(_) => Err(ConnectError::new("invalid token").with_data(json!({"retry": false}))),
        None => Err(ConnectError::new("missing token")),
    });
    io.on("whoami", |ctx: Context| ctx.session_get::<String>("user"));
    io
}

fn demo(io: &SocketIo) {
    let mut ok = io
        .test_client()
        .auth(json!({"token": "secret"}))
        .connect(io);
    println!(
        "with token: connected={} whoami={:?}",
        ok.is_connected("/"),
        ok.emit_with_ack("/", "whoami", ()).unwrap().values()
    );
    let bad = io.test_client().auth(json!({"token": "guess"})).connect(io);
    println!("bad token: {:?}", bad.connect_error("/"));
    let none = io.test_client().connect(io);
    println!("no token: {:?}", none.connect_error("/"));
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
