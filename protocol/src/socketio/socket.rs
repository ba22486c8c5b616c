//! [`SocketMut`]: commands on one socket through a short-lived borrow of the server.

use std::time::Instant;

use serde_json::Value;

use crate::engineio::session::OutPacket;
use crate::id::{AckId, Namespace, Room, SessionHandle, Sid, SocketId};
use crate::server::{Payload, Server};
use crate::socketio::PacketKind;
use crate::time::TimerKind;
use crate::DisconnectReason;

/// Why an emit was refused. Every variant hands the payload back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmitError {
    /// The session's outbound queue is full (see `max_queue_packets`/`max_queue_bytes`).
    #[error("outbound queue full")]
    QueueFull(Payload),
    /// The socket already waits for `max_pending_acks` acknowledgements.
    #[error("too many pending acks")]
    TooManyPendingAcks(Payload),
}

/// A join refused because the socket is in as many rooms as
/// [`max_rooms_per_socket`](crate::Config::max_rooms_per_socket) allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a socket may be in at most {max} rooms")]
pub struct RoomsFull {
    /// The cap.
    pub max: usize,
}

/// A borrowed handle on one socket, from [`Server::socket`]. Drain the server's outputs after
/// using it.
#[derive(Debug)]
pub struct SocketMut<'a> {
    server: &'a mut Server,
    id: SocketId,
}

impl<'a> SocketMut<'a> {
    pub(crate) fn new(server: &'a mut Server, id: SocketId) -> Self {
        SocketMut { server, id }
    }

    fn state(&self) -> &crate::server::SocketState {
        self.server
            .socket_state(self.id)
            .expect("a SocketMut exists only for a live socket")
    }

    /// The socket.
    pub fn id(&self) -> SocketId {
        self.id
    }

    /// Its Socket.IO sid.
    pub fn sid(&self) -> Sid {
        self.state().sid
    }

    /// Its session.
    pub fn session(&self) -> SessionHandle {
        self.state().session
    }

    /// Its namespace.
    pub fn namespace(&self) -> &Namespace {
        &self.state().namespace
    }

    /// Its rooms, its own sid's room first.
    pub fn rooms(&self) -> &[Room] {
        self.state().rooms.as_slice()
    }

    /// Whether the connection has been accepted.
    pub fn is_connected(&self) -> bool {
        self.state().connected
    }

    /// Accepts a pending connection: the client gets CONNECT with the socket's sid, the socket
    /// joins its own room, and anything emitted while pending follows. A recovered socket
    /// (see [`RecoveryConfig`](crate::RecoveryConfig)) rejoins its rooms and gets the packets
    /// it missed right after the CONNECT. No-op when connected.
    pub fn accept(self) {
        let id = self.id;
        let server = self.server;
        let st = server.socket_state(id).expect("live socket");
        if st.connected {
            return;
        }
        let (h, sid, namespace) = (st.session, st.sid, st.namespace.clone());
        let json = Server::connect_reply(sid, st.pid);
        let connect = server.encode(PacketKind::Connect, &namespace, None, 0, json.as_bytes());
        server.register_socket(id);
        let replay = server.take_replay(id);
        let st = server.socket_state_mut(id).expect("live socket");
        st.connected = true;
        let pending = std::mem::take(&mut st.pending_out);
        if let Some(s) = server.session_mut(h) {
            s.timers.set(TimerKind::Connect, None);
        }
        if !server.queue_answer(h, connect) {
            return; // the session was not reading: it is closed
        }
        if let Some(s) = server.session_mut(h) {
            // A replay is bounded by the recovery caps, and what was emitted while pending by
            // the queue's caps: both are queued whole.
            for p in replay.into_iter().chain(pending) {
                s.queue.push(p);
            }
        }
        server.mark_dirty(h);
    }

    /// Refuses a pending connection: the client gets CONNECT_ERROR with `message` and optional
    /// `data`, and the socket is removed without a disconnect event. No-op when connected.
    pub fn reject(self, message: &str, data: Option<&Value>) {
        let id = self.id;
        let server = self.server;
        let st = server.socket_state(id).expect("live socket");
        if st.connected {
            return;
        }
        let (h, sid, namespace) = (st.session, st.sid, st.namespace.clone());
        // Written by hand so that "message" comes first, as the reference server does.
        let mut json = b"{\"message\":".to_vec();
        json.extend_from_slice(Value::String(message.into()).to_string().as_bytes());
        if let Some(d) = data {
            json.extend_from_slice(b",\"data\":");
            json.extend_from_slice(d.to_string().as_bytes());
        }
        json.push(b'}');
        let packet = server.encode(PacketKind::ConnectError, &namespace, None, 0, &json);
        server.sockets.remove(id.index, id.generation);
        server.forget_socket_sid(&sid);
        if let Some(s) = server.session_mut(h) {
            s.sockets.retain(|s| *s != id);
        }
        server.queue_answer(h, packet);
    }

    /// Sends an event (`payload.json` is `["name", args...]`). With connection state recovery
    /// on, it carries an offset and is kept for replay, as a broadcast is.
    pub fn emit(&mut self, payload: Payload) -> Result<(), EmitError> {
        self.send(PacketKind::Event, None, payload)
    }

