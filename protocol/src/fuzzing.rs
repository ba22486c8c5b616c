//! Whole-server operation sequences for fuzzing (and the tests that replay them).
//!
//! [`run`] feeds a [`Scenario`] (a server setup, then requests, WebSocket traffic, time and
//! application commands) to a [`Server`] with monotonic time, draining outputs after each step
//! with a bounded loop, and then shuts the server down. It panics only when an invariant breaks:
//!
//! - a drain that never ends, or a deadline in the past;
//! - an HTTP request answered twice, or a response for something that is not an HTTP request;
//! - a frame for something that is not an open WebSocket, or after its close;
//! - an event for a socket after its `Disconnect`, or for a session after its `SessionClosed`;
//! - the server's own indexes disagreeing with each other (checked after every drain);
//! - after the final shutdown: a session or socket left, an HTTP request never answered, or a
//!   WebSocket never closed.
//!
//! It returns [`Stats`]: which outputs the run reached, to judge how deep a corpus goes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::Value;

use crate::http::{Frame, HttpRequest, Method};
use crate::socketio::binary::Attachments;
use crate::{
    Config, Cookie, Cors, Entropy, Event, Input, Output, Payload, RecoveryConfig, Server,
    SessionHandle, SlowConsumer, SocketId, Transmit, TransportHandle,
};

/// A deterministic [`Entropy`] for tests and fuzzing (xorshift; not for production).
#[derive(Debug, Clone)]
pub struct TestEntropy(pub u64);

impl Entropy for TestEntropy {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            *b = self.0 as u8;
        }
    }
}

/// A whole-server fuzz input: how the server is set up, then what happens to it.
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Scenario {
    /// The configuration knobs.
    pub setup: Setup,
    /// The steps.
    pub ops: Vec<Op>,
}

/// Configuration knobs of a fuzzed server (timeouts are always short: ping interval 300 ms,
/// ping timeout 200 ms, upgrade 500 ms, connect 1 s; max payload and attachment bytes 1024).
#[derive(Debug, Clone, Copy, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Setup {
    /// Slow consumers lose the packet instead of being disconnected.
    pub drop_slow: bool,
    /// Outbound queue cap: `4 + n % 64` packets and `64 * (4 + n % 64)` bytes. Bit 7 turns
    /// connection state recovery on (window 2 s; 6 events, 256 bytes and 3 sockets kept per
    /// namespace), and then `$pid` and `$offset` in the text of a message are replaced by a
    /// pid and an offset the server keeps (see [`Op::PostText`]).
    pub queue: u8,
    /// Polling handshakes set a session cookie.
    pub cookie: bool,
    /// Any CORS origin is allowed (otherwise same origin only).
    pub cors_any: bool,
}

/// One step of a fuzzed run. Numbers pick among the live things of their kind (modulo their
/// count); a session number with the high bit set picks among every session ever opened.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Op {
    /// A polling handshake.
    Handshake,
    /// A long-polling GET on session `n`.
    Get(u8),
    /// A POST of arbitrary bytes on session `n`.
    Post(u8, Vec<u8>),
    /// A POST on session `n` of one Engine.IO message (`4` + the text). With recovery on,
    /// `$pid` and `$offset` in the text (here and in [`Op::WsText`]) become one of the pids and
    /// offsets the server keeps, picked by the text's length, so that reconnections can name
    /// real state.
    PostText(u8, String),
    /// An HTTP request with an arbitrary query string (`Options` for a preflight), with an
    /// `Origin` header foreign to the `Host` when the flag is set.
    RawHttp(Method, bool, String),
    /// A WebSocket opening: a new session, or an upgrade of session `n`.
    WsOpen(Option<u8>),
    /// A text message on WebSocket `n`.
    WsText(u8, String),
    /// A binary message on WebSocket `n`.
    WsBinary(u8, Vec<u8>),
    /// Transport `n` (any handle given out so far) closed by the peer.
    Close(u8),
    /// Time passes, in milliseconds.
    Advance(u16),
    /// The application emits to socket `n`, asking for an ack if set, with `k % 3` attachments.
    Emit(u8, bool, u8),
    /// The application broadcasts.
    Broadcast(BroadcastOp),
    /// Socket `n` joins room `r` (see [`BroadcastOp`] for room names).
    Join(u8, u8),
    /// Socket `n` leaves room `r`.
    Leave(u8, u8),
    /// Room `r` of `/` is closed.
    CloseRoom(u8),
    /// Pending socket `n` is accepted (or rejected).
    Decide(u8, bool),
    /// Socket `n` is disconnected by the server.
    Disconnect(u8),
    /// Session `n` is closed by the server.
    CloseSession(u8),
    /// The server shuts down (new sessions are refused afterwards).
    Shutdown,
    /// The driver reports WebSocket `n` blocked (its write buffer full), or writable again.
    WsBackpressure(u8, bool),
}

/// A broadcast. Rooms: `r % 5 < 4` names room `r<r % 5>`; otherwise the own room (sid) of live
/// socket `r / 5`.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct BroadcastOp {
    /// To `/admin` instead of `/`.
    pub admin: bool,
    /// Only this room.
    pub to: Option<u8>,
    /// Not this room.
    pub except: Option<u8>,
    /// Not this live socket.
    pub skip: Option<u8>,
    /// May be dropped for busy recipients.
    pub volatile: bool,
    /// With one binary attachment.
    pub binary: bool,
}

/// Which outputs and outcomes a run (or a corpus of runs) reached, with counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats(BTreeMap<&'static str, u64>);

impl Stats {
    fn hit(&mut self, what: &'static str) {
        *self.0.entry(what).or_default() += 1;
    }

    /// Adds the counts of `other`.
    pub fn merge(&mut self, other: &Stats) {
        for (k, v) in &other.0 {
            *self.0.entry(k).or_default() += v;
        }
    }

