//! A chat room application with a web page, served by one sockio server.
//!
//! Run it with `npm ci --prefix examples/chat && cargo run --example chat`, then open
//! <http://127.0.0.1:5000/> in two browser windows. The page uses the official
//! `socket.io-client` from npm (installed by the first command, not committed).
//!
//! Everything is in memory: no database, no message queue.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sockio::{Context, DisconnectReason, Fallback, HttpRequest, HttpResponse, Json, SocketIo};

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

/// The chat's handlers; the tests build the same server.
pub fn chat_server() -> SocketIo {
    let io = SocketIo::new();
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

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::var("CHAT_ADDR").unwrap_or_else(|_| "127.0.0.1:5000".into());
    let io = chat_server();
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!(
        "chat on http://{}/ (async_mode: {})",
        listener.local_addr()?,
        io.async_mode()
    );
    let fallback: Fallback = Arc::new(|req| Box::pin(std::future::ready(page(req))));
    io.serve_with_fallback(listener, Some(fallback), async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}
