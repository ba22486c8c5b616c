//! Emitting from an external process (Flask-SocketIO's "Emitting from an External Process"):
//! a plain `fn main`, no async runtime, no server, only the message queue, as a cron job
//! would. It reaches the clients of every server sharing the queue and channel, sockio or
//! python-socketio alike.
//!
//! ```sh
//! cargo run --features redis --example emit_only -- --message-queue redis://127.0.0.1:6379 \
//!     --event news --data '{"headline": "hello"}' --to lobby
//! ```
//!
//! Options: `--message-queue URL` (required), `--channel` (default `flask-socketio`),
//! `--event` (default `message`), `--data JSON` (one argument, repeatable), `--bytes HEX` (a
//! binary argument, repeatable), `--to ROOM` (repeatable), `--skip-sid SID`, `--namespace`,
//! `--close-room ROOM`, `--enter-room SID ROOM`, `--leave-room SID ROOM`, `--disconnect SID`.

use std::process::ExitCode;

use sockio::{ArgsError, ArgsWriter, Binary, EmitError, IntoArgs, SocketIo, Value};

#[derive(Default)]
struct Plan {
    url: Option<String>,
    channel: Option<String>,
    event: Option<String>,
    args: Vec<Arg>,
    to: Vec<String>,
    skip: Vec<String>,
    namespace: Option<String>,
    rooms: Vec<(&'static str, String, String)>,
    close: Vec<String>,
    disconnect: Vec<String>,
}

enum Arg {
    Json(Value),
    Bytes(Vec<u8>),
}

fn hex(s: &str) -> Result<Vec<u8>, String> {
    if s.len() % 2 != 0 {
        return Err(format!("odd hex length: {s}"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|e| format!("{s}: {e}")))
        .collect()
}

fn plan() -> Result<Plan, String> {
    let mut p = Plan::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--message-queue" => p.url = Some(value()?),
            "--channel" => p.channel = Some(value()?),
            "--event" => p.event = Some(value()?),
            "--data" => {
                let v = value()?;
                p.args.push(Arg::Json(
                    serde_json::from_str(&v).map_err(|e| format!("--data {v}: {e}"))?,
                ));
            }
            "--bytes" => p.args.push(Arg::Bytes(hex(&value()?)?)),
            "--to" => p.to.push(value()?),
            "--skip-sid" => p.skip.push(value()?),
            "--namespace" => p.namespace = Some(value()?),
            "--close-room" => p.close.push(value()?),
            "--disconnect" => p.disconnect.push(value()?),
            "--enter-room" | "--leave-room" => {
                let (sid, room) = (value()?, value()?);
                let op = if flag == "--enter-room" {
                    "enter"
                } else {
                    "leave"
                };
                p.rooms.push((op, sid, room));
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(p)
}

fn run(p: Plan) -> Result<(), String> {
    let url = p.url.ok_or("--message-queue URL is required")?;
    let mut b = SocketIo::builder().message_queue_url(url);
    if let Some(c) = &p.channel {
        b = b.channel(c);
    }
    // Each operation waits until the broker has it, and says so if it does not.
    let io = b
        .write_only_blocking()
        .try_build()
        .map_err(|e| e.to_string())?;
    let ns = p.namespace.unwrap_or_else(|| "/".into());
    for (op, sid, room) in &p.rooms {
        match *op {
            "enter" => io.enter_room(sid, room, &ns),
            _ => io.leave_room(sid, room, &ns),
        }
    }
    if p.event.is_some() || !p.args.is_empty() {
        let mut e = io.to_all(&ns);
        for r in p.to {
            e = e.to(r);
        }
        for s in p.skip {
            e = e.skip_sid(s);
        }
        let event = p.event.unwrap_or_else(|| "message".into());
        let r: Result<(), EmitError> = e.emit(&event, Args(p.args));
        r.map_err(|e| e.to_string())?;
    }
    for room in p.close {
        io.close_room(&room, &ns);
    }
    for sid in p.disconnect {
        io.disconnect(&sid, &ns);
    }
    io.flush(std::time::Duration::from_secs(5))
        .map_err(|e| e.to_string())
}

/// The arguments: JSON values, and byte strings that go out as binary attachments.
struct Args(Vec<Arg>);

impl IntoArgs for Args {
    fn write_args(self, w: &mut ArgsWriter) -> Result<(), ArgsError> {
        for a in self.0 {
            match a {
                Arg::Json(v) => w.arg(&v)?,
                Arg::Bytes(b) => w.arg(&Binary::from(b))?,
            }
        }
        Ok(())
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_writer(std::io::stderr)
        .init();
    match plan().and_then(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("emit_only: {e}");
            ExitCode::FAILURE
        }
    }
}
