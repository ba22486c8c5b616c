//! A small blocking Engine.IO v4 / Socket.IO v5 client over real sockets, for tests: std::net
//! for HTTP long-polling, tungstenite for WebSocket, and the codecs of `sockio-protocol`.
//!
//! It behaves like the official client where it matters to a server: it answers pings, keeps
//! one GET parked while polling, and upgrades the way socket.io-client does (probe, wait for
//! the parked GET to come back, then `5`).

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use serde_json::Value;
use sockio::protocol::engineio::payload::{decode_payload, encode_payload};
use sockio::protocol::engineio::{Packet as EioPacket, PacketType};
use sockio::protocol::socketio::binary::{Attachments, Reassembly};
use sockio::protocol::socketio::packet::Limits;
use sockio::protocol::socketio::{Packet, PacketKind};
use sockio::protocol::Str;
use tungstenite::{Message, WebSocket};

/// Upper bound for waiting on any one thing.
pub const STEP: Duration = Duration::from_secs(10);

/// How the client reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// WebSocket from the start.
    WebSocket,
    /// HTTP long-polling only.
    Polling,
    /// Long-polling, upgraded to WebSocket right after the handshake.
    Upgrade,
}

/// Options of a connection.
#[derive(Debug, Clone)]
pub struct Options {
    pub transport: Transport,
    /// Extra query string (`a=1&b=2`).
    pub query: String,
    /// Extra headers, on every request.
    pub headers: Vec<(String, String)>,
    /// Answer the server's pings (turn off to test the ping timeout).
    pub answer_pings: bool,
}

impl Options {
    pub fn new(transport: Transport) -> Self {
        Options {
            transport,
            query: String::new(),
            headers: Vec::new(),
            answer_pings: true,
        }
    }
}

/// An event the server emitted.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub namespace: String,
    pub name: String,
    pub args: Vec<Value>,
    pub attachments: Vec<Bytes>,
    /// Set when the server wants an acknowledgement.
    pub ack: Option<u64>,
    /// The event's JSON array as it arrived (escapes included).
    pub raw: String,
}

/// A Socket.IO packet from the server, decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    Connect {
        namespace: String,
        sid: String,
        /// The private id of connection state recovery, when the server has it on.
        pid: Option<String>,
    },
    ConnectError {
        namespace: String,
        data: Value,
    },
    Disconnect {
        namespace: String,
    },
    Event(Event),
    Ack {
        namespace: String,
        id: u64,
        args: Vec<Value>,
        attachments: Vec<Bytes>,
    },
}

/// What a transport thread hands to the client.
enum Raw {
    Packet(EioPacket),
    /// The session ended (close packet, error status, or the connection went away).
    Closed,
}

#[derive(Default)]
struct Inbox {
    queue: Mutex<VecDeque<Raw>>,
    ready: Condvar,
}

impl Inbox {
    fn push(&self, raw: Raw) {
        self.queue.lock().unwrap().push_back(raw);
        self.ready.notify_all();
    }

    fn pop(&self, until: Instant) -> Option<Raw> {
        let mut q = self.queue.lock().unwrap();
        loop {
            if let Some(raw) = q.pop_front() {
                return Some(raw);
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            q = self.ready.wait_timeout(q, left).unwrap().0;
        }
    }
}

/// The way out, per transport.
enum Link {
    Ws {
        out: mpsc::Sender<Message>,
        stop: Arc<AtomicBool>,
        thread: Option<JoinHandle<()>>,
        /// To cut the connection without a goodbye.
        control: TcpStream,
    },
    Polling,
}

/// One Engine.IO session and its Socket.IO namespaces.
pub struct Client {
    addr: SocketAddr,
    opts: Options,
    /// The Engine.IO session id.
    pub eio_sid: String,
    link: Link,
    poller: Option<Poller>,
    inbox: Arc<Inbox>,
    pending: VecDeque<Incoming>,
    partial: Option<Reassembly>,
    closed: bool,
    next_ack: u64,
    sids: HashMap<String, String>,
    pids: HashMap<String, String>,
}

struct Poller {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Client {
    /// Opens an Engine.IO session (no namespace yet).
    pub fn open(addr: SocketAddr, opts: Options) -> Client {
        let inbox = Arc::new(Inbox::default());
        let mut client = Client {
            addr,
            opts,
            eio_sid: String::new(),
            link: Link::Polling,
            poller: None,
            inbox,
            pending: VecDeque::new(),
            partial: None,
            closed: false,
            next_ack: 1,
            sids: HashMap::new(),
            pids: HashMap::new(),
        };
        match client.opts.transport {
            Transport::WebSocket => {
                let (mut ws, control) = client.ws_connect(None);
                let open = match ws.read().expect("open packet") {
                    Message::Text(t) => t.to_string(),
                    other => panic!("expected the open packet, got {other:?}"),
                };
                client.eio_sid = parse_open(&open);
                client.start_ws(ws, control);
            }
            Transport::Polling | Transport::Upgrade => {
                let (status, body) = client.http("GET", None, b"");
                assert_eq!(status, 200, "handshake: {}", String::from_utf8_lossy(&body));
                client.eio_sid = parse_open(std::str::from_utf8(&body).unwrap());
                client.start_poller();
            }
        }
        client
    }

