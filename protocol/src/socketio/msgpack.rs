//! The MessagePack packet codec: node's `socket.io-msgpack-parser` and python-socketio's
//! `serializer='msgpack'`.
//!
//! Each Socket.IO packet is one binary Engine.IO message (`b<base64>` over polling) holding a
//! MessagePack map `{"type": n, "nsp": "/…", "data": …, "id": n}` (`data` and `id` optional).
//! Binary data is inline (`bin`), so there are no attachment messages; events with binary
//! data keep the plain EVENT and ACK types on the way out, and BINARY_EVENT and BINARY_ACK are
//! read as the same on the way in.
//!
//! The rest of the core speaks JSON text with attachment placeholders (see
//! [`Payload`](crate::Payload)), so this codec translates at the edge: [`decode`] turns the
//! map's `data` into that JSON text, each `bin` becoming a placeholder and an attachment, and
//! [`encode`] does the reverse, the placeholders becoming `bin` again. A broadcast is still
//! encoded once and shared by its recipients.
//!
//! The reader and the writer are small and hand-written (no dependency): the reader checks
//! every length against the bytes that are there, bounds the nesting depth, the number and
//! size of binary values, and never panics.

use bytes::{BufMut, Bytes, BytesMut};
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};

use super::binary::Attachments;
use super::json::RawJson;
use super::packet::{Packet, PacketKind};
use crate::error::DecodeError;
use crate::str::Str;

/// How deeply arrays and maps may nest in a packet's data: less than the JSON parser takes
/// (128), so that whatever decodes can be encoded again.
const MAX_DEPTH: usize = 100;

/// Limits applied while decoding.
#[derive(Clone, Copy, Debug)]
pub struct MsgpackLimits {
    /// Most binary values one packet may hold.
    pub max_attachments: usize,
    /// Most bytes of binary values one packet may hold.
    pub max_attachment_bytes: usize,
}

impl Default for MsgpackLimits {
    fn default() -> Self {
        MsgpackLimits {
            max_attachments: 32,
            max_attachment_bytes: 10_000_000,
        }
    }
}

/// Decodes one packet from a binary Engine.IO message: the packet (its `data` as JSON text with
/// placeholders) and the binary values the placeholders stand for.
pub fn decode(bytes: &Bytes, limits: MsgpackLimits) -> Result<(Packet, Attachments), DecodeError> {
    let mut r = Reader {
        b: bytes,
        at: 0,
        limits,
        attachments: Attachments::new(),
        attachment_bytes: 0,
    };
    let entries = match r.next_byte()? {
        m @ 0x80..=0x8f => usize::from(m & 0x0f),
        0xde => r.len(2)?,
        0xdf => r.len(4)?,
        _ => return Err(DecodeError::InvalidPayload),
    };
    let (mut kind, mut namespace, mut id, mut data) = (None, None, None, None);
    for _ in 0..entries {
        let key = r.str()?;
        match key {
            "type" => {
                kind = Some(match r.uint()? {
                    0 => PacketKind::Connect,
                    1 => PacketKind::Disconnect,
                    2 | 5 => PacketKind::Event,
                    3 | 6 => PacketKind::Ack,
                    4 => PacketKind::ConnectError,
                    _ => return Err(DecodeError::UnknownPacketType),
                })
            }
            "nsp" => {
                let ns = r.str()?;
                if !ns.starts_with('/') {
                    return Err(DecodeError::BadNamespace);
                }
                namespace = Some(Str::from(ns));
            }
            "id" => {
                id = match r.peek()? {
                    0xc0 => {
                        r.at += 1;
                        None
                    }
                    _ => Some(r.uint().map_err(|_| DecodeError::BadAckId)?),
                }
            }
            "data" if data.is_none() => {
                let mut json = String::new();
                r.value(&mut json, 0)?;
                data = Some(json);
            }
            "data" => return Err(DecodeError::InvalidPayload),
            _ => {
                // Binary values of other keys are not attachments of this packet.
                let (n, bytes) = (r.attachments.len(), r.attachment_bytes);
                let mut ignored = String::new();
                r.value(&mut ignored, 0)?;
                r.attachments.truncate(n);
                r.attachment_bytes = bytes;
            }
        }
    }
    if r.at != bytes.len() {
        return Err(DecodeError::InvalidPayload);
    }
    let mut kind = kind.ok_or(DecodeError::UnknownPacketType)?;
    let attachments = r.attachments;
    if !attachments.is_empty() {
        kind = match kind {
            PacketKind::Event => PacketKind::BinaryEvent,
            PacketKind::Ack => PacketKind::BinaryAck,
            _ => return Err(DecodeError::UnexpectedAttachment),
        };
    }
    let data = match data.filter(|d| d != "null").map(Str::from) {
        // Events and acknowledgements are arrays, indexed for their arguments as the text
        // parser does.
        Some(d)
            if matches!(
                kind,
                PacketKind::Event
                    | PacketKind::BinaryEvent
                    | PacketKind::Ack
                    | PacketKind::BinaryAck
            ) =>
        {
            Some(RawJson::parse_array(d)?)
        }
        Some(d) => Some(RawJson::from_trusted(d)),
        None => None,
    };
    let packet = Packet {
        kind,
        namespace: namespace.unwrap_or_else(|| Str::from_static("/")),
        id,
        attachments: attachments.len(),
        data,
    };
    packet.check_shape()?;
    Ok((packet, attachments))
}

