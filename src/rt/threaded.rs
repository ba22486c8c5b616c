//! The blocking-threads runtime through `sockio-threaded` (the Werkzeug-like option).

use std::io;
use std::time::Instant;

use crate::engine::Runtime;
use crate::handler::BoxFuture;
use crate::SocketIo;

/// The blocking runtime (`async_mode` `threading`): one thread per connection, and one per
/// socket and per background task, so a handler may block without holding up other clients.
/// Serve with [`SocketIo::serve_blocking`] or [`SocketIo::run_blocking`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Threaded;

impl Runtime for Threaded {
    fn spawn(&self, future: BoxFuture<()>) {
        sockio_threaded::spawn(future);
    }

    fn sleep_until(&self, deadline: Instant) -> BoxFuture<()> {
        Box::pin(sockio_threaded::sleep_until(deadline))
    }

    fn name(&self) -> &'static str {
        "threading"
    }
}

super::adapter_glue!(sockio_threaded);

/// Stops a server started with [`SocketIo::serve_blocking`]: call
/// [`shutdown`](ShutdownHandle::shutdown) from any thread.
pub type ShutdownHandle = sockio_threaded::ShutdownHandle;

impl SocketIo {
    /// Serves on `listener` with one thread per connection, blocking until `shutdown` is
    /// triggered or [`shutdown`](Self::shutdown) is called; requests off the engine path go
    /// to `fallback` (404 without one).
    ///
    /// On shutdown every client gets what was queued for it and a close, then the
    /// connections end and this returns.
    pub fn serve_blocking(
        &self,
        listener: std::net::TcpListener,
        fallback: Option<crate::Fallback>,
        shutdown: ShutdownHandle,
    ) -> io::Result<()> {
        let config = sockio_threaded::ServerConfig {
            transport: self.transport_config(),
            ..Default::default()
        };
        let io = self.clone();
        shutdown.on_shutdown(move || io.shutdown_gracefully_blocking());
        // `io.shutdown()` from anywhere stops this server too.
        let stopping = self.engine.stopping.clone().wait();
        let handle = shutdown.clone();
        std::thread::Builder::new()
            .name("sockio-stop".into())
            .spawn(move || {
                futures_lite::future::block_on(stopping);
                handle.shutdown();
            })?;
        tracing::info!(addr = ?listener.local_addr().ok(), async_mode = "threading", "serving");
        sockio_threaded::serve(listener, config, handlers(self), fallback, shutdown)
    }

    /// Listens on `addr` and serves on threads until Ctrl-C (SIGINT), SIGTERM or
    /// [`shutdown`](Self::shutdown), then shuts down gracefully and returns.
    pub fn run_blocking(&self, addr: &str) -> io::Result<()> {
        let listener = std::net::TcpListener::bind(addr)?;
        let signals = crate::shutdown_signal()?;
        let io = self.clone();
        std::thread::Builder::new()
            .name("sockio-signals".into())
            .spawn(move || {
                futures_lite::future::block_on(signals);
                io.shutdown();
            })?;
        self.serve_blocking(listener, None, ShutdownHandle::new())
    }
}
