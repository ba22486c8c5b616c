//! # sockio-tokio
//!
//! The tokio runtime adapter of sockio. It does only I/O: it accepts HTTP/1.1 with hyper,
//! frames WebSockets with the protocol crate's sans-IO codec, spawns tasks and sleeps. It knows nothing of
//! Engine.IO or Socket.IO: every request under the engine path goes up as a plain
//! [`HttpRequest`] to [`Handlers::on_request`], whose [`HttpResponse`] is written back verbatim,
//! and every WebSocket opened on that path goes to [`Handlers::on_websocket`], which returns a
//! [`WsInbound`] the adapter feeds every [`Frame`] read and a [`WsOutbox`] it writes from.
//!
//! Two ways to run it:
//!
//! - [`serve`] (or [`serve_with_fallback`]): an embedded server on a
//!   [`tokio::net::TcpListener`], with graceful shutdown;
//! - [`SocketIoLayer`]: a tower layer that mounts the engine path into an axum `Router` (or
//!   any tower stack running under hyper), passing every other request to the inner service.
//!
//! The layer above (the `sockio` crate) also uses [`spawn`], [`sleep`] and [`sleep_until`].

#![warn(missing_docs, missing_debug_implementations)]

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use sockio_protocol::http::{Frame, HttpRequest, HttpResponse, Method, WsOut, WsOutbox};

mod engine;
mod server;
mod service;
mod ws;

pub use server::{serve, serve_with_fallback};
pub use service::{BoxBody, NotFound, SocketIoLayer, SocketIoService};

/// An asynchronous HTTP request handler: [`Handlers::on_request`], or the fallback of
/// [`serve_with_fallback`].
pub type HttpHandler = Arc<dyn Fn(HttpRequest) -> BoxFuture<HttpResponse> + Send + Sync>;

/// Decides on a WebSocket upgrade before its 101: `Some(response)` refuses it.
pub type UpgradeCheck = Arc<dyn Fn(&HttpRequest) -> Option<HttpResponse> + Send + Sync>;

/// What the layer above (the `sockio` crate) gives the adapter.
#[derive(Clone)]
pub struct Handlers {
    /// Called for every HTTP request under the engine path that is not a WebSocket upgrade.
    pub on_request: Arc<dyn Fn(HttpRequest) -> BoxFuture<HttpResponse> + Send + Sync>,
    /// Asked before a WebSocket upgrade on the engine path is accepted: `Some(response)`
    /// refuses it with that response instead of 101.
    pub check_websocket: UpgradeCheck,
    /// Called when a WebSocket upgrade on the engine path is accepted, just before its 101 is
    /// sent (so that the server knows of it before the client can act on the 101; dropped
    /// unused if the upgrade then fails).
    /// The adapter feeds each data message read to the returned [`WsInbound`], in order, and
    /// drops it when the connection has ended; it writes what the returned [`WsOutbox`] hands
    /// out, in order: [`WsOut::Close`] writes a close frame after everything before it and
    /// ends the connection, and so does the outbox running dry for good.
    pub on_websocket: WebSocketHandler,
}

impl fmt::Debug for Handlers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handlers").finish_non_exhaustive()
    }
}

/// [`Handlers::on_websocket`]: a WebSocket opened; its reading and writing sides.
pub type WebSocketHandler = Arc<dyn Fn(HttpRequest) -> WsOpened + Send + Sync>;

pub use sockio_protocol::http::{BoxFuture, WsInbound, WsOpened};

/// Settings of the adapter: the engine path and the body and message size limits.
pub use sockio_protocol::http::TransportConfig as ServerConfig;

/// Spawns `f` on the current tokio runtime, detached.
///
/// # Panics
///
/// When called outside a tokio runtime.
pub fn spawn<F: Future<Output = ()> + Send + 'static>(f: F) {
    drop(tokio::spawn(f));
}

/// Waits for `d` to pass.
pub async fn sleep(d: Duration) {
    tokio::time::sleep(d).await
}

/// Waits until `deadline`. tokio's timer counts whole milliseconds: the sleep ends up to about
/// 2 ms after the instant, never before it. (Protocol deadlines do not depend on it: the core
/// fires every timer that came due before it handles an input.)
pub async fn sleep_until(deadline: Instant) {
    tokio::time::sleep_until(deadline.into()).await
}
