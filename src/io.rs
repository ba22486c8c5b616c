//! [`SocketIo`]: the server handle (Flask-SocketIO's `SocketIO` object).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sockio_protocol::{Config, Cookie, Cors, Frame};

use crate::args::IntoArgs;
use crate::emit::{EmitError, Emitter};
use crate::engine::{Engine, EngineOptions, EventBacklog, Runtime};
use crate::handler::{ConnectHandler, DisconnectHandler, ErrorHandler, Handler};
use crate::queue::{InMemory, MessageQueue, QueueError, QueueMessage, QueueOptions, QueueSink};
use crate::registry::Namespace;

/// The Socket.IO server: register handlers, emit from anywhere, manage rooms, serve.
///
/// Cheap to clone; every clone is the same server. Create one with [`SocketIo::new`] or
/// [`SocketIo::builder`].
///
/// ```no_run
/// use sockio::{Context, SocketIo};
///
/// # #[cfg(feature = "tokio")]
/// #[tokio::main]
/// async fn main() -> std::io::Result<()> {
///     let io = SocketIo::new();
///     io.on("join", |ctx: Context, room: String| {
///         ctx.join_room(room.clone());
///         ctx.to(room).emit("joined", ctx.sid().to_string()) // the room, sender included
///     });
///     let ticker = io.clone(); // the same server, for a background task
///     io.start_background_task(async move {
///         loop {
///             ticker.sleep(std::time::Duration::from_secs(1)).await;
///             let _ = ticker.emit("tick", ()); // everyone in `/`
///         }
///     });
///     io.run("127.0.0.1:5000").await // until Ctrl-C, SIGTERM or io.shutdown()
/// }
/// # #[cfg(not(feature = "tokio"))]
/// # fn main() {}
/// ```
#[derive(Clone)]
pub struct SocketIo {
    pub(crate) engine: Arc<Engine>,
    pub(crate) path: Arc<str>,
}

impl std::fmt::Debug for SocketIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketIo")
            .field("path", &self.path)
            .field("async_mode", &self.async_mode())
            .finish()
    }
}

impl Default for SocketIo {
    fn default() -> Self {
        SocketIo::new()
    }
}

/// Options for a [`SocketIo`]; see [`SocketIo::builder`]. The README's "Options" lists
/// them all with their defaults and their Flask-SocketIO names.
///
/// ```
/// use std::time::Duration;
/// use sockio::{Parser, SocketIo, Transport};
///
/// let io = SocketIo::builder()
///     .ping_interval(Duration::from_secs(10))
///     .cors_allowed_origins(["https://example.com"])
///     .transports(&[Transport::WebSocket])
///     .parser(Parser::MsgPack) // python-socketio's serializer='msgpack'
///     .build();
/// assert_eq!(io.parser(), Parser::MsgPack);
/// ```
#[derive(Clone)]
pub struct SocketIoBuilder {
    config: Config,
    path: String,
    options: EngineOptions,
    queue: Arc<dyn MessageQueue>,
    queue_url: Option<String>,
    queue_options: QueueOptions,
    any_namespace: bool,
    runtime: Option<Arc<dyn Runtime>>,
}

impl std::fmt::Debug for SocketIoBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketIoBuilder")
            .field("config", &self.config)
            .field("path", &self.path)
            .field("options", &self.options)
            .field(
                "queue_url",
                &self.queue_url.as_deref().map(crate::queue::redact),
            )
            .field("queue_options", &self.queue_options)
            .finish()
    }
}

/// The transports clients may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// HTTP long-polling.
    Polling,
    /// WebSocket.
    WebSocket,
}

