//! From `http::Request` to [`HttpRequest`] and from [`HttpResponse`] back, and the
//! WebSocket upgrade.

use std::net::SocketAddr;
use std::sync::Arc;

use async_net::TcpStream;
use async_tungstenite::tungstenite::handshake::derive_accept_key;
use bytes::{Buf, Bytes, BytesMut};
use http::header::{self, HeaderName, HeaderValue};
use http::{request, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use smol_hyper::rt::FuturesIo;
use sockio_protocol::http::Route;

use crate::{Handlers, HttpHandler, HttpRequest, HttpResponse, Method, ServerConfig};

/// State shared by every connection of one server. Every connection (and WebSocket) holds
/// it, and so a clone of `alive`: the server knows all are over when the channel closes.
pub(crate) struct Shared {
    pub(crate) config: ServerConfig,
    pub(crate) handlers: Handlers,
    /// Answers off-path requests; `None` answers 404.
    pub(crate) fallback: Option<HttpHandler>,
    /// Closed when the server shuts down; nothing is ever sent on it.
    pub(crate) stop: async_channel::Receiver<()>,
    pub(crate) _alive: async_channel::Sender<()>,
}

impl Shared {
    /// Resolves once the server is shutting down.
    pub(crate) async fn stopped(&self) {
        let _ = self.stop.recv().await;
    }

    /// Answers one request: WebSocket upgrade, engine request, fallback or 404.
    pub(crate) async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
        peer: SocketAddr,
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
        request.body = match read_capped(body, max).await {
            Ok(body) if refuse_large && body.len() > max => {
                return status(StatusCode::PAYLOAD_TOO_LARGE)
            }
            Ok(body) => body,
            Err(e) => {
                tracing::debug!(error = %e, %peer, "reading a request body failed");
                return status(StatusCode::BAD_REQUEST);
            }
        };
        to_response(handler(request).await)
    }

    /// Answers a WebSocket upgrade with 101 and, once hyper hands the connection back, runs
    /// it in a task of its own.
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
        let Ok(accept) = HeaderValue::try_from(derive_accept_key(key.as_bytes())) else {
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
        crate::spawn(async move {
            let upgraded = match on_upgrade.await {
                Ok(upgraded) => upgraded,
                Err(e) => return tracing::debug!(error = %e, ?peer, "WebSocket upgrade failed"),
            };
            // Take the TCP stream back (and what hyper read past the request) so frames go
            // straight to the socket.
            match upgraded.downcast::<FuturesIo<TcpStream>>() {
                Ok(parts) => {
                    let stream = parts.io.into_inner();
                    crate::ws::run(self, request, stream, parts.read_buf).await;
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

/// Reads a request body, stopping as soon as it is longer than `max` bytes: a longer body
/// comes back cut to `max + 1` bytes, so that the handler sees it is too long without the
/// whole of it in memory. The rest is left unread (hyper then closes the connection).
async fn read_capped(body: Incoming, max: usize) -> Result<Bytes, hyper::Error> {
    let mut body = std::pin::pin!(body);
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let Ok(mut data) = frame?.into_data() else {
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
