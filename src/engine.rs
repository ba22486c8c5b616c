//! The runtime-agnostic driver: owns the protocol [`Server`], routes its transmits to transport
//! sinks, runs the timer, and runs handlers: each event starts on the task that received it,
//! in arrival order, and one that waits goes on in a task of its own (or, with
//! `async_handlers(false)`, in its socket's task, which handles the socket's events one after
//! the other). Every event counts against its client's pending-events budget until handled.
//!
//! Every runtime uses this same driver; a runtime only supplies I/O, `spawn` and `sleep_until`
//! (see [`Runtime`]). The protocol server sits behind one mutex whose critical sections are
//! short: one input or command plus draining the outputs (a broadcast to N sockets is N
//! reference-count bumps). User code never runs under the lock.

use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use futures_lite::FutureExt as _;
use serde_json::Value;
use sockio_protocol::http::{Frame, HttpRequest, HttpResponse};
use sockio_protocol::socketio::binary::Attachments;
use sockio_protocol::socketio::RawJson;
use sockio_protocol::{
    AckId, DisconnectReason, Entropy, Event, Input, Output, Payload, Server, SessionHandle,
    SocketId, Transmit, TransportHandle, WsOut,
};

use crate::handler::{BoxFuture, ConnectError, HandlerError, HandlerErrorKind};
use crate::mailbox::Mailbox;
use crate::registry::Registry;
use crate::{Args, Context, Request};

/// What a runtime adapter gives the driver: spawning and sleeping.
pub trait Runtime: Send + Sync + 'static {
    /// Runs a future to completion in the background.
    fn spawn(&self, future: BoxFuture<()>);
    /// A future that completes at `deadline`.
    fn sleep_until(&self, deadline: Instant) -> BoxFuture<()>;
    /// The runtime's name, like Flask-SocketIO's `async_mode`.
    fn name(&self) -> &'static str;
}

/// Ids from the operating system's CSPRNG.
struct OsEntropy;

impl Entropy for OsEntropy {
    fn fill(&mut self, buf: &mut [u8]) {
        if getrandom::fill(buf).is_err() {
            // No entropy source is a broken platform; sids must not be predictable.
            panic!("the operating system's random number generator failed");
        }
    }
}

/// Where a transport's transmits go.
pub(crate) enum Sink {
    /// A pending HTTP request: its response.
    Http(async_channel::Sender<HttpResponse>),
    /// A WebSocket's writer.
    Ws(Arc<dyn WsSink>),
}

/// The writing side of a WebSocket: a bounded buffer in front of the runtime adapter's
/// writer. When it is full the protocol core is told the WebSocket is blocked, the messages
/// already produced wait in a backlog (at most what one drain produced for it), and a task
/// hands them over as room comes back, then tells the core it is writable again.
pub(crate) trait WsSink: Send + Sync + 'static {
    /// Hands `m` over without waiting; gives it back when the buffer is full. A message for a
    /// connection that is gone is dropped.
    fn try_send(&self, m: WsOut) -> Result<(), WsOut>;
    /// Waits for room, then hands `m` over; false when the connection is gone.
    fn send(&self, m: WsOut) -> BoxFuture<bool>;
}

impl WsSink for async_channel::Sender<WsOut> {
    fn try_send(&self, m: WsOut) -> Result<(), WsOut> {
        match async_channel::Sender::try_send(self, m) {
            Err(async_channel::TrySendError::Full(m)) => Err(m),
            Ok(()) | Err(async_channel::TrySendError::Closed(_)) => Ok(()),
        }
    }

    fn send(&self, m: WsOut) -> BoxFuture<bool> {
        let tx = self.clone();
        Box::pin(async move { tx.send(m).await.is_ok() })
    }
}

/// What happens to a client that sends events faster than its handlers finish them (see
/// [`SocketIoBuilder::event_backlog`](crate::SocketIoBuilder::event_backlog)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventBacklog {
    /// The client is disconnected; its disconnect handlers see the reason
    /// [`DisconnectReason::TooManyEvents`] (`too many events`).
    #[default]
    Disconnect,
    /// The server stops reading from the client until its handlers caught up (WebSocket
    /// messages stay unread, a long-polling POST is answered later); the client stays
    /// connected.
    Pause,
}

/// The settings of the driver and of the runtime adapters, from the builder.
#[derive(Debug, Clone)]
pub(crate) struct EngineOptions {
    pub(crate) ack_timeout: Duration,
    pub(crate) async_handlers: bool,
    pub(crate) max_pending_events: usize,
    pub(crate) max_pending_event_bytes: usize,
    pub(crate) event_backlog: EventBacklog,
    /// Accept namespace connections before the connect handler runs (python-socketio's
    /// `always_connect`); a refusal then disconnects.
    pub(crate) always_connect: bool,
    /// Polling bodies compressed when the client accepts it, from `compression_threshold`
    /// bytes on.
    pub(crate) http_compression: bool,
    pub(crate) compression_threshold: usize,
    /// The adapters' settings; the path and size limits are filled in from the server's.
    pub(crate) transport: sockio_protocol::TransportConfig,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            ack_timeout: Duration::from_secs(60),
            async_handlers: true,
            max_pending_events: 1024,
            max_pending_event_bytes: 4 << 20,
            event_backlog: EventBacklog::Disconnect,
            always_connect: false,
            http_compression: true,
            compression_threshold: 1024,
            transport: sockio_protocol::TransportConfig {
                max_http_connections: sockio_protocol::http::default_max_http_connections(
                    open_file_limit(),
                ),
                ..sockio_protocol::TransportConfig::default()
            },
        }
    }
}

