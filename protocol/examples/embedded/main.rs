//! A Socket.IO (or plain Engine.IO) echo server on `sockio-protocol` alone: one thread, one
//! event loop over nonblocking `std::net` sockets (readiness from the `polling` crate), HTTP/1.1
//! heads parsed with `httparse`, WebSockets framed by the protocol crate's [`WsConn`]. No async
//! runtime, no `sockio` crate: this is what a server with its own event loop (mio, io_uring,
//! an embedded network stack) writes around the core. protocol/README.md walks through it.
//!
//! ```text
//! cargo run -p sockio-protocol --example embedded -- --port 3000 [--engineio]
//! ```
//!
//! It serves the conformance contract (conformance/README.md): `/socket.io/`, pingInterval
//! 300 ms, pingTimeout 200 ms, maxPayload 1,000,000 bytes, any origin; in Socket.IO mode the
//! contract's echo handlers (`app.rs`), with `--engineio` every message echoed unchanged.
//!
//! One thread owns the [`Server`]: no lock anywhere. Every input is followed by a drain of
//! [`Server::poll_output`] until its `Timeout`; the loop sleeps until the earliest of that
//! timeout, a connection's own deadline (HTTP read and write timeouts, WebSocket close grace)
//! and the application's timers.

mod app;
mod http;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use polling::{Event as Interest, Events, Poller};
use sockio_protocol::admission::{ConnId, HttpConnections};
use sockio_protocol::http::{HttpRequest, Route, TransportConfig, WsOut, WsOutbox};
use sockio_protocol::websocket::{accept_key, WsConn};
use sockio_protocol::{
    Bytes, Config, Cors, Entropy, Input, Output, Server, Transmit, TransportHandle,
};

use app::App;

/// The poller key of the listening socket (connections use their slot number; `polling`
/// keeps `usize::MAX` for itself).
const LISTENER: usize = usize::MAX - 1;
/// The size of the loop's one read buffer.
const SCRATCH: usize = 64 * 1024;
/// Reads per connection per wakeup: a peer that keeps sending cannot starve the others (the
/// poller reports it again at once while it has more).
const READS_PER_WAKE: usize = 4;
/// How long an idle keep-alive connection may wait for its next request.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// After the last response of a connection, how long its unread rest is read and thrown away
/// before the socket closes, so that closing does not reset the response away.
const LINGER: Duration = Duration::from_secs(2);
/// Most bytes thrown away while lingering.
const LINGER_BYTES: usize = 8 << 20;
/// Messages a WebSocket's outbox holds before the core is told the WebSocket is blocked.
const WS_BUFFER: usize = 16;
/// The longest the loop sleeps without looking at the clock.
const MAX_SLEEP: Duration = Duration::from_secs(60);

fn main() {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err((status, message)) => {
            eprintln!("embedded: {message}");
            std::process::exit(status);
        }
    };
    if let Err(e) = serve(options) {
        eprintln!("embedded: {e}");
        std::process::exit(1);
    }
}

/// The command line of the conformance contract, as far as this example serves it.
struct Options {
    port: u16,
    engineio: bool,
}

impl Options {
    /// The options, or the exit status and message for a command line it does not serve.
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, (i32, String)> {
        let mut options = Options {
            port: 3000,
            engineio: false,
        };
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--port" => {
                    let port = args.next().unwrap_or_default();
                    options.port = port
                        .parse()
                        .map_err(|_| (2, format!("bad port {port:?}")))?;
                }
                "--engineio" => options.engineio = true,
                "--list-runtimes" => {
                    println!("embedded");
                    std::process::exit(0);
                }
                "--runtime" => match args.next().as_deref() {
                    Some("embedded") => {}
                    Some(name @ ("tokio" | "async-std" | "smol" | "threaded")) => {
                        return Err((3, format!("runtime {name} is not built into this example")))
                    }
                    other => return Err((2, format!("unknown runtime {other:?}"))),
                },
                other => return Err((2, format!("unsupported argument {other:?}"))),
            }
        }
        Ok(options)
    }
}

/// The contract's Engine.IO settings.
fn config(engineio: bool) -> Config {
    Config::default()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .max_payload(1_000_000)
        .cors(Cors::Any)
        .cors_credentials(true)
        .engineio_only(engineio)
}

/// Random bytes for session ids from the operating system's CSPRNG. The core draws no
/// randomness of its own: sids are only as unguessable as this source (on a device without
/// `/dev/urandom`, the hardware RNG goes here).
struct OsEntropy(File);

