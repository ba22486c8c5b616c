//! WebSocket upgrades on the engine path: frames go up on `incoming`, come back down on
//! `outgoing`, `WsOut::Close` closes the client, and a client leaving closes `incoming`.

mod common;

use common::{start, stop, STEP};
use futures_util::{SinkExt, StreamExt};
use sockio_tokio::ServerConfig;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn frames_echo_and_close_from_server() {
    tokio::time::timeout(STEP, async {
        let server = start(ServerConfig::default(), None).await;
        let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", server.addr);
        let (mut ws, resp) = tokio_tungstenite::connect_async(url).await.unwrap();
        assert_eq!(resp.status(), 101);
        assert_eq!(server.events.recv().await.unwrap(), "open");
        {
            let seen = server.seen.websockets.lock().unwrap();
            assert_eq!(seen[0].path, "/socket.io/");
            assert_eq!(seen[0].query, "EIO=4&transport=websocket");
            assert!(seen[0].body.is_empty());
            assert_eq!(seen[0].header("upgrade"), Some("websocket"));
            assert!(seen[0].peer.is_some());
        }
        assert!(server.seen.requests.lock().unwrap().is_empty());

        ws.send(Message::text("2probe")).await.unwrap();
        ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("2probe"));
        assert_eq!(
            ws.next().await.unwrap().unwrap(),
            Message::binary(vec![1u8, 2, 3])
        );

        // Pings are answered by the adapter.
        ws.send(Message::Ping(b"p".to_vec().into())).await.unwrap();
        assert_eq!(
            ws.next().await.unwrap().unwrap(),
            Message::Pong(b"p".to_vec().into())
        );

        // The handler answers "close" with WsOut::Close.
        ws.send(Message::text("close")).await.unwrap();
        match ws.next().await {
            Some(Ok(Message::Close(_))) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
        assert!(ws.next().await.is_none());
        assert_eq!(server.events.recv().await.unwrap(), "incoming closed");
        stop(server).await;
    })
    .await
    .expect("test in time");
}

#[tokio::test]
async fn incoming_closes_when_client_leaves() {
    tokio::time::timeout(STEP, async {
        let server = start(ServerConfig::default(), None).await;
        let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", server.addr);

        // A clean close handshake from the client.
        let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        assert_eq!(server.events.recv().await.unwrap(), "open");
        ws.close(None).await.unwrap();
        assert_eq!(server.events.recv().await.unwrap(), "incoming closed");

        // The TCP connection just dropped.
        let (ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        assert_eq!(server.events.recv().await.unwrap(), "open");
        drop(ws);
        assert_eq!(server.events.recv().await.unwrap(), "incoming closed");
        stop(server).await;
    })
    .await
    .expect("test in time");
}

#[tokio::test]
async fn message_over_max_size_closes() {
    tokio::time::timeout(STEP, async {
        let config = ServerConfig {
            max_message_size: 1000,
            ..Default::default()
        };
        let server = start(config, None).await;
        let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", server.addr);
        let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        assert_eq!(server.events.recv().await.unwrap(), "open");
        ws.send(Message::binary(vec![7u8; 1000])).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap().len(), 1000);
        let _ = ws.send(Message::binary(vec![7u8; 1001])).await;
        assert_eq!(server.events.recv().await.unwrap(), "incoming closed");
        // The client sees the connection end.
        loop {
            match ws.next().await {
                None | Some(Err(_)) => break,
                Some(Ok(Message::Close(_))) => {}
                Some(Ok(other)) => panic!("unexpected {other:?}"),
            }
        }
        stop(server).await;
    })
    .await
    .expect("test in time");
}

#[tokio::test]
async fn a_refused_upgrade_gets_the_refusal_not_101() {
    tokio::time::timeout(STEP, async {
        let server = start(ServerConfig::default(), None).await;
        let url = format!("ws://{}/socket.io/?refuse", server.addr);
        let err = tokio_tungstenite::connect_async(url).await.unwrap_err();
        let tokio_tungstenite::tungstenite::Error::Http(resp) = err else {
            panic!("expected an HTTP refusal, got {err}");
        };
        assert_eq!(resp.status(), 403);
        assert_eq!(resp.headers()["x-refused"], "yes");
        assert!(server.seen.websockets.lock().unwrap().is_empty());
        stop(server).await;
    })
    .await
    .expect("test in time");
}
