//! The [`Server`]: inputs in, outputs out, nothing else.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use serde_json::Value;
use smallvec::SmallVec;

use crate::config::{Config, Cors};
use crate::engineio::session::{OutPacket, Parked, Phase, Session, Transport};
use crate::engineio::{Packet as EioPacket, PacketType};
use crate::hash::{HandleMap, HandleSet};
use crate::http::{Frame, HttpRequest, HttpResponse, Method};
use crate::id::{AckId, Entropy, Namespace, Room, SessionHandle, Sid, SocketId, TransportHandle};
use crate::slab::Slab;
use crate::socketio::binary::Attachments;
use crate::socketio::packet::{encode_header, Limits};
use crate::socketio::recovery::{Recovery, Restoring};
use crate::socketio::rooms::RoomsIndex;
use crate::socketio::{Packet as SioPacket, PacketKind, Reassembly};
use crate::str::Str;
use crate::time::{TimerHeap, TimerKind};

mod invariants;

/// How far away "no deadline" is: the [`Output::Timeout`] of an idle server.
const FAR_FUTURE: Duration = Duration::from_secs(60 * 60 * 24 * 365);

/// Everything that can happen to the server from the outside. Every variant carries the time it
/// happened; time never goes backwards inside the server (earlier instants are clamped).
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // inputs are built once and moved in; boxing buys nothing
pub enum Input {
    /// An HTTP request on the Engine.IO path that is not a WebSocket upgrade. Exactly one
    /// [`Transmit::Http`] answers it, at once or later (a parked long-polling GET).
    HttpRequest {
        /// When it arrived.
        now: Instant,
        /// The driver's number for this request.
        transport: TransportHandle,
        /// The request.
        request: HttpRequest,
    },
    /// A WebSocket on the Engine.IO path finished its opening handshake.
    WebSocketOpen {
        /// When it opened.
        now: Instant,
        /// The driver's number for this WebSocket.
        transport: TransportHandle,
        /// The request that opened it.
        request: HttpRequest,
    },
    /// A data message arrived on a WebSocket.
    WebSocketMessage {
        /// When it arrived.
        now: Instant,
        /// Which WebSocket.
        transport: TransportHandle,
        /// The message.
        frame: Frame,
    },
    /// A data message arrived on a WebSocket, decoded ahead with [`Decoded::new`] (on the task
    /// that read it, without the server): the same as [`Input::WebSocketMessage`] with the
    /// decoding done.
    ///
    /// [`Decoded::new`]: crate::Decoded::new
    WebSocketDecoded {
        /// When it arrived.
        now: Instant,
        /// Which WebSocket.
        transport: TransportHandle,
        /// The decoded message.
        message: crate::Decoded,
    },
    /// An HTTP request whose body (a long-polling POST's payload) was decoded ahead with
    /// [`DecodedBody::new`]: the same as [`Input::HttpRequest`] with the decoding done (the
    /// request's own `body` is not read).
    ///
    /// [`DecodedBody::new`]: crate::DecodedBody::new
    HttpRequestDecoded {
        /// When it arrived.
        now: Instant,
        /// The driver's number for this request.
        transport: TransportHandle,
        /// The request (its head).
        request: HttpRequest,
        /// Its body, decoded.
        body: crate::DecodedBody,
    },
    /// The driver cannot take more frames for this WebSocket now (its write buffer is full).
    /// Data for the session then waits in the session's queue, under its caps (a full queue
    /// means the slow-consumer policy); control packets still go.
    WebSocketBlocked {
        /// When it was noticed.
        now: Instant,
        /// Which WebSocket.
        transport: TransportHandle,
    },
    /// A blocked WebSocket can take frames again: what waits is transmitted.
    WebSocketWritable {
        /// When it was noticed.
        now: Instant,
        /// Which WebSocket.
        transport: TransportHandle,
    },
    /// A WebSocket closed, or the peer of a parked polling request went away.
    TransportClosed {
        /// When it was noticed.
        now: Instant,
        /// Which transport.
        transport: TransportHandle,
    },
    /// Time passed. Safe to deliver early, late or more than once.
    Timeout(Instant),
}

/// What the server asks of its driver. Drain with [`Server::poll_output`] until `Timeout`.
#[derive(Debug)]
#[must_use]
pub enum Output {
    /// Bytes to put on a transport.
    Transmit(Transmit),
    /// Something the application must hear about.
    Event(Event),
    /// Nothing more to do until this instant (a far-future instant when idle), or until the
    /// next input.
    Timeout(Instant),
}

/// Bytes for one transport.
#[derive(Debug, PartialEq, Eq)]
#[must_use]
pub enum Transmit {
    /// The response to an HTTP request.
    Http {
        /// The request being answered.
        transport: TransportHandle,
        /// The response.
        response: HttpResponse,
    },
    /// A message on a WebSocket.
    WebSocket {
        /// The WebSocket.
        transport: TransportHandle,
        /// The message.
        frame: Frame,
    },
    /// Close a WebSocket (after the messages transmitted before this one).
    CloseWebSocket {
        /// The WebSocket.
        transport: TransportHandle,
    },
}

/// Why a socket or session went away. The strings match the reference implementation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The client closed the connection, or its transport went away.
    TransportClose,
    /// The transport failed, for example a payload over the size limit.
    TransportError,
    /// The client did not answer a ping in time.
    PingTimeout,
    /// The client sent something that does not parse.
    ParseError,
    /// The server is shutting down.
    ServerShuttingDown,
    /// The client left the namespace.
    ClientNamespaceDisconnect,
    /// The server removed the socket from the namespace.
    ServerNamespaceDisconnect,
    /// The server closed the whole session.
    ForcedClose,
    /// The client never connected to a namespace in time.
    ConnectTimeout,
    /// The client did not read fast enough and its outbound queue filled up.
    SlowConsumer,
    /// The client sent events faster than its handlers finished them, past the server's
    /// limit of pending events.
    TooManyEvents,
}

impl DisconnectReason {
    /// The reason as the reference implementation spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::TransportClose => "transport close",
            DisconnectReason::TransportError => "transport error",
            DisconnectReason::PingTimeout => "ping timeout",
            DisconnectReason::ParseError => "parse error",
            DisconnectReason::ServerShuttingDown => "server shutting down",
            DisconnectReason::ClientNamespaceDisconnect => "client namespace disconnect",
            DisconnectReason::ServerNamespaceDisconnect => "server namespace disconnect",
            DisconnectReason::ForcedClose => "forced close",
            DisconnectReason::ConnectTimeout => "connect timeout",
            DisconnectReason::SlowConsumer => "slow consumer",
            DisconnectReason::TooManyEvents => "too many events",
        }
    }

    /// Whether a socket that went away for this reason is kept for connection state recovery
    /// (when it is on): the transport went away (closed, failed, stopped answering pings or
    /// reading, or the server is shutting down). Not when either side left the namespace, the
    /// client sent garbage, or the server closed the session on purpose.
    pub fn is_recoverable(self) -> bool {
        matches!(
            self,
            DisconnectReason::TransportClose
                | DisconnectReason::TransportError
                | DisconnectReason::PingTimeout
                | DisconnectReason::ServerShuttingDown
                | DisconnectReason::SlowConsumer
        )
    }

    /// Whether the server chose to close, so that queued packets are still delivered.
    fn is_graceful(self) -> bool {
        matches!(
            self,
            DisconnectReason::ServerShuttingDown | DisconnectReason::ForcedClose
        )
    }
}

