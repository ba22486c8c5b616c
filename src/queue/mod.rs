//! Message queues: how several server processes share broadcasts, rooms, disconnects and
//! acknowledgements (Flask-SocketIO's `message_queue`, "Using Multiple Workers"), and how a
//! process with no server emits to the clients of those that have one ("Emitting from an
//! External Process").
//!
//! The default is [`InMemory`]: one process, everything delivered locally. With a message
//! queue, every process publishes the operations whose targets may live elsewhere (emits to
//! everybody, to rooms, to sids it does not hold; room changes and disconnects of sids it does
//! not hold) and applies what the others publish. A process ignores its own messages (each
//! has a random `host_id`).
//!
//! # Backends, chosen by URL and Cargo feature
//!
//! | URL | Cargo feature | transport |
//! |---|---|---|
//! | `redis://host:port/db` | `redis` | Redis pub/sub on the channel |
//! | `amqp://user:pass@host:port/vhost` | `amqp` | RabbitMQ: a non-durable fanout exchange named after the channel, one exclusive queue per process |
//! | `nats://host:port` | `nats` | NATS: the channel is the subject |
//!
//! ```no_run
//! # fn main() -> Result<(), sockio::queue::QueueError> {
//! let io = sockio::SocketIo::builder()
//!     .message_queue_url("redis://127.0.0.1:6379")
//!     .channel("flask-socketio")      // the default, as in Flask-SocketIO
//!     .try_build()?;
//! # Ok(()) }
//! ```
//!
//! # Wire format: python-socketio's, so mixed clusters work
//!
//! Messages are python-socketio's (>= 5.14) pub/sub JSON objects: `method` (`emit`,
//! `callback`, `disconnect`, `enter_room`, `leave_room`, `close_room`), `event`, `data`,
//! `namespace`, `room` (a string, a list or null), `skip_sid` (a string, a list or null),
//! `callback` (`[sid, namespace, id]`), `host_id`; binary arguments as `binary: true` with
//! `data = [arguments with placeholders, base64 attachments...]`. So a python-socketio or
//! Flask-SocketIO process (server or write-only) and sockio processes share a channel. The
//! Kombu (AMQP) manager's double encoding (a JSON string holding the JSON object) is read too.
//! Python pickle is never published and never unpickled: such a message is logged and
//! dropped. sockio adds two keys python ignores: `except` (rooms left out) and `volatile`;
//! binary acknowledgement arguments (which python-socketio cannot publish) travel like binary
//! emit data. As python-socketio's receivers do, an emit whose only argument is `null` reaches
//! clients with no argument.
//!
//! With Redis, node's `@socket.io/redis-emitter` (msgpack `["emitter", packet, {rooms,
//! except, flags}]` on `socket.io#<nsp>#` and `socket.io#<nsp>#<room>#`) reaches sockio
//! clients as well, binary included, and so do its `socketsJoin`, `socketsLeave` and
//! `disconnectSockets` requests (JSON on `socket.io-request#<nsp>#`); see
//! [`QueueOptions::node_emitter_key`].
//!
//! # Where the queue runs
//!
//! Each backend runs on its own background thread with a small single-threaded tokio
//! runtime, whatever runtime serves the clients (tokio, async-std, threads). The broker
//! clients (redis, lapin, async-nats) are async and tokio-based; giving them their own thread
//! means that the async-std and threaded builds use the same code, that a blocked or slow
//! broker never stalls the server's runtime, and that an emit-only handle works from a plain
//! `fn main` with no runtime at all. Emits hand the message to that thread through a bounded
//! outbox and return at once; messages from the broker are applied to the local server
//! there (each application is a short critical section of the driver, as for any input).
//!
//! # Faults
//!
//! When the broker goes away, the queue thread reconnects with exponential backoff (from
//! [`QueueOptions::reconnect_min`] to [`QueueOptions::reconnect_max`]), local clients keep
//! being served, and one warning is logged per outage, then an info on recovery. Messages
//! published meanwhile wait in the outbox (up to [`QueueOptions::outbox_capacity`]) and go
//! out on reconnection; when the outbox is full the emit fails with
//! [`EmitError::Queue`](crate::EmitError::Queue). Messages other processes published during
//! the outage are not replayed (pub/sub has no history).
//!
//! # Emit-only handles
//!
//! A [`SocketIo`](crate::SocketIo) built with [`write_only`](crate::SocketIoBuilder::write_only)
//! serves nobody and subscribes to nothing: `emit`, `send`, `to(room)`, `skip_sid`,
//! `namespace`, `close_room`, `enter_room`/`leave_room` and `disconnect` by sid are published
//! for the servers (like `SocketIO(message_queue='redis://')` in Flask-SocketIO).
//! [`write_only_blocking`](crate::SocketIoBuilder::write_only_blocking) makes each of them
//! wait until the broker took the message and report failure, for a cron job's `fn main`.

