//! Long-polling payloads: packets joined by the record separator `\x1e`; binary messages are
//! sent as `b` followed by their base64 encoding.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::{BufMut, Bytes, BytesMut};

use super::packet::Packet;
use crate::error::DecodeError;
use crate::str::Str;

/// The record separator between packets of a polling payload.
pub const SEPARATOR: u8 = 0x1e;

/// Splits a polling payload into packets, lazily. The caller checks the body size limit before
/// calling; this function only bounds the number of packets it yields to `max_packets`.
pub fn decode_payload(body: Bytes, max_packets: usize) -> Result<PayloadIter, DecodeError> {
    let body = Str::from_bytes(body)?;
    if body.is_empty() {
        return Err(DecodeError::Empty);
    }
    Ok(PayloadIter {
        rest: Some(body),
        left: max_packets,
    })
}

/// The packets of a polling payload; see [`decode_payload`].
#[derive(Debug)]
pub struct PayloadIter {
    rest: Option<Str>,
    left: usize,
}

impl Iterator for PayloadIter {
    type Item = Result<Packet, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut rest = self.rest.take()?;
        if self.left == 0 {
            return Some(Err(DecodeError::TooManyPackets));
        }
        self.left -= 1;
        let part = match memchr_sep(rest.as_bytes()) {
            Some(i) => {
                let part = rest.slice_to(i);
                rest = rest.slice_from(i + 1);
                self.rest = Some(rest);
                part
            }
            None => rest,
        };
        Some(decode_part(part))
    }
}

fn memchr_sep(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == SEPARATOR)
}
fn decode_part(part: Str) -> Result<Packet, DecodeError> {
    match part.as_bytes().first() {
        Some(b'b') => {
            let raw = STANDARD
                .decode(&part.as_bytes()[1..])
                .map_err(|_| DecodeError::InvalidBase64)?;
            Ok(Packet::Binary(Bytes::from(raw)))
        }
        _ => Packet::decode_text(part),
    }
}

/// Appends one already-encoded packet to a polling payload under construction: `text` packets
/// are copied as they are (they carry their type digit), binary ones are base64-encoded.
pub fn push_packet(out: &mut BytesMut, packet: &Frameable<'_>) {
    if !out.is_empty() {
        out.put_u8(SEPARATOR);
    }
    match packet {
        Frameable::Text(b) => out.extend_from_slice(b),
        Frameable::Binary(b) => {
            out.put_u8(b'b');
            let start = out.len();
            let len = base64::encoded_len(b.len(), true).unwrap_or(0);
            out.resize(start + len, 0);
            let written = STANDARD
                .encode_slice(b, &mut out[start..])
                .expect("buffer sized with encoded_len");
            out.truncate(start + written);
        }
    }
}

/// An encoded packet as it sits in an outbound queue: text (with its type digit) or binary.
#[derive(Debug, Clone, Copy)]
pub enum Frameable<'a> {
    /// A text packet including its leading type digit.
    Text(&'a [u8]),
    /// A binary message.
    Binary(&'a [u8]),
}

/// Encodes packets as one polling payload.
pub fn encode_payload(packets: &[Packet]) -> Bytes {
    let mut out = BytesMut::new();
    for p in packets {
        match p {
            Packet::Text(..) => push_packet(&mut out, &Frameable::Text(&p.encode())),
            Packet::Binary(b) => push_packet(&mut out, &Frameable::Binary(b)),
        }
    }
    out.freeze()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::engineio::PacketType;

    fn decode_all(body: &'static [u8]) -> Result<Vec<Packet>, DecodeError> {
        decode_payload(Bytes::from_static(body), 100)?.collect()
    }

    #[test]
    fn decodes_mixed_payload() {
        let packets = decode_all(b"4hello\x1ebAQID\x1e2\x1e4").unwrap();
        assert_eq!(
            packets,
            vec![
                Packet::Text(PacketType::Message, Str::from("hello")),
                Packet::Binary(Bytes::from_static(&[1, 2, 3])),
                Packet::Text(PacketType::Ping, Str::from("")),
                Packet::Text(PacketType::Message, Str::from("")),
            ]
        );
        assert_eq!(
            encode_payload(&packets),
            Bytes::from_static(b"4hello\x1ebAQID\x1e2\x1e4")
        );
    }

    #[test]
    fn rejects_bad_payloads() {
        assert_eq!(decode_all(b""), Err(DecodeError::Empty));
        assert_eq!(decode_all(b"4a\x1e"), Err(DecodeError::Empty));
        assert_eq!(decode_all(b"b!!!"), Err(DecodeError::InvalidBase64));
        assert_eq!(decode_all(b"9"), Err(DecodeError::UnknownPacketType));
        let many: Result<Vec<_>, _> = decode_payload(Bytes::from_static(b"4\x1e4\x1e4"), 2)
            .unwrap()
            .collect();
        assert_eq!(many, Err(DecodeError::TooManyPackets));
    }

    fn arb_packet() -> impl Strategy<Value = Packet> {
        prop_oneof![
            (0u8..7, "[^\x1e]{0,40}").prop_map(|(t, s)| Packet::Text(
                PacketType::from_char(b'0' + t).unwrap(),
                Str::from(s.as_str())
            )),
            proptest::collection::vec(any::<u8>(), 0..40)
                .prop_map(|v| Packet::Binary(Bytes::from(v))),
        ]
    }

    proptest! {
        #[test]
        fn payload_round_trip(packets in proptest::collection::vec(arb_packet(), 1..20)) {
            let body = encode_payload(&packets);
            let back: Vec<Packet> = decode_payload(body, 100).unwrap().collect::<Result<_, _>>().unwrap();
            prop_assert_eq!(back, packets);
        }

        #[test]
        fn batched_equals_one_by_one(packets in proptest::collection::vec(arb_packet(), 1..20)) {
            let batched: Vec<Packet> = decode_payload(encode_payload(&packets), 100)
                .unwrap().collect::<Result<_, _>>().unwrap();
            let single: Vec<Packet> = packets.iter()
                .flat_map(|p| decode_payload(encode_payload(std::slice::from_ref(p)), 100).unwrap())
                .collect::<Result<_, _>>().unwrap();
            prop_assert_eq!(batched, single);
        }

        #[test]
        fn decode_never_panics(body in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(iter) = decode_payload(Bytes::from(body), 50) {
                for _ in iter {}
            }
        }
    }
}
