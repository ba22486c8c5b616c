//! The async-std/smol runtime through `sockio-async-std`: hyper and async-tungstenite on the
//! async-io reactor that async-std and smol share.
//!
//! The serving methods carry an `_async_std` suffix so that they can sit beside tokio's
//! `serve`/`run` when both features are enabled. They are plain futures and behave the same
//! awaited from `async_std::main`, `smol::block_on` or any other executor.

use std::future::Future;
use std::io;
use std::time::Instant;

use crate::engine::Runtime;
use crate::handler::BoxFuture;
use crate::SocketIo;

/// The listener taken by [`SocketIo::serve_async_std`]: async-net's, the same type as
/// `smol::net::TcpListener`. Make one from a std listener with `TryFrom`.
pub type AsyncTcpListener = sockio_async_std::TcpListener;

/// The async-std/smol runtime (`async_mode` `async-std`): hyper and async-tungstenite on the
/// async-io reactor. Serve with [`SocketIo::serve_async_std`] or [`SocketIo::run_async_std`],
/// under async-std or smol alike.
#[derive(Debug, Clone, Copy, Default)]
pub struct AsyncStd;

impl Runtime for AsyncStd {
    fn spawn(&self, future: BoxFuture<()>) {
        sockio_async_std::spawn(future);
    }

    fn sleep_until(&self, deadline: Instant) -> BoxFuture<()> {
        Box::pin(sockio_async_std::sleep_until(deadline))
    }

    fn name(&self) -> &'static str {
        "async-std"
    }
}

super::adapter_glue!(sockio_async_std);

impl SocketIo {
    /// Serves on `listener` until `shutdown` completes or [`shutdown`](Self::shutdown) is
    /// called, then closes every connection gracefully (clients get what was queued for
    /// them) and returns.
    ///
    /// Runs under async-std and under smol alike (connections run on the adapter's own
    /// executor, I/O on the async-io reactor both share).
    pub async fn serve_async_std(
        &self,
        listener: AsyncTcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        self.serve_async_std_with_fallback(listener, None, shutdown)
            .await
    }

    /// Like [`serve_async_std`](Self::serve_async_std), answering requests off the engine
    /// path with `fallback` (for instance the page of the application).
    pub async fn serve_async_std_with_fallback(
        &self,
        listener: AsyncTcpListener,
        fallback: Option<crate::Fallback>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        let io = self.clone();
        let stopping = self.engine.stopping.clone().wait();
        let shutdown = async move {
            futures_lite::future::or(shutdown, stopping).await;
            io.shutdown_gracefully().await;
        };
        tracing::info!(
            addr = ?listener.local_addr().ok(),
            async_mode = self.async_mode(),
            server = "async-io",
            "serving"
        );
        sockio_async_std::serve_with_fallback(
            listener,
            self.transport_config(),
            handlers(self),
            fallback,
            shutdown,
        )
        .await
    }

    /// Listens on `addr` and serves until Ctrl-C (SIGINT), SIGTERM or
    /// [`shutdown`](Self::shutdown), then shuts down gracefully and returns
    /// (Flask-SocketIO's `socketio.run(app)`).
    pub async fn run_async_std(&self, addr: &str) -> io::Result<()> {
        let listener = AsyncTcpListener::bind(addr).await?;
        let signals = crate::shutdown_signal()?;
        self.serve_async_std(listener, signals).await
    }
}