/// The soft limit of open files of this process, where the platform says.
fn open_file_limit() -> Option<u64> {
    // `ulimit -n` as /proc shows it; elsewhere the adapters' default applies.
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The answer to an emit with acknowledgement.
pub(crate) type AckCallback = Box<dyn FnOnce(Result<Args, AckError>) + Send>;

/// What a server holds right now, for diagnostics and leak checks ([`SocketIo::stats`]).
///
/// [`SocketIo::stats`]: crate::SocketIo::stats
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Engine.IO sessions (connections), closing ones included.
    pub sessions: usize,
    /// Socket.IO sockets (one per namespace a client joined), pending ones included.
    pub sockets: usize,
    /// Transports the server can write to: open WebSockets and parked polling requests.
    pub transports: usize,
    /// Server emits waiting for the client's acknowledgement.
    pub pending_acks: usize,
    /// Sockets whose handlers still have events to run.
    pub socket_tasks: usize,
}

/// Why an acknowledgement did not arrive.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AckError {
    /// The timeout passed first.
    #[error("acknowledgement timed out")]
    Timeout,
    /// The client disconnected first.
    #[error("client disconnected before acknowledging")]
    Disconnected,
    /// The emit itself could not be queued.
    #[error("emit failed: {0}")]
    Emit(#[from] crate::EmitError),
}

/// An event for a socket's ordered task.
pub(crate) enum SocketEvent {
    Connect(Option<Value>),
    Message {
        data: RawJson,
        attachments: Attachments,
        ack: Option<u64>,
        /// Counts the event against its client's pending-events budget until dropped.
        pending: Pending,
    },
    Disconnect(DisconnectReason),
    /// The rest of an event handled on the task that received it, which had to wait: the
    /// socket's task finishes it before anything else.
    Resume(BoxFuture<()>),
}

/// What the driver keeps about one Engine.IO session (one client connection).
pub(crate) struct SessionData {
    /// The handshake request, shared with the protocol core (one copy per session).
    pub(crate) request: Arc<Request>,
    /// Events received from this client and not yet handled, over all its sockets.
    events: AtomicUsize,
    event_bytes: AtomicUsize,
    /// Closed while reading from this client is paused ([`EventBacklog::Pause`]).
    pub(crate) gate: Arc<Gate>,
}

impl SessionData {
    fn new(request: Arc<Request>) -> Self {
        SessionData {
            request,
            events: AtomicUsize::new(0),
            event_bytes: AtomicUsize::new(0),
            gate: Arc::default(),
        }
    }

    /// Counts an event of `bytes` against the budget; false (and nothing counted) when it
    /// does not fit, unless `force`.
    fn reserve(
        self: &Arc<Self>,
        bytes: usize,
        caps: (usize, usize),
        force: bool,
    ) -> Option<Pending> {
        let events = self.events.fetch_add(1, Ordering::AcqRel) + 1;
        let total = self.event_bytes.fetch_add(bytes, Ordering::AcqRel) + bytes;
        // One event always fits, whatever its size.
        let fits = events == 1 || (events <= caps.0 && total <= caps.1);
        let pending = Pending {
            session: self.clone(),
            bytes,
            caps,
        };
        if fits || force {
            Some(pending)
        } else {
            drop(pending);
            None
        }
    }
}

/// One event counted against its client's pending-events budget, released when dropped (the
/// event was handled, or thrown away with its socket).
pub(crate) struct Pending {
    session: Arc<SessionData>,
    bytes: usize,
    caps: (usize, usize),
}

impl Drop for Pending {
    fn drop(&mut self) {
        let s = &self.session;
        let events = s.events.fetch_sub(1, Ordering::AcqRel) - 1;
        let bytes = s.event_bytes.fetch_sub(self.bytes, Ordering::AcqRel) - self.bytes;
        // A paused client reads again once its handlers caught up to half the budget.
        if s.gate.is_closed() && events <= self.caps.0 / 2 && bytes <= self.caps.1 / 2 {
            s.gate.open();
        }
    }
}

/// A gate readers wait at while a client is paused.
#[derive(Default)]
pub(crate) struct Gate {
    closed: AtomicBool,
    waiters: Mutex<Vec<std::task::Waker>>,
}

impl Gate {
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    fn open(&self) {
        self.closed.store(false, Ordering::Release);
        let waiters = std::mem::take(&mut *self.waiters.lock().unwrap_or_else(|p| p.into_inner()));
        waiters.into_iter().for_each(std::task::Waker::wake);
    }

    /// Resolves once the gate is open.
    pub(crate) fn wait(self: Arc<Self>) -> BoxFuture<()> {
        Box::pin(std::future::poll_fn(move |cx| {
            if !self.is_closed() {
                return std::task::Poll::Ready(());
            }
            let mut waiters = self.waiters.lock().unwrap_or_else(|p| p.into_inner());
            // Checked again under the lock `open` takes after clearing the flag.
            if !self.is_closed() {
                return std::task::Poll::Ready(());
            }
            if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
                waiters.push(cx.waker().clone());
            }
            std::task::Poll::Pending
        }))
    }
}

/// A socket's session map, as kept across a recovered reconnection.
type SocketSession = Arc<Mutex<serde_json::Map<String, Value>>>;

/// What the driver keeps about a socket for its handlers.
pub(crate) struct SocketData {
    pub(crate) id: SocketId,
    pub(crate) sid: String,
    pub(crate) namespace: String,
    /// Its client's connection.
    pub(crate) client: Arc<SessionData>,
    pub(crate) engine_session: SessionHandle,
    /// Shared with the next connection when connection state recovery restores the socket.
    pub(crate) session: Arc<Mutex<serde_json::Map<String, Value>>>,
    /// Whether connection state recovery restored this socket.
    pub(crate) recovered: bool,
    /// The events its task handles, in order.
    queue: Mailbox<SocketEvent>,
}

pub(crate) struct State {
    pub(crate) server: Server,
    sinks: HashMap<TransportHandle, Sink>,
    pub(crate) sockets: HashMap<SocketId, Arc<SocketData>>,
    pub(crate) sessions: HashMap<SessionHandle, Arc<SessionData>>,
    acks: HashMap<SocketId, HashMap<AckId, AckCallback>>,
    deadline: Option<Instant>,
    /// What blocked WebSockets still have to take, in order.
    backlog: HashMap<TransportHandle, VecDeque<WsOut>>,
    /// WebSockets found full during this drain; the core hears of it at its end.
    newly_blocked: Vec<TransportHandle>,
}

