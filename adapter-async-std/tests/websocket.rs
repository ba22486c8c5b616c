//! WebSocket upgrades on the engine path: frames go up on `incoming`, come back down on
//! `outgoing`, `WsOut::Close` closes the client, and a client leaving closes `incoming`.

mod common;

use async_tungstenite::tungstenite::Message;
use common::{connect_ws, next_event, start, stop, within, Rt};
use futures_util::StreamExt;
use sockio_async_std::ServerConfig;

async fn frames_echo_and_close_from_server(rt: Rt) {
    let server = start(rt, ServerConfig::default(), None).await;
    let mut ws = connect_ws(server.addr).await;
    assert_eq!(next_event(&server).await, "open");
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
    assert_eq!(
        within(ws.next()).await.unwrap().unwrap(),
        Message::text("2probe")
    );
    let echoed = within(ws.next()).await.unwrap().unwrap();
    assert_eq!(echoed, Message::binary(vec![1u8, 2, 3]));

    // Pings are answered by the adapter.
    ws.send(Message::Ping(b"p".to_vec().into())).await.unwrap();
    let pong = within(ws.next()).await.unwrap().unwrap();
    assert_eq!(pong, Message::Pong(b"p".to_vec().into()));

    // The handler answers "close" with WsOut::Close: a close frame, then the end.
    ws.send(Message::text("close")).await.unwrap();
    match within(ws.next()).await {
        Some(Ok(Message::Close(_))) => {}
        other => panic!("expected a close frame, got {other:?}"),
    }
    assert!(within(ws.next()).await.is_none());
    assert_eq!(next_event(&server).await, "incoming closed");
    stop(server).await;
}

async fn incoming_closes_when_client_leaves(rt: Rt) {
    let server = start(rt, ServerConfig::default(), None).await;

    // A clean close handshake from the client.
    let mut ws = connect_ws(server.addr).await;
    assert_eq!(next_event(&server).await, "open");
    ws.close(None).await.unwrap();
    assert_eq!(next_event(&server).await, "incoming closed");

    // The TCP connection just dropped.
    let ws = connect_ws(server.addr).await;
    assert_eq!(next_event(&server).await, "open");
    drop(ws);
    assert_eq!(next_event(&server).await, "incoming closed");
    stop(server).await;
}

async fn upgrade_without_key_is_400(rt: Rt) {
    let server = start(rt, ServerConfig::default(), None).await;
    let head = "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13";
    let reply = common::request(server.addr, head, b"").await;
    assert_eq!(reply.status, 400);
    assert!(server.seen.websockets.lock().unwrap().is_empty());
    stop(server).await;
}

on_both_runtimes!(echo_and_close, frames_echo_and_close_from_server);
on_both_runtimes!(client_leaves, incoming_closes_when_client_leaves);
on_both_runtimes!(bad_upgrade, upgrade_without_key_is_400);

async fn a_refused_upgrade_gets_the_refusal_not_101(rt: Rt) {
    let server = start(rt, ServerConfig::default(), None).await;
    let stream = async_net::TcpStream::connect(server.addr).await.unwrap();
    let url = format!("ws://{}/socket.io/?refuse", server.addr);
    let err = within(async_tungstenite::client_async(url, stream))
        .await
        .unwrap_err();
    let async_tungstenite::tungstenite::Error::Http(resp) = err else {
        panic!("expected an HTTP refusal, got {err}");
    };
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.headers()["x-refused"], "yes");
    assert!(server.seen.websockets.lock().unwrap().is_empty());
    stop(server).await;
}

on_both_runtimes!(refused, a_refused_upgrade_gets_the_refusal_not_101);
