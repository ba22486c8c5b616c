//! The handlers of the contract, the same on every runtime. `conformance/README.md` lists
//! them; keep the two in step.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value};
use sockio::{
    AckError, Binary, ConnectError, Context, DisconnectReason, HandlerError, Json, NamespaceRef,
    SocketIo, SocketIoBuilder,
};

/// Engine.IO settings of the contract: pingInterval 300 ms, pingTimeout 200 ms, maxPayload
/// 1,000,000 bytes, any origin.
pub fn settings(builder: SocketIoBuilder) -> SocketIoBuilder {
    builder
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .max_payload(1_000_000)
        .cors_allowed_origins(["*"])
        .cors_credentials(true)
}

/// Plain Engine.IO: every message, text or binary, goes back to its sender unchanged.
pub fn engineio(io: SocketIo) -> SocketIo {
    io.on_engine_message(|io, sid, message| {
        let _ = io.send_engine_message(sid, message);
    });
    io
}

/// Socket.IO: namespaces `/` and `/custom` with the same handlers, and `/auth`.
pub fn socketio(io: SocketIo) -> SocketIo {
    common(&io.of("/"), true);
    common(&io.of("/custom"), true);
    io.of("/auth")
        .on_connect(|ctx: Context, auth: Option<Value>| {
            let token = auth.as_ref().and_then(|a| a.get("token")).cloned();
            if token.as_ref().and_then(Value::as_str) == Some("secret") {
                ctx.emit("auth", auth.unwrap_or_else(|| json!({})))?;
                return Ok(());
            }
            Err(ConnectError::new("not authorized").with_data(json!({
                "code": 401,
                "reason": "bad token",
                "token": token,
            })))
        });
    common(&io.of("/auth"), false);
    // A handler's error (or panic) becomes its acknowledgement, and the connection lives on.
    io.on_error_default(|ctx: Context, e: HandlerError| {
        Json(json!({
            "error": e.message(),
            "kind": format!("{:?}", e.kind()),
            "event": ctx.event(),
        }))
    });
    io
}

/// How many disconnects `disconnect-reasons` and `disconnects` remember (the latest ones).
const REASONS_KEPT: usize = 256;

/// `--hostile`: handlers the hostile-peer tests need, in `/`, next to the contract's.
///
/// | event | what the server does |
/// |---|---|
/// | `ignore` | nothing: its handler returns at once |
/// | `hang` | its async handler never finishes |
/// | `stats` | acknowledges with `io.stats()`: `{"sessions", "sockets", "transports", "pending_acks", "socket_tasks"}` |
/// | `disconnect-reasons` | acknowledges with the reasons of the last 256 disconnects from `/`, oldest first |
/// | `disconnects` | the same as `[sid, reason]` pairs |
pub fn hostile(io: &SocketIo) {
    let log = Arc::new(Mutex::new(VecDeque::<(String, String)>::new()));
    let ns = io.of("/");
    let seen = log.clone();
    ns.on_disconnect(move |ctx: Context, reason: DisconnectReason| {
        let mut r = seen.lock().unwrap_or_else(|p| p.into_inner());
        if r.len() == REASONS_KEPT {
            r.pop_front();
        }
        r.push_back((ctx.sid().to_string(), reason.to_string()));
    });
    let reasons = log.clone();
    ns.on("disconnect-reasons", move |_: Context| {
        let r = reasons.lock().unwrap_or_else(|p| p.into_inner());
        Json(
            r.iter()
                .map(|(_, reason)| reason.clone())
                .collect::<Vec<_>>(),
        )
    });
    ns.on("disconnects", move |_: Context| {
        let r = log.lock().unwrap_or_else(|p| p.into_inner());
        Json(r.iter().cloned().collect::<Vec<_>>())
    });
    ns.on("ignore", |_: Context| {});
    ns.on("hang", |_: Context| async {
        std::future::pending::<()>().await;
    });
    ns.on("stats", |ctx: Context| {
        let s = ctx.io().stats();
        Json(json!({
            "sessions": s.sessions,
            "sockets": s.sockets,
            "transports": s.transports,
            "pending_acks": s.pending_acks,
            "socket_tasks": s.socket_tasks,
        }))
    });
}

