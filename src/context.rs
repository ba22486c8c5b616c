//! [`Context`]: what a handler knows about the socket and event it runs for.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use std::sync::OnceLock;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use smallvec::SmallVec;
use sockio_protocol::http::HttpRequest;
use sockio_protocol::socketio::binary::Attachments;
use sockio_protocol::socketio::RawJson;
use sockio_protocol::Str;

use crate::args::{from_arg, resolve_placeholders, with_attachments, ArgsError, IntoArgs};
use crate::emit::Emitter;
use crate::engine::{AckError, SocketData};
use crate::handler::{HandlerError, HandlerErrorKind};
use crate::{EmitError, SocketIo};

/// The arguments of an event or acknowledgement, with their binary attachments.
///
/// They are kept as the JSON text the client sent: [`get`](Self::get) (and each typed handler
/// parameter) deserializes one argument straight from it, and passing them on
/// (`ctx.emit("echo", ctx.arguments().clone())`, or returning them as an acknowledgement)
/// copies the text as it came, escapes of lone UTF-16 surrogates included.
/// [`values`](Self::values) builds JSON trees the first time it is asked for them.
#[derive(Default)]
pub struct Args {
    /// The JSON array whose elements are the arguments, after the first `skip` ones (an
    /// event's name); `None` for no arguments.
    json: Option<RawJson>,
    skip: usize,
    attachments: Attachments,
    /// Where the elements are in `json`, found on first use when `json` has no index of
    /// its own (what the protocol core received has one).
    elements: OnceLock<SmallVec<[(u32, u32); 4]>>,
    /// The arguments as trees, built on first use.
    values: OnceLock<Vec<Value>>,
}

impl Clone for Args {
    fn clone(&self) -> Self {
        // What was not worked out yet is not copied (an empty `OnceLock` costs nothing; a
        // filled one is a synchronised write).
        fn copy<T: Clone>(cell: &OnceLock<T>) -> OnceLock<T> {
            cell.get().cloned().map(OnceLock::from).unwrap_or_default()
        }
        Args {
            json: self.json.clone(),
            skip: self.skip,
            attachments: self.attachments.clone(),
            elements: copy(&self.elements),
            values: copy(&self.values),
        }
    }
}

impl std::fmt::Debug for Args {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Args")
            .field("values", &self.values())
            .field("attachments", &self.attachments.len())
            .finish()
    }
}

impl PartialEq for Args {
    fn eq(&self, other: &Self) -> bool {
        self.values() == other.values() && self.attachments == other.attachments
    }
}

impl Args {
    /// Arguments from trees.
    pub(crate) fn new(values: Vec<Value>, attachments: Attachments) -> Self {
        let json = RawJson::from_value(&Value::Array(values.clone()));
        Args {
            json: Some(json),
            skip: 0,
            attachments,
            elements: OnceLock::new(),
            values: OnceLock::from(values),
        }
    }

    /// The elements of `json` (a JSON array as received) after the first `skip`.
    pub(crate) fn from_raw(json: RawJson, skip: usize, attachments: Attachments) -> Self {
        Args {
            json: Some(json),
            skip,
            attachments,
            elements: OnceLock::new(),
            values: OnceLock::new(),
        }
    }

    /// Where every element of the array is, the skipped ones included.
    fn elements(&self) -> &[(u32, u32)] {
        // Free for what the protocol core indexed (every event and acknowledgement received).
        if let Some(indexed) = self.json.as_ref().and_then(RawJson::indexed_elements) {
            return indexed;
        }
        self.elements.get_or_init(|| {
            self.json
                .as_ref()
                .and_then(RawJson::element_ranges)
                .unwrap_or_default()
        })
    }

    /// The arguments' texts.
    fn raw(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        let text = self.text();
        self.ranges()
            .iter()
            .map(move |&(s, e)| &text[s as usize..e as usize])
    }

    /// Where the arguments are in [`text`](Self::text) (the skipped elements left out).
    fn ranges(&self) -> &[(u32, u32)] {
        let all = self.elements();
        &all[self.skip.min(all.len())..]
    }

