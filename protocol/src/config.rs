//! Server configuration.

use std::time::Duration;

/// Which origins may open sessions from a browser (the `Origin` header).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Cors {
    /// Only pages served from the same host (the `Origin` authority equals `Host`). Requests
    /// without an `Origin` header (non-browser clients) are always allowed.
    #[default]
    SameOrigin,
    /// Any origin (`*`).
    Any,
    /// Exactly these origins, such as `https://example.com`.
    List(Vec<String>),
}

/// How the session cookie is set on the handshake response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cookie {
    /// Cookie name (Engine.IO's default is `io`).
    pub name: String,
    /// Cookie path.
    pub path: String,
    /// Adds `HttpOnly`.
    pub http_only: bool,
    /// The `SameSite` attribute (`Lax`, `Strict` or `None`).
    pub same_site: String,
    /// Adds `Secure`: browsers send the cookie over HTTPS only (needed with `SameSite=None`).
    pub secure: bool,
}

impl Default for Cookie {
    fn default() -> Self {
        Cookie {
            name: "io".into(),
            path: "/".into(),
            http_only: true,
            same_site: "Lax".into(),
            secure: false,
        }
    }
}

/// What a broadcast does with a recipient whose outbound queue is full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SlowConsumer {
    /// Close the recipient's session with [`DisconnectReason::SlowConsumer`](crate::DisconnectReason).
    #[default]
    Disconnect,
    /// Drop the packet for that recipient only.
    Drop,
}

/// The default of [`Config::upgrade_grace`]: 50 ms.
///
/// Measured with a raw client that sends `5` on its WebSocket and at once a GET on another,
/// already connected, HTTP connection (the runtime test
/// `a_get_right_after_the_upgrade_packet_is_refused`, 300 tries a run, 17 runs over the four
/// runtimes, on a 2-core machine idle and with 3, 4 and 8 busy processes beside it): the GET
/// was handled first in about a quarter of the tries (1 in 4 to 1 in 2, depending on the
/// runtime and the load), and the `5` followed it by at most 0.14 ms when idle, 3.8 ms under
/// moderate load, and 24 ms once (tokio, 4 busy processes per core). 50 ms covers twice that
/// and stays half of node's own wait (its engine.io answers a GET during an upgrade on its
/// next 100 ms check only).
///
/// A real client (socket.io-client) never has a GET out when it sends `5`; the grace only
/// delays its upgrade when its last GET reached the server after the probe was answered
/// (it had the noop before `3probe` and polled once more), and then by the grace at most.
pub const DEFAULT_UPGRADE_GRACE: Duration = Duration::from_millis(50);

/// Configuration of a [`Server`](crate::Server). Every setter returns `self` for chaining.
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) ping_interval: Duration,
    pub(crate) ping_timeout: Duration,
    pub(crate) upgrade_timeout: Duration,
    pub(crate) upgrade_grace: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) max_payload: usize,
    pub(crate) polling: bool,
    pub(crate) websocket: bool,
    pub(crate) allow_upgrades: bool,
    pub(crate) cors: Cors,
    pub(crate) cors_credentials: bool,
    pub(crate) cookie: Option<Cookie>,
    pub(crate) max_attachments: usize,
    pub(crate) max_attachment_bytes: usize,
    pub(crate) max_queue_packets: usize,
    pub(crate) max_queue_bytes: usize,
    pub(crate) max_namespaces: usize,
    pub(crate) max_pending_acks: usize,
    pub(crate) max_rooms_per_socket: usize,
    pub(crate) slow_consumer: SlowConsumer,
    pub(crate) engineio_only: bool,
    pub(crate) connection_state_recovery: Option<RecoveryConfig>,
    pub(crate) sid_tag: Option<u8>,
    pub(crate) parser: Parser,
}

