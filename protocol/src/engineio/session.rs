//! One Engine.IO session: its transport sub-machine, outbound queue and timers.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use smallvec::SmallVec;

use super::payload::{push_packet, Frameable};
use crate::http::HttpRequest;
use crate::id::{Sid, SocketId, TransportHandle};
use crate::socketio::Reassembly;
use crate::time::Timers;
use crate::DisconnectReason;

/// Where a session is in its life. Closed is terminal and sticky.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Serving traffic.
    Open,
    /// Closed by the server; a polling session waits for one last GET to hand over what is
    /// queued and the close packet.
    Closing,
    /// Done; the slot is freed once the "session closed" event has been polled.
    Closed,
}

/// A parked long-polling GET with the headers its response must carry.
#[derive(Debug)]
pub(crate) struct Parked {
    pub(crate) transport: TransportHandle,
    pub(crate) headers: Vec<(&'static str, String)>,
}

/// The transport sub-machine. The upgrade is its own state, never a set of booleans.
#[derive(Debug)]
pub(crate) enum Transport {
    /// Long-polling, with at most one parked GET.
    Polling { get: Option<Parked> },
    /// Polling while a WebSocket is probing. Once probed, data waits for the switch: the GET
    /// parked then gets a noop at once, and a GET arriving later (the client may send one more
    /// before it sees the probe's answer) is held for the upgrade grace (its
    /// [`TimerKind::UpgradeGrace`](crate::time::TimerKind::UpgradeGrace) runs), then gets a
    /// noop, or the 400 of a GET after the upgrade when the `5` came first.
    Upgrading {
        get: Option<Parked>,
        ws: TransportHandle,
        probed: bool,
    },
    /// WebSocket only. While `blocked` (the driver cannot take more frames), data stays in the
    /// session's queue, under its caps; control packets still go.
    WebSocket { ws: TransportHandle, blocked: bool },
}

/// An encoded Engine.IO packet waiting to be sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum OutPacket {
    /// A text packet including its type digit.
    Text(Bytes),
    /// A binary message.
    Binary(Bytes),
}

impl OutPacket {
    pub(crate) fn len(&self) -> usize {
        match self {
            OutPacket::Text(b) | OutPacket::Binary(b) => b.len(),
        }
    }

    pub(crate) fn frameable(&self) -> Frameable<'_> {
        match self {
            OutPacket::Text(b) => Frameable::Text(b),
            OutPacket::Binary(b) => Frameable::Binary(b),
        }
    }
}

/// The bounded outbound queue of a session. Control packets (ping, pong, close, noop) bypass
/// the caps so they never wait behind a refusal, and go in a lane of their own that is sent
/// first, so they never wait behind data either.
#[derive(Debug, Default)]
pub(crate) struct OutQueue {
    control: SmallVec<[OutPacket; 1]>,
    packets: VecDeque<OutPacket>,
    bytes: usize,
}

impl OutQueue {
    /// Whether `packets` more packets of `bytes` total fit under the caps.
    pub(crate) fn fits(
        &self,
        packets: usize,
        bytes: usize,
        max_packets: usize,
        max_bytes: usize,
    ) -> bool {
        self.packets.len() + packets <= max_packets && self.bytes + bytes <= max_bytes
    }

    pub(crate) fn push(&mut self, p: OutPacket) {
        self.bytes += p.len();
        self.packets.push_back(p);
    }

    /// Queues a control packet ahead of all data.
    pub(crate) fn push_control(&mut self, p: OutPacket) {
        self.control.push(p);
    }

    /// The next packet: control packets first, then data.
    pub(crate) fn pop(&mut self) -> Option<OutPacket> {
        self.pop_control().or_else(|| {
            let p = self.packets.pop_front()?;
            self.bytes -= p.len();
            Some(p)
        })
    }

    /// The next control packet only.
    pub(crate) fn pop_control(&mut self) -> Option<OutPacket> {
        (!self.control.is_empty()).then(|| self.control.remove(0))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.control.is_empty() && self.packets.is_empty()
    }

    /// Bytes of data waiting (control packets not counted).
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether no control packet waits (for the invariant checks).
    pub(crate) fn control_is_empty(&self) -> bool {
        self.control.is_empty()
    }

    /// Whether the byte count matches the packets queued (for the invariant checks).
    pub(crate) fn is_consistent(&self) -> bool {
        self.bytes == self.packets.iter().map(OutPacket::len).sum::<usize>()
    }

