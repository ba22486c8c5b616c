//! Helpers shared by the integration tests: echoing handlers, a server on 127.0.0.1:0 and
//! a raw HTTP/1.1 client.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sockio_tokio::{
    serve_with_fallback, Frame, Handlers, HttpHandler, HttpRequest, HttpResponse, ServerConfig,
    WsInbound, WsOut, WsOutbox,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Upper bound for any single step of a test.
pub const STEP: Duration = Duration::from_secs(10);

/// What the echo handlers saw.
#[derive(Default)]
pub struct Seen {
    /// Every request given to `on_request`.
    pub requests: Mutex<Vec<HttpRequest>>,
    /// The requests that opened WebSockets.
    pub websockets: Mutex<Vec<HttpRequest>>,
}

/// Handlers that echo: HTTP answers `METHOD|query|body` with a few headers; WebSockets send
/// every frame back, answer the text frame `close` with `WsOut::Close`, and report on
/// `events` when their incoming channel closes.
pub fn echo_handlers(seen: Arc<Seen>, events: async_channel::Sender<&'static str>) -> Handlers {
    let http_seen = seen.clone();
    Handlers {
        on_request: Arc::new(move |req: HttpRequest| {
            http_seen.requests.lock().unwrap().push(req.clone());
            Box::pin(async move {
                let mut body = format!("{:?}|{}|", req.method, req.query).into_bytes();
                body.extend_from_slice(&req.body);
                HttpResponse {
                    status: 200,
                    headers: vec![
                        ("Content-Type", "text/plain; charset=UTF-8".to_owned()),
                        ("X-Echo-Path", req.path.clone()),
                    ],
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
            tokio::spawn(async move {
                let _ = events.send("open").await;
                while let Ok(frame) = incoming.recv().await {
                    let msg = match &frame {
                        Frame::Text(t) if &t[..] == b"close" => WsOut::Close,
                        _ => WsOut::Frame(frame),
                    };
                    if outgoing.send(msg).await.is_err() {
                        break;
                    }
                }
                let _ = events.send("incoming closed").await;
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
    pub events: async_channel::Receiver<&'static str>,
    pub stop: async_channel::Sender<()>,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Starts `serve_with_fallback` with echo handlers on 127.0.0.1:0.
pub async fn start(config: ServerConfig, fallback: Option<HttpHandler>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let (ev_tx, events) = async_channel::unbounded();
    let (stop, stop_rx) = async_channel::bounded::<()>(1);
    let handlers = echo_handlers(seen.clone(), ev_tx);
    let shutdown = async move {
        let _ = stop_rx.recv().await;
    };
    let task = tokio::spawn(serve_with_fallback(
        listener, config, handlers, fallback, shutdown,
    ));
    Server {
        addr,
        seen,
        events,
        stop,
        task,
    }
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

/// Sends `head` (request line and headers, without the blank line; `Connection: close` is
/// added) and `body` on a new connection and reads the whole response.
pub async fn request(addr: SocketAddr, head: &str, body: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut raw = format!("{head}\r\nHost: {addr}\r\nConnection: close\r\n\r\n").into_bytes();
    raw.extend_from_slice(body);
    stream.write_all(&raw).await.unwrap();
    let mut resp = Vec::new();
    tokio::time::timeout(STEP, stream.read_to_end(&mut resp))
        .await
        .expect("response in time")
        .unwrap();
    parse(&resp)
}

/// Parses a response with a `Content-Length` (or none, for an empty body).
pub fn parse(resp: &[u8]) -> Reply {
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of head");
    let head = std::str::from_utf8(&resp[..split]).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.trim().to_ascii_lowercase(), v.trim().to_owned())
        })
        .collect();
    Reply {
        status,
        headers,
        body: resp[split + 4..].to_vec(),
    }
}

/// Asks the server to stop and waits for `serve` to return.
pub async fn stop(server: Server) {
    server.stop.send(()).await.unwrap();
    tokio::time::timeout(STEP, server.task)
        .await
        .expect("serve returns in time")
        .unwrap()
        .unwrap();
}

/// The outbox every adapter's tests hand out (one file, included by path).
mod chan_outbox;
pub use chan_outbox::ChanOutbox;