/// Encodes a packet as a MessagePack map into `out`: `json` is its data as JSON text (empty
/// for none) whose placeholders stand for `attachments`, written inline as `bin`. Fails only
/// when `json` is not JSON, which the core never hands it.
pub fn encode(
    out: &mut BytesMut,
    kind: PacketKind,
    namespace: &str,
    id: Option<u64>,
    json: &[u8],
    attachments: &[Bytes],
) -> Result<(), DecodeError> {
    let mut w = Vec::with_capacity(json.len() + 32);
    let has_data = !json.is_empty();
    let entries = 2 + u8::from(has_data) + u8::from(id.is_some());
    w.push(0x80 | entries);
    write_str(&mut w, "type");
    let kind = match kind {
        PacketKind::BinaryEvent => PacketKind::Event,
        PacketKind::BinaryAck => PacketKind::Ack,
        k => k,
    };
    write_uint(&mut w, u64::from(kind.as_char() - b'0'));
    write_str(&mut w, "nsp");
    write_str(&mut w, namespace);
    if has_data {
        write_str(&mut w, "data");
        let text = std::str::from_utf8(json).map_err(|_| DecodeError::InvalidUtf8)?;
        let fixed = super::json::replace_lone_surrogates(text);
        let text = fixed.as_deref().unwrap_or(text);
        let mut de = serde_json::Deserializer::from_str(text);
        Transcode {
            out: &mut w,
            attachments,
        }
        .deserialize(&mut de)
        .and_then(|()| de.end())
        .map_err(|_| DecodeError::InvalidJson)?;
    }
    if let Some(id) = id {
        write_str(&mut w, "id");
        write_uint(&mut w, id);
    }
    out.extend_from_slice(&w);
    Ok(())
}

// ---- reading ---------------------------------------------------------------------------------