    /// Opens a session and connects to `namespace`; panics if refused.
    pub fn connect(
        addr: SocketAddr,
        opts: Options,
        namespace: &str,
        auth: Option<Value>,
    ) -> Client {
        let mut c = Client::open(addr, opts);
        c.join(namespace, auth).expect("connection accepted");
        c
    }

    /// Connects to a namespace: the Socket.IO sid, or the CONNECT_ERROR payload. With the
    /// `Upgrade` transport, the first call upgrades right after sending the CONNECT, as the
    /// official client does.
    pub fn join(&mut self, namespace: &str, auth: Option<Value>) -> Result<String, Value> {
        self.send(PacketKind::Connect, namespace, None, auth, Vec::new());
        if self.opts.transport == Transport::Upgrade && self.poller.is_some() {
            self.upgrade();
        }
        let until = Instant::now() + STEP;
        loop {
            let found = self.pending.iter().position(|p| {
                matches!(p, Incoming::Connect { namespace: n, .. } | Incoming::ConnectError { namespace: n, .. } if n == namespace)
            });
            if let Some(i) = found {
                return match self.pending.remove(i).unwrap() {
                    Incoming::Connect { sid, pid, .. } => {
                        self.sids.insert(namespace.to_owned(), sid.clone());
                        match pid {
                            Some(pid) => self.pids.insert(namespace.to_owned(), pid),
                            None => self.pids.remove(namespace),
                        };
                        Ok(sid)
                    }
                    Incoming::ConnectError { data, .. } => Err(data),
                    _ => unreachable!(),
                };
            }
            assert!(self.pump(until), "no answer to CONNECT {namespace}");
        }
    }

    /// The pid connection state recovery gave the client in `namespace`, if it is on.
    pub fn pid(&self, namespace: &str) -> Option<String> {
        self.pids.get(namespace).cloned()
    }

    /// The Socket.IO sid in `namespace`, once connected.
    pub fn sid(&self, namespace: &str) -> String {
        self.sids
            .get(namespace)
            .cloned()
            .expect("connected to the namespace")
    }

    /// Emits an event (`args` a JSON array).
    /// Sends an event whose JSON array is `json`, as it is (for JSON text serde would not
    /// write, such as escapes of lone surrogates).
    pub fn emit_raw(&mut self, namespace: &str, json: &str) {
        let mut text = String::from("2");
        if namespace != "/" {
            text.push_str(namespace);
            text.push(',');
        }
        text.push_str(json);
        self.send_eio(vec![EioPacket::Text(PacketType::Message, Str::from(text))]);
    }

    pub fn emit(&mut self, namespace: &str, name: &str, args: Value) {
        self.send(
            PacketKind::Event,
            namespace,
            None,
            Some(event_data(name, args)),
            Vec::new(),
        );
    }

    /// Emits an event whose `args` hold attachment placeholders for `attachments`.
    pub fn emit_binary(
        &mut self,
        namespace: &str,
        name: &str,
        args: Value,
        attachments: Vec<Bytes>,
    ) {
        self.send(
            PacketKind::Event,
            namespace,
            None,
            Some(event_data(name, args)),
            attachments,
        );
    }

    /// Emits and waits for the acknowledgement's arguments.
    pub fn emit_ack(&mut self, namespace: &str, name: &str, args: Value) -> Vec<Value> {
        self.emit_ack_full(namespace, name, args, Vec::new()).0
    }

