//! Serving on tokio.

use std::future::Future;
use std::io;

use sockio::SocketIo;

use crate::{announce, Setup};

/// Serves `setup` on 127.0.0.1:`port` on a tokio runtime until SIGTERM or SIGINT.
pub fn serve(setup: Setup, port: u16) -> io::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let io = setup.build(SocketIo::builder().runtime(sockio::runtime::Tokio));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let stopped = stopped()?;
        announce(listener.local_addr()?, "tokio", setup.mode)?;
        io.serve(listener, stopped).await
    })
}

/// Registers the handlers now (so that a signal that comes right after the `listening` line
/// is not missed) and returns a future that completes on the first SIGTERM or SIGINT.
fn stopped() -> io::Result<impl Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
