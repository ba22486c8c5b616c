//! Plain HTTP and WebSocket data exchanged between a runtime driver and the core.
//!
//! These types carry no I/O: a driver parses a request with whatever HTTP library it uses, copies
//! the parts the Engine.IO handshake needs into an [`HttpRequest`], and writes the
//! [`HttpResponse`] the core hands back.

use std::borrow::Cow;
use std::fmt;
use std::net::SocketAddr;

use bytes::Bytes;

/// The HTTP method of a request, as far as Engine.IO cares.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Method {
    /// `GET`: handshake or long-polling read.
    #[default]
    Get,
    /// `POST`: long-polling write.
    Post,
    /// `OPTIONS`: CORS preflight.
    Options,
    /// Any other method; answered with an error.
    Other,
}

impl Method {
    /// Maps a method name to a [`Method`].
    pub fn from_name(name: &str) -> Self {
        match name {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "OPTIONS" => Method::Options,
            _ => Method::Other,
        }
    }
}

/// An HTTP request on the Engine.IO path, or the request that opened a WebSocket.
#[derive(Clone, Default)]
pub struct HttpRequest {
    /// The request method.
    pub method: Method,
    /// The path, without the query string.
    pub path: String,
    /// The raw query string, without the leading `?`.
    pub query: String,
    /// Headers with lower-case names, in the order received.
    pub headers: Vec<(String, String)>,
    /// The request body (empty for `GET` and for WebSocket upgrades).
    pub body: Bytes,
    /// The peer address, when the driver knows it.
    pub peer: Option<SocketAddr>,
}

impl HttpRequest {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first query parameter with this name, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<Cow<'_, str>> {
        query_pairs(&self.query)
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// The value of a cookie sent in the `Cookie` header.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
            .flat_map(|(_, v)| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }
}

impl HttpRequest {
    /// Whether this is a `GET` asking for a WebSocket (`Upgrade: websocket`, case-insensitive,
    /// possibly in a list).
    pub fn is_websocket_upgrade(&self) -> bool {
        self.method == Method::Get
            && self
                .headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case("upgrade"))
                .flat_map(|(_, v)| v.split(','))
                .any(|t| t.trim().eq_ignore_ascii_case("websocket"))
    }

    /// The `Sec-WebSocket-Key` of an upgrade request that speaks WebSocket version 13, the
    /// only one there is; `None` means the upgrade must be refused with 400 and
    /// `Sec-WebSocket-Version: 13`.
    pub fn websocket_key(&self) -> Option<&str> {
        let version_ok = self
            .header("sec-websocket-version")
            .is_some_and(|v| v.trim() == "13");
        self.header("sec-websocket-key")
            .map(str::trim)
            .filter(|k| version_ok && !k.is_empty())
    }
}

/// One message for the writing side of a WebSocket connection, from the layer above to a
/// runtime adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsOut {
    /// A data message to send.
    Frame(Frame),
    /// Send a close frame (after everything sent before it) and end the connection.
    Close,
}

/// How much one connection's reader handles before it lets its executor run other tasks: a
/// peer that keeps complete messages coming (or a burst of them already buffered) would
/// otherwise keep the thread, and every task queued behind it, to itself.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReadBudget {
    messages: usize,
    bytes: usize,
}

impl ReadBudget {
    /// Messages read before yielding.
    pub const MESSAGES: usize = 32;
    /// Bytes read before yielding.
    pub const BYTES: usize = 256 * 1024;

    /// Counts one message of `bytes`; true when the reader should yield now (the budget then
    /// starts over).
    pub fn spend(&mut self, bytes: usize) -> bool {
        self.messages += 1;
        self.bytes += bytes;
        let spent = self.messages >= Self::MESSAGES || self.bytes >= Self::BYTES;
        if spent {
            *self = ReadBudget::default();
        }
        spent
    }
}

/// A boxed future that can move between threads.
pub type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'static>>;

/// Where a WebSocket's data messages go, one call per message in the order read, on the
/// task (or thread) that reads the connection. A call that returns `Some(wait)` pauses the
/// reading: nothing more is read from the connection until `wait` resolves. Dropped when the
/// peer closes, errs, or the connection ends: that is the end of the connection for the layer
/// above.
pub type WsInbound = Box<dyn FnMut(Frame) -> Option<BoxFuture<()>> + Send>;

