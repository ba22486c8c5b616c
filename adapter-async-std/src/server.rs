//! The embedded server: accept loop, one task per connection, graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_io::Timer;
use async_net::{TcpListener, TcpStream};
use futures_lite::FutureExt as _;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use smol_hyper::rt::{FuturesIo, SmolTimer};
use sockio_protocol::admission::{ConnId, HttpConnections};

use crate::http::Shared;
use crate::{Handlers, HttpHandler, ServerConfig};

/// How long a shutting-down server waits for its connections to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Serves HTTP/1.1 on `listener` until `shutdown` completes: requests under `config.path`
/// go to `handlers`, other paths get 404.
///
/// When `shutdown` completes the server stops accepting, asks every connection to end
/// gracefully (in-flight requests are answered, idle keep-alive connections close, and
/// WebSockets write what is already queued and then a close frame), waits up to 5 seconds
/// for them, and returns. Accept errors are logged and retried, so the result is `Ok`.
///
/// The future runs under async-std, smol or any executor; connections run on the adapter's
/// own executor (see the crate docs).
pub async fn serve(
    listener: TcpListener,
    config: ServerConfig,
    handlers: Handlers,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_with_fallback(listener, config, handlers, None, shutdown).await
}

/// Like [`serve`], answering requests off the engine path with `fallback` when given (for
/// instance an application's HTML page) instead of 404. Its requests' bodies are limited by
/// `config.max_body` too.
pub async fn serve_with_fallback(
    listener: TcpListener,
    config: ServerConfig,
    handlers: Handlers,
    fallback: Option<HttpHandler>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let (stop_tx, stop) = async_channel::bounded(1);
    let (alive, all_gone) = async_channel::bounded::<()>(1);
    let table = HttpConnections::new(config.max_http_connections);
    let shared = Arc::new(Shared {
        config,
        handlers,
        fallback,
        stop,
        ws_stop: Default::default(),
        _alive: alive,
        connections: Mutex::new(table),
    });
    let mut shutdown = pin!(shutdown);
    loop {
        let accepted = async { Some(listener.accept().await) }
            .or(async {
                shutdown.as_mut().await;
                None
            })
            .await;
        match accepted {
            None => break,
            Some(Ok((stream, peer))) => {
                let (evict, evicted) = async_channel::bounded(1);
                let id = shared.admit(evict);
                crate::spawn(connection(shared.clone(), stream, peer, id, evicted));
            }
            Some(Err(e)) => {
                // Out of file descriptors and the like: make room by closing the connection
                // that has waited the longest for a request, or give the system a moment.
                let evicted = shared.evict_oldest();
                tracing::warn!(error = %e, closing_oldest = evicted, "accept failed");
                if !evicted {
                    Timer::after(Duration::from_millis(50)).await;
                }
            }
        }
    }
    drop(listener);
    stop_tx.close();
    shared.ws_stop.stop();
    drop(shared);
    let gone = async { all_gone.recv().await.is_err() };
    let late = async {
        Timer::after(SHUTDOWN_GRACE).await;
        false
    };
    if !gone.or(late).await {
        tracing::warn!(
            open = all_gone.sender_count(),
            "connections still open after the shutdown grace period"
        );
    }
    Ok(())
}

/// Serves one TCP connection (and starts the WebSocket it may upgrade to). `evicted` closes
/// when the connection is closed to make room for a new one.
async fn connection(
    shared: Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    id: ConnId,
    evicted: async_channel::Receiver<()>,
) {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, %peer, "setting TCP_NODELAY failed");
    }
    let svc_shared = shared.clone();
    let service = service_fn(move |req: hyper::Request<Incoming>| {
        let shared = svc_shared.clone();
        async move { Ok::<_, Infallible>(shared.handle(req, peer, id).await) }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(SmolTimer::new())
        .header_read_timeout(shared.config.header_timeout)
        // A larger head is answered 431; the read buffer never holds more of a partial one.
        .max_header_size(shared.config.max_head)
        .max_buf_size(shared.config.max_head.max(8192));
    let mut conn = pin!(builder
        .serve_connection(FuturesIo::new(stream), service)
        .with_upgrades());
    let evict = async {
        let _ = evicted.recv().await;
        None
    };
    let first = async { Some(Some(conn.as_mut().await)) }
        .or(async {
            shared.stopped().await;
            Some(None)
        })
        .or(evict)
        .await;
    let result = match first {
        Some(Some(result)) => Some(result),
        Some(None) => {
            conn.as_mut().graceful_shutdown();
            let evict = async {
                let _ = evicted.recv().await;
                None
            };
            async { Some(conn.as_mut().await) }.or(evict).await
        }
        // Closed to make room: dropping the connection closes it.
        None => None,
    };
    match result {
        // hyper answered 431 itself: a limit hit, logged as the threaded runtime logs it.
        Some(Err(e)) if e.is_parse_too_large() => tracing::warn!(
            status = 431,
            %peer,
            max_http_head = shared.config.max_head,
            "request refused: over a limit (max_payload, max_http_head)"
        ),
        Some(Err(e)) if e.is_timeout() => {
            tracing::warn!(%peer, "request too slow: connection closed")
        }
        Some(Err(e)) => tracing::debug!(error = %e, %peer, "HTTP connection error"),
        _ => {}
    }
    shared.forget(id);
}