impl std::fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the application hears from the server.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// A new Engine.IO session opened (the handshake request is available through
    /// [`Server::session_request`]).
    SessionOpened {
        /// The session.
        session: SessionHandle,
        /// Its Engine.IO id.
        sid: Sid,
    },
    /// A session is gone. This is the last event that mentions it; its handle is stale after.
    SessionClosed {
        /// The session.
        session: SessionHandle,
        /// Its Engine.IO id.
        sid: Sid,
        /// Why.
        reason: DisconnectReason,
    },
    /// A client asks to connect to a namespace. Answer with [`SocketMut::accept`] or
    /// [`SocketMut::reject`](crate::SocketMut::reject); until then the socket is pending.
    ///
    /// [`SocketMut::accept`]: crate::SocketMut::accept
    Connect {
        /// The new socket.
        socket: SocketId,
        /// Its session.
        session: SessionHandle,
        /// The namespace.
        namespace: Namespace,
        /// The auth payload the client sent, if any (with connection state recovery, the
        /// client adds its `pid` and `offset` to it on reconnection, as socket.io's does).
        auth: Option<Value>,
        /// Whether connection state recovery restored an earlier socket: same sid, same rooms,
        /// and the packets it missed follow the CONNECT reply once accepted.
        recovered: bool,
    },
    /// An event from the client: `data` is `["name", args...]` with attachment placeholders,
    /// as the client sent it (see [`RawJson`](crate::socketio::RawJson)).
    Message {
        /// The socket.
        socket: SocketId,
        /// The event array.
        data: crate::socketio::RawJson,
        /// Binary attachments the placeholders refer to.
        attachments: Attachments,
        /// Set when the client waits for an acknowledgement with this id; answer with
        /// [`SocketMut::ack`](crate::SocketMut::ack).
        ack: Option<u64>,
    },
    /// The client acknowledged an emit.
    Ack {
        /// The socket.
        socket: SocketId,
        /// Which emit.
        ack: AckId,
        /// The acknowledgement arguments (a JSON array), as the client sent them.
        data: crate::socketio::RawJson,
        /// Binary attachments the placeholders refer to.
        attachments: Attachments,
    },
    /// An acknowledgement did not arrive before its deadline.
    AckTimeout {
        /// The socket.
        socket: SocketId,
        /// Which emit.
        ack: AckId,
    },
    /// A message on a plain Engine.IO session (only with
    /// [`Config::engineio_only`](crate::Config::engineio_only)): a text message without its
    /// type digit, or a binary message.
    EngineMessage {
        /// The session.
        session: SessionHandle,
        /// The message.
        frame: Frame,
    },
    /// A socket left its namespace (also sent for pending sockets whose session closed).
    Disconnect {
        /// The socket.
        socket: SocketId,
        /// Its namespace.
        namespace: Namespace,
        /// Why.
        reason: DisconnectReason,
    },
}

/// A packet ready to send: serialized JSON plus its binary attachments.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Payload {
    /// The JSON text: `["event", args...]` for an event, `[args...]` for an acknowledgement.
    /// Binary arguments are replaced by [placeholders](crate::socketio::placeholder).
    pub json: Bytes,
    /// The attachments, in placeholder order.
    pub attachments: Attachments,
}

impl Payload {
    /// A payload with no attachments.
    pub fn json(json: impl Into<Bytes>) -> Self {
        Payload {
            json: json.into(),
            attachments: Attachments::new(),
        }
    }