    /// The JSON text of the whole array (empty for no arguments).
    fn text(&self) -> &str {
        self.json.as_ref().map_or("", RawJson::as_str)
    }

    /// The arguments as JSON values (binary arguments are placeholders; see
    /// [`get`](Self::get)); escapes of lone surrogates read as U+FFFD.
    pub fn values(&self) -> &[Value] {
        self.values.get_or_init(|| {
            self.raw()
                .map(|text| {
                    sockio_protocol::socketio::json::from_str_lossy(text).unwrap_or(Value::Null)
                })
                .collect()
        })
    }

    /// The JSON text of argument `i` as the client sent it.
    pub fn raw_json(&self, i: usize) -> Option<&str> {
        self.raw().nth(i)
    }

    /// The binary attachments.
    pub fn attachments(&self) -> &Attachments {
        &self.attachments
    }

    /// Number of arguments.
    pub fn len(&self) -> usize {
        match self.values.get() {
            Some(v) => v.len(),
            None => self.raw().len(),
        }
    }

    /// Whether there are no arguments.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Argument `i` deserialized as `T` ([`Binary`](crate::Binary) reads attachments); a
    /// missing argument reads as `null`.
    pub fn get<T: DeserializeOwned>(&self, i: usize) -> Result<T, ArgsError> {
        if let Some(values) = self.values.get() {
            return from_arg(values, i, &self.attachments);
        }
        let text = self.raw().nth(i).unwrap_or("null");
        with_attachments(&self.attachments, || {
            sockio_protocol::socketio::json::from_str_lossy::<T>(text)
        })
        .map_err(|e| ArgsError(e.to_string()))
    }

    /// The first element of the whole array, `skip` or not, as a string: the name of an
    /// event. Read straight from the text when it has no escapes.
    pub(crate) fn leading_str(&self) -> Option<Str> {
        let &(start, end) = self.elements().first()?;
        let json = self.json.as_ref()?.as_text();
        let text = &json[start as usize..end as usize];
        match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
            // A slice of the text received: nothing copied.
            Some(plain) if !plain.contains('\\') => {
                Some(json.slice(start as usize + 1..end as usize - 1))
            }
            _ => sockio_protocol::socketio::json::from_str_lossy::<String>(text)
                .ok()
                .map(Str::from),
        }
    }

    /// The arguments from position `n` on, with their attachments (the leading ones dropped,
    /// as Python's `args[n:]`).
    pub fn skip(&self, n: usize) -> Args {
        if self.values.get().is_some() && self.json.is_none() {
            return Args::new(
                self.values().iter().skip(n).cloned().collect(),
                self.attachments.clone(),
            );
        }
        Args {
            json: self.json.clone(),
            skip: self.skip + n,
            attachments: self.attachments.clone(),
            elements: self.elements.clone(),
            values: self
                .values
                .get()
                .map(|v| OnceLock::from(v.iter().skip(n).cloned().collect::<Vec<_>>()))
                .unwrap_or_default(),
        }
    }

    /// The arguments as plain JSON, binary data as arrays of byte values.
    pub fn to_json(&self) -> Vec<Value> {
        self.values()
            .iter()
            .map(|v| resolve_placeholders(v, &self.attachments))
            .collect()
    }
}

/// Received arguments go back out as they came, binary attachments included:
/// `ctx.emit("echo", ctx.arguments().clone())` or returning them as the acknowledgement.
impl IntoArgs for Args {
    fn write_args(self, w: &mut crate::args::ArgsWriter) -> Result<(), ArgsError> {
        // As they came, when their placeholders keep their numbers: nothing else in this
        // packet has attachments yet, and none of the attachments is left behind.
        let whole = self.skip == 0 || self.attachments.is_empty();
        if self.json.is_some() && whole && w.take_attachments_as_they_are(&self.attachments) {
            // One copy of the text from the first argument to the last.
            let ranges = self.ranges();
            if let (Some(first), Some(last)) = (ranges.first(), ranges.last()) {
                let joined = &self.text()[first.0 as usize..last.1 as usize];
                w.raw_args(joined, ranges.len());
            }
            return Ok(());
        }
        let attachments = &self.attachments;
        self.values()
            .iter()
            .try_for_each(|value| w.arg(&Restored { value, attachments }))
    }
}