    /// How often `what` happened.
    pub fn count(&self, what: &str) -> u64 {
        self.0.get(what).copied().unwrap_or(0)
    }

    /// Every outcome reached, with its count.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.0.iter().map(|(k, v)| (*k, *v))
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, v) in &self.0 {
            writeln!(f, "{v:>10}  {k}")?;
        }
        Ok(())
    }
}

/// Every outcome [`run`] can record, so a report can list the ones a corpus never reached.
pub const OUTCOMES: &[&str] = &[
    "http: handshake (polling)",
    "http: error response",
    "http: preflight",
    "http: parked GET answered with data",
    "http: parked GET released with noop",
    "http: parked GET answered with close",
    "http: POST accepted",
    "http: polling body with base64 binary",
    "ws: handshake (websocket)",
    "ws: probe answered",
    "ws: upgrade completed",
    "ws: closed by server",
    "ws: binary frame sent",
    "ws: blocked",
    "event: connect",
    "event: connect with auth",
    "event: connect recovered",
    "app: recovery data kept",
    "app: recovery data restored",
    "app: connection accepted",
    "app: connection rejected",
    "app: connection left pending",
    "event: message",
    "event: message with attachments",
    "event: message asking for an ack",
    "event: ack",
    "event: ack with attachments",
    "event: ack timeout",
    "app: emit queued",
    "app: emit refused (queue full)",
    "app: emit refused (too many acks)",
    "app: broadcast delivered",
    "app: broadcast dropped",
    "app: broadcast disconnected a slow consumer",
    "disconnect: transport close",
    "disconnect: transport error",
    "disconnect: ping timeout",
    "disconnect: parse error",
    "disconnect: server shutting down",
    "disconnect: client namespace disconnect",
    "disconnect: server namespace disconnect",
    "disconnect: forced close",
    "disconnect: connect timeout",
    "disconnect: slow consumer",
    "disconnect: too many events",
    "session closed: transport close",
    "session closed: transport error",
    "session closed: ping timeout",
    "session closed: parse error",
    "session closed: server shutting down",
    "session closed: forced close",
    "session closed: connect timeout",
    "session closed: slow consumer",
    "session closed: too many events",
];

fn disconnect_outcome(reason: crate::DisconnectReason, session: bool) -> &'static str {
    use crate::DisconnectReason as R;
    match (reason, session) {
        (R::TransportClose, false) => "disconnect: transport close",
        (R::TransportError, false) => "disconnect: transport error",
        (R::PingTimeout, false) => "disconnect: ping timeout",
        (R::ParseError, false) => "disconnect: parse error",
        (R::ServerShuttingDown, false) => "disconnect: server shutting down",
        (R::ClientNamespaceDisconnect, _) => "disconnect: client namespace disconnect",
        (R::ServerNamespaceDisconnect, _) => "disconnect: server namespace disconnect",
        (R::ForcedClose, false) => "disconnect: forced close",
        (R::ConnectTimeout, false) => "disconnect: connect timeout",
        (R::SlowConsumer, false) => "disconnect: slow consumer",
        (R::TransportClose, true) => "session closed: transport close",
        (R::TransportError, true) => "session closed: transport error",
        (R::PingTimeout, true) => "session closed: ping timeout",
        (R::ParseError, true) => "session closed: parse error",
        (R::ServerShuttingDown, true) => "session closed: server shutting down",
        (R::ForcedClose, true) => "session closed: forced close",
        (R::ConnectTimeout, true) => "session closed: connect timeout",
        (R::SlowConsumer, true) => "session closed: slow consumer",
        (R::TooManyEvents, false) => "disconnect: too many events",
        (R::TooManyEvents, true) => "session closed: too many events",
    }
}

/// Runs `ops` with the default [`Setup`]; see [`run_scenario`].
pub fn run(ops: &[Op]) -> Stats {
    run_scenario(&Scenario {
        setup: Setup::default(),
        ops: ops.to_vec(),
    })
}

/// Runs a scenario against a fresh server, then shuts it down and checks that everything was
/// released. Panics when an invariant breaks (see the module docs).
pub fn run_scenario(scenario: &Scenario) -> Stats {
    let start = Instant::now();
    let setup = scenario.setup;
    let queue = 4 + (setup.queue % 64) as usize;
    let config = Config::default()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .upgrade_timeout(Duration::from_millis(500))
        .connect_timeout(Duration::from_millis(1000))
        .max_payload(1024)
        .max_attachment_bytes(1024)
        .max_attachments(4)
        .max_namespaces(4)
        .max_pending_acks(8)
        .max_queue_packets(queue)
        .max_queue_bytes(64 * queue)
        .slow_consumer(if setup.drop_slow {
            SlowConsumer::Drop
        } else {
            SlowConsumer::Disconnect
        })
        .cookie(setup.cookie.then(Cookie::default))
        .cors(if setup.cors_any {
            Cors::Any
        } else {
            Cors::SameOrigin
        })
        .connection_state_recovery((setup.queue & 0x80 != 0).then(|| {
            RecoveryConfig::default()
                .max_disconnection_duration(Duration::from_secs(2))
                .max_packets(6)
                .max_bytes(256)
                .max_sessions(3)
        }));
    let mut f = Fuzz {
        server: Server::new(config, Box::new(TestEntropy(0x9E37_79B9_7F4A_7C15)), start),
        now: start,
        next: 0,
        sids: Vec::new(),
        all_sids: Vec::new(),
        websockets: Vec::new(),
        upgrades: Vec::new(),
        ws_handles: HashSet::new(),
        closed_ws: HashSet::new(),
        open_http: HashSet::new(),
        gets: HashSet::new(),
        sockets: Vec::new(),
        pending: Vec::new(),
        gone_sockets: HashSet::new(),
        gone_sessions: HashSet::new(),
        socket_names: HashMap::new(),
        decoded_ahead: false,
        stats: Stats::default(),
    };
    for op in &scenario.ops {
        f.step(op);
    }
    f.finish();
    f.stats
}

