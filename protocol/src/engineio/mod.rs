//! Engine.IO v4: packets, polling payloads and the per-session transport state machine.

pub mod packet;
pub mod payload;
pub(crate) mod session;

pub use packet::{Packet, PacketType};
pub use payload::{decode_payload, encode_payload, PayloadIter};