/// A WebSocket as the layer above opened it: where the adapter hands what it reads, and what
/// it writes.
pub type WsOpened = (WsInbound, std::sync::Arc<dyn WsOutbox>);

/// A one-time signal that many connections wait for (the server shutting down), cheap to
/// check: each waiter registers its waker once, and every later poll is one atomic load, with
/// no lock shared by the connections.
#[derive(Clone, Default)]
pub struct StopSignal(std::sync::Arc<StopInner>);

#[derive(Default)]
struct StopInner {
    stopped: std::sync::atomic::AtomicBool,
    waiters: std::sync::Mutex<(u64, std::collections::HashMap<u64, std::task::Waker>)>,
}

impl fmt::Debug for StopSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StopSignal")
            .field("stopped", &self.is_stopped())
            .finish_non_exhaustive()
    }
}

impl StopSignal {
    /// A signal not given yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Gives the signal: every waiter completes (now, or at its next poll).
    pub fn stop(&self) {
        use std::sync::atomic::Ordering;
        self.0.stopped.store(true, Ordering::SeqCst);
        let waiters = {
            let mut w = self.0.waiters.lock().unwrap_or_else(|p| p.into_inner());
            std::mem::take(&mut w.1)
        };
        waiters.into_values().for_each(std::task::Waker::wake);
    }

    /// Whether the signal was given.
    pub fn is_stopped(&self) -> bool {
        self.0.stopped.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// A future that completes once the signal is given.
    pub fn wait(&self) -> StopWait {
        StopWait {
            signal: self.clone(),
            registered: None,
        }
    }
}

/// Completes once its [`StopSignal`] is given; see [`StopSignal::wait`].
#[derive(Debug)]
pub struct StopWait {
    signal: StopSignal,
    /// Its key among the waiters, and the waker registered there.
    registered: Option<(u64, std::task::Waker)>,
}

impl std::future::Future for StopWait {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.signal.is_stopped() {
            return std::task::Poll::Ready(());
        }
        if let Some((_, w)) = &self.registered {
            if w.will_wake(cx.waker()) {
                return std::task::Poll::Pending;
            }
        }
        let key = {
            let mut w = self
                .signal
                .0
                .waiters
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let key = match &self.registered {
                Some((key, _)) => *key,
                None => {
                    w.0 += 1;
                    w.0
                }
            };
            w.1.insert(key, cx.waker().clone());
            key
        };
        self.registered = Some((key, cx.waker().clone()));
        // Given meanwhile: `stop` may have taken the waiters before this one was in.
        if self.signal.is_stopped() {
            return std::task::Poll::Ready(());
        }
        std::task::Poll::Pending
    }
}

impl Drop for StopWait {
    fn drop(&mut self) {
        if let Some((key, _)) = self.registered.take() {
            let mut w = self
                .signal
                .0
                .waiters
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            w.1.remove(&key);
        }
    }
}

/// The writing side of a WebSocket connection as a runtime adapter sees it: the messages to
/// write, in order. The layer above fills it; the adapter's writer drains it.
pub trait WsOutbox: Send + Sync + 'static {
    /// The next message to write; `Ready(None)` once there will be none (the layer above let
    /// go of the connection without a [`WsOut::Close`]: end it).
    fn poll_next(&self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Option<WsOut>>;

    /// The next message if one is waiting, with no waker kept: a writer that is running
    /// looks with this, and with [`poll_next`](Self::poll_next) before it sleeps.
    fn try_next(&self) -> Option<WsOut>;

    /// The connection ended: nothing more will be written.
    fn close(&self);
}

