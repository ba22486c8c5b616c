//! A chat room application with a web page, served by one sockio server.
//!
//! Run it with `npm ci --prefix examples/chat && cargo run --example chat`, then open
//! <http://127.0.0.1:5000/> in two browser windows. The page uses the official
//! `socket.io-client` from npm (installed by the first command, not committed).
//!
//! It serves on tokio. The same application runs on the other runtimes too, given their
//! features:
//!
//! ```text
//! cargo run --example chat --features async-std,threaded -- --runtime async-std
//! cargo run --example chat --features async-std,threaded -- --runtime smol
//! cargo run --example chat --features async-std,threaded -- --runtime threaded
//! ```
//!
//! `CHAT_ADDR` sets the address (default `127.0.0.1:5000`). Ctrl-C (or SIGTERM) stops it
//! gracefully. Everything is in memory: no database, no message queue.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sockio::{
    Context, DisconnectReason, Fallback, HttpRequest, HttpResponse, Json, SocketIo, SocketIoBuilder,
};

#[derive(Deserialize)]
struct Join {
    name: String,
    room: String,
}

#[derive(Serialize)]
struct Chat {
    name: String,
    text: String,
}

const PAGE: &str = include_str!("chat/index.html");
const CLIENT_JS: &str = "examples/chat/node_modules/socket.io-client/dist/socket.io.min.js";

fn page(req: HttpRequest) -> HttpResponse {
    let (status, ctype, body) = match req.path.as_str() {
        "/" | "/index.html" => (200, "text/html; charset=utf-8", PAGE.as_bytes().to_vec()),
        "/socket.io.min.js" => match std::fs::read(CLIENT_JS) {
            Ok(js) => (200, "application/javascript", js),
            Err(_) => (
                500,
                "text/plain",
                b"socket.io-client is missing: run `npm ci --prefix examples/chat`".to_vec(),
            ),
        },
        _ => (404, "text/plain", b"not found".to_vec()),
    };
    HttpResponse {
        status,
        headers: vec![("Content-Type", ctype.to_string())],
        body: body.into(),
    }
}

/// The chat's handlers on the server `builder` makes; the tests build the same server.
pub fn chat_server(builder: SocketIoBuilder) -> SocketIo {
    let io = builder.build();
    io.on_connect(|ctx: Context| {
        ctx.emit("status", "welcome! pick a name and a room")
            .unwrap();
    });
    io.on("join", |ctx: Context, join: Join| {
        if let Some(old) = ctx.session_get::<String>("room") {
            ctx.leave_room(&old);
            let _ = ctx.to(old).emit("status", format!("{} left", join.name));
        }
        ctx.session_set("name", &join.name).unwrap();
        ctx.session_set("room", &join.room).unwrap();
        ctx.join_room(join.room.clone());
        ctx.to(join.room.clone())
            .emit("status", format!("{} joined {}", join.name, join.room))
            .unwrap();
        // the acknowledgement: how many are in the room now
        ctx.io().room_members(&join.room, "/").len()
    });
    io.on("chat", |ctx: Context, text: String| {
        let name = ctx
            .session_get::<String>("name")
            .unwrap_or_else(|| "anonymous".into());
        match ctx.session_get::<String>("room") {
            Some(room) => ctx.to(room).emit("chat", Json(Chat { name, text })),
            None => ctx.emit("status", "join a room first"),
        }
    });
    io.on_disconnect(|ctx: Context, reason: DisconnectReason| {
        if let (Some(name), Some(room)) = (
            ctx.session_get::<String>("name"),
            ctx.session_get::<String>("room"),
        ) {
            let _ = ctx
                .to(room)
                .emit("status", format!("{name} left ({reason})"));
        }
    });
    io
}

const USAGE: &str = "usage: chat [--runtime tokio|async-std|smol|threaded]";

fn main() -> std::io::Result<()> {
    let addr = std::env::var("CHAT_ADDR").unwrap_or_else(|_| "127.0.0.1:5000".into());
    let mut args = std::env::args().skip(1);
    let mut runtime = String::from("tokio");
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--runtime", Some(name)) => runtime = name,
            _ => {
                eprintln!("{USAGE}");
                std::process::exit(2);
            }
        }
    }
    // Bound by std on every runtime, so that the address is taken (or refused) the same way.
    let listener = std::net::TcpListener::bind(&addr)?;
    match runtime.as_str() {
        "tokio" => on_tokio(listener),
        #[cfg(feature = "async-std")]
        "async-std" => async_std::task::block_on(on_async_io(listener, "async-std")),
        #[cfg(feature = "async-std")]
        "smol" => smol::block_on(on_async_io(listener, "smol")),
        #[cfg(feature = "threaded")]
        "threaded" => on_threads(listener),
        // Reached for the runtimes whose feature is off.
        #[allow(unreachable_patterns)]
        "async-std" | "smol" | "threaded" => {
            eprintln!(
                "the {runtime} runtime is not built in: run with `--features async-std,threaded`"
            );
            std::process::exit(3);
        }
        _ => {
            eprintln!("unknown runtime {runtime:?}\n{USAGE}");
            std::process::exit(2);
        }
    }
}

fn fallback() -> Fallback {
    Arc::new(|req| Box::pin(std::future::ready(page(req))))
}

fn announce(io: &SocketIo, addr: std::net::SocketAddr, runtime: &str) {
    println!(
        "chat on http://{addr}/ (runtime: {runtime}, async_mode: {})",
        io.async_mode()
    );
}

fn on_tokio(listener: std::net::TcpListener) -> std::io::Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let io = chat_server(SocketIo::builder().runtime(sockio::runtime::Tokio));
        listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let stopped = sockio::shutdown_signal()?;
        announce(&io, listener.local_addr()?, "tokio");
        io.serve_with_fallback(listener, Some(fallback()), stopped)
            .await
    })
}

/// Under async-std's or smol's `block_on`: the same serve call for both.
#[cfg(feature = "async-std")]
async fn on_async_io(listener: std::net::TcpListener, runtime: &str) -> std::io::Result<()> {
    let io = chat_server(SocketIo::builder().runtime(sockio::runtime::AsyncStd));
    let listener = sockio::AsyncTcpListener::try_from(listener)?;
    let stopped = sockio::shutdown_signal()?;
    announce(&io, listener.local_addr()?, runtime);
    io.serve_async_std_with_fallback(listener, Some(fallback()), stopped)
        .await
}

#[cfg(feature = "threaded")]
fn on_threads(listener: std::net::TcpListener) -> std::io::Result<()> {
    let io = chat_server(SocketIo::builder().runtime(sockio::runtime::Threaded));
    let shutdown = sockio::ShutdownHandle::new();
    let stopped = sockio::shutdown_signal()?;
    let handle = shutdown.clone();
    std::thread::spawn(move || {
        async_io::block_on(stopped);
        handle.shutdown();
    });
    announce(&io, listener.local_addr()?, "threaded");
    io.serve_blocking(listener, Some(fallback()), shutdown)
}