    /// Emits (with attachments) and waits for the acknowledgement and its attachments.
    pub fn emit_ack_full(
        &mut self,
        namespace: &str,
        name: &str,
        args: Value,
        attachments: Vec<Bytes>,
    ) -> (Vec<Value>, Vec<Bytes>) {
        let id = self.emit_asking(namespace, name, args, attachments);
        self.wait_ack(namespace, id)
    }

    /// Like [`emit_raw`](Self::emit_raw), asking for an acknowledgement; its id.
    pub fn emit_asking_raw(&mut self, namespace: &str, json: &str) -> u64 {
        let id = self.next_ack;
        self.next_ack += 1;
        let mut text = String::from("2");
        if namespace != "/" {
            text.push_str(namespace);
            text.push(',');
        }
        text.push_str(&id.to_string());
        text.push_str(json);
        self.send_eio(vec![EioPacket::Text(PacketType::Message, Str::from(text))]);
        id
    }

    /// Emits asking for an acknowledgement without waiting for it: the ack id.
    pub fn emit_asking(
        &mut self,
        namespace: &str,
        name: &str,
        args: Value,
        attachments: Vec<Bytes>,
    ) -> u64 {
        let id = self.next_ack;
        self.next_ack += 1;
        self.send(
            PacketKind::Event,
            namespace,
            Some(id),
            Some(event_data(name, args)),
            attachments,
        );
        id
    }

    /// Waits for the acknowledgement `id`: its arguments and attachments.
    pub fn wait_ack(&mut self, namespace: &str, id: u64) -> (Vec<Value>, Vec<Bytes>) {
        let until = Instant::now() + STEP;
        loop {
            let found = self
                .pending
                .iter()
                .position(|p| matches!(p, Incoming::Ack { id: i, namespace: n, .. } if *i == id && n == namespace));
            if let Some(i) = found {
                let Some(Incoming::Ack {
                    args, attachments, ..
                }) = self.pending.remove(i)
                else {
                    unreachable!()
                };
                return (args, attachments);
            }
            assert!(self.pump(until), "no acknowledgement {id}");
        }
    }

    /// Answers a server emit that asked for an acknowledgement.
    pub fn ack(&mut self, namespace: &str, id: u64, args: Value) {
        self.send(PacketKind::Ack, namespace, Some(id), Some(args), Vec::new());
    }

    /// Leaves a namespace.
    pub fn leave(&mut self, namespace: &str) {
        self.send(PacketKind::Disconnect, namespace, None, None, Vec::new());
    }

    /// The next event, in order (other packets stay queued).
    pub fn event(&mut self) -> Event {
        self.try_event(STEP).expect("an event in time")
    }

    /// The next event within `wait`, if any.
    pub fn try_event(&mut self, wait: Duration) -> Option<Event> {
        let until = Instant::now() + wait;
        loop {
            if let Some(i) = self
                .pending
                .iter()
                .position(|p| matches!(p, Incoming::Event(_)))
            {
                let Some(Incoming::Event(e)) = self.pending.remove(i) else {
                    unreachable!()
                };
                return Some(e);
            }
            if !self.pump(until) {
                return None;
            }
        }
    }

    /// The next event, which must be `name` in `namespace`; its arguments.
    pub fn expect(&mut self, namespace: &str, name: &str) -> Vec<Value> {
        let e = self.event();
        assert_eq!(
            (e.namespace.as_str(), e.name.as_str()),
            (namespace, name),
            "{e:?}"
        );
        e.args
    }

    /// Asserts that no event arrives within `wait`.
    pub fn no_event(&mut self, wait: Duration) {
        if let Some(e) = self.try_event(wait) {
            panic!("unexpected event {e:?}");
        }
    }

    /// Waits for the server to disconnect the client from `namespace`.
    pub fn expect_disconnect(&mut self, namespace: &str) {
        let until = Instant::now() + STEP;
        loop {
            let found = self
                .pending
                .iter()
                .position(|p| matches!(p, Incoming::Disconnect { namespace: n } if n == namespace));
            if let Some(i) = found {
                self.pending.remove(i);
                return;
            }
            assert!(self.pump(until), "no DISCONNECT for {namespace}");
        }
    }

