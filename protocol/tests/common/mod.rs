//! Deterministic in-memory harness: a [`Server`] under a virtual clock, and a minimal
//! Engine.IO/Socket.IO client state machine that talks to it over polling or WebSocket.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sockio_protocol::engineio::{decode_payload, Packet as EioPacket, PacketType};
use sockio_protocol::fuzzing::TestEntropy;
use sockio_protocol::http::{Frame, HttpRequest, HttpResponse, Method};
use sockio_protocol::{Config, Event, Input, Output, Server, SocketId, Transmit, TransportHandle};

/// The server, its virtual clock, and everything it sent.
pub struct Harness {
    pub server: Server,
    pub now: Instant,
    pub deadline: Instant,
    next: u64,
    pub events: Vec<Event>,
    pub http: HashMap<TransportHandle, HttpResponse>,
    pub ws: HashMap<TransportHandle, VecDeque<Frame>>,
    pub ws_closed: HashSet<TransportHandle>,
    /// Accept every namespace connection while draining.
    pub auto_accept: bool,
}

impl Harness {
    pub fn new(config: Config) -> Self {
        let now = Instant::now();
        Harness {
            server: Server::new(config, Box::new(TestEntropy(42)), now),
            now,
            deadline: now,
            next: 0,
            events: Vec::new(),
            http: HashMap::new(),
            ws: HashMap::new(),
            ws_closed: HashSet::new(),
            auto_accept: true,
        }
    }

    pub fn handle(&mut self) -> TransportHandle {
        self.next += 1;
        TransportHandle(self.next)
    }

    pub fn input(&mut self, input: Input) {
        self.server.handle_input(input);
        self.drain();
    }

    /// Drains outputs until Timeout, with a bound that fails loudly on livelock.
    pub fn drain(&mut self) {
        for _ in 0..1_000_000 {
            match self.server.poll_output() {
                Output::Timeout(at) => {
                    self.deadline = at;
                    return;
                }
                Output::Transmit(Transmit::Http {
                    transport,
                    response,
                }) => {
                    assert!(
                        self.http.insert(transport, response).is_none(),
                        "request {transport:?} answered twice"
                    );
                }
                Output::Transmit(Transmit::WebSocket { transport, frame }) => {
                    assert!(!self.ws_closed.contains(&transport), "frame after close");
                    self.ws.entry(transport).or_default().push_back(frame);
                }
                Output::Transmit(Transmit::CloseWebSocket { transport }) => {
                    self.ws_closed.insert(transport);
                }
                Output::Event(e) => {
                    if let (true, Event::Connect { socket, .. }) = (self.auto_accept, &e) {
                        // Gone already when its session closed later in the same input.
                        if let Some(s) = self.server.socket(*socket) {
                            s.accept();
                        }
                    }
                    self.events.push(e);
                }
            }
        }
        panic!("drain did not end");
    }

    /// Moves the clock forward by `d`, firing each deadline on the way in order.
    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        for _ in 0..100_000 {
            if self.deadline > end {
                break;
            }
            self.now = self.deadline.max(self.now);
            self.input(Input::Timeout(self.now));
            if self.deadline <= self.now {
                panic!("deadline did not move forward");
            }
        }
        self.now = end;
        self.input(Input::Timeout(end));
    }

    pub fn request(&mut self, method: Method, query: &str, body: Bytes) -> TransportHandle {
        let t = self.handle();
        let request = HttpRequest {
            method,
            path: "/socket.io/".into(),
            query: query.into(),
            body,
            ..Default::default()
        };
        self.input(Input::HttpRequest {
            now: self.now,
            transport: t,
            request,
        });
        t
    }

    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    pub fn sockets_connected(&self) -> Vec<SocketId> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Connect { socket, .. } => Some(*socket),
                _ => None,
            })
            .collect()
    }
}

/// Which transport a [`Client`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Polling,
    WebSocket,
}

/// A minimal client: answers pings, keeps one GET outstanding on polling, and collects the
/// Engine.IO messages it receives as text (binary ones as `Frame::Binary`).
pub struct Client {
    pub sid: String,
    pub mode: Mode,
    pub ws: Option<TransportHandle>,
    get: Option<TransportHandle>,
    pub received: VecDeque<Frame>,
    pub closed: bool,
    pub auto_pong: bool,
    pub pings: usize,
}

