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

use async_io::Timer;
use async_net::TcpStream;
use bytes::Bytes;
use futures_lite::{AsyncRead, AsyncWrite};
use sockio_protocol::websocket::{with_scratch, WsConn, WsDriver, WsError, WsIo};

use crate::http::Shared;
use crate::WsOpened;

/// Runs an upgraded connection until either side closes it. `read_buf` holds what hyper
/// read past the upgrade request.
pub(crate) async fn run(
    shared: Arc<Shared>,
    peer: Option<SocketAddr>,
    (inbound, outbox): WsOpened,
    stream: TcpStream,
    read_buf: Bytes,
) {
    let conn = WsConn::for_transport(&shared.config);
    let stop = shared.ws_stop.wait();
    let mut driver = WsDriver::new(conn, inbound, outbox, Some(stop));
    if !read_buf.is_empty() {
        driver.deliver(&read_buf);
    }
    // hyper's buffer let go of now: even empty, a `Bytes` cut from it would keep all of it.
    drop(read_buf);
    let mut io = Io {
        stream,
        timer: None,
    };
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
struct Io {
    stream: TcpStream,
    timer: Option<(Instant, Timer)>,
}

impl WsIo for Io {
    fn poll_read_with(
        &mut self,
        cx: &mut Context<'_>,
        deliver: &mut dyn FnMut(&[u8]),
    ) -> Poll<io::Result<usize>> {
        with_scratch(|buf| match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    deliver(&buf[..n]);
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => {
                tracing::debug!(error = %e, "WebSocket read failed");
                Poll::Ready(Err(e))
            }
            Poll::Pending => Poll::Pending,
        })
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_timer(&mut self, cx: &mut Context<'_>, deadline: Instant) -> Poll<()> {
        let timer = match &mut self.timer {
            Some((at, timer)) if *at == deadline => timer,
            slot => &mut slot.insert((deadline, Timer::at(deadline))).1,
        };
        Pin::new(timer).poll(cx).map(drop)
    }

    fn clear_timer(&mut self) {
        self.timer = None;
    }

    fn now(&self) -> Instant {
        Instant::now()
    }
}
