//! From `http::Request` to [`HttpRequest`] and from [`HttpResponse`] back, and the
//! WebSocket upgrade.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_net::TcpStream;
use bytes::{Buf, Bytes, BytesMut};
use http::header::{self, HeaderName, HeaderValue};
use http::{request, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use smol_hyper::rt::FuturesIo;
use sockio_protocol::admission::{ConnId, HttpConnections};
use sockio_protocol::http::Route;
use sockio_protocol::websocket::accept_key;

use crate::{Handlers, HttpHandler, HttpRequest, HttpResponse, Method, ServerConfig};

/// What ends a connection closed to make room: closing the channel.
pub(crate) type Evict = async_channel::Sender<()>;

/// State shared by every connection of one server. Every connection (and WebSocket) holds
/// it, and so a clone of `alive`: the server knows all are over when the channel closes.
pub(crate) struct Shared {
    pub(crate) config: ServerConfig,
    pub(crate) handlers: Handlers,
    /// Answers off-path requests; `None` answers 404.
    pub(crate) fallback: Option<HttpHandler>,
    /// Closed when the server shuts down; nothing is ever sent on it.
    pub(crate) stop: async_channel::Receiver<()>,
    /// Given when the server shuts down: its WebSockets close.
    pub(crate) ws_stop: sockio_protocol::StopSignal,
    pub(crate) _alive: async_channel::Sender<()>,
    /// Connections still in their HTTP phase.
    pub(crate) connections: Mutex<HttpConnections<Evict>>,
}

impl Shared {
    /// Resolves once the server is shutting down.
    pub(crate) async fn stopped(&self) {
        let _ = self.stop.recv().await;
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HttpConnections<Evict>> {
        self.connections.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Enters a new connection in the table, closing what has to make room.
    pub(crate) fn admit(&self, evict: Evict) -> ConnId {
        let mut t = self.table();
        let id = t.admit(evict);
        while let Some((_, old)) = t.over_cap() {
            tracing::warn!("too many connections waiting for a request: the oldest closed");
            old.close();
        }
        id
    }

    /// Closes the connection that has waited the longest for a request; false if none.
    pub(crate) fn evict_oldest(&self) -> bool {
        let oldest = self.table().oldest();
        oldest.map(|(_, evict)| evict.close()).is_some()
    }

    pub(crate) fn forget(&self, id: ConnId) {
        self.table().remove(id);
    }

    /// Marks connection `id` as waiting for or reading a request (it may be closed to make
    /// room), or as busy with the engine.
    fn mark(&self, id: ConnId, waiting: bool) {
        let mut t = self.table();
        if !waiting {
            return t.busy(id);
        }
        t.wait(id);
        while let Some((_, old)) = t.over_cap() {
            tracing::warn!("too many connections waiting for a request: the oldest closed");
            old.close();
        }
    }

    /// Answers one request: WebSocket upgrade, engine request, fallback or 404. `conn` is the
    /// request's connection in the table.
    pub(crate) async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
        peer: SocketAddr,
        conn: ConnId,
    ) -> Response<Full<Bytes>> {
        let (mut parts, body) = req.into_parts();
        let mut request = to_request(&parts, peer);
        let route = self.config.route(&request);
        let handler = match (route, &self.fallback) {
            (Route::WebSocket, _) => {
                let on_upgrade = parts.extensions.remove::<OnUpgrade>();
                return self.upgrade(request, on_upgrade);
            }
            (Route::Engine, _) => &self.handlers.on_request,
            (Route::Elsewhere, Some(fallback)) => fallback,
            (Route::Elsewhere, None) => return status(StatusCode::NOT_FOUND),
        };
        // The engine decides what a too-large body means for its session: it gets one byte
        // over the limit, never more. Other paths refuse it.
        let max = self.config.max_body;
        let refuse_large = route == Route::Elsewhere;
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if refuse_large && declared.is_some_and(|n| n > max as u64) {
            return status(StatusCode::PAYLOAD_TOO_LARGE);
        }
        request.body = match read_capped(body, max, &self.config).await {
            Ok(body) if refuse_large && body.len() > max => {
                return status(StatusCode::PAYLOAD_TOO_LARGE)
            }
            Ok(body) => body,
            Err(ReadError::Body(e)) => {
                tracing::debug!(error = %e, %peer, "reading a request body failed");
                return status(StatusCode::BAD_REQUEST);
            }
            Err(ReadError::TooSlow { received }) => {
                tracing::warn!(%peer, received, "request body too slow: connection closed");
                let mut resp = status(StatusCode::REQUEST_TIMEOUT);
                resp.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                return resp;
            }
        };
        // The engine may hold the request (a parked GET): not a connection to close for room.
        self.mark(conn, false);
        let response = to_response(handler(request).await);
        self.mark(conn, true);
        response
    }

    /// Answers a WebSocket upgrade with 101 and, once hyper hands the connection back, runs
    /// it in a task of its own. The layer above learns of the WebSocket before the 101 is
    /// sent: what the client does once it sees the 101 (open another WebSocket for the same
    /// session, say) comes after it.
    fn upgrade(
        self: Arc<Self>,
        request: HttpRequest,
        on_upgrade: Option<OnUpgrade>,
    ) -> Response<Full<Bytes>> {
        let Some(key) = request.websocket_key() else {
            let mut resp = status(StatusCode::BAD_REQUEST);
            resp.headers_mut().insert(
                header::SEC_WEBSOCKET_VERSION,
                HeaderValue::from_static("13"),
            );
            return resp;
        };
        let Ok(accept) = HeaderValue::try_from(accept_key(key)) else {
            return status(StatusCode::BAD_REQUEST);
        };
        if let Some(refusal) = (self.handlers.check_websocket)(&request) {
            return to_response(refusal);
        }
        let Some(on_upgrade) = on_upgrade else {
            tracing::warn!("WebSocket upgrade requested on a connection that cannot be upgraded");
            return status(StatusCode::BAD_REQUEST);
        };
        let peer = request.peer;
        let opened = (self.handlers.on_websocket)(request);
        crate::spawn(async move {
            let upgraded = match on_upgrade.await {
                Ok(upgraded) => upgraded,
                // Dropping `opened` tells the layer above the WebSocket is over.
                Err(e) => return tracing::debug!(error = %e, ?peer, "WebSocket upgrade failed"),
            };
            // Take the TCP stream back (and what hyper read past the request) so frames go
            // straight to the socket.
            match upgraded.downcast::<FuturesIo<TcpStream>>() {
                Ok(parts) => {
                    let stream = parts.io.into_inner();
                    crate::ws::run(self, peer, opened, stream, parts.read_buf).await;
                }
                Err(_) => tracing::error!("upgraded connection of an unexpected type"),
            }
        });
        let mut resp = status(StatusCode::SWITCHING_PROTOCOLS);
        let h = resp.headers_mut();
        h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        h.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
        resp
    }
}

/// Why a request body could not be read.
enum ReadError {
    Body(hyper::Error),
    /// It did not arrive in time (see [`ServerConfig::body_deadline`]).
    TooSlow {
        received: usize,
    },
}

/// Reads a request body, stopping as soon as it is longer than `max` bytes: a longer body
/// comes back cut to `max + 1` bytes, so that the handler sees it is too long without the
/// whole of it in memory. The rest is left unread (hyper then closes the connection). A body
/// that does not arrive in time (`body_timeout` without progress, or slower on average than
/// `min_body_rate`) is given up on.
async fn read_capped(
    body: Incoming,
    max: usize,
    config: &ServerConfig,
) -> Result<Bytes, ReadError> {
    use futures_lite::FutureExt as _;
    let mut body = std::pin::pin!(body);
    let mut buf = BytesMut::new();
    let start = Instant::now();
    let mut progress = start;
    loop {
        let deadline = config.body_deadline(start, progress, buf.len());
        let late = async {
            async_io::Timer::at(deadline).await;
            Err(ReadError::TooSlow {
                received: buf.len(),
            })
        };
        let frame = match async { Ok(body.frame().await) }.or(late).await? {
            Some(frame) => frame,
            None => break,
        };
        progress = Instant::now();
        let Ok(mut data) = frame.map_err(ReadError::Body)?.into_data() else {
            continue; // trailers
        };
        let take = data.remaining().min(max + 1 - buf.len());
        buf.extend_from_slice(&data.copy_to_bytes(take));
        if buf.len() > max {
            break;
        }
    }
    Ok(buf.freeze())
}

/// The head of a request; the body is read later.
fn to_request(parts: &request::Parts, peer: SocketAddr) -> HttpRequest {
    HttpRequest {
        method: Method::from_name(parts.method.as_str()),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        // `http` keeps header names lower-case.
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| {
                let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
                (n.as_str().to_owned(), value)
            })
            .collect(),
        body: Bytes::new(),
        peer: Some(peer),
    }
}

fn to_response(r: HttpResponse) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(r.body));
    *resp.status_mut() = StatusCode::from_u16(r.status).unwrap_or_else(|_| {
        tracing::warn!(status = r.status, "invalid response status");
        StatusCode::INTERNAL_SERVER_ERROR
    });
    for (name, value) in r.headers {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::try_from(value),
        ) {
            (Ok(n), Ok(v)) => {
                resp.headers_mut().append(n, v);
            }
            _ => tracing::warn!(header = name, "invalid response header skipped"),
        }
    }
    resp
}

/// An empty response with this status.
fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::default());
    *resp.status_mut() = code;
    resp
}