struct Fuzz {
    server: Server,
    now: Instant,
    next: u64,
    /// Sids of live sessions, and of every session ever opened.
    sids: Vec<(SessionHandle, String)>,
    all_sids: Vec<String>,
    /// WebSockets not known to be closed, in opening order.
    websockets: Vec<TransportHandle>,
    /// Upgrade WebSockets whose completion was not seen yet, with their session.
    upgrades: Vec<(TransportHandle, SessionHandle)>,
    ws_handles: HashSet<TransportHandle>,
    closed_ws: HashSet<TransportHandle>,
    /// HTTP requests not answered yet, and which of them are GETs.
    open_http: HashSet<TransportHandle>,
    gets: HashSet<TransportHandle>,
    /// Live sockets, and those of them waiting for a decision.
    sockets: Vec<SocketId>,
    pending: Vec<SocketId>,
    gone_sockets: HashSet<SocketId>,
    gone_sessions: HashSet<SessionHandle>,
    /// Namespace and sid of every live socket, to keep data with it when it goes away.
    socket_names: HashMap<SocketId, (String, String)>,
    /// Whether the last message went in decoded ahead (they alternate).
    decoded_ahead: bool,
    stats: Stats,
}

fn pick<T: Clone>(v: &[T], n: u8) -> Option<T> {
    if v.is_empty() {
        None
    } else {
        Some(v[n as usize % v.len()].clone())
    }
}

/// `["e",<placeholders>]` with `n` attachments.
fn payload(name: &str, n: u8) -> Payload {
    let mut json = format!("[\"{name}\"");
    let mut attachments = Attachments::new();
    for i in 0..n {
        json.push_str(&format!(",{{\"_placeholder\":true,\"num\":{i}}}"));
        attachments.push(Bytes::from(vec![i; 3 + i as usize]));
    }
    json.push(']');
    Payload {
        json: Bytes::from(json),
        attachments,
    }
}

impl Fuzz {
    fn handle(&mut self) -> TransportHandle {
        self.next += 1;
        TransportHandle(self.next)
    }

    fn sid(&self, n: u8) -> Option<String> {
        if n & 0x80 != 0 {
            pick(&self.all_sids, n)
        } else {
            pick(&self.sids, n).map(|(_, sid)| sid)
        }
    }

    fn room(&self, r: u8) -> String {
        if r % 5 < 4 {
            format!("r{}", r % 5)
        } else {
            pick(&self.sockets, r / 5)
                .and_then(|id| self.server.socket_info(id).map(|i| i.sid.to_string()))
                .unwrap_or_else(|| "r0".into())
        }
    }

    fn input(&mut self, input: Input) {
        self.server.handle_input(input);
        self.drain();
    }

    fn http(&mut self, method: Method, query: String, body: Bytes, headers: Vec<(String, String)>) {
        let t = self.handle();
        self.open_http.insert(t);
        if method == Method::Get {
            self.gets.insert(t);
        }
        let request = HttpRequest {
            method,
            path: "/socket.io/".into(),
            query,
            headers,
            body,
            ..Default::default()
        };
        self.decoded_ahead = !self.decoded_ahead;
        if self.decoded_ahead && method == Method::Post {
            let limits = self.server.config().decode_limits();
            let body = crate::DecodedBody::new(&limits, request.body.clone());
            self.input(Input::HttpRequestDecoded {
                now: self.now,
                transport: t,
                request,
                body,
            });
        } else {
            self.input(Input::HttpRequest {
                now: self.now,
                transport: t,
                request,
            });
        }
    }

    fn ws_message(&mut self, n: u8, frame: Frame) {
        if let Some(t) = pick(&self.websockets, n) {
            // Every other message is decoded ahead, as a sharing driver does: the server must
            // not tell the difference.
            self.decoded_ahead = !self.decoded_ahead;
            if self.decoded_ahead {
                let limits = self.server.config().decode_limits();
                self.input(Input::WebSocketDecoded {
                    now: self.now,
                    transport: t,
                    message: crate::Decoded::new(&limits, frame),
                });
            } else {
                self.input(Input::WebSocketMessage {
                    now: self.now,
                    transport: t,
                    frame,
                });
            }
            if let Some(i) = self.upgrades.iter().position(|(w, _)| *w == t) {
                let (_, h) = self.upgrades[i];
                if self.server.session_is_websocket(h) == Some(true) {
                    self.stats.hit("ws: upgrade completed");
                    self.upgrades.swap_remove(i);
                }
            }
        }
    }

