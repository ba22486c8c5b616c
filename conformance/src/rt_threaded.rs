//! Serving on std threads.

use std::io;

use sockio::{ShutdownHandle, SocketIo};

use crate::{announce, Setup};

/// Serves `setup` on 127.0.0.1:`port` with `serve_blocking` until SIGTERM or SIGINT, which a
/// thread of its own turns into a [`ShutdownHandle::shutdown`].
pub fn serve(setup: Setup, port: u16) -> io::Result<()> {
    let io = setup.build(SocketIo::builder().runtime(sockio::runtime::Threaded));
    let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
    let shutdown = ShutdownHandle::new();
    let stopped = sockio::shutdown_signal()?;
    let handle = shutdown.clone();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            futures_lite::future::block_on(stopped);
            handle.shutdown();
        })?;
    announce(listener.local_addr()?, "threaded", setup.mode)?;
    io.serve_blocking(listener, None, shutdown)
}
