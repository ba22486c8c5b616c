//! Diagnostics: what the driver logs about refusals, peer faults and, at `trace`, every
//! packet (python-socketio's `engineio_logger=True`).
//!
//! The protocol core cannot log; it hands back error responses and close reasons, and this
//! module turns them into one line each, with the peer address, the sid and the reason:
//!
//! | what | level |
//! |---|---|
//! | a handshake refused by `allow_request` or CORS (403), a bad request (400), an unknown sid | `debug` |
//! | a payload over `max_payload` (413), a request head or body over its limits | `warn` |
//! | a namespace connection refused (unknown namespace, connect handler, auth payload) | `debug` |
//! | a session closed: the reason (transport close, ping timeout, parse error, …) | `debug` (`warn` for the limits: slow consumer, too many events) |
//! | each Engine.IO packet in and out: direction, sid, transport, packet type, size, the payload cut at 120 bytes | `trace` |
//!
//! Every line is under the `sockio` target, so `RUST_LOG=sockio=debug` (with a
//! `tracing-subscriber` `EnvFilter`) shows refusals, `RUST_LOG=sockio=trace` the packets.
//! When the level is off, each call costs one cached level check.

use std::net::SocketAddr;

use sockio_protocol::{DisconnectReason, Frame, HttpRequest, HttpResponse, Method};
use tracing::Level;

/// How much of a payload a packet line shows.
const SHOWN: usize = 120;

/// What is kept of a request to describe its answer: taken only when the answer might be
/// logged.
pub(crate) struct Asked {
    peer: Option<SocketAddr>,
    sid: Option<String>,
    method: Method,
    transport: Option<String>,
}

impl Asked {
    /// Notes what the log lines need from `request`, and logs its body at `trace`.
    pub(crate) fn new(request: &HttpRequest) -> Option<Asked> {
        if !tracing::enabled!(target: "sockio", Level::WARN) {
            return None;
        }
        let asked = Asked {
            peer: request.peer,
            sid: request.query_param("sid").map(|s| s.into_owned()),
            method: request.method,
            transport: request.query_param("transport").map(|s| s.into_owned()),
        };
        if request.method == Method::Post && tracing::enabled!(target: "sockio", Level::TRACE) {
            payload("in", asked.sid.as_deref(), "polling", &request.body);
        }
        Some(asked)
    }

    /// Logs the answer to the request: a refusal at `debug` (a limit at `warn`), a polling
    /// payload at `trace`.
    pub(crate) fn answered(self, response: &HttpResponse) {
        let status = response.status;
        if status >= 400 {
            let reason = error_message(&response.body);
            let (peer, sid, method) = (self.peer, self.sid.as_deref(), self.method);
            let transport = self.transport.as_deref();
            match status {
                413 | 431 | 408 => tracing::warn!(
                    target: "sockio", ?peer, sid, ?method, transport, status, reason,
                    "request refused: over a limit (see max_payload and the HTTP limits)"
                ),
                403 => tracing::debug!(
                    target: "sockio", ?peer, sid, ?method, transport, status, reason,
                    "request refused: forbidden (allow_request or cors_allowed_origins)"
                ),
                503 => tracing::debug!(
                    target: "sockio", ?peer, sid, ?method, transport, status,
                    "request refused: shutting down"
                ),
                _ => tracing::debug!(
                    target: "sockio", ?peer, sid, ?method, transport, status, reason,
                    "request refused"
                ),
            }
        } else if self.method == Method::Get && tracing::enabled!(target: "sockio", Level::TRACE) {
            payload("out", self.sid.as_deref(), "polling", &response.body);
        }
    }
}

/// Logs the answer to a request noted with [`Asked::new`] (nothing when logging is off).
pub(crate) fn answered(asked: Option<Asked>, response: &HttpResponse) {
    if let Some(asked) = asked {
        asked.answered(response);
    }
}

/// The message of an Engine.IO error body (`{"code":N,"message":"..."}`), or the body.
fn error_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct EngineError {
        message: String,
    }
    match serde_json::from_slice::<EngineError>(body) {
        Ok(e) => e.message,
        Err(_) => shown(body),
    }
}