    fn step(&mut self, op: &Op) {
        match op {
            Op::Handshake => self.http(
                Method::Get,
                "EIO=4&transport=polling".into(),
                Bytes::new(),
                Vec::new(),
            ),
            Op::Get(n) => {
                if let Some(sid) = self.sid(*n) {
                    let q = format!("EIO=4&transport=polling&sid={sid}");
                    self.http(Method::Get, q, Bytes::new(), Vec::new());
                }
            }
            Op::Post(n, body) => {
                if let Some(sid) = self.sid(*n) {
                    let q = format!("EIO=4&transport=polling&sid={sid}");
                    self.http(Method::Post, q, Bytes::from(body.clone()), Vec::new());
                }
            }
            Op::PostText(n, text) => {
                if let Some(sid) = self.sid(*n) {
                    let q = format!("EIO=4&transport=polling&sid={sid}");
                    let body = Bytes::from(format!("4{}", self.substitute(text)));
                    self.http(Method::Post, q, body, Vec::new());
                }
            }
            Op::RawHttp(method, foreign, query) => {
                let origin = if *foreign {
                    "http://elsewhere"
                } else {
                    "http://h"
                };
                let headers = vec![
                    ("host".to_string(), "h".to_string()),
                    ("origin".to_string(), origin.to_string()),
                ];
                self.http(*method, query.clone(), Bytes::new(), headers);
            }
            Op::WsOpen(n) => {
                let sid = n.and_then(|n| self.sid(n));
                let query = match &sid {
                    Some(sid) => format!("EIO=4&transport=websocket&sid={sid}"),
                    None => "EIO=4&transport=websocket".into(),
                };
                let t = self.handle();
                if let Some((h, _)) = self.sids.iter().find(|(_, s)| Some(s) == sid.as_ref()) {
                    self.upgrades.push((t, *h));
                }
                self.websockets.push(t);
                self.ws_handles.insert(t);
                let request = HttpRequest {
                    path: "/socket.io/".into(),
                    query,
                    ..Default::default()
                };
                self.input(Input::WebSocketOpen {
                    now: self.now,
                    transport: t,
                    request,
                });
            }
            Op::WsText(n, s) => {
                let text = self.substitute(s);
                self.ws_message(*n, Frame::Text(Bytes::from(text)))
            }
            Op::WsBinary(n, b) => self.ws_message(*n, Frame::Binary(Bytes::from(b.clone()))),
            Op::Close(n) => {
                if self.next > 0 {
                    let t = TransportHandle(1 + *n as u64 % self.next);
                    self.open_http.remove(&t);
                    if self.ws_handles.contains(&t) {
                        self.closed_ws.insert(t);
                        self.websockets.retain(|w| *w != t);
                    }
                    self.input(Input::TransportClosed {
                        now: self.now,
                        transport: t,
                    });
                }
            }
            Op::Advance(ms) => {
                self.now += Duration::from_millis(*ms as u64);
                self.input(Input::Timeout(self.now));
            }
            Op::Emit(n, ack, k) => {
                if let Some(id) = pick(&self.sockets, *n) {
                    let p = payload("e", k % 3);
                    let deadline = self.now + Duration::from_millis(100);
                    let mut s = self.server.socket(id).expect("live socket");
                    let result = if *ack {
                        s.emit_with_ack(p, Some(deadline)).map(|_| ())
                    } else {
                        s.emit(p)
                    };
                    self.stats.hit(match result {
                        Ok(()) => "app: emit queued",
                        Err(crate::EmitError::QueueFull(_)) => "app: emit refused (queue full)",
                        Err(_) => "app: emit refused (too many acks)",
                    });
                    self.drain();
                }
            }
            Op::Broadcast(op) => {
                let to = op.to.map(|r| self.room(r));
                let except = op.except.map(|r| self.room(r));
                let skip = op.skip.and_then(|n| pick(&self.sockets, n));
                let mut b = self.server.broadcast(if op.admin { "/admin" } else { "/" });
                if let Some(r) = to {
                    b = b.to(r);
                }
                if let Some(r) = except {
                    b = b.except(r);
                }
                if let Some(s) = skip {
                    b = b.skip(s);
                }
                if op.volatile {
                    b = b.volatile();
                }
                let report = b.emit(&payload("b", op.binary as u8));
                if report.delivered > 0 {
                    self.stats.hit("app: broadcast delivered");
                }
                if report.dropped > 0 {
                    self.stats.hit("app: broadcast dropped");
                }
                if report.disconnected > 0 {
                    self.stats
                        .hit("app: broadcast disconnected a slow consumer");
                }
                self.drain();
            }
            Op::Join(n, r) | Op::Leave(n, r) => {
                if let Some(id) = pick(&self.sockets, *n) {
                    let room = self.room(*r);
                    let mut s = self.server.socket(id).expect("live socket");
                    if matches!(op, Op::Join(..)) {
                        s.join(room);
                    } else {
                        s.leave(&room);
                    }
                    self.drain();
                }
            }
            Op::CloseRoom(r) => {
                let room = self.room(*r);
                self.server.close_room("/", &room);
                self.drain();
            }
            Op::Decide(n, accept) => {
                if let Some(id) = pick(&self.pending, *n) {
                    self.pending.retain(|p| *p != id);
                    let s = self.server.socket(id).expect("pending sockets are live");
                    if *accept {
                        s.accept();
                    } else {
                        s.reject("no", Some(&Value::from(1)));
                        self.forget_socket(id);
                    }
                    self.drain();
                }
            }
            Op::Disconnect(n) => {
                if let Some(id) = pick(&self.sockets, *n) {
                    self.server.socket(id).expect("live socket").disconnect();
                    self.drain();
                }
            }
            Op::CloseSession(n) => {
                if let Some((h, _)) = pick(&self.sids, *n) {
                    self.server.close_session(h);
                    self.drain();
                }
            }
            Op::Shutdown => {
                self.server.shutdown();
                self.drain();
            }
            Op::WsBackpressure(n, blocked) => {
                if let Some(t) = pick(&self.websockets, *n) {
                    if *blocked {
                        self.stats.hit("ws: blocked");
                        self.input(Input::WebSocketBlocked {
                            now: self.now,
                            transport: t,
                        });
                    } else {
                        self.input(Input::WebSocketWritable {
                            now: self.now,
                            transport: t,
                        });
                    }
                }
            }
        }
    }

    /// Replaces `$pid` and `$offset` with state the server keeps for recovery.
    fn substitute(&self, text: &str) -> String {
        if !text.contains('$') {
            return text.to_string();
        }
        let (pids, offsets) = self.server.recovery_handles();
        let k = text.len() as u8;
        let pid = pick(&pids, k).unwrap_or_default();
        let offset = pick(&offsets, k).unwrap_or_default();
        text.replace("$pid", &pid).replace("$offset", &offset)
    }

