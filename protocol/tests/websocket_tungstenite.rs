//! Differential tests of the WebSocket codec against tungstenite 0.30 as the client, over an
//! in-memory stream, both ways:
//!
//! - tungstenite writes (whole messages with `send`, fragmented ones frame by frame with
//!   `Message::Frame`, pings, pongs, a close), our decoder must read exactly that, in chunks
//!   cut anywhere; what our decoder then answers (the pong, the close) tungstenite must read.
//! - our encoders write (messages of every length class, pings, pongs, a close), tungstenite
//!   must read exactly that; what tungstenite then answers (pongs, its close reply) our
//!   decoder must read.
//!
//! - the same damaged bytes (a valid tungstenite stream with a few bytes changed) read by our
//!   decoder and by tungstenite as the server: the same events and the same verdict, but for
//!   the differences listed there (we fail faster, and refuse close codes tungstenite reports);
//!   and every close code, ours against tungstenite's (they differ on 1014 only).
//!
//! The server's encoders only write whole messages (FIN set), so fragments go one way only.

use std::io::{self, Read, Write};

use bytes::Bytes;
use proptest::prelude::*;
use proptest::sample::Index;
use sockio_protocol::fuzzing::ws_decode;
use sockio_protocol::websocket::{
    encode_close, encode_frame, encode_message, CloseFrame, OpCode, WsDecoder, WsError, WsEvent,
    WsLimits,
};
use sockio_protocol::Frame;
use tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode as TOpCode};
use tungstenite::protocol::frame::Frame as TFrame;
use tungstenite::protocol::{CloseFrame as TCloseFrame, Role, WebSocket};
use tungstenite::{Error, Message};

/// An in-memory stream: reads what the test put in `incoming` (then "would block"), keeps
/// what is written in `written`.
#[derive(Default)]
struct Pipe {
    incoming: io::Cursor<Vec<u8>>,
    written: Vec<u8>,
}

impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.incoming.read(buf)? {
            0 if !buf.is_empty() => Err(io::ErrorKind::WouldBlock.into()),
            n => Ok(n),
        }
    }
}

impl Write for Pipe {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.written.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn client() -> WebSocket<Pipe> {
    WebSocket::from_raw_socket(Pipe::default(), Role::Client, None)
}

/// Hands `bytes` to the tungstenite client and reads every message it makes of them (its
/// automatic answers go to its `written`).
fn client_reads(ws: &mut WebSocket<Pipe>, bytes: Vec<u8>) -> Vec<Message> {
    ws.get_mut().incoming = io::Cursor::new(bytes);
    let mut got = Vec::new();
    loop {
        match ws.read() {
            Ok(m) => got.push(m),
            Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(Error::ConnectionClosed) => break,
            Err(e) => panic!("tungstenite failed to read: {e}"),
        }
    }
    got
}

/// What the client wrote so far, taken.
fn take_written(ws: &mut WebSocket<Pipe>) -> Vec<u8> {
    std::mem::take(&mut ws.get_mut().written)
}

/// Cuts `stream` at the given points.
fn chunks<'a>(stream: &'a [u8], cuts: &[Index]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
    at.sort_unstable();
    let mut out = Vec::new();
    let mut from = 0;
    for to in at.into_iter().chain([stream.len()]) {
        out.push(&stream[from..to]);
        from = to;
    }
    out
}

/// Compares events, messages by their bytes (`Frame`'s `Debug` prints lengths only).
fn same_events(got: &[WsEvent], want: &[WsEvent]) -> Result<(), TestCaseError> {
    prop_assert_eq!(got.len(), want.len(), "event count");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        match (g, w) {
            (WsEvent::Message(Frame::Text(a)), WsEvent::Message(Frame::Text(b)))
            | (WsEvent::Message(Frame::Binary(a)), WsEvent::Message(Frame::Binary(b))) => {
                prop_assert!(a == b, "message {} ({} bytes) differs", i, b.len());
            }
            _ => prop_assert_eq!(g, w, "event {}", i),
        }
    }
    Ok(())
}

