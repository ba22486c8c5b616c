//! [`SocketIoTestClient`]: drives a server in memory, with no network (Flask-SocketIO's
//! `SocketIOTestClient`).
//!
//! The client talks Engine.IO and Socket.IO to the server through an in-memory WebSocket, so
//! it goes through the same protocol machine as a real client and sees broadcasts and room
//! emits exactly as one would. Every call waits until the server's handlers have finished
//! processing what it sent.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use sockio_protocol::http::{Frame, HttpRequest};
use sockio_protocol::socketio::binary::Attachments;
use sockio_protocol::socketio::packet::Limits;
use sockio_protocol::socketio::{Packet, PacketKind};
use sockio_protocol::{Str, TransportHandle, WsOut};

use crate::args::{encode, IntoArgs};
use crate::{Args, SocketIo};

/// Longest wait for the server's handlers after an action.
const WAIT: Duration = Duration::from_secs(10);
/// How long to keep listening for more once something arrived while handlers still run.
const SETTLE: Duration = Duration::from_millis(50);

/// An event the test client received.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// The event name (`message` for `send`).
    pub name: String,
    /// The arguments, binary data as arrays of byte values.
    pub args: Vec<Value>,
    /// The namespace.
    pub namespace: String,
    /// Set when the server asked for an acknowledgement; answer with
    /// [`SocketIoTestClient::ack`].
    pub ack: Option<u64>,
}

/// Why a test client's connection to a namespace was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("connection refused: {message}")]
pub struct ConnectRefused {
    /// The message of the CONNECT_ERROR.
    pub message: String,
    /// Its data.
    pub data: Option<Value>,
}

/// The in-memory WebSocket's writer: everything lands in the client's inbox at once.
fn listener(inbox: Arc<(Mutex<Inbox>, Condvar)>) -> crate::engine::Listener {
    Box::new(move |m: WsOut| {
        let frame = match m {
            WsOut::Frame(f) => Some(f),
            WsOut::Close => None,
        };
        let (inbox, cv) = &*inbox;
        let mut inbox = inbox.lock().unwrap_or_else(|p| p.into_inner());
        inbox.frames.push_back(frame);
        cv.notify_all();
    })
}

#[derive(Default)]
struct Inbox {
    frames: VecDeque<Option<Frame>>,
}

/// Options for a test client; see [`SocketIo::test_client`].
#[derive(Debug, Clone, Default)]
pub struct TestClientBuilder {
    namespace: Option<String>,
    auth: Option<Value>,
    headers: Vec<(String, String)>,
    query: String,
}

impl TestClientBuilder {
    /// The namespace to connect to (default `/`).
    pub fn namespace(mut self, ns: &str) -> Self {
        self.namespace = Some(ns.to_string());
        self
    }

    /// The auth payload of the connection.
    pub fn auth(mut self, auth: Value) -> Self {
        self.auth = Some(auth);
        self
    }

    /// A header of the handshake request.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_string()));
        self
    }

    /// Extra query string of the handshake request (`a=1&b=2`).
    pub fn query(mut self, query: &str) -> Self {
        self.query = query.to_string();
        self
    }
}