    /// Waits for the server to end the Engine.IO session.
    pub fn expect_closed(&mut self) {
        let until = Instant::now() + STEP;
        while !self.closed {
            assert!(self.pump(until), "the session did not close");
        }
    }

    /// Whether the session ended.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Ends the session politely: an Engine.IO close packet.
    pub fn close(&mut self) {
        self.send_eio(vec![EioPacket::Text(PacketType::Close, Str::from(""))]);
        self.stop_threads();
    }

    /// Drops the connection without a word (a crashed client, a lost network).
    pub fn vanish(&mut self) {
        if let Link::Ws { control, .. } = &self.link {
            let _ = control.shutdown(Shutdown::Both);
        }
        self.stop_threads();
    }

    // ---- sending -------------------------------------------------------------------------

    fn send(
        &mut self,
        kind: PacketKind,
        namespace: &str,
        id: Option<u64>,
        data: Option<Value>,
        attachments: Vec<Bytes>,
    ) {
        let kind = match (kind, attachments.is_empty()) {
            (PacketKind::Event, false) => PacketKind::BinaryEvent,
            (PacketKind::Ack, false) => PacketKind::BinaryAck,
            (k, _) => k,
        };
        let packet = Packet {
            kind,
            namespace: Str::from(namespace),
            id,
            attachments: attachments.len(),
            data: data
                .as_ref()
                .map(sockio::protocol::socketio::RawJson::from_value),
        };
        let mut buf = BytesMut::new();
        packet.encode_into(&mut buf, false);
        let text = Str::from_bytes(buf.freeze()).unwrap();
        let mut packets = vec![EioPacket::Text(PacketType::Message, text)];
        packets.extend(attachments.into_iter().map(EioPacket::Binary));
        self.send_eio(packets);
    }

    fn send_eio(&mut self, packets: Vec<EioPacket>) {
        match &self.link {
            Link::Ws { out, .. } => {
                for p in packets {
                    let msg = match p {
                        EioPacket::Binary(b) => Message::Binary(b),
                        text => {
                            Message::Text(String::from_utf8(text.encode().to_vec()).unwrap().into())
                        }
                    };
                    let _ = out.send(msg);
                }
            }
            Link::Polling => {
                let body = encode_payload(&packets);
                let (status, _) = self.http("POST", Some(&self.eio_sid.clone()), &body);
                assert!(status == 200 || self.closed, "POST answered {status}");
            }
        }
    }

    // ---- receiving -----------------------------------------------------------------------

    /// Takes one raw packet from the transports and decodes it into `pending`. False when
    /// nothing came before `until` or the session is over.
    fn pump(&mut self, until: Instant) -> bool {
        if self.closed && self.inbox.queue.lock().unwrap().is_empty() {
            return false;
        }
        match self.inbox.pop(until) {
            None => false,
            Some(Raw::Closed) => {
                self.closed = true;
                true
            }
            Some(Raw::Packet(EioPacket::Binary(b))) => {
                if let Some(r) = &mut self.partial {
                    if let Some((p, att)) = r.push(b).expect("attachment") {
                        self.partial = None;
                        self.deliver(p, att);
                    }
                }
                true
            }
            Some(Raw::Packet(EioPacket::Text(PacketType::Message, text))) => {
                let p = Packet::decode(
                    &text,
                    Limits {
                        max_attachments: 64,
                    },
                )
                .expect("Socket.IO packet");
                match Reassembly::start(p, usize::MAX).expect("placeholders") {
                    Ok((p, att)) => self.deliver(p, att),
                    Err(r) => self.partial = Some(r),
                }
                true
            }
            Some(Raw::Packet(_)) => true,
        }
    }

