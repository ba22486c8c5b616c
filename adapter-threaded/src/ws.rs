//! One WebSocket connection: the handshake answer, a reader (the connection's own thread)
//! feeding the layer above's [`WsInbound`], and a writer thread draining the messages the
//! layer above sends.
//!
//! Both sides write to the socket: the writer its frames, the reader the pongs and close
//! answers tungstenite produces while reading. Each write goes whole through one mutex, so
//! frames never interleave, and once a close frame is out nothing else is written.

use std::future::Future;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tungstenite::handshake::derive_accept_key;
use tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tungstenite::protocol::frame::{CloseFrame, Frame as WsFrame, Utf8Bytes};
use tungstenite::protocol::{Role, WebSocketConfig};
use tungstenite::{Error as WsError, Message, WebSocket};

use crate::exec::block_on;
use crate::http::{self, Conn};
use crate::server::Shared;
use crate::{Frame, HttpRequest, WsInbound, WsOut, WsOutbox};

/// How long to wait for the peer's answer to our close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(3);

/// Frames queued together are written in one go, up to about this many bytes.
const MAX_BATCH: usize = 256 * 1024;

/// Answers the upgrade request and runs the WebSocket until either side closes it.
pub(crate) fn run(shared: &Arc<Shared>, id: u64, conn: Conn, request: HttpRequest) {
    let Conn {
        mut stream, buf, ..
    } = conn;
    let peer = request.peer;
    let Some(key) = request.websocket_key() else {
        let mut resp = http::status(400);
        resp.headers
            .push(("Sec-WebSocket-Version", "13".to_owned()));
        let _ = http::write_response(&mut stream, &resp, false, false);
        return;
    };
    if let Some(refusal) = (shared.handlers.check_websocket)(&request) {
        let _ = http::write_response(&mut stream, &refusal, false, false);
        return;
    }
    let answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        derive_accept_key(key.as_bytes())
    );
    let patience = shared.config.transport.write_timeout;
    let half = stream
        .write_all(answer.as_bytes())
        .and_then(|()| stream.set_read_timeout(None))
        .and_then(|()| WriteHalf::new(&stream, patience));
    let half = match half {
        Ok(half) => Arc::new(half),
        Err(e) => return tracing::debug!(error = %e, ?peer, "WebSocket handshake failed"),
    };
    let max = shared.config.transport.max_message_size;
    // Pongs are written as they are read (the reader waits while the peer does not read);
    // the write buffer only ever holds one frame.
    let config = WebSocketConfig::default()
        .max_message_size(Some(max))
        .max_frame_size(Some(max))
        .read_buffer_size(shared.config.transport.ws_read_buffer)
        .write_buffer_size(0)
        .max_write_buffer_size(max + 64 * 1024);
    let duplex = Duplex {
        stream,
        half: half.clone(),
        closing: false,
    };
    // Only what is left of it, not the room the request head took.
    let rest = buf.as_slice().to_vec();
    drop(buf);
    let ws = WebSocket::from_partially_read(duplex, rest, Role::Server, Some(config));

    // Closed (by the server shutting down) to have the writer send a close frame.
    let (stop_tx, stop) = async_channel::bounded::<()>(1);
    shared.set_websocket(id, &stop_tx);
    let (inbound, outbox) = (shared.handlers.on_websocket)(request);
    let reader_done = Arc::new((Mutex::new(false), Condvar::new()));
    let writer = {
        let (rx, half, done) = (outbox.clone(), half.clone(), reader_done.clone());
        crate::spawn_thread("sockio-ws-write", move || write(&*rx, &stop, &half, &done))
    };
    let writer = match writer {
        Ok(writer) => Some(writer),
        Err(e) => {
            tracing::error!(error = %e, ?peer, "could not start a WebSocket writer");
            half.shutdown();
            None
        }
    };
    read(ws, inbound, peer);
    // The peer left or the close handshake is over: nothing more may be written.
    half.closed.store(true, Ordering::SeqCst);
    *reader_done.0.lock().unwrap_or_else(|p| p.into_inner()) = true;
    reader_done.1.notify_all();
    outbox.close();
    stop_tx.close();
    if let Some(writer) = writer {
        let _ = writer.join();
    }
    half.shutdown();
}

/// Hands data messages to `inbound` until the connection ends, then drops it. Pings are
/// answered and close frames acknowledged by tungstenite while it reads.
fn read(mut ws: WebSocket<Duplex>, mut inbound: WsInbound, peer: Option<SocketAddr>) {
    loop {
        let frame = match ws.read() {
            Ok(Message::Text(text)) => Frame::Text(text.into()),
            Ok(Message::Binary(data)) => Frame::Binary(data),
            Ok(Message::Close(_)) => {
                // tungstenite writes the answer on the next read: our last frame.
                ws.get_mut().closing = true;
                continue;
            }
            Ok(_) => continue,
            Err(WsError::ConnectionClosed | WsError::AlreadyClosed) => return,
            Err(e @ WsError::Capacity(_)) => {
                return tracing::warn!(error = %e, ?peer, "WebSocket message over max_payload: closed")
            }
            Err(e) => return tracing::debug!(error = %e, ?peer, "WebSocket read failed"),
        };
        if let Some(wait) = inbound(frame) {
            // The layer above paused this client: its next messages stay unread meanwhile.
            block_on(wait);
        }
    }
}

