//! `SocketIoLayer` mounts the engine path, WebSocket upgrades included, into an axum
//! `Router` next to ordinary routes.

mod common;

use std::sync::Arc;

use axum::routing::get;
use common::{echo_handlers, request, Seen, STEP};
use futures_util::{SinkExt, StreamExt};
use sockio_tokio::{ServerConfig, SocketIoLayer};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn layer_serves_engine_path_next_to_routes() {
    tokio::time::timeout(STEP, async {
        let seen = Arc::new(Seen::default());
        let (ev_tx, events) = async_channel::unbounded();
        let app = axum::Router::new()
            .route("/hello", get(|| async { "hi" }))
            .layer(SocketIoLayer::new(
                ServerConfig::default(),
                echo_handlers(seen.clone(), ev_tx),
            ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, app).await });

        let hello = request(addr, "GET /hello HTTP/1.1", b"").await;
        assert_eq!(hello.status, 200);
        assert_eq!(hello.body, b"hi");

        let missing = request(addr, "GET /nowhere HTTP/1.1", b"").await;
        assert_eq!(missing.status, 404);

        let post = request(
            addr,
            "POST /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nContent-Length: 5",
            b"4ping",
        )
        .await;
        assert_eq!(post.status, 200);
        assert_eq!(post.header("x-echo-path"), Some("/socket.io/"));
        assert_eq!(post.body, b"Post|EIO=4&transport=polling|4ping");
        assert_eq!(seen.requests.lock().unwrap().len(), 1);

        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let (mut ws, resp) = tokio_tungstenite::connect_async(url).await.unwrap();
        assert_eq!(resp.status(), 101);
        assert_eq!(events.recv().await.unwrap(), "open");
        ws.send(Message::text("4hello")).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("4hello"));
        ws.send(Message::text("close")).await.unwrap();
        assert!(matches!(ws.next().await, Some(Ok(Message::Close(_)))));
        assert!(ws.next().await.is_none());
        assert_eq!(events.recv().await.unwrap(), "incoming closed");

        server.abort();
    })
    .await
    .expect("test in time");
}
