//! A real Engine.IO/Socket.IO conversation over 127.0.0.1 with the async-std feature, run
//! under async-std and under smol: handshake over polling, CONNECT, an event with an
//! acknowledgement, an upgrade to WebSocket, a broadcast reaching both transports, and a
//! graceful shutdown that closes both clients.

#![cfg(feature = "async-std")]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use async_net::TcpStream;
use async_tungstenite::tungstenite::Message;
use async_tungstenite::WebSocketStream;
use futures_lite::{AsyncReadExt, AsyncWriteExt, FutureExt, StreamExt};
use serde_json::Value;
use sockio::{AsyncTcpListener, Context, SocketIo};

/// Upper bound for any single step.
const STEP: Duration = Duration::from_secs(10);

async fn within<T>(f: impl Future<Output = T>) -> T {
    f.or(async {
        async_io::Timer::after(STEP).await;
        panic!("step did not finish within {STEP:?}");
    })
    .await
}

/// One HTTP/1.1 request on a fresh connection; returns status and body.
async fn http(addr: SocketAddr, method: &str, query: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} /socket.io/?EIO=4&transport=polling{query} HTTP/1.1\r\nHost: {addr}\r\n\
         Connection: close\r\nContent-Type: text/plain;charset=UTF-8\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut resp = Vec::new();
    within(stream.read_to_end(&mut resp)).await.unwrap();
    let resp = String::from_utf8(resp).unwrap();
    let (head, body) = resp.split_once("\r\n\r\n").expect("a whole response");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

/// A long-polling client of one session.
struct Polling {
    addr: SocketAddr,
    sid: String,
}

impl Polling {
    /// The Engine.IO handshake over polling.
    async fn open(addr: SocketAddr) -> Polling {
        let (status, body) = http(addr, "GET", "", "").await;
        assert_eq!(status, 200);
        let open: Value = serde_json::from_str(body.strip_prefix('0').expect("open packet"))
            .expect("open packet JSON");
        assert_eq!(open["upgrades"], serde_json::json!(["websocket"]));
        assert_eq!(open["pingInterval"], 25000);
        let sid = open["sid"].as_str().unwrap().to_owned();
        Polling { addr, sid }
    }

    async fn post(&self, packets: &str) {
        let query = format!("&sid={}", self.sid);
        let (status, body) = http(self.addr, "POST", &query, packets).await;
        assert_eq!((status, body.as_str()), (200, "ok"));
    }

    /// The packets of the next poll.
    async fn poll(&self) -> Vec<String> {
        let query = format!("&sid={}", self.sid);
        let (status, body) = http(self.addr, "GET", &query, "").await;
        assert_eq!(status, 200);
        body.split('\x1e').map(str::to_owned).collect()
    }

    /// Socket.IO CONNECT to `/`; returns the Socket.IO sid.
    async fn connect(&self) -> String {
        self.post("40").await;
        let reply = self.poll().await;
        assert_eq!(reply.len(), 1, "{reply:?}");
        let payload: Value = serde_json::from_str(reply[0].strip_prefix("40").unwrap()).unwrap();
        let sid = payload["sid"].as_str().unwrap().to_owned();
        assert_ne!(sid, self.sid, "the Socket.IO sid is not the Engine.IO sid");
        sid
    }
}

/// Upgrades a polling session to WebSocket: probe, then upgrade.
async fn upgrade(session: &Polling) -> WebSocketStream<TcpStream> {
    let stream = TcpStream::connect(session.addr).await.unwrap();
    let url = format!(
        "ws://{}/socket.io/?EIO=4&transport=websocket&sid={}",
        session.addr, session.sid
    );
    let (mut ws, resp) = within(async_tungstenite::client_async(url, stream))
        .await
        .unwrap();
    assert_eq!(resp.status(), 101);
    ws.send(Message::text("2probe")).await.unwrap();
    assert_eq!(next_text(&mut ws).await, "3probe");
    ws.send(Message::text("5")).await.unwrap();
    ws
}