/// A received value whose attachment placeholders serialize as the binary data they stand
/// for (and so become attachments of the outgoing packet again).
struct Restored<'a> {
    value: &'a Value,
    attachments: &'a Attachments,
}

impl Serialize for Restored<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        let attachments = self.attachments;
        if let Some(num) = sockio_protocol::socketio::binary::is_placeholder(self.value) {
            if let Some(data) = attachments.get(num) {
                return crate::Binary(data.clone()).serialize(s);
            }
        }
        match self.value {
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for value in items {
                    seq.serialize_element(&Restored { value, attachments })?;
                }
                seq.end()
            }
            Value::Object(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (k, value) in fields {
                    map.serialize_entry(k, &Restored { value, attachments })?;
                }
                map.end()
            }
            other => other.serialize(s),
        }
    }
}

/// The request that opened the connection: headers, cookies, query string and peer address
/// (Flask's `request` during a Socket.IO handler).
#[derive(Debug, Clone, Default)]
pub struct Request(Arc<HttpRequest>);

impl Request {
    pub(crate) fn from_shared(r: Arc<HttpRequest>) -> Self {
        Request(r)
    }

    /// The path of the handshake request.
    pub fn path(&self) -> &str {
        &self.0.path
    }

    /// Headers with lower-case names.
    pub fn headers(&self) -> &[(String, String)] {
        &self.0.headers
    }

    /// A header by name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.0.header(name)
    }

    /// A cookie by name.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.0.cookie(name)
    }

    /// The raw query string.
    pub fn query_string(&self) -> &str {
        &self.0.query
    }

    /// A query parameter, decoded.
    pub fn query(&self, name: &str) -> Option<String> {
        self.0.query_param(name).map(|c| c.into_owned())
    }

    /// The peer's address, when known (behind a proxy, see the `x-forwarded-for` header).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.0.peer
    }
}

/// Everything a handler can see and do: the socket (sid, namespace, rooms, session), the
/// event and its arguments, the handshake request, and emitting.
///
/// ```
/// use sockio::{Context, SocketIo};
///
/// let io = SocketIo::new();
/// io.on("rename", |ctx: Context, name: String| {
///     let old: Option<String> = ctx.session_get("name");
///     ctx.session_set("name", &name)?;
///     ctx.broadcast()
///         .include_self(false)
///         .emit("renamed", (old, name, ctx.request().header("user-agent")))?;
///     Ok::<_, sockio::HandlerError>(ctx.rooms()) // the acknowledgement
/// });
/// let mut client = io.test_client().header("user-agent", "test").connect(&io);
/// let rooms = client.emit_with_ack("/", "rename", "ann").unwrap();
/// assert_eq!(rooms.get::<Vec<String>>(0).unwrap(), vec![client.sid("/").unwrap()]);
/// ```
#[derive(Clone)]
pub struct Context {
    /// The socket (and, through it, the engine: a context clones no engine handle, whose
    /// count every thread would share).
    pub(crate) data: Arc<SocketData>,
    event: Option<Str>,
    args: Arc<Args>,
    ack: Option<u64>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("sid", &self.data.sid)
            .field("namespace", &self.data.namespace)
            .field("event", &self.event)
            .field("args", &self.args.len())
            .finish()
    }
}

impl Context {
    pub(crate) fn new(
        data: Arc<SocketData>,
        event: Option<Str>,
        args: Args,
        ack: Option<u64>,
    ) -> Self {
        Context {
            data,
            event,
            args: Arc::new(args),
            ack,
        }
    }

    /// The socket's session id (Flask's `request.sid`).
    pub fn sid(&self) -> &str {
        &self.data.sid
    }

    /// The namespace (Flask's `request.namespace`).
    pub fn namespace(&self) -> &str {
        &self.data.namespace
    }

    /// Whether connection state recovery restored this socket after its connection dropped
    /// (socket.io's `socket.recovered`): it kept its sid, rooms and session, and the events it
    /// missed are delivered right after it is accepted. Always false unless the server was
    /// built with [`connection_state_recovery`](crate::SocketIoBuilder::connection_state_recovery).
    pub fn recovered(&self) -> bool {
        self.data.recovered
    }

