// The README is the guide and the crate documentation: its examples are compiled (and most
// run) by `cargo test --doc`.
#![doc = include_str!("../README.md")]
#![warn(missing_docs)]
#![deny(missing_debug_implementations)]

mod args;
pub use args::{ArgsError, ArgsWriter, Binary, IntoArgs, Json, RawArgs};

mod context;
pub use context::{Args, Context, Request};

mod compress;
mod diag;
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

mod signals;
pub use signals::shutdown_signal;

mod test_client;
pub use test_client::{ConnectRefused, Received, SocketIoTestClient, TestClientBuilder};

pub use serde_json::{json, Value};
pub use sockio_protocol::{DisconnectReason, Frame, HttpRequest, HttpResponse, Parser};

/// Answers requests off the engine path (for instance the application's page) when the
/// embedded server is used.
pub type Fallback = std::sync::Arc<dyn Fn(HttpRequest) -> BoxFuture<HttpResponse> + Send + Sync>;

/// The protocol core, for drivers and tools.
pub use sockio_protocol as protocol;
