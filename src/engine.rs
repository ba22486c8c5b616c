//! The runtime-agnostic driver: owns the protocol [`Server`]s, routes their transmits to
//! transport sinks, runs their timers, and runs handlers.
//!
//! Every runtime uses this same driver; a runtime only supplies I/O, `spawn` and `sleep_until`
//! (see [`Runtime`]).
//!
//! # Shards
//!
//! The connections are spread over several independent protocol servers (shards, one per CPU
//! by default), each behind its own lock: a connection lives on one shard for its life, so
//! what one client does never waits for what another does on another shard. Every id a shard
//! draws (Engine.IO and Socket.IO sids, recovery pids) starts with the shard's number, and
//! transport handles carry it too, so a request, an emit to a sid or an acknowledgement goes to
//! its shard in O(1) from any thread. Broadcasts, room operations and counts visit every shard
//! in turn (each resolves its own members and encodes once). Work that needs no shard is done
//! before taking one: Engine.IO and Socket.IO packets are decoded on the task that read them,
//! and writers are woken after it is let go. A client that recovers its connection on another
//! shard takes its kept socket with it ([`Server::export_recovery`]).
//!
//! # Handlers
//!
//! Each event starts on the task that received it, in arrival order, and one that waits goes
//! on in a task of its own (or, with `async_handlers(false)`, in its socket's task, which
//! handles the socket's events one after the other). Every event counts against its client's
//! pending-events budget until handled. User code never runs under a shard's lock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::task::Waker;
use std::time::{Duration, Instant};

use futures_lite::FutureExt as _;
use serde_json::Value;
use smallvec::SmallVec;
use sockio_protocol::hash::HandleMap;
use sockio_protocol::http::{Frame, HttpResponse};
use sockio_protocol::socketio::binary::Attachments;
use sockio_protocol::socketio::RawJson;
use sockio_protocol::{
    AckId, DecodeLimits, Decoded, DisconnectReason, Entropy, Event, Input, Output, Server,
    SessionHandle, Sid, SocketId, Transmit, TransportHandle, WsOut,
};

use crate::handler::BoxFuture;
use crate::mailbox::Mailbox;
use crate::registry::Registry;
use crate::{Args, Request};

mod client;
mod dispatch;
pub mod lock_stats;
mod outbox;
mod transport;

use client::Pending;
pub(crate) use client::SessionData;
pub(crate) use outbox::{Listener, Outbox};
pub(crate) use transport::WsInbound;

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
    Ws(Arc<Outbox>),
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
    /// How many protocol servers (shards) share the connections; `None`: one per CPU.
    pub(crate) shards: Option<usize>,
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
            shards: None,
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
    /// Sockets with a task running their queued events (an idle socket has none).
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

/// A socket's session map, as kept across a recovered reconnection.
type SocketSession = Arc<Mutex<serde_json::Map<String, Value>>>;

/// What the driver keeps about a socket for its handlers.
pub(crate) struct SocketData {
    /// The engine, for the socket's handlers (held while the socket lives).
    pub(crate) engine: Arc<Engine>,
    pub(crate) id: SocketId,
    pub(crate) sid: String,
    pub(crate) namespace: String,
    /// Its client's connection.
    pub(crate) client: Arc<SessionData>,
    pub(crate) engine_session: SessionHandle,
    /// The shard it lives on.
    pub(crate) shard: usize,
    /// Shared with the next connection when connection state recovery restores the socket.
    pub(crate) session: SocketSession,
    /// Whether connection state recovery restored this socket.
    pub(crate) recovered: bool,
    /// Whether its connect handler accepted it (its disconnect handler then runs).
    accepted: AtomicBool,
    /// Its connect and disconnect events (and, in ordered mode, the others), in order.
    queue: Mailbox<SocketEvent>,
}

/// One shard's state, behind its lock.
pub(crate) struct State {
    pub(crate) server: Server,
    sinks: HandleMap<TransportHandle, Sink>,
    pub(crate) sockets: HandleMap<SocketId, Arc<SocketData>>,
    pub(crate) sessions: HandleMap<SessionHandle, Arc<SessionData>>,
    acks: HandleMap<SocketId, HashMap<AckId, AckCallback>>,
    deadline: Option<Instant>,
    /// WebSockets found full during this drain; the core hears of it at its end.
    newly_blocked: Vec<TransportHandle>,
    /// Writers to wake once the lock is let go.
    wakes: Vec<Waker>,
}