impl SocketIoBuilder {
    /// The URL path (default `/socket.io/`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        let mut p = path.into();
        if !p.starts_with('/') {
            p.insert(0, '/');
        }
        if !p.ends_with('/') {
            p.push('/');
        }
        self.path = p;
        self
    }

    /// Interval between pings (default 25 s).
    pub fn ping_interval(mut self, d: Duration) -> Self {
        self.config = self.config.ping_interval(d);
        self
    }

    /// Time allowed for a pong (default 20 s).
    pub fn ping_timeout(mut self, d: Duration) -> Self {
        self.config = self.config.ping_timeout(d);
        self
    }

    /// Largest message accepted, in bytes (default 1,000,000; Flask's `max_http_buffer_size`).
    pub fn max_payload(mut self, bytes: usize) -> Self {
        self.config = self.config.max_payload(bytes);
        self
    }

    /// Browser origins allowed to connect: `["*"]` for any, a list of origins, or nothing for
    /// the default, same origin only (Flask's `cors_allowed_origins`).
    pub fn cors_allowed_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let list: Vec<String> = origins.into_iter().map(Into::into).collect();
        let cors = if list.iter().any(|o| o == "*") {
            Cors::Any
        } else if list.is_empty() {
            Cors::SameOrigin
        } else {
            Cors::List(list)
        };
        self.config = self.config.cors(cors);
        self
    }

    /// Whether CORS answers let pages of the allowed origins send credentials (cookies, HTTP
    /// authentication) with their requests: `Access-Control-Allow-Credentials: true`
    /// (Flask's `cors_credentials`). Off by default. With any origin allowed (`["*"]`) and
    /// credentials on, the request's origin is echoed, so every site may make credentialed
    /// requests: prefer a list of origins.
    pub fn cors_credentials(mut self, allow: bool) -> Self {
        self.config = self.config.cors_credentials(allow);
        self
    }

    /// Sets a session cookie (`io` by default) with HttpOnly and SameSite=Lax.
    pub fn cookie(mut self, name: impl Into<String>) -> Self {
        let c = Cookie {
            name: name.into(),
            ..Cookie::default()
        };
        self.config = self.config.cookie(Some(c));
        self
    }

    /// Marks the session cookie `Secure` (sent over HTTPS only), for servers behind TLS.
    /// Needs [`cookie`](Self::cookie) first; default off.
    pub fn cookie_secure(mut self, secure: bool) -> Self {
        let cookie = self
            .config
            .cookie_value()
            .cloned()
            .map(|c| Cookie { secure, ..c });
        self.config = self.config.cookie(cookie);
        self
    }

    /// Whether a client's events may be handled at the same time (Flask-SocketIO's
    /// `async_handlers`; default true): each event starts as soon as it arrives, in arrival
    /// order, and an async handler that waits (for a database, an acknowledgement, a sleep)
    /// does not hold up the client's next events. With `false`, a client's events are handled
    /// one after the other, each starting when the previous one finished. Events of
    /// different clients always run independently.
    pub fn async_handlers(mut self, concurrent: bool) -> Self {
        self.options.async_handlers = concurrent;
        self
    }

    /// Most events of one client received and not yet handled, counting those whose handlers
    /// still run (default 1024). Past it, [`event_backlog`](Self::event_backlog) decides.
    pub fn max_pending_events(mut self, events: usize) -> Self {
        self.options.max_pending_events = events.max(1);
        self
    }

    /// Most bytes of the events of one client received and not yet handled (default 4 MiB,
    /// and never less than one largest message, [`max_payload`](Self::max_payload)). Past
    /// it, [`event_backlog`](Self::event_backlog) decides.
    pub fn max_pending_event_bytes(mut self, bytes: usize) -> Self {
        self.options.max_pending_event_bytes = bytes;
        self
    }

    /// What happens to a client that sends events faster than its handlers finish them, past
    /// [`max_pending_events`](Self::max_pending_events) or
    /// [`max_pending_event_bytes`](Self::max_pending_event_bytes): disconnected with the reason
    /// `too many events` (the default), or paused: the server stops reading from it until its
    /// handlers caught up.
    pub fn event_backlog(mut self, policy: EventBacklog) -> Self {
        self.options.event_backlog = policy;
        self
    }

    /// How long a client that does not read may hold up a write to it (default 30 s); then
    /// its connection is dropped.
    pub fn write_timeout(mut self, d: Duration) -> Self {
        self.options.transport.write_timeout = d;
        self
    }

    /// How long a request head may take to arrive (default 10 s); slower connections are
    /// closed.
    pub fn http_header_timeout(mut self, d: Duration) -> Self {
        self.options.transport.header_timeout = d;
        self
    }

    /// How long a request body may go without progress (default 10 s); overall it must
    /// arrive at [`http_min_body_rate`](Self::http_min_body_rate) or faster.
    pub fn http_body_timeout(mut self, d: Duration) -> Self {
        self.options.transport.body_timeout = d;
        self
    }

    /// The slowest average rate, in bytes per second, a request body may arrive at (default
    /// 16 KiB/s): a body of `n` bytes must be complete within
    /// `http_body_timeout + n / rate` of its head.
    pub fn http_min_body_rate(mut self, bytes_per_second: usize) -> Self {
        self.options.transport.min_body_rate = bytes_per_second.max(1);
        self
    }

    /// The largest request head (request line and headers) accepted, in bytes (default
    /// 16 KiB); larger ones are answered 431.
    pub fn max_http_head(mut self, bytes: usize) -> Self {
        self.options.transport.max_head = bytes;
        self
    }

    /// Most connections still reading or waiting for an HTTP request (not WebSockets, not
    /// long-polling requests the server is answering). When a new connection would go over
    /// it, the one that has waited the longest is closed. Default: half the process's
    /// open-file limit, at most 16,384.
    pub fn max_http_connections(mut self, connections: usize) -> Self {
        self.options.transport.max_http_connections = connections.max(1);
        self
    }

    /// How many independent protocol servers (shards) share the connections (default: one
    /// per CPU the process may use, at most 64). A connection lives on one shard for its life;
    /// what one client does never waits for what a client of another shard does, so the
    /// message path scales with cores. Broadcasts, rooms and counts cover every shard. `1`
    /// runs everything on one.
    pub fn shards(mut self, shards: usize) -> Self {
        self.options.shards = Some(shards.clamp(1, 64));
        self
    }

    /// Most rooms one client may be in per namespace, its own sid's room included (default
    /// 1024); joins past it are refused and logged.
    pub fn max_rooms_per_socket(mut self, rooms: usize) -> Self {
        self.config = self.config.max_rooms_per_socket(rooms.max(1));
        self
    }

    /// The allowed transports (default both).
    pub fn transports(mut self, transports: &[Transport]) -> Self {
        self.config = self
            .config
            .polling(transports.contains(&Transport::Polling))
            .websocket(transports.contains(&Transport::WebSocket));
        self
    }

    /// Default timeout of emits waiting for an acknowledgement (default 60 s).
    pub fn ack_timeout(mut self, d: Duration) -> Self {
        self.options.ack_timeout = d;
        self
    }

    /// The window of [`with_connection_state_recovery`](Self::with_connection_state_recovery):
    /// 2 minutes, socket.io's default `maxDisconnectionDuration`.
    pub const DEFAULT_RECOVERY_WINDOW: Duration = Duration::from_secs(120);

    /// Turns on connection state recovery (socket.io's `connectionStateRecovery`, off by
    /// default) with a window of `window`.
    ///
    /// A client whose connection drops (network loss, ping timeout, the transport failing;
    /// not a namespace disconnect by either side) and that reconnects within the window gets
    /// its socket back: the same sid, the same rooms, the same [session](crate::Context::session_get),
    /// and, before anything else, every event sent to it meanwhile, in order.
    /// [`Context::recovered`] tells a connect handler which case it runs for. The official
    /// JavaScript client (4.6 and later) does its part by itself; each event the server sends
    /// without an acknowledgement and not volatile then carries an offset as its last argument,
    /// which listeners of that client see (as with node's socket.io).
    ///
    /// The server keeps, per namespace, the events of the last `window` (up to 10,000 events
    /// and 8 MiB; see [`RecoveryConfig`] through [`protocol_config`](Self::protocol_config) to
    /// change that) and the state of disconnected sockets. Recovery works within one process:
    /// with a message queue, a client recovers only on the server it left.
    ///
    /// [`Context::recovered`]: crate::Context::recovered
    /// [`RecoveryConfig`]: crate::protocol::RecoveryConfig
    pub fn connection_state_recovery(mut self, window: Duration) -> Self {
        let recovery = self
            .config
            .connection_state_recovery_value()
            .cloned()
            .unwrap_or_default()
            .max_disconnection_duration(window);
        self.config = self.config.connection_state_recovery(Some(recovery));
        self
    }

    /// [`connection_state_recovery`](Self::connection_state_recovery) with the default window
    /// of 2 minutes ([`DEFAULT_RECOVERY_WINDOW`](Self::DEFAULT_RECOVERY_WINDOW)).
    pub fn with_connection_state_recovery(self) -> Self {
        self.connection_state_recovery(Self::DEFAULT_RECOVERY_WINDOW)
    }

    /// How packets are written on the wire (python-socketio's `serializer`, node's
    /// `parser`): [`Parser::Json`](crate::Parser::Json), the default, or
    /// [`Parser::MsgPack`](crate::Parser::MsgPack) for clients that use node's
    /// `socket.io-msgpack-parser` or python-socketio's `serializer='msgpack'`. The whole
    /// server uses one; clients with another cannot connect. Handlers see the same arguments
    /// either way, binary data as [`Binary`](crate::Binary). Set it after `protocol_config`.
    #[doc(alias = "serializer")]
    pub fn parser(mut self, parser: crate::Parser) -> Self {
        self.config = self.config.parser(parser);
        self
    }

    /// Accepts a client's namespace connection before its connect handler runs
    /// (python-socketio's `always_connect`, default false): the client is connected even
    /// while the handler waits, and emits it makes reach the client at once. A handler that
    /// refuses then disconnects the client (`io server disconnect` on its side) instead of
    /// answering with `connect_error`.
    pub fn always_connect(mut self, always: bool) -> Self {
        self.options.always_connect = always;
        self
    }

    /// Whether a long-polling client may upgrade to WebSocket (default true; Flask-SocketIO's
    /// `allow_upgrades`). Off, clients stay on the transport they opened with.
    pub fn allow_upgrades(mut self, allow: bool) -> Self {
        self.config = self.config.allow_upgrades(allow);
        self
    }

    /// Whether long-polling responses are compressed (gzip or deflate) for clients that send
    /// `Accept-Encoding` (default true, as Flask-SocketIO's `http_compression`). WebSocket
    /// messages are never compressed.
    pub fn http_compression(mut self, on: bool) -> Self {
        self.options.http_compression = on;
        self
    }

    /// The smallest polling response that is compressed, in bytes (default 1024, as
    /// Flask-SocketIO's `compression_threshold`).
    pub fn compression_threshold(mut self, bytes: usize) -> Self {
        self.options.compression_threshold = bytes;
        self
    }

    /// Accepts connections to any namespace, not only those with handlers.
    pub fn any_namespace(mut self) -> Self {
        self.any_namespace = true;
        self
    }

    /// Serves plain Engine.IO, without the Socket.IO layer (python-engineio's `Server`):
    /// messages go to [`SocketIo::on_engine_message`] undecoded and are sent with
    /// [`SocketIo::send_engine_message`]; Socket.IO handlers are not used.
    pub fn engineio_only(mut self) -> Self {
        self.config = self.config.engineio_only(true);
        self
    }

    /// Replaces the protocol configuration wholesale (queue caps, limits, timeouts).
    pub fn protocol_config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Uses a message queue to reach clients of other processes.
    pub fn message_queue(mut self, queue: impl MessageQueue) -> Self {
        self.queue = Arc::new(queue);
        self
    }

    /// Uses the message queue a URL names (`redis://`, `amqp://`, `nats://`; each needs its
    /// Cargo feature) to reach the clients of other processes, like Flask-SocketIO's
    /// `message_queue`. See [`crate::queue`].
    pub fn message_queue_url(mut self, url: impl Into<String>) -> Self {
        self.queue_url = Some(url.into());
        self
    }

    /// The message queue's channel (default `flask-socketio`), like Flask-SocketIO's
    /// `channel`.
    pub fn channel(mut self, channel: impl Into<String>) -> Self {
        self.queue_options.channel = channel.into();
        self
    }

    /// Every option of the URL-selected message queue at once.
    pub fn message_queue_options(mut self, options: QueueOptions) -> Self {
        self.queue_options = options;
        self
    }

    /// An emit-only handle: no clients, no subscription; emits, room changes and disconnects
    /// are published for the servers sharing the message queue (Flask-SocketIO's
    /// `SocketIO(message_queue=...)` without an app). Emits return once queued for the
    /// broker; [`SocketIo::flush`] waits until they reached it.
    pub fn write_only(mut self) -> Self {
        self.queue_options.write_only = true;
        self
    }

    /// Like [`write_only`](Self::write_only), and each emit waits until the broker took the
    /// message (up to [`QueueOptions::publish_timeout`]), returning
    /// [`EmitError::Queue`](crate::EmitError::Queue) if it did not: for a plain `fn main`,
    /// such as a cron job, with no async runtime.
    pub fn write_only_blocking(mut self) -> Self {
        self.queue_options.write_only = true;
        self.queue_options.blocking = true;
        self
    }

    /// Runs on this runtime instead of the one chosen by Cargo features: one of
    /// [`crate::runtime`] (`sockio::runtime::Threaded`, …) or a runtime of your own. Serve
    /// with that runtime's serve call.
    pub fn runtime(mut self, runtime: impl Runtime) -> Self {
        self.runtime = Some(Arc::new(runtime));
        self
    }

    /// Builds the server.
    ///
    /// # Panics
    /// If the [message queue URL](Self::message_queue_url) is malformed or its backend's
    /// Cargo feature is off; [`try_build`](Self::try_build) returns that error instead.
    pub fn build(self) -> SocketIo {
        match self.try_build() {
            Ok(io) => io,
            Err(e) => panic!("sockio: bad message queue: {e}"),
        }
    }

    /// Builds the server, or says why the [message queue URL](Self::message_queue_url) is
    /// unusable. A broker that cannot be reached yet is not an error: the queue connects in
    /// the background and keeps retrying.
    pub fn try_build(mut self) -> Result<SocketIo, QueueError> {
        if let Some(url) = self.queue_url.take() {
            self.queue = crate::queue::connect(&url, self.queue_options.clone())?;
        } else if self.queue_options.write_only {
            return Err(QueueError(
                "an emit-only handle needs a message queue URL".into(),
            ));
        }
        let runtime = self.runtime.unwrap_or_else(crate::rt::default_runtime);
        tracing::info!(
            async_mode = runtime.name(),
            queue = self.queue.name(),
            "sockio server created"
        );
        let path: Arc<str> = Arc::from(self.path);
        let engine = Engine::new(self.config, runtime, self.options, self.queue, path.clone());
        engine.update_registry(|r| r.any_namespace = self.any_namespace);
        let engine = Arc::new(engine);
        engine.queue.start(QueueSink::new(&engine));
        Ok(SocketIo { engine, path })
    }
}