/// An in-memory Socket.IO client for tests (Flask-SocketIO's `socketio.test_client(app)`):
/// it drives the server through the real protocol machine, with no network, and sees what a
/// browser would.
///
/// ```
/// use sockio::{json, Context, SocketIo, SocketIoTestClient};
///
/// let io = SocketIo::new();
/// io.on_connect(|ctx: Context, auth: Option<sockio::Value>| {
///     ctx.emit("welcome", auth.unwrap_or_default())
/// });
/// io.on("add", |_: Context, a: i32, b: i32| a + b);
///
/// let mut client = io.test_client().auth(json!({"name": "ann"})).connect(&io);
/// assert!(client.is_connected("/"));
/// assert_eq!(client.get_received("/")[0].args, vec![json!({"name": "ann"})]);
/// let sum = client.emit_with_ack("/", "add", (1, 2)).unwrap();
/// assert_eq!(sum.get::<i32>(0).unwrap(), 3);
/// client.disconnect("/");
///
/// let mut other = SocketIoTestClient::new(&io); // connects to `/` with no auth
/// assert_eq!(other.get_received("/")[0].args, vec![json!(null)]);
/// ```
///
/// With connection state recovery on the server
/// ([`connection_state_recovery`](crate::SocketIoBuilder::connection_state_recovery)), it
/// does what socket.io-client does: it keeps the `pid` of each namespace and the offset of the
/// last event it received, and sends them when it [reconnects](Self::reconnect). The offsets
/// are not part of [`Received::args`].
pub struct SocketIoTestClient {
    io: SocketIo,
    /// The handshake request, to open the connection again.
    request: HttpRequest,
    transport: TransportHandle,
    inbox: Arc<(Mutex<Inbox>, Condvar)>,
    connected: HashMap<String, String>,
    /// The namespaces to connect again after a dropped connection, with their auth.
    namespaces: Vec<(String, Option<Value>)>,
    /// Per namespace: the recovery pid and the last offset received.
    pids: HashMap<String, String>,
    offsets: HashMap<String, String>,
    recovered: HashMap<String, bool>,
    refused: HashMap<String, ConnectRefused>,
    received: Vec<Received>,
    acks: HashMap<u64, Args>,
    next_ack: u64,
    partial: Option<(Packet, Attachments)>,
    engine_closed: bool,
    /// The server's parser is MessagePack: packets are binary messages, binary data inline.
    msgpack: bool,
}

impl std::fmt::Debug for SocketIoTestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketIoTestClient")
            .field("connected", &self.connected)
            .field("received", &self.received.len())
            .finish()
    }
}

impl SocketIo {
    /// Options for a test client; finish with [`TestClientBuilder::connect`].
    pub fn test_client(&self) -> TestClientBuilder {
        TestClientBuilder::default()
    }
}

impl TestClientBuilder {
    /// Connects to `io`. A refused connection is not an error here: check
    /// [`SocketIoTestClient::is_connected`] and [`SocketIoTestClient::connect_error`], as in
    /// Flask-SocketIO.
    pub fn connect(self, io: &SocketIo) -> SocketIoTestClient {
        let mut query = String::from("EIO=4&transport=websocket");
        if !self.query.is_empty() {
            query.push('&');
            query.push_str(&self.query);
        }
        let request = HttpRequest {
            path: io.path().to_string(),
            query,
            headers: self.headers,
            peer: Some(([127, 0, 0, 1], 0).into()),
            ..Default::default()
        };
        let inbox: Arc<(Mutex<Inbox>, Condvar)> = Arc::default();
        let transport = io
            .engine
            .ws_open_direct(request.clone(), listener(inbox.clone()));
        let mut client = SocketIoTestClient {
            io: io.clone(),
            request,
            transport,
            inbox,
            connected: HashMap::new(),
            namespaces: Vec::new(),
            pids: HashMap::new(),
            offsets: HashMap::new(),
            recovered: HashMap::new(),
            refused: HashMap::new(),
            received: Vec::new(),
            acks: HashMap::new(),
            next_ack: 1,
            partial: None,
            msgpack: io.parser() == crate::Parser::MsgPack,
            engine_closed: false,
        };
        client.process();
        let ns = self.namespace.unwrap_or_else(|| "/".into());
        client.connect(&ns, self.auth);
        client
    }
}

impl SocketIoTestClient {
    /// Connects a client to the default namespace with no auth (Flask's
    /// `socketio.test_client(app)`).
    pub fn new(io: &SocketIo) -> Self {
        io.test_client().connect(io)
    }

    fn send_text(&mut self, text: String) {
        self.io
            .engine
            .ws_message(self.transport, Frame::Text(Bytes::from(text)));
    }

    fn send_packet(
        &mut self,
        kind: PacketKind,
        namespace: &str,
        id: Option<u64>,
        payload: sockio_protocol::Payload,
    ) {
        if self.msgpack {
            let mut out = bytes::BytesMut::new();
            let json = &payload.json;
            sockio_protocol::socketio::msgpack::encode(
                &mut out,
                kind,
                namespace,
                id,
                json,
                &payload.attachments,
            )
            .expect("the test client's JSON is valid");
            let frame = Frame::Binary(out.freeze());
            return self.io.engine.ws_message(self.transport, frame);
        }
        let kind = match (kind, payload.attachments.is_empty()) {
            (PacketKind::Event, false) => PacketKind::BinaryEvent,
            (PacketKind::Ack, false) => PacketKind::BinaryAck,
            (k, _) => k,
        };
        let mut head = bytes::BytesMut::new();
        sockio_protocol::socketio::packet::encode_header(
            &mut head,
            true,
            kind,
            payload.attachments.len(),
            namespace,
            id,
        );
        head.extend_from_slice(&payload.json);
        self.io
            .engine
            .ws_message(self.transport, Frame::Text(head.freeze()));
        for a in payload.attachments {
            self.io.engine.ws_message(self.transport, Frame::Binary(a));
        }
    }