    fn forget_socket(&mut self, id: SocketId) {
        self.socket_names.remove(&id);
        self.sockets.retain(|s| *s != id);
        self.pending.retain(|s| *s != id);
        self.gone_sockets.insert(id);
    }

    fn socket_event(&self, id: SocketId) {
        assert!(
            !self.gone_sockets.contains(&id),
            "event for a socket after its Disconnect"
        );
    }

    fn drain(&mut self) {
        for _ in 0..100_000 {
            match self.server.poll_output() {
                Output::Timeout(at) => {
                    assert!(at >= self.now, "deadline in the past after a drain");
                    self.server.check_invariants();
                    return;
                }
                Output::Transmit(t) => self.on_transmit(t),
                Output::Event(e) => self.on_event(e),
            }
        }
        panic!("drain did not reach Timeout within 100000 outputs");
    }

    fn on_transmit(&mut self, t: Transmit) {
        match t {
            Transmit::Http {
                transport,
                response,
            } => {
                assert!(
                    self.open_http.remove(&transport),
                    "HTTP response for a request answered or closed already"
                );
                let body = &response.body[..];
                if let Some(sid) = sid_of_open(body) {
                    self.stats.hit("http: handshake (polling)");
                    self.all_sids.push(sid);
                } else if response.status == 204 {
                    self.stats.hit("http: preflight");
                } else if response.status != 200 {
                    self.stats.hit("http: error response");
                } else if !self.gets.contains(&transport) {
                    self.stats.hit("http: POST accepted");
                } else if body == b"6" {
                    self.stats.hit("http: parked GET released with noop");
                } else if body.ends_with(b"1") && (body.len() == 1 || body[body.len() - 2] == 0x1e)
                {
                    self.stats.hit("http: parked GET answered with close");
                } else {
                    self.stats.hit("http: parked GET answered with data");
                }
                if body.windows(2).any(|w| w == b"\x1eb") || body.starts_with(b"b") {
                    self.stats.hit("http: polling body with base64 binary");
                }
            }
            Transmit::WebSocket { transport, frame } => {
                assert!(
                    self.ws_handles.contains(&transport),
                    "frame for something that is not a WebSocket"
                );
                assert!(
                    !self.closed_ws.contains(&transport),
                    "frame for a closed WebSocket"
                );
                match &frame {
                    Frame::Text(b) => {
                        if let Some(sid) = sid_of_open(b) {
                            self.stats.hit("ws: handshake (websocket)");
                            self.all_sids.push(sid);
                        } else if &b[..] == b"3probe" {
                            self.stats.hit("ws: probe answered");
                        }
                    }
                    Frame::Binary(_) => self.stats.hit("ws: binary frame sent"),
                }
            }
            Transmit::CloseWebSocket { transport } => {
                assert!(
                    self.ws_handles.contains(&transport),
                    "close for something that is not a WebSocket"
                );
                if self.closed_ws.insert(transport) {
                    self.stats.hit("ws: closed by server");
                }
                self.websockets.retain(|w| *w != transport);
            }
        }
    }

    fn on_event(&mut self, e: Event) {
        match e {
            Event::EngineMessage { session, frame } => {
                assert!(
                    self.server.config().engineio_only,
                    "plain Engine.IO message from a Socket.IO server"
                );
                // Echo it, as a plain Engine.IO server would.
                let _ = self.server.send_message(session, frame);
            }
            Event::SessionOpened { session, sid } => {
                assert!(
                    !self.gone_sessions.contains(&session),
                    "session handle reused"
                );
                self.sids.push((session, sid.to_string()));
            }
            Event::SessionClosed {
                session, reason, ..
            } => {
                assert!(self.gone_sessions.insert(session), "session closed twice");
                self.sids.retain(|(h, _)| *h != session);
                self.stats.hit(disconnect_outcome(reason, true));
            }
            Event::Connect {
                socket,
                session,
                namespace,
                auth,
                recovered,
            } => {
                assert!(
                    !self.gone_sessions.contains(&session),
                    "connect on a closed session"
                );
                self.stats.hit("event: connect");
                if recovered {
                    self.stats.hit("event: connect recovered");
                    if let Some(data) = self.server.take_recovery_data(socket) {
                        assert!(data.is::<SocketId>(), "data of another kind");
                        self.stats.hit("app: recovery data restored");
                    }
                }
                self.sockets.push(socket);
                if let Some(info) = self.server.socket_info(socket) {
                    let name = (namespace.to_string(), info.sid.to_string());
                    self.socket_names.insert(socket, name);
                }
                let auth = auth.as_ref().and_then(Value::as_object);
                if auth.is_some() {
                    self.stats.hit("event: connect with auth");
                }
                // The client may have left already (CONNECT then DISCONNECT in one payload):
                // a Disconnect event follows.
                let Some(s) = self.server.socket(socket) else {
                    return;
                };
                if auth.is_some_and(|a| a.contains_key("reject")) {
                    self.stats.hit("app: connection rejected");
                    s.reject("not authorized", None);
                    self.forget_socket(socket);
                } else if auth.is_some_and(|a| a.contains_key("pending")) {
                    self.stats.hit("app: connection left pending");
                    self.pending.push(socket);
                } else {
                    self.stats.hit("app: connection accepted");
                    s.accept();
                }
            }
            Event::Message {
                socket,
                attachments,
                ack,
                ..
            } => {
                self.socket_event(socket);
                self.stats.hit("event: message");
                if !attachments.is_empty() {
                    self.stats.hit("event: message with attachments");
                }
                if let Some(ack) = ack {
                    self.stats.hit("event: message asking for an ack");
                    let mut p = payload("a", attachments.len().min(2) as u8);
                    p.attachments = attachments.into_iter().take(2).collect();
                    if let Some(mut s) = self.server.socket(socket) {
                        let _ = s.ack(ack, p);
                    }
                }
            }
            Event::Ack {
                socket,
                attachments,
                ..
            } => {
                self.socket_event(socket);
                self.stats.hit("event: ack");
                if !attachments.is_empty() {
                    self.stats.hit("event: ack with attachments");
                }
            }
            Event::AckTimeout { socket, .. } => {
                self.socket_event(socket);
                self.stats.hit("event: ack timeout");
            }
            Event::Disconnect { socket, reason, .. } => {
                self.socket_event(socket);
                if let Some((ns, sid)) = self.socket_names.get(&socket) {
                    let kept = self.server.keep_recovery_data(ns, sid, Box::new(socket));
                    if kept.is_ok() {
                        assert!(reason.is_recoverable(), "kept after {reason}");
                        self.stats.hit("app: recovery data kept");
                    }
                }
                self.forget_socket(socket);
                self.stats.hit(disconnect_outcome(reason, false));
            }
        }
    }

