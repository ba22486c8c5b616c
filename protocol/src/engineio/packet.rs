//! Engine.IO packets.
//!
//! A text packet is one ASCII digit naming its type followed by its data; a binary packet (over
//! WebSocket a binary frame, over polling `b` + base64) is always a message.

use bytes::Bytes;

use crate::error::DecodeError;
use crate::str::Str;

/// The seven Engine.IO packet types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum PacketType {
    /// `0`: sent by the server on a new session.
    Open,
    /// `1`: the transport or session is closing.
    Close,
    /// `2`: heartbeat or upgrade probe.
    Ping,
    /// `3`: answer to a ping.
    Pong,
    /// `4`: application data.
    Message,
    /// `5`: the client finished the upgrade to WebSocket.
    Upgrade,
    /// `6`: no operation, used to release a parked polling request.
    Noop,
}

impl PacketType {
    /// The ASCII digit of this type.
    pub const fn as_char(self) -> u8 {
        match self {
            PacketType::Open => b'0',
            PacketType::Close => b'1',
            PacketType::Ping => b'2',
            PacketType::Pong => b'3',
            PacketType::Message => b'4',
            PacketType::Upgrade => b'5',
            PacketType::Noop => b'6',
        }
    }

    /// Parses the ASCII digit of a type.
    pub const fn from_char(c: u8) -> Result<Self, DecodeError> {
        Ok(match c {
            b'0' => PacketType::Open,
            b'1' => PacketType::Close,
            b'2' => PacketType::Ping,
            b'3' => PacketType::Pong,
            b'4' => PacketType::Message,
            b'5' => PacketType::Upgrade,
            b'6' => PacketType::Noop,
            _ => return Err(DecodeError::UnknownPacketType),
        })
    }
}

/// One Engine.IO packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Packet {
    /// A packet of any type with text data (possibly empty).
    Text(PacketType, Str),
    /// A binary message.
    Binary(Bytes),
}

impl Packet {
    /// Decodes a text packet (a WebSocket text frame, or one element of a polling payload).
    pub fn decode_text(data: Str) -> Result<Self, DecodeError> {
        let first = *data.as_bytes().first().ok_or(DecodeError::Empty)?;
        let kind = PacketType::from_char(first)?;
        Ok(Packet::Text(kind, data.slice_from(1)))
    }

    /// Decodes a text packet from bytes that still need UTF-8 validation.
    pub fn decode_text_bytes(data: Bytes) -> Result<Self, DecodeError> {
        Self::decode_text(Str::from_bytes(data)?)
    }

    /// The packet type (binary packets are messages).
    pub fn kind(&self) -> PacketType {
        match self {
            Packet::Text(kind, _) => *kind,
            Packet::Binary(_) => PacketType::Message,
        }
    }

    /// Encodes a text packet into a fresh buffer; binary packets are returned as they are.
    pub fn encode(&self) -> Bytes {
        match self {
            Packet::Text(kind, data) => {
                let mut out = Vec::with_capacity(data.len() + 1);
                out.push(kind.as_char());
                out.extend_from_slice(data.as_bytes());
                Bytes::from(out)
            }
            Packet::Binary(b) => b.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_type() {
        for (c, kind) in [
            ("0", PacketType::Open),
            ("1", PacketType::Close),
            ("2probe", PacketType::Ping),
            ("3", PacketType::Pong),
            ("4hello", PacketType::Message),
            ("5", PacketType::Upgrade),
            ("6", PacketType::Noop),
        ] {
            let p = Packet::decode_text_bytes(Bytes::from(c)).unwrap();
            assert_eq!(p.kind(), kind);
            assert_eq!(p.encode(), Bytes::from(c));
        }
    }

    #[test]
    fn rejects_bad_packets() {
        assert_eq!(
            Packet::decode_text_bytes(Bytes::new()),
            Err(DecodeError::Empty)
        );
        assert_eq!(
            Packet::decode_text_bytes(Bytes::from("7")),
            Err(DecodeError::UnknownPacketType)
        );
        assert_eq!(
            Packet::decode_text_bytes(Bytes::from_static(b"4\xff")),
            Err(DecodeError::InvalidUtf8)
        );
    }
}