    fn deliver(&mut self, p: Packet, attachments: Attachments) {
        let namespace = p.namespace.to_string();
        let value = p.value();
        let attachments: Vec<Bytes> = attachments.into_iter().collect();
        let incoming = match p.kind {
            PacketKind::Connect => {
                let sid = value
                    .as_ref()
                    .and_then(|d| d["sid"].as_str())
                    .unwrap_or_default();
                let pid = value.as_ref().and_then(|d| d["pid"].as_str());
                Incoming::Connect {
                    namespace,
                    sid: sid.to_owned(),
                    pid: pid.map(str::to_owned),
                }
            }
            PacketKind::ConnectError => Incoming::ConnectError {
                namespace,
                data: value.unwrap_or_default(),
            },
            PacketKind::Disconnect => Incoming::Disconnect { namespace },
            PacketKind::Event | PacketKind::BinaryEvent => {
                let Some(Value::Array(mut items)) = value else {
                    panic!("event without array")
                };
                let name = items.remove(0).as_str().unwrap().to_owned();
                let raw = p.data.as_ref().map(|d| d.as_str().to_owned());
                Incoming::Event(Event {
                    namespace,
                    name,
                    args: items,
                    attachments,
                    ack: p.id,
                    raw: raw.unwrap_or_default(),
                })
            }
            PacketKind::Ack | PacketKind::BinaryAck => {
                let Some(Value::Array(args)) = value else {
                    panic!("ack without array")
                };
                Incoming::Ack {
                    namespace,
                    id: p.id.unwrap(),
                    args,
                    attachments,
                }
            }
        };
        self.pending.push_back(incoming);
    }

    // ---- transports ----------------------------------------------------------------------

    fn target(&self, transport: &str, sid: Option<&str>) -> String {
        let mut t = format!("/socket.io/?EIO=4&transport={transport}");
        if let Some(sid) = sid {
            t.push_str(&format!("&sid={sid}"));
        }
        if !self.opts.query.is_empty() {
            t.push('&');
            t.push_str(&self.opts.query);
        }
        t
    }

    /// One HTTP request on a connection of its own: status and body.
    fn http(&self, method: &str, sid: Option<&str>, body: &[u8]) -> (u16, Vec<u8>) {
        http_request(
            self.addr,
            method,
            &self.target("polling", sid),
            &self.opts.headers,
            body,
        )
    }

    fn ws_connect(&self, sid: Option<&str>) -> (WebSocket<TcpStream>, TcpStream) {
        let stream = TcpStream::connect(self.addr).unwrap();
        stream.set_nodelay(true).unwrap();
        let control = stream.try_clone().unwrap();
        let url = format!("ws://{}{}", self.addr, self.target("websocket", sid));
        let mut req = tungstenite::client::IntoClientRequest::into_client_request(url).unwrap();
        for (n, v) in &self.opts.headers {
            req.headers_mut().append(
                tungstenite::http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        let (ws, resp) = tungstenite::client(req, stream).expect("WebSocket handshake");
        assert_eq!(resp.status(), 101);
        (ws, control)
    }

    /// Hands `ws` to a thread that writes what `send_eio` queues, reads into the inbox and
    /// answers pings.
    fn start_ws(&mut self, mut ws: WebSocket<TcpStream>, control: TcpStream) {
        control
            .set_read_timeout(Some(Duration::from_millis(2)))
            .unwrap();
        let (out, rx) = mpsc::channel::<Message>();
        let stop = Arc::new(AtomicBool::new(false));
        let (inbox, stop2, answer) = (self.inbox.clone(), stop.clone(), self.opts.answer_pings);
        let thread = std::thread::spawn(move || loop {
            while let Ok(msg) = rx.try_recv() {
                if ws.send(msg).is_err() {
                    return inbox.push(Raw::Closed);
                }
            }
            if stop2.load(Ordering::SeqCst) {
                let _ = ws.flush();
                return;
            }
            let packet = match ws.read() {
                Ok(Message::Text(t)) => EioPacket::decode_text_bytes(Bytes::from(t)).unwrap(),
                Ok(Message::Binary(b)) => EioPacket::Binary(b),
                Ok(Message::Close(_)) => continue,
                Ok(_) => continue,
                Err(tungstenite::Error::Io(e))
                    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                {
                    continue
                }
                Err(_) => return inbox.push(Raw::Closed),
            };
            match packet.kind() {
                PacketType::Ping if answer => {
                    let _ = ws.send(Message::text("3"));
                }
                PacketType::Close => return inbox.push(Raw::Closed),
                _ => inbox.push(Raw::Packet(packet)),
            }
        });
        self.link = Link::Ws {
            out,
            stop,
            thread: Some(thread),
            control,
        };
    }

    /// Starts the thread that keeps one GET parked and answers pings.
    fn start_poller(&mut self) {
        let stop = Arc::new(AtomicBool::new(false));
        let (inbox, stop2) = (self.inbox.clone(), stop.clone());
        let (addr, headers, answer) =
            (self.addr, self.opts.headers.clone(), self.opts.answer_pings);
        let target = self.target("polling", Some(&self.eio_sid));
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                let (status, body) = http_request(addr, "GET", &target, &headers, b"");
                if status != 200 {
                    return inbox.push(Raw::Closed);
                }
                for p in decode_payload(Bytes::from(body), 10_000).unwrap() {
                    let p = p.unwrap();
                    match p.kind() {
                        PacketType::Ping if answer => {
                            let pong =
                                encode_payload(&[EioPacket::Text(PacketType::Pong, Str::from(""))]);
                            http_request(addr, "POST", &target, &headers, &pong);
                        }
                        PacketType::Close => return inbox.push(Raw::Closed),
                        _ => inbox.push(Raw::Packet(p)),
                    }
                }
            }
        });
        self.poller = Some(Poller { stop, thread });
    }

