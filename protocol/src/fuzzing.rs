//! Whole-server operation sequences for fuzzing (and the tests that replay them).
//!
//! [`run`] feeds an arbitrary sequence of [`Op`]s (requests, WebSocket traffic, time, commands)
//! to a [`Server`] with monotonic time, draining outputs after each step with a bounded loop. It
//! panics only when an invariant breaks: a drain that never ends, an HTTP request answered twice,
//! or a transmit for a transport that was never opened.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::http::{Frame, HttpRequest, Method};
use crate::{
    Config, Entropy, Event, Input, Output, Payload, Server, SocketId, Transmit, TransportHandle,
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

/// One step of a fuzzed run.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Op {
    /// A polling handshake.
    Handshake,
    /// A GET on session `n` (modulo the sessions seen so far).
    Get(u8),
    /// A POST of arbitrary bytes on session `n`.
    Post(u8, Vec<u8>),
    /// A POST of a well-formed Socket.IO text packet body on session `n`.
    PostText(u8, String),
    /// An HTTP request with an arbitrary query string.
    RawHttp(bool, String),
    /// A WebSocket opening: a new session, or an upgrade of session `n`.
    WsOpen(Option<u8>),
    /// A text message on WebSocket `n`.
    WsText(u8, String),
    /// A binary message on WebSocket `n`.
    WsBinary(u8, Vec<u8>),
    /// Transport `n` closed.
    Close(u8),
    /// Time passes.
    Advance(u16),
    /// Emit to socket `n`.
    Emit(u8, bool),
    /// Broadcast, optionally to a room.
    Broadcast(Option<u8>),
    /// Socket `n` joins room `r`.
    Join(u8, u8),
    /// Socket `n` is disconnected by the server.
    Disconnect(u8),
    /// The server shuts down.
    Shutdown,
}

/// Runs `ops` against a fresh server with small timeouts.
pub fn run(ops: &[Op]) {
    let start = Instant::now();
    let config = Config::default()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .max_payload(4096)
        .max_queue_packets(64);
    let mut f = Fuzz {
        server: Server::new(config, Box::new(TestEntropy(0x9E37_79B9_7F4A_7C15)), start),
        now: start,
        next: 0,
        sids: Vec::new(),
        websockets: Vec::new(),
        open_http: HashSet::new(),
        opened: HashSet::new(),
        sockets: Vec::new(),
    };
    for op in ops {
        f.step(op);
    }
}

struct Fuzz {
    server: Server,
    now: Instant,
    next: u64,
    sids: Vec<String>,
    websockets: Vec<TransportHandle>,
    open_http: HashSet<TransportHandle>,
    opened: HashSet<TransportHandle>,
    sockets: Vec<SocketId>,
}

fn pick<T: Clone>(v: &[T], n: u8) -> Option<T> {
    if v.is_empty() {
        None
    } else {
        Some(v[n as usize % v.len()].clone())
    }
}

impl Fuzz {
    fn handle(&mut self) -> TransportHandle {
        self.next += 1;
        let t = TransportHandle(self.next);
        self.opened.insert(t);
        t
    }

    fn http(&mut self, method: Method, query: String, body: Bytes) {
        let t = self.handle();
        self.open_http.insert(t);
        let request = HttpRequest {
            method,
            query,
            body,
            ..Default::default()
        };
        self.server.handle_input(Input::HttpRequest {
            now: self.now,
            transport: t,
            request,
        });
        self.drain();
    }