/// Message content: text with characters of every UTF-8 length, or bytes.
fn content(text: bool, size: usize, seed: u64) -> Bytes {
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    if !text {
        return (0..size).map(|_| next() as u8).collect();
    }
    let mut s = String::with_capacity(size);
    while s.len() < size {
        let r = next();
        let v = (r >> 8) as u32;
        let c = match r % 6 {
            0..=2 => char::from(b' ' + (v % 95) as u8),
            3 => char::from_u32(0x80 + v % 0x780).expect("2 bytes"),
            4 => char::from_u32(0xE000 + v % 0x2000).expect("3 bytes"),
            _ => char::from_u32(0x1_0000 + v % 0x10_0000).expect("4 bytes"),
        };
        s.push(if s.len() + c.len_utf8() > size {
            'x'
        } else {
            c
        });
    }
    Bytes::from(s)
}

fn size() -> impl Strategy<Value = usize> {
    prop_oneof![
        4 => 0..=130usize,
        1 => Just(125),
        1 => Just(126),
        1 => Just(0xFFFF),
        1 => Just(0x1_0000),
        2 => 0..70_000usize,
    ]
}

fn control_payload() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..=125)
}

/// Close codes tungstenite will write and our decoder takes: the RFC's, 1012 and 1013 (which
/// tungstenite knows), the registered and private ranges.
fn close_code() -> impl Strategy<Value = u16> {
    prop_oneof![
        prop::sample::select(vec![
            1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012
        ]),
        3000u16..5000,
    ]
}

// ---- tungstenite writes, we read ----------------------------------------------------------------

/// Where a message is cut, and the ping (`true`) or pong sent after that fragment, if any.
type Cut = (Index, Option<(bool, Vec<u8>)>);