    /// Shuts down, lets every linger deadline pass, and checks that nothing was left behind.
    fn finish(&mut self) {
        self.server.shutdown();
        self.drain();
        self.now += Duration::from_secs(3600);
        self.input(Input::Timeout(self.now));
        assert_eq!(
            self.server.session_count(),
            0,
            "sessions left after shutdown"
        );
        assert_eq!(self.server.socket_count(), 0, "sockets left after shutdown");
        assert!(self.open_http.is_empty(), "HTTP requests never answered");
        assert!(
            self.websockets.is_empty(),
            "WebSockets never closed after shutdown"
        );
        if let Some(stats) = self.server.recovery_stats() {
            assert_eq!(
                stats,
                crate::RecoveryStats::default(),
                "recovery state left after its window"
            );
        }
    }
}

fn sid_of_open(body: &[u8]) -> Option<String> {
    let rest = body.strip_prefix(b"0{\"sid\":\"")?;
    let sid = rest.get(..20)?;
    Some(String::from_utf8_lossy(sid).into_owned())
}

// ---- Codec entry points for the cargo-fuzz targets in `fuzz/` -----------------------------------

use bytes::BytesMut;

use crate::engineio::{decode_payload, encode_payload, Packet as EioPacket, PacketType};
use crate::socketio::packet::Limits;
use crate::socketio::{Packet as SioPacket, Reassembly};
use crate::{DecodeError, Str};

/// Most packets one fuzzed polling payload may hold.
const FUZZ_MAX_PACKETS: usize = 64;

/// Fuzz entry: JSON text (UTF-8 only, as a `Str` is). The scanner under
/// [`RawJson`](crate::socketio::RawJson) must accept exactly what serde_json accepts and find
/// the same array elements.
pub fn json_scan(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        crate::socketio::json_scan::check_against_serde_json(text);
    }
}

/// Fuzz entry: one Engine.IO text packet (a WebSocket text frame). A packet that decodes must
/// re-encode to exactly its input.
pub fn engineio_packet(data: &[u8]) {
    let Ok(p) = EioPacket::decode_text_bytes(Bytes::copy_from_slice(data)) else {
        return;
    };
    assert_eq!(p.kind().as_char(), data[0], "type digit");
    let encoded = p.encode();
    assert_eq!(&encoded[..], data, "text packet re-encodes to its input");
    let back = EioPacket::decode_text_bytes(encoded).expect("a re-encoded packet decodes");
    assert_eq!(back, p);
}

fn decode_all(body: Bytes) -> Result<Vec<EioPacket>, DecodeError> {
    decode_payload(body, FUZZ_MAX_PACKETS)?.collect()
}

/// Fuzz entry: one long-polling body. When every packet decodes, re-encoding gives a body that
/// decodes to the same packets (and re-encodes to the same bytes), and decoding the packets one
/// body at a time gives the same packets as the batched body.
pub fn polling_payload(data: &[u8]) {
    let Ok(packets) = decode_all(Bytes::copy_from_slice(data)) else {
        return;
    };
    let body = encode_payload(&packets);
    let back = decode_all(body.clone())
        .unwrap_or_else(|e| panic!("re-encoded body {body:?} does not decode: {e}"));
    assert_eq!(back, packets, "decode(encode(decoded)) == decoded");
    assert_eq!(encode_payload(&back), body, "encoding is stable");
    for p in &packets {
        let one = decode_all(encode_payload(std::slice::from_ref(p))).expect("single packet body");
        assert_eq!(
            one.as_slice(),
            std::slice::from_ref(p),
            "one-by-one equals batched"
        );
    }
}

/// Fuzz entry: one Socket.IO packet (the data of an Engine.IO message). A packet that decodes
/// must survive `encode_into` + `decode`, and the Engine.IO digit variant differs only by its `4`.
pub fn socketio_packet(data: &[u8]) {
    let Ok(text) = Str::from_bytes(Bytes::copy_from_slice(data)) else {
        return;
    };
    let Ok(p) = SioPacket::decode(&text, Limits::default()) else {
        return;
    };
    let mut out = BytesMut::new();
    p.encode_into(&mut out, false);
    let encoded = Str::from_bytes(out.freeze()).expect("the encoder writes UTF-8");
    let back = SioPacket::decode(&encoded, Limits::default())
        .unwrap_or_else(|e| panic!("re-encoded {encoded:?} (from {text:?}) does not decode: {e}"));
    assert_eq!(
        back, p,
        "decode(encode(p)) == p; input {text:?}, encoded {encoded:?}"
    );
    let mut again = BytesMut::new();
    back.encode_into(&mut again, false);
    assert_eq!(&again[..], encoded.as_bytes(), "encoding is stable");
    let mut with_digit = BytesMut::new();
    p.encode_into(&mut with_digit, true);
    assert_eq!(with_digit.first(), Some(&b'4'));
    assert_eq!(&with_digit[1..], encoded.as_bytes());
}