    pub(crate) fn clear(&mut self) {
        self.control.clear();
        self.packets.clear();
        self.bytes = 0;
    }

    /// Moves everything queued into one polling payload, appending `tail` packets (noop, close).
    pub(crate) fn drain_payload(&mut self, tail: &[&[u8]]) -> Bytes {
        let mut out =
            BytesMut::with_capacity(self.bytes + self.packets.len() + 8 + 2 * self.control.len());
        while let Some(p) = self.pop() {
            push_packet(&mut out, &p.frameable());
        }
        for t in tail {
            push_packet(&mut out, &Frameable::Text(t));
        }
        out.freeze()
    }
}

/// Everything the server keeps about one Engine.IO session.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) sid: Sid,
    pub(crate) phase: Phase,
    pub(crate) transport: Transport,
    pub(crate) queue: OutQueue,
    pub(crate) timers: Timers,
    /// The deadline this session currently has in the server heap.
    pub(crate) scheduled: Option<Instant>,
    pub(crate) dirty: bool,
    pub(crate) sockets: SmallVec<[SocketId; 2]>,
    /// A long-polling POST whose answer waits until the client reads what is queued for it:
    /// a client that sends without ever reading cannot make the queue grow past one
    /// payload's worth of answers at a time.
    pub(crate) held_post: Option<Parked>,
    /// A binary packet waiting for its attachments (boxed: rare, and large).
    pub(crate) reassembly: Option<Box<Reassembly>>,
    /// The handshake request, without its body (shared with the driver: one copy per session,
    /// kept out of line since only queries read it). Keeping the cold
    /// parts out of line halves the size of a session, which a broadcast or a heartbeat tick
    /// touches for every recipient.
    pub(crate) request: std::sync::Arc<HttpRequest>,
    pub(crate) close_reason: Option<DisconnectReason>,
}

impl Session {
    pub(crate) fn new(sid: Sid, transport: Transport, request: HttpRequest) -> Self {
        Session {
            sid,
            phase: Phase::Open,
            transport,
            queue: OutQueue::default(),
            timers: Timers::default(),
            scheduled: None,
            dirty: false,
            sockets: SmallVec::new(),
            held_post: None,
            reassembly: None,
            request: std::sync::Arc::new(request),
            close_reason: None,
        }
    }

    /// Takes the parked GET, whatever the transport state.
    pub(crate) fn take_parked(&mut self) -> Option<Parked> {
        match &mut self.transport {
            Transport::Polling { get } | Transport::Upgrading { get, .. } => get.take(),
            Transport::WebSocket { .. } => None,
        }
    }

    pub(crate) fn parked(&self) -> Option<&Parked> {
        match &self.transport {
            Transport::Polling { get } | Transport::Upgrading { get, .. } => get.as_ref(),
            Transport::WebSocket { .. } => None,
        }
    }

    pub(crate) fn is_websocket(&self) -> bool {
        matches!(self.transport, Transport::WebSocket { .. })
    }

    /// Whether a packet queued now would leave at once: a GET is parked, or the WebSocket is
    /// not blocked. Volatile packets are dropped otherwise.
    pub(crate) fn is_writable(&self) -> bool {
        match &self.transport {
            Transport::Polling { get } => get.is_some(),
            Transport::Upgrading { get, probed, .. } => get.is_some() && !probed,
            Transport::WebSocket { blocked, .. } => !blocked,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_caps_and_payload() {
        let mut q = OutQueue::default();
        assert!(q.fits(2, 10, 2, 10));
        q.push(OutPacket::Text(Bytes::from_static(b"4hello")));
        q.push(OutPacket::Binary(Bytes::from_static(&[1, 2, 3])));
        assert!(!q.fits(1, 1, 2, 100));
        assert!(!q.fits(0, 2, 10, 10));
        assert!(!q.is_empty());
        q.push_control(OutPacket::Text(Bytes::from_static(b"2")));
        assert!(!q.fits(1, 1, 2, 100), "control packets do not count");
        let body = q.drain_payload(&[b"6"]);
        assert_eq!(&body[..], b"2\x1e4hello\x1ebAQID\x1e6", "control first");
        assert!(q.is_empty());
        assert!(q.fits(2, 10, 2, 10));
    }
}
