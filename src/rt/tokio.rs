//! The tokio runtime: hyper + tokio-tungstenite through `sockio-tokio`.

use std::future::Future;
use std::io;
use std::sync::OnceLock;
use std::time::Instant;

use crate::engine::Runtime;
use crate::handler::BoxFuture;
use crate::SocketIo;

/// The tokio runtime (`async_mode` `tokio`): hyper and tokio-tungstenite. Serve with
/// [`SocketIo::serve`], [`SocketIo::run`] or [`SocketIo::layer`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Tokio;

/// Tasks spawned outside any multi-threaded tokio runtime (a plain `#[test]`, a blocking
/// `main`, a current-thread runtime that may be blocked) go to this one.
fn fallback() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("sockio")
            .enable_all()
            .build()
            .expect("the tokio runtime starts")
    })
}

fn handle() -> tokio::runtime::Handle {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => h,
        _ => fallback().handle().clone(),
    }
}

impl Runtime for Tokio {
    fn spawn(&self, future: BoxFuture<()>) {
        handle().spawn(future);
    }

    fn sleep_until(&self, deadline: Instant) -> BoxFuture<()> {
        // Made inside a runtime, so that it can be awaited anywhere (another executor, a
        // thread of the threaded runtime): that runtime's timer drives it.
        let _entered = handle().enter();
        Box::pin(tokio::time::sleep_until(deadline.into()))
    }

    fn name(&self) -> &'static str {
        "tokio"
    }
}

super::adapter_glue!(sockio_tokio);

impl SocketIo {
    /// Serves on `listener` until `shutdown` completes, then closes every connection
    /// gracefully (clients get what was queued for them).
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        self.serve_with_fallback(listener, None, shutdown).await
    }

    /// Like [`serve`](Self::serve), answering requests off the engine path with `fallback`
    /// (for instance the page of the application).
    pub async fn serve_with_fallback(
        &self,
        listener: tokio::net::TcpListener,
        fallback: Option<crate::Fallback>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        let io = self.clone();
        let shutdown = async move {
            shutdown.await;
            io.shutdown_gracefully().await;
        };
        tracing::info!(addr = ?listener.local_addr().ok(), async_mode = "tokio", "serving");
        sockio_tokio::serve_with_fallback(
            listener,
            self.transport_config(),
            handlers(self),
            fallback,
            shutdown,
        )
        .await
    }

    /// Listens on `addr` and serves until Ctrl-C (Flask-SocketIO's `socketio.run(app)`).
    pub async fn run(&self, addr: &str) -> io::Result<()> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        self.serve(listener, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
    }

    /// A tower layer that mounts this server into an axum `Router` (or any tower stack):
    /// requests on the engine path go to Socket.IO, the rest to the inner service.
    pub fn layer(&self) -> sockio_tokio::SocketIoLayer {
        sockio_tokio::SocketIoLayer::new(self.transport_config(), handlers(self))
    }
}
