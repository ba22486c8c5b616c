//! The blocking-threads runtime through `sockio-threaded` (the Werkzeug-like option).

use std::io;
use std::time::Instant;

use crate::engine::Runtime;
use crate::handler::BoxFuture;
use crate::SocketIo;

pub(crate) struct ThreadedRuntime;

impl Runtime for ThreadedRuntime {
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

#[cfg_attr(feature = "tokio", allow(unused_imports))]
use sockio_threaded as threaded_adapter;
super::adapter_glue!(threaded_adapter);

/// Stops a server started with [`SocketIo::serve_blocking`].
pub type ShutdownHandle = sockio_threaded::ShutdownHandle;

impl SocketIo {
    /// Serves on `listener` with one thread per connection, blocking until `shutdown` is
    /// triggered.
    pub fn serve_blocking(
        &self,
        listener: std::net::TcpListener,
        fallback: Option<crate::Fallback>,
        shutdown: ShutdownHandle,
    ) -> io::Result<()> {
        let config = sockio_threaded::ServerConfig {
            path: self.path.to_string(),
            ..Default::default()
        };
        tracing::info!(addr = ?listener.local_addr().ok(), async_mode = "threading", "serving");
        let r = sockio_threaded::serve(listener, config, handlers(self), fallback, shutdown);
        self.shutdown();
        r
    }

    /// Listens on `addr` and serves on threads until the process ends.
    pub fn run_blocking(&self, addr: &str) -> io::Result<()> {
        let listener = std::net::TcpListener::bind(addr)?;
        self.serve_blocking(listener, None, ShutdownHandle::new())
    }
}
