//! Helpers shared by the integration tests: echoing handlers, a server on 127.0.0.1:0, a raw
//! HTTP/1.1 client and a WebSocket client.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use sockio_threaded::{
    serve, Frame, Handlers, HttpHandler, HttpRequest, HttpResponse, ServerConfig, ShutdownHandle,
    WsInbound, WsOut, WsOutbox,
};
use tungstenite::WebSocket;

/// Upper bound for any single step of a test.
pub const STEP: Duration = Duration::from_secs(10);

/// What the echo handlers saw.
#[derive(Default)]
pub struct Seen {
    pub requests: Mutex<Vec<HttpRequest>>,
    pub websockets: Mutex<Vec<HttpRequest>>,
}

/// Handlers that echo: HTTP answers `METHOD|query|body`, except that a query of `park`
/// waits until the server shuts down; WebSockets send every frame back, answer the text
/// frame `close` with `WsOut::Close`, answer `burst` with 100 numbered frames and a close,
/// and report on `events` when their incoming channel closes.
pub fn echo_handlers(
    seen: Arc<Seen>,
    events: mpsc::Sender<&'static str>,
    shutdown: ShutdownHandle,
) -> Handlers {
    let http_seen = seen.clone();
    Handlers {
        on_request: Arc::new(move |req: HttpRequest| {
            http_seen.requests.lock().unwrap().push(req.clone());
            let (tx, rx) = async_channel::bounded::<()>(1);
            if req.query == "park" {
                shutdown.on_shutdown(move || {
                    let _ = tx.try_send(());
                });
            } else {
                let _ = tx.try_send(());
            }
            Box::pin(async move {
                let _ = rx.recv().await;
                let mut body = format!("{:?}|{}|", req.method, req.query).into_bytes();
                body.extend_from_slice(&req.body);
                HttpResponse {
                    status: 200,
                    headers: vec![("Content-Type", "text/plain; charset=UTF-8".to_owned())],
                    body: body.into(),
                }
            })
        }),
        check_websocket: Arc::new(|req: &HttpRequest| {
            (req.query == "refuse").then(|| HttpResponse {
                status: 403,
                headers: vec![("X-Refused", "yes".to_owned())],
                body: "refused".into(),
            })
        }),
        on_websocket: Arc::new(move |req| {
            let (outgoing, outbox) = ChanOutbox::new();
            // Frames go through a channel to the echoing task; dropping the sender (the
            // adapter drops the inbound when the connection ends) closes it.
            let (in_tx, incoming) = async_channel::unbounded::<Frame>();
            seen.websockets.lock().unwrap().push(req);
            let events = events.clone();
            sockio_threaded::spawn(async move {
                let _ = events.send("open");
                while let Ok(frame) = incoming.recv().await {
                    match &frame {
                        Frame::Text(t) if &t[..] == b"close" => {
                            let _ = outgoing.send(WsOut::Close).await;
                        }
                        Frame::Text(t) if &t[..] == b"burst" => {
                            // More than the writer buffers: queued as room comes.
                            for i in 0..100 {
                                let f = Frame::Text(format!("{i}").into());
                                let _ = outgoing.send(WsOut::Frame(f)).await;
                            }
                            let _ = outgoing.send(WsOut::Close).await;
                        }
                        _ => {
                            let _ = outgoing.send(WsOut::Frame(frame)).await;
                        }
                    }
                }
                let _ = events.send("incoming closed");
            });
            let inbound: WsInbound = Box::new(move |frame| {
                let _ = in_tx.try_send(frame);
                None
            });
            let outbox: Arc<dyn WsOutbox> = Arc::new(outbox);
            (inbound, outbox)
        }),
    }
}

/// A running test server.
pub struct Server {
    pub addr: SocketAddr,
    pub seen: Arc<Seen>,
    pub events: mpsc::Receiver<&'static str>,
    pub shutdown: ShutdownHandle,
    pub thread: JoinHandle<std::io::Result<()>>,
}

/// Starts `serve` with echo handlers on 127.0.0.1:0.
pub fn start(config: ServerConfig, fallback: Option<HttpHandler>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let (ev_tx, events) = mpsc::channel();
    let shutdown = ShutdownHandle::new();
    let handlers = echo_handlers(seen.clone(), ev_tx, shutdown.clone());
    let stop = shutdown.clone();
    let thread = std::thread::spawn(move || serve(listener, config, handlers, fallback, stop));
    Server {
        addr,
        seen,
        events,
        shutdown,
        thread,
    }
}

/// Triggers shutdown and waits for `serve` to return.
pub fn stop(server: Server) {
    server.shutdown.shutdown();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(server.thread.join()));
    rx.recv_timeout(STEP)
        .expect("serve returns in time")
        .unwrap()
        .unwrap();
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A connection for several requests.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(STEP)).unwrap();
    s
}

/// Reads one response with a `Content-Length` body from `stream`.
pub fn read_reply(stream: &mut TcpStream) -> Reply {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        assert_eq!(
            stream.read(&mut byte).unwrap(),
            1,
            "connection closed mid-head"
        );
        buf.push(byte[0]);
    }
    let head = std::str::from_utf8(&buf).unwrap();
    let mut lines = head.trim_end().split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.trim().to_ascii_lowercase(), v.trim().to_owned())
        })
        .collect();
    let len: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).unwrap();
    Reply {
        status,
        headers,
        body,
    }
}

/// Sends `raw` on a new connection and reads one response.
pub fn request(addr: SocketAddr, raw: &[u8]) -> Reply {
    let mut s = connect(addr);
    s.write_all(raw).unwrap();
    read_reply(&mut s)
}

/// Whether the server closed `stream` (reads end of stream).
pub fn is_closed(stream: &mut TcpStream) -> bool {
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).is_ok() && rest.is_empty()
}

/// Opens a WebSocket on the engine path.
pub fn websocket(addr: SocketAddr) -> WebSocket<TcpStream> {
    let stream = connect(addr);
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    let (ws, resp) = tungstenite::client(url, stream).unwrap();
    assert_eq!(resp.status(), 101);
    ws
}

/// The outbox every adapter's tests hand out (one file, included by path).
#[path = "../../../adapter-tokio/tests/common/chan_outbox.rs"]
mod chan_outbox;
pub use chan_outbox::ChanOutbox;
