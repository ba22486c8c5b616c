//! Property tests of the WebSocket codec (RFC 6455, server side).
//!
//! - Client to server: arbitrary messages (text or binary, 0 to 70k bytes) cut into arbitrary
//!   fragments with pings and pongs between them, every frame with its own random mask, the
//!   whole stream cut at arbitrary points, then maybe a close (and bytes after it): the decoder
//!   gives back exactly those messages and control frames, and answers the last ping or the
//!   close (`sockio_protocol::fuzzing::ws_decode` also checks that it never holds more than
//!   its limits allow).
//! - Server to client: what the encoders write, read back by the small client-side decoder
//!   below (server frames: unmasked, final, shortest length), is what went in, for every
//!   length class.

use bytes::Bytes;
use proptest::prelude::*;
use proptest::sample::Index;
use sockio_protocol::fuzzing::ws_decode;
use sockio_protocol::websocket::{
    encode_close, encode_frame, encode_message, CloseFrame, OpCode, WsEvent, WsLimits,
};
use sockio_protocol::Frame;

// ---- Generating messages ------------------------------------------------------------------------

/// Deterministic bytes or text of exactly `size` bytes from `seed` (xorshift): text mixes ASCII
/// with 2-, 3- and 4-byte characters, the edge ones included, so fragments cut characters.
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
    const EDGES: [char; 8] = [
        '\u{0}',
        '\u{7F}',
        '\u{80}',
        '\u{7FF}',
        '\u{800}',
        '\u{FFFF}',
        '\u{10000}',
        '\u{10FFFF}',
    ];
    let mut s = String::with_capacity(size);
    while s.len() < size {
        let r = next();
        let v = (r >> 8) as u32;
        let c = match r % 8 {
            0..=3 => char::from(b' ' + (v % 95) as u8),
            4 => char::from_u32(0x80 + v % 0x780).expect("2 bytes"),
            5 => char::from_u32(0xE000 + v % 0x2000).expect("3 bytes"),
            6 => char::from_u32(0x1_0000 + v % 0x10_0000).expect("4 bytes"),
            _ => EDGES[(v % 8) as usize],
        };
        if s.len() + c.len_utf8() > size {
            s.push('x');
        } else {
            s.push(c);
        }
    }
    Bytes::from(s)
}

/// A control frame between two fragments: a ping or a pong and its payload.
#[derive(Debug, Clone)]
struct Control {
    ping: bool,
    payload: Vec<u8>,
}

/// One message as the client sends it.
#[derive(Debug, Clone)]
struct Message {
    text: bool,
    size: usize,
    seed: u64,
    /// Where the fragments end (any order, repeats allowed: empty fragments), each with an
    /// optional control frame after it and the mask of the next fragment.
    cuts: Vec<(Index, Option<Control>, [u8; 4])>,
    mask: [u8; 4],
}

fn control() -> impl Strategy<Value = Control> {
    (
        any::<bool>(),
        proptest::collection::vec(any::<u8>(), 0..=125),
    )
        .prop_map(|(ping, payload)| Control { ping, payload })
}

fn message() -> impl Strategy<Value = Message> {
    let size = prop_oneof![
        0..=130usize,
        Just(125),
        Just(126),
        Just(0xFFFF),
        Just(0x1_0000),
        0..70_000usize,
        60_000..70_000usize,
    ];
    let cut = (
        any::<Index>(),
        proptest::option::weighted(0.4, control()),
        any::<[u8; 4]>(),
    );
    (
        any::<bool>(),
        size,
        any::<u64>(),
        proptest::collection::vec(cut, 0..6),
        any::<[u8; 4]>(),
    )
        .prop_map(|(text, size, seed, cuts, mask)| Message {
            text,
            size,
            seed,
            cuts,
            mask,
        })
}

/// A close at the end: a code that may be sent (or none) and a reason.
fn close() -> impl Strategy<Value = Option<(Option<u16>, String)>> {
    let code = prop_oneof![
        Just(None),
        prop::sample::select(vec![
            1000u16, 1001, 1002, 1003, 1007, 1008, 1011, 1012, 1014
        ])
        .prop_map(Some),
        (3000u16..5000).prop_map(Some),
    ];
    proptest::option::of((code, "[a-zé✓😀 ]{0,20}"))
}

