//! [`shutdown_signal`]: the first SIGINT (Ctrl-C) or SIGTERM, for any runtime.

use std::future::Future;
use std::io;

/// A future that completes on the first SIGINT (Ctrl-C) or SIGTERM the process receives
/// (Ctrl-C only on Windows): what `run`, `run_async_std` and `run_blocking` stop on, for
/// [`serve`](crate::SocketIo::serve) and its siblings.
///
/// The handlers are registered when this is called, so a signal that comes right after is
/// not missed (call it before announcing that the server listens). It needs no particular
/// runtime: await it on tokio, async-std, smol, or block on it in a thread.
///
/// ```no_run
/// # #[cfg(feature = "tokio")]
/// # async fn serve(io: sockio::SocketIo) -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:5000").await?;
/// let stop = sockio::shutdown_signal()?;
/// io.serve(listener, stop).await // graceful shutdown on SIGTERM, Ctrl-C or io.shutdown()
/// # }
/// ```
pub fn shutdown_signal() -> io::Result<impl Future<Output = ()> + Send + 'static> {
    use async_signal::{Signal, Signals};
    use futures_lite::StreamExt as _;

    #[cfg(unix)]
    let mut signals = Signals::new([Signal::Int, Signal::Term])?;
    #[cfg(not(unix))]
    let mut signals = Signals::new([Signal::Int])?;
    Ok(async move {
        if let Some(Ok(signal)) = signals.next().await {
            tracing::info!(?signal, "signal received: shutting down");
        }
    })
}