struct Reader<'a> {
    b: &'a Bytes,
    at: usize,
    limits: MsgpackLimits,
    attachments: Attachments,
    attachment_bytes: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Result<u8, DecodeError> {
        self.b
            .get(self.at)
            .copied()
            .ok_or(DecodeError::InvalidPayload)
    }

    fn next_byte(&mut self) -> Result<u8, DecodeError> {
        let b = self.peek()?;
        self.at += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let b: &'a Bytes = self.b;
        let end = self.at.checked_add(n).ok_or(DecodeError::InvalidPayload)?;
        let s = b.get(self.at..end).ok_or(DecodeError::InvalidPayload)?;
        self.at = end;
        Ok(s)
    }

    /// A big-endian unsigned number of `n` bytes (1, 2, 4 or 8).
    fn be(&mut self, n: usize) -> Result<u64, DecodeError> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    fn len(&mut self, n: usize) -> Result<usize, DecodeError> {
        usize::try_from(self.be(n)?).map_err(|_| DecodeError::InvalidPayload)
    }

    /// A count of items that each take at least one byte: no more than the bytes left.
    fn count(&mut self, n: usize) -> Result<usize, DecodeError> {
        let count = self.len(n)?;
        if count > self.b.len() - self.at {
            return Err(DecodeError::InvalidPayload);
        }
        Ok(count)
    }

    fn str(&mut self) -> Result<&'a str, DecodeError> {
        let n = match self.next_byte()? {
            m @ 0xa0..=0xbf => usize::from(m & 0x1f),
            0xd9 => self.len(1)?,
            0xda => self.len(2)?,
            0xdb => self.len(4)?,
            _ => return Err(DecodeError::InvalidPayload),
        };
        std::str::from_utf8(self.take(n)?).map_err(|_| DecodeError::InvalidUtf8)
    }

    /// A non-negative integer (any integer encoding).
    fn uint(&mut self) -> Result<u64, DecodeError> {
        let v = match self.next_byte()? {
            m @ 0x00..=0x7f => u64::from(m),
            0xcc => self.be(1)?,
            0xcd => self.be(2)?,
            0xce => self.be(4)?,
            0xcf => self.be(8)?,
            0xd0 => self.be(1)? as u8 as i8 as i64 as u64,
            0xd1 => self.be(2)? as u16 as i16 as i64 as u64,
            0xd2 => self.be(4)? as u32 as i32 as i64 as u64,
            0xd3 => self.be(8)?,
            // A float that is a whole number, as a JavaScript encoder may write.
            0xcb => {
                let f = f64::from_bits(self.be(8)?);
                if f.fract() != 0.0 || !(0.0..9.007_199_254_740_992e15).contains(&f) {
                    return Err(DecodeError::InvalidPayload);
                }
                f as u64
            }
            _ => return Err(DecodeError::InvalidPayload),
        };
        if v > i64::MAX as u64 {
            return Err(DecodeError::InvalidPayload);
        }
        Ok(v)
    }

    /// One value, written to `out` as JSON (binary values become placeholders).
    fn value(&mut self, out: &mut String, depth: usize) -> Result<(), DecodeError> {
        if depth > MAX_DEPTH {
            return Err(DecodeError::InvalidJson);
        }
        let m = self.next_byte()?;
        match m {
            0x00..=0x7f => push_num(out, u64::from(m)),
            0xe0..=0xff => push_num(out, i64::from(m as i8)),
            0xc0 => out.push_str("null"),
            0xc2 => out.push_str("false"),
            0xc3 => out.push_str("true"),
            0xcc => push_num(out, self.be(1)?),
            0xcd => push_num(out, self.be(2)?),
            0xce => push_num(out, self.be(4)?),
            0xcf => push_num(out, self.be(8)?),
            0xd0 => push_num(out, self.be(1)? as u8 as i8),
            0xd1 => push_num(out, self.be(2)? as u16 as i16),
            0xd2 => push_num(out, self.be(4)? as u32 as i32),
            0xd3 => push_num(out, self.be(8)? as i64),
            0xca => push_float(out, f64::from(f32::from_bits(self.be(4)? as u32))),
            0xcb => push_float(out, f64::from_bits(self.be(8)?)),
            0xa0..=0xbf | 0xd9..=0xdb => {
                self.at -= 1;
                push_json_str(out, self.str()?);
            }
            0xc4..=0xc6 => {
                let n = match m {
                    0xc4 => self.len(1)?,
                    0xc5 => self.len(2)?,
                    _ => self.len(4)?,
                };
                let start = self.at;
                self.take(n)?;
                let num = self.attachments.len();
                self.attachment_bytes += n;
                if num >= self.limits.max_attachments {
                    return Err(DecodeError::TooManyAttachments {
                        count: num + 1,
                        max: self.limits.max_attachments,
                    });
                }
                if self.attachment_bytes > self.limits.max_attachment_bytes {
                    return Err(DecodeError::AttachmentsTooLarge);
                }
                self.attachments.push(self.b.slice(start..start + n));
                out.push_str("{\"_placeholder\":true,\"num\":");
                push_num(out, num);
                out.push('}');
            }
            // Extension types have no JSON form: they read as null (notepack.io writes
            // `undefined` as the fixext 1 of type 0).
            0xd4..=0xd8 | 0xc7..=0xc9 => {
                let n = match m {
                    0xd4 => 1,
                    0xd5 => 2,
                    0xd6 => 4,
                    0xd7 => 8,
                    0xd8 => 16,
                    0xc7 => self.len(1)?,
                    0xc8 => self.len(2)?,
                    _ => self.len(4)?,
                };
                self.take(1 + n)?;
                out.push_str("null");
            }
            0x90..=0x9f | 0xdc | 0xdd => {
                let n = match m {
                    0xdc => self.count(2)?,
                    0xdd => self.count(4)?,
                    _ => usize::from(m & 0x0f),
                };
                out.push('[');
                for i in 0..n {
                    if i > 0 {
                        out.push(',');
                    }
                    self.value(out, depth + 1)?;
                }
                out.push(']');
            }
            0x80..=0x8f | 0xde | 0xdf => {
                let n = match m {
                    0xde => self.count(2)?,
                    0xdf => self.count(4)?,
                    _ => usize::from(m & 0x0f),
                };
                out.push('{');
                for i in 0..n {
                    if i > 0 {
                        out.push(',');
                    }
                    // JSON keys are strings: integer keys are written as their digits.
                    match self.peek()? {
                        0xa0..=0xbf | 0xd9..=0xdb => push_json_str(out, self.str()?),
                        0x00..=0x7f | 0xcc..=0xd3 | 0xe0..=0xff => {
                            let mut key = String::new();
                            self.value(&mut key, depth + 1)?;
                            push_json_str(out, &key);
                        }
                        _ => return Err(DecodeError::InvalidPayload),
                    }
                    out.push(':');
                    self.value(out, depth + 1)?;
                }
                out.push('}');
            }
            // 0xc1 is never used.
            _ => return Err(DecodeError::InvalidPayload),
        }
        Ok(())
    }
}

