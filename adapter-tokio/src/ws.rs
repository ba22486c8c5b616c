//! One WebSocket connection: a reader feeding the layer above's [`WsInbound`] and a batching
//! writer draining the messages the layer above sends.

use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::{select, Either};
use futures_util::{Sink, SinkExt, StreamExt};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

use crate::engine::Shared;
use crate::{Frame, HttpRequest, WsInbound, WsOut, WsOutbox};

/// How long to wait for the peer's answer to our close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(3);

/// Runs an upgraded connection until either side closes it.
pub(crate) async fn run(shared: Arc<Shared>, request: HttpRequest, upgraded: Upgraded) {
    let config = ws_config(&shared.config);
    let ws =
        WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
    let peer = request.peer;
    let (inbound, outbox) = (shared.handlers.on_websocket)(request);
    // Whatever happens below, nothing more is written once this returns.
    let _closed = CloseOutbox(outbox.clone());

    let (mut sink, stream) = ws.split();
    let reader = pin!(read(stream, inbound, peer));
    let mut shutdown = shared.shutdown.clone();
    let stop = async move {
        match &mut shutdown {
            // An error means the server is gone: stop as well.
            Some(rx) => drop(rx.wait_for(|stop| *stop).await),
            None => std::future::pending().await,
        }
    };
    let writer = pin!(write(
        &mut sink,
        &*outbox,
        stop,
        shared.config.write_timeout
    ));
    if let Either::Right((WriterEnd::Closed, reader)) = select(reader, writer).await {
        // We sent a close frame: read on until the peer answers it.
        let _ = tokio::time::timeout(CLOSE_GRACE, reader).await;
    }
    // Dropping `shared` here lets a shutting-down server know this connection is over.
}

/// tungstenite's settings from the adapter's: message and frame size limits, the read buffer,
/// and a bounded write buffer. The write buffer holds what the peer has not read yet: our
/// messages (at most `write_buffer_size` plus one message) and the pongs tungstenite answers
/// pings with while reading. Bounded, a peer that pings without reading gets no more pongs
/// than it reads (tungstenite keeps one waiting), instead of making the buffer grow.
pub(crate) fn ws_config(config: &crate::ServerConfig) -> WebSocketConfig {
    let max = config.max_message_size;
    let write_buffer = 128 * 1024;
    WebSocketConfig::default()
        .max_message_size(Some(max))
        .max_frame_size(Some(max))
        .read_buffer_size(config.ws_read_buffer)
        .write_buffer_size(write_buffer)
        .max_write_buffer_size(write_buffer + max + 64 * 1024)
}

/// How the writer ended.
enum WriterEnd {
    /// It sent a close frame (or tried to): the peer may still answer it.
    Closed,
    /// The peer did not read in time, or the connection failed: nothing more to wait for.
    Failed,
}

/// Hands data messages to `inbound` until the peer closes or errs, then drops it. Pings are
/// answered and close frames acknowledged by tungstenite while reading.
async fn read<S>(mut stream: S, mut inbound: WsInbound, peer: Option<std::net::SocketAddr>)
where
    S: futures_util::Stream<Item = Result<Message, WsError>> + Unpin,
{
    // tokio's own budget counts socket reads, not the messages a burst left in tungstenite's
    // buffer: without this, a burst of small messages keeps the worker until it is handled.
    let mut budget = sockio_protocol::ReadBudget::default();
    while let Some(msg) = stream.next().await {
        let len = msg.as_ref().map_or(0, Message::len);
        if budget.spend(len) {
            tokio::task::yield_now().await;
        }
        let frame = match msg {
            Ok(Message::Text(text)) => Frame::Text(text.into()),
            Ok(Message::Binary(data)) => Frame::Binary(data),
            Ok(_) => continue,
            Err(e) => {
                if matches!(e, WsError::Capacity(_)) {
                    tracing::warn!(error = %e, ?peer, "WebSocket message over max_payload: closed");
                } else {
                    tracing::debug!(error = %e, ?peer, "WebSocket read failed");
                }
                break;
            }
        };
        if let Some(wait) = inbound(frame) {
            // The layer above paused this client: its next messages stay unread meanwhile.
            wait.await;
        }
    }
}

/// Writes what arrives on `rx` until [`WsOut::Close`], all senders are gone, or `stop`
/// completes (then what is already queued is still written), then sends a close frame. A
/// write that waits longer than `patience` for the peer to read ends the connection.
async fn write<S, F>(sink: &mut S, rx: &dyn WsOutbox, stop: F, patience: Duration) -> WriterEnd
where
    S: Sink<Message, Error = WsError> + Unpin,
    F: std::future::Future<Output = ()>,
{
    let mut stop = pin!(stop);
    loop {
        let next = std::future::poll_fn(|cx| rx.poll_next(cx));
        let first = match select(pin!(next), stop.as_mut()).await {
            Either::Left((Some(msg), _)) => msg,
            Either::Left((None, _)) => break,
            Either::Right(_) => {
                if let Some(msg) = rx.try_next() {
                    let _ = timeout(patience, write_batch(sink, rx, msg)).await;
                }
                break;
            }
        };
        match timeout(patience, write_batch(sink, rx, first)).await {
            Some(Ok(true)) => {}
            Some(Ok(false)) => break,
            Some(Err(e)) => {
                tracing::debug!(error = %e, "WebSocket write failed");
                return WriterEnd::Failed;
            }
            None => {
                tracing::warn!(
                    ?patience,
                    "WebSocket peer does not read; connection dropped"
                );
                return WriterEnd::Failed;
            }
        }
    }
    match timeout(patience, sink.close()).await {
        Some(Err(e)) => tracing::debug!(error = %e, "WebSocket close failed"),
        None => {
            tracing::warn!(?patience, "WebSocket peer does not read; close not sent");
            return WriterEnd::Failed;
        }
        Some(Ok(())) => {}
    }
    WriterEnd::Closed
}

/// `f`, unless `d` passes first.
async fn timeout<T>(d: Duration, f: impl std::future::Future<Output = T>) -> Option<T> {
    tokio::time::timeout(d, f).await.ok()
}

/// Feeds `first` and everything else ready in `rx`, then flushes once. Returns whether to
/// go on (false after [`WsOut::Close`]).
async fn write_batch<S>(sink: &mut S, rx: &dyn WsOutbox, first: WsOut) -> Result<bool, WsError>
where
    S: Sink<Message, Error = WsError> + Unpin,
{
    let mut next = first;
    let go_on = loop {
        match next {
            WsOut::Close => break false,
            WsOut::Frame(Frame::Binary(data)) => sink.feed(Message::Binary(data)).await?,
            WsOut::Frame(Frame::Text(data)) => match Utf8Bytes::try_from(data) {
                Ok(text) => sink.feed(Message::Text(text)).await?,
                Err(_) => tracing::warn!("text frame with invalid UTF-8 not sent"),
            },
        }
        next = match rx.try_next() {
            Some(msg) => msg,
            None => break true,
        };
    };
    sink.flush().await?;
    Ok(go_on)
}

/// Closes the outbox when the connection is over, however it ended.
struct CloseOutbox(Arc<dyn WsOutbox>);

impl Drop for CloseOutbox {
    fn drop(&mut self) {
        self.0.close();
    }
}