impl Entropy for OsEntropy {
    fn fill(&mut self, buf: &mut [u8]) {
        // No randomness, no server: predictable sids would let anyone hijack a session.
        self.0.read_exact(buf).expect("reading /dev/urandom failed");
    }
}

fn serve(options: Options) -> io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", options.port))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let entropy = OsEntropy(File::open("/dev/urandom")?);
    let server = Server::new(config(options.engineio), Box::new(entropy), Instant::now());
    // What the driver reads is bounded by what the core accepts: a body of `max_payload`,
    // a WebSocket message of `max_payload` plus room for packet headers.
    let max_payload = server.config().max_payload_value();
    let limits = TransportConfig {
        max_body: max_payload,
        max_message_size: max_payload + 4096,
        max_http_connections: 512,
        ..TransportConfig::default()
    };
    let mut driver = Driver {
        server,
        app: App::default(),
        poller: Poller::new()?,
        listener,
        waiting: HttpConnections::new(limits.max_http_connections),
        limits,
        conns: Vec::new(),
        free: Vec::new(),
        next_gen: 0,
        routes: HashMap::new(),
        next_transport: 0,
        timers: BinaryHeap::new(),
        deadline: Instant::now(),
        blocked: Vec::new(),
        dirty: VecDeque::new(),
        scratch: vec![0; SCRATCH].into_boxed_slice(),
        accept_paused: None,
    };
    // SAFETY: the listener lives as long as the poller (both in the driver) and is never
    // dropped while registered.
    unsafe {
        driver
            .poller
            .add(&driver.listener, Interest::readable(LISTENER))?
    };
    let mode = if options.engineio {
        "engineio"
    } else {
        "socketio"
    };
    println!("listening on {addr} runtime=embedded mode={mode}");
    io::stdout().flush()?;
    driver.run()
}

/// The event loop's state: the core, the application, the sockets.
struct Driver {
    server: Server,
    app: App,
    poller: Poller,
    listener: TcpListener,
    limits: TransportConfig,
    /// Connections by slot; a slot's generation tells a reused slot from the old one.
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    next_gen: u64,
    /// Which connection each transport the core knows is on.
    routes: HashMap<TransportHandle, Key>,
    next_transport: u64,
    /// Connections in their HTTP phase, so that idle ones can be closed to make room.
    waiting: HttpConnections<Key>,
    /// Connection deadlines `(when, key)`; stale entries are skipped when they come up.
    timers: BinaryHeap<Reverse<(Instant, Key)>>,
    /// The core's next deadline, from the `Timeout` that ended the last drain.
    deadline: Instant,
    /// WebSockets whose outbox went over [`WS_BUFFER`] during a drain: the core hears of it
    /// once the drain is over (one input at a time).
    blocked: Vec<TransportHandle>,
    /// Connections with something new to write.
    dirty: VecDeque<Key>,
    scratch: Box<[u8]>,
    /// Accepting paused until then (out of file descriptors, nothing to close).
    accept_paused: Option<Instant>,
}

/// A connection's slot and generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Key(usize, u64);

/// One TCP connection.
struct Conn {
    gen: u64,
    stream: TcpStream,
    peer: SocketAddr,
    state: State,
    /// Bytes read and not used yet (a request head, a body, a pipelined request).
    inbuf: Vec<u8>,
    /// HTTP bytes to write (a response, a `100 Continue`, the `101` of an upgrade).
    out: Vec<u8>,
    /// When the current read phase started: idle, head, body.
    since: Instant,
    /// Since when bytes wait that the socket does not take.
    stalled: Option<Instant>,
    /// Its entry in the table of HTTP connections, until it upgrades.
    admission: Option<ConnId>,
    /// The interest registered with the poller (read, write) and not used up by an event.
    armed: (bool, bool),
    /// The deadline in the timer heap.
    timer: Option<Instant>,
    /// Queued in `Driver::dirty`.
    dirty: bool,
    /// The peer closed its side: nothing more to read.
    eof: bool,
}

