//! The Socket.IO packet codec.
//!
//! Wire format: `<type>[<attachments>-][<namespace>,][<ack id>][<json>]`, where the namespace is
//! present only when it is not `/`, and the attachment count only for binary packets.

use std::fmt::Write as _;

use bytes::{BufMut, BytesMut};

use super::json::RawJson;
use crate::error::DecodeError;
use crate::str::Str;

/// The seven Socket.IO packet types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum PacketKind {
    /// `0`: connect to a namespace (client: auth payload; server: `{"sid"}`).
    Connect,
    /// `1`: leave a namespace.
    Disconnect,
    /// `2`: an event: `["name", args...]`.
    Event,
    /// `3`: acknowledgement: `[args...]`.
    Ack,
    /// `4`: connection to a namespace refused: `{"message", "data"?}`.
    ConnectError,
    /// `5`: an event with binary attachments.
    BinaryEvent,
    /// `6`: an acknowledgement with binary attachments.
    BinaryAck,
}

impl PacketKind {
    /// The ASCII digit of this type.
    pub const fn as_char(self) -> u8 {
        match self {
            PacketKind::Connect => b'0',
            PacketKind::Disconnect => b'1',
            PacketKind::Event => b'2',
            PacketKind::Ack => b'3',
            PacketKind::ConnectError => b'4',
            PacketKind::BinaryEvent => b'5',
            PacketKind::BinaryAck => b'6',
        }
    }

    fn from_char(c: u8) -> Result<Self, DecodeError> {
        Ok(match c {
            b'0' => PacketKind::Connect,
            b'1' => PacketKind::Disconnect,
            b'2' => PacketKind::Event,
            b'3' => PacketKind::Ack,
            b'4' => PacketKind::ConnectError,
            b'5' => PacketKind::BinaryEvent,
            b'6' => PacketKind::BinaryAck,
            _ => return Err(DecodeError::UnknownPacketType),
        })
    }

    /// Whether packets of this type carry binary attachments.
    pub const fn is_binary(self) -> bool {
        matches!(self, PacketKind::BinaryEvent | PacketKind::BinaryAck)
    }
}

/// A decoded Socket.IO packet. Binary attachments travel separately (see
/// [`Reassembly`](super::Reassembly)); `data` holds placeholders where they belong.
#[derive(Clone, Debug, PartialEq)]
pub struct Packet {
    /// The packet type.
    pub kind: PacketKind,
    /// The namespace, `/` when absent on the wire.
    pub namespace: Str,
    /// The ack id, if any.
    pub id: Option<u64>,
    /// Number of binary attachments that follow (0 for non-binary packets).
    pub attachments: usize,
    /// The JSON payload, if any, as received (valid JSON of the packet type's shape).
    pub data: Option<RawJson>,
}

/// Limits applied while decoding.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest attachment count a binary packet may declare.
    pub max_attachments: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_attachments: 32,
        }
    }
}

const MAX_ATTACHMENT_DIGITS: usize = 6;

impl Packet {
    /// Decodes one packet from the data of an Engine.IO message.
    pub fn decode(text: &Str, limits: Limits) -> Result<Packet, DecodeError> {
        let b = text.as_bytes();
        let kind = PacketKind::from_char(*b.first().ok_or(DecodeError::Empty)?)?;
        let mut i = 1;

        let mut attachments = 0;
        if kind.is_binary() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i == start || i - start > MAX_ATTACHMENT_DIGITS || b.get(i) != Some(&b'-') {
                return Err(DecodeError::BadAttachmentCount);
            }
            attachments = text[start..i]
                .parse()
                .map_err(|_| DecodeError::BadAttachmentCount)?;
            if attachments > limits.max_attachments {
                return Err(DecodeError::TooManyAttachments {
                    count: attachments,
                    max: limits.max_attachments,
                });
            }
            i += 1;
        }