/// How Socket.IO packets are written on the wire. The whole server uses one, as
/// python-socketio and node's socket.io do; clients must use the same.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Parser {
    /// The default parser: text packets, binary data as attachment messages.
    #[default]
    Json,
    /// MessagePack, as node's `socket.io-msgpack-parser` and python-socketio's
    /// `serializer='msgpack'`: each packet one binary message, binary data inline (see
    /// [`socketio::msgpack`](crate::socketio::msgpack)).
    MsgPack,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            upgrade_timeout: Duration::from_millis(10_000),
            upgrade_grace: DEFAULT_UPGRADE_GRACE,
            connect_timeout: Duration::from_millis(45_000),
            max_payload: 1_000_000,
            polling: true,
            websocket: true,
            allow_upgrades: true,
            cors: Cors::SameOrigin,
            cors_credentials: false,
            cookie: None,
            max_attachments: 32,
            max_attachment_bytes: 10_000_000,
            max_queue_packets: 65_536,
            max_queue_bytes: 16 << 20,
            max_namespaces: 32,
            max_pending_acks: 4096,
            max_rooms_per_socket: 1024,
            slow_consumer: SlowConsumer::Disconnect,
            engineio_only: false,
            connection_state_recovery: None,
            parser: Parser::Json,
            sid_tag: None,
        }
    }
}

