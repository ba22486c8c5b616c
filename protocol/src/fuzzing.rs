//! Whole-server operation sequences for fuzzing (and the tests that replay them).
//!
//! [`run`] feeds an arbitrary sequence of [`Op`]s (requests, WebSocket traffic, time, commands)
//! to a [`Server`] with monotonic time, draining outputs after each step with a bounded loop. It
//! panics only when an invariant breaks: a drain that never ends, an HTTP request answered twice,
//! or a transmit for a transport that was never opened.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::http::{Frame, HttpRequest, Method};
use crate::{
    Config, Entropy, Event, Input, Output, Payload, Server, SocketId, Transmit, TransportHandle,
};

/// A deterministic [`Entropy`] for tests and fuzzing (xorshift; not for production).
#[derive(Debug, Clone)]
pub struct TestEntropy(pub u64);

impl Entropy for TestEntropy {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            *b = self.0 as u8;
        }
    }
}

/// One step of a fuzzed run.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Op {
    /// A polling handshake.
    Handshake,
    /// A GET on session `n` (modulo the sessions seen so far).
    Get(u8),
    /// A POST of arbitrary bytes on session `n`.
    Post(u8, Vec<u8>),
    /// A POST of a well-formed Socket.IO text packet body on session `n`.
    PostText(u8, String),
    /// An HTTP request with an arbitrary query string.
    RawHttp(bool, String),
    /// A WebSocket opening: a new session, or an upgrade of session `n`.
    WsOpen(Option<u8>),
    /// A text message on WebSocket `n`.
    WsText(u8, String),
    /// A binary message on WebSocket `n`.
    WsBinary(u8, Vec<u8>),
    /// Transport `n` closed.
    Close(u8),
    /// Time passes.
    Advance(u16),
    /// Emit to socket `n`.
    Emit(u8, bool),
    /// Broadcast, optionally to a room.
    Broadcast(Option<u8>),
    /// Socket `n` joins room `r`.
    Join(u8, u8),
    /// Socket `n` is disconnected by the server.
    Disconnect(u8),
    /// The server shuts down.
    Shutdown,
}

/// Runs `ops` against a fresh server with small timeouts.
pub fn run(ops: &[Op]) {
    let start = Instant::now();
    let config = Config::default()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .max_payload(4096)
        .max_queue_packets(64);
    let mut f = Fuzz {
        server: Server::new(config, Box::new(TestEntropy(0x9E37_79B9_7F4A_7C15)), start),
        now: start,
        next: 0,
        sids: Vec::new(),
        websockets: Vec::new(),
        open_http: HashSet::new(),
        opened: HashSet::new(),
        sockets: Vec::new(),
    };
    for op in ops {
        f.step(op);
    }
}

struct Fuzz {
    server: Server,
    now: Instant,
    next: u64,
    sids: Vec<String>,
    websockets: Vec<TransportHandle>,
    open_http: HashSet<TransportHandle>,
    opened: HashSet<TransportHandle>,
    sockets: Vec<SocketId>,
}

fn pick<T: Clone>(v: &[T], n: u8) -> Option<T> {
    if v.is_empty() {
        None
    } else {
        Some(v[n as usize % v.len()].clone())
    }
}

impl Fuzz {
    fn handle(&mut self) -> TransportHandle {
        self.next += 1;
        let t = TransportHandle(self.next);
        self.opened.insert(t);
        t
    }

    fn http(&mut self, method: Method, query: String, body: Bytes) {
        let t = self.handle();
        self.open_http.insert(t);
        let request = HttpRequest {
            method,
            query,
            body,
            ..Default::default()
        };
        self.server.handle_input(Input::HttpRequest {
            now: self.now,
            transport: t,
            request,
        });
        self.drain();
    }