use std::sync::{Arc, Weak};
use std::time::Duration;

use sockio_protocol::Payload;

use crate::engine::{AckError, Engine};
use crate::Args;

mod apply;
// The codecs are used by the broker backends; their unit tests run in every build.
#[cfg_attr(not(feature = "queue-thread"), allow(dead_code))]
mod node;
mod wire;

#[cfg(feature = "queue-thread")]
mod pubsub;

#[cfg(feature = "amqp")]
mod amqp;
#[cfg(feature = "nats")]
mod nats;
#[cfg(feature = "redis")]
mod redis;

/// The channel (Redis channel, AMQP exchange, NATS subject) used unless set otherwise, as in
/// Flask-SocketIO.
pub const DEFAULT_CHANNEL: &str = "flask-socketio";

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
        /// The encoded event: `["event", args...]` and its attachments.
        payload: Payload,
        /// May be dropped for clients not ready to receive it.
        volatile: bool,
        /// Where the recipient's acknowledgement goes, for an emit with a callback.
        callback: Option<RemoteAck>,
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
    /// The clients selected by rooms and exclusions join more rooms (node's `socketsJoin`,
    /// from `@socket.io/redis-emitter`).
    JoinRooms {
        /// The namespace.
        namespace: String,
        /// Rooms whose members are selected; empty for the whole namespace.
        rooms: Vec<String>,
        /// Rooms whose members are left out.
        except: Vec<String>,
        /// The rooms to join.
        join: Vec<String>,
    },
    /// The clients selected by rooms and exclusions leave rooms (node's `socketsLeave`).
    LeaveRooms {
        /// The namespace.
        namespace: String,
        /// Rooms whose members are selected; empty for the whole namespace.
        rooms: Vec<String>,
        /// Rooms whose members are left out.
        except: Vec<String>,
        /// The rooms to leave.
        leave: Vec<String>,
    },
    /// The clients selected by rooms and exclusions are disconnected (node's
    /// `disconnectSockets`).
    DisconnectSockets {
        /// The namespace.
        namespace: String,
        /// Rooms whose members are selected; empty for the whole namespace.
        rooms: Vec<String>,
        /// Rooms whose members are left out.
        except: Vec<String>,
        /// Close their whole connection, not only this namespace.
        close: bool,
    },
    /// A client's acknowledgement, on its way back to the process that asked for it.
    Callback {
        /// The process that emitted (python-socketio's `host_id` of a callback message).
        host_id: String,
        /// The client (python-socketio's room of the emit).
        sid: String,
        /// The namespace.
        namespace: String,
        /// The id the emitting process gave the callback.
        id: u64,
        /// The acknowledgement's arguments: `[args...]` and attachments.
        args: Payload,
    },
}

/// Where an acknowledgement of a remote emit goes back to (python-socketio's
/// `callback = [room, namespace, id]` together with the emit's `host_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteAck {
    /// The emitting process.
    pub host_id: String,
    /// The client addressed.
    pub sid: String,
    /// The namespace.
    pub namespace: String,
    /// The emitting process's id for this callback.
    pub id: u64,
}

/// A message queue could not take or deliver a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct QueueError(pub String);

impl QueueError {
    pub(crate) fn new(msg: impl Into<String>) -> Self {
        QueueError(msg.into())
    }
}

/// The callback of an emit whose acknowledgement comes from another process.
pub type AckHandler = Box<dyn FnOnce(Result<Args, AckError>) + Send>;

