//! `serve` returns after its shutdown future fires, closing the connections still open.

mod common;

use std::time::{Duration, Instant};

use common::{start, STEP};
use futures_util::StreamExt;
use sockio_tokio::ServerConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn shutdown_closes_open_connections_and_returns() {
    tokio::time::timeout(STEP, async {
        let server = start(ServerConfig::default(), None).await;

        // A WebSocket client, reading until its connection ends.
        let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", server.addr);
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        assert_eq!(server.events.recv().await.unwrap(), "open");
        let ws_client = tokio::spawn(async move {
            let mut ws = ws;
            let mut got = Vec::new();
            while let Some(msg) = ws.next().await {
                got.push(msg);
            }
            got
        });

        // An idle keep-alive HTTP connection after one request.
        let mut idle = TcpStream::connect(server.addr).await.unwrap();
        idle.write_all(b"GET /socket.io/?EIO=4 HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = vec![0; 4096];
        let n = idle.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));

        let started = Instant::now();
        server.stop.send(()).await.unwrap();
        server.task.await.unwrap().unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "took {:?}",
            started.elapsed()
        );

        // The WebSocket got a close frame and ended; incoming was closed for the handler.
        let got = ws_client.await.unwrap();
        assert!(matches!(got.last(), Some(Ok(Message::Close(_)))), "{got:?}");
        assert_eq!(server.events.recv().await.unwrap(), "incoming closed");
        // The idle connection was closed.
        assert_eq!(idle.read(&mut buf).await.unwrap(), 0);
        // Nothing listens any more.
        assert!(TcpStream::connect(server.addr).await.is_err());
    })
    .await
    .expect("test in time");
}
