//! Message queues: how several server processes share broadcasts and rooms (Flask-SocketIO's
//! `message_queue`). The default is [`InMemory`]: one process, everything delivered locally.

use sockio_protocol::Payload;

/// An operation that must reach every server process.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueueMessage {
    /// An event for the clients selected by rooms and exclusions.
    Emit {
        /// The namespace.
        namespace: String,
        /// Rooms (or sids); empty for the whole namespace.
        rooms: Vec<String>,
        /// Rooms left out.
        except: Vec<String>,
        /// Sids left out.
        skip: Vec<String>,
        /// The encoded event.
        payload: Payload,
    },
    /// A client joins a room.
    EnterRoom {
        /// The client.
        sid: String,
        /// The namespace.
        namespace: String,
        /// The room.
        room: String,
    },
    /// A client leaves a room.
    LeaveRoom {
        /// The client.
        sid: String,
        /// The namespace.
        namespace: String,
        /// The room.
        room: String,
    },
    /// Everybody leaves a room.
    CloseRoom {
        /// The namespace.
        namespace: String,
        /// The room.
        room: String,
    },
    /// A client is disconnected from a namespace.
    Disconnect {
        /// The client.
        sid: String,
        /// The namespace.
        namespace: String,
    },
}

/// A queue could not take a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct QueueError(pub String);

/// A cross-process backend. Each process publishes the operations whose targets may live
/// elsewhere and applies what the others publish.
pub trait MessageQueue: Send + Sync + 'static {
    /// A short name for logs (`memory`, `redis`, …).
    fn name(&self) -> &'static str;

    /// True when there are no other processes, so nothing needs publishing.
    fn is_local(&self) -> bool {
        false
    }

    /// Sends an operation to the other processes.
    fn publish(&self, message: &QueueMessage) -> Result<(), QueueError>;
}

/// The single-process default: every client is local, so nothing is published.
#[derive(Debug, Default, Clone, Copy)]
pub struct InMemory;

impl MessageQueue for InMemory {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn is_local(&self) -> bool {
        true
    }

    fn publish(&self, _: &QueueMessage) -> Result<(), QueueError> {
        Ok(())
    }
}