/// What the tungstenite client sends.
#[derive(Debug, Clone)]
enum ClientOp {
    /// A whole message with `send`.
    Whole {
        text: bool,
        size: usize,
        seed: u64,
    },
    /// A message cut at those points, frame by frame, with a ping or pong after some cuts.
    Fragmented {
        text: bool,
        size: usize,
        seed: u64,
        cuts: Vec<Cut>,
    },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

fn client_op() -> impl Strategy<Value = ClientOp> {
    let cut = (
        any::<Index>(),
        proptest::option::weighted(0.3, (any::<bool>(), control_payload())),
    );
    prop_oneof![
        3 => (any::<bool>(), size(), any::<u64>())
            .prop_map(|(text, size, seed)| ClientOp::Whole { text, size, seed }),
        3 => (any::<bool>(), size(), any::<u64>(), proptest::collection::vec(cut, 0..6))
            .prop_map(|(text, size, seed, cuts)| ClientOp::Fragmented { text, size, seed, cuts }),
        1 => control_payload().prop_map(ClientOp::Ping),
        1 => control_payload().prop_map(ClientOp::Pong),
    ]
}

fn message_event(text: bool, data: Bytes) -> WsEvent {
    WsEvent::Message(if text {
        Frame::Text(data)
    } else {
        Frame::Binary(data)
    })
}

/// Has tungstenite write `op`; returns the events our decoder must make of it.
fn client_sends(ws: &mut WebSocket<Pipe>, op: &ClientOp, events: &mut Vec<WsEvent>) {
    match op {
        ClientOp::Whole { text, size, seed } => {
            let data = content(*text, *size, *seed);
            let m = if *text {
                Message::Text(std::str::from_utf8(&data).unwrap().into())
            } else {
                Message::Binary(data.clone())
            };
            ws.send(m).unwrap();
            events.push(message_event(*text, data));
        }
        ClientOp::Fragmented {
            text,
            size,
            seed,
            cuts,
        } => {
            let data = content(*text, *size, *seed);
            let mut cuts: Vec<_> = cuts
                .iter()
                .map(|(at, c)| (at.index(data.len() + 1), c))
                .collect();
            cuts.sort_by_key(|c| c.0);
            let mut op = TOpCode::Data(if *text { Data::Text } else { Data::Binary });
            let mut from = 0;
            for (at, control) in cuts {
                // The piece may end inside a character: fragments are bytes.
                let piece = data.slice(from..at);
                ws.write(Message::Frame(TFrame::message(piece, op, false)))
                    .unwrap();
                if let Some((ping, payload)) = control {
                    let p = Bytes::from(payload.clone());
                    if *ping {
                        ws.write(Message::Ping(p.clone())).unwrap();
                        events.push(WsEvent::Ping(p));
                    } else {
                        ws.write(Message::Pong(p.clone())).unwrap();
                        events.push(WsEvent::Pong(p));
                    }
                }
                (from, op) = (at, TOpCode::Data(Data::Continue));
            }
            ws.write(Message::Frame(TFrame::message(
                data.slice(from..),
                op,
                true,
            )))
            .unwrap();
            ws.flush().unwrap();
            events.push(message_event(*text, data));
        }
        ClientOp::Ping(p) => {
            ws.send(Message::Ping(Bytes::from(p.clone()))).unwrap();
            events.push(WsEvent::Ping(Bytes::from(p.clone())));
        }
        ClientOp::Pong(p) => {
            ws.send(Message::Pong(Bytes::from(p.clone()))).unwrap();
            events.push(WsEvent::Pong(Bytes::from(p.clone())));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    /// tungstenite's frames, whole and fragmented with control frames between, read in chunks
    /// cut anywhere, decode to what it sent; our answer (the pong of the last ping, or the
    /// close echo) is what tungstenite reads back.
    #[test]
    fn what_tungstenite_sends_we_read(
        ops in proptest::collection::vec(client_op(), 1..6),
        close in proptest::option::of(proptest::option::of((close_code(), "[a-zé✓😀 ]{0,20}"))),
        cuts in proptest::collection::vec(any::<Index>(), 0..8),
    ) {
        let mut ws = client();
        let mut expected = Vec::new();
        for op in &ops {
            client_sends(&mut ws, op, &mut expected);
        }
        if let Some(close) = &close {
            let frame = close.as_ref().map(|(code, reason)| TCloseFrame {
                code: CloseCode::from(*code),
                reason: reason.as_str().into(),
            });
            ws.close(frame).unwrap();
            expected.push(WsEvent::Close(close.as_ref().map(|(code, reason)| CloseFrame {
                code: *code,
                reason: Bytes::from(reason.clone()),
            })));
        }
        let stream = take_written(&mut ws);
        let out = ws_decode(WsLimits::default(), chunks(&stream, &cuts));
        prop_assert_eq!(out.end, Ok(()));
        same_events(&out.events, &expected)?;

        // Our answer, read by tungstenite.
        let read = client_reads(&mut ws, out.control);
        match &close {
            Some(close) => {
                let echo = close.as_ref().map(|(code, _)| TCloseFrame {
                    code: CloseCode::from(*code),
                    reason: "".into(),
                });
                prop_assert_eq!(read, vec![Message::Close(echo)]);
            }
            None => {
                let last_ping = expected.iter().rev().find_map(|e| match e {
                    WsEvent::Ping(p) => Some(p.clone()),
                    _ => None,
                });
                prop_assert_eq!(read, last_ping.map(Message::Pong).into_iter().collect::<Vec<_>>());
            }
        }
    }
}

// ---- We write, tungstenite reads ----------------------------------------------------------------

/// What the server writes.
#[derive(Debug, Clone)]
enum ServerOp {
    Message { text: bool, size: usize, seed: u64 },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

fn server_op() -> impl Strategy<Value = ServerOp> {
    prop_oneof![
        4 => (any::<bool>(), size(), any::<u64>())
            .prop_map(|(text, size, seed)| ServerOp::Message { text, size, seed }),
        1 => control_payload().prop_map(ServerOp::Ping),
        1 => control_payload().prop_map(ServerOp::Pong),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    /// What our encoders write, tungstenite reads exactly, closes included; its answers
    /// (pongs, its close reply) our decoder reads.
    #[test]
    fn what_we_send_tungstenite_reads(
        ops in proptest::collection::vec(server_op(), 1..6),
        close in proptest::option::of(proptest::option::of((close_code(), "[a-zé✓😀 ]{0,70}"))),
    ) {
        let mut out = Vec::new();
        let mut expected = Vec::new();
        let mut pings = Vec::new();
        for op in &ops {
            match op {
                ServerOp::Message { text, size, seed } => {
                    let data = content(*text, *size, *seed);
                    if *text {
                        encode_message(&mut out, &Frame::Text(data.clone()));
                        expected.push(Message::Text(std::str::from_utf8(&data).unwrap().into()));
                    } else {
                        encode_message(&mut out, &Frame::Binary(data.clone()));
                        expected.push(Message::Binary(data));
                    }
                }
                ServerOp::Ping(p) => {
                    encode_frame(&mut out, OpCode::Ping, p);
                    expected.push(Message::Ping(Bytes::from(p.clone())));
                    pings.push(Bytes::from(p.clone()));
                }
                ServerOp::Pong(p) => {
                    encode_frame(&mut out, OpCode::Pong, p);
                    expected.push(Message::Pong(Bytes::from(p.clone())));
                }
            }
        }
        // The reason is cut to fit a control frame, at a character boundary.
        let close = close.map(|c| c.map(|(code, mut reason)| {
            let mut end = reason.len().min(123);
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            reason.truncate(end);
            (code, reason)
        }));
        if let Some(close) = &close {
            match close {
                Some((code, reason)) => encode_close(&mut out, Some(*code), reason),
                None => encode_close(&mut out, None, ""),
            }
            expected.push(Message::Close(close.as_ref().map(|(code, reason)| TCloseFrame {
                code: CloseCode::from(*code),
                reason: reason.as_str().into(),
            })));
        }
        let mut ws = client();
        let read = client_reads(&mut ws, out);
        prop_assert_eq!(read.len(), expected.len());
        for (i, (r, e)) in read.iter().zip(&expected).enumerate() {
            prop_assert!(r == e, "message {} differs: {} vs {} bytes", i, r.len(), e.len());
        }

        // tungstenite's answers: a pong per ping (or only the last one's, if they queued up),
        // then its close reply echoing our code.
        ws.flush().unwrap();
        let answers = take_written(&mut ws);
        let back = ws_decode(WsLimits::default(), [&answers[..]]);
        prop_assert_eq!(back.end, Ok(()));
        let mut events = back.events.into_iter().peekable();
        let mut next_ping = 0;
        while let Some(WsEvent::Pong(p)) = events.peek() {
            let at = pings[next_ping..].iter().position(|q| q == p);
            prop_assert!(at.is_some(), "a pong for no ping");
            next_ping += at.unwrap() + 1;
            events.next();
        }
        if close.is_none() {
            prop_assert!(pings.is_empty() || next_ping == pings.len(), "the last ping answered");
        }
        let rest: Vec<WsEvent> = events.collect();
        let want: Vec<WsEvent> = match &close {
            None => vec![],
            Some(c) => vec![WsEvent::Close(c.as_ref().map(|(code, reason)| CloseFrame {
                code: *code,
                reason: Bytes::from(reason.clone()),
            }))],
        };
        prop_assert_eq!(rest, want);
    }
}

/// Every length class and its edges, text and binary, one message per frame, read by
/// tungstenite.
#[test]
fn every_length_class_tungstenite_reads() {
    for size in [0, 1, 125, 126, 127, 0xFFFF, 0x1_0000, 70_000] {
        for text in [false, true] {
            let data = content(text, size, size as u64 + 1);
            let mut out = Vec::new();
            let (frame, want) = if text {
                let s = std::str::from_utf8(&data).unwrap();
                (Frame::Text(data.clone()), Message::Text(s.into()))
            } else {
                (Frame::Binary(data.clone()), Message::Binary(data.clone()))
            };
            encode_message(&mut out, &frame);
            let read = client_reads(&mut client(), out);
            assert!(read == [want], "{size} bytes, text {text}");
        }
    }
}

/// Close codes: for each of the 65,536, whether our decoder fails the connection on a client's
/// close (answering 1002), against what tungstenite answers to the same close as a server
/// (1002 "Protocol violation" for a code it refuses). They agree except on 1014 ("Bad
/// Gateway", registered with IANA after RFC 6455), which tungstenite 0.30 does not know.
#[test]
fn close_codes_agree_with_tungstenite() {
    let mut differ = Vec::new();
    for code in 0..=u16::MAX {
        let mut client = client();
        client
            .close(Some(TCloseFrame {
                code: CloseCode::from(code),
                reason: "".into(),
            }))
            .unwrap();
        let frame = take_written(&mut client);

        let ours = WsDecoder::new(WsLimits::default())
            .receive(&frame, |_| {})
            .is_err();

        let mut server = WebSocket::from_raw_socket(Pipe::default(), Role::Server, None);
        server.get_mut().incoming = io::Cursor::new(frame);
        let read = server.read().expect("tungstenite reads the close");
        assert!(matches!(read, Message::Close(Some(_))), "{code}: {read:?}");
        let _ = server.flush();
        let reply = take_written(&mut server);
        let theirs = code != 1002 && reply.get(2..4) == Some(&1002u16.to_be_bytes()[..]);
        if ours != theirs {
            differ.push(code);
        }
    }
    assert_eq!(differ, [1014]);
}

// ---- Both read the same damaged bytes -----------------------------------------------------------

/// How a reader ended a stream.
#[derive(Debug, PartialEq)]
enum End {
    /// Every complete frame taken, waiting for more.
    Waiting,
    /// The peer's close arrived; nothing more read.
    Closed,
    /// Failed, with this close code.
    Failed(u16),
}

/// What tungstenite, as the server, reads from `stream` (with our default limits).
fn tungstenite_server_reads(stream: Vec<u8>) -> (Vec<WsEvent>, End) {
    use tungstenite::protocol::WebSocketConfig;
    let limits = WsLimits::default();
    let config = WebSocketConfig::default()
        .max_frame_size(Some(limits.max_frame))
        .max_message_size(Some(limits.max_message));
    let mut ws = WebSocket::from_raw_socket(Pipe::default(), Role::Server, Some(config));
    ws.get_mut().incoming = io::Cursor::new(stream);
    let mut events = Vec::new();
    let end = loop {
        match ws.read() {
            Ok(Message::Text(t)) => events.push(message_event(true, Bytes::from(t))),
            Ok(Message::Binary(b)) => events.push(message_event(false, b)),
            Ok(Message::Ping(p)) => events.push(WsEvent::Ping(p)),
            Ok(Message::Pong(p)) => events.push(WsEvent::Pong(p)),
            Ok(Message::Close(c)) => {
                events.push(WsEvent::Close(c.map(|c| CloseFrame {
                    code: c.code.into(),
                    reason: Bytes::from(c.reason),
                })));
                break End::Closed;
            }
            Ok(Message::Frame(_)) => unreachable!("not read"),
            Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => break End::Waiting,
            Err(Error::Protocol(_)) => break End::Failed(1002),
            Err(Error::Utf8(_)) => break End::Failed(1007),
            Err(Error::Capacity(_)) => break End::Failed(1009),
            Err(e) => panic!("tungstenite: {e}"),
        }
    };
    (events, end)
}

fn small_client_op() -> impl Strategy<Value = ClientOp> {
    client_op().prop_map(|op| match op {
        ClientOp::Whole { text, size, seed } => ClientOp::Whole {
            text,
            size: size % 300,
            seed,
        },
        ClientOp::Fragmented {
            text,
            size,
            seed,
            cuts,
        } => ClientOp::Fragmented {
            text,
            size: size % 300,
            seed,
            cuts,
        },
        op => op,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// A valid stream from tungstenite with a few bytes damaged, read by our decoder and by
    /// tungstenite as the server: the same events, and the same verdict, except where we are
    /// stricter or faster by design: we fail a frame from its header while tungstenite waits for
    /// its payload, and we fail on a close code that may not be sent where tungstenite reports
    /// the close (and answers it with 1002).
    #[test]
    fn damaged_streams_read_as_tungstenite_reads_them(
        ops in proptest::collection::vec(small_client_op(), 1..5),
        damage in proptest::collection::vec((any::<Index>(), 1..=255u8), 1..4),
    ) {
        let mut ws = client();
        let mut sent = Vec::new();
        for op in &ops {
            client_sends(&mut ws, op, &mut sent);
        }
        let mut stream = take_written(&mut ws);
        for (at, x) in &damage {
            let i = at.index(stream.len());
            stream[i] ^= x;
        }
        let ours = ws_decode(WsLimits::default(), [&stream[..]]);
        let ours_end = match ours.end {
            Err(e) => End::Failed(e.close_code()),
            Ok(()) if matches!(ours.events.last(), Some(WsEvent::Close(_))) => End::Closed,
            Ok(()) => End::Waiting,
        };
        let (theirs, theirs_end) = tungstenite_server_reads(stream);

        // A close whose code we refuse: tungstenite reports it (as 1002, which it answers),
        // or fails on its reason first if that is not UTF-8 either.
        let bad_code = ours.end == Err(WsError::Protocol("a close code that may not be sent"));
        if bad_code && theirs_end == End::Closed {
            prop_assert_eq!(theirs.len(), ours.events.len() + 1);
            same_events(&ours.events, &theirs[..ours.events.len()])?;
        } else if bad_code && theirs_end == End::Failed(1007) {
            same_events(&ours.events, &theirs)?;
        } else {
            same_events(&ours.events, &theirs)?;
            let faster = matches!(ours_end, End::Failed(_)) && theirs_end == End::Waiting;
            // A header both malformed and over the frame limit: tungstenite checks the size
            // first.
            let size_first = ours_end == End::Failed(1002) && theirs_end == End::Failed(1009);
            prop_assert!(
                ours_end == theirs_end || faster || size_first,
                "we end {:?}, tungstenite {:?}", ours_end, theirs_end
            );
        }
    }
}