/// A cross-process backend. Each process publishes the operations whose targets may live
/// elsewhere and applies what the others publish through the [`QueueSink`] given to
/// [`start`](Self::start).
pub trait MessageQueue: Send + Sync + 'static {
    /// A short name for logs (`memory`, `redis`, …).
    fn name(&self) -> &'static str;

    /// True when there are no other processes, so nothing needs publishing.
    fn is_local(&self) -> bool {
        false
    }

    /// True for an emit-only handle: it has no clients of its own, so emits only publish.
    fn is_write_only(&self) -> bool {
        false
    }

    /// This process's id on the queue (python-socketio's `host_id`), if it has one.
    fn host_id(&self) -> Option<&str> {
        None
    }

    /// Sends an operation to the other processes.
    fn publish(&self, message: &QueueMessage) -> Result<(), QueueError>;

    /// Sends an [`Emit`](QueueMessage::Emit) for one client on another process and calls
    /// `callback` with its acknowledgement, or with [`AckError::Timeout`] after `timeout`.
    fn publish_with_ack(
        &self,
        message: &QueueMessage,
        callback: AckHandler,
        timeout: Duration,
    ) -> Result<(), QueueError> {
        let _ = (message, callback, timeout);
        Err(QueueError::new(format!(
            "the {} message queue does not carry acknowledgements",
            self.name()
        )))
    }

    /// Starts applying the other processes' messages to this process's server.
    fn start(&self, sink: QueueSink) {
        let _ = sink;
    }

    /// Whether the queue is connected to its broker (and subscribed, unless write-only).
    fn is_connected(&self) -> bool {
        true
    }

    /// Waits up to `timeout` for [`is_connected`](Self::is_connected); true if it is.
    fn wait_connected(&self, timeout: Duration) -> bool {
        let _ = timeout;
        self.is_connected()
    }

    /// Waits up to `timeout` until everything published so far reached the broker.
    fn flush(&self, timeout: Duration) -> Result<(), QueueError> {
        let _ = timeout;
        Ok(())
    }
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

/// Applies other processes' messages to one server; given to [`MessageQueue::start`].
///
/// Holds the server weakly: once every [`SocketIo`](crate::SocketIo) handle is gone,
/// [`apply`](Self::apply) does nothing and [`is_alive`](Self::is_alive) turns false.
#[derive(Clone)]
pub struct QueueSink {
    engine: Weak<Engine>,
}

impl std::fmt::Debug for QueueSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueSink")
            .field("alive", &self.is_alive())
            .finish()
    }
}

impl QueueSink {
    pub(crate) fn new(engine: &Arc<Engine>) -> Self {
        QueueSink {
            engine: Arc::downgrade(engine),
        }
    }

    /// Whether the server still exists.
    pub fn is_alive(&self) -> bool {
        self.engine.strong_count() > 0
    }

    /// Applies one operation published by another process to this process's clients.
    /// [`Callback`](QueueMessage::Callback)s belong to the queue that published the emit
    /// and are ignored here.
    pub fn apply(&self, message: QueueMessage) {
        if let Some(engine) = self.engine.upgrade() {
            apply::apply(&engine, message);
        }
    }
}

/// Options of a URL-selected message queue; see [`connect`] and the
/// [`SocketIoBuilder`](crate::SocketIoBuilder) methods that set them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueOptions {
    /// The channel (default `flask-socketio`): a Redis channel, an AMQP fanout exchange, a
    /// NATS subject. Every process of a cluster must use the same one.
    pub channel: String,
    /// Publish only: no subscription, no clients (an emit-only handle).
    pub write_only: bool,
    /// Each publish waits until the broker took the message (or `publish_timeout` passed)
    /// and reports failure to the caller. Took: Redis answered the PUBLISH, RabbitMQ
    /// confirmed it (publisher confirms), the NATS client flushed it to the server.
    pub blocking: bool,
    /// How long a blocking publish or a flush waits (default 5 s).
    pub publish_timeout: Duration,
    /// Messages waiting for the broker, at most (default 65,536); beyond, publishing fails.
    pub outbox_capacity: usize,
    /// First reconnection delay (default 100 ms), doubled after each failed attempt...
    pub reconnect_min: Duration,
    /// ...up to this (default 5 s).
    pub reconnect_max: Duration,
    /// Redis only: also apply node `@socket.io/redis-emitter` messages published with this key
    /// (default `socket.io`, the emitter's default); `None` to ignore them.
    pub node_emitter_key: Option<String>,
}