/// Where a connection is.
enum State {
    /// Waiting for, or reading, a request head.
    Head,
    /// Reading a body of `len` bytes (the last progress at `progress`).
    Body {
        request: HttpRequest,
        len: usize,
        keep_alive: bool,
        progress: Instant,
    },
    /// The core has the request and owes one [`Transmit::Http`] for it: at once, or later
    /// for a parked long-polling GET.
    Engine {
        transport: TransportHandle,
        keep_alive: bool,
    },
    /// Writing a response; then the next request, or lingering.
    Respond { keep_alive: bool },
    /// The last response is out (our side is shut): reading the rest away until `until`.
    Linger { until: Instant, discarded: usize },
    /// A WebSocket.
    Ws(Box<Ws>),
}

/// A WebSocket connection: the protocol crate's per-connection state and the messages the
/// core transmitted that [`WsConn::fill`] has not taken yet.
struct Ws {
    transport: TransportHandle,
    conn: WsConn,
    outbox: Outbox,
    /// The core was told the WebSocket is blocked.
    blocked: bool,
    /// The core closed it (`Transmit::CloseWebSocket`): what it sent before goes out, then
    /// the close handshake; nothing read is for the core any more.
    closed_by_core: bool,
}

impl Ws {
    /// Whether to read now. Not while a connection the core closed has bytes the peer does
    /// not take: the peer's answer to our close cannot come before them, and what else it
    /// sends is thrown away; the write timeout ends it if it never reads.
    fn wants_read(&self) -> bool {
        let stuck = !self.conn.output().is_empty() || self.outbox.len() > 0;
        self.conn.wants_read() && !(self.closed_by_core && stuck)
    }
}

/// A WebSocket's outgoing messages. [`WsConn::fill`] takes them through the [`WsOutbox`]
/// trait, which is made for drivers whose writer runs on another task than the core (hence
/// `Sync` and the waker); on one thread a queue behind an uncontended lock does, polled with
/// a no-op waker: the loop knows when it pushed something.
#[derive(Default)]
struct Outbox(Mutex<VecDeque<WsOut>>);

impl Outbox {
    fn push(&self, message: WsOut) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back(message);
    }

    fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

impl WsOutbox for Outbox {
    fn poll_next(&self, _cx: &mut Context<'_>) -> Poll<Option<WsOut>> {
        match self.try_next() {
            Some(message) => Poll::Ready(Some(message)),
            None => Poll::Pending,
        }
    }

    fn try_next(&self) -> Option<WsOut> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).pop_front()
    }

    fn close(&self) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

