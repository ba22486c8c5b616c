//! Serving under smol's executor.

use std::io;

use sockio::SocketIo;

use crate::{announce, Setup};

/// Serves `setup` on 127.0.0.1:`port` with `serve_async_std`, awaited under `smol::block_on`,
/// until SIGTERM or SIGINT.
pub fn serve(setup: Setup, port: u16) -> io::Result<()> {
    smol::block_on(async {
        let io = setup.build(SocketIo::builder().runtime(sockio::runtime::AsyncStd));
        // smol's listener is the one `serve_async_std` takes.
        let listener =
            smol::net::TcpListener::try_from(std::net::TcpListener::bind(("127.0.0.1", port))?)?;
        let stopped = sockio::shutdown_signal()?;
        announce(listener.local_addr()?, "smol", setup.mode)?;
        io.serve_async_std(listener, stopped).await
    })
}