impl Default for QueueOptions {
    fn default() -> Self {
        QueueOptions {
            channel: DEFAULT_CHANNEL.into(),
            write_only: false,
            blocking: false,
            publish_timeout: Duration::from_secs(5),
            outbox_capacity: 65_536,
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(5),
            node_emitter_key: Some("socket.io".into()),
        }
    }
}

/// The kind of broker a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueueKind {
    /// `redis://`, `rediss://`, `unix://` (feature `redis`).
    Redis,
    /// `amqp://`, `amqps://` (feature `amqp`).
    Amqp,
    /// `nats://`, `tls://` (feature `nats`).
    Nats,
}

impl QueueKind {
    /// The kind of message queue a URL selects, by its scheme.
    pub fn from_url(url: &str) -> Result<Self, QueueError> {
        let scheme = url
            .split_once("://")
            .map(|(s, _)| s.to_ascii_lowercase())
            .ok_or_else(|| QueueError::new(format!("not a message queue URL: {url:?}")))?;
        match scheme.as_str() {
            "redis" | "rediss" | "unix" | "redis+unix" => Ok(QueueKind::Redis),
            "amqp" | "amqps" | "pyamqp" => Ok(QueueKind::Amqp),
            "nats" | "tls" => Ok(QueueKind::Nats),
            other => Err(QueueError::new(format!(
                "unsupported message queue scheme {other:?} (redis://, amqp://, nats://)"
            ))),
        }
    }
}

/// Creates the message queue a URL names, with `options`. Nothing is connected yet: the
/// queue connects in the background (and keeps reconnecting), so a broker that is down at
/// start is not an error here; a malformed URL, an unsupported scheme, or a backend whose
/// Cargo feature is off is.
pub fn connect(url: &str, options: QueueOptions) -> Result<Arc<dyn MessageQueue>, QueueError> {
    if options.channel.is_empty() {
        return Err(QueueError::new("the message queue channel is empty"));
    }
    // The broker clients are built without TLS (`rediss://` fails in the Redis client).
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    if matches!(scheme.as_deref(), Some("amqps" | "tls")) {
        return Err(QueueError::new(format!(
            "TLS message queue URLs are not supported yet: {}",
            redact(url)
        )));
    }
    let url = &*with_default_host(url);
    match QueueKind::from_url(url)? {
        QueueKind::Redis => {
            #[cfg(feature = "redis")]
            {
                redis::connect(url, options)
            }
            #[cfg(not(feature = "redis"))]
            {
                let _ = options;
                Err(QueueError::new(
                    "this URL needs sockio's `redis` Cargo feature",
                ))
            }
        }
        QueueKind::Amqp => {
            #[cfg(feature = "amqp")]
            {
                amqp::connect(url, options)
            }
            #[cfg(not(feature = "amqp"))]
            {
                let _ = options;
                Err(QueueError::new(
                    "this URL needs sockio's `amqp` Cargo feature",
                ))
            }
        }
        QueueKind::Nats => {
            #[cfg(feature = "nats")]
            {
                nats::connect(url, options)
            }
            #[cfg(not(feature = "nats"))]
            {
                let _ = options;
                Err(QueueError::new(
                    "this URL needs sockio's `nats` Cargo feature",
                ))
            }
        }
    }
}

/// A URL without a host (`redis://`, `amqp://guest:guest@/`, `nats://:4222`) names the broker
/// on this machine, as Flask-SocketIO's `message_queue='redis://'` does: `127.0.0.1` and the
/// scheme's default port are filled in.
fn with_default_host(url: &str) -> std::borrow::Cow<'_, str> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.into();
    };
    let port = match scheme.to_ascii_lowercase().as_str() {
        "redis" | "rediss" => 6379,
        "amqp" | "amqps" => 5672,
        "nats" | "tls" => 4222,
        _ => return url.into(),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, host) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let host = if host.is_empty() {
        format!("127.0.0.1:{port}")
    } else if host.starts_with(':') {
        format!("127.0.0.1{host}")
    } else {
        return url.into();
    };
    let userinfo = userinfo.map(|u| format!("{u}@")).unwrap_or_default();
    format!("{scheme}://{userinfo}{host}{tail}").into()
}