impl SocketIo {
    /// A server with default options.
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// Options: path, heartbeats, CORS, cookie, transports, timeouts, message queue.
    pub fn builder() -> SocketIoBuilder {
        SocketIoBuilder {
            config: Config::default(),
            path: "/socket.io/".into(),
            options: EngineOptions::default(),
            queue: Arc::new(InMemory),
            queue_url: None,
            queue_options: QueueOptions::default(),
            any_namespace: false,
            runtime: None,
        }
    }

    pub(crate) fn from_engine(engine: Arc<Engine>) -> Self {
        let path = engine.path.clone();
        SocketIo { engine, path }
    }

    /// The engine path, such as `/socket.io/`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The runtime serving this server: `tokio`, `async-std` or `threading` (Flask-SocketIO's
    /// `async_mode`).
    pub fn async_mode(&self) -> &'static str {
        self.engine.runtime.name()
    }

    /// How this server writes packets on the wire (see [`SocketIoBuilder::parser`]).
    pub fn parser(&self) -> crate::Parser {
        self.engine
            .drive_shard(0, |st| st.server.config().parser_value())
    }

    fn with_registry<R>(&self, f: impl FnOnce(&mut crate::registry::Registry) -> R) -> R {
        self.engine.update_registry(f)
    }

    // ---- handlers --------------------------------------------------------------------------

    /// Registers an event handler in the default namespace (`message` for `send`, `json`
    /// for JSON messages, `*` to catch every unhandled event).
    pub fn on<M, H: Handler<M>>(&self, event: &str, handler: H) -> &Self {
        self.of("/").on(event, handler);
        self
    }

    /// Registers the connect handler of the default namespace.
    pub fn on_connect<M, H: ConnectHandler<M>>(&self, handler: H) -> &Self {
        self.of("/").on_connect(handler);
        self
    }

    /// Registers the disconnect handler of the default namespace.
    pub fn on_disconnect<M, H: DisconnectHandler<M>>(&self, handler: H) -> &Self {
        self.of("/").on_disconnect(handler);
        self
    }

    /// Registers the error handler of the default namespace.
    pub fn on_error<M, H: ErrorHandler<M>>(&self, handler: H) -> &Self {
        self.of("/").on_error(handler);
        self
    }

    /// Registers the error handler for namespaces without their own (Flask's
    /// `on_error_default`).
    pub fn on_error_default<M, H: ErrorHandler<M>>(&self, handler: H) -> &Self {
        let h = handler.into_erased();
        self.with_registry(|r| r.default_error = Some(h));
        self
    }

    /// Decides on the handshake of every new connection, before any session exists (like
    /// python-socketio's and node's `allow_request`): return `false` to refuse it with HTTP
    /// 403 (`{"code":4,"message":"Forbidden"}`), for instance for an origin, a header or a
    /// peer address you do not want. WebSocket upgrades are refused before the 101.
    ///
    /// ```
    /// let io = sockio::SocketIo::new();
    /// io.allow_request(|req: &sockio::HttpRequest| req.header("x-api-key") == Some("secret"));
    /// ```
    pub fn allow_request<F>(&self, allow: F) -> &Self
    where
        F: Fn(&sockio_protocol::HttpRequest) -> bool + Send + Sync + 'static,
    {
        self.with_registry(|r| r.allow_request = Some(Arc::new(allow)));
        self
    }

    /// Registers a class-style namespace.
    pub fn on_namespace<N: Namespace>(&self, namespace: &str, handler: N) -> &Self {
        let h = Arc::new(handler);
        let methods = crate::registry::Events::of(h.clone()).into_bound();
        self.with_registry(|r| {
            let ns = r.namespace_mut(namespace);
            ns.class = Some(h);
            ns.methods = methods;
        });
        self
    }

    /// Handlers and emits of another namespace.
    pub fn of(&self, namespace: &str) -> NamespaceRef<'_> {
        self.with_registry(|r| {
            r.namespace_mut(namespace);
        });
        NamespaceRef {
            io: self,
            namespace: namespace.to_string(),
        }
    }

    /// Registers the handler of plain Engine.IO messages (servers built with
    /// [`SocketIoBuilder::engineio_only`]): it gets the server, the Engine.IO session id and
    /// the message, a text frame without its packet type digit or a binary frame. The
    /// messages of one session are handled in order.
    pub fn on_engine_message<F>(&self, handler: F) -> &Self
    where
        F: Fn(&SocketIo, &str, Frame) + Send + Sync + 'static,
    {
        let h: crate::registry::EngineMessageHandler = Arc::new(handler);
        self.with_registry(|r| r.engine_message = Some(h));
        self
    }

    /// Sends a plain Engine.IO message to session `sid` (servers built with
    /// [`SocketIoBuilder::engineio_only`]): a text frame as a message packet, a binary frame
    /// as a binary message.
    pub fn send_engine_message(&self, sid: &str, message: Frame) -> Result<(), EmitError> {
        self.engine
            .drive_sid(sid, |st| {
                let session = st
                    .server
                    .session_by_sid(sid)
                    .ok_or(EmitError::NoSuchClient)?;
                st.server
                    .send_message(session, message)
                    .map_err(|_| EmitError::QueueFull)
            })
            .unwrap_or(Err(EmitError::NoSuchClient))
    }

    // ---- emitting --------------------------------------------------------------------------

    /// Emits to every client of the default namespace (a server-side emit is a broadcast).
    pub fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), EmitError> {
        self.to_all("/").emit(event, args)
    }

    /// Sends a `message` event to every client of the default namespace.
    pub fn send(&self, data: impl IntoArgs) -> Result<(), EmitError> {
        self.to_all("/").send(data)
    }

    /// Emits to a room (or a client's sid) of the default namespace; chain `.namespace(..)`.
    pub fn to(&self, room: impl Into<String>) -> Emitter {
        self.to_all("/").to(room)
    }

    /// Emits to every client of a namespace.
    pub fn to_all(&self, namespace: &str) -> Emitter {
        Emitter::new(self.engine.clone(), namespace)
    }

    // ---- rooms -----------------------------------------------------------------------------

    /// Puts client `sid` in a room.
    pub fn enter_room(&self, sid: &str, room: &str, namespace: &str) {
        let local = self
            .engine
            .drive_sid(sid, |st| match find(st, sid, namespace) {
                Some(id) => {
                    if let Some(mut s) = st.server.socket(id) {
                        if let Err(e) = s.try_join(room) {
                            tracing::warn!(sid, room, namespace, "join refused: {e}");
                        }
                    }
                    true
                }
                None => false,
            })
            .unwrap_or(false);
        if !local {
            self.publish(QueueMessage::EnterRoom {
                sid: sid.into(),
                namespace: namespace.into(),
                room: room.into(),
            });
        }
    }

    /// Takes client `sid` out of a room.
    pub fn leave_room(&self, sid: &str, room: &str, namespace: &str) {
        let local = self
            .engine
            .drive_sid(sid, |st| match find(st, sid, namespace) {
                Some(id) => {
                    if let Some(mut s) = st.server.socket(id) {
                        s.leave(room);
                    }
                    true
                }
                None => false,
            })
            .unwrap_or(false);
        if !local {
            self.publish(QueueMessage::LeaveRoom {
                sid: sid.into(),
                namespace: namespace.into(),
                room: room.into(),
            });
        }
    }

    /// Removes every client from a room.
    pub fn close_room(&self, room: &str, namespace: &str) {
        self.engine
            .drive_all(|st| st.server.close_room(namespace, room));
        self.publish(QueueMessage::CloseRoom {
            namespace: namespace.into(),
            room: room.into(),
        });
    }

    /// The rooms of client `sid`, its own sid's room first.
    pub fn rooms(&self, sid: &str, namespace: &str) -> Vec<String> {
        self.engine
            .drive_sid(sid, |st| {
                find(st, sid, namespace)
                    .and_then(|id| st.server.socket_info(id))
                    .map(|i| i.rooms.iter().map(|r| r.to_string()).collect())
                    .unwrap_or_default()
            })
            .unwrap_or_default()
    }

    /// The sids of the clients in a room of this process.
    pub fn room_members(&self, room: &str, namespace: &str) -> Vec<String> {
        self.engine
            .drive_all(|st| {
                st.server
                    .room_members(namespace, room)
                    .into_iter()
                    .filter_map(|id| st.server.socket_info(id).map(|i| i.sid.to_string()))
                    .collect::<Vec<_>>()
            })
            .concat()
    }

    /// Disconnects client `sid` from a namespace.
    pub fn disconnect(&self, sid: &str, namespace: &str) {
        let local = self
            .engine
            .drive_sid(sid, |st| match find(st, sid, namespace) {
                Some(id) => {
                    if let Some(s) = st.server.socket(id) {
                        s.disconnect();
                    }
                    true
                }
                None => false,
            })
            .unwrap_or(false);
        if !local {
            self.publish(QueueMessage::Disconnect {
                sid: sid.into(),
                namespace: namespace.into(),
            });
        }
    }

    fn publish(&self, msg: QueueMessage) {
        if self.engine.queue.is_local() {
            return;
        }
        if let Err(e) = self.engine.queue.publish(&msg) {
            tracing::error!(queue = self.engine.queue.name(), "publish failed: {e}");
        }
    }

    /// The message queue this server shares emits and rooms through.
    pub fn message_queue(&self) -> &Arc<dyn MessageQueue> {
        &self.engine.queue
    }

    /// Waits up to `timeout` until every message published so far reached the message
    /// queue's broker (an emit-only handle's emits, before a process exits).
    pub fn flush(&self, timeout: Duration) -> Result<(), QueueError> {
        self.engine.queue.flush(timeout)
    }

    /// What the server holds right now: sessions, sockets, transports, pending
    /// acknowledgements. Everything goes back to zero once every client has left.
    pub fn stats(&self) -> crate::Stats {
        self.engine.stats()
    }

    /// How many shards share the connections (see [`SocketIoBuilder::shards`]).
    pub fn shard_count(&self) -> usize {
        self.engine.shard_count()
    }

    /// Number of connected clients of this process, over all namespaces.
    pub fn connected_count(&self) -> usize {
        self.engine.connected()
    }

    // ---- tasks -----------------------------------------------------------------------------

    /// Runs a future in the background on the server's runtime (Flask-SocketIO's
    /// `start_background_task`).
    pub fn start_background_task<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.engine.runtime.spawn(Box::pin(task));
    }

    /// Sleeps on the server's runtime (Flask-SocketIO's `socketio.sleep`).
    pub async fn sleep(&self, d: Duration) {
        self.engine
            .runtime
            .sleep_until(std::time::Instant::now() + d)
            .await
    }

    /// Closes every connection: clients get what was queued for them, then a close. From
    /// then on new connections are refused. The serving calls do this themselves when their
    /// shutdown signal fires, and wait for it to finish (see
    /// [`shutdown_gracefully`](Self::shutdown_gracefully)).
    pub fn shutdown(&self) {
        self.engine.shutdown();
    }

    /// [`shutdown`](Self::shutdown), then waits until every client has received its last
    /// packets (a polling client's next request brings it its close) and every disconnect
    /// handler has run, for at most the ping timeout or 10 seconds, whichever is shorter.
    pub async fn shutdown_gracefully(&self) {
        self.shutdown();
        let end = std::time::Instant::now() + self.shutdown_grace();
        while !self.engine.is_quiet() && std::time::Instant::now() < end {
            self.sleep(Duration::from_millis(10)).await;
        }
    }

    /// [`shutdown_gracefully`](Self::shutdown_gracefully) for blocking code: waits on this
    /// thread.
    pub fn shutdown_gracefully_blocking(&self) {
        self.shutdown();
        let end = std::time::Instant::now() + self.shutdown_grace();
        while !self.engine.is_quiet() && std::time::Instant::now() < end {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// How long a graceful shutdown waits: the ping timeout (a polling session that sends no
    /// request for that long is gone anyway), at most 10 seconds.
    fn shutdown_grace(&self) -> Duration {
        self.engine.ping_timeout.min(Duration::from_secs(10)) + Duration::from_millis(200)
    }
}

pub(crate) fn find(
    st: &crate::engine::State,
    sid: &str,
    namespace: &str,
) -> Option<sockio_protocol::SocketId> {
    st.server.socket_by_sid(sid).filter(|id| {
        st.server
            .socket_info(*id)
            .is_some_and(|i| i.namespace.as_str() == namespace)
    })
}

/// Handlers and emits of one namespace, from [`SocketIo::of`].
#[derive(Debug)]
pub struct NamespaceRef<'a> {
    io: &'a SocketIo,
    namespace: String,
}

