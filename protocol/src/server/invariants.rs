//! Internal consistency of a [`Server`] between inputs. The whole-server fuzz target checks it
//! after every drain, so a fuzzed sequence fails on the first step that leaves the indexes
//! disagreeing with each other, not only when something later panics.

use super::{Phase, Server, Transport};
use crate::id::{SessionHandle, SocketId};
use crate::time::TimerKind;

impl Server {
    /// Panics with a description of the first inconsistency found. Only meaningful after a full
    /// drain (every output polled up to the `Timeout`). Linear in the size of the server.
    pub(crate) fn check_invariants(&self) {
        assert!(self.out.is_empty() && self.dirty.is_empty(), "not drained");
        // Which sessions have their current deadline in the heap, by slab index.
        let slots = self.sessions.iter().map(|(i, _, _)| i as usize + 1).max();
        let mut in_heap = vec![false; slots.unwrap_or(0)];
        for (at, h) in self.heap.iter() {
            if self.session(h).is_some_and(|s| s.scheduled == Some(at)) {
                in_heap[h.index as usize] = true;
            }
        }
        for (index, generation, s) in self.sessions.iter() {
            let h = SessionHandle { index, generation };
            assert_ne!(
                s.phase,
                Phase::Closed,
                "a closed session outlived its SessionClosed event"
            );
            assert!(!s.dirty, "dirty session after a drain");
            assert_eq!(self.by_sid.get(&s.sid), Some(&h), "sid map");
            assert!(s.queue.is_consistent(), "queue byte count");
            assert_eq!(s.scheduled, s.timers.next(), "scheduled deadline");
            if s.scheduled.is_some() {
                assert!(in_heap[index as usize], "deadline missing from the heap");
            }
            match &s.transport {
                Transport::Polling { get } => {
                    if let Some(p) = get {
                        assert_eq!(self.transports.get(&p.transport), Some(&h), "parked GET");
                        assert!(s.queue.is_empty(), "a GET is parked while data waits");
                    }
                }
                Transport::Upgrading { get, ws, probed } => {
                    assert_eq!(s.phase, Phase::Open, "upgrading a closing session");
                    assert_eq!(self.transports.get(ws), Some(&h), "probing WebSocket");
                    assert!(
                        s.timers.get(TimerKind::Upgrade).is_some(),
                        "upgrade without a deadline"
                    );
                    if let Some(p) = get {
                        assert_eq!(self.transports.get(&p.transport), Some(&h), "parked GET");
                        if !*probed {
                            assert!(s.queue.is_empty(), "a GET is parked while data waits");
                        }
                    }
                    assert_eq!(
                        s.timers.get(TimerKind::UpgradeGrace).is_some(),
                        *probed && get.is_some(),
                        "a GET after the probe is parked exactly while its grace runs"
                    );
                }
                Transport::WebSocket { ws, blocked } => {
                    assert_eq!(self.transports.get(ws), Some(&h), "WebSocket");
                    if *blocked {
                        assert!(s.queue.control_is_empty(), "control packet held back");
                    } else {
                        assert!(
                            s.queue.is_empty(),
                            "data left queued on a writable WebSocket"
                        );
                    }
                }
            }
            if !matches!(s.transport, Transport::Upgrading { .. }) {
                assert!(
                    s.timers.get(TimerKind::UpgradeGrace).is_none(),
                    "upgrade grace without an upgrade"
                );
            }
            match s.phase {
                Phase::Open => {
                    let ping = s.timers.get(TimerKind::Ping).is_some();
                    let pong = s.timers.get(TimerKind::Pong).is_some();
                    assert!(ping != pong, "exactly one of the ping and pong timers");
                    assert!(
                        s.timers.get(TimerKind::Linger).is_none(),
                        "linger while open"
                    );
                }
                Phase::Closing => {
                    assert!(
                        s.sockets.is_empty() && s.reassembly.is_none(),
                        "sockets on a closing session"
                    );
                    assert!(
                        matches!(s.transport, Transport::Polling { get: None }),
                        "a closing session holds a transport"
                    );
                    assert!(
                        s.timers.get(TimerKind::Linger).is_some(),
                        "closing without a linger deadline"
                    );
                }
                Phase::Closed => unreachable!("checked above"),
            }
            let ack_timer = s.timers.get(TimerKind::Ack);
            for (i, id) in s.sockets.iter().enumerate() {
                assert!(
                    !s.sockets[..i].contains(id),
                    "socket listed twice by its session"
                );
                let st = self
                    .socket_state(*id)
                    .expect("a session lists a dead socket");
                assert_eq!(st.session, h, "socket of another session");
                for d in st.acks.iter().filter_map(|(_, d)| *d) {
                    assert!(
                        ack_timer.is_some_and(|t| t <= d),
                        "an ack deadline is not covered by the session's ack timer"
                    );
                }
            }
        }
        for (sid, h) in &self.by_sid {
            let s = self.session(*h).expect("sid of a dead session");
            assert_eq!(&s.sid, sid, "sid map points at another session");
        }
        for (t, h) in &self.transports {
            let s = self.session(*h).expect("transport of a dead session");
            let owned = match &s.transport {
                Transport::Polling { get } => get.as_ref().is_some_and(|p| p.transport == *t),
                Transport::Upgrading { get, ws, .. } => {
                    ws == t || get.as_ref().is_some_and(|p| p.transport == *t)
                }
                Transport::WebSocket { ws, .. } => ws == t,
            };
            let held = s.held_post.as_ref().is_some_and(|p| p.transport == *t);
            assert!(
                owned || held,
                "transport map entry its session does not hold"
            );
        }
        for (index, generation, st) in self.sockets.iter() {
            let id = SocketId { index, generation };
            let s = self.session(st.session).expect("socket of a dead session");
            assert!(s.sockets.contains(&id), "socket missing from its session");
            assert_eq!(self.socket_by_sid.get(&st.sid), Some(&id), "socket sid map");
            assert!(
                st.rooms.is_consistent(),
                "rooms listed twice or badly indexed: {:?}",
                st.rooms
            );
            assert!(
                st.rooms.len() <= self.config.max_rooms_per_socket,
                "more rooms than the cap"
            );
            assert!(
                st.acks.windows(2).all(|w| w[0].0 < w[1].0),
                "acks ordered by id"
            );
            assert!(
                st.acks.iter().all(|(a, _)| *a < st.next_ack),
                "ack id from the future"
            );
            let ns = self.namespaces.get(st.namespace.as_str());
            if st.connected {
                let ns = ns.expect("connected socket without its namespace");
                assert!(
                    ns.sockets.contains(&id),
                    "connected socket not in namespace"
                );
                for r in &st.rooms {
                    assert!(
                        ns.rooms.members(r).is_some_and(|m| m.contains(&id)),
                        "socket lists room {r:?} the index does not"
                    );
                }
                assert!(st.pending_out.is_empty(), "pending packets after accept");
            } else {
                assert!(
                    ns.is_none_or(|ns| !ns.sockets.contains(&id)),
                    "pending socket in its namespace"
                );
            }
        }
        for (sid, id) in &self.socket_by_sid {
            let st = self.socket_state(*id).expect("socket sid of a dead socket");
            assert_eq!(&st.sid, sid, "socket sid map points at another socket");
        }
        for (name, ns) in &self.namespaces {
            assert!(
                !ns.sockets.is_empty() || !ns.rooms.is_empty(),
                "empty namespace {name:?} kept"
            );
            for id in &ns.sockets {
                let st = self.socket_state(*id).expect("dead socket in a namespace");
                assert!(st.connected, "pending socket in a namespace");
                assert_eq!(&st.namespace, name, "socket in another namespace");
            }
            for (room, members) in ns.rooms.iter() {
                assert!(!members.is_empty(), "empty room {room:?} kept");
                for id in members {
                    let st = self.socket_state(*id).expect("dead socket in a room");
                    assert!(
                        st.connected && &st.namespace == name,
                        "room member elsewhere"
                    );
                    assert!(st.rooms.contains(room), "room member that does not list it");
                }
            }
        }
        self.check_recovery_invariants();
    }
}