/// The handlers of every namespace; `greet` adds the connect handler that emits `auth`.
fn common(ns: &NamespaceRef<'_>, greet: bool) {
    if greet {
        ns.on_connect(|ctx: Context, auth: Option<Value>| {
            ctx.emit("auth", auth.unwrap_or_else(|| json!({})))
        });
    }
    ns.on("message", |ctx: Context| {
        ctx.emit("message-back", ctx.arguments().clone())
    });
    ns.on("message-with-ack", |ctx: Context| ctx.arguments().clone());
    ns.on("emit-with-ack", |ctx: Context| async move {
        let answer = ctx
            .call("emit-with-ack", ctx.arguments().clone())
            .await
            .map_err(|e| HandlerError::new(e.to_string()))?;
        if !ctx.wants_ack() {
            ctx.emit("emit-with-ack-result", answer.clone())?;
        }
        Ok::<_, HandlerError>(answer)
    });
    ns.on("ack-after", |ctx: Context, ms: u64| async move {
        ctx.io().sleep(Duration::from_millis(ms)).await;
        ctx.arguments().skip(1)
    });
    ns.on("emit-with-timeout", |ctx: Context, ms: u64| async move {
        let result = ctx
            .call_timeout("timeout-probe", (), Duration::from_millis(ms))
            .await;
        let report = match result {
            Ok(args) => json!({"status": "ok", "args": args.to_json()}),
            Err(AckError::Timeout) => json!({"status": "timeout"}),
            Err(e) => json!({"status": "error", "error": e.to_string()}),
        };
        ctx.emit("timeout-result", Json(report))
    });
    ns.on("whoami", |ctx: Context| {
        Json(json!({"sid": ctx.sid(), "namespace": ctx.namespace()}))
    });
    ns.on("join", |ctx: Context, room: String| {
        ctx.join_room(room);
        ctx.rooms()
    });
    ns.on("leave", |ctx: Context, room: String| {
        ctx.leave_room(&room);
        ctx.rooms()
    });
    ns.on("members", |ctx: Context, room: String| {
        ctx.io().room_members(&room, ctx.namespace())
    });
    ns.on("to-room", |ctx: Context, room: String| {
        ctx.to(room).emit("room-message", ctx.arguments().skip(1))
    });
    ns.on("broadcast", |ctx: Context| {
        ctx.broadcast()
            .emit("broadcast-message", ctx.arguments().clone())
    });
    ns.on("broadcast-others", |ctx: Context| {
        ctx.broadcast()
            .include_self(false)
            .emit("broadcast-message", ctx.arguments().clone())
    });
    ns.on("binary", |ctx: Context| {
        ctx.emit(
            "binary-back",
            (Binary::from(vec![0u8, 1, 2, 255]), Json(Nested::sample())),
        )
    });
    ns.on("fail", |_: Context| Err::<(), _>(HandlerError::new("boom")));
    ns.on("panic", |_: Context| -> Result<(), HandlerError> {
        panic!("kaboom")
    });
    ns.on("disconnect-me", |ctx: Context| ctx.disconnect());
}

/// Binary data nested in objects and arrays, as the `binary` event sends it.
#[derive(Serialize)]
struct Nested {
    name: &'static str,
    data: Binary,
    list: (Binary, &'static str, Deep),
}

#[derive(Serialize)]
struct Deep {
    deep: Binary,
}

impl Nested {
    fn sample() -> Self {
        Nested {
            name: "nested",
            data: Binary::from(vec![3u8, 4]),
            list: (
                Binary::from(vec![5u8]),
                "x",
                Deep {
                    deep: Binary::from(vec![6u8, 7, 8]),
                },
            ),
        }
    }
}