impl State {
    /// Forgets a transport's sink; a WebSocket's writer ends after what it was given.
    fn forget_sink(&mut self, t: TransportHandle) {
        if let Some(Sink::Ws(outbox)) = self.sinks.remove(&t) {
            self.wakes.extend(outbox.finish());
        }
    }
}

/// Work to do once a shard's lock is let go.
#[derive(Default)]
struct After {
    spawn: Vec<Arc<SocketData>>,
    /// Events handled right away, on the task that received them (usually the one event
    /// just read: kept in place, no allocation).
    inline: SmallVec<[(Arc<SocketData>, SocketEvent); 1]>,
    callbacks: Vec<(AckCallback, Result<Args, AckError>)>,
    /// Plain Engine.IO messages: the session's sid and the message.
    engine_messages: Vec<(String, Frame)>,
    /// Writers to wake (usually none or one).
    wakes: SmallVec<[Waker; 2]>,
    wake_timer: bool,
}

/// One protocol server and what goes with it. Aligned so that two shards' hot fields never
/// share a cache line.
#[repr(align(128))]
struct Shard {
    state: Mutex<State>,
    /// The core's next deadline, in nanoseconds since the engine started (`u64::MAX`: none),
    /// for the timer task to read without taking the shard.
    deadline: AtomicU64,
    /// Events queued or running, for the test client's quiescence wait.
    in_flight: AtomicUsize,
    /// This shard's copy of the handlers and the registry version it was taken at.
    registry: Mutex<(u64, Arc<Registry>)>,
    /// Work other threads left for whoever holds `state` (see [`Engine::post_all`]).
    inbox: Mutex<Vec<Job>>,
    /// Whether `inbox` may have something: read without its lock.
    posted: AtomicBool,
}

/// Work on one shard's state, left in its inbox by a thread that found the shard busy.
pub(crate) type Job = Arc<dyn Fn(&mut State) + Send + Sync>;

pub(crate) struct Engine {
    shards: Box<[Shard]>,
    /// What shard deadlines count from.
    epoch: Instant,
    timer_started: AtomicBool,
    timer_wake: (async_channel::Sender<()>, async_channel::Receiver<()>),
    /// The home shard of the next thread that opens a connection.
    next_shard: AtomicUsize,
    /// The handlers (written at registration); each shard reads its own copy.
    registry: RwLock<Registry>,
    registry_version: AtomicU64,
    pub(crate) runtime: Arc<dyn Runtime>,
    next_transport: AtomicU64,
    idle: (Mutex<()>, Condvar),
    idle_waiters: AtomicUsize,
    pub(crate) ack_timeout: Duration,
    pub(crate) options: EngineOptions,
    pub(crate) queue: Arc<dyn crate::queue::MessageQueue>,
    connected_sockets: AtomicUsize,
    /// Socket tasks running (see [`Stats::socket_tasks`]).
    pub(crate) socket_tasks: AtomicUsize,
    /// The engine path (`/socket.io/`).
    pub(crate) path: Arc<str>,
    /// The largest polling body or WebSocket message the server accepts; runtime adapters
    /// size their own read limits from it.
    pub(crate) max_payload: usize,
    /// The protocol's ping timeout: how long a polling session may go without a request.
    pub(crate) ping_timeout: Duration,
    /// What decoding ahead of a shard needs.
    limits: DecodeLimits,
    recovery: bool,
    /// Sockets (by sid, and their pids) that recovered on another shard than the one their
    /// id names, with when they moved.
    moved: Mutex<HashMap<Sid, (usize, Instant)>>,
    any_moved: AtomicBool,
    /// Open once [`shutdown`](Self::shutdown) was called: the serving calls return then.
    pub(crate) stopping: Arc<client::Gate>,
}