    /// Total bytes of JSON and attachments.
    pub fn len(&self) -> usize {
        self.json.len() + self.attachments.iter().map(Bytes::len).sum::<usize>()
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// State of one Socket.IO socket.
#[derive(Debug)]
pub(crate) struct SocketState {
    pub(crate) session: SessionHandle,
    pub(crate) namespace: Namespace,
    pub(crate) sid: Sid,
    pub(crate) connected: bool,
    pub(crate) rooms: crate::socketio::rooms::SocketRooms,
    pub(crate) next_ack: u64,
    /// Acks the server waits for, ordered by id (ids only grow).
    pub(crate) acks: Vec<(u64, Option<Instant>)>,
    /// Packets emitted before the connection was accepted.
    pub(crate) pending_out: Vec<OutPacket>,
    /// The private id of connection state recovery (when it is on).
    pub(crate) pid: Option<Sid>,
    /// The recovery log position the socket's first connection started at.
    pub(crate) since: u64,
    /// A recovered socket waiting for acceptance: what it missed.
    pub(crate) restoring: Option<Box<Restoring>>,
}

/// Per-namespace state: connected sockets and rooms.
#[derive(Debug, Default)]
pub(crate) struct NamespaceState {
    pub(crate) sockets: HandleSet<SocketId>,
    pub(crate) rooms: RoomsIndex,
}

/// The sans-IO Engine.IO + Socket.IO server.
///
/// # Method groups
/// - Inputs: [`handle_input`](Self::handle_input).
/// - Outputs: [`poll_output`](Self::poll_output).
/// - Commands through borrowed handles: [`socket`](Self::socket) (emit, ack, rooms, accept,
///   disconnect) and [`broadcast`](Self::broadcast); plus [`close_room`](Self::close_room),
///   [`close_session`](Self::close_session) and [`shutdown`](Self::shutdown).
/// - Queries: [`session_request`](Self::session_request), [`socket_info`](Self::socket_info),
///   [`socket_by_sid`](Self::socket_by_sid), [`room_members`](Self::room_members), counts.
/// - Connection state recovery (when [configured](crate::RecoveryConfig)):
///   [`keep_recovery_data`](Self::keep_recovery_data),
///   [`take_recovery_data`](Self::take_recovery_data),
///   [`recovery_stats`](Self::recovery_stats), [`is_recovery_offset`](Self::is_recovery_offset).
///
/// # Drain order
/// After every input and every command, call [`poll_output`](Self::poll_output) until it returns
/// [`Output::Timeout`] before the next input. Commands issued while draining (for instance from
/// an event handler) are fine. Debug builds assert this.
pub struct Server {
    pub(crate) config: Config,
    pub(crate) entropy: Box<dyn Entropy>,
    pub(crate) sessions: Slab<Session>,
    by_sid: HashMap<Sid, SessionHandle>,
    transports: HandleMap<TransportHandle, SessionHandle>,
    pub(crate) sockets: Slab<SocketState>,
    socket_by_sid: HashMap<Sid, SocketId>,
    pub(crate) namespaces: HashMap<Namespace, NamespaceState>,
    heap: TimerHeap,
    out: VecDeque<Output>,
    /// Sessions with something to flush, in the order they became dirty. Flushed one at a
    /// time as `out` runs empty, so a broadcast to N sessions never stages N transmits at once.
    dirty: VecDeque<SessionHandle>,
    pub(crate) scratch: BytesMut,
    /// The recipients of the broadcast being sent, kept to reuse its allocation.
    pub(crate) recipients: Vec<SocketId>,
    /// Connection state recovery, when it is on.
    pub(crate) recovery: Option<Box<Recovery>>,
    last_now: Instant,
    last_timeout_reason: Option<TimerKind>,
    undrained: bool,
    shutting_down: bool,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("sessions", &self.sessions.len())
            .field("sockets", &self.sockets.len())
            .field("namespaces", &self.namespaces.len())
            .field("pending_outputs", &self.out.len())
            .finish()
    }
}

impl Server {
    /// A server with this configuration. `entropy` supplies the random bits of every id; `now`
    /// is the starting time.
    pub fn new(config: Config, mut entropy: Box<dyn Entropy>, now: Instant) -> Self {
        let recovery = config
            .connection_state_recovery
            .clone()
            .map(|c| Box::new(Recovery::new(c, &mut *entropy)));
        Server {
            config,
            entropy,
            sessions: Slab::new(),
            by_sid: HashMap::new(),
            transports: HandleMap::default(),
            sockets: Slab::new(),
            socket_by_sid: HashMap::new(),
            namespaces: HashMap::new(),
            heap: TimerHeap::default(),
            out: VecDeque::new(),
            dirty: VecDeque::new(),
            scratch: BytesMut::with_capacity(4096),
            recipients: Vec::new(),
            recovery,
            last_now: now,
            last_timeout_reason: None,
            undrained: false,
            shutting_down: false,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Feeds one input. Peer faults never surface here: they close the peer's session and show
    /// up as events. Afterwards, drain [`poll_output`](Self::poll_output).
    pub fn handle_input(&mut self, input: Input) {
        debug_assert!(
            !self.undrained,
            "poll_output must be drained until Timeout before the next input"
        );
        self.undrained = true;
        match input {
            Input::HttpRequest {
                now,
                transport,
                request,
            } => {
                self.advance(now);
                self.on_http(transport, request, None);
            }
            Input::HttpRequestDecoded {
                now,
                transport,
                request,
                body,
            } => {
                self.advance(now);
                self.on_http(transport, request, Some(body));
            }
            Input::WebSocketOpen {
                now,
                transport,
                request,
            } => {
                self.advance(now);
                self.on_ws_open(transport, request);
            }
            Input::WebSocketMessage {
                now,
                transport,
                frame,
            } => {
                self.advance(now);
                let message = crate::Decoded::new(&self.config.decode_limits(), frame);
                self.on_ws_message(transport, message);
            }
            Input::WebSocketDecoded {
                now,
                transport,
                message,
            } => {
                self.advance(now);
                self.on_ws_message(transport, message);
            }
            Input::WebSocketBlocked { now, transport } => {
                self.advance(now);
                self.on_ws_writable(transport, false);
            }
            Input::WebSocketWritable { now, transport } => {
                self.advance(now);
                self.on_ws_writable(transport, true);
            }
            Input::TransportClosed { now, transport } => {
                self.advance(now);
                self.on_transport_closed(transport);
            }
            Input::Timeout(now) => self.advance(now),
        }
    }

    /// The next output. Always ends in [`Output::Timeout`]; call again after any input or
    /// command. A [`Event::SessionClosed`] returned here frees the session's slot.
    pub fn poll_output(&mut self) -> Output {
        loop {
            // Looked at in place, then moved out once: an `Output` is large.
            if let Some(front) = self.out.front() {
                if let Output::Event(Event::SessionClosed { session, .. }) = front {
                    let session = *session;
                    self.sessions.remove(session.index, session.generation);
                }
                return self.out.pop_front().expect("looked at above");
            }
            let Some(h) = self.dirty.pop_front() else {
                self.undrained = false;
                return Output::Timeout(self.next_deadline());
            };
            self.flush(h);
        }
    }

    /// The timer that fired last, for debugging.
    pub fn last_timeout_reason(&self) -> Option<TimerKind> {
        self.last_timeout_reason
    }

    /// Whether [`shutdown`](Self::shutdown) was called: new sessions are refused.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down
    }

    /// The error response a driver should give a WebSocket upgrade request instead of
    /// accepting it (before answering 101), or `None` when the WebSocket is to be opened and
    /// handed over with [`Input::WebSocketOpen`]: the request checks that input applies, so
    /// that a refused upgrade gets a proper HTTP error rather than an opened-then-closed
    /// WebSocket.
    ///
    /// As node's engine.io, a WebSocket naming a live session that cannot take it (already
    /// upgrading, upgraded, or on WebSocket from the start) is not refused here: it opens,
    /// and the core closes it at once ([`Transmit::CloseWebSocket`]), leaving the session's
    /// own transport alone. Only an unknown sid is refused before the handshake.
    pub fn websocket_refusal(&self, req: &HttpRequest) -> Option<HttpResponse> {
        let Ok(cors) = self.cors_headers(req) else {
            return Some(error_response(403, 4, "Forbidden", Vec::new()));
        };
        if req.query_param("EIO").as_deref() != Some("4") {
            return Some(error_response(400, 5, "Unsupported protocol version", cors));
        }
        if !self.config.websocket || req.query_param("transport").as_deref() != Some("websocket") {
            return Some(error_response(400, 0, "Transport unknown", cors));
        }
        match req.query_param("sid") {
            None if self.shutting_down => {
                Some(error_response(503, 3, "Server shutting down", cors))
            }
            None => None,
            Some(sid) if self.session_by_sid(&sid).is_none() => {
                Some(error_response(400, 1, "Session ID unknown", cors))
            }
            Some(_) if !self.config.allow_upgrades => {
                Some(error_response(400, 3, "Bad request", cors))
            }
            Some(_) => None,
        }
    }

    /// Number of live sessions (closing ones included).
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Number of sockets, pending ones included.
    pub fn socket_count(&self) -> usize {
        self.sockets.len()
    }

    /// The handshake request of a session (without body).
    pub fn session_request(&self, session: SessionHandle) -> Option<&HttpRequest> {
        self.session(session).map(|s| &*s.request)
    }

    /// The handshake request of a session, shared: the server keeps one copy per session and
    /// a driver that needs it for as long as the session lives should hold this one rather
    /// than a copy.
    pub fn session_request_shared(
        &self,
        session: SessionHandle,
    ) -> Option<std::sync::Arc<HttpRequest>> {
        self.session(session).map(|s| s.request.clone())
    }

    /// The Engine.IO id of a session.
    pub fn session_sid(&self, session: SessionHandle) -> Option<Sid> {
        self.session(session).map(|s| s.sid)
    }

    /// Whether the session currently uses WebSocket.
    pub fn session_is_websocket(&self, session: SessionHandle) -> Option<bool> {
        self.session(session).map(Session::is_websocket)
    }

    /// The session a transport (a WebSocket, a parked request) belongs to, if any.
    pub fn transport_session(&self, transport: TransportHandle) -> Option<SessionHandle> {
        self.transports.get(&transport).copied()
    }

    /// The session with this Engine.IO id, if it is live.
    pub fn session_by_sid(&self, sid: &str) -> Option<SessionHandle> {
        Sid::parse(sid).and_then(|s| self.by_sid.get(&s).copied())
    }

    /// Queues an Engine.IO message on a session: a text frame is sent as a message packet
    /// (its type digit is added), a binary frame as a binary message. For plain Engine.IO
    /// servers ([`Config::engineio_only`]); on a Socket.IO server the peer parses it as a
    /// Socket.IO packet. Hands the frame back when the session is gone or closing, or its
    /// outbound queue is full.
    pub fn send_message(&mut self, session: SessionHandle, frame: Frame) -> Result<(), Frame> {
        let (maxp, maxb) = (self.config.max_queue_packets, self.config.max_queue_bytes);
        let Some(s) = self.session_mut(session) else {
            return Err(frame);
        };
        if s.phase != Phase::Open || !s.queue.fits(1, frame.len() + 1, maxp, maxb) {
            return Err(frame);
        }
        let packet = match frame {
            Frame::Text(text) => {
                let mut b = BytesMut::with_capacity(text.len() + 1);
                b.extend_from_slice(b"4");
                b.extend_from_slice(&text);
                OutPacket::Text(b.freeze())
            }
            Frame::Binary(data) => OutPacket::Binary(data),
        };
        s.queue.push(packet);
        self.mark_dirty(session);
        Ok(())
    }

    /// Closes a whole session from the server side; queued packets are still delivered.
    pub fn close_session(&mut self, session: SessionHandle) {
        self.close(session, DisconnectReason::ForcedClose);
    }

    /// Closes a whole session because its peer broke a limit the driver keeps (such as
    /// [`DisconnectReason::TooManyEvents`] or [`DisconnectReason::SlowConsumer`]): what is
    /// queued for it is dropped, and every socket leaves with `reason`.
    pub fn close_session_for(&mut self, session: SessionHandle, reason: DisconnectReason) {
        self.close(session, reason);
    }

    /// Closes every session (graceful: queued packets are delivered first). Drain afterwards.
    ///
    /// Shutting down is sticky: from now on new sessions are refused (HTTP 503 on polling, the
    /// WebSocket closed at once) while existing ones finish.
    pub fn shutdown(&mut self) {
        self.shutting_down = true;
        let all: Vec<SessionHandle> = self
            .sessions
            .iter()
            .map(|(index, generation, _)| SessionHandle { index, generation })
            .collect();
        for h in all {
            self.close(h, DisconnectReason::ServerShuttingDown);
        }
    }

    /// Moves time to `now`, and first fires every timer that came due on the way: whatever the
    /// input is, a deadline that passed before it arrived has passed (a pong that comes after
    /// its ping timeout finds the session closed), however late the driver's own timer is.
    fn advance(&mut self, now: Instant) {
        if now > self.last_now {
            self.last_now = now;
        }
        let due = self.heap.peek().is_some_and(|(at, _)| at <= now)
            || self.recovery_deadline().is_some_and(|at| at <= now);
        if due {
            self.on_timeout();
        }
    }

    pub(crate) fn now(&self) -> Instant {
        self.last_now
    }

    pub(crate) fn session(&self, h: SessionHandle) -> Option<&Session> {
        self.sessions.get(h.index, h.generation)
    }

    pub(crate) fn session_mut(&mut self, h: SessionHandle) -> Option<&mut Session> {
        self.sessions.get_mut(h.index, h.generation)
    }

    pub(crate) fn socket_state(&self, id: SocketId) -> Option<&SocketState> {
        self.sockets.get(id.index, id.generation)
    }

    pub(crate) fn socket_state_mut(&mut self, id: SocketId) -> Option<&mut SocketState> {
        self.sockets.get_mut(id.index, id.generation)
    }

    pub(crate) fn push_event(&mut self, e: Event) {
        self.out.push_back(Output::Event(e));
    }

    fn transmit(&mut self, t: Transmit) {
        self.out.push_back(Output::Transmit(t));
    }

    pub(crate) fn mark_dirty(&mut self, h: SessionHandle) {
        if let Some(s) = self.session_mut(h) {
            if !s.dirty {
                s.dirty = true;
                self.dirty.push_back(h);
            }
        }
    }

    fn next_deadline(&mut self) -> Instant {
        let recovery = self.recovery_deadline();
        while let Some((at, h)) = self.heap.peek() {
            match self.session(h) {
                Some(s) if s.scheduled == Some(at) => return recovery.map_or(at, |r| r.min(at)),
                _ => {
                    self.heap.pop();
                }
            }
        }
        recovery.unwrap_or(self.last_now + FAR_FUTURE)
    }

    fn reschedule(&mut self, h: SessionHandle) {
        let Some(s) = self.sessions.get_mut(h.index, h.generation) else {
            return;
        };
        let next = if s.phase == Phase::Closed {
            None
        } else {
            s.timers.next()
        };
        if next != s.scheduled {
            s.scheduled = next;
            if let Some(at) = next {
                self.heap.push(at, h);
            }
        }
    }

    /// Moves what a session has queued onto its transport, then re-arms its timer.
    fn flush(&mut self, h: SessionHandle) {
        let Some(s) = self.sessions.get_mut(h.index, h.generation) else {
            return;
        };
        s.dirty = false;
        if s.phase == Phase::Closed {
            return;
        }
        let closing = s.phase == Phase::Closing;
        let held = s.timers.get(TimerKind::UpgradeGrace).is_some();
        match &mut s.transport {
            Transport::WebSocket { ws, blocked } => {
                let (ws, blocked) = (*ws, *blocked);
                // While the driver cannot take more, data waits here under the queue's caps.
                while let Some(p) = if blocked {
                    s.queue.pop_control()
                } else {
                    s.queue.pop()
                } {
                    self.out.push_back(Output::Transmit(Transmit::WebSocket {
                        transport: ws,
                        frame: to_frame(p),
                    }));
                }
            }
            Transport::Polling { get } => {
                if get.is_some() && (!s.queue.is_empty() || closing) {
                    let parked = get.take().expect("checked above");
                    let tail: &[&[u8]] = if closing { &[b"1"] } else { &[] };
                    let body = s.queue.drain_payload(tail);
                    self.answer_parked(parked, body);
                    if closing {
                        self.finalize(h);
                    }
                }
            }
            Transport::Upgrading { get, probed, .. } => {
                if get.is_some() && *probed {
                    // The client may poll once more before it sees the probe answered: every
                    // GET gets a noop (once its grace is over), data waits for the switch.
                    if !held {
                        let parked = get.take().expect("checked above");
                        self.answer_parked(parked, Bytes::from_static(b"6"));
                    }
                } else if get.is_some() && !s.queue.is_empty() {
                    let parked = get.take().expect("checked above");
                    let body = s.queue.drain_payload(&[]);
                    self.answer_parked(parked, body);
                }
            }
        }
        if self.session(h).is_some_and(|s| s.held_post.is_some()) {
            self.release_post(h, false);
        }
        self.reschedule(h);
    }

    fn answer_parked(&mut self, parked: Parked, body: Bytes) {
        self.transports.remove(&parked.transport);
        let mut headers = parked.headers;
        headers.push(("Content-Type", "text/plain; charset=UTF-8".into()));
        self.transmit(Transmit::Http {
            transport: parked.transport,
            response: HttpResponse {
                status: 200,
                headers,
                body,
            },
        });
    }

    // ---- HTTP ------------------------------------------------------------------------------

    fn on_http(&mut self, t: TransportHandle, req: HttpRequest, body: Option<crate::DecodedBody>) {
        let Ok(cors) = self.cors_headers(&req) else {
            return self.http_error(t, 403, 4, "Forbidden", Vec::new());
        };
        if req.method == Method::Options {
            let mut headers = cors;
            headers.push(("Access-Control-Allow-Methods", "OPTIONS, GET, POST".into()));
            if let Some(h) = req.header("access-control-request-headers") {
                headers.push(("Access-Control-Allow-Headers", h.to_string()));
            }
            return self.http_response(t, 204, headers, Bytes::new());
        }
        if req.query_param("EIO").as_deref() != Some("4") {
            return self.http_error(t, 400, 5, "Unsupported protocol version", cors);
        }
        match req.query_param("transport").as_deref() {
            Some("polling") if self.config.polling => {}
            Some("websocket") if self.config.websocket => {
                return self.http_error(t, 400, 3, "Bad request", cors);
            }
            _ => return self.http_error(t, 400, 0, "Transport unknown", cors),
        }
        let Some(sid) = req.query_param("sid") else {
            if req.method != Method::Get {
                return self.http_error(t, 400, 2, "Bad handshake method", cors);
            }
            if self.shutting_down {
                return self.http_error(t, 503, 3, "Server shutting down", cors);
            }
            return self.handshake(t, req, cors, false);
        };
        let Some(h) = Sid::parse(&sid).and_then(|s| self.by_sid.get(&s).copied()) else {
            return self.http_error(t, 400, 1, "Session ID unknown", cors);
        };
        match req.method {
            Method::Get => self.poll_get(h, t, cors),
            Method::Post => {
                let body = body.unwrap_or_else(|| {
                    crate::DecodedBody::new(&self.config.decode_limits(), req.body)
                });
                self.poll_post(h, t, body, cors)
            }
            _ => self.http_error(t, 400, 3, "Bad request", cors),
        }
    }

    /// CORS headers for a request, or `Err` when its origin is not allowed.
    fn cors_headers(&self, req: &HttpRequest) -> Result<Vec<(&'static str, String)>, ()> {
        let Some(origin) = req.header("origin") else {
            return Ok(Vec::new());
        };
        let allowed = match &self.config.cors {
            Cors::Any => true,
            Cors::List(list) => list.iter().any(|o| o == origin),
            Cors::SameOrigin => {
                let authority = origin.split_once("://").map_or(origin, |(_, a)| a);
                req.header("host")
                    .is_some_and(|h| h.eq_ignore_ascii_case(authority))
            }
        };
        if !allowed {
            return Err(());
        }
        if self.config.cors == Cors::Any && !self.config.cors_credentials {
            return Ok(vec![("Access-Control-Allow-Origin", "*".into())]);
        }
        let mut headers = vec![
            ("Access-Control-Allow-Origin", origin.to_string()),
            ("Vary", "Origin".into()),
        ];
        if self.config.cors_credentials {
            headers.push(("Access-Control-Allow-Credentials", "true".into()));
        }
        Ok(headers)
    }

    fn http_response(
        &mut self,
        t: TransportHandle,
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: Bytes,
    ) {
        self.transmit(Transmit::Http {
            transport: t,
            response: HttpResponse {
                status,
                headers,
                body,
            },
        });
    }

    fn http_error(
        &mut self,
        t: TransportHandle,
        status: u16,
        code: u8,
        message: &'static str,
        headers: Vec<(&'static str, String)>,
    ) {
        let response = error_response(status, code, message, headers);
        self.transmit(Transmit::Http {
            transport: t,
            response,
        });
    }

    fn new_sid(&mut self) -> Sid {
        loop {
            let sid = self.random_sid();
            if !self.by_sid.contains_key(&sid)
                && !self.socket_by_sid.contains_key(&sid)
                && !self.is_kept_sid(&sid)
            {
                return sid;
            }
        }
    }

    /// A random id, with this server's tag when it has one.
    pub(crate) fn random_sid(&mut self) -> Sid {
        match self.config.sid_tag {
            Some(tag) => Sid::random_tagged(&mut *self.entropy, tag),
            None => Sid::random(&mut *self.entropy),
        }
    }

    fn open_packet(&self, sid: Sid, websocket: bool) -> String {
        let upgrades = if !websocket && self.config.websocket && self.config.allow_upgrades {
            "[\"websocket\"]"
        } else {
            "[]"
        };
        format!(
            "0{{\"sid\":\"{sid}\",\"upgrades\":{upgrades},\"pingInterval\":{},\"pingTimeout\":{},\"maxPayload\":{}}}",
            self.config.ping_interval.as_millis(),
            self.config.ping_timeout.as_millis(),
            self.config.max_payload
        )
    }

    fn handshake(
        &mut self,
        t: TransportHandle,
        mut req: HttpRequest,
        mut headers: Vec<(&'static str, String)>,
        websocket: bool,
    ) {
        let sid = self.new_sid();
        // Kept for the session's life: only what the application can ask for, no spare room.
        req.body = Bytes::new();
        req.path.shrink_to_fit();
        req.query.shrink_to_fit();
        req.headers.shrink_to_fit();
        for (name, value) in &mut req.headers {
            name.shrink_to_fit();
            value.shrink_to_fit();
        }
        let transport = if websocket {
            Transport::WebSocket {
                ws: t,
                blocked: false,
            }
        } else {
            Transport::Polling { get: None }
        };
        let mut session = Session::new(sid, transport, req);
        let now = self.now();
        session
            .timers
            .set(TimerKind::Ping, Some(now + self.config.ping_interval));
        if !self.config.engineio_only {
            session
                .timers
                .set(TimerKind::Connect, Some(now + self.config.connect_timeout));
        }
        let (index, generation) = self.sessions.insert(session);
        let h = SessionHandle { index, generation };
        self.by_sid.insert(sid, h);
        let open = Bytes::from(self.open_packet(sid, websocket));
        if websocket {
            self.transports.insert(t, h);
            self.transmit(Transmit::WebSocket {
                transport: t,
                frame: Frame::Text(open),
            });
        } else {
            if let Some(c) = &self.config.cookie {
                let mut v = format!("{}={sid}; Path={}", c.name, c.path);
                if c.http_only {
                    v.push_str("; HttpOnly");
                }
                if c.secure {
                    v.push_str("; Secure");
                }
                v.push_str("; SameSite=");
                v.push_str(&c.same_site);
                headers.push(("Set-Cookie", v));
            }
            headers.push(("Content-Type", "text/plain; charset=UTF-8".into()));
            self.http_response(t, 200, headers, open);
        }
        self.push_event(Event::SessionOpened { session: h, sid });
        self.mark_dirty(h);
    }

    fn poll_get(
        &mut self,
        h: SessionHandle,
        t: TransportHandle,
        headers: Vec<(&'static str, String)>,
    ) {
        let s = self.session(h).expect("looked up by sid");
        if s.is_websocket() {
            return self.http_error(t, 400, 3, "Bad request", headers);
        }
        if s.parked().is_some() {
            self.http_error(t, 400, 3, "Bad request", headers);
            return self.close(h, DisconnectReason::TransportError);
        }
        let hold = self.now() + self.config.upgrade_grace;
        let hold = (!self.config.upgrade_grace.is_zero()).then_some(hold);
        let s = self.session_mut(h).expect("looked up by sid");
        let parked = Parked {
            transport: t,
            headers,
        };
        match &mut s.transport {
            Transport::Polling { get } => *get = Some(parked),
            Transport::Upgrading { get, probed, .. } => {
                *get = Some(parked);
                if *probed {
                    // The client's `5` may already be on its way on the WebSocket, read by
                    // another task than this GET: hold the GET a little, so that the answer
                    // is the 400 any GET after the upgrade gets when the `5` comes first.
                    s.timers.set(TimerKind::UpgradeGrace, hold);
                }
            }
            Transport::WebSocket { .. } => unreachable!("checked above"),
        }
        self.transports.insert(t, h);
        self.mark_dirty(h);
    }

    fn poll_post(
        &mut self,
        h: SessionHandle,
        t: TransportHandle,
        body: crate::DecodedBody,
        mut headers: Vec<(&'static str, String)>,
    ) {
        let s = self.session(h).expect("looked up by sid");
        if s.is_websocket() || s.phase != Phase::Open {
            return self.http_error(t, 400, 3, "Bad request", headers);
        }
        if s.held_post.is_some() {
            // One POST at a time, as the reference server has it.
            self.http_error(t, 400, 3, "Bad request", headers);
            return self.close(h, DisconnectReason::TransportError);
        }
        if body.too_large {
            self.http_error(t, 413, 3, "Payload too large", headers);
            return self.close(h, DisconnectReason::TransportError);
        }
        let packets = match body.packets {
            Ok(p) => p,
            Err(_) => {
                self.http_error(t, 400, 3, "Bad request", headers);
                return self.close(h, DisconnectReason::ParseError);
            }
        };
        for p in packets {
            if p.eio.is_err() {
                self.http_error(t, 400, 3, "Bad request", headers);
                return self.close(h, DisconnectReason::ParseError);
            }
            self.on_eio_packet(h, p);
            if self.session(h).is_none_or(|s| s.phase != Phase::Open) {
                break;
            }
        }
        headers.push(("Content-Type", "text/html".into()));
        let max = self.config.max_payload;
        let hold = self.session(h).is_some_and(|s| {
            s.phase == Phase::Open && s.parked().is_none() && s.queue.bytes() > max
        });
        if hold {
            // The client sends and does not read: its answer waits for its next GET.
            let s = self.session_mut(h).expect("checked above");
            s.held_post = Some(Parked {
                transport: t,
                headers,
            });
            self.transports.insert(t, h);
            return;
        }
        self.http_response(t, 200, headers, Bytes::from_static(b"ok"));
    }

    /// Answers a held POST once the client read what held it, or its session ended.
    fn release_post(&mut self, h: SessionHandle, force: bool) {
        let max = self.config.max_payload;
        let Some(s) = self.session_mut(h) else { return };
        let drained = s.queue.bytes() <= max || s.is_websocket();
        if !(force || drained) {
            return;
        }
        let Some(post) = s.held_post.take() else {
            return;
        };
        self.transports.remove(&post.transport);
        self.http_response(post.transport, 200, post.headers, Bytes::from_static(b"ok"));
    }

    // ---- WebSocket -------------------------------------------------------------------------

    fn on_ws_open(&mut self, t: TransportHandle, req: HttpRequest) {
        let valid = self.cors_headers(&req).is_ok()
            && self.config.websocket
            && req.query_param("EIO").as_deref() == Some("4")
            && req.query_param("transport").as_deref() == Some("websocket");
        if !valid {
            return self.transmit(Transmit::CloseWebSocket { transport: t });
        }
        let Some(sid) = req.query_param("sid") else {
            if self.shutting_down {
                return self.transmit(Transmit::CloseWebSocket { transport: t });
            }
            return self.handshake(t, req, Vec::new(), true);
        };
        let allow_upgrades = self.config.allow_upgrades;
        let h = Sid::parse(&sid).and_then(|s| self.by_sid.get(&s).copied());
        let Some(s) = h.and_then(|h| self.session_mut(h)) else {
            return self.transmit(Transmit::CloseWebSocket { transport: t });
        };
        let h = h.expect("session found");
        let upgradable = s.phase == Phase::Open && matches!(s.transport, Transport::Polling { .. });
        if !upgradable || !allow_upgrades {
            return self.transmit(Transmit::CloseWebSocket { transport: t });
        }
        let Transport::Polling { get } = &mut s.transport else {
            unreachable!("checked above")
        };
        s.transport = Transport::Upgrading {
            get: get.take(),
            ws: t,
            probed: false,
        };
        let deadline = self.now() + self.config.upgrade_timeout;
        let s = self.session_mut(h).expect("session found");
        s.timers.set(TimerKind::Upgrade, Some(deadline));
        self.transports.insert(t, h);
        self.mark_dirty(h);
    }

    fn on_ws_message(&mut self, t: TransportHandle, message: crate::Decoded) {
        let Some(&h) = self.transports.get(&t) else {
            return;
        };
        let Some(s) = self.session(h) else { return };
        match s.transport {
            Transport::Upgrading { ws, .. } if ws == t => {
                if message.too_large {
                    self.abort_upgrade(h)
                } else {
                    self.on_probe_message(h, t, message)
                }
            }
            Transport::WebSocket { ws, .. } if ws == t && s.phase == Phase::Open => {
                if message.too_large {
                    return self.close(h, DisconnectReason::TransportError);
                }
                if message.eio.is_err() {
                    return self.close(h, DisconnectReason::ParseError);
                }
                self.on_eio_packet(h, message);
            }
            _ => {}
        }
    }

    fn on_probe_message(&mut self, h: SessionHandle, t: TransportHandle, message: crate::Decoded) {
        let text: &[u8] = match &message.eio {
            Ok(EioPacket::Text(PacketType::Ping, data)) if data.as_str() == "probe" => b"2probe",
            Ok(EioPacket::Text(PacketType::Upgrade, data)) if data.is_empty() => b"5",
            _ => b"",
        };
        let s = self.session_mut(h).expect("caller checked");
        let Transport::Upgrading { get, probed, .. } = &mut s.transport else {
            unreachable!("caller checked")
        };
        match text {
            b"2probe" if !*probed => {
                *probed = true;
                self.transmit(Transmit::WebSocket {
                    transport: t,
                    frame: Frame::Text(Bytes::from_static(b"3probe")),
                });
                self.mark_dirty(h);
            }
            b"5" if *probed => {
                let parked = get.take();
                s.transport = Transport::WebSocket {
                    ws: t,
                    blocked: false,
                };
                s.timers.set(TimerKind::Upgrade, None);
                s.timers.set(TimerKind::UpgradeGrace, None);
                if let Some(parked) = parked {
                    // Only a GET that came after the probe can still be parked here (the one
                    // parked before got its noop with the probe's answer), held for its grace:
                    // from the `5` on the session is on WebSocket, and it gets the answer of
                    // any GET sent after the `5`.
                    self.transports.remove(&parked.transport);
                    let response = error_response(400, 3, "Bad request", parked.headers);
                    self.transmit(Transmit::Http {
                        transport: parked.transport,
                        response,
                    });
                }
                self.mark_dirty(h);
            }
            _ => self.abort_upgrade(h),
        }
    }

    fn abort_upgrade(&mut self, h: SessionHandle) {
        let Some(s) = self.session_mut(h) else { return };
        let Transport::Upgrading { get, ws, .. } = &mut s.transport else {
            return;
        };
        let ws = *ws;
        s.transport = Transport::Polling { get: get.take() };
        s.timers.set(TimerKind::Upgrade, None);
        s.timers.set(TimerKind::UpgradeGrace, None);
        self.transports.remove(&ws);
        self.transmit(Transmit::CloseWebSocket { transport: ws });
        self.mark_dirty(h);
    }

    fn on_ws_writable(&mut self, t: TransportHandle, writable: bool) {
        let Some(&h) = self.transports.get(&t) else {
            return;
        };
        let Some(s) = self.session_mut(h) else { return };
        if let Transport::WebSocket { ws, blocked } = &mut s.transport {
            if *ws == t && *blocked == writable {
                *blocked = !writable;
                self.mark_dirty(h);
            }
        }
    }

    fn on_transport_closed(&mut self, t: TransportHandle) {
        let Some(h) = self.transports.remove(&t) else {
            return;
        };
        let Some(s) = self.session_mut(h) else { return };
        if s.held_post.as_ref().is_some_and(|p| p.transport == t) {
            s.held_post = None;
            return;
        }
        match &mut s.transport {
            Transport::Polling { get } | Transport::Upgrading { get, .. }
                if get.as_ref().is_some_and(|p| p.transport == t) =>
            {
                *get = None;
                if s.timers.get(TimerKind::UpgradeGrace).is_some() {
                    s.timers.set(TimerKind::UpgradeGrace, None);
                    self.mark_dirty(h);
                }
            }
            Transport::Upgrading { get, ws, .. } if *ws == t => {
                s.transport = Transport::Polling { get: get.take() };
                s.timers.set(TimerKind::Upgrade, None);
                s.timers.set(TimerKind::UpgradeGrace, None);
                self.mark_dirty(h);
            }
            Transport::WebSocket { ws, .. } if *ws == t => {
                self.close(h, DisconnectReason::TransportClose);
            }
            _ => {}
        }
    }

    // ---- Timers ----------------------------------------------------------------------------

    fn on_timeout(&mut self) {
        let now = self.now();
        self.expire_recovery(now);
        while let Some((at, h)) = self.heap.peek() {
            if at > now {
                break;
            }
            self.heap.pop();
            match self.session_mut(h) {
                Some(s) if s.scheduled == Some(at) => s.scheduled = None,
                _ => continue,
            }
            self.fire_timers(h, now);
            self.mark_dirty(h);
        }
    }

    fn fire_timers(&mut self, h: SessionHandle, now: Instant) {
        let Some(s) = self.session(h) else { return };
        let expired: SmallVec<[TimerKind; 6]> = s.timers.expired(now).collect();
        for kind in expired {
            let Some(s) = self.sessions.get_mut(h.index, h.generation) else {
                return;
            };
            if s.phase == Phase::Closed {
                return;
            }
            let due = s.timers.get(kind).unwrap_or(now);
            s.timers.set(kind, None);
            self.last_timeout_reason = Some(kind);
            match kind {
                TimerKind::Ping => {
                    let timeout = self.config.ping_timeout;
                    s.timers
                        .set(TimerKind::Pong, Some(pong_deadline(due, now, timeout)));
                    s.queue
                        .push_control(OutPacket::Text(Bytes::from_static(b"2")));
                }
                TimerKind::Pong => self.close(h, DisconnectReason::PingTimeout),
                TimerKind::Upgrade => self.abort_upgrade(h),
                // The held GET gets its noop when the session is flushed.
                TimerKind::UpgradeGrace => {}
                TimerKind::Connect => {
                    let connected = s.sockets.iter().any(|id| {
                        self.sockets
                            .get(id.index, id.generation)
                            .is_some_and(|st| st.connected)
                    });
                    if !connected {
                        self.close(h, DisconnectReason::ConnectTimeout);
                    }
                }
                TimerKind::Linger => self.finalize(h),
                TimerKind::Ack => self.expire_acks(h, now),
            }
        }
    }

    fn expire_acks(&mut self, h: SessionHandle, now: Instant) {
        let Some(s) = self.session(h) else { return };
        let sockets = s.sockets.clone();
        let mut next: Option<Instant> = None;
        for id in sockets {
            let Some(st) = self.sockets.get_mut(id.index, id.generation) else {
                continue;
            };
            let mut expired = SmallVec::<[u64; 4]>::new();
            st.acks.retain(|(ack, deadline)| match deadline {
                Some(d) if *d <= now => {
                    expired.push(*ack);
                    false
                }
                Some(d) => {
                    next = Some(next.map_or(*d, |n| n.min(*d)));
                    true
                }
                None => true,
            });
            for ack in expired {
                self.push_event(Event::AckTimeout {
                    socket: id,
                    ack: AckId(ack),
                });
            }
        }
        if let Some(s) = self.session_mut(h) {
            s.timers.set(TimerKind::Ack, next);
        }
    }

    // ---- Engine.IO and Socket.IO packets ---------------------------------------------------

    /// An Engine.IO packet that decoded (`message.eio` is `Ok`).
    fn on_eio_packet(&mut self, h: SessionHandle, message: crate::Decoded) {
        let crate::Decoded {
            eio, sio, inline, ..
        } = message;
        let Ok(p) = eio else {
            return self.close(h, DisconnectReason::ParseError);
        };
        match p {
            EioPacket::Text(PacketType::Message, text) if self.config.engineio_only => {
                let frame = Frame::Text(text.into_bytes());
                self.push_event(Event::EngineMessage { session: h, frame });
            }
            EioPacket::Binary(b) if self.config.engineio_only => {
                let frame = Frame::Binary(b);
                self.push_event(Event::EngineMessage { session: h, frame });
            }
            EioPacket::Text(PacketType::Message, _) if self.inline_binary() => {
                self.close(h, DisconnectReason::ParseError)
            }
            EioPacket::Binary(b) if self.inline_binary() => self.on_msgpack(h, b, inline),
            EioPacket::Text(PacketType::Message, text) => self.on_sio_text(h, text, sio),
            EioPacket::Binary(b) => self.on_sio_binary(h, b),
            EioPacket::Text(PacketType::Pong, _) => {
                let interval = self.config.ping_interval;
                let now = self.now();
                if let Some(s) = self.session_mut(h) {
                    if s.timers.get(TimerKind::Pong).is_some() {
                        s.timers.set(TimerKind::Pong, None);
                        s.timers.set(TimerKind::Ping, Some(now + interval));
                        self.mark_dirty(h);
                    }
                }
            }
            EioPacket::Text(PacketType::Ping, data) => {
                // Engine.IO v4 clients do not ping; one that does gets its pongs in the data
                // queue, under its caps, so pinging without reading cannot grow it.
                let mut pong = Vec::with_capacity(data.len() + 1);
                pong.push(b'3');
                pong.extend_from_slice(data.as_bytes());
                let (maxp, maxb) = (self.config.max_queue_packets, self.config.max_queue_bytes);
                let Some(s) = self.session_mut(h) else { return };
                if !s.queue.fits(1, pong.len(), maxp, maxb) {
                    return self.close(h, DisconnectReason::SlowConsumer);
                }
                s.queue.push(OutPacket::Text(Bytes::from(pong)));
                self.mark_dirty(h);
            }
            EioPacket::Text(PacketType::Close, _) => {
                // As node's engine.io: a client that closes over long-polling gets its parked
                // GET back with a noop, not with the close packet of a server-side close (it
                // is the one closing; the GET only has to end).
                if let Some(parked) = self.session_mut(h).and_then(Session::take_parked) {
                    self.answer_parked(parked, Bytes::from_static(b"6"));
                }
                self.close(h, DisconnectReason::TransportClose)
            }
            EioPacket::Text(PacketType::Noop, _) => {}
            EioPacket::Text(PacketType::Open | PacketType::Upgrade, _) => {
                self.close(h, DisconnectReason::ParseError)
            }
        }
    }

    /// A Socket.IO packet in a text message; `decoded` is its decoding when done ahead.
    fn on_sio_text(
        &mut self,
        h: SessionHandle,
        text: Str,
        decoded: Option<Result<SioPacket, crate::DecodeError>>,
    ) {
        let limits = Limits {
            max_attachments: self.config.max_attachments,
        };
        let max_bytes = self.config.max_attachment_bytes;
        let Some(s) = self.session_mut(h) else { return };
        if s.reassembly.is_some() {
            return self.close(h, DisconnectReason::ParseError);
        }
        let decoded = decoded.unwrap_or_else(|| SioPacket::decode(&text, limits));
        let packet = match decoded {
            Ok(p) => p,
            Err(_) => return self.close(h, DisconnectReason::ParseError),
        };
        if !packet.kind.is_binary() {
            return self.dispatch(h, packet, Attachments::new());
        }
        match Reassembly::start(packet, max_bytes) {
            Ok(Ok((packet, attachments))) => self.dispatch(h, packet, attachments),
            Ok(Err(r)) => s.reassembly = Some(Box::new(r)),
            Err(_) => self.close(h, DisconnectReason::ParseError),
        }
    }

    fn on_sio_binary(&mut self, h: SessionHandle, b: Bytes) {
        let Some(s) = self.session_mut(h) else { return };
        let Some(r) = s.reassembly.as_mut() else {
            return self.close(h, DisconnectReason::ParseError);
        };
        match r.push(b) {
            Ok(None) => {}
            Ok(Some((packet, attachments))) => {
                s.reassembly = None;
                self.dispatch(h, packet, attachments);
            }
            Err(_) => self.close(h, DisconnectReason::ParseError),
        }
    }

    /// A packet of the MessagePack parser: one binary message, binary data inline (decoded
    /// ahead by the driver, or here).
    fn on_msgpack(
        &mut self,
        h: SessionHandle,
        b: Bytes,
        decoded: Option<Box<Result<(SioPacket, Attachments), crate::DecodeError>>>,
    ) {
        let limits = self.config.msgpack_limits();
        let decoded = match decoded {
            Some(d) => *d,
            None => crate::socketio::msgpack::decode(&b, limits),
        };
        match decoded {
            Ok((packet, attachments)) => self.dispatch(h, packet, attachments),
            Err(_) => self.close(h, DisconnectReason::ParseError),
        }
    }

    /// Whether packets carry their binary data inline (the MessagePack parser) rather than
    /// as attachment messages after them.
    pub(crate) fn inline_binary(&self) -> bool {
        self.config.parser == crate::Parser::MsgPack
    }

    fn find_socket(&self, h: SessionHandle, namespace: &str) -> Option<SocketId> {
        self.session(h)?.sockets.iter().copied().find(|id| {
            self.socket_state(*id)
                .is_some_and(|st| st.namespace.as_str() == namespace)
        })
    }

    fn dispatch(&mut self, h: SessionHandle, p: SioPacket, attachments: Attachments) {
        match p.kind {
            PacketKind::Connect => {
                let auth = p.value();
                self.on_connect(h, p.namespace, auth)
            }
            PacketKind::Disconnect => {
                if let Some(id) = self.find_socket(h, &p.namespace) {
                    self.remove_socket(id, DisconnectReason::ClientNamespaceDisconnect, false);
                }
            }
            PacketKind::Event | PacketKind::BinaryEvent => {
                let Some(id) = self.find_socket(h, &p.namespace) else {
                    return;
                };
                if !self.socket_state(id).is_some_and(|st| st.connected) {
                    return;
                }
                let Some(data) = p.data else { return };
                self.push_event(Event::Message {
                    socket: id,
                    data,
                    attachments,
                    ack: p.id,
                });
            }
            PacketKind::Ack | PacketKind::BinaryAck => {
                let Some(id) = self.find_socket(h, &p.namespace) else {
                    return;
                };
                let Some(ack) = p.id else { return };
                let Some(st) = self.socket_state_mut(id) else {
                    return;
                };
                let Ok(i) = st.acks.binary_search_by_key(&ack, |(a, _)| *a) else {
                    return; // late (timed out) or unknown: ignored
                };
                let (_, deadline) = st.acks.remove(i);
                let data = p
                    .data
                    .unwrap_or_else(|| crate::socketio::RawJson::from_trusted(Str::from("[]")));
                self.push_event(Event::Ack {
                    socket: id,
                    ack: AckId(ack),
                    data,
                    attachments,
                });
                let current = self.session(h).and_then(|s| s.timers.get(TimerKind::Ack));
                if deadline.is_some() && deadline == current {
                    self.recompute_ack_timer(h);
                }
            }
            PacketKind::ConnectError => self.close(h, DisconnectReason::ParseError),
        }
    }

    pub(crate) fn recompute_ack_timer(&mut self, h: SessionHandle) {
        let Some(s) = self.session(h) else { return };
        let next = s
            .sockets
            .iter()
            .filter_map(|id| self.socket_state(*id))
            .flat_map(|st| st.acks.iter().filter_map(|(_, d)| *d))
            .min();
        if let Some(s) = self.session_mut(h) {
            s.timers.set(TimerKind::Ack, next);
        }
        self.mark_dirty(h);
    }

    fn on_connect(&mut self, h: SessionHandle, namespace: Str, auth: Option<Value>) {
        if self.find_socket(h, &namespace).is_some() {
            return; // already connected (or pending) to this namespace
        }
        let count = self.session(h).map_or(0, |s| s.sockets.len());
        if count >= self.config.max_namespaces {
            let json = br#"{"message":"too many namespaces"}"#;
            let packet = self.encode(PacketKind::ConnectError, &namespace, None, 0, json);
            self.queue_answer(h, packet);
            return;
        }
        let restored = self.try_restore(&namespace, auth.as_ref());
        let recovered = restored.is_some();
        let (sid, pid, rooms, since, restoring) = match restored {
            Some(r) => (
                r.sid,
                Some(r.pid),
                crate::socketio::rooms::SocketRooms::from_list(r.rooms),
                r.since,
                Some(r.restoring),
            ),
            None => {
                let sid = self.new_sid();
                let pid = self.new_pid();
                let since = self.recovery_position();
                (sid, pid, Default::default(), since, None)
            }
        };
        let namespace = Namespace::from(namespace.as_str());
        let (index, generation) = self.sockets.insert(SocketState {
            session: h,
            namespace: namespace.clone(),
            sid,
            connected: false,
            rooms,
            next_ack: 0,
            acks: Vec::new(),
            pending_out: Vec::new(),
            pid,
            since,
            restoring,
        });
        let id = SocketId { index, generation };
        self.socket_by_sid.insert(sid, id);
        if let Some(s) = self.session_mut(h) {
            s.sockets.push(id);
        }
        self.push_event(Event::Connect {
            socket: id,
            session: h,
            namespace,
            auth,
            recovered,
        });
    }

    /// Encodes a Socket.IO packet with its Engine.IO message digit, in the shared scratch buffer.
    pub(crate) fn encode(
        &mut self,
        kind: PacketKind,
        namespace: &str,
        id: Option<u64>,
        attachments: usize,
        json: &[u8],
    ) -> OutPacket {
        if self.inline_binary() {
            return self.encode_msgpack(kind, namespace, id, json, &[]);
        }
        encode_header(&mut self.scratch, true, kind, attachments, namespace, id);
        self.scratch.extend_from_slice(json);
        OutPacket::Text(self.scratch.split().freeze())
    }

    /// Encodes a packet with the MessagePack parser (binary data inline), in the shared
    /// scratch buffer.
    pub(crate) fn encode_msgpack(
        &mut self,
        kind: PacketKind,
        namespace: &str,
        id: Option<u64>,
        json: &[u8],
        attachments: &[Bytes],
    ) -> OutPacket {
        let s = &mut self.scratch;
        if crate::socketio::msgpack::encode(s, kind, namespace, id, json, attachments).is_err() {
            // Only JSON nested deeper than the transcoder takes (128 levels) gets here: the
            // packet goes out without its data rather than not at all.
            s.clear();
            let _ = crate::socketio::msgpack::encode(s, kind, namespace, id, b"", &[]);
        }
        OutPacket::Binary(self.scratch.split().freeze())
    }

    /// Removes a socket from every index; with `notify_client` a DISCONNECT packet is queued.
    pub(crate) fn remove_socket(
        &mut self,
        id: SocketId,
        reason: DisconnectReason,
        notify_client: bool,
    ) {
        let Some(mut st) = self.sockets.remove(id.index, id.generation) else {
            return;
        };
        self.socket_by_sid.remove(&st.sid);
        if st.connected {
            if let Some(ns) = self.namespaces.get_mut(st.namespace.as_str()) {
                ns.sockets.remove(&id);
                for room in &st.rooms {
                    ns.rooms.leave(room, id);
                }
                // Namespace names come from clients: keep no entry for an empty one.
                if ns.sockets.is_empty() {
                    self.namespaces.remove(st.namespace.as_str());
                }
            }
        }
        self.keep_for_recovery(&mut st, reason);
        if st.connected && !self.namespaces.contains_key(st.namespace.as_str()) {
            self.release_recovery(st.namespace.as_str());
        }
        let h = st.session;
        let mut slow = false;
        if notify_client {
            let packet = self.encode(PacketKind::Disconnect, &st.namespace, None, 0, b"");
            let (maxp, maxb) = (self.config.max_queue_packets, self.config.max_queue_bytes);
            if let Some(s) = self.session_mut(h) {
                if s.queue.fits(1, packet.len(), maxp, maxb) {
                    s.queue.push(packet);
                } else {
                    slow = true;
                }
            }
        }
        if let Some(s) = self.session_mut(h) {
            s.sockets.retain(|s| *s != id);
        }
        if !st.acks.is_empty() {
            self.recompute_ack_timer(h);
        }
        self.mark_dirty(h);
        self.push_event(Event::Disconnect {
            socket: id,
            namespace: st.namespace,
            reason,
        });
        if slow {
            self.close(h, DisconnectReason::SlowConsumer);
        }
    }

    /// Queues a protocol answer (CONNECT, CONNECT_ERROR, ...) under the same caps as data: a
    /// peer whose queue is full is not reading, and is closed as a slow consumer. False when
    /// the answer was not queued.
    pub(crate) fn queue_answer(&mut self, h: SessionHandle, packet: OutPacket) -> bool {
        let (maxp, maxb) = (self.config.max_queue_packets, self.config.max_queue_bytes);
        let Some(s) = self.session_mut(h) else {
            return false;
        };
        if !s.queue.fits(1, packet.len(), maxp, maxb) {
            self.close(h, DisconnectReason::SlowConsumer);
            return false;
        }
        s.queue.push(packet);
        self.mark_dirty(h);
        true
    }

    /// Starts closing a session. Sockets leave at once; the transport is closed after what is
    /// queued (only for server-chosen closes), and a final [`Event::SessionClosed`] follows.
    pub(crate) fn close(&mut self, h: SessionHandle, reason: DisconnectReason) {
        let Some(s) = self.session_mut(h) else { return };
        if s.phase != Phase::Open {
            return;
        }
        s.close_reason = Some(reason);
        s.reassembly = None;
        s.timers.clear();
        let sockets = std::mem::take(&mut s.sockets);
        for id in sockets {
            self.remove_socket(id, reason, false);
        }
        let graceful = reason.is_graceful();
        let s = self.session_mut(h).expect("checked above");
        if !graceful {
            s.queue.clear();
        }
        if let Transport::Upgrading { get, ws, .. } = &mut s.transport {
            let ws = *ws;
            s.transport = Transport::Polling { get: get.take() };
            self.transports.remove(&ws);
            self.transmit(Transmit::CloseWebSocket { transport: ws });
        }
        let linger = self.now() + self.config.ping_timeout;
        let s = self
            .sessions
            .get_mut(h.index, h.generation)
            .expect("checked above");
        match &mut s.transport {
            Transport::WebSocket { ws, .. } => {
                let ws = *ws;
                // A graceful close delivers what is queued even to a blocked WebSocket: the
                // driver holds it (bounded by the queue's caps) until the socket drains.
                while let Some(p) = s.queue.pop() {
                    self.out.push_back(Output::Transmit(Transmit::WebSocket {
                        transport: ws,
                        frame: to_frame(p),
                    }));
                }
                self.transports.remove(&ws);
                self.transmit(Transmit::CloseWebSocket { transport: ws });
                self.finalize(h);
            }
            Transport::Polling { get } => {
                if let Some(parked) = get.take() {
                    let body = s.queue.drain_payload(&[b"1"]);
                    self.answer_parked(parked, body);
                    self.finalize(h);
                } else if graceful {
                    s.phase = Phase::Closing;
                    s.timers.set(TimerKind::Linger, Some(linger));
                    self.mark_dirty(h);
                } else {
                    self.finalize(h);
                }
            }
            Transport::Upgrading { .. } => unreachable!("reverted to polling above"),
        }
    }

    /// Marks a session closed and queues the final event.
    fn finalize(&mut self, h: SessionHandle) {
        let Some(s) = self.session_mut(h) else { return };
        if s.phase == Phase::Closed {
            return;
        }
        s.phase = Phase::Closed;
        s.timers.clear();
        s.queue.clear();
        let parked = s.take_parked();
        let sid = s.sid;
        let reason = s.close_reason.unwrap_or(DisconnectReason::TransportClose);
        if let Transport::WebSocket { ws, .. } = s.transport {
            self.transports.remove(&ws);
        }
        if let Some(parked) = parked {
            self.answer_parked(parked, Bytes::from_static(b"1"));
        }
        self.release_post(h, true);
        self.by_sid.remove(&sid);
        self.reschedule(h);
        self.push_event(Event::SessionClosed {
            session: h,
            sid,
            reason,
        });
    }

    // ---- Sockets and rooms -----------------------------------------------------------------

    /// A borrowed handle to command one socket, if it still exists.
    pub fn socket(&mut self, id: SocketId) -> Option<crate::SocketMut<'_>> {
        self.socket_state(id)?;
        Some(crate::SocketMut::new(self, id))
    }

    /// Read-only facts about a socket.
    pub fn socket_info(&self, id: SocketId) -> Option<SocketInfo<'_>> {
        let st = self.socket_state(id)?;
        Some(SocketInfo {
            sid: st.sid,
            session: st.session,
            namespace: &st.namespace,
            rooms: st.rooms.as_slice(),
            connected: st.connected,
        })
    }

    /// The socket a session has in a namespace (pending or connected): the same client
    /// seen from another namespace, where it has another Socket.IO sid.
    pub fn session_socket(&self, session: SessionHandle, namespace: &str) -> Option<SocketId> {
        self.find_socket(session, namespace)
    }

    /// The socket with this Socket.IO sid.
    pub fn socket_by_sid(&self, sid: &str) -> Option<SocketId> {
        Sid::parse(sid).and_then(|s| self.socket_by_sid.get(&s).copied())
    }

    /// The connected sockets of a room (the room of a sid holds that socket).
    pub fn room_members(&self, namespace: &str, room: &str) -> Vec<SocketId> {
        self.namespaces
            .get(namespace)
            .and_then(|ns| ns.rooms.members(room))
            .map(|m| m.iter().copied().collect())
            .unwrap_or_default()
    }

    /// The rooms of a namespace that have members.
    pub fn rooms(&self, namespace: &str) -> Vec<Room> {
        self.namespaces
            .get(namespace)
            .map(|ns| ns.rooms.names().cloned().collect())
            .unwrap_or_default()
    }

    /// The connected sockets of a namespace.
    pub fn namespace_sockets(&self, namespace: &str) -> Vec<SocketId> {
        self.namespaces
            .get(namespace)
            .map(|ns| ns.sockets.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Removes every socket from a room.
    pub fn close_room(&mut self, namespace: &str, room: &str) {
        let Some(ns) = self.namespaces.get_mut(namespace) else {
            return;
        };
        for id in ns.rooms.close(room) {
            if let Some(st) = self.sockets.get_mut(id.index, id.generation) {
                st.rooms.remove(room);
            }
        }
    }

    /// Starts a broadcast to a namespace.
    pub fn broadcast(&mut self, namespace: &str) -> crate::Broadcast<'_> {
        crate::Broadcast::new(self, namespace)
    }

    pub(crate) fn scratch_encode_payload(
        &mut self,
        kind: PacketKind,
        namespace: &str,
        id: Option<u64>,
        payload: &Payload,
    ) -> OutPacket {
        if self.inline_binary() {
            return self.encode_msgpack(kind, namespace, id, &payload.json, &payload.attachments);
        }
        let (kind, n) = match (kind, payload.attachments.len()) {
            (k, 0) => (k, 0),
            (PacketKind::Event, n) => (PacketKind::BinaryEvent, n),
            (PacketKind::Ack, n) => (PacketKind::BinaryAck, n),
            (k, n) => (k, n),
        };
        self.encode(kind, namespace, id, n, &payload.json)
    }

    pub(crate) fn forget_socket_sid(&mut self, sid: &Sid) {
        self.socket_by_sid.remove(sid);
    }

    /// Puts a newly accepted socket into its namespace, its own sid's room and the rooms it
    /// joined while pending.
    pub(crate) fn register_socket(&mut self, id: SocketId) {
        let Some(st) = self.sockets.get_mut(id.index, id.generation) else {
            return;
        };
        // A pending socket may have joined its own room already: keep it once, first.
        st.rooms.put_first(Room::from(st.sid.as_str()));
        let ns = self.namespaces.entry(st.namespace.clone()).or_default();
        ns.sockets.insert(id);
        for room in &st.rooms {
            ns.rooms.join(room, id);
        }
    }
}

/// Read-only facts about a socket, from [`Server::socket_info`].
#[derive(Debug, Clone, Copy)]
pub struct SocketInfo<'a> {
    /// The socket's Socket.IO sid (not the Engine.IO one).
    pub sid: Sid,
    /// Its session.
    pub session: SessionHandle,
    /// Its namespace.
    pub namespace: &'a Namespace,
    /// Its rooms, its own sid's room first.
    pub rooms: &'a [Room],
    /// Whether the connection was accepted.
    pub connected: bool,
}

/// An Engine.IO error response with extra headers (CORS).
fn error_response(
    status: u16,
    code: u8,
    message: &'static str,
    headers: Vec<(&'static str, String)>,
) -> HttpResponse {
    let mut r = HttpResponse::engine_error(status, code, message);
    r.headers.splice(0..0, headers);
    r
}

/// When the pong for a ping due at `due` and sent at `now` must have come: `ping_timeout`
/// after the ping's due time, not after the moment a timer got round to it, so that a driver
/// whose timer wakes a little late (tokio rounds to the millisecond) does not give the client
/// that much longer than the reference server. Lateness beyond a tenth of the timeout is a
/// stalled server, not a rounding: the client is not charged for it (it keeps at least 90% of
/// the timeout to answer a ping it has just been sent).
fn pong_deadline(due: Instant, now: Instant, ping_timeout: Duration) -> Instant {
    let late = now.saturating_duration_since(due);
    due + late.saturating_sub(ping_timeout / 10) + ping_timeout
}

fn to_frame(p: OutPacket) -> Frame {
    match p {
        OutPacket::Text(b) => Frame::Text(b),
        OutPacket::Binary(b) => Frame::Binary(b),
    }
}

#[cfg(test)]
mod tests;
