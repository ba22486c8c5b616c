//! The embedded server: accept loop, one task per connection, graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::{select, Either};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use sockio_protocol::admission::{ConnId, HttpConnections};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};

use crate::engine::{close_evicted, Shared};
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
    let (stop_tx, stop_rx) = watch::channel(false);
    let table = HttpConnections::new(config.max_http_connections);
    let shared = Arc::new(Shared {
        config,
        handlers,
        fallback,
        shutdown: Some(stop_rx),
        ws_stop: Default::default(),
        connections: Some(Mutex::new(table)),
    });
    let mut shutdown = pin!(shutdown);
    loop {
        let accepted = match select(pin!(listener.accept()), shutdown.as_mut()).await {
            Either::Left((accepted, _)) => accepted,
            Either::Right(_) => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                let stop = Arc::new(Notify::new());
                let (id, evicted) = admit(&shared, stop.clone());
                close_evicted(evicted);
                drop(tokio::spawn(connection(
                    shared.clone(),
                    stream,
                    peer,
                    id,
                    stop,
                )));
            }
            Err(e) => {
                // Out of file descriptors and the like: make room by closing the connection
                // that has waited the longest for a request, or give the system a moment.
                let oldest = shared
                    .connections
                    .as_ref()
                    .and_then(|t| t.lock().unwrap_or_else(|p| p.into_inner()).oldest());
                tracing::warn!(error = %e, closing_oldest = oldest.is_some(), "accept failed");
                match oldest {
                    Some(conn) => close_evicted(vec![conn]),
                    None => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        }
    }
    drop(listener);
    stop_tx.send_replace(true);
    shared.ws_stop.stop();
    // Every live connection holds `shared` and so a receiver.
    drop(shared);
    if tokio::time::timeout(SHUTDOWN_GRACE, stop_tx.closed())
        .await
        .is_err()
    {
        tracing::warn!(
            open = stop_tx.receiver_count(),
            "connections still open after the shutdown grace period"
        );
    }
    Ok(())
}

/// Enters a new connection in the table; what comes back must be closed to make room.
fn admit(shared: &Shared, stop: Arc<Notify>) -> (Option<ConnId>, Vec<(ConnId, Arc<Notify>)>) {
    let Some(table) = &shared.connections else {
        return (None, Vec::new());
    };
    let mut t = table.lock().unwrap_or_else(|p| p.into_inner());
    let id = t.admit(stop);
    let mut evicted = Vec::new();
    while let Some(e) = t.over_cap() {
        evicted.push(e);
    }
    (Some(id), evicted)
}

/// Serves one TCP connection (and starts the WebSocket it may upgrade to). `evict` fires
/// when the connection is closed to make room for a new one.
async fn connection(
    shared: Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    id: Option<ConnId>,
    evict: Arc<Notify>,
) {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, %peer, "setting TCP_NODELAY failed");
    }
    let mut stop = shared.shutdown.clone();
    let svc_shared = shared.clone();
    let service = service_fn(move |req: hyper::Request<Incoming>| {
        let shared = svc_shared.clone();
        async move { Ok::<_, Infallible>(shared.handle(req, Some(peer), id).await) }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(shared.config.header_timeout)
        // A larger head is answered 431; the read buffer never holds more of a partial one.
        .max_header_size(shared.config.max_head)
        .max_buf_size(shared.config.max_head.max(8192));
    let mut conn = pin!(builder
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades());
    let stopped = async {
        match &mut stop {
            Some(rx) => drop(rx.wait_for(|stop| *stop).await),
            None => std::future::pending().await,
        }
    };
    let mut evicted = pin!(evict.notified());
    let result = match select(conn.as_mut(), select(pin!(stopped), evicted.as_mut())).await {
        Either::Left((result, _)) => Some(result),
        Either::Right((Either::Left(_), _)) => {
            conn.as_mut().graceful_shutdown();
            match select(conn.as_mut(), evicted).await {
                Either::Left((result, _)) => Some(result),
                Either::Right(_) => None,
            }
        }
        // Closed to make room: dropping the connection closes it.
        Either::Right((Either::Right(_), _)) => None,
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
    if let (Some(table), Some(id)) = (&shared.connections, id) {
        table.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
    }
}
