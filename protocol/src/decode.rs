//! Decoding ahead of the server: [`Decoded`] and [`DecodedBody`].
//!
//! Turning a WebSocket message or a polling body into Engine.IO and Socket.IO packets depends
//! on nothing but the bytes and a few limits, so a driver that shares one [`Server`] between
//! threads does it on the thread that read the bytes, before it takes the server, and feeds
//! the result with [`Input::WebSocketDecoded`] or [`Input::HttpRequestDecoded`]. The server
//! then does only what depends on its state. Feeding undecoded input
//! ([`Input::WebSocketMessage`], [`Input::HttpRequest`]) gives the same outputs.
//!
//! [`Server`]: crate::Server
//! [`Input::WebSocketDecoded`]: crate::Input::WebSocketDecoded
//! [`Input::HttpRequestDecoded`]: crate::Input::HttpRequestDecoded
//! [`Input::WebSocketMessage`]: crate::Input::WebSocketMessage
//! [`Input::HttpRequest`]: crate::Input::HttpRequest

use bytes::Bytes;

use crate::config::Config;
use crate::engineio::payload::decode_payload;
use crate::engineio::{Packet as EioPacket, PacketType};
use crate::error::DecodeError;
use crate::http::Frame;
use crate::socketio::binary::Attachments;
use crate::socketio::msgpack::MsgpackLimits;
use crate::socketio::packet::Limits;
use crate::socketio::Packet as SioPacket;

/// What decoding needs from a server's [`Config`].
#[derive(Clone, Copy, Debug)]
pub struct DecodeLimits {
    pub(crate) max_payload: usize,
    pub(crate) max_attachments: usize,
    pub(crate) engineio_only: bool,
    /// With the MessagePack parser, its limits: binary messages are its packets.
    pub(crate) msgpack: Option<MsgpackLimits>,
}

impl Config {
    /// The limits [`Decoded::new`] and [`DecodedBody::new`] apply, from this configuration.
    pub fn decode_limits(&self) -> DecodeLimits {
        DecodeLimits {
            max_payload: self.max_payload,
            max_attachments: self.max_attachments,
            engineio_only: self.engineio_only,
            msgpack: (self.parser == crate::Parser::MsgPack && !self.engineio_only)
                .then(|| self.msgpack_limits()),
        }
    }
}

/// One Engine.IO packet, and the Socket.IO packet inside it when it is a text message (or,
/// with the MessagePack parser, a binary one).
#[derive(Debug)]
pub struct Decoded {
    pub(crate) eio: Result<EioPacket, DecodeError>,
    pub(crate) sio: Option<Result<SioPacket, DecodeError>>,
    /// A MessagePack packet and its binary data (boxed: a `Decoded` is moved on its way to
    /// the core, and text packets, the common ones, have none).
    pub(crate) inline: Option<Box<Result<(SioPacket, Attachments), DecodeError>>>,
    pub(crate) too_large: bool,
}

impl Decoded {
    /// Decodes a WebSocket message.
    pub fn new(limits: &DecodeLimits, frame: Frame) -> Decoded {
        let too_large = frame.len() > limits.max_payload;
        if too_large {
            return Decoded {
                eio: Err(DecodeError::PayloadTooLarge {
                    size: frame.len(),
                    max: limits.max_payload,
                }),
                sio: None,
                inline: None,
                too_large,
            };
        }
        let eio = match frame {
            Frame::Text(b) => EioPacket::decode_text_bytes(b),
            Frame::Binary(b) => Ok(EioPacket::Binary(b)),
        };
        Decoded::packet(limits, eio)
    }

    /// When this is a Socket.IO CONNECT, its namespace and auth payload (a driver with several
    /// servers looks for a recovery `pid` in it: see
    /// [`Server::export_recovery`](crate::Server::export_recovery)).
    pub fn connect_auth(&self) -> Option<(&str, &crate::socketio::RawJson)> {
        let packet = match (&self.sio, self.inline.as_deref()) {
            (Some(Ok(p)), _) | (_, Some(Ok((p, _)))) => p,
            _ => return None,
        };
        match packet {
            p if p.kind == crate::socketio::PacketKind::Connect => {
                Some((p.namespace.as_str(), p.data.as_ref()?))
            }
            _ => None,
        }
    }

    pub(crate) fn packet(limits: &DecodeLimits, eio: Result<EioPacket, DecodeError>) -> Decoded {
        let sio = match &eio {
            Ok(EioPacket::Text(PacketType::Message, text)) if !limits.engineio_only => {
                let limits = Limits {
                    max_attachments: limits.max_attachments,
                };
                Some(SioPacket::decode(text, limits))
            }
            _ => None,
        };
        let inline = match (&eio, limits.msgpack) {
            (Ok(EioPacket::Binary(b)), Some(l)) => {
                Some(Box::new(crate::socketio::msgpack::decode(b, l)))
            }
            _ => None,
        };
        Decoded {
            eio,
            sio,
            inline,
            too_large: false,
        }
    }
}

/// The packets of a long-polling POST body.
#[derive(Debug)]
pub struct DecodedBody {
    pub(crate) packets: Result<Vec<Decoded>, DecodeError>,
    pub(crate) too_large: bool,
}

impl DecodedBody {
    /// The packets, when the body decoded.
    pub fn packets(&self) -> &[Decoded] {
        self.packets.as_deref().unwrap_or_default()
    }

    /// Decodes a polling payload.
    pub fn new(limits: &DecodeLimits, body: Bytes) -> DecodedBody {
        if body.len() > limits.max_payload {
            return DecodedBody {
                packets: Err(DecodeError::PayloadTooLarge {
                    size: body.len(),
                    max: limits.max_payload,
                }),
                too_large: true,
            };
        }
        // Each packet is at least one byte plus a separator.
        let packets = decode_payload(body, limits.max_payload / 2 + 1)
            .map(|iter| iter.map(|p| Decoded::packet(limits, p)).collect());
        DecodedBody {
            packets,
            too_large: false,
        }
    }
}
