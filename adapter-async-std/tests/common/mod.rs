//! Helpers shared by the integration tests: the two runtimes each test runs under, echoing
//! handlers, a server on 127.0.0.1:0 and a raw HTTP/1.1 client.

#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_net::TcpStream;
use futures_lite::{AsyncReadExt, AsyncWriteExt, FutureExt};
use sockio_async_std::{
    serve_with_fallback, Frame, Handlers, HttpHandler, HttpRequest, HttpResponse, ServerConfig,
    TcpListener, WsInbound, WsOut, WsOutbox,
};

/// Upper bound for any single step of a test.
pub const STEP: Duration = Duration::from_secs(10);

/// The runtime a test runs under: the test future is blocked on, and the server (and the
/// test's helper tasks) spawned, with that runtime's own functions.
#[derive(Clone, Copy, Debug)]
pub enum Rt {
    AsyncStd,
    Smol,
}

type Boxed<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl Rt {
    /// Runs `f` to completion on this runtime, failing the test after `limit`.
    pub fn block_on<F: Future<Output = ()> + 'static>(self, limit: Duration, f: F) {
        let bounded = async move {
            f.or(async move {
                async_io::Timer::after(limit).await;
                panic!("test did not finish within {limit:?}");
            })
            .await
        };
        match self {
            Rt::AsyncStd => async_std::task::block_on(bounded),
            Rt::Smol => smol::block_on(bounded),
        }
    }

    /// Spawns `f` on this runtime; the returned future resolves to its output.
    pub fn spawn<T: Send + 'static>(self, f: impl Future<Output = T> + Send + 'static) -> Boxed<T> {
        match self {
            Rt::AsyncStd => Box::pin(async_std::task::spawn(f)),
            Rt::Smol => Box::pin(smol::spawn(f)),
        }
    }

    /// Spawns `f` on this runtime, detached.
    pub fn detach(self, f: impl Future<Output = ()> + Send + 'static) {
        match self {
            Rt::AsyncStd => drop(async_std::task::spawn(f)),
            Rt::Smol => smol::spawn(f).detach(),
        }
    }
}

/// Defines `mod $name` with the test `$scenario(rt)` under async-std and under smol.
#[macro_export]
macro_rules! on_both_runtimes {
    ($name:ident, $scenario:path) => {
        mod $name {
            use super::*;

            #[test]
            fn async_std() {
                common::Rt::AsyncStd.block_on(common::STEP * 2, $scenario(common::Rt::AsyncStd));
            }

            #[test]
            fn smol() {
                common::Rt::Smol.block_on(common::STEP * 2, $scenario(common::Rt::Smol));
            }
        }
    };
}

/// What the echo handlers saw.
#[derive(Default)]
pub struct Seen {
    /// Every request given to `on_request`.
    pub requests: Mutex<Vec<HttpRequest>>,
    /// The requests that opened WebSockets.
    pub websockets: Mutex<Vec<HttpRequest>>,
}

/// Handlers that echo: HTTP answers `METHOD|query|body` with a few headers; WebSockets send
/// every frame back, answer the text frame `close` with `WsOut::Close`, answer `burst N` with
/// the N text frames `b0`, `b1`, … (reporting "burst queued" on `events` once they are all
/// queued), and report on `events` when their incoming channel closes.
pub fn echo_handlers(
    rt: Rt,
    seen: Arc<Seen>,
    events: async_channel::Sender<&'static str>,
) -> Handlers {
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
            rt.detach(async move {
                let _ = events.send("open").await;
                while let Ok(frame) = incoming.recv().await {
                    if let Frame::Text(t) = &frame {
                        if let Some(n) = t.strip_prefix(b"burst ") {
                            let n: usize = std::str::from_utf8(n).unwrap().parse().unwrap();
                            for i in 0..n {
                                let msg = WsOut::Frame(Frame::Text(format!("b{i}").into()));
                                outgoing.send(msg).await.unwrap();
                            }
                            let _ = events.send("burst queued").await;
                            continue;
                        }
                    }
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
    pub task: Boxed<std::io::Result<()>>,
}

/// Starts `serve_with_fallback` with echo handlers on 127.0.0.1:0, spawned on `rt`.
pub async fn start(rt: Rt, config: ServerConfig, fallback: Option<HttpHandler>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let (ev_tx, events) = async_channel::unbounded();
    let (stop, stop_rx) = async_channel::bounded::<()>(1);
    let handlers = echo_handlers(rt, seen.clone(), ev_tx);
    let shutdown = async move {
        let _ = stop_rx.recv().await;
    };
    let task = rt.spawn(serve_with_fallback(
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

/// Waits for the next handler event, failing after [`STEP`].
pub async fn next_event(server: &Server) -> &'static str {
    within(server.events.recv()).await.unwrap()
}

/// Awaits `f`, failing after [`STEP`].
pub async fn within<T>(f: impl Future<Output = T>) -> T {
    f.or(async {
        async_io::Timer::after(STEP).await;
        panic!("step did not finish within {STEP:?}");
    })
    .await
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
    within(stream.read_to_end(&mut resp)).await.unwrap();
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

/// Opens a WebSocket to the engine path.
pub async fn connect_ws(addr: SocketAddr) -> async_tungstenite::WebSocketStream<TcpStream> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    let (ws, resp) = within(async_tungstenite::client_async(url, stream))
        .await
        .unwrap();
    assert_eq!(resp.status(), 101);
    ws
}

/// Asks the server to stop and waits for `serve` to return.
pub async fn stop(server: Server) {
    server.stop.send(()).await.unwrap();
    within(server.task).await.unwrap();
}

/// The outbox every adapter's tests hand out (one file, included by path).
#[path = "../../../adapter-tokio/tests/common/chan_outbox.rs"]
mod chan_outbox;
pub use chan_outbox::ChanOutbox;