/// Work to do once the lock is released.
#[derive(Default)]
struct After {
    spawn: Vec<Arc<SocketData>>,
    /// Events handled right away, on the task that received them (their sockets' turns
    /// claimed).
    inline: Vec<(Arc<SocketData>, SocketEvent)>,
    callbacks: Vec<(AckCallback, Result<Args, AckError>)>,
    /// Plain Engine.IO messages: the session's sid and the message.
    engine_messages: Vec<(String, Frame)>,
    /// Blocked WebSockets that need a task to feed their backlog.
    blocked: Vec<(TransportHandle, Arc<dyn WsSink>)>,
    wake_timer: bool,
}

pub(crate) struct Engine {
    state: Mutex<State>,
    pub(crate) registry: RwLock<Registry>,
    pub(crate) runtime: Arc<dyn Runtime>,
    next_transport: AtomicU64,
    timer_started: AtomicBool,
    timer_wake: (async_channel::Sender<()>, async_channel::Receiver<()>),
    /// Socket events queued but not yet handled, for the test client's quiescence wait: one
    /// atomic operation per event; the condition variable is only signalled while somebody
    /// waits on it.
    in_flight: AtomicUsize,
    idle: (Mutex<()>, Condvar),
    idle_waiters: AtomicUsize,
    pub(crate) ack_timeout: Duration,
    pub(crate) options: EngineOptions,
    pub(crate) queue: Arc<dyn crate::queue::MessageQueue>,
    connected_sockets: AtomicUsize,
    /// The engine path (`/socket.io/`).
    pub(crate) path: Arc<str>,
    /// The largest polling body or WebSocket message the server accepts; runtime adapters
    /// size their own read limits from it.
    pub(crate) max_payload: usize,
    /// The protocol's ping timeout: how long a polling session may go without a request.
    pub(crate) ping_timeout: Duration,
    /// Open once [`shutdown`](Self::shutdown) was called: the serving calls return then.
    pub(crate) stopping: Arc<Gate>,
}

