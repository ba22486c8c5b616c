//! # sockio
//!
//! A Socket.IO server for Rust applications with the features of Flask-SocketIO: event
//! handlers (plain closures or async functions, typed arguments through serde), handler return
//! values as acknowledgements, `emit`/`send` to the sender, to rooms, to namespaces or to
//! everybody, server-side emits from any thread or task, emits that wait for an
//! acknowledgement (`call`), rooms, connect handlers that can refuse (auth), disconnect
//! handlers with a reason, class-style namespaces, error handlers, a per-connection session,
//! the handshake request, background tasks and an in-memory test client.
//!
//! It speaks Engine.IO v4 and Socket.IO v5 (the official JavaScript client 4.x and
//! python-socketio 5.x connect unchanged), over long-polling and WebSocket with upgrade.
//!
//! ```no_run
//! use sockio::{Context, SocketIo};
//!
//! # #[cfg(feature = "tokio")]
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     let io = SocketIo::new();
//!     io.on("chat", |ctx: Context, text: String| {
//!         // to everybody in the namespace, the sender included
//!         ctx.broadcast().emit("chat", text.clone())?;
//!         // the return value is the acknowledgement the client asked for
//!         Ok::<_, sockio::EmitError>(text.len())
//!     });
//!     io.run("127.0.0.1:5000").await
//! }
//! # #[cfg(not(feature = "tokio"))]
//! # fn main() {}
//! ```
//!
//! ## Runtimes
//!
//! Cargo features choose how the server runs: `tokio` (the default: hyper and
//! tokio-tungstenite, mountable into axum as a tower layer), `async-std` (also runs under
//! smol) and `threaded` (std threads, one per connection). With several enabled, tokio wins,
//! then async-std, then threaded; [`SocketIo::async_mode`] tells which one runs. The API is the
//! same on every runtime.
//!
//! Serving differs by runtime only in name, so that several can be enabled at once: tokio has
//! `run`, `serve`, `serve_with_fallback` and `layer`; async-std and smol have
//! `run_async_std`, `serve_async_std` and `serve_async_std_with_fallback` (plain futures on
//! the async-io reactor, awaited the same from `async_std::main` or `smol::block_on`, taking
//! an `AsyncTcpListener`, async-net's listener, also `smol::net::TcpListener`); threads have
//! `run_blocking` and `serve_blocking`.

#![warn(missing_docs)]
#![deny(missing_debug_implementations)]

mod args;
pub use args::{ArgsError, ArgsWriter, Binary, IntoArgs, Json, RawArgs};

mod context;
pub use context::{Args, Context, Request};

mod embed;
pub use embed::WebSocketConnection;

mod emit;
pub use emit::{EmitError, Emitter};

mod engine;
#[doc(hidden)]
pub use engine::lock_stats;
pub use engine::{AckError, EventBacklog, Runtime, Stats};

mod handler;
pub use handler::{
    BoxFuture, ConnectError, ConnectHandler, ConnectOutput, DisconnectHandler, ErrorHandler,
    Handler, HandlerError, HandlerErrorKind, HandlerOutput, IsAsync, IsSync, Method,
};

mod io;
mod mailbox;
pub use io::{NamespaceRef, SocketIo, SocketIoBuilder, Transport};

pub mod queue;

mod registry;
pub use registry::{Events, Namespace, Reply};

mod rt;
#[cfg(feature = "async-std")]
pub use rt::async_std::AsyncTcpListener;
#[cfg(feature = "threaded")]
pub use rt::threaded::ShutdownHandle;

/// The runtimes compiled into this build, one per Cargo feature.
///
/// A server runs on the runtime chosen by Cargo features: `tokio` (default), then
/// `async-std`, then `threaded`, when several are enabled (as Flask-SocketIO prefers eventlet,
/// then gevent, then threading). To pick one explicitly, pass its value to
/// [`SocketIoBuilder::runtime`] and serve with that runtime's serve call:
///
/// | value | feature | serve with |
/// |---|---|---|
/// | `Tokio` | `tokio` | `SocketIo::serve`, `run`, `layer` (async, on tokio) |
/// | `Threaded` | `threaded` | `SocketIo::serve_blocking`, `run_blocking` (blocking) |
///
/// ```
/// # #[cfg(feature = "threaded")]
/// # fn main() {
/// let io = sockio::SocketIo::builder()
///     .runtime(sockio::runtime::Threaded)
///     .build();
/// assert_eq!(io.async_mode(), "threading");
/// # }
/// # #[cfg(not(feature = "threaded"))]
/// # fn main() {}
/// ```
pub mod runtime {
    pub use crate::engine::Runtime;
    #[cfg(feature = "async-std")]
    pub use crate::rt::AsyncStd;
    #[cfg(feature = "threaded")]
    pub use crate::rt::Threaded;
    #[cfg(feature = "tokio")]
    pub use crate::rt::Tokio;
}

mod test_client;
pub use test_client::{ConnectRefused, Received, SocketIoTestClient, TestClientBuilder};

pub use serde_json::{json, Value};
pub use sockio_protocol::{DisconnectReason, Frame, HttpRequest, HttpResponse};

/// Answers requests off the engine path (for instance the application's page) when the
/// embedded server is used.
pub type Fallback = std::sync::Arc<dyn Fn(HttpRequest) -> BoxFuture<HttpResponse> + Send + Sync>;

/// The protocol core, for drivers and tools.
pub use sockio_protocol as protocol;
