//! The server: the accept loop, one thread per connection, keep-alive, and graceful shutdown.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::exec::block_on;
use crate::http::{self, Conn, Limits, ReadError};
use bytes::Bytes;
use sockio_protocol::admission::{ConnId, HttpConnections};
use sockio_protocol::http::Route;

use crate::{Handlers, HttpHandler, ServerConfig};

/// How long a shutting-down server waits for its connections to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Stops a server started with [`serve`]. Clones control the same server.
#[derive(Clone, Default)]
pub struct ShutdownHandle(Arc<ShutdownState>);

#[derive(Default)]
struct ShutdownState {
    triggered: AtomicBool,
    /// Set once the hooks have run: the server then stops accepting and ends connections.
    /// Until then it serves as usual, so that clients can collect their goodbyes.
    stopping: AtomicBool,
    /// Listener addresses to connect to, which wakes their blocked `accept`.
    listeners: Mutex<Vec<SocketAddr>>,
    hooks: Mutex<Vec<Box<dyn FnOnce() + Send>>>,
}

impl fmt::Debug for ShutdownHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownHandle")
            .field("triggered", &self.is_triggered())
            .finish_non_exhaustive()
    }
}

impl ShutdownHandle {
    /// A handle that has not been triggered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the server to stop: it runs the [`on_shutdown`](Self::on_shutdown) hooks (the
    /// server keeps serving while they run), then stops accepting, lets each connection
    /// finish (WebSockets write what is queued, then a close frame) and returns from
    /// [`serve`]. Calls after the first do nothing.
    pub fn shutdown(&self) {
        if self.0.triggered.swap(true, Ordering::SeqCst) {
            return;
        }
        let hooks = std::mem::take(&mut *lock(&self.0.hooks));
        hooks.into_iter().for_each(|hook| hook());
        self.0.stopping.store(true, Ordering::SeqCst);
        for addr in lock(&self.0.listeners).iter() {
            let mut wake = *addr;
            if wake.ip().is_unspecified() {
                wake.set_ip(match wake {
                    SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                    SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
                });
            }
            if let Err(e) = TcpStream::connect_timeout(&wake, Duration::from_secs(1)) {
                tracing::warn!(error = %e, %wake, "could not wake the accept loop");
            }
        }
    }

    /// Whether [`shutdown`](Self::shutdown) was called.
    pub fn is_triggered(&self) -> bool {
        self.0.triggered.load(Ordering::SeqCst)
    }

    /// Whether the hooks have run and the server is stopping its connections.
    fn is_stopping(&self) -> bool {
        self.0.stopping.load(Ordering::SeqCst)
    }