/// A client frame: FIN, opcode, masked with `mask`, shortest length.
fn client_frame(out: &mut Vec<u8>, fin: bool, opcode: u8, payload: &[u8], mask: [u8; 4]) {
    out.push(if fin { 0x80 | opcode } else { opcode });
    match payload.len() {
        n @ 0..=125 => out.push(0x80 | n as u8),
        n @ 126..=0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
}

/// Appends `m`'s frames to `out` and the events they must give to `events`.
fn send(m: &Message, out: &mut Vec<u8>, events: &mut Vec<WsEvent>) {
    let data = content(m.text, m.size, m.seed);
    let mut cuts: Vec<(usize, &Option<Control>, [u8; 4])> = m
        .cuts
        .iter()
        .map(|(at, c, mask)| (at.index(data.len() + 1), c, *mask))
        .collect();
    cuts.sort_by_key(|c| c.0);
    let mut from = 0;
    let mut mask = m.mask;
    let mut opcode = if m.text { 1 } else { 2 };
    for (at, c, next_mask) in cuts {
        client_frame(out, false, opcode, &data[from..at], mask);
        if let Some(c) = c {
            let op = if c.ping { 9 } else { 10 };
            client_frame(out, true, op, &c.payload, next_mask);
            let payload = Bytes::from(c.payload.clone());
            events.push(if c.ping {
                WsEvent::Ping(payload)
            } else {
                WsEvent::Pong(payload)
            });
        }
        (from, mask, opcode) = (at, next_mask, 0);
    }
    client_frame(out, true, opcode, &data[from..], mask);
    events.push(WsEvent::Message(if m.text {
        Frame::Text(data)
    } else {
        Frame::Binary(data)
    }));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    /// Client messages, fragmented with control frames between, masked at random and read in
    /// arbitrary chunks, decode to exactly what was sent.
    #[test]
    fn client_messages_decode_to_what_was_sent(
        messages in proptest::collection::vec(message(), 1..5),
        close in close(),
        splits in proptest::collection::vec(any::<Index>(), 0..8),
        tail_mask in any::<[u8; 4]>(),
    ) {
        let mut stream = Vec::new();
        let mut expected = Vec::new();
        for m in &messages {
            send(m, &mut stream, &mut expected);
        }
        let last_ping = expected.iter().rev().find_map(|e| match e {
            WsEvent::Ping(p) => Some(p.clone()),
            _ => None,
        });
        let mut control = Vec::new();
        if let Some((code, reason)) = &close {
            let mut payload = Vec::new();
            if let Some(code) = code {
                payload.extend_from_slice(&code.to_be_bytes());
                payload.extend_from_slice(reason.as_bytes());
            }
            client_frame(&mut stream, true, 8, &payload, tail_mask);
            // Nothing after the close is read.
            client_frame(&mut stream, true, 1, b"after the close", tail_mask);
            stream.extend_from_slice(b"\xFF\xFF not even a frame");
            expected.push(WsEvent::Close(code.map(|code| CloseFrame {
                code,
                reason: Bytes::from(reason.clone()),
            })));
            encode_close(&mut control, *code, "");
        } else if let Some(p) = last_ping {
            encode_frame(&mut control, OpCode::Pong, &p);
        }

        let mut at: Vec<usize> = splits.iter().map(|i| i.index(stream.len() + 1)).collect();
        at.sort_unstable();
        let mut chunks = Vec::new();
        let mut from = 0;
        for to in at.into_iter().chain([stream.len()]) {
            chunks.push(&stream[from..to]);
            from = to;
        }
        let out = ws_decode(WsLimits::default(), chunks);
        prop_assert_eq!(out.end, Ok(()));
        prop_assert_eq!(out.events.len(), expected.len());
        for (got, want) in out.events.iter().zip(&expected) {
            // Frame's Debug prints lengths only: compare the bytes.
            match (got, want) {
                (WsEvent::Message(Frame::Text(a)), WsEvent::Message(Frame::Text(b)))
                | (WsEvent::Message(Frame::Binary(a)), WsEvent::Message(Frame::Binary(b))) => {
                    prop_assert!(a == b, "message of {} bytes differs", b.len());
                }
                _ => prop_assert_eq!(got, want),
            }
        }
        prop_assert_eq!(out.control, control);
    }
}

// ---- Reading what the server writes -------------------------------------------------------------

/// A frame as a client reads it off the wire.
#[derive(Debug, PartialEq)]
enum ServerFrame {
    Message(Frame),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<(u16, String)>),
}