fn push_num(out: &mut String, n: impl std::fmt::Display) {
    use std::fmt::Write as _;
    let _ = write!(out, "{n}");
}

fn push_float(out: &mut String, f: f64) {
    if f.is_finite() {
        // serde_json writes the shortest form that reads back as the same number.
        out.push_str(&serde_json::Value::from(f).to_string());
    } else {
        out.push_str("null"); // as JSON.stringify writes NaN and the infinities
    }
}

fn push_json_str(out: &mut String, s: &str) {
    out.push_str(&serde_json::Value::from(s).to_string());
}

// ---- writing ---------------------------------------------------------------------------------

fn write_uint(w: &mut Vec<u8>, n: u64) {
    match n {
        0..=0x7f => w.push(n as u8),
        0x80..=0xff => w.extend_from_slice(&[0xcc, n as u8]),
        0x100..=0xffff => {
            w.push(0xcd);
            w.put_u16(n as u16);
        }
        0x1_0000..=0xffff_ffff => {
            w.push(0xce);
            w.put_u32(n as u32);
        }
        _ => {
            w.push(0xcf);
            w.put_u64(n);
        }
    }
}

fn write_int(w: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        return write_uint(w, n as u64);
    }
    match n {
        -32..=-1 => w.push(n as i8 as u8),
        -128..=-33 => w.extend_from_slice(&[0xd0, n as i8 as u8]),
        -32768..=-129 => {
            w.push(0xd1);
            w.put_i16(n as i16);
        }
        -2_147_483_648..=-32769 => {
            w.push(0xd2);
            w.put_i32(n as i32);
        }
        _ => {
            w.push(0xd3);
            w.put_i64(n);
        }
    }
}

