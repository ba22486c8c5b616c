//! Serving under async-std's executor.

use std::io;

use sockio::{AsyncTcpListener, SocketIo};

use crate::{announce, Setup};

/// Serves `setup` on 127.0.0.1:`port` with `serve_async_std`, awaited under
/// `async_std::task::block_on`, until SIGTERM or SIGINT.
pub fn serve(setup: Setup, port: u16) -> io::Result<()> {
    async_std::task::block_on(async {
        let io = setup.build(SocketIo::builder().runtime(sockio::runtime::AsyncStd));
        let listener =
            AsyncTcpListener::try_from(std::net::TcpListener::bind(("127.0.0.1", port))?)?;
        let stopped = sockio::shutdown_signal()?;
        announce(listener.local_addr()?, "async-std", setup.mode)?;
        io.serve_async_std(listener, stopped).await
    })
}
