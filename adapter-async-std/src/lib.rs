//! # sockio-async-std
//!
//! The async-std/smol runtime adapter of sockio. It does only I/O, on the async-io reactor
//! that async-std and smol share: it accepts HTTP/1.1 with hyper (through smol-hyper's
//! futures-io bridge), frames WebSockets with the protocol crate's sans-IO codec, spawns
//! tasks and sleeps with [`async_io::Timer`]. It knows nothing of Engine.IO or Socket.IO: every
//! request under the engine path goes up as a plain [`HttpRequest`] to
//! [`Handlers::on_request`], whose [`HttpResponse`] is written back verbatim, and every
//! WebSocket opened on that path goes to [`Handlers::on_websocket`], which gets the writing
//! end and returns a [`WsInbound`] that the adapter feeds every [`Frame`] read.
//!
//! [`serve`] (or [`serve_with_fallback`]) is an embedded server on an
//! [`async_net::TcpListener`] with graceful shutdown. It is a plain future: await it from
//! `async_std::main`, `smol::block_on`, or any other executor.
//!
//! ## Spawning
//!
//! Nothing here depends on async-std. Connections and the work given to [`spawn`] run on one
//! global [`async_executor::Executor`] driven by one thread per CPU with
//! [`async_io::block_on`], the way smol's own global executor works; their I/O and timers are
//! driven by the async-io reactor, the same one async-std and smol use. So the server behaves
//! the same whichever of the two the application runs on, and the application's own tasks
//! stay on its own executor.

#![warn(missing_docs, missing_debug_implementations)]

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use async_net::TcpListener;
pub use sockio_protocol::http::{Frame, HttpRequest, HttpResponse, Method, WsOut, WsOutbox};

mod executor;
mod http;
mod server;
mod ws;

pub use server::{serve, serve_with_fallback};

/// An asynchronous HTTP request handler: [`Handlers::on_request`], or the fallback of
/// [`serve_with_fallback`].
pub type HttpHandler = Arc<dyn Fn(HttpRequest) -> BoxFuture<HttpResponse> + Send + Sync>;

/// Decides on a WebSocket upgrade before its 101: `Some(response)` refuses it.
pub type UpgradeCheck = Arc<dyn Fn(&HttpRequest) -> Option<HttpResponse> + Send + Sync>;

/// What the layer above (the `sockio` crate) gives the adapter.
#[derive(Clone)]
pub struct Handlers {
    /// Called for every HTTP request under the engine path that is not a WebSocket upgrade.
    pub on_request: HttpHandler,
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

/// Runs `f` in the background on the adapter's executor, detached. Works from any thread,
/// inside or outside async-std or smol.
pub fn spawn<F: Future<Output = ()> + Send + 'static>(f: F) {
    executor::spawn(f);
}

/// Waits for `d` to pass.
pub async fn sleep(d: Duration) {
    async_io::Timer::after(d).await;
}

/// Waits until `deadline`.
pub async fn sleep_until(deadline: Instant) {
    async_io::Timer::at(deadline).await;
}