/// The settings every runtime adapter shares: where the engine lives and how large a request
/// body or a WebSocket message may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportConfig {
    /// The engine path (default `/socket.io/`). `/socket.io` and everything under
    /// `/socket.io/` match it.
    pub path: String,
    /// The largest request body read, in bytes (default 1 000 000). On the engine path a
    /// longer body is handed on cut to `max_body + 1` bytes (the core answers it and closes
    /// the session); elsewhere it is refused with 413 before it is read.
    pub max_body: usize,
    /// The largest WebSocket message (and frame) accepted, in bytes (default 1 000 000 plus
    /// 4 KiB of slack for packet headers); a larger one closes the connection (1009).
    pub max_message_size: usize,
    /// How many messages a WebSocket's writer buffers (default 16). When it is full the layer
    /// above stops handing it data (the session's own bounded queue takes over), so a peer
    /// that does not read cannot make the server buffer without limit.
    pub ws_buffer: usize,
    /// How long a peer that does not read may hold up the writing of a WebSocket message or
    /// an HTTP response (default 30 s); then the connection is dropped.
    pub write_timeout: std::time::Duration,
    /// The largest request head (request line and headers) read, in bytes (default 16 KiB);
    /// a larger one is answered 431 and the connection closed.
    pub max_head: usize,
    /// How long a request head may take to arrive, from its first byte or from the moment the
    /// connection became idle (default 10 s); then the connection is closed.
    pub header_timeout: std::time::Duration,
    /// How long a request body may go without progress (default 10 s); see
    /// [`min_body_rate`](Self::min_body_rate) for the overall deadline.
    pub body_timeout: std::time::Duration,
    /// The slowest average rate a request body may arrive at, in bytes per second (default
    /// 16 KiB/s): a body of `n` bytes must be complete within
    /// `body_timeout + n / min_body_rate` of its head.
    pub min_body_rate: usize,
    /// Most connections that are still reading or waiting for a request (not upgraded to
    /// WebSocket and not waiting on the engine, such as a parked long-polling GET); when full,
    /// the oldest of them is closed to make room (default: half the process's open-file
    /// limit, at most 16,384; see [`default_max_http_connections`]).
    pub max_http_connections: usize,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            path: "/socket.io/".to_owned(),
            max_body: 1_000_000,
            max_message_size: 1_000_000 + 4096,
            ws_buffer: 16,
            write_timeout: std::time::Duration::from_secs(30),
            max_head: 16 * 1024,
            header_timeout: std::time::Duration::from_secs(10),
            body_timeout: std::time::Duration::from_secs(10),
            min_body_rate: 16 * 1024,
            max_http_connections: 16_384,
        }
    }
}

/// Where a runtime adapter sends a request, decided by [`TransportConfig::route`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// A WebSocket upgrade on the engine path: answer 101 (or 400 when
    /// [`HttpRequest::websocket_key`] is `None`) and hand the socket on.
    WebSocket,
    /// An engine request: read the body (at most `max_body + 1` bytes) and hand it on.
    Engine,
    /// Not for the engine: the application's fallback, or 404. Bodies over `max_body` get 413.
    Elsewhere,
}

/// The default of [`TransportConfig::max_http_connections`] for a process that may open
/// `open_files` files: half of it (the other half stays for WebSockets, parked requests and
/// the application), at least 16 and at most 16,384.
pub fn default_max_http_connections(open_files: Option<u64>) -> usize {
    open_files.map_or(16_384, |n| (n / 2).clamp(16, 16_384) as usize)
}

impl TransportConfig {
    /// When a request body of `received` bytes so far, whose head was read at `start`, must
    /// have made progress by: the later of `last_progress + body_timeout` capped by the
    /// overall deadline `start + body_timeout + received / min_body_rate`.
    pub fn body_deadline(
        &self,
        start: std::time::Instant,
        last_progress: std::time::Instant,
        received: usize,
    ) -> std::time::Instant {
        let rate = self.min_body_rate.max(1) as u64;
        let allowance = std::time::Duration::from_millis(received as u64 * 1000 / rate);
        let overall = start + self.body_timeout + allowance;
        (last_progress + self.body_timeout).min(overall)
    }

    /// Whether `path` is the engine path or under it.
    pub fn serves(&self, path: &str) -> bool {
        let base = self.path.trim_end_matches('/');
        path.strip_prefix(base)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }

    /// Where `request` (its head: method, path, headers) goes.
    pub fn route(&self, request: &HttpRequest) -> Route {
        if !self.serves(&request.path) {
            Route::Elsewhere
        } else if request.is_websocket_upgrade() {
            Route::WebSocket
        } else {
            Route::Engine
        }
    }
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("headers", &self.headers.len())
            .field("body_len", &self.body.len())
            .field("peer", &self.peer)
            .finish()
    }
}

/// Iterates over the `key=value` pairs of a query string, percent-decoding both sides.
pub fn query_pairs(query: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    query.split('&').filter(|s| !s.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k), percent_decode(v))
    })
}