        let namespace = if b.get(i) == Some(&b'/') {
            let start = i;
            while i < b.len() && b[i] != b',' {
                i += 1;
            }
            let ns = text.slice_to(i).slice_from(start);
            if i < b.len() {
                i += 1; // the comma
            }
            ns
        } else {
            Str::from_static("/")
        };

        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let id = if i > start {
            Some(
                text[start..i]
                    .parse::<u64>()
                    .map_err(|_| DecodeError::BadAckId)?,
            )
        } else {
            None
        };

        let data = if i < b.len() {
            // Events and acknowledgements are arrays: checked and indexed in one scan.
            let data = text.slice_from(i);
            Some(match kind {
                PacketKind::Event
                | PacketKind::BinaryEvent
                | PacketKind::Ack
                | PacketKind::BinaryAck => RawJson::parse_array(data)?,
                _ => RawJson::parse(data)?,
            })
        } else {
            None
        };

        let packet = Packet {
            kind,
            namespace,
            id,
            attachments,
            data,
        };
        packet.check_shape()?;
        Ok(packet)
    }

    pub(crate) fn check_shape(&self) -> Result<(), DecodeError> {
        let first = self.data.as_ref().and_then(RawJson::first_byte);
        let ok = match (self.kind, first) {
            (PacketKind::Connect, None | Some(b'{')) => true,
            (PacketKind::Disconnect, None) => true,
            (PacketKind::Event | PacketKind::BinaryEvent, Some(b'[')) => self
                .data
                .as_ref()
                .and_then(RawJson::first_element)
                .is_some_and(|e| e.starts_with('"')),
            (PacketKind::Ack | PacketKind::BinaryAck, Some(b'[')) => self.id.is_some(),
            (PacketKind::ConnectError, Some(b'{' | b'"')) => true,
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(DecodeError::InvalidPayload)
        }
    }

    /// Encodes the packet into `out`; with `engineio_message` the Engine.IO message digit `4`
    /// is written first, so the result is ready for a WebSocket frame or a polling payload.
    pub fn encode_into(&self, out: &mut BytesMut, engineio_message: bool) {
        encode_header(
            out,
            engineio_message,
            self.kind,
            self.attachments,
            &self.namespace,
            self.id,
        );
        if let Some(json) = &self.data {
            out.extend_from_slice(json.as_bytes());
        }
    }

    /// The payload as a tree (lone surrogates read as U+FFFD), if any.
    pub fn value(&self) -> Option<serde_json::Value> {
        self.data.as_ref().map(RawJson::to_value)
    }
}

/// Writes a packet header: the optional Engine.IO message digit, the type, the attachment count,
/// the namespace and the ack id. The JSON payload follows.
pub fn encode_header(
    out: &mut BytesMut,
    engineio_message: bool,
    kind: PacketKind,
    attachments: usize,
    namespace: &str,
    id: Option<u64>,
) {
    if engineio_message {
        out.put_u8(b'4');
    }
    out.put_u8(kind.as_char());
    if kind.is_binary() {
        write_num(out, attachments as u64);
        out.put_u8(b'-');
    }
    if namespace != "/" {
        out.extend_from_slice(namespace.as_bytes());
        out.put_u8(b',');
    }
    if let Some(id) = id {
        write_num(out, id);
    }
}

