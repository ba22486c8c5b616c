//! From `http::Request` to [`HttpRequest`] and from [`HttpResponse`] back, and the
//! WebSocket upgrade.

use std::net::SocketAddr;
use std::sync::Arc;

use async_net::TcpStream;
use async_tungstenite::tungstenite::handshake::derive_accept_key;
use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{request, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use smol_hyper::rt::FuturesIo;

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

    /// Whether `path` is the engine path or under it.
    fn on_path(&self, path: &str) -> bool {
        let base = self.config.path.trim_end_matches('/');
        path.strip_prefix(base)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }

    /// Answers one request: WebSocket upgrade, engine request, fallback or 404.
    pub(crate) async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
        peer: SocketAddr,
    ) -> Response<Full<Bytes>> {
        let on_path = self.on_path(req.uri().path());
        if on_path && is_upgrade(&req) {
            return self.upgrade(req, peer);
        }
        let handler = match (on_path, &self.fallback) {
            (true, _) => &self.handlers.on_request,
            (false, Some(fallback)) => fallback,
            (false, None) => return status(StatusCode::NOT_FOUND),
        };
        let (parts, body) = req.into_parts();
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.config.max_body as u64) {
            return status(StatusCode::PAYLOAD_TOO_LARGE);
        }
        let body = match Limited::new(body, self.config.max_body).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.is::<LengthLimitError>() => return status(StatusCode::PAYLOAD_TOO_LARGE),
            Err(e) => {
                tracing::debug!(error = %e, %peer, "reading a request body failed");
                return status(StatusCode::BAD_REQUEST);
            }
        };
        to_response(handler(to_request(&parts, body, peer)).await)
    }

    /// Answers a WebSocket upgrade with 101 and, once hyper hands the connection back, runs
    /// it in a task of its own.
    fn upgrade(
        self: Arc<Self>,
        mut req: Request<Incoming>,
        peer: SocketAddr,
    ) -> Response<Full<Bytes>> {
        let headers = req.headers();
        let version_ok = headers
            .get(header::SEC_WEBSOCKET_VERSION)
            .is_some_and(|v| v.as_bytes() == b"13");
        let Some(key) = headers
            .get(header::SEC_WEBSOCKET_KEY)
            .filter(|_| version_ok)
        else {
            let mut resp = status(StatusCode::BAD_REQUEST);
            resp.headers_mut().insert(
                header::SEC_WEBSOCKET_VERSION,
                HeaderValue::from_static("13"),
            );
            return resp;
        };
        let Ok(accept) = HeaderValue::try_from(derive_accept_key(key.as_bytes())) else {
            return status(StatusCode::INTERNAL_SERVER_ERROR);
        };
        let on_upgrade = hyper::upgrade::on(&mut req);
        let (parts, _body) = req.into_parts();
        let request = to_request(&parts, Bytes::new(), peer);
        crate::spawn(async move {
            let upgraded = match on_upgrade.await {
                Ok(upgraded) => upgraded,
                Err(e) => return tracing::debug!(error = %e, %peer, "WebSocket upgrade failed"),
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

/// A GET with `Upgrade: websocket` (case-insensitive, possibly in a list).
fn is_upgrade<B>(req: &Request<B>) -> bool {
    req.method() == http::Method::GET
        && req.headers().get_all(header::UPGRADE).iter().any(|v| {
            v.to_str().is_ok_and(|s| {
                s.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("websocket"))
            })
        })
}

fn to_request(parts: &request::Parts, body: Bytes, peer: SocketAddr) -> HttpRequest {
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
        body,
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