    fn step(&mut self, op: &Op) {
        match op {
            Op::Handshake => self.http(Method::Get, "EIO=4&transport=polling".into(), Bytes::new()),
            Op::Get(n) => {
                if let Some(sid) = pick(&self.sids, *n) {
                    self.http(
                        Method::Get,
                        format!("EIO=4&transport=polling&sid={sid}"),
                        Bytes::new(),
                    );
                }
            }
            Op::Post(n, body) => {
                if let Some(sid) = pick(&self.sids, *n) {
                    let q = format!("EIO=4&transport=polling&sid={sid}");
                    self.http(Method::Post, q, Bytes::from(body.clone()));
                }
            }
            Op::PostText(n, text) => {
                if let Some(sid) = pick(&self.sids, *n) {
                    let q = format!("EIO=4&transport=polling&sid={sid}");
                    self.http(Method::Post, q, Bytes::from(format!("4{text}")));
                }
            }
            Op::RawHttp(post, query) => {
                let m = if *post { Method::Post } else { Method::Get };
                self.http(m, query.clone(), Bytes::new());
            }
            Op::WsOpen(n) => {
                let query = match n.and_then(|n| pick(&self.sids, n)) {
                    Some(sid) => format!("EIO=4&transport=websocket&sid={sid}"),
                    None => "EIO=4&transport=websocket".into(),
                };
                let t = self.handle();
                self.websockets.push(t);
                let request = HttpRequest {
                    query,
                    ..Default::default()
                };
                self.server.handle_input(Input::WebSocketOpen {
                    now: self.now,
                    transport: t,
                    request,
                });
                self.drain();
            }
            Op::WsText(n, s) => {
                if let Some(t) = pick(&self.websockets, *n) {
                    let frame = Frame::Text(Bytes::from(s.clone()));
                    self.server.handle_input(Input::WebSocketMessage {
                        now: self.now,
                        transport: t,
                        frame,
                    });
                    self.drain();
                }
            }
            Op::WsBinary(n, b) => {
                if let Some(t) = pick(&self.websockets, *n) {
                    let frame = Frame::Binary(Bytes::from(b.clone()));
                    self.server.handle_input(Input::WebSocketMessage {
                        now: self.now,
                        transport: t,
                        frame,
                    });
                    self.drain();
                }
            }
            Op::Close(n) => {
                if self.next > 0 {
                    let t = TransportHandle(1 + *n as u64 % self.next);
                    self.open_http.remove(&t);
                    self.server.handle_input(Input::TransportClosed {
                        now: self.now,
                        transport: t,
                    });
                    self.drain();
                }
            }
            Op::Advance(ms) => {
                self.now += Duration::from_millis(*ms as u64);
                self.server.handle_input(Input::Timeout(self.now));
                self.drain();
            }
            Op::Emit(n, ack) => {
                if let Some(id) = pick(&self.sockets, *n) {
                    if let Some(mut s) = self.server.socket(id) {
                        let p = Payload::json(&b"[\"e\",1]"[..]);
                        let _ = if *ack {
                            s.emit_with_ack(p, Some(self.now + Duration::from_millis(100)))
                                .map(|_| ())
                        } else {
                            s.emit(p)
                        };
                    }
                    self.drain();
                }
            }
            Op::Broadcast(room) => {
                let mut b = self.server.broadcast("/");
                if let Some(r) = room {
                    b = b.to(format!("r{}", r % 4));
                }
                b.emit(&Payload::json(&b"[\"b\"]"[..]));
                self.drain();
            }
            Op::Join(n, r) => {
                if let Some(id) = pick(&self.sockets, *n) {
                    if let Some(mut s) = self.server.socket(id) {
                        s.join(format!("r{}", r % 4));
                    }
                    self.drain();
                }
            }
            Op::Disconnect(n) => {
                if let Some(id) = pick(&self.sockets, *n) {
                    if let Some(s) = self.server.socket(id) {
                        s.disconnect();
                    }
                    self.drain();
                }
            }
            Op::Shutdown => {
                self.server.shutdown();
                self.drain();
            }
        }
    }

    fn drain(&mut self) {
        for _ in 0..100_000 {
            match self.server.poll_output() {
                Output::Timeout(at) => {
                    assert!(at >= self.now, "deadline in the past after a drain");
                    return;
                }
                Output::Transmit(Transmit::Http {
                    transport,
                    response,
                }) => {
                    assert!(
                        self.open_http.remove(&transport),
                        "HTTP request answered twice"
                    );
                    if let Some(sid) = sid_of_open(&response.body) {
                        self.sids.push(sid);
                    }
                }
                Output::Transmit(Transmit::WebSocket { transport, frame }) => {
                    assert!(
                        self.opened.contains(&transport),
                        "frame for an unknown transport"
                    );
                    if let Frame::Text(b) = &frame {
                        if let Some(sid) = sid_of_open(b) {
                            self.sids.push(sid);
                        }
                    }
                }
                Output::Transmit(Transmit::CloseWebSocket { transport }) => {
                    assert!(
                        self.opened.contains(&transport),
                        "close for an unknown transport"
                    );
                }
                Output::Event(Event::Connect { socket, .. }) => {
                    self.sockets.push(socket);
                    if let Some(s) = self.server.socket(socket) {
                        if socket.as_u64() % 5 == 4 {
                            s.reject("no", None);
                        } else {
                            s.accept();
                        }
                    }
                }
                Output::Event(Event::Message {
                    socket,
                    ack: Some(ack),
                    ..
                }) => {
                    if let Some(mut s) = self.server.socket(socket) {
                        let _ = s.ack(ack, Payload::json(&b"[]"[..]));
                    }
                }
                Output::Event(_) => {}
            }
        }
        panic!("drain did not reach Timeout within 100000 outputs");
    }
}