    /// Runs `hook` when shutdown is triggered (at once if it already was), before the server
    /// stops its connections: the place to queue goodbyes.
    pub fn on_shutdown(&self, hook: impl FnOnce() + Send + 'static) {
        let mut hooks = lock(&self.0.hooks);
        if self.is_triggered() {
            drop(hooks);
            hook();
        } else {
            hooks.push(Box::new(hook));
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What a connection is doing, for shutdown.
const IDLE: u8 = 0;
const BUSY: u8 = 1;

/// A live connection as the server sees it.
pub(crate) struct Live {
    /// Another handle to its socket, to close it from outside; let go once it is a
    /// WebSocket (a descriptor per idle WebSocket is too many: its reactor closes it).
    stream: Option<TcpStream>,
    state: Arc<AtomicU8>,
    /// Set for WebSockets: closing it has the connection send its close frame.
    ws: bool,
    /// Its place in the table of connections in their HTTP phase (until upgraded).
    conn: Option<ConnId>,
}

/// State shared by the accept loop and every connection of one server.
pub(crate) struct Shared {
    pub(crate) config: ServerConfig,
    pub(crate) handlers: Handlers,
    fallback: Option<HttpHandler>,
    shutdown: ShutdownHandle,
    next_id: AtomicU64,
    live: Mutex<HashMap<u64, Live>>,
    gone: Condvar,
    /// Connections reading or waiting for a request, by server id; the oldest are closed to
    /// make room.
    waiting: Mutex<HttpConnections<u64>>,
    /// The threads that serve this server's WebSockets, started with the first one.
    reactors: Mutex<Option<crate::ws::Reactors>>,
    /// Given when the server stops its connections: every WebSocket closes.
    pub(crate) ws_stop: sockio_protocol::StopSignal,
}

impl Shared {
    /// Whether the server is stopping its connections (after the shutdown hooks ran).
    pub(crate) fn stopping(&self) -> bool {
        self.shutdown.is_stopping()
    }

    /// Marks connection `id` as waiting for or reading a request (it may be closed to make
    /// room), or as busy with the engine.
    fn mark(&self, id: u64, waiting: bool) {
        let conn = lock(&self.live).get(&id).and_then(|l| l.conn);
        let Some(conn) = conn else { return };
        let mut table = lock(&self.waiting);
        if !waiting {
            return table.busy(conn);
        }
        table.wait(conn);
        let evicted: Vec<u64> = std::iter::from_fn(|| table.over_cap().map(|(_, id)| id)).collect();
        drop(table);
        self.close_evicted(&evicted);
    }

    /// Closes connections taken out of the table to make room.
    fn close_evicted(&self, ids: &[u64]) {
        if ids.is_empty() {
            return;
        }
        let live = lock(&self.live);
        for id in ids {
            tracing::warn!("too many connections waiting for a request: the oldest closed");
            if let Some(stream) = live.get(id).and_then(|l| l.stream.as_ref()) {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
    }

    /// The reactor thread for a new WebSocket (the threads start with the first one).
    pub(crate) fn reactor(&self) -> io::Result<Arc<crate::ws::Reactor>> {
        let mut reactors = lock(&self.reactors);
        if reactors.is_none() {
            *reactors = Some(crate::ws::Reactors::start()?);
        }
        Ok(reactors.as_ref().map(|r| r.pick()).expect("started above"))
    }

    /// Connection `id` is over: it leaves the tables (a shutting-down server waits for that).
    pub(crate) fn connection_ended(&self, id: u64) {
        let mut live = lock(&self.live);
        if let Some(conn) = live.remove(&id).and_then(|l| l.conn) {
            lock(&self.waiting).remove(conn);
        }
        self.gone.notify_all();
    }

    /// Marks connection `id` as a WebSocket (it closes when [`ws_stop`](Self::ws_stop) is
    /// given, even if that was before).
    pub(crate) fn set_websocket(&self, id: u64) {
        let mut live = lock(&self.live);
        if let Some(l) = live.get_mut(&id) {
            l.ws = true;
            l.stream = None;
            if let Some(conn) = l.conn.take() {
                lock(&self.waiting).remove(conn);
            }
        }
    }
}

/// Serves HTTP/1.1 on `listener` with one thread per connection until `shutdown` is
/// triggered: requests under `config.path` go to `handlers`, other paths to `fallback` (404
/// without one).
///
/// On shutdown the server stops accepting, closes idle keep-alive connections, answers
/// requests in progress and then closes their connections, has every WebSocket write what is
/// already queued and then a close frame, waits up to 5 seconds for all of that, and returns.
/// Accept errors are logged and retried, so the result is `Ok` unless the listener cannot be
/// inspected.
pub fn serve(
    listener: TcpListener,
    config: ServerConfig,
    handlers: Handlers,
    fallback: Option<HttpHandler>,
    shutdown: ShutdownHandle,
) -> io::Result<()> {
    let addr = listener.local_addr()?;
    listener.set_nonblocking(false)?;
    lock(&shutdown.0.listeners).push(addr);
    let waiting = HttpConnections::new(config.transport.max_http_connections);
    let shared = Arc::new(Shared {
        config,
        handlers,
        fallback,
        shutdown: shutdown.clone(),
        next_id: AtomicU64::new(0),
        live: Mutex::new(HashMap::new()),
        gone: Condvar::new(),
        waiting: Mutex::new(waiting),
        reactors: Mutex::new(None),
        ws_stop: Default::default(),
    });
    while !shutdown.is_stopping() {
        match listener.accept() {
            Ok(_) if shutdown.is_stopping() => break,
            Ok((stream, peer)) => start(&shared, stream, peer),
            Err(e) => {
                // Out of file descriptors and the like: make room by closing the connection
                // that has waited the longest for a request, or give the system a moment.
                let oldest = lock(&shared.waiting).oldest().map(|(_, id)| id);
                tracing::warn!(error = %e, closing_oldest = oldest.is_some(), "accept failed");
                match oldest {
                    Some(id) => shared.close_evicted(&[id]),
                    None => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        }
    }
    drop(listener);
    stop(&shared);
    Ok(())
}

/// Registers a connection and starts its thread.
fn start(shared: &Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let state = Arc::new(AtomicU8::new(BUSY));
    let registered = stream.try_clone().map(|clone| {
        let mut live = Live {
            stream: Some(clone),
            state: state.clone(),
            ws: false,
            conn: None,
        };
        let mut table = lock(&shared.waiting);
        live.conn = Some(table.admit(id));
        let evicted: Vec<u64> = std::iter::from_fn(|| table.over_cap().map(|(_, id)| id)).collect();
        drop(table);
        lock(&shared.live).insert(id, live);
        evicted
    });
    let evicted = match registered {
        Ok(evicted) => evicted,
        Err(e) => {
            tracing::warn!(error = %e, %peer, "connection dropped");
            return;
        }
    };
    shared.close_evicted(&evicted);
    let conn_shared = shared.clone();
    let started = crate::spawn_thread("sockio-conn", move || {
        if !connection(&conn_shared, id, stream, peer, &state) {
            conn_shared.connection_ended(id);
        }
    });
    if let Err(e) = started {
        tracing::error!(error = %e, %peer, "could not start a connection thread");
        if let Some(conn) = lock(&shared.live).remove(&id).and_then(|l| l.conn) {
            lock(&shared.waiting).remove(conn);
        }
    }
}

/// Stops every connection gracefully, waiting up to [`SHUTDOWN_GRACE`].
fn stop(shared: &Shared) {
    let ids: Vec<u64> = {
        let live = lock(&shared.live);
        shared.ws_stop.stop();
        for l in live.values() {
            // Waiting for a next request that will not be served: end the wait.
            if !l.ws && l.state.load(Ordering::SeqCst) == IDLE {
                if let Some(stream) = &l.stream {
                    let _ = stream.shutdown(Shutdown::Read);
                }
            }
        }
        live.keys().copied().collect()
    };
    tracing::debug!(open = ids.len(), "shutting down");
    let end = Instant::now() + SHUTDOWN_GRACE;
    let mut live = lock(&shared.live);
    while !live.is_empty() {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            tracing::warn!(
                open = live.len(),
                "connections still open after the shutdown grace period; closing them"
            );
            for stream in live.values().filter_map(|l| l.stream.as_ref()) {
                let _ = stream.shutdown(Shutdown::Both);
            }
            if let Some(reactors) = lock(&shared.reactors).as_ref() {
                reactors.close_all();
            }
            return;
        }
        live = shared
            .gone
            .wait_timeout(live, left)
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
}

/// Serves one connection: requests until the peer or the server closes it, or until it
/// becomes a WebSocket. True when it went on as a WebSocket (a reactor thread ends it).
fn connection(
    shared: &Arc<Shared>,
    id: u64,
    stream: TcpStream,
    peer: SocketAddr,
    state: &AtomicU8,
) -> bool {
    let setup = stream
        .set_nodelay(true)
        .and_then(|()| stream.set_write_timeout(Some(shared.config.transport.write_timeout)));
    if let Err(e) = setup {
        tracing::debug!(error = %e, %peer, "socket setup failed");
        return false;
    }
    let transport = &shared.config.transport;
    let limits = Limits {
        max_head: transport.max_head,
        idle_timeout: shared.config.idle_timeout,
        header_timeout: transport.header_timeout,
        transport: transport.clone(),
    };
    let mut conn = Conn::new(stream, limits);
    loop {
        // Publish idleness before checking for shutdown: `stop` checks them the other way.
        state.store(IDLE, Ordering::SeqCst);
        if shared.stopping() && conn.buf.is_empty() {
            return false;
        }
        let head = match conn.read_head() {
            Ok(Some(head)) => head,
            Ok(None) => return false,
            Err(e) => {
                refuse(&mut conn, e, peer);
                return false;
            }
        };
        state.store(BUSY, Ordering::SeqCst);
        let keep_alive = head.keep_alive();
        let head_only = head.method == "HEAD";
        let mut request = head.into_request(Bytes::new(), Some(peer));
        let route = shared.config.transport.route(&request);
        if route == Route::WebSocket {
            return crate::ws::run(shared, id, conn, request);
        }
        // The engine decides what a too-large body means for its session: it gets one byte
        // over the limit, never more (the rest stays unread, so the connection closes).
        let max = shared.config.transport.max_body;
        request.body = match conn.read_body(&request, max, route == Route::Engine) {
            Ok(body) => body,
            Err(e) => {
                refuse(&mut conn, e, peer);
                return false;
            }
        };
        let complete = request.body.len() <= max;
        let handler = match route {
            Route::Engine => Some(&shared.handlers.on_request),
            _ => shared.fallback.as_ref(),
        };
        // The engine may hold the request (a parked GET): not a connection to close for room.
        shared.mark(id, false);
        let response = match handler {
            Some(h) => block_on(h(request)),
            None => http::status(404),
        };
        shared.mark(id, true);
        let keep_alive = keep_alive && complete;
        // Once shutdown is triggered, answers close their connection (a client that still
        // has something to say opens a new one while the server serves the hooks).
        let keep_alive = keep_alive && !shared.shutdown.is_triggered();
        if let Err(e) = http::write_response(&mut conn.stream, &response, keep_alive, head_only) {
            tracing::debug!(error = %e, %peer, "writing a response failed");
            return false;
        }
        if !keep_alive {
            return false;
        }
    }
}

/// Answers a request that could not be read (when it still can be) and ends the connection.
fn refuse(conn: &mut Conn, e: ReadError, peer: SocketAddr) {
    match e.status() {
        Some(408) => {
            tracing::warn!(%peer, "request too slow: connection closed");
            let _ = http::write_response(&mut conn.stream, &http::status(408), false, false);
        }
        Some(code @ (413 | 431)) => {
            tracing::warn!(status = code, %peer, "request refused: over a limit (max_payload, max_http_head)");
            let _ = http::write_response(&mut conn.stream, &http::status(code), false, false);
        }
        Some(code) => {
            tracing::debug!(status = code, %peer, "request refused");
            let _ = http::write_response(&mut conn.stream, &http::status(code), false, false);
        }
        None => match e {
            ReadError::Io(e) if e.kind() != io::ErrorKind::UnexpectedEof => {
                tracing::debug!(error = %e, %peer, "connection ended")
            }
            _ => {}
        },
    }
}