    /// Connects to another namespace; `false` if the server refused.
    pub fn connect(&mut self, namespace: &str, auth: Option<Value>) -> bool {
        self.refused.remove(namespace);
        self.namespaces.retain(|(ns, _)| ns != namespace);
        self.namespaces.push((namespace.to_string(), auth.clone()));
        let prefix = if namespace == "/" {
            String::new()
        } else {
            format!("{namespace},")
        };
        // As socket.io-client: the recovery pid and offset join the auth payload
        // (`Object.assign({pid, offset}, auth)`).
        let auth = match (self.pids.get(namespace), auth) {
            (Some(pid), auth @ (None | Some(Value::Object(_)))) => {
                let mut a = serde_json::Map::new();
                a.insert("pid".into(), Value::from(pid.as_str()));
                if let Some(o) = self.offsets.get(namespace) {
                    a.insert("offset".into(), Value::from(o.as_str()));
                }
                if let Some(Value::Object(user)) = auth {
                    a.extend(user);
                }
                Some(Value::Object(a))
            }
            (_, auth) => auth,
        };
        let auth = auth.map(|a| a.to_string()).unwrap_or_default();
        if self.msgpack {
            let payload = sockio_protocol::Payload::json(auth);
            self.send_packet(PacketKind::Connect, namespace, None, payload);
        } else {
            self.send_text(format!("40{prefix}{auth}"));
        }
        for _ in 0..1000 {
            self.process();
            if self.connected.contains_key(namespace)
                || self.refused.contains_key(namespace)
                || self.engine_closed
            {
                break;
            }
            self.wait_frame(Duration::from_millis(10));
        }
        self.connected.contains_key(namespace)
    }

    /// Whether the client is connected to `namespace`.
    pub fn is_connected(&mut self, namespace: &str) -> bool {
        self.settle();
        self.connected.contains_key(namespace)
    }

    /// The refusal of the last connection attempt to `namespace`, if it was refused.
    pub fn connect_error(&self, namespace: &str) -> Option<&ConnectRefused> {
        self.refused.get(namespace)
    }

    /// The client's sid in `namespace`.
    pub fn sid(&self, namespace: &str) -> Option<&str> {
        self.connected.get(namespace).map(String::as_str)
    }

    /// Whether the last connection to `namespace` was recovered (socket.io-client's
    /// `socket.recovered`): the server sent back the pid the client already had.
    pub fn recovered(&self, namespace: &str) -> bool {
        self.recovered.get(namespace).copied().unwrap_or(false)
    }

    /// The connection drops, as on a network failure: the transport goes away with no close
    /// packet and no namespace disconnect (the server's disconnect handlers see
    /// `transport close`). [`reconnect`](Self::reconnect) opens a new one.
    pub fn drop_connection(&mut self) {
        self.close();
    }

    /// Opens a new connection, as socket.io-client's reconnection does, and connects again to
    /// every namespace the client was connected to (not those it left, nor those the server
    /// disconnected it from), with the same auth plus, when the server recovers connections,
    /// the pid and last offset of each. True when every namespace connected; see
    /// [`recovered`](Self::recovered) for whether the server recovered them.
    pub fn reconnect(&mut self) -> bool {
        self.close();
        let inbox: Arc<(Mutex<Inbox>, Condvar)> = Arc::default();
        self.transport = self
            .io
            .engine
            .ws_open_direct(self.request.clone(), listener(inbox.clone()));
        self.inbox = inbox;
        self.engine_closed = false;
        self.partial = None;
        self.process();
        let mut all = true;
        for (ns, auth) in self.namespaces.clone() {
            all &= self.connect(&ns, auth);
        }
        all
    }

    /// Emits to the default namespace.
    pub fn emit(&mut self, event: &str, args: impl IntoArgs) {
        self.emit_to("/", event, args);
    }

