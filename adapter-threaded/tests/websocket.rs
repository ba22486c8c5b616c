//! WebSocket upgrades on the engine path: frames go up on `incoming`, come back down on
//! `outgoing` in order, pings are answered, and either side can close.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::{connect, read_reply, start, stop, websocket, STEP};
use sockio_threaded::ServerConfig;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Error, Message};

#[test]
fn frames_echo_and_the_server_closes() {
    let server = start(ServerConfig::default(), None);
    let mut ws = websocket(server.addr);
    assert_eq!(server.events.recv_timeout(STEP).unwrap(), "open");
    {
        let seen = server.seen.websockets.lock().unwrap();
        assert_eq!(seen[0].path, "/socket.io/");
        assert_eq!(seen[0].query, "EIO=4&transport=websocket");
        assert_eq!(seen[0].header("upgrade"), Some("websocket"));
        assert!(seen[0].peer.is_some());
    }
    ws.send(Message::text("2probe")).unwrap();
    ws.send(Message::binary(vec![1u8, 2, 3])).unwrap();
    assert_eq!(ws.read().unwrap(), Message::text("2probe"));
    assert_eq!(ws.read().unwrap(), Message::binary(vec![1u8, 2, 3]));
    ws.send(Message::Ping(b"p".to_vec().into())).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Pong(b"p".to_vec().into()));

    ws.send(Message::text("close")).unwrap();
    assert!(matches!(ws.read().unwrap(), Message::Close(_)));
    // Our answer completes the handshake; the server then ends the connection.
    assert!(matches!(ws.read(), Err(Error::ConnectionClosed)));
    assert_eq!(server.events.recv_timeout(STEP).unwrap(), "incoming closed");
    stop(server);
}

#[test]
fn everything_queued_before_a_close_is_written() {
    let server = start(ServerConfig::default(), None);
    let mut ws = websocket(server.addr);
    ws.send(Message::text("burst")).unwrap();
    for i in 0..100 {
        assert_eq!(ws.read().unwrap(), Message::text(format!("{i}")));
    }
    assert!(matches!(ws.read().unwrap(), Message::Close(_)));
    drop(ws);
    stop(server);
}

#[test]
fn the_client_closing_or_leaving_closes_incoming() {
    let server = start(ServerConfig::default(), None);
    let mut ws = websocket(server.addr);
    assert_eq!(server.events.recv_timeout(STEP).unwrap(), "open");
    ws.close(None).unwrap();
    // The server answers the close.
    loop {
        match ws.read() {
            Ok(_) => continue,
            Err(Error::ConnectionClosed) => break,
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(server.events.recv_timeout(STEP).unwrap(), "incoming closed");

    let ws = websocket(server.addr);
    assert_eq!(server.events.recv_timeout(STEP).unwrap(), "open");
    drop(ws);
    assert_eq!(server.events.recv_timeout(STEP).unwrap(), "incoming closed");
    stop(server);
}

#[test]
fn oversized_messages_close_the_connection() {
    let mut config = ServerConfig::default();
    config.transport.max_message_size = 100;
    let server = start(config, None);
    let mut ws = websocket(server.addr);
    ws.send(Message::binary(vec![0u8; 100])).unwrap();
    assert_eq!(ws.read().unwrap(), Message::binary(vec![0u8; 100]));
    let _ = ws.send(Message::binary(vec![0u8; 101]));
    // The server says why (1009, message too big), then closes.
    match ws.read() {
        Ok(Message::Close(Some(close))) => assert_eq!(close.code, CloseCode::Size),
        other => panic!("expected a close frame with 1009, got {other:?}"),
    }
    assert!(ws.read().is_err());
    assert_eq!(server.events.recv_timeout(STEP).unwrap(), "open");
    assert_eq!(server.events.recv_timeout(STEP).unwrap(), "incoming closed");
    stop(server);
}

#[test]
fn a_frame_sent_with_the_handshake_is_not_lost() {
    let server = start(ServerConfig::default(), None);
    let mut s = connect(server.addr);
    // Handshake and a masked text frame "hi" (zero mask) in one write.
    let mut raw = b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n\
        Connection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        .to_vec();
    raw.extend_from_slice(&[0x81, 0x82, 0, 0, 0, 0, b'h', b'i']);
    s.write_all(&raw).unwrap();
    let r = read_reply(&mut s);
    assert_eq!(r.status, 101);
    assert_eq!(
        r.header("sec-websocket-accept"),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );
    let mut echo = [0u8; 4];
    s.read_exact(&mut echo).unwrap();
    assert_eq!(echo, [0x81, 0x02, b'h', b'i']);
    drop(s);
    stop(server);
}

#[test]
fn bad_handshakes_are_refused() {
    let server = start(ServerConfig::default(), None);
    let mut s = connect(server.addr);
    s.write_all(
        b"GET /socket.io/ HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
          Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    .unwrap();
    let r = read_reply(&mut s);
    assert_eq!(r.status, 400);
    assert_eq!(r.header("sec-websocket-version"), Some("13"));
    assert!(server
        .events
        .recv_timeout(Duration::from_millis(100))
        .is_err());
    stop(server);
}

#[test]
fn a_refused_upgrade_gets_the_refusal_not_101() {
    let server = start(ServerConfig::default(), None);
    let url = format!("ws://{}/socket.io/?refuse", server.addr);
    let err = tungstenite::client(url, connect(server.addr)).unwrap_err();
    let tungstenite::HandshakeError::Failure(Error::Http(resp)) = err else {
        panic!("expected an HTTP refusal, got {err}");
    };
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.headers()["x-refused"], "yes");
    assert!(server.seen.websockets.lock().unwrap().is_empty());
    stop(server);
}
