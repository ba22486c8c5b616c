//! The raw WebSocket ceiling on sockio's own WebSocket layer: the same work as [`ceiling`]
//! (see there: the open packet, `40` answered, `42["bcast"` to everybody, other messages
//! echoed, no pings), but framed by `sockio_protocol::websocket` ([`WsConn`] driven by
//! [`WsDriver`]) the way sockio-tokio frames it: one task per connection, reads into a
//! per-thread scratch buffer, writes encoded straight into a buffer freed once written.
//! Broadcasts reach the other connections through a queue each, drained by their task.
//!
//! Next to the tokio-tungstenite ceiling it shows what the WebSocket layer itself costs, and
//! what the rest of sockio (Engine.IO and Socket.IO, the engine) costs on top of it.
//!
//! [`ceiling`]: crate::ceiling

use std::collections::{HashMap, VecDeque};
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sockio_protocol::http::TransportConfig;
use sockio_protocol::http::{Frame, WsOut, WsOutbox};
use sockio_protocol::websocket::{accept_key, with_scratch, WsConn, WsDriver, WsIo};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use crate::{BCAST_EVENT, PING_INTERVAL_MS, PING_TIMEOUT_MS};

/// The longest request head read.
const MAX_HEAD: usize = 16 * 1024;

type Peers = Arc<RwLock<HashMap<u64, Arc<Queue>>>>;

/// Accepts connections on `listener` forever.
pub async fn serve(listener: TcpListener) -> io::Result<()> {
    let peers: Peers = Arc::default();
    let next = Arc::new(AtomicU64::new(1));
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                eprintln!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let id = next.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(connection(stream, id, peers.clone()));
    }
}

/// Reads the upgrade request and answers it; the bytes read past the head.
async fn handshake(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let end = loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        head.extend_from_slice(&chunk[..n]);
        if let Some(i) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if head.len() > MAX_HEAD {
            return None;
        }
    };
    let text = std::str::from_utf8(&head[..end]).ok()?;
    let key = text.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("sec-websocket-key")
            .then(|| value.trim())
    })?;
    let answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(key)
    );
    stream.write_all(answer.as_bytes()).await.ok()?;
    Some(head[end..].to_vec())
}

async fn connection(mut stream: TcpStream, id: u64, peers: Peers) {
    let _ = stream.set_nodelay(true);
    let Some(rest) = handshake(&mut stream).await else {
        return;
    };
    let sid = format!("{id:020}");
    let queue = Arc::new(Queue::default());
    queue.push(Frame::Text(Bytes::from(format!(
        r#"0{{"sid":"{sid}","upgrades":[],"pingInterval":{PING_INTERVAL_MS},"pingTimeout":{PING_TIMEOUT_MS},"maxPayload":1000000}}"#
    ))));
    peers
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .insert(id, queue.clone());
    let bcast_prefix = format!("42[\"{BCAST_EVENT}\"");
    let inbound = {
        let (queue, peers) = (queue.clone(), peers.clone());
        Box::new(move |frame: Frame| {
            let Frame::Text(text) = frame else {
                return None;
            };
            if &text[..] == b"40" {
                queue.push(Frame::Text(Bytes::from(format!(r#"40{{"sid":"{sid}"}}"#))));
            } else if text.starts_with(bcast_prefix.as_bytes()) {
                let peers = peers.read().unwrap_or_else(|p| p.into_inner());
                for q in peers.values() {
                    q.push(Frame::Text(text.clone()));
                }
            } else if text.starts_with(b"4") && !text.starts_with(b"41") {
                queue.push(Frame::Text(text));
            }
            None
        })
    };
    // sockio-tokio's defaults: message limit, write timeout and close grace.
    let conn = WsConn::for_transport(&TransportConfig::default());
    let mut driver = WsDriver::new(conn, inbound, queue.clone(), None);
    if !rest.is_empty() {
        driver.deliver(&rest);
    }
    drop(rest);
    let mut io = Io {
        stream,
        timer: None,
    };
    poll_fn(|cx| driver.poll(&mut io, cx)).await;
    peers.write().unwrap_or_else(|p| p.into_inner()).remove(&id);
}

/// A connection's queue of messages to write, drained by its task.
#[derive(Default)]
struct Queue(Mutex<QueueInner>);

#[derive(Default)]
struct QueueInner {
    items: VecDeque<Frame>,
    waker: Option<Waker>,
    closed: bool,
}

impl Queue {
    fn push(&self, frame: Frame) {
        let waker = {
            let mut q = self.0.lock().unwrap_or_else(|p| p.into_inner());
            if q.closed {
                return;
            }
            q.items.push_back(frame);
            q.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl WsOutbox for Queue {
    fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Option<WsOut>> {
        let mut q = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match q.items.pop_front() {
            Some(f) => Poll::Ready(Some(WsOut::Frame(f))),
            None if q.closed => Poll::Ready(None),
            None => {
                q.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    fn try_next(&self) -> Option<WsOut> {
        let mut q = self.0.lock().unwrap_or_else(|p| p.into_inner());
        q.items.pop_front().map(WsOut::Frame)
    }

    fn close(&self) {
        let mut q = self.0.lock().unwrap_or_else(|p| p.into_inner());
        q.closed = true;
        q.items = VecDeque::new();
        q.waker = None;
    }
}

/// The stream and the connection's timer.
struct Io {
    stream: TcpStream,
    timer: Option<(Instant, Pin<Box<tokio::time::Sleep>>)>,
}

impl WsIo for Io {
    fn poll_read_with(
        &mut self,
        cx: &mut Context<'_>,
        deliver: &mut dyn FnMut(&[u8]),
    ) -> Poll<io::Result<usize>> {
        with_scratch(|buf| {
            let mut rb = ReadBuf::new(buf);
            match Pin::new(&mut self.stream).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) => {
                    let filled = rb.filled();
                    if !filled.is_empty() {
                        deliver(filled);
                    }
                    Poll::Ready(Ok(filled.len()))
                }
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            }
        })
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_timer(&mut self, cx: &mut Context<'_>, deadline: Instant) -> Poll<()> {
        use std::future::Future as _;
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