/// Fuzz entry: one packet of the MessagePack parser (a binary Engine.IO message). Decoding never
/// panics; a packet that decodes encodes again (the codec's own output included), and decodes
/// back to the same packet and binary data, unless its data holds objects that look like
/// attachment placeholders without being binary (those become binary on the way out, as with
/// the default parser).
pub fn msgpack_packet(data: &[u8]) {
    use crate::socketio::msgpack::{decode, encode, MsgpackLimits};
    let input = Bytes::copy_from_slice(data);
    let Ok((p, attachments)) = decode(&input, MsgpackLimits::default()) else {
        return;
    };
    let json = p.data.as_ref().map(|d| d.as_bytes()).unwrap_or_default();
    let mut out = BytesMut::new();
    encode(&mut out, p.kind, &p.namespace, p.id, json, &attachments)
        .unwrap_or_else(|e| panic!("a decoded packet does not encode: {e}; {p:?}"));
    let encoded = out.freeze();
    let (back, back_attachments) = decode(&encoded, MsgpackLimits::default())
        .unwrap_or_else(|e| panic!("re-encoded {encoded:?} does not decode: {e}; {p:?}"));
    let lookalikes = p
        .data
        .as_ref()
        .map_or(0, |d| d.as_str().matches("\"_placeholder\"").count());
    if lookalikes == attachments.len() {
        assert_eq!(back, p, "decode(encode(p)) == p; input {input:?}");
        assert_eq!(back_attachments, attachments);
    }
}

/// What reassembling one binary packet came to.
#[derive(Debug, PartialEq)]
enum Reassembled {
    Rejected(DecodeError),
    Done {
        packet: SioPacket,
        attachments: Vec<Bytes>,
        pushed: usize,
    },
    Incomplete {
        missing: usize,
    },
}

/// Bound on the attachment bytes of one fuzzed packet.
const FUZZ_MAX_ATTACHMENT_BYTES: usize = 1024;

fn reassemble(packet: SioPacket, parts: &[Bytes]) -> Reassembled {
    let declared = packet.attachments;
    let original = packet.clone();
    let mut r = match Reassembly::start(packet, FUZZ_MAX_ATTACHMENT_BYTES) {
        Err(e) => return Reassembled::Rejected(e),
        Ok(Ok((packet, attachments))) => {
            assert_eq!(declared, 0, "finished at once only without attachments");
            assert!(attachments.is_empty());
            return Reassembled::Done {
                packet,
                attachments: Vec::new(),
                pushed: 0,
            };
        }
        Ok(Err(r)) => r,
    };
    assert!(declared > 0);
    let mut total = 0usize;
    for (i, part) in parts.iter().enumerate() {
        assert_eq!(r.missing(), declared - i, "missing() counts down");
        total += part.len();
        match r.push(part.clone()) {
            Err(e) => {
                assert_eq!(e, DecodeError::AttachmentsTooLarge);
                assert!(
                    total > FUZZ_MAX_ATTACHMENT_BYTES,
                    "rejected under the limit"
                );
                return Reassembled::Rejected(e);
            }
            Ok(None) => {
                assert!(
                    total <= FUZZ_MAX_ATTACHMENT_BYTES,
                    "accepted over the limit"
                );
                assert!(i + 1 < declared, "not finished after the last attachment");
            }
            Ok(Some((packet, attachments))) => {
                assert!(
                    total <= FUZZ_MAX_ATTACHMENT_BYTES,
                    "accepted over the limit"
                );
                assert_eq!(i + 1, declared, "finished early");
                assert_eq!(packet, original, "the packet comes back as it went in");
                assert_eq!(&attachments[..], &parts[..declared], "attachments in order");
                return Reassembled::Done {
                    packet,
                    attachments: attachments.into_vec(),
                    pushed: i + 1,
                };
            }
        }
    }
    Reassembled::Incomplete {
        missing: r.missing(),
    }
}

/// Fuzz entry: a binary packet header followed by attachments, then the same carried in one
/// polling body (header text, then `b`+base64 attachments), which must reassemble identically
/// (skipped for headers holding the record separator, which polling cannot carry).
///
/// Input format: the header up to the first `\n`; after it, attachments as a length byte
/// followed by that many bytes (the last one truncated at the end of the input).
pub fn binary_reassembly(data: &[u8]) {
    let (header, mut rest) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let mut parts = Vec::new();
    while let Some((&len, tail)) = rest.split_first() {
        let n = (len as usize).min(tail.len());
        parts.push(Bytes::copy_from_slice(&tail[..n]));
        rest = &tail[n..];
    }
    let Ok(text) = Str::from_bytes(Bytes::copy_from_slice(header)) else {
        return;
    };
    let Ok(packet) = SioPacket::decode(&text, Limits::default()) else {
        return;
    };
    let direct = reassemble(packet, &parts);
    if header.contains(&crate::engineio::payload::SEPARATOR) {
        // A record separator (legal inside a namespace) cannot travel in a polling body.
        return;
    }

    // The same messages split out of one polling body.
    let mut eio = vec![EioPacket::Text(PacketType::Message, text)];
    eio.extend(parts.iter().cloned().map(EioPacket::Binary));
    let body = encode_payload(&eio);
    let mut decoded = decode_payload(body, usize::MAX)
        .expect("non-empty body")
        .map(|p| p.expect("an encoded body decodes"));
    let Some(EioPacket::Text(PacketType::Message, text)) = decoded.next() else {
        panic!("the header comes first");
    };
    let packet = SioPacket::decode(&text, Limits::default()).expect("the header decoded before");
    let split: Vec<Bytes> = decoded
        .map(|p| match p {
            EioPacket::Binary(b) => b,
            other => panic!("attachment decoded as {other:?}"),
        })
        .collect();
    assert_eq!(split, parts, "attachments survive the polling body");
    assert_eq!(
        reassemble(packet, &split),
        direct,
        "polling equals WebSocket"
    );
}