impl NamespaceRef<'_> {
    /// Registers an event handler.
    pub fn on<M, H: Handler<M>>(&self, event: &str, handler: H) -> &Self {
        let h = handler.into_erased();
        self.io.with_registry(|r| {
            r.namespace_mut(&self.namespace)
                .events
                .insert(event.to_string(), h)
        });
        self
    }

    /// Registers the connect handler.
    pub fn on_connect<M, H: ConnectHandler<M>>(&self, handler: H) -> &Self {
        let h = handler.into_erased();
        self.io
            .with_registry(|r| r.namespace_mut(&self.namespace).connect = Some(h));
        self
    }

    /// Registers the disconnect handler.
    pub fn on_disconnect<M, H: DisconnectHandler<M>>(&self, handler: H) -> &Self {
        let h = handler.into_erased();
        self.io
            .with_registry(|r| r.namespace_mut(&self.namespace).disconnect = Some(h));
        self
    }

    /// Registers the error handler.
    pub fn on_error<M, H: ErrorHandler<M>>(&self, handler: H) -> &Self {
        let h = handler.into_erased();
        self.io
            .with_registry(|r| r.namespace_mut(&self.namespace).error = Some(h));
        self
    }

    /// Emits to every client of this namespace.
    pub fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), EmitError> {
        self.io.to_all(&self.namespace).emit(event, args)
    }

    /// Emits to a room of this namespace.
    pub fn to(&self, room: impl Into<String>) -> Emitter {
        self.io.to_all(&self.namespace).to(room)
    }
}