/// A WebSocket upgrade refused before it opened.
pub(crate) fn websocket_refused(request: &HttpRequest, response: &HttpResponse) {
    answered(Asked::new(request), response);
}

/// A session closed, with its reason: routine ones at `debug`, limits at `warn`.
pub(crate) fn session_closed(
    sid: impl std::fmt::Display,
    peer: Option<SocketAddr>,
    reason: DisconnectReason,
) {
    match reason {
        DisconnectReason::SlowConsumer | DisconnectReason::TooManyEvents => tracing::warn!(
            target: "sockio", %sid, ?peer, reason = reason.as_str(), "session closed: limit reached"
        ),
        DisconnectReason::ParseError => tracing::debug!(
            target: "sockio", %sid, ?peer, reason = reason.as_str(),
            "session closed: the client sent a packet that does not parse"
        ),
        DisconnectReason::TransportError => tracing::debug!(
            target: "sockio", %sid, ?peer, reason = reason.as_str(),
            "session closed: transport error (a message over max_payload, or a protocol error)"
        ),
        _ => tracing::debug!(
            target: "sockio", %sid, ?peer, reason = reason.as_str(), "session closed"
        ),
    }
}

/// A namespace connection refused (unknown namespace, the connect handler, a bad auth
/// payload), at `debug`.
pub(crate) fn connect_refused(sid: &str, namespace: &str, peer: Option<SocketAddr>, why: &str) {
    tracing::debug!(target: "sockio", sid, namespace, ?peer, reason = why, "namespace connection refused");
}

/// Whether packet lines are on (checked before looking up what they need).
pub(crate) fn tracing_packets() -> bool {
    tracing::enabled!(target: "sockio", Level::TRACE)
}

/// A WebSocket message in or out, at `trace`.
pub(crate) fn frame(direction: &'static str, sid: Option<&str>, frame: &Frame) {
    match frame {
        Frame::Text(b) => packet(direction, sid, "websocket", b),
        Frame::Binary(b) => tracing::trace!(
            target: "sockio", direction, sid, transport = "websocket", kind = "binary",
            size = b.len(), data = %hex(b), "packet"
        ),
    }
}

/// Every packet of a polling payload (joined by the record separator), at `trace`.
fn payload(direction: &'static str, sid: Option<&str>, transport: &'static str, body: &[u8]) {
    for p in body.split(|&b| b == 0x1e).filter(|p| !p.is_empty()) {
        packet(direction, sid, transport, p);
    }
}

/// One Engine.IO text packet: its type, and the Socket.IO packet type inside a message.
fn packet(direction: &'static str, sid: Option<&str>, transport: &'static str, p: &[u8]) {
    let kind = match p.first() {
        Some(b'0') => "open",
        Some(b'1') => "close",
        Some(b'2') => "ping",
        Some(b'3') => "pong",
        Some(b'4') => match p.get(1) {
            Some(b'0') => "message/CONNECT",
            Some(b'1') => "message/DISCONNECT",
            Some(b'2') => "message/EVENT",
            Some(b'3') => "message/ACK",
            Some(b'4') => "message/CONNECT_ERROR",
            Some(b'5') => "message/BINARY_EVENT",
            Some(b'6') => "message/BINARY_ACK",
            _ => "message",
        },
        Some(b'5') => "upgrade",
        Some(b'6') => "noop",
        Some(b'b') => "binary (base64)",
        _ => "unknown",
    };
    tracing::trace!(
        target: "sockio", direction, sid, transport, kind, size = p.len(), data = %shown(p),
        "packet"
    );
}

/// The first bytes of a text payload, lossily.
fn shown(b: &[u8]) -> String {
    let cut = &b[..b.len().min(SHOWN)];
    let mut s = String::from_utf8_lossy(cut).into_owned();
    if b.len() > SHOWN {
        s.push('…');
    }
    s
}

/// The first bytes of a binary payload in hex.
fn hex(b: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(SHOWN * 2 + 1);
    for byte in &b[..b.len().min(SHOWN / 2)] {
        let _ = write!(s, "{byte:02x}");
    }
    if b.len() > SHOWN / 2 {
        s.push('…');
    }
    s
}
