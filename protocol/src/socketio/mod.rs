//! Socket.IO v5: packets, binary attachments, rooms.

pub mod binary;
pub mod broadcast;
pub mod json;
pub(crate) mod json_scan;
pub mod msgpack;
pub mod packet;
pub(crate) mod recovery;
pub(crate) mod rooms;
pub mod socket;

pub use binary::{is_placeholder, placeholder, Reassembly};
pub use broadcast::{Broadcast, BroadcastReport};
pub use json::RawJson;
pub use packet::{Packet, PacketKind};
pub use recovery::{RecoveryData, RecoveryStats, RecoveryTransfer};
pub use socket::{EmitError, RoomsFull, SocketMut};
