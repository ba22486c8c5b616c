//! [`Broadcast`]: resolve recipients once, encode once, share the bytes.

use smallvec::SmallVec;

use crate::config::SlowConsumer;
use crate::engineio::session::OutPacket;
use crate::hash::HandleSet;
use crate::id::{Room, SessionHandle, SocketId};
use crate::server::{Payload, Server};
use crate::socketio::PacketKind;
use crate::DisconnectReason;

/// A broadcast under construction, from [`Server::broadcast`].
#[derive(Debug)]
#[must_use = "a broadcast does nothing until emitted"]
pub struct Broadcast<'a> {
    server: &'a mut Server,
    namespace: String,
    rooms: SmallVec<[Room; 2]>,
    except: SmallVec<[Room; 2]>,
    skip: SmallVec<[SocketId; 1]>,
    volatile: bool,
}

/// What a broadcast did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BroadcastReport {
    /// Recipients whose queue took the packet.
    pub delivered: usize,
    /// Recipients that did not get it (volatile, or full queue with the drop policy).
    pub dropped: usize,
    /// Recipients disconnected because their queue was full.
    pub disconnected: usize,
}

impl<'a> Broadcast<'a> {
    pub(crate) fn new(server: &'a mut Server, namespace: &str) -> Self {
        Broadcast {
            server,
            namespace: namespace.to_string(),
            rooms: SmallVec::new(),
            except: SmallVec::new(),
            skip: SmallVec::new(),
            volatile: false,
        }
    }

    /// Only sockets in this room (several calls: the union of the rooms).
    pub fn to(mut self, room: impl Into<Room>) -> Self {
        self.rooms.push(room.into());
        self
    }

    /// Not the sockets in this room.
    pub fn except(mut self, room: impl Into<Room>) -> Self {
        self.except.push(room.into());
        self
    }

    /// Not this socket (typically the sender).
    pub fn skip(mut self, socket: SocketId) -> Self {
        self.skip.push(socket);
        self
    }

    /// The packet may be dropped for a recipient whose transport is busy.
    pub fn volatile(mut self) -> Self {
        self.volatile = true;
        self
    }

    /// The recipients, sorted and without duplicates.
    pub fn sockets(&self) -> Vec<SocketId> {
        let mut out = Vec::new();
        self.recipients(&mut out);
        out.sort_unstable();
        out
    }

    /// Collects the recipients into `out`, each once, in no particular order.
    fn recipients(&self, out: &mut Vec<SocketId>) {
        out.clear();
        let Some(ns) = self.server.namespaces.get(self.namespace.as_str()) else {
            return;
        };
        let excluded = |id: &SocketId| {
            self.skip.contains(id)
                || self
                    .except
                    .iter()
                    .any(|r| ns.rooms.members(r).is_some_and(|m| m.contains(id)))
        };
        let no_exclusions = self.skip.is_empty() && self.except.is_empty();
        match self.rooms.as_slice() {
            [] if no_exclusions => out.extend(ns.sockets.iter().copied()),
            [] => out.extend(ns.sockets.iter().copied().filter(|id| !excluded(id))),
            [room] => {
                if let Some(m) = ns.rooms.members(room) {
                    out.extend(
                        m.iter()
                            .copied()
                            .filter(|id| no_exclusions || !excluded(id)),
                    );
                }
            }
            rooms => {
                // A socket in several of the rooms gets the packet once.
                let mut seen = HandleSet::default();
                for r in rooms {
                    if let Some(m) = ns.rooms.members(r) {
                        for id in m {
                            if seen.insert(*id) && (no_exclusions || !excluded(id)) {
                                out.push(*id);
                            }
                        }
                    }
                }
            }
        }
    }

    /// Encodes the event once and queues it for every recipient. With connection state
    /// recovery on, a broadcast that is not volatile carries an offset and is kept for
    /// replay, even with no recipient connected right now.
    pub fn emit(mut self, payload: &Payload) -> BroadcastReport {
        let mut recipients = std::mem::take(&mut self.server.recipients);
        self.recipients(&mut recipients);
        let report = self.emit_to(payload, &recipients);
        self.server.recipients = recipients;
        report
    }

    fn emit_to(&mut self, payload: &Payload, recipients: &[SocketId]) -> BroadcastReport {
        let server = &mut *self.server;
        let mut report = BroadcastReport::default();
        let logged = if self.volatile {
            None
        } else {
            server.encode_broadcast(
                &self.namespace,
                &self.rooms,
                &self.except,
                &self.skip,
                !recipients.is_empty(),
                payload,
            )
        };
        if recipients.is_empty() {
            return report;
        }
        let text = match logged {
            Some(text) => text,
            None => {
                server.scratch_encode_payload(PacketKind::Event, &self.namespace, None, payload)
            }
        };
        let (maxp, maxb) = (
            server.config.max_queue_packets,
            server.config.max_queue_bytes,
        );
        // Attachment messages follow the packet, unless the parser puts binary data inline.
        let attachments: &[bytes::Bytes] = match server.inline_binary() {
            true => &[],
            false => &payload.attachments,
        };
        let parts = 1 + attachments.len();
        let bytes = text.len() + attachments.iter().map(|a| a.len()).sum::<usize>();
        let mut slow: SmallVec<[SessionHandle; 4]> = SmallVec::new();
        for &id in recipients {
            let Some(h) = server.socket_state(id).map(|st| st.session) else {
                continue;
            };
            let Some(s) = server.session_mut(h) else {
                continue;
            };
            let busy = self.volatile && !s.is_writable();
            if busy || !s.queue.fits(parts, bytes, maxp, maxb) {
                if self.volatile || server.config.slow_consumer == SlowConsumer::Drop {
                    report.dropped += 1;
                } else {
                    slow.push(h);
                }
                continue;
            }
            s.queue.push(text.clone());
            for a in attachments {
                s.queue.push(OutPacket::Binary(a.clone()));
            }
            server.mark_dirty(h);
            report.delivered += 1;
        }
        for h in slow {
            report.disconnected += 1;
            server.close(h, DisconnectReason::SlowConsumer);
        }
        report
    }
}