/// Writes what `rx` hands out, batching what is already queued, until [`WsOut::Close`], the
/// outbox running dry for good, or `stop` closing (the server shuts down: what is queued is
/// still written); then a close frame, and waits for the reader to see the answer.
fn write(
    rx: &dyn WsOutbox,
    stop: &async_channel::Receiver<()>,
    half: &WriteHalf,
    reader_done: &(Mutex<bool>, Condvar),
) {
    let mut buf = Vec::new();
    let mut stopping = false;
    loop {
        let mut next = if stopping {
            rx.try_next()
        } else {
            let mut stopped = std::pin::pin!(stop.recv());
            block_on(std::future::poll_fn(|cx| {
                if let std::task::Poll::Ready(m) = rx.poll_next(cx) {
                    return std::task::Poll::Ready(m);
                }
                match stopped.as_mut().poll(cx) {
                    std::task::Poll::Ready(_) => {
                        stopping = true;
                        std::task::Poll::Ready(rx.try_next())
                    }
                    std::task::Poll::Pending => std::task::Poll::Pending,
                }
            }))
        };
        let mut closing = next.is_none();
        while let Some(msg) = next.take() {
            match msg {
                WsOut::Frame(frame) => push_frame(&mut buf, frame),
                WsOut::Close => {
                    closing = true;
                    break;
                }
            }
            if buf.len() < MAX_BATCH {
                next = rx.try_next();
            }
        }
        if closing {
            let close = CloseFrame {
                code: CloseCode::Normal,
                reason: Utf8Bytes::from_static(""),
            };
            // Formatting into a Vec cannot fail.
            let _ = WsFrame::close(Some(close)).format(&mut buf);
        }
        match half.write(&buf, closing) {
            Ok(true) => {}
            // The reader already ended the connection.
            Ok(false) => return,
            Err(e) => {
                tracing::debug!(error = %e, "WebSocket write failed");
                half.shutdown();
                return;
            }
        }
        buf.clear();
        if closing {
            break;
        }
    }
    let (done, changed) = reader_done;
    let done = done.lock().unwrap_or_else(|p| p.into_inner());
    let (done, _) = changed
        .wait_timeout_while(done, CLOSE_GRACE, |done| !*done)
        .unwrap_or_else(|p| p.into_inner());
    if !*done {
        // The peer did not answer the close: end the reader's wait.
        half.shutdown();
    }
}

fn push_frame(buf: &mut Vec<u8>, frame: Frame) {
    let (data, kind) = match frame {
        Frame::Text(data) if std::str::from_utf8(&data).is_err() => {
            return tracing::warn!("text frame with invalid UTF-8 not sent");
        }
        Frame::Text(data) => (data, Data::Text),
        Frame::Binary(data) => (data, Data::Binary),
    };
    // Formatting into a Vec cannot fail.
    let _ = WsFrame::message(data, OpCode::Data(kind), true).format(buf);
}

/// The writing side of the socket, shared by the reader and the writer.
struct WriteHalf {
    stream: Mutex<TcpStream>,
    /// Another handle, to shut the socket down while a write may hold the mutex.
    control: TcpStream,
    /// Set once a close frame was written or the connection ended.
    closed: AtomicBool,
    /// How long one whole write may wait for a peer that does not read.
    patience: Duration,
}

impl WriteHalf {
    fn new(stream: &TcpStream, patience: Duration) -> io::Result<Self> {
        Ok(WriteHalf {
            stream: Mutex::new(stream.try_clone()?),
            control: stream.try_clone()?,
            closed: AtomicBool::new(false),
            patience,
        })
    }

    /// Writes `bytes` whole, within the write timeout (a peer that stops reading has the
    /// connection shut); `last` when they end with a close frame. `Ok(false)` when nothing
    /// may be written any more.
    fn write(&self, bytes: &[u8], last: bool) -> io::Result<bool> {
        let mut stream = self.stream.lock().unwrap_or_else(|p| p.into_inner());
        if self.closed.load(Ordering::SeqCst) {
            return Ok(false);
        }
        if last {
            self.closed.store(true, Ordering::SeqCst);
        }
        let deadline = Instant::now() + self.patience;
        let mut rest = bytes;
        while !rest.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                tracing::warn!(patience = ?self.patience, "WebSocket peer does not read; connection dropped");
                self.shutdown();
                return Err(io::ErrorKind::TimedOut.into());
            }
            stream.set_write_timeout(Some(left))?;
            match stream.write(rest) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    fn shutdown(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let _ = self.control.shutdown(Shutdown::Both);
    }
}

/// The reader's stream: reads from the socket and sends tungstenite's writes (whole frames:
/// it hands over its whole output buffer in one call) through the [`WriteHalf`].
struct Duplex {
    stream: TcpStream,
    half: Arc<WriteHalf>,
    /// The peer sent a close frame: the next write is our answer, our last frame.
    closing: bool,
}

impl Read for Duplex {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.read(buf)
    }
}

impl Write for Duplex {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // After our own close frame the answer is not needed: it is dropped.
        self.half.write(buf, self.closing)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