impl Engine {
    pub(crate) fn new(
        config: sockio_protocol::Config,
        runtime: Arc<dyn Runtime>,
        options: EngineOptions,
        queue: Arc<dyn crate::queue::MessageQueue>,
        path: Arc<str>,
    ) -> Self {
        let ack_timeout = options.ack_timeout;
        let max_payload = config.max_payload_value();
        let ping_timeout = config.ping_timeout_value();
        Engine {
            path,
            max_payload,
            ping_timeout,
            state: Mutex::new(State {
                server: Server::new(config, Box::new(OsEntropy), Instant::now()),
                sinks: HashMap::new(),
                sockets: HashMap::new(),
                sessions: HashMap::new(),
                acks: HashMap::new(),
                deadline: None,
                backlog: HashMap::new(),
                newly_blocked: Vec::new(),
            }),
            registry: RwLock::new(Registry::default()),
            runtime,
            next_transport: AtomicU64::new(1),
            timer_started: AtomicBool::new(false),
            timer_wake: async_channel::bounded(1),
            in_flight: AtomicUsize::new(0),
            idle: (Mutex::new(()), Condvar::new()),
            idle_waiters: AtomicUsize::new(0),
            ack_timeout,
            options,
            queue,
            connected_sockets: AtomicUsize::new(0),
            stopping: {
                let gate = Gate::default();
                gate.close();
                Arc::new(gate)
            },
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock is a bug in the driver; the protocol state is still
        // consistent between inputs, so keep serving.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the protocol server, drains every output, then does the follow-up work
    /// (spawning socket tasks, ack callbacks) without the lock.
    pub(crate) fn drive<R>(self: &Arc<Self>, f: impl FnOnce(&mut State) -> R) -> R {
        let mut after = After::default();
        let r = {
            let mut st = self.lock();
            let r = f(&mut st);
            self.drain(&mut st, &mut after);
            r
        };
        self.finish(after);
        r
    }

    fn drain(self: &Arc<Self>, st: &mut State, after: &mut After) {
        loop {
            match st.server.poll_output() {
                Output::Timeout(at) => {
                    // One input at a time: the core must be drained before the next.
                    if let Some(transport) = st.newly_blocked.pop() {
                        let now = Instant::now();
                        st.server
                            .handle_input(Input::WebSocketBlocked { now, transport });
                        continue;
                    }
                    if st.deadline != Some(at) {
                        st.deadline = Some(at);
                        after.wake_timer = true;
                    }
                    return;
                }
                Output::Transmit(Transmit::Http {
                    transport,
                    response,
                }) => {
                    if let Some(Sink::Http(tx)) = st.sinks.remove(&transport) {
                        let _ = tx.try_send(response);
                    }
                }
                Output::Transmit(Transmit::WebSocket { transport, frame }) => {
                    if crate::diag::tracing_packets() {
                        let sid = Self::sid_of(st, transport);
                        crate::diag::frame("out", sid.as_deref(), &frame);
                    }
                    Self::ws_send(st, after, transport, WsOut::Frame(frame), false);
                }
                Output::Transmit(Transmit::CloseWebSocket { transport }) => {
                    Self::ws_send(st, after, transport, WsOut::Close, true);
                }
                Output::Event(e) => self.on_event(st, e, after),
                // Output is non-exhaustive in spirit; nothing else exists today.
            }
        }
    }

    /// Hands a message to a WebSocket's writer, or to its backlog when it is blocked. `last`
    /// (the close) forgets the sink afterwards.
    fn ws_send(st: &mut State, after: &mut After, t: TransportHandle, m: WsOut, last: bool) {
        if let Some(q) = st.backlog.get_mut(&t) {
            q.push_back(m);
        } else if let Some(Sink::Ws(sink)) = st.sinks.get(&t) {
            if let Err(m) = sink.try_send(m) {
                after.blocked.push((t, sink.clone()));
                st.backlog.insert(t, VecDeque::from([m]));
                if !last {
                    st.newly_blocked.push(t);
                }
            }
        }
        if last {
            st.sinks.remove(&t);
        }
    }

    /// Feeds a blocked WebSocket's backlog to its writer as room comes back, then tells the
    /// core it is writable again.
    async fn feed_backlog(self: Arc<Self>, t: TransportHandle, sink: Arc<dyn WsSink>) {
        loop {
            let next = self.drive(|st| {
                let q = st.backlog.get_mut(&t)?;
                if let Some(m) = q.pop_front() {
                    return Some(m);
                }
                st.backlog.remove(&t);
                if st.sinks.contains_key(&t) {
                    let now = Instant::now();
                    let input = Input::WebSocketWritable { now, transport: t };
                    st.server.handle_input(input);
                }
                None
            });
            let Some(m) = next else { return };
            let close = m == WsOut::Close;
            if !sink.send(m).await || close {
                self.drive(|st| st.backlog.remove(&t));
                return;
            }
        }
    }

    fn on_event(self: &Arc<Self>, st: &mut State, e: Event, after: &mut After) {
        match e {
            Event::SessionOpened { session, .. } => {
                let req = st
                    .server
                    .session_request_shared(session)
                    .unwrap_or_default();
                let data = SessionData::new(Arc::new(Request::from_shared(req)));
                st.sessions.insert(session, Arc::new(data));
            }
            Event::SessionClosed {
                session,
                sid,
                reason,
            } => {
                let peer = st
                    .sessions
                    .get(&session)
                    .and_then(|d| d.request.peer_addr());
                crate::diag::session_closed(sid, peer, reason);
                if let Some(data) = st.sessions.remove(&session) {
                    // Nobody reads for it any more: let a paused reader see the end.
                    data.gate.open();
                }
            }
            Event::Connect {
                socket,
                session,
                namespace,
                auth,
                recovered,
            } => {
                if !self.registry().has_namespace(namespace.as_str()) {
                    let peer = st
                        .sessions
                        .get(&session)
                        .and_then(|d| d.request.peer_addr());
                    let sid = st.server.session_sid(session).map(|s| s.to_string());
                    let sid = sid.as_deref().unwrap_or_default();
                    crate::diag::connect_refused(sid, &namespace, peer, "Invalid namespace");
                    if let Some(s) = st.server.socket(socket) {
                        s.reject("Invalid namespace", None);
                    }
                    return;
                }
                let sid = st
                    .server
                    .socket_info(socket)
                    .map(|i| i.sid.to_string())
                    .unwrap_or_default();
                let client =
                    st.sessions.get(&session).cloned().unwrap_or_else(|| {
                        Arc::new(SessionData::new(Arc::new(Request::default())))
                    });
                // A recovered socket gets the session its last connection left behind.
                let kept = recovered
                    .then(|| st.server.take_recovery_data(socket))
                    .flatten()
                    .and_then(|d| d.downcast::<SocketSession>().ok());
                let data = Arc::new(SocketData {
                    id: socket,
                    sid,
                    namespace: namespace.to_string(),
                    client,
                    engine_session: session,
                    session: kept.map(|k| *k).unwrap_or_default(),
                    recovered,
                    queue: Mailbox::new(),
                });
                st.sockets.insert(socket, data.clone());
                self.enqueue(&data, SocketEvent::Connect(auth));
                after.spawn.push(data);
            }
            Event::Message {
                socket,
                data,
                attachments,
                ack,
            } => {
                let Some(d) = st.sockets.get(&socket).cloned() else {
                    return;
                };
                let o = &self.options;
                let caps = (
                    o.max_pending_events,
                    o.max_pending_event_bytes.max(self.max_payload),
                );
                let bytes = data.len() + attachments.iter().map(|a| a.len()).sum::<usize>();
                let pause = o.event_backlog == EventBacklog::Pause;
                let Some(pending) = d.client.reserve(bytes, caps, pause) else {
                    tracing::warn!(
                        sid = %d.sid,
                        peer = ?d.client.request.peer_addr(),
                        limit_events = caps.0,
                        limit_bytes = caps.1,
                        "client sends events faster than its handlers finish them: disconnected"
                    );
                    st.server
                        .close_session_for(d.engine_session, DisconnectReason::TooManyEvents);
                    return;
                };
                if pause && !d.client.gate.is_closed() {
                    let over = d.client.events.load(Ordering::Acquire) > caps.0
                        || d.client.event_bytes.load(Ordering::Acquire) > caps.1;
                    if over {
                        tracing::debug!(sid = %d.sid, "client paused until its handlers catch up");
                        d.client.gate.close();
                    }
                }
                let ev = SocketEvent::Message {
                    data,
                    attachments,
                    ack,
                    pending,
                };
                if self.options.async_handlers {
                    // Started right away, on this task once the lock is released; one that
                    // waits goes on in a task of its own.
                    self.in_flight.fetch_add(1, Ordering::SeqCst);
                    after.inline.push((d, ev));
                } else if d.queue.try_claim() {
                    // With the socket's task idle and nothing queued before it, the event
                    // is handled on this task once the lock is released: no hand-off to the
                    // socket's task and back.
                    self.in_flight.fetch_add(1, Ordering::SeqCst);
                    after.inline.push((d, ev));
                } else {
                    self.enqueue(&d, ev);
                }
            }
            Event::Ack {
                socket,
                ack,
                data,
                attachments,
            } => {
                if let Some(cb) = st.acks.get_mut(&socket).and_then(|m| m.remove(&ack)) {
                    let args = Args::from_raw(data, 0, attachments);
                    after.callbacks.push((cb, Ok(args)));
                }
            }
            Event::AckTimeout { socket, ack } => {
                if let Some(cb) = st.acks.get_mut(&socket).and_then(|m| m.remove(&ack)) {
                    after.callbacks.push((cb, Err(AckError::Timeout)));
                }
            }
            Event::EngineMessage { session, frame } => {
                if let Some(sid) = st.server.session_sid(session) {
                    after.engine_messages.push((sid.to_string(), frame));
                }
            }
            Event::Disconnect { socket, reason, .. } => {
                if let Some(waiting) = st.acks.remove(&socket) {
                    for cb in waiting.into_values() {
                        after.callbacks.push((cb, Err(AckError::Disconnected)));
                    }
                }
                if let Some(d) = st.sockets.remove(&socket) {
                    if reason.is_recoverable() {
                        // Kept only when the core keeps the socket for recovery.
                        let session: SocketSession = d.session.clone();
                        let _ =
                            st.server
                                .keep_recovery_data(&d.namespace, &d.sid, Box::new(session));
                    }
                    self.enqueue(&d, SocketEvent::Disconnect(reason));
                    d.queue.close();
                }
            }
            _ => {}
        }
    }

    fn enqueue(&self, d: &SocketData, ev: SocketEvent) {
        // Counted before queueing: the socket task may finish the event before push returns.
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        if d.queue.push(ev).is_err() {
            self.done_one();
        }
    }

    fn done_one(&self) {
        let before = self
            .in_flight
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if before == Ok(1) && self.idle_waiters.load(Ordering::SeqCst) > 0 {
            // Taking the lock orders this notification after a waiter's last check.
            drop(self.idle.0.lock().unwrap_or_else(|p| p.into_inner()));
            self.idle.1.notify_all();
        }
    }

    /// Blocks until every queued socket event has been handled, `stop()` says to stop
    /// waiting (checked every millisecond), or `timeout` passes. True when idle.
    pub(crate) fn wait_idle(&self, timeout: Duration, stop: impl Fn() -> bool) -> bool {
        let end = Instant::now() + timeout;
        self.idle_waiters.fetch_add(1, Ordering::SeqCst);
        let mut guard = self.idle.0.lock().unwrap_or_else(|p| p.into_inner());
        let idle = loop {
            if self.in_flight.load(Ordering::SeqCst) == 0 {
                break true;
            }
            if stop() {
                break false;
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break false;
            }
            let step = left.min(Duration::from_millis(1));
            guard = self
                .idle
                .1
                .wait_timeout(guard, step)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        };
        drop(guard);
        self.idle_waiters.fetch_sub(1, Ordering::SeqCst);
        idle
    }

    fn finish(self: &Arc<Self>, after: After) {
        if after.wake_timer {
            self.ensure_timer();
            let _ = self.timer_wake.0.try_send(());
        }
        for (t, sink) in after.blocked {
            let engine = self.clone();
            self.runtime
                .spawn(Box::pin(async move { engine.feed_backlog(t, sink).await }));
        }
        for data in after.spawn {
            let engine = self.clone();
            self.runtime
                .spawn(Box::pin(async move { engine.socket_task(data).await }));
        }
        for (cb, result) in after.callbacks {
            if std::panic::catch_unwind(AssertUnwindSafe(|| cb(result))).is_err() {
                tracing::error!("an ack callback panicked");
            }
        }
        for (data, ev) in after.inline {
            self.handle_inline(data, ev);
        }
        if !after.engine_messages.is_empty() {
            // Called here, in order, on the task that fed the session's transport: the
            // messages of one session are handled one after the other.
            let handler = self.registry().engine_message.clone();
            let Some(handler) = handler else {
                tracing::debug!("Engine.IO message without a handler dropped");
                return;
            };
            let io = crate::SocketIo::from_engine(self.clone());
            for (sid, frame) in after.engine_messages {
                let call = AssertUnwindSafe(|| handler(&io, &sid, frame));
                if std::panic::catch_unwind(call).is_err() {
                    tracing::error!(sid, "an Engine.IO message handler panicked");
                }
            }
        }
    }

    /// Handles an event whose socket's turn was claimed, on this task: a handler that does not
    /// wait (a plain function, or an async one that finishes at once) completes here; the
    /// rest of one that waits goes to the socket's task, first in its line.
    fn handle_inline(self: &Arc<Self>, data: Arc<SocketData>, ev: SocketEvent) {
        let concurrent = self.options.async_handlers;
        let SocketEvent::Message {
            data: msg,
            attachments,
            ack,
            pending,
        } = ev
        else {
            // Only messages are claimed; anything else takes the usual way.
            if !concurrent {
                data.queue.release();
            }
            self.done_one();
            return;
        };
        let engine = self.clone();
        let socket = data.clone();
        let mut work: BoxFuture<()> = Box::pin(async move {
            engine.handle_message(&socket, msg, attachments, ack).await;
            drop(pending);
        });
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let polled = std::panic::catch_unwind(AssertUnwindSafe(|| work.as_mut().poll(&mut cx)));
        match polled {
            Ok(std::task::Poll::Pending) if concurrent => {
                // It waits: the rest runs in a task of its own, beside the client's others.
                let engine = self.clone();
                let sid = data.sid.clone();
                self.runtime.spawn(Box::pin(async move {
                    if AssertUnwindSafe(work).catch_unwind().await.is_err() {
                        tracing::error!(sid, "handling an event panicked");
                    }
                    engine.done_one();
                }));
                return;
            }
            Ok(std::task::Poll::Pending) => {
                data.queue.hand_over(SocketEvent::Resume(work));
                return;
            }
            Ok(std::task::Poll::Ready(())) => {}
            Err(_) => tracing::error!(sid = %data.sid, "handling an event panicked"),
        }
        if !concurrent {
            data.queue.release();
        }
        self.done_one();
    }

    pub(crate) fn registry(&self) -> std::sync::RwLockReadGuard<'_, Registry> {
        self.registry.read().unwrap_or_else(|p| p.into_inner())
    }

    fn ensure_timer(self: &Arc<Self>) {
        if self.timer_started.swap(true, Ordering::AcqRel) {
            return;
        }
        let engine = Arc::downgrade(self);
        let wake = self.timer_wake.1.clone();
        let runtime = self.runtime.clone();
        self.runtime.spawn(Box::pin(async move {
            loop {
                let Some(e) = engine.upgrade() else { return };
                let deadline = e.lock().deadline;
                drop(e);
                let sleep = match deadline {
                    Some(at) if at > Instant::now() => runtime.sleep_until(at),
                    Some(_) => Box::pin(std::future::ready(())),
                    None => runtime.sleep_until(Instant::now() + Duration::from_secs(3600)),
                };
                let woken = async {
                    let _ = wake.recv().await;
                };
                sleep.or(woken).await;
                let Some(e) = engine.upgrade() else { return };
                let now = Instant::now();
                e.drive(|st| {
                    if st.deadline.is_some_and(|d| d <= now) {
                        st.server.handle_input(Input::Timeout(now));
                    }
                });
            }
        }));
    }

    // ---- transports ------------------------------------------------------------------------

    fn next_handle(&self) -> TransportHandle {
        TransportHandle(self.next_transport.fetch_add(1, Ordering::Relaxed))
    }

    /// An HTTP request on the engine path. The future resolves to its response; dropping it
    /// before then tells the server the client went away.
    pub(crate) fn http(self: &Arc<Self>, request: HttpRequest) -> BoxFuture<HttpResponse> {
        let handshake =
            request.method == sockio_protocol::Method::Get && request.query_param("sid").is_none();
        let asked = crate::diag::Asked::new(&request);
        if handshake && !self.allows(&request) {
            let refused = HttpResponse::engine_error(403, 4, "Forbidden");
            crate::diag::answered(asked, &refused);
            return Box::pin(std::future::ready(refused));
        }
        let t = self.next_handle();
        let (tx, rx) = async_channel::bounded(1);
        // A paused client's POST is answered once its handlers caught up.
        let client = (request.method == sockio_protocol::Method::Post
            && self.options.event_backlog == EventBacklog::Pause)
            .then(|| self.client_of_request(&request))
            .flatten();
        self.drive(|st| {
            st.sinks.insert(t, Sink::Http(tx));
            st.server.handle_input(Input::HttpRequest {
                now: Instant::now(),
                transport: t,
                request,
            });
        });
        if let Ok(r) = rx.try_recv() {
            crate::diag::answered(asked, &r);
            return match client.filter(|c| c.gate.is_closed()) {
                Some(c) => {
                    let wait = c.gate.clone().wait();
                    Box::pin(async move {
                        wait.await;
                        r
                    })
                }
                None => Box::pin(std::future::ready(r)),
            };
        }
        let guard = CloseOnDrop {
            engine: self.clone(),
            transport: t,
            armed: true,
        };
        Box::pin(async move {
            let mut guard = guard;
            let r = rx.recv().await;
            guard.armed = false;
            let r = r.unwrap_or_else(|_| HttpResponse {
                status: 503,
                headers: Vec::new(),
                body: sockio_protocol::Bytes::new(),
            });
            crate::diag::answered(asked, &r);
            r
        })
    }

    /// A WebSocket opened: `sink` is its writer. Returns the handle to pass
    /// to [`ws_message`](Self::ws_message) and [`ws_closed`](Self::ws_closed).
    pub(crate) fn ws_open(
        self: &Arc<Self>,
        request: HttpRequest,
        sink: Arc<dyn WsSink>,
    ) -> TransportHandle {
        let t = self.next_handle();
        self.drive(|st| {
            st.sinks.insert(t, Sink::Ws(sink));
            st.server.handle_input(Input::WebSocketOpen {
                now: Instant::now(),
                transport: t,
                request,
            });
        });
        t
    }

    pub(crate) fn ws_message(self: &Arc<Self>, t: TransportHandle, frame: Frame) {
        self.drive(|st| {
            if crate::diag::tracing_packets() {
                crate::diag::frame("in", Self::sid_of(st, t).as_deref(), &frame);
            }
            st.server.handle_input(Input::WebSocketMessage {
                now: Instant::now(),
                transport: t,
                frame,
            });
        });
    }

    /// The Engine.IO sid of a transport's session, for log lines.
    fn sid_of(st: &State, t: TransportHandle) -> Option<String> {
        let session = st.server.transport_session(t)?;
        st.server.session_sid(session).map(|s| s.to_string())
    }

    /// The client a transport belongs to, while its session lives.
    fn client_of(self: &Arc<Self>, t: TransportHandle) -> Option<Arc<SessionData>> {
        let st = self.lock();
        let session = st.server.transport_session(t)?;
        st.sessions.get(&session).cloned()
    }

    /// The client behind an HTTP request's `sid`, while its session lives.
    fn client_of_request(&self, request: &HttpRequest) -> Option<Arc<SessionData>> {
        let sid = request.query_param("sid")?;
        let st = self.lock();
        let session = st.server.session_by_sid(&sid)?;
        st.sessions.get(&session).cloned()
    }

    pub(crate) fn ws_closed(self: &Arc<Self>, t: TransportHandle) {
        self.transport_closed(t);
    }

    fn transport_closed(self: &Arc<Self>, t: TransportHandle) {
        self.drive(|st| {
            st.sinks.remove(&t);
            st.server.handle_input(Input::TransportClosed {
                now: Instant::now(),
                transport: t,
            });
        });
    }

    /// Registers a waiter for an acknowledgement.
    pub(crate) fn add_ack(st: &mut State, socket: SocketId, ack: AckId, cb: AckCallback) {
        st.acks.entry(socket).or_default().insert(ack, cb);
    }

    /// What the server holds right now.
    pub(crate) fn stats(self: &Arc<Self>) -> Stats {
        self.drive(|st| Stats {
            sessions: st.server.session_count(),
            sockets: st.server.socket_count(),
            transports: st.sinks.len(),
            pending_acks: st.acks.values().map(HashMap::len).sum(),
            socket_tasks: st.sockets.len(),
        })
    }

    /// Number of connected sockets (for diagnostics).
    pub(crate) fn connected(&self) -> usize {
        self.connected_sockets.load(Ordering::Relaxed)
    }

    /// Whether every session has closed and every queued socket event (disconnect handlers
    /// included) has been handled.
    pub(crate) fn is_quiet(self: &Arc<Self>) -> bool {
        let idle = self.in_flight.load(Ordering::SeqCst) == 0;
        idle && self.lock().server.session_count() == 0
    }

    /// Whether a WebSocket upgrade may go ahead: `Some(response)` refuses it (the
    /// application's `allow_request`, then the protocol's own checks).
    pub(crate) fn check_websocket(&self, request: &HttpRequest) -> Option<HttpResponse> {
        let refused = if request.query_param("sid").is_none() && !self.allows(request) {
            Some(HttpResponse::engine_error(403, 4, "Forbidden"))
        } else {
            self.lock().server.websocket_refusal(request)
        };
        if let Some(r) = &refused {
            crate::diag::websocket_refused(request, r);
        }
        refused
    }

    /// The application's `allow_request` verdict on a handshake.
    fn allows(&self, request: &HttpRequest) -> bool {
        let hook = self.registry().allow_request.clone();
        hook.is_none_or(|allow| {
            std::panic::catch_unwind(AssertUnwindSafe(|| allow(request))).unwrap_or_else(|_| {
                tracing::error!("allow_request panicked; handshake refused");
                false
            })
        })
    }

    pub(crate) fn shutdown(self: &Arc<Self>) {
        self.drive(|st| st.server.shutdown());
        self.stopping.open();
    }

    // ---- socket tasks ----------------------------------------------------------------------

    async fn socket_task(self: Arc<Self>, data: Arc<SocketData>) {
        let mut accepted = false;
        while let Some(ev) = data.queue.recv().await {
            let keep_going = match ev {
                SocketEvent::Connect(auth) => {
                    accepted = self.handle_connect(&data, auth).await;
                    accepted
                }
                SocketEvent::Message {
                    data: msg,
                    attachments,
                    ack,
                    pending,
                } => {
                    self.handle_message(&data, msg, attachments, ack).await;
                    drop(pending);
                    true
                }
                SocketEvent::Disconnect(reason) => {
                    if accepted {
                        self.connected_sockets.fetch_sub(1, Ordering::Relaxed);
                        self.handle_disconnect(&data, reason).await;
                    }
                    false
                }
                SocketEvent::Resume(rest) => {
                    if AssertUnwindSafe(rest).catch_unwind().await.is_err() {
                        tracing::error!(sid = %data.sid, "handling an event panicked");
                    }
                    true
                }
            };
            self.done_one();
            if !keep_going {
                break;
            }
            data.queue.finished();
        }
        // Whatever is left was queued for a socket that is gone; nothing more gets in, and
        // the turn stays taken, so nobody handles anything for it any more.
        data.queue.close();
        while data.queue.try_recv().is_some() {
            self.done_one();
        }
    }

    async fn handle_connect(self: &Arc<Self>, data: &Arc<SocketData>, auth: Option<Value>) -> bool {
        let ctx = Context::new(self.clone(), data.clone(), None, Args::default(), None);
        let (handler, class) = {
            let reg = self.registry();
            let ns = reg.namespace(&data.namespace);
            (
                ns.and_then(|n| n.connect.clone()),
                ns.and_then(|n| n.class.clone()),
            )
        };
        let id = data.id;
        let always = self.options.always_connect;
        if always {
            self.drive(|st| st.server.socket(id).map(|s| s.accept()));
        }
        let decision = if let Some(h) = handler {
            let started =
                std::panic::catch_unwind(AssertUnwindSafe(|| h(ctx.clone(), auth.clone())));
            match started {
                Ok(f) => match AssertUnwindSafe(f).catch_unwind().await {
                    Ok(d) => d,
                    Err(_) => Err(ConnectError::new("connect handler failed")),
                },
                Err(_) => Err(ConnectError::new("connect handler failed")),
            }
        } else if let Some(c) = class {
            match std::panic::catch_unwind(AssertUnwindSafe(|| c.on_connect(&ctx, auth.as_ref()))) {
                Ok(d) => d,
                Err(_) => Err(ConnectError::new("connect handler failed")),
            }
        } else {
            Ok(())
        };
        let ok = decision.is_ok();
        self.drive(|st| {
            let Some(s) = st.server.socket(id) else {
                return;
            };
            match &decision {
                Ok(()) if always => {}
                Ok(()) => s.accept(),
                // Accepted already: the refusal is a disconnect from the server's side.
                Err(e) if always => {
                    let peer = data.client.request.peer_addr();
                    crate::diag::connect_refused(&data.sid, &data.namespace, peer, &e.message);
                    s.disconnect();
                    st.sockets.remove(&id);
                }
                Err(e) => {
                    let peer = data.client.request.peer_addr();
                    crate::diag::connect_refused(&data.sid, &data.namespace, peer, &e.message);
                    s.reject(&e.message, e.data.as_ref());
                    st.sockets.remove(&id);
                }
            }
        });
        if ok {
            self.connected_sockets.fetch_add(1, Ordering::Relaxed);
        }
        ok
    }

    async fn handle_message(
        self: &Arc<Self>,
        data: &Arc<SocketData>,
        msg: RawJson,
        attachments: Attachments,
        ack: Option<u64>,
    ) {
        let args = Args::from_raw(msg, 1, attachments);
        // The core checked that an event is an array led by a string.
        let Ok(event) = Args::get::<String>(&args.with_skip(0), 0) else {
            return;
        };
        let ctx = Context::new(self.clone(), data.clone(), Some(event.clone()), args, ack);
        let result = self.run_event(&ctx, &event).await;
        let result = match result {
            Some(Ok(p)) => Some(p),
            Some(Err(e)) => self.run_error(&ctx, e).await,
            None => None,
        };
        if let Some(ack) = ack {
            let payload = result.unwrap_or_else(|| Payload::json(&b"[]"[..]));
            let id = data.id;
            self.drive(|st| {
                let Some(mut s) = st.server.socket(id) else {
                    return;
                };
                if let Err(e) = s.ack(ack, payload) {
                    // The client asked and does not read: it is not keeping up.
                    tracing::warn!(
                        sid = %data.sid,
                        peer = ?data.client.request.peer_addr(),
                        "acknowledgement not queued ({e}): client disconnected as a slow consumer"
                    );
                    st.server
                        .close_session_for(data.engine_session, DisconnectReason::SlowConsumer);
                }
            });
        }
    }

    /// Runs the handler for an event: a function handler first, then the class namespace, then
    /// a catch-all. `None` when nothing handles it.
    async fn run_event(
        self: &Arc<Self>,
        ctx: &Context,
        event: &str,
    ) -> Option<Result<Payload, HandlerError>> {
        let (handler, class, catch_all) = {
            let reg = self.registry();
            let ns = reg.namespace(ctx.namespace());
            (
                ns.and_then(|n| {
                    n.events
                        .get(event)
                        .or_else(|| n.methods.get(event))
                        .cloned()
                }),
                ns.and_then(|n| n.class.clone()),
                ns.and_then(|n| n.events.get("*").cloned())
                    .or_else(|| reg.catch_all()),
            )
        };
        if let Some(h) = handler {
            return Some(run_guarded(|| h(ctx.clone())).await);
        }
        if let Some(c) = class {
            match std::panic::catch_unwind(AssertUnwindSafe(|| c.on_event(ctx))) {
                Ok(Ok(crate::Reply::Unhandled)) => {}
                Ok(Ok(crate::Reply::Ack(p))) => return Some(Ok(p)),
                Ok(Err(e)) => return Some(Err(e)),
                Err(_) => {
                    return Some(Err(HandlerError::with_kind(
                        HandlerErrorKind::Panic,
                        "handler panicked",
                    )))
                }
            }
        }
        if let Some(h) = catch_all {
            return Some(run_guarded(|| h(ctx.clone())).await);
        }
        tracing::debug!(event, namespace = ctx.namespace(), "no handler for event");
        None
    }

    async fn run_error(self: &Arc<Self>, ctx: &Context, e: HandlerError) -> Option<Payload> {
        let handler = {
            let reg = self.registry();
            reg.namespace(ctx.namespace())
                .and_then(|n| n.error.clone())
                .or_else(|| reg.default_error.clone())
        };
        match handler {
            Some(h) => match run_guarded(|| h(ctx.clone(), e)).await {
                Ok(p) => Some(p),
                Err(e2) => {
                    tracing::error!(event = ctx.event(), "error handler failed: {e2}");
                    None
                }
            },
            None => {
                tracing::error!(
                    event = ctx.event(),
                    namespace = ctx.namespace(),
                    "handler error: {e}"
                );
                None
            }
        }
    }

    async fn handle_disconnect(self: &Arc<Self>, data: &Arc<SocketData>, reason: DisconnectReason) {
        let ctx = Context::new(self.clone(), data.clone(), None, Args::default(), None);
        let (handler, class) = {
            let reg = self.registry();
            let ns = reg.namespace(&data.namespace);
            (
                ns.and_then(|n| n.disconnect.clone()),
                ns.and_then(|n| n.class.clone()),
            )
        };
        if let Some(h) = handler {
            let ok = match std::panic::catch_unwind(AssertUnwindSafe(|| h(ctx, reason))) {
                Ok(f) => AssertUnwindSafe(f).catch_unwind().await.is_ok(),
                Err(_) => false,
            };
            if !ok {
                tracing::error!("disconnect handler panicked");
            }
        } else if let Some(c) = class {
            if std::panic::catch_unwind(AssertUnwindSafe(|| c.on_disconnect(&ctx, reason))).is_err()
            {
                tracing::error!("disconnect handler panicked");
            }
        }
    }
}

/// Runs a handler, turning a panic (while starting it or while awaiting it) into an error.
async fn run_guarded(
    start: impl FnOnce() -> BoxFuture<Result<Payload, HandlerError>>,
) -> Result<Payload, HandlerError> {
    let panicked = || {
        Err(HandlerError::with_kind(
            HandlerErrorKind::Panic,
            "handler panicked",
        ))
    };
    let Ok(f) = std::panic::catch_unwind(AssertUnwindSafe(start)) else {
        return panicked();
    };
    match AssertUnwindSafe(f).catch_unwind().await {
        Ok(r) => r,
        Err(_) => panicked(),
    }
}

/// One WebSocket's incoming side: every message goes to the server on the reading task, and
/// dropping it (the runtime adapter does when the connection ends) closes the transport.
pub(crate) struct WsInbound {
    engine: Arc<Engine>,
    transport: TransportHandle,
    /// Its client, once known (to see whether it is paused).
    client: Option<Arc<SessionData>>,
}

impl WsInbound {
    pub(crate) fn new(engine: Arc<Engine>, transport: TransportHandle) -> Self {
        WsInbound {
            engine,
            transport,
            client: None,
        }
    }

    /// Hands a message to the server; `Some(wait)` when the client is paused
    /// ([`EventBacklog::Pause`]): the reader reads nothing more until `wait` resolves.
    pub(crate) fn message(&mut self, frame: Frame) -> Option<BoxFuture<()>> {
        self.engine.ws_message(self.transport, frame);
        if self.engine.options.event_backlog != EventBacklog::Pause {
            return None;
        }
        if self.client.is_none() {
            self.client = self.engine.client_of(self.transport);
        }
        let client = self.client.as_ref()?;
        client.gate.is_closed().then(|| client.gate.clone().wait())
    }
}

impl Drop for WsInbound {
    fn drop(&mut self) {
        self.engine.ws_closed(self.transport);
    }
}

/// Tells the server a pending HTTP request's client went away, unless it was answered.
struct CloseOnDrop {
    engine: Arc<Engine>,
    transport: TransportHandle,
    armed: bool,
}

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        if self.armed {
            self.engine.transport_closed(self.transport);
        }
    }
}
