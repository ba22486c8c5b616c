//! One WebSocket connection, in one task: the protocol's [`WsDriver`] over the TCP stream.
//! Bytes are read into this thread's scratch buffer and handed on at once, and what is
//! written is freed once the socket took it: nothing is buffered while the connection is idle.

use std::future::{poll_fn, Future as _};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use sockio_protocol::websocket::{with_scratch, WsConn, WsDriver, WsError, WsIo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::engine::Shared;
use crate::WsOpened;

/// Runs an upgraded connection until either side closes it: on the TCP stream itself when
/// the connection is one of ours (or axum's), on hyper's upgraded I/O otherwise.
/// `opened` is what [`Handlers::on_websocket`](crate::Handlers::on_websocket) returned.
pub(crate) async fn run(
    shared: Arc<Shared>,
    peer: Option<SocketAddr>,
    opened: WsOpened,
    upgraded: Upgraded,
) {
    match upgraded.downcast::<TokioIo<TcpStream>>() {
        Ok(parts) => drive(shared, peer, opened, parts.io.into_inner(), parts.read_buf).await,
        Err(upgraded) => drive(shared, peer, opened, TokioIo::new(upgraded), Bytes::new()).await,
    }
}

async fn drive<S>(
    shared: Arc<Shared>,
    peer: Option<SocketAddr>,
    (inbound, outbox): WsOpened,
    io: S,
    leftover: Bytes,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let conn = WsConn::for_transport(&shared.config);
    // Only the embedded server stops its connections (a layer's belong to its host).
    let stop = shared.shutdown.is_some().then(|| shared.ws_stop.wait());
    let mut driver = WsDriver::new(conn, inbound, outbox, stop);
    if !leftover.is_empty() {
        driver.deliver(&leftover);
    }
    drop(leftover);
    let mut io = Io { io, timer: None };
    poll_fn(|cx| driver.poll(&mut io, cx)).await;
    match driver.failure() {
        Some(e @ WsError::TooLarge) => {
            tracing::warn!(error = %e, ?peer, "WebSocket message over max_payload: closed")
        }
        Some(e) => tracing::debug!(error = %e, ?peer, "WebSocket peer failed the protocol: closed"),
        None => {}
    }
    if driver.write_timed_out(Instant::now()) {
        tracing::warn!(
            ?peer,
            patience = ?shared.config.write_timeout,
            "WebSocket peer does not read; connection dropped"
        );
    }
    // Dropping `shared` here lets a shutting-down server know this connection is over.
}

/// The stream and the connection's timer (armed only while it has a deadline).
struct Io<S> {
    io: S,
    timer: Option<(Instant, Pin<Box<tokio::time::Sleep>>)>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> WsIo for Io<S> {
    fn poll_read_with(
        &mut self,
        cx: &mut Context<'_>,
        deliver: &mut dyn FnMut(&[u8]),
    ) -> Poll<io::Result<usize>> {
        with_scratch(|buf| {
            let mut rb = ReadBuf::new(buf);
            match Pin::new(&mut self.io).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) => {
                    let filled = rb.filled();
                    if !filled.is_empty() {
                        deliver(filled);
                    }
                    Poll::Ready(Ok(filled.len()))
                }
                Poll::Ready(Err(e)) => {
                    tracing::debug!(error = %e, "WebSocket read failed");
                    Poll::Ready(Err(e))
                }
                Poll::Pending => Poll::Pending,
            }
        })
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_timer(&mut self, cx: &mut Context<'_>, deadline: Instant) -> Poll<()> {
        match &mut self.timer {
            Some((at, sleep)) if *at == deadline => sleep.as_mut().poll(cx),
            slot => {
                let mut sleep = Box::pin(tokio::time::sleep_until(deadline.into()));
                let ready = sleep.as_mut().poll(cx);
                *slot = Some((deadline, sleep));
                ready
            }
        }
    }

    fn clear_timer(&mut self) {
        self.timer = None;
    }

    fn now(&self) -> Instant {
        Instant::now()
    }
}
