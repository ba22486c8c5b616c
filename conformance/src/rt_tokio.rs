//! Serving on tokio.

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
        let stopped = sockio::shutdown_signal()?;
        announce(listener.local_addr()?, "tokio", setup.mode)?;
        io.serve(listener, stopped).await
    })
}
