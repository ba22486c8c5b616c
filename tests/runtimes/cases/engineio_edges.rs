//! Engine.IO edge cases answered the way the reference server (node engine.io 6.6) answers
//! them, driven with raw HTTP requests and tungstenite WebSockets so that every byte and every
//! ordering is the test's own: a client's close over long-polling, extra WebSockets for a
//! session that is upgrading or upgraded, and a GET sent right after the upgrade packet.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;
use sockio::{Context, DisconnectReason, SocketIo};
use tungstenite::{Message, WebSocket};

use crate::common::client::http_request;
use crate::Rt;

/// How many times the GET-after-`5` race is run.
const RACE_ROUNDS: usize = 30;

const UNKNOWN_SID: &str = r#"{"code":1,"message":"Session ID unknown"}"#;
const BAD_REQUEST: &str = r#"{"code":3,"message":"Bad request"}"#;

/// A server whose `echo` event acknowledges with its argument, recording disconnect reasons.
fn server(rt: &Rt) -> (SocketIo, mpsc::Receiver<DisconnectReason>) {
    let io = rt.io();
    io.on("echo", |_: Context, v: Value| v);
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    io.on_disconnect(move |_: Context, reason: DisconnectReason| {
        let _ = tx.lock().unwrap().send(reason);
    });
    (io, rx)
}

fn target(transport: &str, sid: &str) -> String {
    format!("/socket.io/?EIO=4&transport={transport}&sid={sid}")
}

/// A polling handshake: the Engine.IO sid.
fn handshake(addr: SocketAddr) -> String {
    let (status, body) = http_request(addr, "GET", "/socket.io/?EIO=4&transport=polling", &[], b"");
    assert_eq!(status, 200);
    let open: Value = serde_json::from_slice(&body[1..]).unwrap();
    open["sid"].as_str().unwrap().to_owned()
}

fn get(addr: SocketAddr, sid: &str) -> (u16, String) {
    let (status, body) = http_request(addr, "GET", &target("polling", sid), &[], b"");
    (status, String::from_utf8(body).unwrap())
}

fn post(addr: SocketAddr, sid: &str, body: &str) -> (u16, String) {
    let (status, body) = http_request(addr, "POST", &target("polling", sid), &[], body.as_bytes());
    (status, String::from_utf8(body).unwrap())
}

/// Sends a GET from a thread and waits until the server holds it (one more transport).
fn parked_get(io: &SocketIo, addr: SocketAddr, sid: &str) -> JoinHandle<(u16, String)> {
    let before = io.stats().transports;
    let sid = sid.to_owned();
    let get = std::thread::spawn(move || get(addr, &sid));
    let until = Instant::now() + crate::STEP;
    while io.stats().transports == before {
        assert!(Instant::now() < until, "the GET was not parked");
        std::thread::sleep(Duration::from_millis(1));
    }
    get
}

/// Opens a WebSocket for `sid` (a new session without one): the socket once the server
/// answered 101, or the HTTP status of its refusal.
fn ws_open(addr: SocketAddr, sid: Option<&str>) -> Result<WebSocket<TcpStream>, u16> {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_nodelay(true).unwrap();
    stream.set_read_timeout(Some(crate::STEP)).unwrap();
    let url = match sid {
        Some(sid) => format!("ws://{addr}{}", target("websocket", sid)),
        None => format!("ws://{addr}/socket.io/?EIO=4&transport=websocket"),
    };
    match tungstenite::client(url, stream) {
        Ok((ws, resp)) => {
            assert_eq!(resp.status(), 101);
            Ok(ws)
        }
        Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(resp))) => {
            Err(resp.status().as_u16())
        }
        Err(e) => panic!("WebSocket handshake: {e}"),
    }
}

fn send(ws: &mut WebSocket<TcpStream>, text: &str) {
    ws.send(Message::text(text)).unwrap();
}

/// The next text message, skipping pings (answered).
fn recv(ws: &mut WebSocket<TcpStream>) -> String {
    loop {
        match ws.read().expect("a message") {
            Message::Text(t) if t.as_str() == "2" => send(ws, "3"),
            Message::Text(t) => return t.to_string(),
            other => panic!("expected a text message, got {other:?}"),
        }
    }
}