/// Encodes an operation as python-socketio's pub/sub JSON, published by process `host_id`:
/// for a [`MessageQueue`] over another transport that python-socketio processes share.
pub fn encode_json(message: &QueueMessage, host_id: &str) -> Result<Vec<u8>, QueueError> {
    wire::encode(message, host_id)
}

/// Decodes python-socketio's pub/sub JSON (also double-encoded, as Kombu publishes it) into
/// the sender's `host_id` (for a [`Callback`](QueueMessage::Callback), the process it is for)
/// and the operation. Pickle is refused; `content_type` helps recognise it.
///
/// ```
/// use sockio::queue::{decode_json, QueueMessage};
///
/// let body = br#"{"method": "close_room", "room": "lobby", "namespace": "/", "host_id": "py1"}"#;
/// let (host, op) = decode_json(body, Some("application/json")).unwrap();
/// assert_eq!(host.as_deref(), Some("py1"));
/// assert!(matches!(op, QueueMessage::CloseRoom { room, .. } if room == "lobby"));
/// ```
pub fn decode_json(
    body: &[u8],
    content_type: Option<&str>,
) -> Result<(Option<String>, QueueMessage), QueueError> {
    wire::decode(body, content_type).map_err(|e| QueueError::new(e.to_string()))
}

/// A URL without its password, for logs.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some((a, h)) => (Some(a), h),
        None => (None, rest),
    };
    match auth {
        Some(a) => {
            let user = a.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_select_backends() {
        assert_eq!(
            QueueKind::from_url("redis://127.0.0.1:6379/0"),
            Ok(QueueKind::Redis)
        );
        assert_eq!(QueueKind::from_url("REDISS://x"), Ok(QueueKind::Redis));
        assert_eq!(
            QueueKind::from_url("amqp://guest:guest@localhost:5672//"),
            Ok(QueueKind::Amqp)
        );
        assert_eq!(QueueKind::from_url("nats://h:4222"), Ok(QueueKind::Nats));
        assert!(QueueKind::from_url("kafka://h").is_err());
        assert!(QueueKind::from_url("redis").is_err());
    }

    #[test]
    fn urls_without_a_host_name_this_machine() {
        assert_eq!(with_default_host("redis://"), "redis://127.0.0.1:6379");
        assert_eq!(with_default_host("redis:///2"), "redis://127.0.0.1:6379/2");
        assert_eq!(with_default_host("redis://:6380"), "redis://127.0.0.1:6380");
        assert_eq!(
            with_default_host("redis://:secret@/0"),
            "redis://:secret@127.0.0.1:6379/0"
        );
        assert_eq!(
            with_default_host("amqp://guest:guest@//"),
            "amqp://guest:guest@127.0.0.1:5672//"
        );
        assert_eq!(with_default_host("nats://"), "nats://127.0.0.1:4222");
        assert_eq!(with_default_host("redis://h:1/0"), "redis://h:1/0");
        assert_eq!(
            with_default_host("unix:///tmp/r.sock"),
            "unix:///tmp/r.sock"
        );
    }

    /// Flask-SocketIO's `message_queue='redis://'` is accepted (it used to fail with "bad
    /// Redis URL: Missing hostname").
    #[cfg(feature = "redis")]
    #[test]
    fn a_bare_redis_url_is_accepted() {
        let queue = connect("redis://", QueueOptions::default());
        assert!(queue.is_ok(), "{:?}", queue.err());
    }

    #[test]
    fn passwords_stay_out_of_logs() {
        assert_eq!(
            redact("amqp://guest:secret@localhost:5672/%2f"),
            "amqp://guest:***@localhost:5672/%2f"
        );
        assert_eq!(redact("redis://h:6379"), "redis://h:6379");
    }

    #[test]
    fn tls_urls_are_refused_up_front() {
        assert!(connect("amqps://h:5671", QueueOptions::default()).is_err());
        assert!(connect("tls://h:4222", QueueOptions::default()).is_err());
        assert!(connect("rediss://h:6380", QueueOptions::default()).is_err());
    }

    #[test]
    fn an_empty_channel_is_refused() {
        let options = QueueOptions {
            channel: String::new(),
            ..QueueOptions::default()
        };
        assert!(connect("redis://127.0.0.1:6379", options).is_err());
    }
}