async fn next_text(ws: &mut WebSocketStream<TcpStream>) -> String {
    match within(ws.next()).await {
        Some(Ok(Message::Text(t))) => t.to_string(),
        other => panic!("expected a text message, got {other:?}"),
    }
}

fn chat_server() -> SocketIo {
    let io = SocketIo::new();
    io.on("add", |_: Context, a: i64, b: i64| a + b);
    io.on("shout", |ctx: Context, text: String| {
        ctx.broadcast().emit("news", text.to_uppercase())
    });
    io
}

async fn conversation(spawn: fn(sockio::BoxFuture<()>)) {
    let io = chat_server();
    // With tokio enabled too, tokio runs the handlers (it takes precedence); the serving is
    // still async-io's.
    let mode = if cfg!(feature = "tokio") {
        "tokio"
    } else {
        "async-std"
    };
    assert_eq!(io.async_mode(), mode);
    let listener = AsyncTcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = async_channel::bounded::<()>(1);
    let (done_tx, done) = async_channel::bounded(1);
    let server = io.clone();
    spawn(Box::pin(async move {
        let shutdown = async move {
            let _ = stopped.recv().await;
        };
        let result = server.serve_async_std(listener, shutdown).await;
        let _ = done_tx.send(result).await;
    }));

    // A polling client: handshake, CONNECT, an event with an acknowledgement.
    let a = Polling::open(addr).await;
    a.connect().await;
    a.post("421[\"add\",1,2]").await;
    assert_eq!(a.poll().await, ["431[3]"]);
    // Binary-free events batched in one POST are handled in order.
    a.post("422[\"add\",2,3]\x1e423[\"add\",3,4]").await;
    let mut acks = a.poll().await;
    if acks.len() < 2 {
        acks.extend(a.poll().await);
    }
    assert_eq!(acks, ["432[5]", "433[7]"]);

    // A second client connects over polling, then upgrades to WebSocket.
    let b = Polling::open(addr).await;
    b.connect().await;
    let mut ws = upgrade(&b).await;
    within(async {
        while io.connected_count() < 2 {
            async_io::Timer::after(Duration::from_millis(5)).await;
        }
    })
    .await;

    // A broadcast from the WebSocket client reaches both, over both transports.
    ws.send(Message::text("42[\"shout\",\"hi\"]"))
        .await
        .unwrap();
    assert_eq!(next_text(&mut ws).await, "42[\"news\",\"HI\"]");
    assert_eq!(a.poll().await, ["42[\"news\",\"HI\"]"]);

    // Shutdown: the parked poll gets the close packet, the WebSocket a close frame (each
    // client answering it at once), then serve returns.
    let parked = {
        let addr = a.addr;
        let query = format!("&sid={}", a.sid);
        async move { http(addr, "GET", &query, "").await }
    };
    let ws_end = async move {
        let mut got = Vec::new();
        while let Some(msg) = within(ws.next()).await {
            got.push(msg.unwrap());
        }
        got
    };
    let shutdown = async {
        // Let the poll park before shutting down.
        async_io::Timer::after(Duration::from_millis(100)).await;
        stop.send(()).await.unwrap();
        let started = std::time::Instant::now();
        within(done.recv()).await.unwrap().unwrap();
        started.elapsed()
    };
    let ((parked, ws_got), took) =
        futures_lite::future::zip(futures_lite::future::zip(parked, ws_end), shutdown).await;
    assert_eq!(parked, (200, "1".to_owned()));
    assert!(matches!(ws_got[..], [Message::Close(_)]), "{ws_got:?}");
    assert!(took < Duration::from_secs(2), "shutdown took {took:?}");
    assert!(TcpStream::connect(addr).await.is_err(), "still listening");
}

#[test]
fn conversation_under_async_std() {
    async_std::task::block_on(within(conversation(|f| drop(async_std::task::spawn(f)))));
}

#[test]
fn conversation_under_smol() {
    smol::block_on(within(conversation(|f| smol::spawn(f).detach())));
}