impl Client {
    /// Handshake over polling.
    pub fn polling(h: &mut Harness) -> Client {
        let t = h.request(Method::Get, "EIO=4&transport=polling", Bytes::new());
        let resp = h.http.remove(&t).expect("handshake answered at once");
        assert_eq!(
            resp.status,
            200,
            "{:?}",
            String::from_utf8_lossy(&resp.body)
        );
        Client::from_open(&resp.body, Mode::Polling, None)
    }

    /// Handshake over WebSocket.
    pub fn websocket(h: &mut Harness) -> Client {
        let t = h.handle();
        let request = HttpRequest {
            query: "EIO=4&transport=websocket".into(),
            ..Default::default()
        };
        h.input(Input::WebSocketOpen {
            now: h.now,
            transport: t,
            request,
        });
        let frame =
            h.ws.get_mut(&t)
                .and_then(|q| q.pop_front())
                .expect("open packet");
        let Frame::Text(b) = frame else {
            panic!("open packet must be text")
        };
        Client::from_open(&b, Mode::WebSocket, Some(t))
    }

    fn from_open(body: &[u8], mode: Mode, ws: Option<TransportHandle>) -> Client {
        assert_eq!(body[0], b'0', "open packet");
        let v: serde_json::Value = serde_json::from_slice(&body[1..]).unwrap();
        Client {
            sid: v["sid"].as_str().unwrap().to_string(),
            mode,
            ws,
            get: None,
            received: VecDeque::new(),
            closed: false,
            auto_pong: true,
            pings: 0,
        }
    }

    fn query(&self, transport: &str) -> String {
        format!("EIO=4&transport={transport}&sid={}", self.sid)
    }

    /// Sends Engine.IO text packets (each with its type digit).
    pub fn send_text(&mut self, h: &mut Harness, packets: &[&str]) {
        match self.mode {
            Mode::Polling => {
                let body = packets.join("\x1e");
                let t = h.request(Method::Post, &self.query("polling"), Bytes::from(body));
                let resp = h.http.remove(&t).expect("POST answered at once");
                if resp.status != 200 {
                    self.closed = true;
                }
            }
            Mode::WebSocket => {
                for p in packets {
                    self.ws_send(h, Frame::Text(Bytes::from(p.to_string())));
                }
            }
        }
    }

    /// Sends a Socket.IO packet followed by binary attachments.
    pub fn send_binary(&mut self, h: &mut Harness, header: &str, attachments: &[&[u8]]) {
        match self.mode {
            Mode::Polling => {
                let mut parts = vec![header.to_string()];
                for a in attachments {
                    use base64::Engine as _;
                    parts.push(format!(
                        "b{}",
                        base64::engine::general_purpose::STANDARD.encode(a)
                    ));
                }
                let body = parts.join("\x1e");
                let t = h.request(Method::Post, &self.query("polling"), Bytes::from(body));
                assert_eq!(h.http.remove(&t).unwrap().status, 200);
            }
            Mode::WebSocket => {
                self.ws_send(h, Frame::Text(Bytes::from(header.to_string())));
                for a in attachments {
                    self.ws_send(h, Frame::Binary(Bytes::copy_from_slice(a)));
                }
            }
        }
    }

    pub fn ws_send(&mut self, h: &mut Harness, frame: Frame) {
        let t = self.ws.expect("websocket");
        h.input(Input::WebSocketMessage {
            now: h.now,
            transport: t,
            frame,
        });
    }

    /// Receives whatever the server has for this client: on polling, issues a GET unless one is
    /// outstanding and collects its answer if there is one.
    pub fn poll(&mut self, h: &mut Harness) {
        match self.mode {
            Mode::Polling => {
                let t = match self.get {
                    Some(t) => t,
                    None => {
                        let t = h.request(Method::Get, &self.query("polling"), Bytes::new());
                        self.get = Some(t);
                        t
                    }
                };
                if let Some(resp) = h.http.remove(&t) {
                    self.get = None;
                    if resp.status != 200 {
                        self.closed = true;
                        return;
                    }
                    for p in decode_payload(resp.body, 10_000).unwrap() {
                        self.on_packet(h, p.unwrap());
                    }
                }
            }
            Mode::WebSocket => {
                let t = self.ws.unwrap();
                while let Some(f) = h.ws.get_mut(&t).and_then(|q| q.pop_front()) {
                    let p = match f {
                        Frame::Text(b) => EioPacket::decode_text_bytes(b).unwrap(),
                        Frame::Binary(b) => EioPacket::Binary(b),
                    };
                    self.on_packet(h, p);
                }
                if h.ws_closed.contains(&t) {
                    self.closed = true;
                }
            }
        }
    }