fn write_num(out: &mut BytesMut, n: u64) {
    struct W<'a>(&'a mut BytesMut);
    impl std::fmt::Write for W<'_> {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0.extend_from_slice(s.as_bytes());
            Ok(())
        }
    }
    let _ = write!(W(out), "{n}");
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn dec(s: &str) -> Result<Packet, DecodeError> {
        Packet::decode(&Str::from(s), Limits::default())
    }

    fn enc(p: &Packet) -> String {
        let mut out = BytesMut::new();
        p.encode_into(&mut out, false);
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn decodes_the_spec_examples() {
        let p = dec("0").unwrap();
        assert_eq!(
            (p.kind, &*p.namespace, p.data),
            (PacketKind::Connect, "/", None)
        );
        let p = dec("0/admin,{\"token\":\"123\"}").unwrap();
        assert_eq!(&*p.namespace, "/admin");
        assert_eq!(p.value(), Some(json!({"token": "123"})));
        let p = dec("1/admin,").unwrap();
        assert_eq!((p.kind, &*p.namespace), (PacketKind::Disconnect, "/admin"));
        let p = dec("2[\"hello\",1]").unwrap();
        assert_eq!(p.value(), Some(json!(["hello", 1])));
        assert_eq!(p.data.as_ref().map(RawJson::as_str), Some("[\"hello\",1]"));
        let p = dec("2/admin,456[\"project:delete\",123]").unwrap();
        assert_eq!((p.id, &*p.namespace), (Some(456), "/admin"));
        let p = dec("3/admin,456[]").unwrap();
        assert_eq!((p.kind, p.id), (PacketKind::Ack, Some(456)));
        let p = dec("51-[\"hello\",{\"_placeholder\":true,\"num\":0}]").unwrap();
        assert_eq!((p.kind, p.attachments), (PacketKind::BinaryEvent, 1));
        let p = dec("61-/admin,456[{\"_placeholder\":true,\"num\":0}]").unwrap();
        assert_eq!(
            (p.kind, p.attachments, p.id),
            (PacketKind::BinaryAck, 1, Some(456))
        );
        let p = dec("4{\"message\":\"Not authorized\"}").unwrap();
        assert_eq!(p.kind, PacketKind::ConnectError);
    }

    #[test]
    fn rejects_malformed_packets() {
        assert_eq!(dec(""), Err(DecodeError::Empty));
        assert_eq!(dec("9"), Err(DecodeError::UnknownPacketType));
        assert_eq!(dec("5[\"a\"]"), Err(DecodeError::BadAttachmentCount));
        assert_eq!(dec("51[\"a\"]"), Err(DecodeError::BadAttachmentCount));
        assert_eq!(
            dec("51234567-[\"a\"]"),
            Err(DecodeError::BadAttachmentCount)
        );
        assert_eq!(
            dec("599-[\"a\"]"),
            Err(DecodeError::TooManyAttachments { count: 99, max: 32 })
        );
        assert_eq!(
            dec("299999999999999999999[\"a\"]"),
            Err(DecodeError::BadAckId)
        );
        assert_eq!(dec("2[\"a\""), Err(DecodeError::InvalidJson));
        assert_eq!(dec("2[]"), Err(DecodeError::InvalidPayload));
        assert_eq!(dec("2[1]"), Err(DecodeError::InvalidPayload));
        assert_eq!(dec("2{}"), Err(DecodeError::InvalidPayload));
        assert_eq!(dec("3[]"), Err(DecodeError::InvalidPayload));
        assert_eq!(dec("0[]"), Err(DecodeError::InvalidPayload));
        assert_eq!(dec("1{}"), Err(DecodeError::InvalidPayload));
        assert_eq!(dec("2[\"a\"] x"), Err(DecodeError::InvalidJson));
        assert_eq!(dec("2[\"a\",\"\\x\"]"), Err(DecodeError::InvalidJson));
    }

    /// The payload is checked, not built: nesting deeper than a tree may be parsed is still
    /// valid JSON (relayed as it is; a handler that deserializes it gets an error), and lone
    /// surrogate escapes are legal JSON text.
    #[test]
    fn deep_nesting_and_lone_surrogates_are_valid_json() {
        let deep = format!("2[\"a\",{}{}]", "[".repeat(200), "]".repeat(200));
        assert_eq!(enc(&dec(&deep).unwrap()), deep);
        let lone = "2[\"chat\",\"a\\ud800b\"]";
        let p = dec(lone).unwrap();
        assert_eq!(enc(&p), lone, "relayed unchanged");
        assert_eq!(p.value(), Some(json!(["chat", "a\u{fffd}b"])));
    }

    #[test]
    fn encodes_the_spec_examples() {
        for s in [
            "0",
            "0/admin,{\"sid\":\"abc\"}",
            "1/admin,",
            "2[\"hello\",1]",
            "2/admin,456[\"project:delete\",123]",
            "3/admin,456[]",
            "51-[\"hello\",{\"_placeholder\":true,\"num\":0}]",
            "61-/admin,456[{\"_placeholder\":true,\"num\":0}]",
            "4{\"message\":\"Not authorized\"}",
        ] {
            assert_eq!(enc(&dec(s).unwrap()), s);
        }
        let mut out = BytesMut::new();
        dec("2[\"a\"]").unwrap().encode_into(&mut out, true);
        assert_eq!(out.freeze(), Bytes::from_static(b"42[\"a\"]"));
    }

    /// Regression (fuzz/regressions/socketio_packet/float_*): serde_json's default float parser
    /// is off by one ulp on some long mantissas, so a number relayed by the server changed value
    /// and `decode(encode(p)) != p`. Numbers must parse correctly rounded, as `JSON.parse` does.
    #[test]
    fn floats_parse_correctly_rounded_and_survive_reencoding() {
        for text in [
            "1.2345768904567898e29",
            "1.75678976939012345678901234567890",
            "1.7567897693901233",
            "1.79769313486212345670123890",
            "1.7976931348623157e308",
            "-0",
            "0.1",
            "1e-7",
            "2.2250738585072011e-308",
            "9007199254740993",
        ] {
            let p = dec(&format!("2[\"f\",{text}]")).unwrap();
            let parsed = p.value().unwrap()[1].as_f64().unwrap();
            assert_eq!(
                parsed.to_bits(),
                text.parse::<f64>().unwrap().to_bits(),
                "{text} parses correctly rounded"
            );
            let again = dec(&enc(&p)).unwrap();
            assert_eq!(again, p, "{text} survives decode(encode(..))");
        }
    }

    use serde_json::Value;

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            ".{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map("[a-z_]{0,6}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn arb_packet() -> impl Strategy<Value = Packet> {
        let ns = prop_oneof![Just("/".to_string()), "/[a-z0-9_-]{1,10}"];
        (
            0u8..7,
            ns,
            proptest::option::of(any::<u64>()),
            0usize..5,
            ".{1,10}",
            arb_json(),
        )
            .prop_map(|(t, ns, id, att, name, arg)| {
                let kind = PacketKind::from_char(b'0' + t).unwrap();
                let data = match kind {
                    PacketKind::Connect => Some(json!({ "k": arg })),
                    PacketKind::Disconnect => None,
                    PacketKind::Event | PacketKind::BinaryEvent => Some(json!([name, arg])),
                    PacketKind::Ack | PacketKind::BinaryAck => Some(json!([arg])),
                    PacketKind::ConnectError => Some(json!({"message": name, "data": arg})),
                };
                let id = match kind {
                    PacketKind::Ack | PacketKind::BinaryAck => Some(id.unwrap_or(0)),
                    PacketKind::Event | PacketKind::BinaryEvent => id,
                    _ => None,
                };
                Packet {
                    kind,
                    namespace: Str::from(ns.as_str()),
                    id,
                    attachments: if kind.is_binary() { att } else { 0 },
                    data: data.as_ref().map(RawJson::from_value),
                }
            })
    }

    proptest! {
        #[test]
        fn round_trip(p in arb_packet()) {
            let mut out = BytesMut::new();
            p.encode_into(&mut out, false);
            let text = Str::from_bytes(out.freeze()).unwrap();
            prop_assert_eq!(Packet::decode(&text, Limits::default()).unwrap(), p);
        }

        #[test]
        fn decode_never_panics(s in ".{0,64}") {
            let _ = Packet::decode(&Str::from(s.as_str()), Limits::default());
        }

        #[test]
        fn decode_never_panics_on_packet_like_input(s in "[0-6][0-9]{0,3}-?(/[a-z]{0,3},?)?[0-9]{0,4}[\\[\\]{}\",:a-z0-9]{0,20}") {
            let _ = Packet::decode(&Str::from(s.as_str()), Limits::default());
        }
    }
}