/// Asserts the server closes `ws` at once: a close frame, nothing before it.
fn expect_closed_at_once(mut ws: WebSocket<TcpStream>, what: &str) {
    match ws.read() {
        Ok(Message::Close(_)) => {}
        Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {}
        other => panic!("{what}: expected a close frame, got {other:?}"),
    }
}

/// Closes `ws` and waits until the server let go of every transport, so that the next
/// [`parked_get`] counts from a settled number.
fn closed(io: &SocketIo, mut ws: WebSocket<TcpStream>) {
    let _ = ws.close(None);
    while ws.read().is_ok() {}
    let until = Instant::now() + crate::STEP;
    while io.stats().transports > 0 {
        assert!(Instant::now() < until, "the WebSocket was not let go");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The probe on an open WebSocket, with a GET parked: `3probe`, and the GET released with a
/// noop.
fn probe(io: &SocketIo, addr: SocketAddr, sid: &str, ws: &mut WebSocket<TcpStream>) {
    let parked = parked_get(io, addr, sid);
    send(ws, "2probe");
    assert_eq!(recv(ws), "3probe");
    assert_eq!(parked.join().unwrap(), (200, "6".to_owned()));
}

/// The socket on this WebSocket still works: an event is acknowledged.
fn still_works(ws: &mut WebSocket<TcpStream>, n: u32) {
    send(ws, &format!("42{n}[\"echo\",{n}]"));
    assert_eq!(recv(ws), format!("43{n}[{n}]"));
}

/// A polling session connected to `/`: its Engine.IO sid.
fn polling_session(addr: SocketAddr) -> String {
    let sid = handshake(addr);
    assert_eq!(post(addr, &sid, "40"), (200, "ok".to_owned()));
    let (status, body) = get(addr, &sid);
    assert_eq!(status, 200);
    assert!(body.starts_with("40{\"sid\":"), "{body}");
    sid
}

/// A client's close packet over long-polling: the parked GET gets a noop (`6`, not the close
/// packet a server-side close sends), the socket leaves with "transport close", and the
/// session is gone.
pub fn client_close_over_polling(rt: &Rt) {
    let (io, reasons) = server(rt);
    let served = rt.serve(&io);
    let addr = served.addr;

    let sid = polling_session(addr);
    let parked = parked_get(&io, addr, &sid);
    assert_eq!(post(addr, &sid, "1"), (200, "ok".to_owned()));
    assert_eq!(parked.join().unwrap(), (200, "6".to_owned()));
    assert_eq!(
        reasons.recv_timeout(crate::STEP),
        Ok(DisconnectReason::TransportClose)
    );
    assert_eq!(get(addr, &sid), (400, UNKNOWN_SID.to_owned()));

    // Without a GET parked the session goes just the same.
    let sid = polling_session(addr);
    assert_eq!(post(addr, &sid, "1"), (200, "ok".to_owned()));
    assert_eq!(get(addr, &sid), (400, UNKNOWN_SID.to_owned()));
    assert_eq!(
        reasons.recv_timeout(crate::STEP),
        Ok(DisconnectReason::TransportClose)
    );
}

/// Another WebSocket for a session that is upgrading, upgraded, or on WebSocket from the
/// start is accepted (101) and closed at once, and the session's own WebSocket keeps working;
/// only a WebSocket for an unknown sid is refused before the handshake.
pub fn extra_websockets_are_closed_after_the_handshake(rt: &Rt) {
    let (io, _reasons) = server(rt);
    let served = rt.serve(&io);
    let addr = served.addr;

    let sid = polling_session(addr);
    let mut first = ws_open(addr, Some(&sid)).expect("the first WebSocket opens");
    // Upgrading, before the probe.
    let extra = ws_open(addr, Some(&sid)).expect("101 while upgrading");
    expect_closed_at_once(extra, "while upgrading");
    probe(&io, addr, &sid, &mut first);
    // Upgrading, probe answered.
    let extra = ws_open(addr, Some(&sid)).expect("101 while probed");
    expect_closed_at_once(extra, "after the probe");
    send(&mut first, "5");
    still_works(&mut first, 1);
    // Upgraded.
    for round in 0..3 {
        let extra = ws_open(addr, Some(&sid)).expect("101 once upgraded");
        expect_closed_at_once(extra, "once upgraded");
        still_works(&mut first, 2 + round);
    }

    // A session on WebSocket from the start.
    let mut only = ws_open(addr, None).expect("a WebSocket session");
    let open = recv(&mut only);
    let open: Value = serde_json::from_str(&open[1..]).unwrap();
    let ws_sid = open["sid"].as_str().unwrap().to_owned();
    send(&mut only, "40");
    assert!(recv(&mut only).starts_with("40{"));
    let extra = ws_open(addr, Some(&ws_sid)).expect("101 for a WebSocket session");
    expect_closed_at_once(extra, "WebSocket session");
    still_works(&mut only, 7);

    // An unknown sid is refused with 400 before any handshake.
    assert_eq!(ws_open(addr, Some("AAAAAAAAAAAAAAAAAAAA")).err(), Some(400));
}

/// The server knows of a WebSocket by the time its client reads the 101: a second WebSocket
/// for the same session, opened right after the first one's 101, is the one closed, every
/// time, whichever of the two connections the server's threads take up first.
pub fn a_websocket_is_known_once_its_101_arrives(rt: &Rt) {
    let (io, _reasons) = server(rt);
    let served = rt.serve(&io);
    let addr = served.addr;

    for round in 0..RACE_ROUNDS {
        let sid = polling_session(addr);
        let before = io.stats().transports;
        let mut first = ws_open(addr, Some(&sid)).expect("the first WebSocket opens");
        assert_eq!(
            io.stats().transports,
            before + 1,
            "round {round}: the 101 came before the server knew of its WebSocket"
        );
        let extra = ws_open(addr, Some(&sid)).expect("101 while upgrading");
        expect_closed_at_once(extra, "right after the first one's 101");
        probe(&io, addr, &sid, &mut first);
        send(&mut first, "5");
        still_works(&mut first, round as u32);
        closed(&io, first);
    }
}

/// A raw client sends the upgrade packet `5` and at once a polling GET on another connection.
/// The session's transport is WebSocket from the `5` on, so that GET is refused with 400 every
/// time, whichever of the two connections the server reads first.
pub fn a_get_right_after_the_upgrade_packet_is_refused(rt: &Rt) {
    let (io, _reasons) = server(rt);
    let served = rt.serve(&io);
    let addr = served.addr;

    let mut answers = Vec::new();
    for round in 0..RACE_ROUNDS {
        let sid = polling_session(addr);
        let mut ws = ws_open(addr, Some(&sid)).expect("the WebSocket opens");
        probe(&io, addr, &sid, &mut ws);
        // Connected beforehand, so that the GET's bytes leave right behind the `5`.
        let mut raw = TcpStream::connect(addr).unwrap();
        raw.set_nodelay(true).unwrap();
        raw.set_read_timeout(Some(crate::STEP)).unwrap();
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n",
            target("polling", &sid)
        );
        send(&mut ws, "5");
        raw.write_all(request.as_bytes()).unwrap();
        let mut response = Vec::new();
        raw.read_to_end(&mut response).unwrap();
        let response = String::from_utf8(response).unwrap();
        let status = response.split(' ').nth(1).unwrap().to_owned();
        let body = response.split("\r\n\r\n").nth(1).unwrap().to_owned();
        answers.push((status, body));
        // The upgrade went through either way.
        still_works(&mut ws, round as u32);
        closed(&io, ws);
    }
    let refused = answers
        .iter()
        .filter(|(s, b)| s == "400" && b == BAD_REQUEST)
        .count();
    assert_eq!(
        refused,
        RACE_ROUNDS,
        "GETs answered otherwise: {:?}",
        answers
            .iter()
            .filter(|(s, _)| s != "400")
            .collect::<Vec<_>>()
    );
}