/// Decodes `%XX` escapes and `+` (as a space). Invalid escapes are kept as they are.
pub fn percent_decode(s: &str) -> Cow<'_, str> {
    if !s.bytes().any(|b| b == b'%' || b == b'+') {
        return Cow::Borrowed(s);
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// An HTTP response produced by the core.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Response headers (names in canonical case).
    pub headers: Vec<(&'static str, String)>,
    /// Response body.
    pub body: Bytes,
}

impl HttpResponse {
    /// An Engine.IO error: `status` with the JSON body `{"code":code,"message":message}`
    /// (codes: 0 unknown transport, 1 unknown session id, 2 bad handshake method, 3 bad
    /// request, 4 forbidden, 5 unsupported protocol version).
    pub fn engine_error(status: u16, code: u8, message: &str) -> Self {
        let body = serde_json::json!({ "code": code, "message": message }).to_string();
        HttpResponse {
            status,
            headers: vec![("Content-Type", "application/json".into())],
            body: Bytes::from(body),
        }
    }
}

impl fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// One WebSocket data message, in either direction.
#[derive(Clone, PartialEq, Eq)]
pub enum Frame {
    /// A text message. The bytes must be valid UTF-8 when sent by the core; bytes received
    /// from a peer are validated by the core.
    Text(Bytes),
    /// A binary message.
    Binary(Bytes),
}

impl Frame {
    /// The payload length in bytes.
    pub fn len(&self) -> usize {
        match self {
            Frame::Text(b) | Frame::Binary(b) => b.len(),
        }
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Frame::Text(b) => write!(f, "Text({} bytes)", b.len()),
            Frame::Binary(b) => write!(f, "Binary({} bytes)", b.len()),
        }
    }
}

#[cfg(test)]
mod tests {

    fn head(method: Method, path: &str, headers: &[(&str, &str)]) -> HttpRequest {
        HttpRequest {
            method,
            path: path.into(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            ..HttpRequest::default()
        }
    }

    #[test]
    fn routes_by_path_and_upgrade() {
        let config = TransportConfig::default();
        let ws = [("upgrade", "h2c, WebSocket"), ("connection", "Upgrade")];
        assert_eq!(
            config.route(&head(Method::Get, "/socket.io/", &ws)),
            Route::WebSocket
        );
        assert_eq!(
            config.route(&head(Method::Get, "/socket.io", &[])),
            Route::Engine
        );
        assert_eq!(
            config.route(&head(Method::Post, "/socket.io/", &ws)),
            Route::Engine
        );
        assert_eq!(
            config.route(&head(Method::Get, "/socket.iox", &ws)),
            Route::Elsewhere
        );
        assert_eq!(config.route(&head(Method::Get, "/", &[])), Route::Elsewhere);
        let custom = TransportConfig {
            path: "/rt".into(),
            ..TransportConfig::default()
        };
        assert!(custom.serves("/rt/") && custom.serves("/rt") && !custom.serves("/socket.io/"));
    }

    #[test]
    fn websocket_key_needs_version_13() {
        let ok = head(
            Method::Get,
            "/",
            &[
                ("sec-websocket-version", "13"),
                ("sec-websocket-key", " abc== "),
            ],
        );
        assert_eq!(ok.websocket_key(), Some("abc=="));
        let old = head(
            Method::Get,
            "/",
            &[
                ("sec-websocket-version", "8"),
                ("sec-websocket-key", "abc=="),
            ],
        );
        assert_eq!(old.websocket_key(), None);
        assert_eq!(
            head(Method::Get, "/", &[("sec-websocket-version", "13")]).websocket_key(),
            None
        );
    }

    use super::*;

    #[test]
    fn query_and_cookies() {
        let req = HttpRequest {
            query: "EIO=4&transport=polling&name=a%20b+c&bad=%zz&t=".into(),
            headers: vec![("cookie".into(), "io=abc; theme=dark".into())],
            ..Default::default()
        };
        assert_eq!(req.query_param("EIO").as_deref(), Some("4"));
        assert_eq!(req.query_param("name").as_deref(), Some("a b c"));
        assert_eq!(req.query_param("bad").as_deref(), Some("%zz"));
        assert_eq!(req.query_param("t").as_deref(), Some(""));
        assert_eq!(req.query_param("missing"), None);
        assert_eq!(req.cookie("theme"), Some("dark"));
        assert_eq!(req.cookie("io"), Some("abc"));
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("a%4"), "a%4");
    }
}