macro_rules! setters {
    ($($(#[$m:meta])* $field:ident: $ty:ty;)*) => {
        impl Config {
            $(
                $(#[$m])*
                pub fn $field(mut self, value: $ty) -> Self {
                    self.$field = value;
                    self
                }
            )*
        }
    };
}

setters! {
    /// Interval between server pings (default 25 s).
    ping_interval: Duration;
    /// How long to wait for the pong after a ping (default 20 s).
    ping_timeout: Duration;
    /// How long an upgrade to WebSocket may take after the WebSocket opened (default 10 s).
    upgrade_timeout: Duration;
    /// How long a polling GET that arrives during an upgrade, after the probe was answered,
    /// is held before its noop (default 50 ms; zero answers it at once). The client's upgrade
    /// packet `5` may be on its way on the WebSocket, read by another task than the GET: when
    /// it arrives meanwhile the GET is refused (400) like any GET after the upgrade, as the
    /// reference server answers a GET sent after `5`. See [`DEFAULT_UPGRADE_GRACE`].
    upgrade_grace: Duration;
    /// How long a new session may stay without a Socket.IO namespace connection (default 45 s).
    connect_timeout: Duration;
    /// Largest polling body or WebSocket message accepted, in bytes (default 1,000,000).
    max_payload: usize;
    /// Whether the long-polling transport is allowed (default true).
    polling: bool;
    /// Whether the WebSocket transport is allowed (default true).
    websocket: bool;
    /// Whether a polling session may upgrade to WebSocket (default true; python-engineio's
    /// `allow_upgrades`). Off, the open packet offers no upgrade and upgrade requests are
    /// refused (400); clients that open a WebSocket directly still may.
    allow_upgrades: bool;
    /// Allowed browser origins (default same origin).
    cors: Cors;
    /// Whether CORS answers allow credentials (`Access-Control-Allow-Credentials: true`, so
    /// that a page of another allowed origin may send its cookies); default false. With
    /// [`Cors::Any`] and credentials on, the request's origin is echoed, which lets every site
    /// make credentialed requests: prefer a list of origins.
    cors_credentials: bool;
    /// The session cookie, off by default.
    cookie: Option<Cookie>;
    /// Largest number of binary attachments one packet may declare (default 32).
    max_attachments: usize;
    /// Largest total size of the attachments of one packet (default 10 MB).
    max_attachment_bytes: usize;
    /// Most packets waiting in one session's outbound queue (default 65,536).
    max_queue_packets: usize;
    /// Most bytes waiting in one session's outbound queue (default 16 MiB).
    max_queue_bytes: usize;
    /// Most namespaces one session may connect to (default 32).
    max_namespaces: usize;
    /// Most acknowledgements one socket may wait for at once (default 4096).
    max_pending_acks: usize;
    /// Most rooms one socket may be in, its own sid's room included (default 1024); joins past
    /// it are refused.
    max_rooms_per_socket: usize;
    /// What a broadcast does to a recipient whose queue is full (default: disconnect it).
    slow_consumer: SlowConsumer;
    /// Plain Engine.IO, without the Socket.IO layer (default false): message packets are not
    /// decoded but arrive as [`Event::EngineMessage`](crate::Event::EngineMessage), are sent
    /// with [`Server::send_message`](crate::Server::send_message), and a session needs no
    /// namespace connection to stay open.
    engineio_only: bool;
    /// Connection state recovery (off by default): a client whose transport dropped and that
    /// reconnects within the window gets its sid and rooms back and the packets it missed.
    /// See [`RecoveryConfig`].
    connection_state_recovery: Option<RecoveryConfig>;
    /// How packets are written on the wire (default [`Parser::Json`]).
    parser: Parser;
    /// A tag (0 to 63) every id this server draws starts with (Engine.IO and Socket.IO sids,
    /// recovery pids), leaving 114 random bits: a driver that runs several servers side by
    /// side (shards) routes a request, an emit to a sid or a recovery to the right one by it
    /// ([`Sid::tag`](crate::Sid::tag)). Default: none, every character random.
    sid_tag: Option<u8>;
}

impl Config {
    /// The configured ping interval.
    pub fn ping_interval_value(&self) -> Duration {
        self.ping_interval
    }

    /// The configured parser.
    pub fn parser_value(&self) -> Parser {
        self.parser
    }

    /// The limits the MessagePack decoder applies, from this configuration.
    pub(crate) fn msgpack_limits(&self) -> crate::socketio::msgpack::MsgpackLimits {
        crate::socketio::msgpack::MsgpackLimits {
            max_attachments: self.max_attachments,
            max_attachment_bytes: self.max_attachment_bytes,
        }
    }

    /// The configured ping timeout.
    pub fn ping_timeout_value(&self) -> Duration {
        self.ping_timeout
    }

    /// The configured max payload.
    pub fn max_payload_value(&self) -> usize {
        self.max_payload
    }

    /// The session cookie, when one is set.
    pub fn cookie_value(&self) -> Option<&Cookie> {
        self.cookie.as_ref()
    }

    /// The configured cap of rooms per socket.
    pub fn max_rooms_per_socket_value(&self) -> usize {
        self.max_rooms_per_socket
    }

    /// The connection state recovery settings, when it is on.
    pub fn connection_state_recovery_value(&self) -> Option<&RecoveryConfig> {
        self.connection_state_recovery.as_ref()
    }
}

/// Connection state recovery, as socket.io's `connectionStateRecovery` option.
///
/// When a socket's transport goes away (transport close or error, ping timeout, slow consumer,
/// server shutting down; not a namespace disconnect by either side, a parse error or a forced
/// close), the server keeps its sid and rooms for
/// [`max_disconnection_duration`](Self::max_disconnection_duration), and each namespace keeps
/// the events it sent for as long, each stamped with an offset. A client that reconnects in
/// time with the private id (`pid`) it got in its CONNECT reply and the offset of the last
/// event it received gets its socket back (same sid, same rooms) and, in order, every event it
/// missed. Every cap is per namespace; what goes over a cap is dropped oldest first, and a
/// client whose position was dropped connects as a new socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveryConfig {
    pub(crate) max_disconnection_duration: Duration,
    pub(crate) max_packets: usize,
    pub(crate) max_bytes: usize,
    pub(crate) max_sessions: usize,
}

impl Default for RecoveryConfig {
    /// A window of 2 minutes (socket.io's default), 10,000 events and 8 MiB per namespace
    /// (below a session's default queue caps, so that one replay fits an empty queue), and
    /// 100,000 disconnected sockets kept per namespace.
    fn default() -> Self {
        RecoveryConfig {
            max_disconnection_duration: Duration::from_secs(120),
            max_packets: 10_000,
            max_bytes: 8 << 20,
            max_sessions: 100_000,
        }
    }
}

impl RecoveryConfig {
    /// How long a disconnected socket's state and the events sent meanwhile are kept
    /// (default 2 minutes).
    pub fn max_disconnection_duration(mut self, value: Duration) -> Self {
        self.max_disconnection_duration = value;
        self
    }

    /// Most events one namespace keeps for replay (default 10,000).
    pub fn max_packets(mut self, value: usize) -> Self {
        self.max_packets = value;
        self
    }

    /// Most bytes (JSON and attachments) of the events one namespace keeps (default 8 MiB).
    /// A replay is queued whole, so keep this under the session queue's byte cap.
    pub fn max_bytes(mut self, value: usize) -> Self {
        self.max_bytes = value;
        self
    }

    /// Most disconnected sockets one namespace keeps for recovery (default 100,000).
    pub fn max_sessions(mut self, value: usize) -> Self {
        self.max_sessions = value;
        self
    }

    /// The configured window.
    pub fn max_disconnection_duration_value(&self) -> Duration {
        self.max_disconnection_duration
    }
}