    /// Sends an event and asks the client to acknowledge it. The answer arrives as
    /// [`Event::Ack`](crate::Event::Ack), or [`Event::AckTimeout`](crate::Event::AckTimeout)
    /// once `deadline` passes.
    pub fn emit_with_ack(
        &mut self,
        payload: Payload,
        deadline: Option<Instant>,
    ) -> Result<AckId, EmitError> {
        if self.state().acks.len() >= self.server.config.max_pending_acks {
            return Err(EmitError::TooManyPendingAcks(payload));
        }
        let ack = self.state().next_ack;
        self.send(PacketKind::Event, Some(ack), payload)?;
        let id = self.id;
        let st = self.server.socket_state_mut(id).expect("live socket");
        st.next_ack += 1;
        st.acks.push((ack, deadline));
        let h = st.session;
        if let (Some(d), Some(s)) = (deadline, self.server.session_mut(h)) {
            let current = s.timers.get(TimerKind::Ack);
            if current.is_none_or(|c| d < c) {
                s.timers.set(TimerKind::Ack, Some(d));
            }
            self.server.mark_dirty(h);
        }
        Ok(AckId(ack))
    }

    /// Answers an event the client sent with an ack id (`payload.json` is `[args...]`).
    pub fn ack(&mut self, ack: u64, payload: Payload) -> Result<(), EmitError> {
        self.send(PacketKind::Ack, Some(ack), payload)
    }

    fn send(
        &mut self,
        kind: PacketKind,
        ack: Option<u64>,
        payload: Payload,
    ) -> Result<(), EmitError> {
        let id = self.id;
        let st = self.server.socket_state(id).expect("live socket");
        let (h, connected, namespace) = (st.session, st.connected, st.namespace.clone());
        let (maxp, maxb) = (
            self.server.config.max_queue_packets,
            self.server.config.max_queue_bytes,
        );
        let (packets, bytes) = (1 + payload.attachments.len(), payload.len() + 16);
        let fits = if connected {
            self.server
                .session(h)
                .is_some_and(|s| s.queue.fits(packets, bytes, maxp, maxb))
        } else {
            // What waits for the acceptance counts against the same caps.
            let pending = &st.pending_out;
            let pending_bytes: usize = pending.iter().map(OutPacket::len).sum();
            pending.len() + packets <= maxp && pending_bytes + bytes <= maxb
        };
        if !fits {
            return Err(EmitError::QueueFull(payload));
        }
        let logged = match (kind, ack) {
            (PacketKind::Event, None) => self.server.encode_direct(id, &payload),
            _ => None,
        };
        let text = match logged {
            Some(text) => text,
            None => self
                .server
                .scratch_encode_payload(kind, &namespace, ack, &payload),
        };
        // Attachment messages follow the packet, unless the parser puts binary data inline.
        let attachments = match self.server.inline_binary() {
            true => Default::default(),
            false => payload.attachments,
        };
        let parts = std::iter::once(text).chain(attachments.into_iter().map(OutPacket::Binary));
        if connected {
            let s = self.server.session_mut(h).expect("checked above");
            parts.for_each(|p| s.queue.push(p));
            self.server.mark_dirty(h);
        } else {
            let st = self.server.socket_state_mut(id).expect("live socket");
            st.pending_out.extend(parts);
        }
        Ok(())
    }

    /// Adds the socket to a room; false if it was there already, or if the socket is in
    /// [`max_rooms_per_socket`](crate::Config::max_rooms_per_socket) rooms already (see
    /// [`try_join`](Self::try_join)). A pending socket's rooms take effect when it is accepted.
    pub fn join(&mut self, room: impl Into<Room>) -> bool {
        self.try_join(room).unwrap_or(false)
    }

    /// Adds the socket to a room: `Ok(false)` if it was there already, `Err` when the socket is
    /// in [`max_rooms_per_socket`](crate::Config::max_rooms_per_socket) rooms already.
    pub fn try_join(&mut self, room: impl Into<Room>) -> Result<bool, RoomsFull> {
        let room = room.into();
        let id = self.id;
        let max = self.server.config.max_rooms_per_socket;
        let st = self.server.socket_state_mut(id).expect("live socket");
        if st.rooms.contains(&room) {
            return Ok(false);
        }
        if st.rooms.len() >= max {
            return Err(RoomsFull { max });
        }
        if !st.connected {
            // Registered in the index when the connection is accepted.
            st.rooms.insert(room);
            return Ok(true);
        }
        let namespace = st.namespace.clone();
        st.rooms.insert(room.clone());
        self.server
            .namespaces
            .entry(namespace)
            .or_default()
            .rooms
            .join(&room, id);
        Ok(true)
    }

    /// Removes the socket from a room; false if it was not there.
    pub fn leave(&mut self, room: &str) -> bool {
        let id = self.id;
        let st = self.server.socket_state_mut(id).expect("live socket");
        if !st.rooms.remove(room) {
            return false;
        }
        if !st.connected {
            return true;
        }
        let namespace = st.namespace.clone();
        if let Some(ns) = self.server.namespaces.get_mut(namespace.as_str()) {
            ns.rooms.leave(room, id);
        }
        true
    }

    /// Disconnects the socket from its namespace: the client gets DISCONNECT and a
    /// [`Event::Disconnect`](crate::Event::Disconnect) with
    /// [`DisconnectReason::ServerNamespaceDisconnect`] follows.
    pub fn disconnect(self) {
        self.server
            .remove_socket(self.id, DisconnectReason::ServerNamespaceDisconnect, true);
    }
}
