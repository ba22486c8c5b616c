//! The socketioxide bench server: the handlers and settings every bench server shares
//! (`benches/load/src/server.rs`, `benches/load/node/server.js`), written as a socketioxide
//! user would, served by axum on a multi-threaded tokio runtime with one worker.
//!
//! ```text
//! sockio-load-socketioxide [--port 0]
//! ```
//!
//! Listens on 127.0.0.1 and prints one JSON line `{"listening": "127.0.0.1:PORT", ...}` once it
//! accepts connections. Runs until SIGTERM or SIGINT.
//!
//! - `echo` emits `echo` with the same argument back to the sender;
//! - `bcast` emits `bcast` with the same argument to everybody in `/`, the sender included;
//! - ping interval 25 s, ping timeout 20 s, 1 MB max payload (HTTP bodies and WebSocket
//!   messages), polling and WebSocket allowed. socketioxide negotiates no WebSocket extension
//!   (no permessage-deflate), as on the other servers.
//!
//! `Data<Value>` is the event's first argument (socketioxide's untyped extractor); the
//! generator's events carry exactly one.

use std::io;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::{json, Value};
use socketioxide::extract::{Data, SocketRef};
use socketioxide::{SocketIo, TransportType};
use tokio::signal::unix::{signal, SignalKind};

/// The same settings as every bench server (`sockio_load::PING_INTERVAL_MS` and friends).
const PING_INTERVAL: Duration = Duration::from_millis(25_000);
const PING_TIMEOUT: Duration = Duration::from_millis(20_000);
const MAX_PAYLOAD: usize = 1_000_000;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sockio-load-socketioxide: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let port = port_arg(std::env::args().skip(1))?;
    // One worker, whatever the CPUs: the other bench servers get one core through `taskset`.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(serve(port)).map_err(|e| e.to_string())
}

fn port_arg(mut args: impl Iterator<Item = String>) -> Result<u16, String> {
    let mut port = 0;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--port" => {
                let v = args.next().ok_or("--port needs a value")?;
                port = v.parse().map_err(|_| format!("bad port {v:?}"))?;
            }
            _ => return Err(format!("unknown argument {a:?} (usage: [--port N])")),
        }
    }
    Ok(port)
}

async fn serve(port: u16) -> io::Result<()> {
    let (layer, io) = SocketIo::builder()
        .ping_interval(PING_INTERVAL)
        .ping_timeout(PING_TIMEOUT)
        .max_payload(MAX_PAYLOAD as u64)
        .ws_max_message_size(MAX_PAYLOAD)
        .ws_max_frame_size(MAX_PAYLOAD)
        .transports([TransportType::Polling, TransportType::Websocket])
        .build_layer();
    io.ns("/", async |s: SocketRef| {
        s.on("echo", async |s: SocketRef, Data(arg): Data<Value>| {
            let _ = s.emit("echo", &arg);
        });
        s.on("bcast", async |io: SocketIo, Data(arg): Data<Value>| {
            let _ = io.emit("bcast", &arg).await;
        });
    });
    let app = axum::Router::new().layer(layer);

    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!(
        "{}",
        json!({
            "listening": listener.local_addr()?.to_string(),
            "pid": std::process::id(),
            "server": "socketioxide",
            "socketioxide": socketioxide_version(),
        })
    );
    tokio::select! {
        served = axum::serve(listener, app) => served,
        _ = term.recv() => Ok(()),
        _ = int.recv() => Ok(()),
    }
}

/// socketioxide's version, from the lock file this binary was built with.
fn socketioxide_version() -> &'static str {
    let lock = include_str!("../Cargo.lock");
    lock.split_once("name = \"socketioxide\"\nversion = \"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map_or("?", |(v, _)| v)
}
