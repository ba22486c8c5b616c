//! The application: what the example does with the core's events. These are the conformance
//! contract's handlers (conformance/README.md, "The test server contract"), written straight on
//! the core's commands: [`Server::socket`] (accept, reject, emit, ack, join, leave,
//! disconnect) and [`Server::broadcast`].
//!
//! Everything here runs while the driver drains [`Server::poll_output`] (commands made from
//! inside the drain are fine), except [`App::fire_timers`], after which the driver drains.
//!
//! Arguments are relayed as the JSON text the client sent ([`RawJson`] element ranges), never
//! parsed into a tree and printed again: binary placeholders keep their numbers, and strings
//! with lone UTF-16 surrogates (`"\ud83d"`, legal JSON no Rust `String` can hold) arrive
//! unchanged at the other end.

use std::collections::{BTreeMap, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use sockio_protocol::serde_json::{json, Value};
use sockio_protocol::socketio::binary::Attachments;
use sockio_protocol::socketio::json::from_str_lossy;
use sockio_protocol::socketio::{placeholder, RawJson};
use sockio_protocol::{
    AckId, Bytes, DisconnectReason, EmitError, Event, Payload, Server, SocketId, SocketMut,
};

/// How long the server waits for the client's answer to `emit-with-ack` (sockio's default).
const FORWARD_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest wait `ack-after` and `emit-with-timeout` may ask for.
const MAX_WAIT: Duration = Duration::from_secs(60);
/// Most delayed acknowledgements (`ack-after`) waiting at once, all clients together.
const MAX_DELAYED: usize = 10_000;

/// The application's state: the acknowledgements it waits for and the ones it delays.
#[derive(Debug, Default)]
pub struct App {
    /// What the server's own emits with an acknowledgement were for.
    asked: HashMap<SocketId, HashMap<AckId, Asked>>,
    /// `ack-after`: acknowledgements due later, by due time.
    delayed: BTreeMap<(Instant, u64), Delayed>,
    seq: u64,
}

/// Why the server asked a client for an acknowledgement.
#[derive(Debug)]
enum Asked {
    /// `emit-with-ack`: the answer goes back as the acknowledgement of the client's event
    /// (its ack id), or as an `emit-with-ack-result` event when it asked for none.
    Forward(Option<u64>),
    /// `emit-with-timeout`: the answer, or its absence, is reported as `timeout-result`.
    Probe,
}

#[derive(Debug)]
struct Delayed {
    socket: SocketId,
    ack: u64,
    payload: Payload,
}

/// What a handler answers when the client asked for an acknowledgement.
enum Reply {
    /// These arguments.
    Ack(Payload),
    /// No arguments (the handler returns nothing).
    Empty,
    /// Not now: the acknowledgement is sent later (forwarded, delayed).
    Later,
}

impl App {
    /// One event from the core, while the driver drains it.
    pub fn on_event(&mut self, server: &mut Server, event: Event, now: Instant) {
        match event {
            // Plain Engine.IO (`Config::engineio_only`): echo it. A session whose queue is full
            // does not read: it is closed.
            Event::EngineMessage { session, frame } => {
                if let Err(_unsent) = server.send_message(session, frame) {
                    server.close_session_for(session, DisconnectReason::SlowConsumer);
                }
            }
            Event::Connect {
                socket,
                namespace,
                auth,
                ..
            } => self.on_connect(server, socket, &namespace, auth),
            Event::Message {
                socket,
                data,
                attachments,
                ack,
            } => self.on_message(server, socket, &data, attachments, ack, now),
            Event::Ack {
                socket,
                ack,
                data,
                attachments,
            } => self.on_ack(server, socket, ack, data, attachments),
            Event::AckTimeout { socket, ack } => self.on_ack_timeout(server, socket, ack),
            Event::Disconnect { socket, .. } => {
                self.asked.remove(&socket);
            }
            _ => {}
        }
    }

    /// When the next delayed acknowledgement is due.
    pub fn next_timer(&self) -> Option<Instant> {
        self.delayed.keys().next().map(|(at, _)| *at)
    }

    /// Sends the delayed acknowledgements that are due. The driver drains the core after.
    pub fn fire_timers(&mut self, server: &mut Server, now: Instant) {
        while let Some(entry) = self.delayed.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let d = entry.remove();
            // A socket that left meanwhile is gone: `send` does nothing.
            send(server, d.socket, |s| s.ack(d.ack, d.payload));
        }
    }

    fn on_connect(
        &mut self,
        server: &mut Server,
        socket: SocketId,
        namespace: &str,
        auth: Option<Value>,
    ) {
        let Some(s) = server.socket(socket) else {
            return;
        };
        match namespace {
            "/" | "/custom" => {}
            "/auth" => {
                let token = auth.as_ref().and_then(|a| a.get("token")).cloned();
                if token.as_ref().and_then(Value::as_str) != Some("secret") {
                    let data = json!({"code": 401, "reason": "bad token", "token": token});
                    s.reject("not authorized", Some(&data));
                    return;
                }
            }
            _ => {
                s.reject("Invalid namespace", None);
                return;
            }
        }
        s.accept();
        let greeting = json!(["auth", auth.unwrap_or_else(|| json!({}))]);
        send(server, socket, |s| {
            s.emit(Payload::json(greeting.to_string()))
        });
    }

    fn on_message(
        &mut self,
        server: &mut Server,
        socket: SocketId,
        data: &RawJson,
        attachments: Attachments,
        ack: Option<u64>,
        now: Instant,
    ) {
        let Some(args) = Args::new(data) else { return };
        let Some(name) = args.str(0) else { return };
        let call = Call {
            socket,
            name: &name,
            args,
            ack,
        };
        // A handler's error, or its panic, becomes its acknowledgement; the connection lives
        // on. (This needs unwinding: with `panic = "abort"` drop the `panic` case.)
        let run = AssertUnwindSafe(|| self.handle(server, &call, attachments, now));
        let error = match catch_unwind(run) {
            Ok(Ok(reply)) => {
                if let Some(id) = ack {
                    match reply {
                        Reply::Ack(payload) => send(server, socket, |s| s.ack(id, payload)),
                        Reply::Empty => send(server, socket, |s| s.ack(id, Payload::json("[]"))),
                        Reply::Later => {}
                    }
                }
                return;
            }
            Ok(Err(message)) => json!({"error": message, "kind": "Handler", "event": name}),
            Err(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                json!({"error": message, "kind": "Panic", "event": name})
            }
        };
        match ack {
            Some(id) => {
                let payload = Payload::json(json!([error]).to_string());
                send(server, socket, |s| s.ack(id, payload));
            }
            None => eprintln!("handler failed: {error}"),
        }
    }

    /// The contract's handlers: one event, `args[0]` being its name.
    fn handle(
        &mut self,
        server: &mut Server,
        call: &Call<'_>,
        attachments: Attachments,
        now: Instant,
    ) -> Result<Reply, String> {
        let Call {
            socket,
            name,
            ref args,
            ack,
        } = *call;
        let namespace = match server.socket_info(socket) {
            Some(info) => info.namespace.to_string(),
            None => return Ok(Reply::Later), // gone meanwhile
        };
        match name {
            "message" => {
                let back = args.event("message-back", 1, attachments);
                send(server, socket, |s| s.emit(back));
            }
            "message-with-ack" => return Ok(Reply::Ack(args.list(1, attachments))),
            "emit-with-ack" => {
                let ask = args.event("emit-with-ack", 1, attachments);
                let deadline = Some(now + FORWARD_TIMEOUT);
                let asked = server
                    .socket(socket)
                    .map(|mut s| s.emit_with_ack(ask, deadline));
                if let Some(Ok(id)) = asked {
                    let answer = Asked::Forward(ack);
                    self.asked.entry(socket).or_default().insert(id, answer);
                }
                return Ok(Reply::Later);
            }
            "ack-after" => {
                let ms = args
                    .u64(1)
                    .ok_or("ack-after: a number of milliseconds first")?;
                let Some(id) = ack else {
                    return Ok(Reply::Later);
                };
                if self.delayed.len() >= MAX_DELAYED {
                    return Err("too many delayed acknowledgements".into());
                }
                let at = now + Duration::from_millis(ms).min(MAX_WAIT);
                self.seq += 1;
                let payload = args.list(2, attachments);
                self.delayed.insert(
                    (at, self.seq),
                    Delayed {
                        socket,
                        ack: id,
                        payload,
                    },
                );
                return Ok(Reply::Later);
            }
            "emit-with-timeout" => {
                let ms = args
                    .u64(1)
                    .ok_or("emit-with-timeout: a number of milliseconds")?;
                let deadline = Some(now + Duration::from_millis(ms).min(MAX_WAIT));
                let probe = Payload::json(r#"["timeout-probe"]"#);
                let asked = server
                    .socket(socket)
                    .map(|mut s| s.emit_with_ack(probe, deadline));
                match asked {
                    Some(Ok(id)) => {
                        self.asked
                            .entry(socket)
                            .or_default()
                            .insert(id, Asked::Probe);
                    }
                    Some(Err(e)) => return Err(e.to_string()),
                    None => {}
                }
            }
            "whoami" => {
                let sid = server.socket_info(socket).map(|i| i.sid.to_string());
                let me = json!([{"sid": sid, "namespace": namespace}]);
                return Ok(Reply::Ack(Payload::json(me.to_string())));
            }
            "join" | "leave" => {
                let room = args.str(1).ok_or("a room name")?;
                let Some(mut s) = server.socket(socket) else {
                    return Ok(Reply::Later);
                };
                if name == "join" {
                    s.try_join(room).map_err(|e| e.to_string())?;
                } else {
                    s.leave(&room);
                }
                let rooms: Vec<&str> = s.rooms().iter().map(|r| r.as_str()).collect();
                return Ok(Reply::Ack(Payload::json(json!([rooms]).to_string())));
            }
            "members" => {
                let room = args.str(1).ok_or("a room name")?;
                let sids: Vec<String> = server
                    .room_members(&namespace, &room)
                    .into_iter()
                    .filter_map(|id| server.socket_info(id).map(|i| i.sid.to_string()))
                    .collect();
                return Ok(Reply::Ack(Payload::json(json!([sids]).to_string())));
            }
            "to-room" => {
                let room = args.str(1).ok_or("a room name")?;
                let payload = args.event("room-message", 2, attachments);
                let _ = server.broadcast(&namespace).to(room).emit(&payload);
            }
            "broadcast" => {
                let payload = args.event("broadcast-message", 1, attachments);
                let _ = server.broadcast(&namespace).emit(&payload);
            }
            "broadcast-others" => {
                let payload = args.event("broadcast-message", 1, attachments);
                let _ = server.broadcast(&namespace).skip(socket).emit(&payload);
            }
            "binary" => send(server, socket, |s| s.emit(binary_sample())),
            "fail" => return Err("boom".into()),
            "panic" => panic!("kaboom"),
            "disconnect-me" => {
                if let Some(s) = server.socket(socket) {
                    s.disconnect();
                }
                return Ok(Reply::Later);
            }
            _ => return Ok(Reply::Later), // no handler: no answer
        }
        Ok(Reply::Empty)
    }

    fn on_ack(
        &mut self,
        server: &mut Server,
        socket: SocketId,
        ack: AckId,
        data: RawJson,
        attachments: Attachments,
    ) {
        let Some(asked) = self.asked.get_mut(&socket).and_then(|m| m.remove(&ack)) else {
            return;
        };
        let payload = match asked {
            Asked::Forward(Some(id)) => {
                let answer = Payload {
                    json: data.into_bytes(),
                    attachments,
                };
                return send(server, socket, |s| s.ack(id, answer));
            }
            Asked::Forward(None) => match Args::new(&data) {
                Some(args) => args.event("emit-with-ack-result", 0, attachments),
                None => return,
            },
            Asked::Probe => Payload {
                json: format!(r#"["timeout-result",{{"status":"ok","args":{data}}}]"#).into(),
                attachments,
            },
        };
        send(server, socket, |s| s.emit(payload));
    }

    fn on_ack_timeout(&mut self, server: &mut Server, socket: SocketId, ack: AckId) {
        let Some(asked) = self.asked.get_mut(&socket).and_then(|m| m.remove(&ack)) else {
            return;
        };
        match asked {
            Asked::Forward(Some(id)) => {
                let error = json!([{"error": "acknowledgement timed out", "kind": "Handler",
                                    "event": "emit-with-ack"}]);
                send(server, socket, |s| {
                    s.ack(id, Payload::json(error.to_string()))
                });
            }
            Asked::Forward(None) => {}
            Asked::Probe => {
                let result = json!(["timeout-result", {"status": "timeout"}]);
                send(server, socket, |s| {
                    s.emit(Payload::json(result.to_string()))
                });
            }
        }
    }
}

/// Runs one command on a socket, if it still exists. A client whose queue is full does not
/// read: its session is closed (the core's slow-consumer reason), rather than buffering more.
fn send(
    server: &mut Server,
    socket: SocketId,
    command: impl FnOnce(&mut SocketMut<'_>) -> Result<(), EmitError>,
) {
    let Some(mut s) = server.socket(socket) else {
        return;
    };
    let session = s.session();
    match command(&mut s) {
        Ok(()) => {}
        Err(EmitError::QueueFull(_)) => {
            server.close_session_for(session, DisconnectReason::SlowConsumer)
        }
        Err(e) => eprintln!("emit refused: {e}"),
    }
}

/// One event from a client.
struct Call<'a> {
    socket: SocketId,
    name: &'a str,
    /// `[name, args...]`.
    args: Args<'a>,
    /// The id of the acknowledgement the client waits for, if any.
    ack: Option<u64>,
}

/// An event's arguments, as the text the client sent: `["name", arg1, arg2, ...]`.
struct Args<'a> {
    text: &'a str,
    /// Where each element is in `text`.
    items: Vec<(usize, usize)>,
}

impl<'a> Args<'a> {
    /// `None` unless `data` is an array (the core checked it is one).
    fn new(data: &'a RawJson) -> Option<Self> {
        let items = data.element_ranges()?;
        let items = items
            .iter()
            .map(|&(s, e)| (s as usize, e as usize))
            .collect();
        Some(Args {
            text: data.as_str(),
            items,
        })
    }

    fn value(&self, i: usize) -> Option<Value> {
        let &(start, end) = self.items.get(i)?;
        from_str_lossy(self.text.get(start..end)?).ok()
    }

    fn str(&self, i: usize) -> Option<String> {
        self.value(i)?.as_str().map(str::to_owned)
    }

    fn u64(&self, i: usize) -> Option<u64> {
        self.value(i)?.as_u64()
    }

    /// The elements from `i` on, as they arrived (comma-separated JSON text; empty if none).
    fn rest(&self, i: usize) -> &'a str {
        match (self.items.get(i), self.items.last()) {
            (Some(&(start, _)), Some(&(_, end))) => self.text.get(start..end).unwrap_or(""),
            _ => "",
        }
    }

    /// The event `name` with the elements from `i` on as its arguments.
    fn event(&self, name: &str, i: usize, attachments: Attachments) -> Payload {
        let rest = self.rest(i);
        let comma = if rest.is_empty() { "" } else { "," };
        let json = format!("[{}{comma}{rest}]", Value::from(name));
        Payload {
            json: json.into(),
            attachments,
        }
    }

    /// The elements from `i` on, as an acknowledgement's arguments.
    fn list(&self, i: usize, attachments: Attachments) -> Payload {
        Payload {
            json: format!("[{}]", self.rest(i)).into(),
            attachments,
        }
    }
}

/// `binary`: binary arguments the server builds, one alone and three nested.
fn binary_sample() -> Payload {
    let json = json!(["binary-back", placeholder(0), {
        "name": "nested",
        "data": placeholder(1),
        "list": [placeholder(2), "x", {"deep": placeholder(3)}],
    }]);
    let parts: [&[u8]; 4] = [&[0, 1, 2, 255], &[3, 4], &[5], &[6, 7, 8]];
    Payload {
        json: json.to_string().into(),
        attachments: parts.into_iter().map(Bytes::copy_from_slice).collect(),
    }
}