/// The most shards (a shard's number is one character of the ids it draws).
const MAX_SHARDS: usize = 64;

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
        let count = options
            .shards
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .clamp(1, MAX_SHARDS);
        let now = Instant::now();
        let shards = (0..count)
            .map(|i| {
                let tag = (count > 1).then_some(i as u8);
                let config = config.clone().sid_tag(tag);
                Shard {
                    state: Mutex::new(State {
                        server: Server::new(config, Box::new(OsEntropy), now),
                        sinks: HandleMap::default(),
                        sockets: HandleMap::default(),
                        sessions: HandleMap::default(),
                        acks: HandleMap::default(),
                        deadline: None,
                        newly_blocked: Vec::new(),
                        wakes: Vec::new(),
                    }),
                    deadline: AtomicU64::new(u64::MAX),
                    in_flight: AtomicUsize::new(0),
                    registry: Mutex::new((0, Arc::default())),
                    inbox: Mutex::new(Vec::new()),
                    posted: AtomicBool::new(false),
                }
            })
            .collect();
        Engine {
            path,
            max_payload,
            ping_timeout,
            limits: config.decode_limits(),
            recovery: config.connection_state_recovery_value().is_some(),
            shards,
            epoch: now,
            timer_started: AtomicBool::new(false),
            timer_wake: async_channel::bounded(1),
            next_shard: AtomicUsize::new(0),
            registry: RwLock::new(Registry::default()),
            registry_version: AtomicU64::new(0),
            runtime,
            next_transport: AtomicU64::new(1),
            idle: (Mutex::new(()), Condvar::new()),
            idle_waiters: AtomicUsize::new(0),
            ack_timeout,
            options,
            queue,
            connected_sockets: AtomicUsize::new(0),
            socket_tasks: AtomicUsize::new(0),
            moved: Mutex::new(HashMap::new()),
            any_moved: AtomicBool::new(false),
            stopping: {
                let gate = client::Gate::default();
                gate.close();
                Arc::new(gate)
            },
        }
    }

    // ---- shards ------------------------------------------------------------------------------

    /// How many shards share the connections.
    pub(crate) fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// The shard for a new connection: the home shard of the thread that opens it. Threads get
    /// homes in turn, so the connections a worker thread opens (and most likely goes on
    /// serving) share a shard no other worker uses, and threads that each open one connection
    /// (the threaded runtime) spread them evenly.
    fn pick_shard(&self) -> usize {
        thread_local! {
            static HOME: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
        }
        match self.shards.len() {
            1 => 0,
            n => HOME.with(|home| {
                let h = home.get().unwrap_or_else(|| {
                    let h = self.next_shard.fetch_add(1, Ordering::Relaxed);
                    home.set(Some(h));
                    h
                });
                h % n
            }),
        }
    }

    /// A new transport handle on `shard`: its low byte names the shard.
    fn next_handle(&self, shard: usize) -> TransportHandle {
        let n = self.next_transport.fetch_add(1, Ordering::Relaxed);
        TransportHandle(n << 8 | shard as u64)
    }

    fn shard_of_transport(&self, t: TransportHandle) -> usize {
        let shard = (t.0 & 0xff) as usize;
        if shard < self.shards.len() {
            shard
        } else {
            0
        }
    }

    /// The shard a sid (Engine.IO or Socket.IO) or pid lives on, if it has the shape of one of
    /// ours.
    pub(crate) fn shard_of_sid(&self, sid: &str) -> Option<usize> {
        if self.shards.len() == 1 {
            return Some(0);
        }
        let parsed = Sid::parse(sid)?;
        if self.any_moved.load(Ordering::Acquire) {
            let moved = self.moved.lock().unwrap_or_else(|p| p.into_inner());
            let moved = lock_stats::Held::new(moved, lock_stats::Kind::Global);
            if let Some((shard, _)) = moved.get(&parsed) {
                return Some(*shard);
            }
        }
        let shard = parsed.tag() as usize;
        (shard < self.shards.len()).then_some(shard)
    }

    fn lock_shard(&self, shard: usize) -> lock_stats::Held<MutexGuard<'_, State>> {
        // A panic while holding the lock is a bug in the driver; the protocol state is still
        // consistent between inputs, so keep serving.
        let guard = self.shards[shard]
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        lock_stats::Held::new(guard, lock_stats::Kind::Shard)
    }

    /// Looks at one shard's state (nothing there changes), then runs what other threads
    /// posted for the shard meanwhile.
    pub(crate) fn peek_shard<R>(self: &Arc<Self>, shard: usize, f: impl FnOnce(&State) -> R) -> R {
        let r = f(&self.lock_shard(shard));
        self.combine(shard);
        r
    }

    /// Runs `f` on one shard's protocol server, drains every output, then does the follow-up
    /// work (spawning socket tasks, ack callbacks, waking writers) with the lock let go.
    ///
    /// Work other threads posted for the shard runs first, and whatever is posted while the
    /// lock is held runs before it is let go (see [`post_all`](Self::post_all)).
    pub(crate) fn drive_shard<R>(
        self: &Arc<Self>,
        shard: usize,
        f: impl FnOnce(&mut State) -> R,
    ) -> R {
        let mut after = After::default();
        let r = {
            let mut st = self.lock_shard(shard);
            self.run_posted(shard, &mut st, &mut after);
            let r = f(&mut st);
            self.drain(shard, &mut st, &mut after);
            self.run_posted(shard, &mut st, &mut after);
            r
        };
        self.finish(shard, after);
        self.combine(shard);
        r
    }

    /// Runs `job` on every shard, starting with this thread's home shard. A shard another
    /// thread holds gets the job in its inbox instead, and the holder runs it before letting
    /// the shard go: nobody waits for a busy shard, and the shard's work stays with the
    /// thread that has its state in cache (flat combining). Jobs of one thread reach a shard
    /// in the order they were posted, and ahead of anything the thread does on it later.
    pub(crate) fn post_all(self: &Arc<Self>, job: Job) {
        let n = self.shards.len();
        let first = self.pick_shard();
        for i in 0..n {
            let shard = (first + i) % n;
            let s = &self.shards[shard];
            {
                let mut inbox = s.inbox.lock().unwrap_or_else(|p| p.into_inner());
                inbox.push(job.clone());
                s.posted.store(true, Ordering::SeqCst);
            }
            self.combine(shard);
        }
    }

    /// Runs what was posted for `shard` if the shard is free; a holder runs it otherwise.
    /// Checked again after letting the shard go: a job posted while this thread held it, by
    /// a thread that then found it busy, is not left behind.
    fn combine(self: &Arc<Self>, shard: usize) {
        let s = &self.shards[shard];
        while s.posted.load(Ordering::SeqCst) {
            let guard = match s.state.try_lock() {
                Ok(g) => g,
                Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
                // The holder runs it before letting go.
                Err(std::sync::TryLockError::WouldBlock) => return,
            };
            let mut st = lock_stats::Held::new(guard, lock_stats::Kind::Shard);
            let mut after = After::default();
            self.run_posted(shard, &mut st, &mut after);
            drop(st);
            self.finish(shard, after);
        }
    }

    /// Runs the jobs posted for `shard` (whose state `st` is), then drains the core.
    fn run_posted(self: &Arc<Self>, shard: usize, st: &mut State, after: &mut After) {
        let s = &self.shards[shard];
        while s.posted.load(Ordering::SeqCst) {
            let jobs = {
                let mut inbox = s.inbox.lock().unwrap_or_else(|p| p.into_inner());
                s.posted.store(false, Ordering::SeqCst);
                std::mem::take(&mut *inbox)
            };
            for job in jobs {
                job(st);
                self.drain(shard, st, after);
            }
        }
    }

    /// Runs `f` on the shard `sid` lives on; `None` when it names none.
    pub(crate) fn drive_sid<R>(
        self: &Arc<Self>,
        sid: &str,
        f: impl FnOnce(&mut State) -> R,
    ) -> Option<R> {
        let shard = self.shard_of_sid(sid)?;
        Some(self.drive_shard(shard, f))
    }

    /// Runs `f` on every shard in turn, starting with this thread's home shard: threads that
    /// visit every shard at once (broadcasts) each start where they are, not all at the first.
    pub(crate) fn drive_all<R>(self: &Arc<Self>, mut f: impl FnMut(&mut State) -> R) -> Vec<R> {
        let n = self.shards.len();
        let first = self.pick_shard();
        (0..n)
            .map(|i| self.drive_shard((first + i) % n, &mut f))
            .collect()
    }

    fn drain(self: &Arc<Self>, shard: usize, st: &mut State, after: &mut After) {
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
                        let nanos = at.saturating_duration_since(self.epoch).as_nanos();
                        let nanos = u64::try_from(nanos).unwrap_or(u64::MAX - 1);
                        let before = self.shards[shard].deadline.swap(nanos, Ordering::AcqRel);
                        // Only an earlier deadline needs the timer to look again.
                        after.wake_timer = nanos < before;
                    }
                    if !st.wakes.is_empty() {
                        after.wakes.extend(st.wakes.drain(..));
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
                    if let Some(Sink::Ws(outbox)) = st.sinks.get(&transport) {
                        let pushed = outbox.push(WsOut::Frame(frame));
                        st.wakes.extend(pushed.wake);
                        if pushed.blocked {
                            st.newly_blocked.push(transport);
                        }
                    }
                }
                Output::Transmit(Transmit::CloseWebSocket { transport }) => {
                    if let Some(Sink::Ws(outbox)) = st.sinks.get(&transport) {
                        let pushed = outbox.push(WsOut::Close);
                        st.wakes.extend(pushed.wake);
                    }
                    st.forget_sink(transport);
                }
                Output::Event(e) => self.on_event(shard, st, e, after),
            }
        }
    }

    fn on_event(self: &Arc<Self>, shard: usize, st: &mut State, e: Event, after: &mut After) {
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
                if !self.registry_for(shard).has_namespace(namespace.as_str()) {
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
                    engine: self.clone(),
                    id: socket,
                    sid,
                    namespace: namespace.to_string(),
                    client,
                    engine_session: session,
                    shard,
                    session: kept.map(|k| *k).unwrap_or_default(),
                    recovered,
                    accepted: AtomicBool::new(false),
                    queue: Mailbox::new(),
                });
                st.sockets.insert(socket, data.clone());
                self.enqueue(&data, SocketEvent::Connect(auth), after);
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
                if pause && !d.client.gate.is_closed() && d.client.over(caps) {
                    tracing::debug!(sid = %d.sid, "client paused until its handlers catch up");
                    d.client.gate.close();
                }
                let ev = SocketEvent::Message {
                    data,
                    attachments,
                    ack,
                    pending,
                };
                if self.options.async_handlers || d.queue.try_claim() {
                    // Started right away, on this task once the lock is let go. With ordered
                    // handlers, only when the socket's task is idle with nothing queued: no
                    // hand-off to that task and back.
                    self.shards[shard].in_flight.fetch_add(1, Ordering::SeqCst);
                    after.inline.push((d, ev));
                } else {
                    self.enqueue(&d, ev, after);
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
                    // Ordered handlers: what the socket's task has not started yet cannot
                    // be answered any more, and would stay as long as a handler that never
                    // finishes holds the task; it is dropped (with its share of the budget).
                    let dropped = d
                        .queue
                        .discard(|ev| matches!(ev, SocketEvent::Message { .. }));
                    if dropped > 0 {
                        tracing::debug!(
                            sid = %d.sid,
                            dropped,
                            %reason,
                            "client left: events its handlers had not started dropped"
                        );
                        for _ in 0..dropped {
                            self.done_one(shard);
                        }
                    }
                    self.enqueue(&d, SocketEvent::Disconnect(reason), after);
                    d.queue.close();
                }
            }
            _ => {}
        }
    }

    /// Queues `ev` for the socket's task, which is started (once the lock is let go) when
    /// none runs: an idle socket has no task.
    fn enqueue(&self, d: &Arc<SocketData>, ev: SocketEvent, after: &mut After) {
        // Counted before queueing: the socket task may finish the event before push returns.
        self.shards[d.shard]
            .in_flight
            .fetch_add(1, Ordering::SeqCst);
        match d.queue.push(ev) {
            Ok(true) => after.spawn.push(d.clone()),
            Ok(false) => {}
            Err(_) => self.done_one(d.shard),
        }
    }

    fn done_one(&self, shard: usize) {
        let in_flight = &self.shards[shard].in_flight;
        let before =
            in_flight.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if before == Ok(1) && self.idle_waiters.load(Ordering::SeqCst) > 0 {
            // Taking the lock orders this notification after a waiter's last check.
            let idle = self.idle.0.lock().unwrap_or_else(|p| p.into_inner());
            drop(lock_stats::Held::new(idle, lock_stats::Kind::Global));
            self.idle.1.notify_all();
        }
    }

    fn in_flight(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.in_flight.load(Ordering::SeqCst))
            .sum()
    }

    /// Blocks until every queued socket event has been handled, `stop()` says to stop
    /// waiting (checked every millisecond), or `timeout` passes. True when idle.
    pub(crate) fn wait_idle(&self, timeout: Duration, stop: impl Fn() -> bool) -> bool {
        let end = Instant::now() + timeout;
        self.idle_waiters.fetch_add(1, Ordering::SeqCst);
        let mut guard = self.idle.0.lock().unwrap_or_else(|p| p.into_inner());
        let idle = loop {
            if self.in_flight() == 0 {
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

    fn finish(self: &Arc<Self>, shard: usize, after: After) {
        // Most of it is empty on most calls: each part is looked at before it is iterated
        // (callgrind: ~290 instructions less per echo round trip than iterating empty ones).
        if !after.wakes.is_empty() {
            for w in after.wakes {
                w.wake();
            }
        }
        if after.wake_timer {
            self.ensure_timer();
            let _ = self.timer_wake.0.try_send(());
        }
        if !after.spawn.is_empty() {
            for data in after.spawn {
                self.start_socket_task(data);
            }
        }
        if !after.callbacks.is_empty() {
            for (cb, result) in after.callbacks {
                let call = std::panic::AssertUnwindSafe(|| cb(result));
                if std::panic::catch_unwind(call).is_err() {
                    tracing::error!("an ack callback panicked");
                }
            }
        }
        if !after.inline.is_empty() {
            for (data, ev) in after.inline {
                self.handle_inline(data, ev);
            }
        }
        if !after.engine_messages.is_empty() {
            // Called here, in order, on the task that fed the session's transport: the
            // messages of one session are handled one after the other.
            let handler = self.registry_for(shard).engine_message.clone();
            let Some(handler) = handler else {
                tracing::debug!("Engine.IO message without a handler dropped");
                return;
            };
            let io = crate::SocketIo::from_engine(self.clone());
            for (sid, frame) in after.engine_messages {
                let call = std::panic::AssertUnwindSafe(|| handler(&io, &sid, frame));
                if std::panic::catch_unwind(call).is_err() {
                    tracing::error!(sid, "an Engine.IO message handler panicked");
                }
            }
        }
    }

    // ---- handlers --------------------------------------------------------------------------

    /// The handlers, as registered (for registration and rare reads).
    pub(crate) fn registry(&self) -> lock_stats::Held<std::sync::RwLockReadGuard<'_, Registry>> {
        let guard = self.registry.read().unwrap_or_else(|p| p.into_inner());
        lock_stats::Held::new(guard, lock_stats::Kind::Global)
    }

    /// Changes the handlers; every shard takes a fresh copy the next time it reads them.
    pub(crate) fn update_registry<R>(&self, f: impl FnOnce(&mut Registry) -> R) -> R {
        let guard = self.registry.write().unwrap_or_else(|p| p.into_inner());
        let mut reg = lock_stats::Held::new(guard, lock_stats::Kind::Global);
        let r = f(&mut reg);
        self.registry_version.fetch_add(1, Ordering::Release);
        r
    }

    /// A shard's copy of the handlers: reading it touches nothing another shard touches.
    pub(crate) fn registry_for(&self, shard: usize) -> Arc<Registry> {
        let version = self.registry_version.load(Ordering::Acquire);
        let mut cached = self.shards[shard]
            .registry
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if cached.0 != version || version == 0 {
            *cached = (version.max(1), Arc::new(self.registry().clone()));
        }
        cached.1.clone()
    }

    // ---- timers ----------------------------------------------------------------------------

    /// Starts the one timer task: it sleeps until the earliest shard deadline (or until a
    /// shard has an earlier one) and feeds the timeout to every shard whose deadline passed.
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
                let next = e
                    .shards
                    .iter()
                    .map(|s| s.deadline.load(Ordering::Acquire))
                    .min()
                    .filter(|n| *n != u64::MAX)
                    .map(|n| e.epoch + Duration::from_nanos(n));
                drop(e);
                let sleep = match next {
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
                let due = now.saturating_duration_since(e.epoch).as_nanos();
                for shard in 0..e.shards.len() {
                    if u128::from(e.shards[shard].deadline.load(Ordering::Acquire)) > due {
                        continue;
                    }
                    e.drive_shard(shard, |st| {
                        if st.deadline.is_some_and(|d| d <= now) {
                            st.server.handle_input(Input::Timeout(now));
                        }
                    });
                }
            }
        }));
    }

    // ---- recovery across shards ------------------------------------------------------------

    /// Before a CONNECT that asks to recover a socket kept by another shard reaches `shard`,
    /// moves that socket over.
    fn recover_across_shards(self: &Arc<Self>, shard: usize, packets: &[Decoded]) {
        if !self.recovery || self.shards.len() == 1 {
            return;
        }
        for p in packets {
            let Some((namespace, auth)) = p.connect_auth() else {
                continue;
            };
            let auth = auth.to_value();
            let Some(pid) = auth.get("pid").and_then(Value::as_str) else {
                continue;
            };
            let Some(from) = self.shard_of_sid(pid).filter(|s| *s != shard) else {
                continue;
            };
            let Some(transfer) =
                self.drive_shard(from, |st| st.server.export_recovery(namespace, &auth))
            else {
                continue;
            };
            tracing::debug!(sid = %transfer.sid(), from, to = shard, "recovering a socket on another shard");
            self.note_moved(
                &[transfer.sid(), Sid::parse(pid).expect("routed by it")],
                shard,
            );
            self.drive_shard(shard, |st| st.server.import_recovery(transfer));
        }
    }

    /// Remembers that these ids now live on `shard` (for as long as recovery could still need
    /// them).
    fn note_moved(&self, ids: &[Sid], shard: usize) {
        let now = Instant::now();
        let keep = self.options.ack_timeout.max(Duration::from_secs(600));
        let moved = self.moved.lock().unwrap_or_else(|p| p.into_inner());
        let mut moved = lock_stats::Held::new(moved, lock_stats::Kind::Global);
        moved.retain(|_, (_, at)| now.saturating_duration_since(*at) < keep);
        for id in ids {
            moved.insert(*id, (shard, now));
        }
        self.any_moved.store(!moved.is_empty(), Ordering::Release);
    }

    // ---- queries and commands over every shard ---------------------------------------------

    /// Registers a waiter for an acknowledgement.
    pub(crate) fn add_ack(st: &mut State, socket: SocketId, ack: AckId, cb: AckCallback) {
        st.acks.entry(socket).or_default().insert(ack, cb);
    }

    /// What the server holds right now.
    pub(crate) fn stats(self: &Arc<Self>) -> Stats {
        let mut total = Stats::default();
        for s in self.drive_all(|st| Stats {
            sessions: st.server.session_count(),
            sockets: st.server.socket_count(),
            transports: st.sinks.len(),
            pending_acks: st.acks.values().map(HashMap::len).sum(),
            socket_tasks: 0,
        }) {
            total.sessions += s.sessions;
            total.sockets += s.sockets;
            total.transports += s.transports;
            total.pending_acks += s.pending_acks;
        }
        total.socket_tasks = self.socket_tasks.load(Ordering::SeqCst);
        total
    }

    /// Number of connected sockets (for diagnostics).
    pub(crate) fn connected(&self) -> usize {
        self.connected_sockets.load(Ordering::Relaxed)
    }

    /// Whether every session has closed and every queued socket event (disconnect handlers
    /// included) has been handled.
    pub(crate) fn is_quiet(self: &Arc<Self>) -> bool {
        self.in_flight() == 0
            && (0..self.shards.len())
                .all(|i| self.peek_shard(i, |st| st.server.session_count() == 0))
    }

    pub(crate) fn shutdown(self: &Arc<Self>) {
        self.drive_all(|st| st.server.shutdown());
        self.stopping.open();
    }

    /// The Engine.IO sid of a transport's session, for log lines.
    pub(crate) fn sid_of(st: &State, t: TransportHandle) -> Option<String> {
        let session = st.server.transport_session(t)?;
        st.server.session_sid(session).map(|s| s.to_string())
    }
}