    fn step(&mut self, op: &Op) {
        match op {
            Op::Handshake => self.http(Method::Get, "EIO=4&transport=polling".into(), Bytes::new()),
            Op::Get(n) => {
                if let Some(sid) = pick(&self.sids, *n) {
                    self.http(
                        Method::Get,
                        format!("EIO=4&transport=polling&sid={sid}"),
                        Bytes::new(),
                    );
                }
            }
            Op::Post(n, body) => {
                if let Some(sid) = pick(&self.sids, *n) {
                    let q = format!("EIO=4&transport=polling&sid={sid}");
                    self.http(Method::Post, q, Bytes::from(body.clone()));
                }
            }
            Op::PostText(n, text) => {
                if let Some(sid) = pick(&self.sids, *n) {
                    let q = format!("EIO=4&transport=polling&sid={sid}");
                    self.http(Method::Post, q, Bytes::from(format!("4{text}")));
                }
            }
            Op::RawHttp(post, query) => {
                let m = if *post { Method::Post } else { Method::Get };
                self.http(m, query.clone(), Bytes::new());
            }
            Op::WsOpen(n) => {
                let query = match n.and_then(|n| pick(&self.sids, n)) {
                    Some(sid) => format!("EIO=4&transport=websocket&sid={sid}"),
                    None => "EIO=4&transport=websocket".into(),
                };
                let t = self.handle();
                self.websockets.push(t);
                let request = HttpRequest {
                    query,
                    ..Default::default()
                };
                self.server.handle_input(Input::WebSocketOpen {
                    now: self.now,
                    transport: t,
                    request,
                });
                self.drain();
            }
            Op::WsText(n, s) => {
                if let Some(t) = pick(&self.websockets, *n) {
                    let frame = Frame::Text(Bytes::from(s.clone()));
                    self.server.handle_input(Input::WebSocketMessage {
                        now: self.now,
                        transport: t,
                        frame,
                    });
                    self.drain();
                }
            }
            Op::WsBinary(n, b) => {
                if let Some(t) = pick(&self.websockets, *n) {
                    let frame = Frame::Binary(Bytes::from(b.clone()));
                    self.server.handle_input(Input::WebSocketMessage {
                        now: self.now,
                        transport: t,
                        frame,
                    });
                    self.drain();
                }
            }
            Op::Close(n) => {
                if self.next > 0 {
                    let t = TransportHandle(1 + *n as u64 % self.next);
                    self.open_http.remove(&t);
                    self.server.handle_input(Input::TransportClosed {
                        now: self.now,
                        transport: t,
                    });
                    self.drain();
                }
            }
            Op::Advance(ms) => {
                self.now += Duration::from_millis(*ms as u64);
                self.server.handle_input(Input::Timeout(self.now));
                self.drain();
            }
            Op::Emit(n, ack) => {
                if let Some(id) = pick(&self.sockets, *n) {
                    if let Some(mut s) = self.server.socket(id) {
                        let p = Payload::json(&b"[\"e\",1]"[..]);
                        let _ = if *ack {
                            s.emit_with_ack(p, Some(self.now + Duration::from_millis(100)))
                                .map(|_| ())
                        } else {
                            s.emit(p)
                        };
                    }
                    self.drain();
                }
            }
            Op::Broadcast(room) => {
                let mut b = self.server.broadcast("/");
                if let Some(r) = room {
                    b = b.to(format!("r{}", r % 4));
                }
                b.emit(&Payload::json(&b"[\"b\"]"[..]));
                self.drain();
            }
            Op::Join(n, r) => {
                if let Some(id) = pick(&self.sockets, *n) {
                    if let Some(mut s) = self.server.socket(id) {
                        s.join(format!("r{}", r % 4));
                    }
                    self.drain();
                }
            }
            Op::Disconnect(n) => {
                if let Some(id) = pick(&self.sockets, *n) {
                    if let Some(s) = self.server.socket(id) {
                        s.disconnect();
                    }
                    self.drain();
                }
            }
            Op::Shutdown => {
                self.server.shutdown();
                self.drain();
            }
        }
    }

    fn drain(&mut self) {
        for _ in 0..100_000 {
            match self.server.poll_output() {
                Output::Timeout(at) => {
                    assert!(at >= self.now, "deadline in the past after a drain");
                    return;
                }
                Output::Transmit(Transmit::Http {
                    transport,
                    response,
                }) => {
                    assert!(
                        self.open_http.remove(&transport),
                        "HTTP request answered twice"
                    );
                    if let Some(sid) = sid_of_open(&response.body) {
                        self.sids.push(sid);
                    }
                }
                Output::Transmit(Transmit::WebSocket { transport, frame }) => {
                    assert!(
                        self.opened.contains(&transport),
                        "frame for an unknown transport"
                    );
                    if let Frame::Text(b) = &frame {
                        if let Some(sid) = sid_of_open(b) {
                            self.sids.push(sid);
                        }
                    }
                }
                Output::Transmit(Transmit::CloseWebSocket { transport }) => {
                    assert!(
                        self.opened.contains(&transport),
                        "close for an unknown transport"
                    );
                }
                Output::Event(Event::Connect { socket, .. }) => {
                    self.sockets.push(socket);
                    if let Some(s) = self.server.socket(socket) {
                        if socket.as_u64() % 5 == 4 {
                            s.reject("no", None);
                        } else {
                            s.accept();
                        }
                    }
                }
                Output::Event(Event::Message {
                    socket,
                    ack: Some(ack),
                    ..
                }) => {
                    if let Some(mut s) = self.server.socket(socket) {
                        let _ = s.ack(ack, Payload::json(&b"[]"[..]));
                    }
                }
                Output::Event(_) => {}
            }
        }
        panic!("drain did not reach Timeout within 100000 outputs");
    }
}

fn sid_of_open(body: &[u8]) -> Option<String> {
    let rest = body.strip_prefix(b"0{\"sid\":\"")?;
    let sid = rest.get(..20)?;
    Some(String::from_utf8_lossy(sid).into_owned())
}
