//! `serve` returns after its shutdown future fires, closing the connections still open:
//! a WebSocket gets everything queued for it, then a close frame.

mod common;

use std::time::{Duration, Instant};

use async_tungstenite::tungstenite::Message;
use common::{connect_ws, next_event, start, within, Rt};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use futures_util::StreamExt;
use sockio_async_std::ServerConfig;

/// Frames queued for the WebSocket just before the shutdown.
const BURST: usize = 500;

async fn shutdown_closes_open_connections_and_returns(rt: Rt) {
    let server = start(rt, ServerConfig::default(), None).await;

    // A WebSocket client, reading until its connection ends.
    let mut ws = connect_ws(server.addr).await;
    assert_eq!(next_event(&server).await, "open");
    let (ws_burst, burst) = async_channel::bounded(1);
    let ws_client = rt.spawn(async move {
        burst.recv().await.unwrap();
        ws.send(Message::text(format!("burst {BURST}")))
            .await
            .unwrap();
        let mut got = Vec::new();
        while let Some(msg) = ws.next().await {
            got.push(msg);
        }
        got
    });

    // An idle keep-alive HTTP connection after one request.
    let mut idle = async_net::TcpStream::connect(server.addr).await.unwrap();
    idle.write_all(b"GET /socket.io/?EIO=4 HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0; 4096];
    let n = within(idle.read(&mut buf)).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));

    // Frames queued for the WebSocket right before the shutdown.
    ws_burst.send(()).await.unwrap();
    assert_eq!(next_event(&server).await, "burst queued");
    let started = Instant::now();
    server.stop.send(()).await.unwrap();
    within(server.task).await.unwrap();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(4), "took {took:?}");

    // The WebSocket got every queued frame, in order, then a close frame, and ended;
    // incoming was closed for the handler.
    let mut got: Vec<_> = within(ws_client)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert!(matches!(got.pop(), Some(Message::Close(_))), "{got:?}");
    let expected: Vec<_> = (0..BURST).map(|i| Message::text(format!("b{i}"))).collect();
    assert_eq!(got, expected);
    assert_eq!(within(server.events.recv()).await, Ok("incoming closed"));
    // The idle connection was closed.
    assert_eq!(within(idle.read(&mut buf)).await.unwrap(), 0);
    // Nothing listens any more.
    assert!(async_net::TcpStream::connect(server.addr).await.is_err());
}

on_both_runtimes!(shutdown, shutdown_closes_open_connections_and_returns);