    /// Emits to a namespace.
    pub fn emit_to(&mut self, namespace: &str, event: &str, args: impl IntoArgs) {
        let payload = encode(Some(event), args).expect("test arguments serialize");
        self.send_packet(PacketKind::Event, namespace, None, payload);
        self.process();
    }

    /// Emits and returns the server's acknowledgement (Flask's `emit(..., callback=True)`).
    pub fn emit_with_ack(
        &mut self,
        namespace: &str,
        event: &str,
        args: impl IntoArgs,
    ) -> Option<Args> {
        let id = self.next_ack;
        self.next_ack += 1;
        let payload = encode(Some(event), args).expect("test arguments serialize");
        self.send_packet(PacketKind::Event, namespace, Some(id), payload);
        for _ in 0..1000 {
            self.process();
            if let Some(a) = self.acks.remove(&id) {
                return Some(a);
            }
            if self.engine_closed {
                return None;
            }
            self.wait_frame(Duration::from_millis(10));
        }
        None
    }

    /// Sends a `message` event to the default namespace (Flask's `send`).
    pub fn send(&mut self, data: impl IntoArgs) {
        self.emit("message", data);
    }

    /// Answers a server emit that asked for an acknowledgement.
    pub fn ack(&mut self, namespace: &str, id: u64, args: impl IntoArgs) {
        let payload = encode(None, args).expect("test arguments serialize");
        self.send_packet(PacketKind::Ack, namespace, Some(id), payload);
        self.process();
    }