fn write_len(
    w: &mut Vec<u8>,
    n: usize,
    fix: Option<(u8, usize)>,
    m8: Option<u8>,
    m16: u8,
    m32: u8,
) {
    match (fix, m8) {
        (Some((tag, max)), _) if n <= max => w.push(tag | n as u8),
        (_, Some(tag)) if n <= 0xff => w.extend_from_slice(&[tag, n as u8]),
        _ if n <= 0xffff => {
            w.push(m16);
            w.put_u16(n as u16);
        }
        _ => {
            w.push(m32);
            w.put_u32(n as u32);
        }
    }
}

fn write_str(w: &mut Vec<u8>, s: &str) {
    write_len(w, s.len(), Some((0xa0, 31)), Some(0xd9), 0xda, 0xdb);
    w.extend_from_slice(s.as_bytes());
}

fn write_bin(w: &mut Vec<u8>, b: &[u8]) {
    write_len(w, b.len(), None, Some(0xc4), 0xc5, 0xc6);
    w.extend_from_slice(b);
}

/// Writes the JSON value it is deserialized from as MessagePack, placeholders as `bin`.
struct Transcode<'a> {
    out: &'a mut Vec<u8>,
    attachments: &'a [Bytes],
}

impl<'de> DeserializeSeed<'de> for Transcode<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

/// Replaces a container's 5-byte header (written before its items were counted) by the
/// shortest one for `count` items.
fn finish_container(out: &mut Vec<u8>, start: usize, count: usize, fix: u8, m16: u8, m32: u8) {
    let mut header = Vec::with_capacity(5);
    write_len(&mut header, count, Some((fix, 15)), None, m16, m32);
    out.splice(start..start + 5, header);
}