    /// Upgrades to WebSocket: probe, let the parked GET come back, then `5`.
    ///
    /// Polling is paused before the probe rather than after its answer (socket.io-client
    /// pauses on the answer): the server releases the parked GET with one noop when the probe
    /// arrives, and a GET issued after the probe is held for the upgrade grace (50 ms) before
    /// its noop, which would only make the upgrade slower.
    fn upgrade(&mut self) {
        let sid = self.eio_sid.clone();
        let (mut ws, control) = self.ws_connect(Some(&sid));
        let poller = self.poller.take().unwrap();
        poller.stop.store(true, Ordering::SeqCst);
        ws.send(Message::text("2probe")).unwrap();
        match ws.read().expect("probe answer") {
            Message::Text(t) if t.as_str() == "3probe" => {}
            other => panic!("expected 3probe, got {other:?}"),
        }
        poller.thread.join().unwrap();
        ws.send(Message::text("5")).unwrap();
        self.start_ws(ws, control);
    }

    fn stop_threads(&mut self) {
        if let Some(p) = self.poller.take() {
            p.stop.store(true, Ordering::SeqCst);
            // A parked GET returns at the latest with the next ping.
            drop(p.thread);
        }
        if let Link::Ws { stop, thread, .. } = &mut self.link {
            stop.store(true, Ordering::SeqCst);
            if let Some(t) = thread.take() {
                let _ = t.join();
            }
        }
        self.closed = true;
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if !self.closed {
            self.vanish();
        }
    }
}

fn event_data(name: &str, args: Value) -> Value {
    let Value::Array(mut items) = args else {
        panic!("args must be a JSON array")
    };
    items.insert(0, Value::String(name.to_owned()));
    Value::Array(items)
}

/// The sid of an open packet `0{...}`.
fn parse_open(text: &str) -> String {
    let open: Value = serde_json::from_str(text.strip_prefix('0').expect("open packet")).unwrap();
    open["sid"].as_str().unwrap().to_owned()
}

/// One HTTP/1.1 request with `Connection: close`: the status and body.
pub fn http_request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> (u16, Vec<u8>) {
    let (status, _, body) = http_exchange(addr, method, target, headers, body);
    (status, body)
}

/// One HTTP/1.1 request with `Connection: close`: the status, the response headers (names
/// in lower case) and the body.
pub fn http_exchange(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    // A server that stopped accepting answers nothing.
    let Ok(mut s) = TcpStream::connect(addr) else {
        return (0, Vec::new(), Vec::new());
    };
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut raw = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (n, v) in headers {
        raw.push_str(&format!("{n}: {v}\r\n"));
    }
    raw.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut raw = raw.into_bytes();
    raw.extend_from_slice(body);
    if s.write_all(&raw).is_err() {
        return (0, Vec::new(), Vec::new());
    }
    let mut resp = Vec::new();
    if s.read_to_end(&mut resp).is_err() || resp.is_empty() {
        return (0, Vec::new(), Vec::new());
    }
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of head");
    let head = std::str::from_utf8(&resp[..split]).unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let headers = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = resp[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    (status, headers, body)
}

/// The body of a chunked response.
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") else {
            return body;
        };
        let size = std::str::from_utf8(&raw[..eol])
            .unwrap()
            .split(';')
            .next()
            .unwrap();
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&raw[eol + 2..eol + 2 + size]);
        raw = &raw[eol + 2 + size + 2..];
    }
}