    /// Everything received in `namespace` since the last call (Flask's `get_received`).
    pub fn get_received(&mut self, namespace: &str) -> Vec<Received> {
        self.settle();
        let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.received)
            .into_iter()
            .partition(|r| r.namespace == namespace);
        self.received = rest;
        mine
    }

    /// Disconnects from a namespace.
    pub fn disconnect(&mut self, namespace: &str) {
        let prefix = if namespace == "/" {
            String::new()
        } else {
            format!("{namespace},")
        };
        if self.msgpack {
            let payload = sockio_protocol::Payload::json(bytes::Bytes::new());
            self.send_packet(PacketKind::Disconnect, namespace, None, payload);
        } else {
            self.send_text(format!("41{prefix}"));
        }
        self.connected.remove(namespace);
        self.forget(namespace);
        self.process();
    }

    /// Closes the whole connection.
    pub fn close(&mut self) {
        if !self.engine_closed {
            self.io.engine.ws_closed(self.transport);
            self.engine_closed = true;
            self.connected.clear();
            self.io.engine.wait_idle(WAIT, || false);
        }
    }

    /// Forgets a namespace the client left or was disconnected from.
    fn forget(&mut self, namespace: &str) {
        self.namespaces.retain(|(ns, _)| ns != namespace);
        self.pids.remove(namespace);
        self.offsets.remove(namespace);
    }

    fn wait_frame(&self, d: Duration) {
        let (m, cv) = &*self.inbox;
        let g = m.lock().unwrap_or_else(|p| p.into_inner());
        if g.frames.is_empty() {
            let _ = cv.wait_timeout(g, d);
        }
    }

    /// Waits for the server's handlers to finish, then reads every frame that arrived.
    /// After sending: waits for the handlers (or their first output), then reads it all.
    fn process(&mut self) {
        self.process_waiting(WAIT);
    }

    /// Reading only: picks up what arrived, waiting briefly for handlers still running.
    fn settle(&mut self) {
        self.process_waiting(SETTLE);
    }

    fn process_waiting(&mut self, first: Duration) {
        let mut wait = first;
        for _ in 0..1000 {
            // A handler may be waiting for this client (an emit with ack), so stop waiting for
            // the server to be idle as soon as something arrives; after that, only wait a
            // short while for more.
            let inbox = self.inbox.clone();
            self.io.engine.wait_idle(wait, move || {
                !inbox
                    .0
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .frames
                    .is_empty()
            });
            wait = SETTLE;
            let frames: Vec<Option<Frame>> = {
                let mut g = self.inbox.0.lock().unwrap_or_else(|p| p.into_inner());
                g.frames.drain(..).collect()
            };
            if frames.is_empty() {
                return;
            }
            for f in frames {
                self.on_frame(f);
            }
        }
    }

    fn on_frame(&mut self, frame: Option<Frame>) {
        let text = match frame {
            None => {
                self.engine_closed = true;
                self.connected.clear();
                return;
            }
            Some(Frame::Binary(b)) if self.msgpack => {
                let limits = sockio_protocol::socketio::msgpack::MsgpackLimits {
                    max_attachments: usize::MAX,
                    max_attachment_bytes: usize::MAX,
                };
                if let Ok((p, attachments)) = sockio_protocol::socketio::msgpack::decode(&b, limits)
                {
                    self.on_packet(p, attachments);
                }
                return;
            }
            Some(Frame::Binary(b)) => {
                if let Some((packet, mut att)) = self.partial.take() {
                    att.push(b);
                    if att.len() == packet.attachments {
                        self.on_packet(packet, att);
                    } else {
                        self.partial = Some((packet, att));
                    }
                }
                return;
            }
            Some(Frame::Text(t)) => t,
        };
        match text.first() {
            Some(b'2') => self.send_text("3".into()),
            Some(b'4') => {
                let Ok(s) = Str::from_bytes(text.slice(1..)) else {
                    return;
                };
                let Ok(p) = Packet::decode(
                    &s,
                    Limits {
                        max_attachments: usize::MAX,
                    },
                ) else {
                    return;
                };
                if p.attachments > 0 {
                    self.partial = Some((p, Attachments::new()));
                } else {
                    self.on_packet(p, Attachments::new());
                }
            }
            Some(b'1') => {
                self.engine_closed = true;
                self.connected.clear();
            }
            _ => {}
        }
    }

    fn on_packet(&mut self, p: Packet, attachments: Attachments) {
        let ns = p.namespace.to_string();
        let value = p.value();
        match p.kind {
            PacketKind::Connect => {
                let sid = value
                    .as_ref()
                    .and_then(|d| d.get("sid"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let pid = value
                    .as_ref()
                    .and_then(|d| d.get("pid"))
                    .and_then(Value::as_str)
                    .map(str::to_string);
                let recovered = pid.is_some() && pid.as_ref() == self.pids.get(&ns);
                self.recovered.insert(ns.clone(), recovered);
                match pid {
                    Some(pid) => {
                        self.pids.insert(ns.clone(), pid);
                    }
                    None => {
                        self.pids.remove(&ns);
                    }
                }
                self.connected.insert(ns, sid);
            }
            PacketKind::ConnectError => {
                let data = value.unwrap_or(Value::Null);
                let message = data
                    .get("message")
                    .and_then(Value::as_str)
                    .or(data.as_str())
                    .unwrap_or_default()
                    .to_string();
                let extra = data.get("data").cloned();
                self.refused.insert(
                    ns,
                    ConnectRefused {
                        message,
                        data: extra,
                    },
                );
            }
            PacketKind::Disconnect => {
                self.connected.remove(&ns);
                self.forget(&ns);
            }
            PacketKind::Event | PacketKind::BinaryEvent => {
                let Some(Value::Array(mut items)) = value else {
                    return;
                };
                if items.is_empty() {
                    return;
                }
                let name = match items.remove(0) {
                    Value::String(s) => s,
                    _ => return,
                };
                // Connection state recovery's offset: remembered, not an argument.
                if p.id.is_none() && self.pids.contains_key(&ns) {
                    if let Some(Value::String(last)) = items.last() {
                        let last = last.clone();
                        // Each shard hands out its own offsets.
                        let offset = self
                            .io
                            .engine
                            .drive_all(|st| st.server.is_recovery_offset(&last));
                        if offset.contains(&true) {
                            items.pop();
                            self.offsets.insert(ns.clone(), last);
                        }
                    }
                }
                let args = Args::new(items, attachments).to_json();
                self.received.push(Received {
                    name,
                    args,
                    namespace: ns,
                    ack: p.id,
                });
            }
            PacketKind::Ack | PacketKind::BinaryAck => {
                let Some(id) = p.id else { return };
                let values = match value {
                    Some(Value::Array(a)) => a,
                    _ => Vec::new(),
                };
                self.acks.insert(id, Args::new(values, attachments));
            }
        }
    }
}

impl Drop for SocketIoTestClient {
    fn drop(&mut self) {
        self.close();
    }
}