fn sid_of_open(body: &[u8]) -> Option<String> {
    let rest = body.strip_prefix(b"0{\"sid\":\"")?;
    let sid = rest.get(..20)?;
    Some(String::from_utf8_lossy(sid).into_owned())
}

// ---- Codec entry points for the cargo-fuzz targets in `fuzz/` -----------------------------------

use bytes::BytesMut;

use crate::engineio::{decode_payload, encode_payload, Packet as EioPacket, PacketType};
use crate::socketio::packet::Limits;
use crate::socketio::{Packet as SioPacket, Reassembly};
use crate::{DecodeError, Str};

/// Most packets one fuzzed polling payload may hold.
const FUZZ_MAX_PACKETS: usize = 64;

/// Fuzz entry: one Engine.IO text packet (a WebSocket text frame). A packet that decodes must
/// re-encode to exactly its input.
pub fn engineio_packet(data: &[u8]) {
    let Ok(p) = EioPacket::decode_text_bytes(Bytes::copy_from_slice(data)) else {
        return;
    };
    assert_eq!(p.kind().as_char(), data[0], "type digit");
    let encoded = p.encode();
    assert_eq!(&encoded[..], data, "text packet re-encodes to its input");
    let back = EioPacket::decode_text_bytes(encoded).expect("a re-encoded packet decodes");
    assert_eq!(back, p);
}

fn decode_all(body: Bytes) -> Result<Vec<EioPacket>, DecodeError> {
    decode_payload(body, FUZZ_MAX_PACKETS)?.collect()
}

/// Fuzz entry: one long-polling body. When every packet decodes, re-encoding gives a body that
/// decodes to the same packets (and re-encodes to the same bytes), and decoding the packets one
/// body at a time gives the same packets as the batched body.
pub fn polling_payload(data: &[u8]) {
    let Ok(packets) = decode_all(Bytes::copy_from_slice(data)) else {
        return;
    };
    let body = encode_payload(&packets);
    let back = decode_all(body.clone())
        .unwrap_or_else(|e| panic!("re-encoded body {body:?} does not decode: {e}"));
    assert_eq!(back, packets, "decode(encode(decoded)) == decoded");
    assert_eq!(encode_payload(&back), body, "encoding is stable");
    for p in &packets {
        let one = decode_all(encode_payload(std::slice::from_ref(p))).expect("single packet body");
        assert_eq!(
            one.as_slice(),
            std::slice::from_ref(p),
            "one-by-one equals batched"
        );
    }
}

/// Fuzz entry: one Socket.IO packet (the data of an Engine.IO message). A packet that decodes
/// must survive `encode_into` + `decode`, and the Engine.IO digit variant differs only by its `4`.
pub fn socketio_packet(data: &[u8]) {
    let Ok(text) = Str::from_bytes(Bytes::copy_from_slice(data)) else {
        return;
    };
    let Ok(p) = SioPacket::decode(&text, Limits::default()) else {
        return;
    };
    let mut out = BytesMut::new();
    p.encode_into(&mut out, false);
    let encoded = Str::from_bytes(out.freeze()).expect("the encoder writes UTF-8");
    let back = SioPacket::decode(&encoded, Limits::default())
        .unwrap_or_else(|e| panic!("re-encoded {encoded:?} (from {text:?}) does not decode: {e}"));
    assert_eq!(
        back, p,
        "decode(encode(p)) == p; input {text:?}, encoded {encoded:?}"
    );
    let mut again = BytesMut::new();
    back.encode_into(&mut again, false);
    assert_eq!(&again[..], encoded.as_bytes(), "encoding is stable");
    let mut with_digit = BytesMut::new();
    p.encode_into(&mut with_digit, true);
    assert_eq!(with_digit.first(), Some(&b'4'));
    assert_eq!(&with_digit[1..], encoded.as_bytes());
}

