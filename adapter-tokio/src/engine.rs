//! From `http::Request` to [`HttpRequest`] and from [`HttpResponse`] back, and the
//! WebSocket upgrade.

use std::error::Error as StdError;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};
use http::header::{self, HeaderName, HeaderValue};
use http::{request, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use sockio_protocol::admission::{ConnId, HttpConnections};
use sockio_protocol::websocket::accept_key;
use tokio::sync::{watch, Notify};

use hyper::upgrade::OnUpgrade;
use sockio_protocol::http::Route;

use crate::{Handlers, HttpHandler, HttpRequest, HttpResponse, Method, ServerConfig};

pub(crate) type BoxError = Box<dyn StdError + Send + Sync>;

/// The embedded server's connections still in their HTTP phase, each with what ends it.
pub(crate) type Connections = Mutex<HttpConnections<Arc<Notify>>>;

/// State shared by every connection of one server or layer.
pub(crate) struct Shared {
    pub(crate) config: ServerConfig,
    pub(crate) handlers: Handlers,
    /// Answers off-path requests (embedded server only); `None` answers 404.
    pub(crate) fallback: Option<HttpHandler>,
    /// Becomes `true` when the embedded server shuts down. Every clone of it is a live
    /// connection the server waits for.
    pub(crate) shutdown: Option<watch::Receiver<bool>>,
    /// Given when the embedded server shuts down: its WebSockets close.
    pub(crate) ws_stop: sockio_protocol::StopSignal,
    /// The embedded server's connection table (a layer's connections belong to its host).
    pub(crate) connections: Option<Connections>,
}

impl Shared {
    /// Marks connection `id` as waiting for or reading a request (it may be closed to make
    /// room), or as busy with the engine.
    pub(crate) fn mark(&self, id: Option<ConnId>, waiting: bool) {
        let (Some(table), Some(id)) = (&self.connections, id) else {
            return;
        };
        let evicted = {
            let mut t = table.lock().unwrap_or_else(|p| p.into_inner());
            if !waiting {
                t.busy(id);
                return;
            }
            t.wait(id);
            let mut evicted = Vec::new();
            while let Some(e) = t.over_cap() {
                evicted.push(e);
            }
            evicted
        };
        close_evicted(evicted);
    }

    /// Answers one request: WebSocket upgrade, engine request, fallback or 404. `conn` is the
    /// request's connection in the embedded server's table.
    pub(crate) async fn handle<B>(
        self: Arc<Self>,
        req: Request<B>,
        peer: Option<SocketAddr>,
        conn: Option<ConnId>,
    ) -> Response<Full<Bytes>>
    where
        B: http_body::Body + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let peer = peer.or_else(|| peer_of(req.extensions()));
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
                tracing::debug!(error = %e, ?peer, "reading a request body failed");
                return status(StatusCode::BAD_REQUEST);
            }
            Err(ReadError::TooSlow { received }) => {
                tracing::warn!(?peer, received, "request body too slow: connection closed");
                return close(status(StatusCode::REQUEST_TIMEOUT));
            }
        };
        // The engine may hold the request (a parked GET): not a connection to close for room.
        self.mark(conn, false);
        let response = to_response(handler(request).await);
        self.mark(conn, true);
        response
    }

    /// Answers a WebSocket upgrade with 101 and, once hyper hands over the connection,
    /// runs it in a task of its own. The layer above learns of the WebSocket before the 101
    /// is sent: what the client does once it sees the 101 (open another WebSocket for the
    /// same session, say) comes after it.
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
        tokio::spawn(async move {
            match on_upgrade.await {
                Ok(upgraded) => crate::ws::run(self, peer, opened, upgraded).await,
                // Dropping `opened` tells the layer above the WebSocket is over.
                Err(e) => tracing::debug!(error = %e, ?peer, "WebSocket upgrade failed"),
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

/// Closes the connections taken out of the table to make room.
pub(crate) fn close_evicted(evicted: Vec<(ConnId, Arc<Notify>)>) {
    for (_, stop) in evicted {
        tracing::warn!("too many connections waiting for a request: the oldest closed");
        stop.notify_one();
    }
}

/// Why a request body could not be read.
enum ReadError {
    Body(BoxError),
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
async fn read_capped<B>(body: B, max: usize, config: &ServerConfig) -> Result<Bytes, ReadError>
where
    B: http_body::Body,
    B::Error: Into<BoxError>,
{
    let mut body = std::pin::pin!(body);
    let mut buf = BytesMut::new();
    let start = Instant::now();
    let mut progress = start;
    loop {
        let deadline = config.body_deadline(start, progress, buf.len());
        let frame = match tokio::time::timeout_at(deadline.into(), body.frame()).await {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(_) => {
                return Err(ReadError::TooSlow {
                    received: buf.len(),
                })
            }
        };
        progress = Instant::now();
        let Ok(mut data) = frame.map_err(|e| ReadError::Body(e.into()))?.into_data() else {
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

/// `response`, ending its connection once written.
fn close(mut response: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// The head of a request; the body is read later.
/// The peer address a host framework left in the request's extensions: axum's
/// `ConnectInfo<SocketAddr>` (with the `axum` feature, from
/// `into_make_service_with_connect_info::<SocketAddr>()`), or a plain [`SocketAddr`] (what a
/// middleware of any other framework can insert).
fn peer_of(extensions: &http::Extensions) -> Option<SocketAddr> {
    #[cfg(feature = "axum")]
    if let Some(axum::extract::ConnectInfo(peer)) =
        extensions.get::<axum::extract::ConnectInfo<SocketAddr>>()
    {
        return Some(*peer);
    }
    extensions.get::<SocketAddr>().copied()
}

fn to_request(parts: &request::Parts, peer: Option<SocketAddr>) -> HttpRequest {
    HttpRequest {
        method: Method::from_name(parts.method.as_str()),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        // `http` keeps header names lower-case.
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: Bytes::new(),
        peer,
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
pub(crate) fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::default());
    *resp.status_mut() = code;
    resp
}