impl Conn {
    /// When the connection must end (or be answered 408) unless something happens first.
    fn deadline(&self, limits: &TransportConfig) -> Option<Instant> {
        let write = self.stalled.map(|at| at + limits.write_timeout);
        let read = match &self.state {
            State::Head if self.inbuf.is_empty() => Some(self.since + IDLE_TIMEOUT),
            State::Head => Some(self.since + limits.header_timeout),
            State::Body { progress, .. } => {
                Some(limits.body_deadline(self.since, *progress, self.inbuf.len()))
            }
            State::Linger { until, .. } => Some(*until),
            State::Ws(ws) => ws.conn.deadline(),
            State::Engine { .. } | State::Respond { .. } => None,
        };
        match (write, read) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// How many bytes may wait in `inbuf` (reading stops there until some are used).
    fn read_cap(&self, limits: &TransportConfig) -> usize {
        match &self.state {
            State::Body { len, .. } => len + limits.max_head,
            _ => limits.max_head,
        }
    }

    /// The readiness to wait for: (readable, writable).
    fn interest(&self, limits: &TransportConfig) -> (bool, bool) {
        match &self.state {
            State::Ws(ws) => {
                let write = !self.out.is_empty() || !ws.conn.output().is_empty();
                (ws.wants_read(), write)
            }
            State::Linger { .. } => (!self.eof, false),
            _ => (
                !self.eof && self.inbuf.len() < self.read_cap(limits),
                !self.out.is_empty(),
            ),
        }
    }
}

impl Driver {
    /// The loop: wait for readiness or the next deadline, feed what happened, write.
    fn run(&mut self) -> io::Result<()> {
        let mut events = Events::new();
        let mut ready = Vec::new();
        loop {
            let now = Instant::now();
            let wake = self.next_wake();
            let timeout = wake.saturating_duration_since(now).min(MAX_SLEEP);
            events.clear();
            if let Err(e) = self.poller.wait(&mut events, Some(timeout)) {
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
            ready.clear();
            ready.extend(events.iter().map(|e| e.key));
            let now = Instant::now();
            self.on_time(now);
            for &slot in &ready {
                if slot == LISTENER {
                    self.accept(now);
                } else if let Some(key) = self.key_of(slot) {
                    self.conn_mut(key).expect("live").armed = (false, false);
                    self.on_ready(key, now);
                }
            }
            self.flush(now);
        }
    }

    /// The earliest of the core's deadline, the application's timers, the connections'
    /// deadlines and the end of an accept pause.
    fn next_wake(&self) -> Instant {
        let conns = self.timers.peek().map(|Reverse((at, _))| *at);
        [
            Some(self.deadline),
            self.app.next_timer(),
            conns,
            self.accept_paused,
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(self.deadline)
    }

    // ---- the core ---------------------------------------------------------------------------

    /// Feeds one input, then drains.
    fn input(&mut self, input: Input, now: Instant) {
        self.server.handle_input(input);
        self.drain(now);
    }

    /// Drains the core until its `Timeout`: transmits go to their connections' buffers (written
    /// after the drain), events to the application, which may issue commands meanwhile.
    fn drain(&mut self, now: Instant) {
        loop {
            match self.server.poll_output() {
                Output::Transmit(transmit) => self.transmit(transmit),
                Output::Event(event) => self.app.on_event(&mut self.server, event, now),
                Output::Timeout(at) => {
                    // One input at a time: what the drain found out goes in after it.
                    if let Some(transport) = self.blocked.pop() {
                        let blocked = Input::WebSocketBlocked { now, transport };
                        self.server.handle_input(blocked);
                        continue;
                    }
                    self.deadline = at;
                    return;
                }
            }
        }
    }

    /// Puts a transmit in its connection's buffer, in order.
    fn transmit(&mut self, transmit: Transmit) {
        match transmit {
            Transmit::Http {
                transport,
                response,
            } => {
                let Some(key) = self.routes.remove(&transport) else {
                    return; // its client went away
                };
                let Some(c) = self.conn_mut(key) else { return };
                let State::Engine { keep_alive, .. } = c.state else {
                    return;
                };
                http::write_response(&mut c.out, &response, keep_alive);
                c.state = State::Respond { keep_alive };
                self.mark_dirty(key);
            }
            Transmit::WebSocket { transport, frame } => {
                let Some(&key) = self.routes.get(&transport) else {
                    return;
                };
                let Some(State::Ws(ws)) = self.conn_mut(key).map(|c| &mut c.state) else {
                    return;
                };
                ws.outbox.push(WsOut::Frame(frame));
                if !ws.blocked && ws.outbox.len() > WS_BUFFER {
                    ws.blocked = true;
                    self.blocked.push(transport);
                }
                self.mark_dirty(key);
            }
            Transmit::CloseWebSocket { transport } => {
                let Some(key) = self.routes.remove(&transport) else {
                    return;
                };
                if let Some(State::Ws(ws)) = self.conn_mut(key).map(|c| &mut c.state) {
                    ws.outbox.push(WsOut::Close);
                    ws.closed_by_core = true;
                    self.mark_dirty(key);
                }
            }
        }
    }

    /// Time passed: the core's timers, the application's, the connections' deadlines.
    fn on_time(&mut self, now: Instant) {
        if now >= self.deadline {
            self.input(Input::Timeout(now), now);
        }
        if self.app.next_timer().is_some_and(|at| at <= now) {
            self.app.fire_timers(&mut self.server, now);
            self.drain(now);
        }
        while let Some(&Reverse((at, key))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let due = self.conn(key).and_then(|c| c.deadline(&self.limits));
            if due.is_some_and(|d| d <= now) {
                self.expire(key, now);
            }
        }
        if self.accept_paused.is_some_and(|until| until <= now) {
            self.accept_paused = None;
            let _ = self
                .poller
                .modify(&self.listener, Interest::readable(LISTENER));
        }
    }

    // ---- connections ------------------------------------------------------------------------

    fn accept(&mut self, now: Instant) {
        for _ in 0..64 {
            match self.listener.accept() {
                Ok((stream, peer)) => self.admit(stream, peer, now),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if matches!(e.raw_os_error(), Some(23 | 24)) => {
                    // Out of file descriptors (ENFILE, EMFILE): close the connection that has
                    // waited longest for a request, or stop accepting for a moment.
                    match self.waiting.oldest() {
                        Some((_, key)) => self.close(key, now),
                        None => {
                            self.accept_paused = Some(now + Duration::from_millis(100));
                            return;
                        }
                    }
                }
                Err(e) => {
                    eprintln!("accept failed: {e}");
                    break;
                }
            }
        }
        // The poller's interest is one-shot: ask again.
        let _ = self
            .poller
            .modify(&self.listener, Interest::readable(LISTENER));
    }

    fn admit(&mut self, stream: TcpStream, peer: SocketAddr, now: Instant) {
        if stream.set_nonblocking(true).is_err() {
            return;
        }
        let _ = stream.set_nodelay(true);
        let slot = self.free.pop().unwrap_or_else(|| {
            self.conns.push(None);
            self.conns.len() - 1
        });
        self.next_gen += 1;
        let key = Key(slot, self.next_gen);
        // SAFETY: the stream is deleted from the poller before it is dropped (`close`).
        if unsafe { self.poller.add(&stream, Interest::readable(slot)) }.is_err() {
            self.free.push(slot);
            return;
        }
        let admission = self.waiting.admit(key);
        self.conns[slot] = Some(Conn {
            gen: key.1,
            stream,
            peer,
            state: State::Head,
            inbuf: Vec::new(),
            out: Vec::new(),
            since: now,
            stalled: None,
            admission: Some(admission),
            armed: (true, false),
            timer: None,
            dirty: false,
            eof: false,
        });
        self.rearm(key);
        // Too many connections idle or reading a request: the longest waiting goes.
        while let Some((_, old)) = self.waiting.over_cap() {
            self.close(old, now);
        }
    }

    /// Readiness on a connection: read what it has, move its request along, write.
    fn on_ready(&mut self, key: Key, now: Instant) {
        if matches!(self.conn(key).map(|c| &c.state), Some(State::Ws(_))) {
            self.read_ws(key, now);
        } else {
            self.read_http(key, now);
            self.advance(key, now);
        }
        self.mark_dirty(key);
    }

    /// Reads into `inbuf` up to its cap; handles the end of the peer's stream.
    fn read_http(&mut self, key: Key, now: Instant) {
        let Some(c) = self.conns[key.0].as_mut() else {
            return;
        };
        for _ in 0..READS_PER_WAKE {
            let room = match c.state {
                State::Linger { .. } => self.scratch.len(),
                _ => c.read_cap(&self.limits).saturating_sub(c.inbuf.len()),
            };
            if room == 0 {
                return;
            }
            let n = match c.stream.read(&mut self.scratch[..room.min(SCRATCH)]) {
                Ok(0) => return self.peer_closed(key, now),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return self.close(key, now),
            };
            match &mut c.state {
                State::Linger { discarded, .. } => {
                    *discarded += n;
                    if *discarded > LINGER_BYTES {
                        return self.close(key, now);
                    }
                    continue;
                }
                State::Head if c.inbuf.is_empty() => c.since = now, // a head starts
                State::Body { progress, .. } => *progress = now,
                _ => {}
            }
            c.inbuf.extend_from_slice(&self.scratch[..n]);
        }
    }

    /// The peer closed its side (or the connection failed).
    fn peer_closed(&mut self, key: Key, now: Instant) {
        let Some(c) = self.conn_mut(key) else { return };
        c.eof = true;
        match c.state {
            // Half-closed after its request: the answer is still written, then the end.
            State::Respond { .. } => c.state = State::Respond { keep_alive: false },
            // Between requests, in the middle of one, waiting for the core, or lingering:
            // nothing more can come. A parked GET's client is gone: `close` tells the core.
            _ => self.close(key, now),
        }
    }

    /// Moves a connection's HTTP exchange along as far as the bytes it has allow.
    fn advance(&mut self, key: Key, now: Instant) {
        loop {
            let max_head = self.limits.max_head;
            let Some(c) = self.conn_mut(key) else { return };
            match &mut c.state {
                State::Head => {
                    // One request at a time: the next waits until the last answer is out.
                    if !c.out.is_empty() || c.inbuf.is_empty() {
                        return;
                    }
                    match http::parse_head(&c.inbuf, max_head, c.peer) {
                        Ok(None) => return,
                        Ok(Some((head, used))) => {
                            c.inbuf.drain(..used);
                            self.on_head(key, head, now);
                        }
                        Err(e) => return self.refuse(key, http::status(e.status())),
                    }
                }
                State::Body { len, .. } => {
                    if c.inbuf.len() < *len {
                        return;
                    }
                    let body = c.inbuf.drain(..*len).collect::<Vec<u8>>();
                    let State::Body {
                        mut request,
                        keep_alive,
                        ..
                    } = std::mem::replace(&mut c.state, State::Head)
                    else {
                        unreachable!("matched above");
                    };
                    request.body = Bytes::from(body);
                    self.feed_request(key, request, keep_alive, now);
                }
                _ => return,
            }
        }
    }

    /// A request head arrived: route it.
    fn on_head(&mut self, key: Key, head: http::Head, now: Instant) {
        match self.limits.route(&head.request) {
            Route::Elsewhere => self.refuse(key, http::status(404)),
            Route::WebSocket => self.upgrade(key, head.request, now),
            Route::Engine => {
                let max_body = self.limits.max_body;
                let (len, keep_alive) = match usize::try_from(head.body_len) {
                    Ok(len) if len <= max_body => (len, head.keep_alive),
                    // Too long: the core gets `max_body + 1` bytes, answers 413 and closes the
                    // session; the rest is never read, so the connection ends after.
                    _ => (max_body + 1, false),
                };
                if len == 0 {
                    return self.feed_request(key, head.request, keep_alive, now);
                }
                let Some(c) = self.conn_mut(key) else { return };
                if head.expect_continue {
                    c.out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
                }
                c.since = now;
                c.state = State::Body {
                    request: head.request,
                    len,
                    keep_alive,
                    progress: now,
                };
            }
        }
    }

    /// Hands a whole request to the core. Its answer comes as a [`Transmit::Http`] for the
    /// request's own transport handle, at once or later.
    fn feed_request(&mut self, key: Key, request: HttpRequest, keep_alive: bool, now: Instant) {
        self.next_transport += 1;
        let transport = TransportHandle(self.next_transport);
        let Some(c) = self.conn_mut(key) else { return };
        c.state = State::Engine {
            transport,
            keep_alive,
        };
        // With the engine (maybe parked for long): not closed to make room meanwhile.
        if let Some(id) = c.admission {
            self.waiting.busy(id);
        }
        self.routes.insert(transport, key);
        let input = Input::HttpRequest {
            now,
            transport,
            request,
        };
        self.input(input, now);
    }

    /// Answers a request ourselves (an error) and closes the connection after.
    fn refuse(&mut self, key: Key, response: sockio_protocol::http::HttpResponse) {
        let Some(c) = self.conn_mut(key) else { return };
        http::write_response(&mut c.out, &response, false);
        c.state = State::Respond { keep_alive: false };
        self.mark_dirty(key);
    }

    /// A WebSocket upgrade on the engine path: refused with an HTTP error, or answered 101
    /// and handed to the core.
    fn upgrade(&mut self, key: Key, request: HttpRequest, now: Instant) {
        let Some(client_key) = request.websocket_key() else {
            let mut refusal = http::status(400);
            refusal
                .headers
                .push(("Sec-WebSocket-Version", "13".to_owned()));
            return self.refuse(key, refusal);
        };
        // Unknown sid, bad version, transport off...: an HTTP error before the handshake.
        if let Some(refusal) = self.server.websocket_refusal(&request) {
            return self.refuse(key, refusal);
        }
        let answer = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n\r\n",
            accept_key(client_key)
        );
        self.next_transport += 1;
        let transport = TransportHandle(self.next_transport);
        let conn = WsConn::for_transport(&self.limits);
        let Some(c) = self.conn_mut(key) else { return };
        c.out.extend_from_slice(answer.as_bytes());
        c.state = State::Ws(Box::new(Ws {
            transport,
            conn,
            outbox: Outbox::default(),
            blocked: false,
            closed_by_core: false,
        }));
        let early = std::mem::take(&mut c.inbuf);
        if let Some(id) = c.admission.take() {
            // Upgraded: the heartbeat bounds it now, not the table of HTTP connections.
            self.waiting.remove(id);
        }
        self.routes.insert(transport, key);
        let open = Input::WebSocketOpen {
            now,
            transport,
            request,
        };
        self.input(open, now);
        // Bytes the client sent right behind its upgrade request are its first frames.
        if !early.is_empty() {
            self.ws_bytes(key, &early, now);
        }
        self.mark_dirty(key);
    }

    /// Reads a WebSocket: every whole message goes to the core, in order.
    fn read_ws(&mut self, key: Key, now: Instant) {
        // The buffer is lent out while the messages it holds go to the core.
        let mut scratch = std::mem::take(&mut self.scratch);
        self.read_ws_into(key, &mut scratch, now);
        self.scratch = scratch;
    }

    fn read_ws_into(&mut self, key: Key, scratch: &mut [u8], now: Instant) {
        for _ in 0..READS_PER_WAKE {
            let Some(c) = self.conns[key.0].as_mut() else {
                return;
            };
            let State::Ws(ws) = &mut c.state else { return };
            if !ws.wants_read() {
                return;
            }
            match c.stream.read(scratch) {
                Ok(0) => return ws.conn.read_closed(),
                Ok(n) => {
                    if !self.ws_bytes(key, &scratch[..n], now) {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return ws.conn.read_closed(),
            }
        }
    }

    /// Feeds bytes read from a WebSocket to its [`WsConn`] and the messages they complete to
    /// the core. False once nothing more is to be read.
    fn ws_bytes(&mut self, key: Key, bytes: &[u8], now: Instant) -> bool {
        let Some(State::Ws(ws)) = self.conn_mut(key).map(|c| &mut c.state) else {
            return false;
        };
        let transport = ws.transport;
        let mut messages = Vec::new();
        let outcome = ws.conn.read(bytes, |frame| messages.push(frame));
        if ws.closed_by_core {
            messages.clear(); // the core forgot this transport
        }
        for frame in messages {
            let message = Input::WebSocketMessage {
                now,
                transport,
                frame,
            };
            self.input(message, now);
        }
        outcome == sockio_protocol::websocket::ReadOutcome::More
    }

    /// A connection's deadline passed.
    fn expire(&mut self, key: Key, now: Instant) {
        let write_timeout = self.limits.write_timeout;
        let Some(c) = self.conn_mut(key) else { return };
        // A peer that took nothing we wrote for the write timeout (an answer, the 101).
        if c.stalled.is_some_and(|at| at + write_timeout <= now) {
            return self.close(key, now);
        }
        let idle = c.inbuf.is_empty();
        match &mut c.state {
            State::Head if idle => self.close(key, now),
            // Half a head, or a body, after its timeout: 408, then the end.
            State::Head | State::Body { .. } => self.refuse(key, http::status(408)),
            State::Ws(ws) => {
                if ws.conn.expired(now) {
                    self.close(key, now);
                }
            }
            // Lingering.
            _ => self.close(key, now),
        }
    }

    /// Writes what the connections marked dirty have (the loop's last step each time round);
    /// a blocked WebSocket that caught up lets the core send what waited for it.
    fn flush(&mut self, now: Instant) {
        while let Some(key) = self.dirty.pop_front() {
            let Some(c) = self.conn_mut(key) else {
                continue;
            };
            c.dirty = false;
            self.write(key, now);
            let Some(c) = self.conn_mut(key) else {
                continue;
            };
            if let State::Ws(ws) = &mut c.state {
                if ws.blocked && ws.outbox.len() <= WS_BUFFER / 2 {
                    ws.blocked = false;
                    let transport = ws.transport;
                    self.input(Input::WebSocketWritable { now, transport }, now);
                }
            }
            self.rearm(key);
        }
    }

    /// Writes until the socket would block or nothing is left; moves on to what follows.
    fn write(&mut self, key: Key, now: Instant) {
        let Some(c) = self.conn_mut(key) else { return };
        while !c.out.is_empty() {
            match c.stream.write(&c.out) {
                Ok(0) => return self.close(key, now),
                Ok(n) => {
                    c.out.drain(..n);
                    c.stalled = None;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    c.stalled.get_or_insert(now);
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.close(key, now),
            }
        }
        c.out = Vec::new();
        match &mut c.state {
            State::Respond { keep_alive: true } => {
                c.state = State::Head;
                c.since = now;
                if let Some(id) = c.admission {
                    self.waiting.wait(id);
                }
                // A request that came meanwhile (pipelined) goes now.
                self.advance(key, now);
            }
            State::Respond { keep_alive: false } => {
                // Shut our side and read the rest away, so that the peer reads the answer
                // rather than a reset.
                let _ = c.stream.shutdown(Shutdown::Write);
                c.inbuf = Vec::new();
                c.state = State::Linger {
                    until: now + LINGER,
                    discarded: 0,
                };
            }
            State::Ws(ws) => {
                // Control frames first, then messages, a batch at a time.
                while ws.conn.fill_now(&ws.outbox, now).is_ready() {
                    if ws.conn.is_done() {
                        return self.close(key, now);
                    }
                    match c.stream.write(ws.conn.output()) {
                        Ok(0) => return self.close(key, now),
                        Ok(n) => ws.conn.wrote(n, now),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            ws.conn.stalled(now);
                            return;
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => return self.close(key, now),
                    }
                }
                if ws.conn.is_done() {
                    self.close(key, now);
                }
            }
            _ => {}
        }
    }

    /// Registers the interest the connection has now, and its deadline.
    fn rearm(&mut self, key: Key) {
        let limits = &self.limits;
        let Some(c) = self.conns[key.0].as_mut().filter(|c| key_matches(c, key)) else {
            return;
        };
        let want = c.interest(limits);
        if want != c.armed && want != (false, false) {
            let interest = Interest::new(key.0, want.0, want.1);
            if self.poller.modify(&c.stream, interest).is_err() {
                return self.close(key, Instant::now());
            }
            c.armed = want;
        }
        let deadline = c.deadline(limits);
        if deadline != c.timer {
            c.timer = deadline;
            if let Some(at) = deadline {
                self.timers.push(Reverse((at, key)));
            }
        }
    }

    /// Ends a connection. When the core knows its transport (a parked request, a WebSocket),
    /// it hears that the transport closed.
    fn close(&mut self, key: Key, now: Instant) {
        if self.conn(key).is_none() {
            return;
        }
        let c = self.conns[key.0].take().expect("checked above");
        self.free.push(key.0);
        let _ = self.poller.delete(&c.stream);
        if let Some(id) = c.admission {
            self.waiting.remove(id);
        }
        let transport = match &c.state {
            State::Engine { transport, .. } => Some(*transport),
            State::Ws(ws) => Some(ws.transport),
            _ => None,
        };
        drop(c);
        if let Some(transport) = transport {
            self.routes.remove(&transport);
            self.input(Input::TransportClosed { now, transport }, now);
        }
    }

    fn mark_dirty(&mut self, key: Key) {
        if let Some(c) = self.conn_mut(key) {
            if !c.dirty {
                c.dirty = true;
                self.dirty.push_back(key);
            }
        }
    }

    fn key_of(&self, slot: usize) -> Option<Key> {
        let gen = self.conns.get(slot)?.as_ref()?.gen;
        Some(Key(slot, gen))
    }

    fn conn(&self, key: Key) -> Option<&Conn> {
        self.conns
            .get(key.0)?
            .as_ref()
            .filter(|c| key_matches(c, key))
    }

    fn conn_mut(&mut self, key: Key) -> Option<&mut Conn> {
        self.conns
            .get_mut(key.0)?
            .as_mut()
            .filter(|c| key_matches(c, key))
    }
}

fn key_matches(c: &Conn, key: Key) -> bool {
    c.gen == key.1
}

#[cfg(test)]
mod tests {
    /// The snippets of protocol/README.md are taken from this example: each must still be
    /// here, line for line (indentation aside; a `// ...` line in a snippet skips lines).
    #[test]
    fn the_readme_snippets_are_in_the_example() {
        let readme = include_str!("../../README.md");
        let sources = [
            include_str!("main.rs"),
            include_str!("http.rs"),
            include_str!("app.rs"),
        ];
        let lines = |text: &'static str| -> Vec<&'static str> {
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect()
        };
        let sources: Vec<Vec<&str>> = sources.into_iter().map(lines).collect();
        let mut snippets = 0;
        let mut rest = readme;
        while let Some(start) = rest.find("```rust,ignore\n") {
            let body = &rest[start + "```rust,ignore\n".len()..];
            let end = body.find("```").expect("a closed code block");
            let parts: Vec<Vec<&str>> = body[..end].split("// ...\n").map(lines).collect();
            let found = sources.iter().any(|src| {
                // Every part in order, each a run of consecutive lines.
                let mut from = 0;
                parts.iter().all(|part| {
                    let at = (from..=src.len().saturating_sub(part.len()))
                        .find(|&i| src[i..].starts_with(part));
                    at.map(|i| from = i + part.len()).is_some()
                })
            });
            assert!(
                found,
                "README snippet not in the example:\n{}",
                &body[..end]
            );
            snippets += 1;
            rest = &body[end..];
        }
        assert!(snippets >= 10, "found {snippets} snippets");
    }
}