/// What reassembling one binary packet came to.
#[derive(Debug, PartialEq)]
enum Reassembled {
    Rejected(DecodeError),
    Done {
        packet: SioPacket,
        attachments: Vec<Bytes>,
        pushed: usize,
    },
    Incomplete {
        missing: usize,
    },
}

/// Bound on the attachment bytes of one fuzzed packet.
const FUZZ_MAX_ATTACHMENT_BYTES: usize = 1024;

fn reassemble(packet: SioPacket, parts: &[Bytes]) -> Reassembled {
    let declared = packet.attachments;
    let original = packet.clone();
    let mut r = match Reassembly::start(packet, FUZZ_MAX_ATTACHMENT_BYTES) {
        Err(e) => return Reassembled::Rejected(e),
        Ok(Ok((packet, attachments))) => {
            assert_eq!(declared, 0, "finished at once only without attachments");
            assert!(attachments.is_empty());
            return Reassembled::Done {
                packet,
                attachments: Vec::new(),
                pushed: 0,
            };
        }
        Ok(Err(r)) => r,
    };
    assert!(declared > 0);
    let mut total = 0usize;
    for (i, part) in parts.iter().enumerate() {
        assert_eq!(r.missing(), declared - i, "missing() counts down");
        total += part.len();
        match r.push(part.clone()) {
            Err(e) => {
                assert_eq!(e, DecodeError::AttachmentsTooLarge);
                assert!(
                    total > FUZZ_MAX_ATTACHMENT_BYTES,
                    "rejected under the limit"
                );
                return Reassembled::Rejected(e);
            }
            Ok(None) => {
                assert!(
                    total <= FUZZ_MAX_ATTACHMENT_BYTES,
                    "accepted over the limit"
                );
                assert!(i + 1 < declared, "not finished after the last attachment");
            }
            Ok(Some((packet, attachments))) => {
                assert!(
                    total <= FUZZ_MAX_ATTACHMENT_BYTES,
                    "accepted over the limit"
                );
                assert_eq!(i + 1, declared, "finished early");
                assert_eq!(packet, original, "the packet comes back as it went in");
                assert_eq!(&attachments[..], &parts[..declared], "attachments in order");
                return Reassembled::Done {
                    packet,
                    attachments: attachments.into_vec(),
                    pushed: i + 1,
                };
            }
        }
    }
    Reassembled::Incomplete {
        missing: r.missing(),
    }
}

/// Fuzz entry: a binary packet header followed by attachments, then the same carried in one
/// polling body (header text, then `b`+base64 attachments), which must reassemble identically
/// (skipped for headers holding the record separator, which polling cannot carry).
///
/// Input format: the header up to the first `\n`; after it, attachments as a length byte
/// followed by that many bytes (the last one truncated at the end of the input).
pub fn binary_reassembly(data: &[u8]) {
    let (header, mut rest) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let mut parts = Vec::new();
    while let Some((&len, tail)) = rest.split_first() {
        let n = (len as usize).min(tail.len());
        parts.push(Bytes::copy_from_slice(&tail[..n]));
        rest = &tail[n..];
    }
    let Ok(text) = Str::from_bytes(Bytes::copy_from_slice(header)) else {
        return;
    };
    let Ok(packet) = SioPacket::decode(&text, Limits::default()) else {
        return;
    };
    let direct = reassemble(packet, &parts);
    if header.contains(&crate::engineio::payload::SEPARATOR) {
        // A record separator (legal inside a namespace) cannot travel in a polling body.
        return;
    }

    // The same messages split out of one polling body.
    let mut eio = vec![EioPacket::Text(PacketType::Message, text)];
    eio.extend(parts.iter().cloned().map(EioPacket::Binary));
    let body = encode_payload(&eio);
    let mut decoded = decode_payload(body, usize::MAX)
        .expect("non-empty body")
        .map(|p| p.expect("an encoded body decodes"));
    let Some(EioPacket::Text(PacketType::Message, text)) = decoded.next() else {
        panic!("the header comes first");
    };
    let packet = SioPacket::decode(&text, Limits::default()).expect("the header decoded before");
    let split: Vec<Bytes> = decoded
        .map(|p| match p {
            EioPacket::Binary(b) => b,
            other => panic!("attachment decoded as {other:?}"),
        })
        .collect();
    assert_eq!(split, parts, "attachments survive the polling body");
    assert_eq!(
        reassemble(packet, &split),
        direct,
        "polling equals WebSocket"
    );
}