    fn on_packet(&mut self, h: &mut Harness, p: EioPacket) {
        match p {
            EioPacket::Text(PacketType::Ping, _) => {
                self.pings += 1;
                if self.auto_pong {
                    self.send_text(h, &["3"]);
                }
            }
            EioPacket::Text(PacketType::Close, _) => self.closed = true,
            EioPacket::Text(PacketType::Noop, _) => {}
            EioPacket::Text(PacketType::Message, s) => {
                self.received.push_back(Frame::Text(s.into_bytes()))
            }
            EioPacket::Binary(b) => self.received.push_back(Frame::Binary(b)),
            other => panic!("unexpected packet {other:?}"),
        }
    }

    /// Polls and returns the Socket.IO text packets received so far (binary ones skipped).
    pub fn texts(&mut self, h: &mut Harness) -> Vec<String> {
        self.poll(h);
        let mut out = Vec::new();
        while let Some(f) = self.received.pop_front() {
            if let Frame::Text(b) = f {
                out.push(String::from_utf8(b.to_vec()).unwrap());
            }
        }
        out
    }

    /// Polls and returns every message received so far.
    pub fn frames(&mut self, h: &mut Harness) -> Vec<Frame> {
        self.poll(h);
        self.received.drain(..).collect()
    }

    /// Connects to a namespace and returns the socket id the server created.
    pub fn connect(&mut self, h: &mut Harness, nsp: &str, auth: Option<&str>) -> SocketId {
        let prefix = if nsp == "/" {
            String::new()
        } else {
            format!("{nsp},")
        };
        let packet = format!("40{prefix}{}", auth.unwrap_or(""));
        self.send_text(h, &[&packet]);
        h.events
            .iter()
            .rev()
            .find_map(|e| match e {
                Event::Connect {
                    socket, namespace, ..
                } if namespace.as_str() == nsp => Some(*socket),
                _ => None,
            })
            .expect("connect event")
    }

    /// Upgrades a polling client to WebSocket with the probe sequence.
    pub fn upgrade(&mut self, h: &mut Harness) {
        assert_eq!(self.mode, Mode::Polling);
        // keep a GET parked, as a real client does
        self.poll(h);
        let t = h.handle();
        let request = HttpRequest {
            query: self.query("websocket"),
            ..Default::default()
        };
        h.input(Input::WebSocketOpen {
            now: h.now,
            transport: t,
            request,
        });
        self.ws = Some(t);
        h.input(Input::WebSocketMessage {
            now: h.now,
            transport: t,
            frame: Frame::Text(Bytes::from_static(b"2probe")),
        });
        let probe = h.ws.get_mut(&t).and_then(|q| q.pop_front());
        assert_eq!(probe, Some(Frame::Text(Bytes::from_static(b"3probe"))));
        // the parked GET is released (with a noop, possibly after pending data)
        self.poll(h);
        if self.get.is_some() {
            // This GET reached the server after the probe: it is held for the upgrade grace,
            // the next deadline, then gets its noop.
            let grace = h.deadline.saturating_duration_since(h.now);
            h.advance(grace);
            self.poll(h);
        }
        assert!(self.get.is_none(), "parked GET released after the probe");
        h.input(Input::WebSocketMessage {
            now: h.now,
            transport: t,
            frame: Frame::Text(Bytes::from_static(b"5")),
        });
        self.mode = Mode::WebSocket;
    }
}

/// Decodes a Socket.IO packet as received (without the Engine.IO digit).
pub fn sio(text: &str) -> sockio_protocol::socketio::Packet {
    use sockio_protocol::socketio::packet::Limits;
    sockio_protocol::socketio::Packet::decode(&sockio_protocol::Str::from(text), Limits::default())
        .unwrap_or_else(|e| panic!("{text:?} does not decode: {e}"))
}

/// The payload of an EVENT as received: the event name, then its arguments.
pub fn event_args(text: &str) -> Vec<serde_json::Value> {
    match sio(text).value() {
        Some(serde_json::Value::Array(a)) => a,
        other => panic!("{text:?} is not an event: {other:?}"),
    }
}

/// JSON text as a client sends it.
pub fn raw(text: &str) -> sockio_protocol::socketio::RawJson {
    sockio_protocol::socketio::RawJson::parse(sockio_protocol::Str::from(text))
        .unwrap_or_else(|e| panic!("{text:?} is not JSON: {e}"))
}
