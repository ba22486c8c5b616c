//! One process of a scaled-out deployment (Flask-SocketIO's "Using Multiple Workers"): run
//! several behind a load balancer with sticky sessions, all sharing a message queue.
//!
//! ```sh
//! cargo run --features redis --example cluster -- --port 5001 --name one \
//!     --message-queue redis://127.0.0.1:6379
//! ```
//!
//! Options: `--host` (default 127.0.0.1), `--port` (default 5000), `--name` (reported to
//! clients, default the port), `--message-queue URL` (default: none, one process),
//! `--channel` (default `flask-socketio`). `deploy/` has the nginx configuration and the
//! deployment test that runs three of these.
//!
//! Events: `whoami` (ack: the process name and the client's sid), `join` / `leave` a room,
//! `broadcast` (to everybody: `news`), `to room` (`room news` to one room's members),
//! `to sid` (`private` to one client, wherever it is), `ask` (emits `question` to a sid
//! with a callback, on whichever process it is, and acknowledges with the answer).

use std::time::Duration;

use sockio::{Context, SocketIo, Value};

struct Options {
    host: String,
    port: u16,
    name: Option<String>,
    queue: Option<String>,
    channel: Option<String>,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        host: "127.0.0.1".into(),
        port: 5000,
        name: None,
        queue: None,
        channel: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--host" => o.host = value()?,
            "--port" => o.port = value()?.parse().map_err(|e| format!("--port: {e}"))?,
            "--name" => o.name = Some(value()?),
            "--message-queue" => o.queue = Some(value()?),
            "--channel" => o.channel = Some(value()?),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(o)
}

fn app(o: &Options) -> Result<SocketIo, sockio::queue::QueueError> {
    let mut b = SocketIo::builder().cors_allowed_origins(["*"]);
    if let Some(url) = &o.queue {
        b = b.message_queue_url(url);
    }
    if let Some(channel) = &o.channel {
        b = b.channel(channel);
    }
    let io = b.try_build()?;
    let name = o.name.clone().unwrap_or_else(|| o.port.to_string());
    io.on(
        "whoami",
        move |ctx: Context| serde_json::json!({"process": name, "sid": ctx.sid()}),
    );
    io.on("join", |ctx: Context, room: String| ctx.join_room(room));
    io.on("leave", |ctx: Context, room: String| ctx.leave_room(&room));
    io.on("broadcast", |ctx: Context, data: Value| {
        ctx.broadcast().emit("news", data)
    });
    io.on("to room", |ctx: Context, room: String, data: Value| {
        ctx.to(room).emit("room news", data)
    });
    io.on("to sid", |ctx: Context, sid: String, data: Value| {
        ctx.to(sid).emit("private", data)
    });
    io.on("ask", |ctx: Context, sid: String| async move {
        ctx.io()
            .to(sid)
            .timeout(Duration::from_secs(10))
            .call("question", "ready?")
            .await
            .map(|answer| answer.values().to_vec())
            .map_err(|e| sockio::HandlerError::new(e.to_string()))
    });
    Ok(io)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .init();
    let o = options().map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let io = app(&o).map_err(std::io::Error::other)?;
    if let Some(q) = &o.queue {
        if !io.message_queue().wait_connected(Duration::from_secs(30)) {
            tracing::warn!(queue = %q, "serving before the message queue is connected");
        }
    }
    let addr = format!("{}:{}", o.host, o.port);
    println!("listening on {addr}");
    io.run(&addr).await
}