    /// The event being handled; `None` in connect and disconnect handlers.
    pub fn event(&self) -> Option<&str> {
        self.event.as_deref()
    }

    /// The event's raw arguments.
    pub fn args(&self) -> &[Value] {
        self.args.values()
    }

    /// The event's arguments with their attachments.
    pub fn arguments(&self) -> &Args {
        &self.args
    }

    /// The event's binary attachments.
    pub fn attachments(&self) -> &Attachments {
        self.args.attachments()
    }

    /// Argument `i` deserialized as `T`.
    pub fn arg<T: DeserializeOwned>(&self, i: usize) -> Result<T, HandlerError> {
        self.args
            .get(i)
            .map_err(|e| HandlerError::with_kind(HandlerErrorKind::BadArguments, e.0))
    }

    /// Whether the client asked for an acknowledgement of this event.
    pub fn wants_ack(&self) -> bool {
        self.ack.is_some()
    }

    /// The handshake request.
    pub fn request(&self) -> &Request {
        &self.data.client.request
    }

    /// The server this socket belongs to.
    pub fn io(&self) -> SocketIo {
        SocketIo::from_engine(self.data.engine.clone())
    }

    // ---- session ---------------------------------------------------------------------------

    /// A value from the per-connection session (Flask's `session` in Socket.IO handlers).
    pub fn session_get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        let s = self.data.session.lock().unwrap_or_else(|p| p.into_inner());
        s.get(key)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }

    /// Stores a value in the per-connection session.
    pub fn session_set<T: Serialize>(&self, key: &str, value: T) -> Result<(), ArgsError> {
        let v = serde_json::to_value(value).map_err(|e| ArgsError(e.to_string()))?;
        let mut s = self.data.session.lock().unwrap_or_else(|p| p.into_inner());
        s.insert(key.to_string(), v);
        Ok(())
    }

    /// Removes a value from the session.
    pub fn session_remove(&self, key: &str) -> Option<Value> {
        let mut s = self.data.session.lock().unwrap_or_else(|p| p.into_inner());
        s.remove(key)
    }

    /// Runs `f` on the whole session map.
    pub fn with_session<R>(&self, f: impl FnOnce(&mut serde_json::Map<String, Value>) -> R) -> R {
        let mut s = self.data.session.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut s)
    }

    // ---- emitting --------------------------------------------------------------------------

    fn to_me(&self) -> Emitter {
        Emitter::new(self.data.engine.clone(), &self.data.namespace)
            .to(self.data.sid.clone())
            .with_sender(self.data.sid.clone())
    }

    /// Emits an event to this client (Flask's `emit` inside a handler).
    pub fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), EmitError> {
        let payload = crate::args::encode(Some(event), args)?;
        self.emit_payload(payload)
    }

    /// Sends a `message` event to this client (Flask's `send`).
    pub fn send(&self, data: impl IntoArgs) -> Result<(), EmitError> {
        self.emit("message", data)
    }

    /// Queues an encoded event for this client: straight to its socket while it is connected
    /// here, otherwise by sid (a recovered connection has a new socket with the same sid).
    fn emit_payload(&self, payload: sockio_protocol::Payload) -> Result<(), EmitError> {
        let id = self.data.id;
        let sent =
            self.data
                .engine
                .drive_shard(self.data.shard, move |st| match st.server.socket(id) {
                    Some(mut s) => Ok(s.emit(payload).is_ok()),
                    None => Err(payload),
                });
        match sent {
            Ok(true) => Ok(()),
            Ok(false) => Err(EmitError::QueueFull),
            Err(payload) => self.to_me().deliver(payload),
        }
    }

    /// Emits to this client and calls `callback` with its acknowledgement (or the failure).
    pub fn emit_with_ack(
        &self,
        event: &str,
        args: impl IntoArgs,
        callback: impl FnOnce(Result<Args, AckError>) + Send + 'static,
    ) -> Result<(), EmitError> {
        self.to_me().emit_with_ack(event, args, callback)
    }

    /// Emits to this client and waits for its acknowledgement, up to the server's ack timeout.
    pub async fn call(&self, event: &str, args: impl IntoArgs) -> Result<Args, AckError> {
        self.to_me().call(event, args).await
    }

    /// Like [`call`](Self::call) with an explicit timeout.
    pub async fn call_timeout(
        &self,
        event: &str,
        args: impl IntoArgs,
        timeout: Duration,
    ) -> Result<Args, AckError> {
        self.to_me().timeout(timeout).call(event, args).await
    }

    /// Emits to a room of this namespace (the sender included if it is in the room); chain
    /// `.to(..)` for more rooms.
    pub fn to(&self, room: impl Into<String>) -> Emitter {
        Emitter::new(self.data.engine.clone(), &self.data.namespace)
            .to(room)
            .with_sender(self.data.sid.clone())
    }

    /// This client's sid in another namespace it is connected to, if it is.
    ///
    /// A client has one Engine.IO session and one socket, with its own sid, per namespace it
    /// joined: the sid of `/` names nobody in `/chat`. This finds its socket there through
    /// its session.
    pub fn sid_in(&self, namespace: &str) -> Option<String> {
        let session = self.data.engine_session;
        // A client's sockets all live on its session's shard.
        self.data.engine.drive_shard(self.data.shard, |st| {
            let id = st.server.session_socket(session, namespace)?;
            let info = st.server.socket_info(id)?;
            info.connected.then(|| info.sid.to_string())
        })
    }

    /// Emits to this same client in another namespace: its socket there, found through its
    /// Engine.IO session (see [`sid_in`](Self::sid_in)).
    /// [`EmitError::NoSuchClient`] when it is not connected to that namespace.
    ///
    /// ```
    /// # use sockio::{Context, SocketIo};
    /// let io = SocketIo::new();
    /// io.of("/chat").on_connect(|_: Context| ());
    /// io.on("hello chat", |ctx: Context| {
    ///     // not `ctx.to(ctx.sid()).namespace("/chat")`: that room is empty in /chat
    ///     ctx.in_namespace("/chat")?.emit("hello", "from /")
    /// });
    /// let mut client = io.test_client().connect(&io);
    /// client.connect("/chat", None);
    /// client.emit("hello chat", ());
    /// assert_eq!(client.get_received("/chat")[0].name, "hello");
    /// ```
    pub fn in_namespace(&self, namespace: &str) -> Result<Emitter, EmitError> {
        let sid = self.sid_in(namespace).ok_or(EmitError::NoSuchClient)?;
        Ok(Emitter::new(self.data.engine.clone(), namespace)
            .to(sid.clone())
            .with_sender(sid))
    }

    /// Broadcasts to the whole namespace (Flask's `broadcast=True`); the sender is included
    /// unless `.include_self(false)`.
    pub fn broadcast(&self) -> Emitter {
        Emitter::new(self.data.engine.clone(), &self.data.namespace)
            .with_sender(self.data.sid.clone())
    }

    // ---- rooms -----------------------------------------------------------------------------

    /// Puts this client in a room (Flask's `join_room`).
    pub fn join_room(&self, room: impl Into<String>) {
        let io = self.io();
        io.enter_room(&self.data.sid, &room.into(), &self.data.namespace);
    }

    /// Takes this client out of a room (Flask's `leave_room`).
    pub fn leave_room(&self, room: &str) {
        self.io()
            .leave_room(&self.data.sid, room, &self.data.namespace);
    }

    /// Removes everybody from a room of this namespace (Flask's `close_room`).
    pub fn close_room(&self, room: &str) {
        self.io().close_room(room, &self.data.namespace);
    }

    /// The rooms this client is in, its own sid's room first (Flask's `rooms()`).
    pub fn rooms(&self) -> Vec<String> {
        self.io().rooms(&self.data.sid, &self.data.namespace)
    }

    /// Disconnects this client from the namespace (Flask's `disconnect()`).
    pub fn disconnect(&self) {
        self.io().disconnect(&self.data.sid, &self.data.namespace);
    }
}