/// A small client-side reader of server frames, strict about what RFC 6455 asks of a server:
/// FIN set (the encoders write whole messages), no RSV bits, no mask (5.1), the shortest length
/// encoding and a clear top bit in the 64-bit form (5.2), control frames within 125 bytes
/// (5.5), a close body of nothing or a code and a UTF-8 reason (5.5.1).
fn read_server_frames(mut b: &[u8]) -> Vec<ServerFrame> {
    let mut out = Vec::new();
    while !b.is_empty() {
        assert!(b.len() >= 2, "a cut header");
        let (b0, b1) = (b[0], b[1]);
        assert_eq!(b0 & 0xF0, 0x80, "FIN set, no RSV bits");
        assert_eq!(b1 & 0x80, 0, "server frames are not masked");
        let (len, at) = match b1 & 0x7F {
            126 => {
                let n = u16::from_be_bytes([b[2], b[3]]) as u64;
                assert!(n > 125, "16-bit length {n} not the shortest");
                (n, 4)
            }
            127 => {
                let n = u64::from_be_bytes(b[2..10].try_into().unwrap());
                assert!(n > 0xFFFF, "64-bit length {n} not the shortest");
                assert_eq!(n >> 63, 0, "64-bit length with its top bit set");
                (n, 10)
            }
            n => (u64::from(n), 2),
        };
        let end = at + len as usize;
        let payload = &b[at..end];
        let opcode = b0 & 0x0F;
        if opcode >= 8 {
            assert!(len <= 125, "control frame of {len} bytes");
        }
        out.push(match opcode {
            1 => ServerFrame::Message(Frame::Text(Bytes::copy_from_slice(
                std::str::from_utf8(payload)
                    .expect("text is UTF-8")
                    .as_bytes(),
            ))),
            2 => ServerFrame::Message(Frame::Binary(Bytes::copy_from_slice(payload))),
            8 => ServerFrame::Close(match payload {
                [] => None,
                [hi, lo, reason @ ..] => Some((
                    u16::from_be_bytes([*hi, *lo]),
                    String::from_utf8(reason.to_vec()).expect("UTF-8 reason"),
                )),
                [_] => panic!("one-byte close body"),
            }),
            9 => ServerFrame::Ping(payload.to_vec()),
            10 => ServerFrame::Pong(payload.to_vec()),
            op => panic!("opcode {op:#x}"),
        });
        b = &b[end..];
    }
    out
}

/// What the server writes, as the encoders are asked.
#[derive(Debug, Clone)]
enum Write {
    Message(bool, usize, u64),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<u16>, String),
}

fn write() -> impl Strategy<Value = Write> {
    let size = prop_oneof![
        0..=130usize,
        Just(125),
        Just(126),
        Just(0xFFFF),
        Just(0x1_0000),
        0..70_000usize,
    ];
    prop_oneof![
        4 => (any::<bool>(), size, any::<u64>()).prop_map(|(t, n, s)| Write::Message(t, n, s)),
        1 => proptest::collection::vec(any::<u8>(), 0..=125).prop_map(Write::Ping),
        1 => proptest::collection::vec(any::<u8>(), 0..=125).prop_map(Write::Pong),
        1 => (proptest::option::of(1000u16..5000), "[a-zé✓😀 ]{0,70}")
            .prop_map(|(c, r)| Write::Close(c, r)),
    ]
}

/// Encodes `w` into `out`; returns what a client must read.
fn encode(w: &Write, out: &mut Vec<u8>) -> ServerFrame {
    match w {
        Write::Message(text, size, seed) => {
            let data = content(*text, *size, *seed);
            let m = if *text {
                Frame::Text(data)
            } else {
                Frame::Binary(data)
            };
            encode_message(out, &m);
            ServerFrame::Message(m)
        }
        Write::Ping(p) => {
            encode_frame(out, OpCode::Ping, p);
            ServerFrame::Ping(p.clone())
        }
        Write::Pong(p) => {
            encode_frame(out, OpCode::Pong, p);
            ServerFrame::Pong(p.clone())
        }
        Write::Close(code, reason) => {
            encode_close(out, *code, reason);
            // The reason is cut to fit the control frame, at a character boundary.
            let mut end = reason.len().min(123);
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            ServerFrame::Close(code.map(|c| (c, reason[..end].to_string())))
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    /// What the encoders write, back to back, reads back as what went in.
    #[test]
    fn server_frames_read_back(writes in proptest::collection::vec(write(), 1..6)) {
        let mut out = Vec::new();
        let expected: Vec<ServerFrame> = writes.iter().map(|w| encode(w, &mut out)).collect();
        let got = read_server_frames(&out);
        prop_assert_eq!(got.len(), expected.len());
        for (g, e) in got.iter().zip(&expected) {
            match (g, e) {
                (ServerFrame::Message(a), ServerFrame::Message(b)) => {
                    prop_assert!(a == b, "message of {} bytes differs", b.len());
                }
                _ => prop_assert_eq!(g, e),
            }
        }
    }
}

/// Every length class and its boundaries, text and binary, read back.
#[test]
fn every_length_class_reads_back() {
    for size in [0, 1, 125, 126, 127, 0xFFFF, 0x1_0000, 70_000] {
        for text in [false, true] {
            let mut out = Vec::new();
            let expected = encode(&Write::Message(text, size, 7), &mut out);
            let header = match size {
                0..=125 => 2,
                126..=0xFFFF => 4,
                _ => 10,
            };
            assert_eq!(out.len(), header + size, "{size} bytes");
            assert_eq!(read_server_frames(&out), [expected]);
        }
    }
    for n in [0, 1, 125] {
        let mut out = Vec::new();
        let expected = encode(&Write::Ping(vec![1; n]), &mut out);
        assert_eq!(read_server_frames(&out), [expected]);
    }
}