impl<'de> Visitor<'de> for Transcode<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.out.push(if v { 0xc3 } else { 0xc2 });
        Ok(())
    }

    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        write_int(self.out, v);
        Ok(())
    }

    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        write_uint(self.out, v);
        Ok(())
    }

    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        self.out.push(0xcb);
        self.out.put_f64(v);
        Ok(())
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        write_str(self.out, v);
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.out.push(0xc0);
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let start = self.out.len();
        self.out.extend_from_slice(&[0xdd, 0, 0, 0, 0]);
        let mut count = 0;
        while seq
            .next_element_seed(Transcode {
                out: self.out,
                attachments: self.attachments,
            })?
            .is_some()
        {
            count += 1;
        }
        finish_container(self.out, start, count, 0x90, 0xdc, 0xdd);
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let start = self.out.len();
        self.out.extend_from_slice(&[0xdf, 0, 0, 0, 0]);
        let mut count = 0;
        // What a placeholder `{"_placeholder":true,"num":n}` needs to be recognised.
        let (mut placeholder, mut num) = (false, None);
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            write_str(self.out, &key);
            let at = self.out.len();
            map.next_value_seed(Transcode {
                out: self.out,
                attachments: self.attachments,
            })?;
            let value = &self.out[at..];
            match &*key {
                "_placeholder" => placeholder = value == [0xc3],
                "num" => {
                    num = match value {
                        [n @ 0x00..=0x7f] => Some(usize::from(*n)),
                        [0xcc, n] => Some(usize::from(*n)),
                        [0xcd, a, b] => Some(usize::from(u16::from_be_bytes([*a, *b]))),
                        _ => None,
                    }
                }
                _ => {}
            }
            count += 1;
        }
        match num.and_then(|n| self.attachments.get(n)) {
            Some(data) if placeholder && count == 2 => {
                self.out.truncate(start);
                write_bin(self.out, data);
            }
            _ => finish_container(self.out, start, count, 0x80, 0xde, 0xdf),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn enc(kind: PacketKind, ns: &str, id: Option<u64>, json: &str, att: &[Bytes]) -> Bytes {
        let mut out = BytesMut::new();
        encode(&mut out, kind, ns, id, json.as_bytes(), att).unwrap();
        out.freeze()
    }

    fn dec(b: &Bytes) -> Result<(Packet, Attachments), DecodeError> {
        decode(b, MsgpackLimits::default())
    }

    #[test]
    fn encodes_what_python_msgpack_writes() {
        // msgpack.dumps({'type': 2, 'nsp': '/', 'data': ['hi', 1]})
        let b = enc(PacketKind::Event, "/", None, "[\"hi\",1]", &[]);
        let expected: &[u8] = &[
            0x83, 0xa4, b't', b'y', b'p', b'e', 0x02, 0xa3, b'n', b's', b'p', 0xa1, b'/', 0xa4,
            b'd', b'a', b't', b'a', 0x92, 0xa2, b'h', b'i', 0x01,
        ];
        assert_eq!(&b[..], expected);
        // {'type': 0, 'nsp': '/chat'}: no data, no id
        let b = enc(PacketKind::Disconnect, "/chat", None, "", &[]);
        assert_eq!(
            &b[..],
            &[
                0x82, 0xa4, b't', b'y', b'p', b'e', 0x01, 0xa3, b'n', b's', b'p', 0xa5, b'/', b'c',
                b'h', b'a', b't'
            ]
        );
    }

    #[test]
    fn round_trips_with_binary_inline() {
        let att = [Bytes::from_static(&[1, 2, 3])];
        let json = r#"["file",{"name":"a","data":{"_placeholder":true,"num":0}},-5,1.5,null,{"_placeholder":true}]"#;
        let b = enc(PacketKind::BinaryEvent, "/up", Some(7), json, &att);
        let (p, a) = dec(&b).unwrap();
        assert_eq!(p.kind, PacketKind::BinaryEvent);
        assert_eq!((&*p.namespace, p.id, p.attachments), ("/up", Some(7), 1));
        assert_eq!(a.as_slice(), &att);
        assert_eq!(
            p.value(),
            Some(
                json!(["file", {"name": "a", "data": {"_placeholder": true, "num": 0}}, -5, 1.5, null, {"_placeholder": true}])
            )
        );
        // BINARY types never go out: the map says EVENT
        assert_eq!(b[6], 2);
    }

    #[test]
    fn keeps_key_order_and_every_number_form() {
        let json = r#"[{"b":1,"a":2},255,256,65536,4294967296,-33,-129,-32769,-2147483649,0.1]"#;
        let b = enc(PacketKind::Ack, "/", Some(1), json, &[]);
        let (p, _) = dec(&b).unwrap();
        assert_eq!(p.data.unwrap().as_str(), json);
    }

    #[test]
    fn long_strings_arrays_and_maps() {
        let long = "x".repeat(70_000);
        let items: Vec<_> = (0..20).collect();
        let map: serde_json::Map<_, _> = (0..20).map(|i| (format!("k{i:02}"), json!(i))).collect();
        let v = json!([long, items, map]);
        let b = enc(PacketKind::Ack, "/", Some(1), &v.to_string(), &[]);
        let (p, _) = dec(&b).unwrap();
        assert_eq!(p.value(), Some(v));
    }

    #[test]
    fn reads_what_node_and_python_write() {
        // notepack.io: CONNECT without data, `undefined` as fixext 1, float64 whole numbers
        let connect: &[u8] = &[
            0x82, 0xa4, b't', b'y', b'p', b'e', 0x00, 0xa3, b'n', b's', b'p', 0xa1, b'/',
        ];
        let (p, _) = dec(&Bytes::from_static(connect)).unwrap();
        assert_eq!((p.kind, p.data), (PacketKind::Connect, None));
        let event: &[u8] = &[
            0x84, 0xa4, b't', b'y', b'p', b'e', 0xcb, 0x40, 0, 0, 0, 0, 0, 0, 0, 0xa3, b'n', b's',
            b'p', 0xa1, b'/', 0xa4, b'd', b'a', b't', b'a', 0x93, 0xa1, b'e', 0xd4, 0, 0, 0xc4, 2,
            9, 8, 0xa2, b'i', b'd', 0xcd, 0x01, 0x00,
        ];
        let (p, a) = dec(&Bytes::from_static(event)).unwrap();
        assert_eq!(p.kind, PacketKind::BinaryEvent);
        assert_eq!(p.id, Some(256));
        assert_eq!(
            p.value(),
            Some(json!(["e", null, {"_placeholder": true, "num": 0}]))
        );
        assert_eq!(&a[0][..], &[9, 8]);
    }

    #[test]
    fn the_fuzz_seeds_hold_the_fuzz_property() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/seeds/msgpack_packet");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            assert!(dec(&Bytes::from(bytes.clone())).is_ok());
            crate::fuzzing::msgpack_packet(&bytes);
            n += 1;
        }
        assert!(n >= 5);
    }

    #[test]
    fn refuses_what_does_not_fit() {
        let bad: &[&[u8]] = &[
            &[],
            &[0x90],
            &[0x81, 0xa4, b't', b'y', b'p', b'e', 0x09],
            &[0x81, 0xa3, b'n', b's', b'p', 0xa1, b'x'],
            &[
                0x82, 0xa4, b't', b'y', b'p', b'e', 0x02, 0xa4, b'd', b'a', b't', b'a', 0xdd, 0xff,
                0xff, 0xff, 0xff,
            ],
            &[
                0x82, 0xa4, b't', b'y', b'p', b'e', 0x02, 0xa4, b'd', b'a', b't', b'a', 0xc6, 0xff,
                0xff, 0xff, 0xff,
            ],
            // an event whose data is not an array starting with a name
            &[
                0x82, 0xa4, b't', b'y', b'p', b'e', 0x02, 0xa4, b'd', b'a', b't', b'a', 0x91, 0x01,
            ],
            // trailing bytes
            &[0x81, 0xa4, b't', b'y', b'p', b'e', 0x01, 0x00],
        ];
        for b in bad {
            assert!(dec(&Bytes::copy_from_slice(b)).is_err(), "{b:?}");
        }
        let deep = format!("[\"e\",{}{}]", "[".repeat(200), "]".repeat(200));
        let mut out = BytesMut::new();
        // serde_json's own recursion limit refuses it on the way out, too
        assert!(encode(&mut out, PacketKind::Event, "/", None, deep.as_bytes(), &[]).is_err());
        let limits = MsgpackLimits {
            max_attachments: 1,
            max_attachment_bytes: 10,
        };
        let two = enc(
            PacketKind::Event,
            "/",
            None,
            r#"["e",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
            &[Bytes::from_static(b"a"), Bytes::from_static(b"b")],
        );
        assert!(matches!(
            decode(&two, limits),
            Err(DecodeError::TooManyAttachments { .. })
        ));
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = dec(&Bytes::from(bytes));
        }

        #[test]
        fn the_fuzz_property_holds(bytes in proptest::collection::vec(any::<u8>(), 0..256), v in arb_json()) {
            crate::fuzzing::msgpack_packet(&bytes);
            let data = json!(["e", v, {"_placeholder": true, "num": 0}]).to_string();
            let att = [Bytes::from_static(b"bin")];
            crate::fuzzing::msgpack_packet(&enc(PacketKind::Event, "/x", Some(3), &data, &att));
        }

        #[test]
        fn json_round_trips(v in arb_json()) {
            let data = json!(["e", v]);
            let b = enc(PacketKind::Event, "/", None, &data.to_string(), &[]);
            let (p, _) = dec(&b).unwrap();
            prop_assert_eq!(p.value(), Some(data));
        }
    }

    fn arb_json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<u64>().prop_map(serde_json::Value::from),
            (-1e12f64..1e12).prop_map(serde_json::Value::from),
            ".{0,40}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..20).prop_map(serde_json::Value::from),
                proptest::collection::btree_map("[a-z_]{0,8}", inner, 0..20)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