// ---- WebSocket decoder --------------------------------------------------------------------------

use crate::websocket::{WsDecoder, WsError, WsEvent, WsLimits};

/// What a [`WsDecoder`] made of a byte stream: its events in order, how the stream ended (the
/// first error stops it), and the control frames [`WsDecoder::take_control`] wrote at the end.
#[derive(Debug, PartialEq)]
pub struct WsOutcome {
    /// Every event, in order.
    pub events: Vec<WsEvent>,
    /// `Ok` when every chunk was taken; otherwise the error that stopped the stream.
    pub end: Result<(), WsError>,
    /// What `take_control` wrote once the stream ended.
    pub control: Vec<u8>,
}

/// The most a decoder may hold: an incomplete frame (header and payload) and a message being
/// assembled, each within its limit.
pub fn ws_buffer_bound(limits: &WsLimits) -> usize {
    limits
        .max_frame
        .saturating_add(14)
        .saturating_add(limits.max_message)
}

/// Feeds `chunks` in order to a new decoder until the first error, checking after every chunk
/// that it holds no more than [`ws_buffer_bound`], and nothing more once the stream failed.
pub fn ws_decode<'a>(limits: WsLimits, chunks: impl IntoIterator<Item = &'a [u8]>) -> WsOutcome {
    let bound = ws_buffer_bound(&limits);
    let mut d = WsDecoder::new(limits);
    let mut events = Vec::new();
    let mut end = Ok(());
    for chunk in chunks {
        end = d.receive(chunk, |e| events.push(e));
        let held = d.buffered();
        assert!(
            held <= bound,
            "holds {held} bytes, over {bound} ({limits:?})"
        );
        if let Err(e) = end {
            assert_eq!(held, 0, "holds {held} bytes after failing");
            assert_eq!(d.receive(b"\x81", |_| {}), Err(e), "the error is sticky");
            break;
        }
    }
    let mut control = Vec::new();
    d.take_control(&mut control);
    WsOutcome {
        events,
        end,
        control,
    }
}

/// Limits the fuzzed decoder picks from (both the frame and the message limit).
const WS_FUZZ_SIZES: [usize; 8] = [0, 1, 125, 126, 300, 65_535, 65_536, 1 << 20];

/// Appends a client frame (masked) to `out`.
fn ws_client_frame(out: &mut Vec<u8>, fin: bool, opcode: u8, payload: &[u8], mask: [u8; 4]) {
    out.push(if fin { 0x80 | opcode } else { opcode });
    match payload.len() {
        n @ 0..=125 => out.push(0x80 | n as u8),
        n @ 126..=0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
}

/// Fuzz entry: a client's byte stream, decoded whole, split in two, and (when short) byte by
/// byte, must give the same events, the same error and the same control frames, with the
/// decoder holding no more than its limits allow; every event must be well-formed; and the
/// events re-encoded (masked again, messages cut to the frame limit) must decode to themselves.
///
/// Input format: a byte picking the limits (and the mask of the re-encoding), two bytes
/// (little-endian) picking the split point, then the stream.
pub fn websocket_decoder(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let (at, input) = match rest {
        [a, b, input @ ..] => (u16::from_le_bytes([*a, *b]) as usize, input),
        _ => (0, rest),
    };
    let at = at % (input.len() + 1);
    let limits = WsLimits {
        max_frame: WS_FUZZ_SIZES[usize::from(pick & 7)],
        max_message: WS_FUZZ_SIZES[usize::from(pick >> 3 & 7)],
    };
    let whole = ws_decode(limits, [input]);
    let split = ws_decode(limits, [&input[..at], &input[at..]]);
    assert_eq!(split, whole, "split at {at}");
    if input.len() <= 512 {
        let bytes = ws_decode(limits, input.chunks(1));
        assert_eq!(bytes, whole, "byte by byte");
    }

    let mask = [pick, pick ^ 0x5A, pick.rotate_left(3), !pick];
    let piece = limits.max_frame.max(1);
    let mut again = Vec::new();
    for e in &whole.events {
        match e {
            WsEvent::Message(m) => {
                let (op, data) = match m {
                    Frame::Text(b) => {
                        assert!(std::str::from_utf8(b).is_ok(), "text is UTF-8");
                        (1, b)
                    }
                    Frame::Binary(b) => (2, b),
                };
                assert!(data.len() <= limits.max_message, "message over the limit");
                let mut pieces = data.chunks(piece).peekable();
                if pieces.peek().is_none() {
                    ws_client_frame(&mut again, true, op, &[], mask);
                }
                let mut first = true;
                while let Some(p) = pieces.next() {
                    let op = if first { op } else { 0 };
                    ws_client_frame(&mut again, pieces.peek().is_none(), op, p, mask);
                    first = false;
                }
            }
            WsEvent::Ping(p) | WsEvent::Pong(p) => {
                assert!(
                    p.len() <= 125.min(limits.max_frame),
                    "control frame too long"
                );
                let op = if matches!(e, WsEvent::Ping(_)) { 9 } else { 10 };
                ws_client_frame(&mut again, true, op, p, mask);
            }
            WsEvent::Close(c) => {
                let mut payload = Vec::new();
                if let Some(c) = c {
                    assert!(std::str::from_utf8(&c.reason).is_ok(), "close reason UTF-8");
                    payload.extend_from_slice(&c.code.to_be_bytes());
                    payload.extend_from_slice(&c.reason);
                }
                ws_client_frame(&mut again, true, 8, &payload, mask);
            }
        }
    }
    let back = ws_decode(limits, [&again[..]]);
    assert_eq!(back.end, Ok(()), "re-encoded events decode");
    assert_eq!(
        back.events, whole.events,
        "re-encoded events decode to themselves"
    );
}
