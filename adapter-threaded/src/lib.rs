//! # sockio-threaded
//!
//! The blocking runtime adapter of sockio, the Werkzeug-like option: a `std::net` listener, one
//! thread per HTTP connection, HTTP/1.1 parsed with httparse, and WebSockets framed by the
//! protocol crate's sans-IO codec on a few reactor threads.
//! It does only I/O: it knows nothing of Engine.IO or Socket.IO. Every request under the engine
//! path goes up as a plain [`HttpRequest`] to [`Handlers::on_request`], whose [`HttpResponse`]
//! is written back verbatim, and every WebSocket opened on that path goes to
//! [`Handlers::on_websocket`], which gets the writing end and returns a [`WsInbound`] that the
//! adapter feeds every [`Frame`] read.
//!
//! [`serve`] runs the server on the calling thread until its [`ShutdownHandle`] is triggered.
//!
//! The layer above (the `sockio` crate) also needs a way to run futures; this crate has a small
//! one built on std alone: [`spawn`] runs a future on a thread of its own (so a handler that
//! blocks holds up only its own socket), [`block_on`] runs one on the calling thread, and
//! [`sleep_until`] is served by a single timer thread with a deadline map.
//!
//! ## Threads
//!
//! Each TCP connection has one thread (`sockio-conn`) while it speaks HTTP. Once it becomes a
//! WebSocket its thread ends and the connection goes to one of the server's reactor threads
//! (`sockio-ws`, one per core, started with the first WebSocket), which wait on all their
//! sockets at once: an idle WebSocket costs no thread and holds no buffer. Every thread this
//! crate starts ends when its connection, future or server does, except the one timer thread
//! (`sockio-timer`); [`live_threads`] counts them.

#![warn(missing_docs, unreachable_pub)]
#![deny(missing_debug_implementations)]

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

pub use sockio_protocol::http::{
    Frame, HttpRequest, HttpResponse, Method, TransportConfig, WsOut, WsOutbox,
};

mod exec;
mod http;
mod server;
mod ws;

pub use exec::{block_on, sleep, sleep_until, spawn, Sleep};
pub use server::{serve, ShutdownHandle};

/// An HTTP request handler: [`Handlers::on_request`], or the fallback of [`serve`]. The future
/// is run to completion on the connection's thread.
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

/// Settings of the adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The engine path and the body and message size limits, as every runtime adapter has
    /// them.
    pub transport: TransportConfig,
    /// How long a connection may wait for the first byte of its next request (default 60 s);
    /// once a request started, its head has `transport.header_timeout` and its body
    /// `transport.body_timeout` (see there). WebSockets have no read timeout: the Engine.IO
    /// heartbeat finds dead peers.
    pub idle_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            transport: TransportConfig::default(),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// Number of threads of this crate that are running: connections, WebSocket writers, spawned
/// futures and the timer thread.
pub fn live_threads() -> usize {
    LIVE_THREADS.load(Ordering::SeqCst)
}

static LIVE_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Starts a named thread counted by [`live_threads`].
pub(crate) fn spawn_thread(
    name: &str,
    f: impl FnOnce() + Send + 'static,
) -> std::io::Result<JoinHandle<()>> {
    struct Live;
    impl Drop for Live {
        fn drop(&mut self) {
            LIVE_THREADS.fetch_sub(1, Ordering::SeqCst);
        }
    }
    LIVE_THREADS.fetch_add(1, Ordering::SeqCst);
    let live = Live;
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let _live = live;
            f();
        })
}
