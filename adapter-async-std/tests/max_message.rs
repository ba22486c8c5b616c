//! A WebSocket message over `max_message_size` closes the connection with 1009.

mod common;

use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use async_tungstenite::tungstenite::Message;
use common::{connect_ws, next_event, start, stop, within, Rt};
use futures_util::StreamExt;
use sockio_async_std::ServerConfig;

async fn message_over_max_size_closes(rt: Rt) {
    let config = ServerConfig {
        max_message_size: 1000,
        ..Default::default()
    };
    let server = start(rt, config, None).await;
    let mut ws = connect_ws(server.addr).await;
    assert_eq!(next_event(&server).await, "open");
    ws.send(Message::binary(vec![7u8; 1000])).await.unwrap();
    assert_eq!(within(ws.next()).await.unwrap().unwrap().len(), 1000);
    let _ = ws.send(Message::binary(vec![7u8; 1001])).await;
    assert_eq!(next_event(&server).await, "incoming closed");
    // The client is told why, then sees the connection end.
    let mut code = None;
    loop {
        match within(ws.next()).await {
            None | Some(Err(_)) => break,
            Some(Ok(Message::Close(frame))) => code = frame.map(|f| f.code),
            Some(Ok(other)) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(code, Some(CloseCode::Size));
    stop(server).await;
}

on_both_runtimes!(max_message, message_over_max_size_closes);
