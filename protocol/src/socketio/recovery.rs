//! Connection state recovery (socket.io's `connectionStateRecovery`): the events each namespace
//! sent, with their offsets, targets and times, and the state of sockets whose transport went
//! away, so that a client reconnecting in time gets its socket and what it missed back.
//!
//! # On the wire (as socket.io 4.6+ and socket.io-client 4.x)
//!
//! - The CONNECT reply carries a private id next to the sid: `40{"sid":"…","pid":"…"}`. The
//!   pid is 20 random URL-safe characters; only the client ever learns it.
//! - Every EVENT the server sends without an ack id and without `volatile`, broadcast or
//!   direct, carries an offset as its last array element: `42["news",1,"<offset>"]`, or
//!   `451-["file",{"_placeholder":true,"num":0},"<offset>"]` with attachments. The client
//!   remembers the last one it handled. Acknowledgements, emits asking for an ack, and volatile
//!   emits carry none (the client skips them: their last argument is a function, or they may
//!   be lost anyway).
//! - An offset is an 8-character random prefix drawn when the server starts followed by a
//!   sequence number in hexadecimal: unique on this server, and never valid on another one or
//!   after a restart.
//! - On reconnection the client's CONNECT auth carries `{"pid":"…","offset":"…"}` (offset
//!   absent when it never handled an event with one). When the pid names a socket that lost
//!   its transport less than `max_disconnection_duration` ago and its position is still known
//!   (the offset is an event of this namespace still kept; without an offset, or with one
//!   older than the socket, nothing sent to the namespace since the socket connected was
//!   dropped), the socket comes back with its sid,
//!   pid and rooms, and [`Event::Connect`](crate::Event::Connect) says `recovered: true`.
//!   Anything else (unknown or expired pid, an offset that is not a string or no longer kept)
//!   is an ordinary new connection.
//! - Once the application accepts it, the client gets the CONNECT reply, then every event it
//!   missed in the order they were sent (the bytes that went out the first time, offsets and
//!   attachments included; an event counts when its rooms include one of the socket's rooms
//!   and its exclusions none, as socket.io decides), then what was emitted to it while it
//!   waited for acceptance, then live traffic. Events sent while the recovered connection
//!   waits for acceptance are part of the replay too: none falls between the replay and live
//!   traffic.
//!
//! A socket is kept on transport close or error, ping timeout, slow consumer and server
//! shutdown (socket.io's list, without `forced close`: [`Server::close_session`] is a server
//! decision, as a namespace disconnect is). State lives in this process only, like socket.io's
//! in-memory adapter: with several processes, a client recovers only on the one it left.

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::time::Instant;

use bytes::BytesMut;
use serde_json::Value;
use smallvec::SmallVec;

use crate::config::RecoveryConfig;
use crate::engineio::session::OutPacket;
use crate::id::{Entropy, Namespace, Room, Sid, SocketId};
use crate::server::{Payload, Server};
use crate::socketio::packet::encode_header;
use crate::socketio::PacketKind;

/// Application data kept with a disconnected socket (see [`Server::keep_recovery_data`]).
pub type RecoveryData = Box<dyn Any + Send>;

const EPOCH_LEN: usize = 8;
/// The longest offset: the epoch and 16 hexadecimal digits.
const OFFSET_MAX: usize = EPOCH_LEN + 16;

/// An offset's text, on the stack.
struct OffsetBuf {
    buf: [u8; OFFSET_MAX],
    len: usize,
}

impl OffsetBuf {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).expect("offsets are ASCII")
    }
}

/// What connection state recovery holds, from [`Server::recovery_stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecoveryStats {
    /// Namespaces with something kept.
    pub namespaces: usize,
    /// Disconnected sockets kept for recovery.
    pub sockets: usize,
    /// Events kept for replay.
    pub packets: usize,
    /// Bytes of those events (JSON and attachments).
    pub bytes: usize,
}

/// Server-wide recovery state: one [`Store`] per namespace that has something to keep.
pub(crate) struct Recovery {
    config: RecoveryConfig,
    /// Random prefix of every offset this server hands out.
    epoch: [u8; EPOCH_LEN],
    /// The next event's sequence number, shared by every namespace, so that an offset names
    /// one event of one namespace.
    next_seq: u64,
    stores: HashMap<Namespace, Store>,
    /// Sockets taken in from another server ([`Server::import_recovery`]), waiting for their
    /// client's CONNECT, with when they came.
    imported: Vec<(Instant, Namespace, Restored)>,
}

impl fmt::Debug for Recovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recovery")
            .field("config", &self.config)
            .field("next_seq", &self.next_seq)
            .field("namespaces", &self.stores.len())
            .finish()
    }
}

/// What one namespace keeps.
#[derive(Default)]
struct Store {
    log: VecDeque<Logged>,
    bytes: usize,
    /// The highest sequence number dropped from `log` (by age or a cap); 0 when none was.
    dropped_to: u64,
    /// Disconnected sockets by pid.
    kept: HashMap<Sid, Kept>,
    /// Pid of each kept socket by sid.
    by_sid: HashMap<Sid, Sid>,
    /// Pids by disconnection time, oldest first, for expiry and the cap; entries whose socket
    /// was restored since are skipped when they come up.
    order: VecDeque<(Instant, Sid)>,
}

/// One event as it went out.
struct Logged {
    seq: u64,
    at: Instant,
    target: Target,
    /// The Engine.IO message, then its attachments.
    packets: SmallVec<[OutPacket; 1]>,
    bytes: usize,
}

/// Who an event was for: socket.io's `rooms` and `except` (a skipped socket stands for its own
/// sid's room in `except`).
#[derive(Debug, Default)]
pub(crate) struct Target {
    pub(crate) rooms: SmallVec<[Room; 1]>,
    pub(crate) except: SmallVec<[Room; 1]>,
}

impl Target {
    /// Whether a socket in `rooms` (its own sid's room among them) was a recipient.
    fn includes(&self, rooms: &[Room]) -> bool {
        let included = self.rooms.is_empty() || rooms.iter().any(|r| self.rooms.contains(r));
        included && !rooms.iter().any(|r| self.except.contains(r))
    }
}

/// A socket whose transport went away.
struct Kept {
    sid: Sid,
    rooms: SmallVec<[Room; 4]>,
    /// The sequence number the socket's first connection started at.
    since: u64,
    /// When it disconnected.
    at: Instant,
    data: Option<RecoveryData>,
}

/// A socket being recovered, between its CONNECT and the application's decision.
pub(crate) struct Restoring {
    /// The events missed up to the CONNECT, in order.
    missed: Vec<OutPacket>,
    /// Every sequence number up to this one was looked at for `missed`.
    scanned_to: u64,
    /// The rooms the socket had, which decide what it missed.
    rooms: SmallVec<[Room; 4]>,
    /// Events emitted to the socket itself while it waited: they go out from its pending
    /// queue, not again from the log.
    pending_seqs: SmallVec<[u64; 2]>,
    /// The original disconnection time, in case it is kept again before being accepted.
    at: Instant,
    data: Option<RecoveryData>,
}

impl fmt::Debug for Restoring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Restoring")
            .field("missed", &self.missed.len())
            .field("scanned_to", &self.scanned_to)
            .field("rooms", &self.rooms)
            .field("data", &self.data.is_some())
            .finish()
    }
}

/// A disconnected socket moving from the server that kept it to the one its client came
/// back to ([`Server::export_recovery`], [`Server::import_recovery`]): for drivers that run
/// several servers side by side (shards).
pub struct RecoveryTransfer {
    namespace: Namespace,
    restored: Restored,
}

impl fmt::Debug for RecoveryTransfer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecoveryTransfer")
            .field("namespace", &self.namespace)
            .field("sid", &self.restored.sid)
            .field("missed", &self.restored.restoring.missed.len())
            .finish()
    }
}

impl RecoveryTransfer {
    /// The socket's sid, which it keeps.
    pub fn sid(&self) -> Sid {
        self.restored.sid
    }
}

/// How long an imported socket waits for its client's CONNECT.
const IMPORT_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// The state a recovered socket gets back.
pub(crate) struct Restored {
    pub(crate) sid: Sid,
    pub(crate) pid: Sid,
    pub(crate) rooms: SmallVec<[Room; 4]>,
    pub(crate) since: u64,
    pub(crate) restoring: Box<Restoring>,
}

impl Recovery {
    pub(crate) fn new(config: RecoveryConfig, entropy: &mut dyn Entropy) -> Self {
        let mut epoch = [0u8; EPOCH_LEN];
        epoch.copy_from_slice(&Sid::random(entropy).as_str().as_bytes()[..EPOCH_LEN]);
        Recovery {
            config,
            epoch,
            next_seq: 1,
            stores: HashMap::new(),
            imported: Vec::new(),
        }
    }

    /// The sequence number the next logged event will get.
    pub(crate) fn position(&self) -> u64 {
        self.next_seq
    }

    fn window(&self) -> std::time::Duration {
        self.config.max_disconnection_duration
    }

    fn expired(&self, at: Instant, now: Instant) -> bool {
        now.saturating_duration_since(at) >= self.window()
    }

    /// The offset text of a sequence number: the epoch, then the number in hexadecimal
    /// without leading zeros. Built on the stack: every logged event needs one.
    fn offset_buf(&self, seq: u64) -> OffsetBuf {
        let mut buf = [0u8; OFFSET_MAX];
        buf[..EPOCH_LEN].copy_from_slice(&self.epoch);
        let digits = (64 - seq.max(1).leading_zeros()).div_ceil(4) as usize;
        for i in 0..digits {
            let nibble = (seq >> (4 * (digits - 1 - i))) & 0xf;
            buf[EPOCH_LEN + i] = b"0123456789abcdef"[nibble as usize];
        }
        OffsetBuf {
            buf,
            len: EPOCH_LEN + digits,
        }
    }

    /// [`offset_buf`](Self::offset_buf) as a `String`.
    fn offset(&self, seq: u64) -> String {
        self.offset_buf(seq).as_str().to_string()
    }

    /// The sequence number of an offset this server handed out, or `None`.
    fn parse_offset(&self, offset: &str) -> Option<u64> {
        let digits = offset.as_bytes().strip_prefix(&self.epoch[..])?;
        let canonical = matches!(digits, [b'1'..=b'9' | b'a'..=b'f', ..])
            && digits.len() <= 16
            && digits
                .iter()
                .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
        if !canonical {
            return None;
        }
        u64::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
    }

    /// Whether events of `namespace` without live recipients are worth keeping: only when a
    /// disconnected socket could want them.
    fn has_store(&self, namespace: &str) -> bool {
        self.stores.contains_key(namespace)
    }

    /// Draws the next sequence number.
    fn next(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    fn append(&mut self, namespace: &str, logged: Logged) {
        let (max_packets, max_bytes) = (self.config.max_packets, self.config.max_bytes);
        let store = match self.stores.get_mut(namespace) {
            Some(s) => s,
            None => self.stores.entry(Namespace::from(namespace)).or_default(),
        };
        store.bytes += logged.bytes;
        store.log.push_back(logged);
        while store.log.len() > max_packets || store.bytes > max_bytes {
            store.drop_oldest();
        }
    }

    /// Keeps the state of a socket whose transport went away.
    fn keep(&mut self, namespace: &Namespace, pid: Sid, kept: Kept) {
        let max = self.config.max_sessions;
        let store = self.stores.entry(namespace.clone()).or_default();
        if let Some(old) = store.kept.remove(&pid) {
            store.by_sid.remove(&old.sid);
        }
        // Usually the newest; a socket kept again after a failed recovery keeps its first time.
        let i = store.order.partition_point(|(at, _)| *at <= kept.at);
        store.order.insert(i, (kept.at, pid));
        store.by_sid.insert(kept.sid, pid);
        store.kept.insert(pid, kept);
        while store.kept.len() > max {
            let Some((at, pid)) = store.order.pop_front() else {
                break;
            };
            store.forget_if(pid, at);
        }
    }

    /// Takes a kept socket back when `pid` and `offset` name a position this namespace still
    /// knows; `None` leaves everything as it was.
    fn restore(
        &mut self,
        namespace: &str,
        pid: &str,
        offset: Option<&str>,
        now: Instant,
    ) -> Option<Restored> {
        let seq = match offset {
            Some(o) => Some(self.parse_offset(o)?),
            None => None,
        };
        let pid = Sid::parse(pid)?;
        let window = self.window();
        let scanned_to = self.next_seq - 1;
        let store = self.stores.get_mut(namespace)?;
        let kept = store.kept.get(&pid)?;
        if now.saturating_duration_since(kept.at) >= window {
            return None; // expiry removes it
        }
        let start = match seq {
            Some(seq) if seq >= kept.since => {
                store.log.binary_search_by_key(&seq, |l| l.seq).ok()? + 1
            }
            // No offset, or one from before this socket existed (socket.io-client keeps the
            // last offset of an earlier session until an event replaces it): the client got
            // nothing of this socket's, so everything since it connected is missed.
            _ if store.dropped_to < kept.since => store.log.partition_point(|l| l.seq < kept.since),
            _ => return None,
        };
        let kept = store.kept.remove(&pid).expect("looked up above");
        store.by_sid.remove(&kept.sid);
        let missed = store
            .log
            .range(start..)
            .filter(|l| l.target.includes(&kept.rooms))
            .flat_map(|l| l.packets.iter().cloned())
            .collect();
        Some(Restored {
            sid: kept.sid,
            pid,
            rooms: kept.rooms.clone(),
            since: kept.since,
            restoring: Box::new(Restoring {
                missed,
                scanned_to,
                rooms: kept.rooms,
                pending_seqs: SmallVec::new(),
                at: kept.at,
                data: kept.data,
            }),
        })
    }

    /// What a recovering socket missed, from its CONNECT to now.
    fn replay(&self, namespace: &str, restoring: Restoring) -> Vec<OutPacket> {
        let mut out = restoring.missed;
        let Some(store) = self.stores.get(namespace) else {
            return out;
        };
        let start = store.log.partition_point(|l| l.seq <= restoring.scanned_to);
        out.extend(
            store
                .log
                .range(start..)
                .filter(|l| {
                    l.target.includes(&restoring.rooms) && !restoring.pending_seqs.contains(&l.seq)
                })
                .flat_map(|l| l.packets.iter().cloned()),
        );
        out
    }

    /// Drops what is older than the window, and stores with nothing left whose namespace has
    /// no connected socket (`live`) that could start needing one.
    fn expire(&mut self, now: Instant, live: impl Fn(&str) -> bool) {
        let window = self.window();
        let old = |at: Instant| now.saturating_duration_since(at) >= window;
        self.stores.retain(|namespace, store| {
            while store.log.front().is_some_and(|l| old(l.at)) {
                store.drop_oldest();
            }
            while let Some(&(at, pid)) = store.order.front() {
                if !old(at) {
                    break;
                }
                store.order.pop_front();
                store.forget_if(pid, at);
            }
            !(store.log.is_empty() && store.kept.is_empty() && !live(namespace))
        });
    }

    /// The last connected socket of `namespace` left: a store with nothing in it goes too
    /// (expiry kept it only because that socket might come to need it, and an empty store
    /// has no deadline that would come back for it).
    fn release(&mut self, namespace: &str) {
        if self
            .stores
            .get(namespace)
            .is_some_and(|s| s.log.is_empty() && s.kept.is_empty())
        {
            self.stores.remove(namespace);
        }
    }

    /// The next instant something expires.
    fn next_deadline(&self) -> Option<Instant> {
        let window = self.window();
        self.stores
            .values()
            .flat_map(|s| {
                let log = s.log.front().map(|l| l.at);
                let kept = s.order.front().map(|(at, _)| *at);
                log.into_iter().chain(kept)
            })
            .min()
            .map(|at| at + window)
    }
}

impl Store {
    fn drop_oldest(&mut self) {
        if let Some(l) = self.log.pop_front() {
            self.bytes -= l.bytes;
            self.dropped_to = l.seq;
        }
    }

    /// Forgets the socket kept under `pid` if it is the one kept at `at`.
    fn forget_if(&mut self, pid: Sid, at: Instant) {
        if self.kept.get(&pid).is_some_and(|k| k.at == at) {
            let k = self.kept.remove(&pid).expect("checked");
            self.by_sid.remove(&k.sid);
        }
    }
}

/// The pid and offset of a CONNECT's auth, when it asks for recovery.
fn recovery_auth(auth: Option<&Value>) -> Option<(&str, Option<&str>)> {
    let auth = auth?.as_object()?;
    let pid = auth.get("pid")?.as_str()?;
    let offset = match auth.get("offset") {
        None => None,
        Some(Value::String(o)) => Some(o.as_str()),
        Some(_) => return None,
    };
    Some((pid, offset))
}

/// Writes `json` (an array) with `offset` appended as its last element; false when `json` is
/// not an array, in which case nothing useful was written.
fn write_with_offset(out: &mut BytesMut, json: &[u8], offset: &str) -> bool {
    let first = json.iter().position(|b| !b.is_ascii_whitespace());
    let last = json.iter().rposition(|b| !b.is_ascii_whitespace());
    let (Some(first), Some(last)) = (first, last) else {
        return false;
    };
    if json[first] != b'[' || json[last] != b']' || first == last {
        return false;
    }
    let empty = json[first + 1..last].iter().all(u8::is_ascii_whitespace);
    out.extend_from_slice(&json[first..last]);
    if !empty {
        out.extend_from_slice(b",");
    }
    out.extend_from_slice(b"\"");
    out.extend_from_slice(offset.as_bytes());
    out.extend_from_slice(b"\"]");
    true
}

impl Server {
    fn recovery_mut(&mut self) -> Option<&mut Recovery> {
        self.recovery.as_deref_mut()
    }

    /// Whether a disconnected socket kept for recovery has this sid (new ones must not).
    pub(crate) fn is_kept_sid(&self, sid: &Sid) -> bool {
        self.recovery
            .as_deref()
            .is_some_and(|r| r.stores.values().any(|s| s.by_sid.contains_key(sid)))
    }

    /// The position a new socket starts at (0 without recovery).
    pub(crate) fn recovery_position(&self) -> u64 {
        self.recovery.as_ref().map_or(0, |r| r.position())
    }

    /// A fresh private id for a new socket, when recovery is on.
    pub(crate) fn new_pid(&mut self) -> Option<Sid> {
        self.recovery.as_ref()?;
        Some(self.random_sid())
    }

    /// The JSON of a CONNECT reply.
    pub(crate) fn connect_reply(sid: Sid, pid: Option<Sid>) -> String {
        match pid {
            Some(pid) => format!("{{\"sid\":\"{sid}\",\"pid\":\"{pid}\"}}"),
            None => format!("{{\"sid\":\"{sid}\"}}"),
        }
    }

    /// Encodes an event with an offset and logs it for `target`; `None` (nothing logged) when
    /// recovery is off or `payload` is not an array. `force` logs even in a namespace that
    /// keeps nothing yet.
    fn log_event(
        &mut self,
        namespace: &str,
        target: Target,
        payload: &Payload,
        force: bool,
    ) -> Option<(u64, OutPacket)> {
        let recovery = self.recovery.as_deref_mut()?;
        if !force && !recovery.has_store(namespace) {
            return None;
        }
        let seq = recovery.next();
        let offset = recovery.offset_buf(seq);
        let n = payload.attachments.len();
        let kind = if n == 0 {
            PacketKind::Event
        } else {
            PacketKind::BinaryEvent
        };
        let inline = self.inline_binary();
        if !inline {
            encode_header(&mut self.scratch, true, kind, n, namespace, None);
        }
        if !write_with_offset(&mut self.scratch, &payload.json, offset.as_str()) {
            self.scratch.clear();
            return None;
        }
        let text = if inline {
            // The MessagePack parser: the JSON with its offset, then binary data inline.
            let json = self.scratch.split().freeze();
            self.encode_msgpack(kind, namespace, None, &json, &payload.attachments)
        } else {
            OutPacket::Text(self.scratch.split().freeze())
        };
        let mut packets = SmallVec::with_capacity(1 + n);
        packets.push(text.clone());
        if !inline {
            packets.extend(payload.attachments.iter().cloned().map(OutPacket::Binary));
        }
        let bytes = packets.iter().map(OutPacket::len).sum();
        let at = self.now();
        let recovery = self.recovery.as_deref_mut().expect("checked above");
        recovery.append(
            namespace,
            Logged {
                seq,
                at,
                target,
                packets,
                bytes,
            },
        );
        Some((seq, text))
    }

    /// The Engine.IO message of a broadcast that is not volatile, with its offset when
    /// recovery keeps it (some recipient now, or a namespace that keeps disconnected sockets).
    pub(crate) fn encode_broadcast(
        &mut self,
        namespace: &str,
        rooms: &[Room],
        except: &[Room],
        skip: &[SocketId],
        has_recipients: bool,
        payload: &Payload,
    ) -> Option<OutPacket> {
        self.recovery.as_ref()?;
        let mut target = Target {
            rooms: rooms.iter().cloned().collect(),
            except: except.iter().cloned().collect(),
        };
        for id in skip {
            if let Some(st) = self.socket_state(*id) {
                target.except.push(Room::from(st.sid.as_str()));
            }
        }
        self.log_event(namespace, target, payload, has_recipients)
            .map(|(_, text)| text)
    }

    /// The Engine.IO message of an emit to one socket, with its offset when recovery is on.
    pub(crate) fn encode_direct(&mut self, id: SocketId, payload: &Payload) -> Option<OutPacket> {
        self.recovery.as_ref()?;
        let st = self.socket_state(id)?;
        let namespace = st.namespace.clone();
        // A connected socket lists its own room first: share its name.
        let own = match st.rooms.first() {
            Some(r) if r.as_str() == st.sid.as_str() => r.clone(),
            _ => Room::from(st.sid.as_str()),
        };
        let target = Target {
            rooms: SmallVec::from_elem(own, 1),
            except: SmallVec::new(),
        };
        let (seq, text) = self.log_event(&namespace, target, payload, true)?;
        if let Some(r) = self
            .socket_state_mut(id)
            .and_then(|st| st.restoring.as_mut())
        {
            r.pending_seqs.push(seq);
        }
        Some(text)
    }

    /// Restores a socket when a CONNECT's auth names a kept one (`{"pid": …, "offset": …}`),
    /// here or imported from another server.
    pub(crate) fn try_restore(
        &mut self,
        namespace: &str,
        auth: Option<&Value>,
    ) -> Option<Restored> {
        let (pid, offset) = recovery_auth(auth)?;
        let now = self.now();
        let recovery = self.recovery_mut()?;
        recovery
            .imported
            .retain(|(at, _, _)| now.saturating_duration_since(*at) < IMPORT_WAIT);
        let imported = recovery
            .imported
            .iter()
            .position(|(_, ns, r)| ns.as_str() == namespace && r.pid.as_str() == pid);
        let restored = match imported {
            Some(i) => recovery.imported.swap_remove(i).2,
            None => recovery.restore(namespace, pid, offset, now)?,
        };
        if self.socket_by_sid(restored.sid.as_str()).is_some() {
            return None; // cannot happen: the sid left with its socket
        }
        Some(restored)
    }

    /// Takes out the socket a CONNECT's `auth` (`{"pid": …, "offset": …}`) names, kept here,
    /// with what it missed, for another server side by side with this one (a shard) that the
    /// client reconnected to: give it to that server's
    /// [`import_recovery`](Self::import_recovery) before its CONNECT. `None` when nothing
    /// here matches (then nothing changes, and the client connects as a new socket there).
    pub fn export_recovery(&mut self, namespace: &str, auth: &Value) -> Option<RecoveryTransfer> {
        let (pid, offset) = recovery_auth(Some(auth))?;
        let now = self.now();
        let restored = self.recovery_mut()?.restore(namespace, pid, offset, now)?;
        Some(RecoveryTransfer {
            namespace: Namespace::from(namespace),
            restored,
        })
    }

    /// Takes in a socket [exported](Self::export_recovery) by another server: the client's
    /// CONNECT (with the same pid) then restores it here, with its sid, rooms, application
    /// data and what it missed. Without recovery on here, the transfer is dropped.
    pub fn import_recovery(&mut self, transfer: RecoveryTransfer) {
        let now = self.now();
        let Some(recovery) = self.recovery_mut() else {
            return;
        };
        let RecoveryTransfer {
            namespace,
            mut restored,
        } = transfer;
        // From here on, this server logs what the socket misses: its replay starts now.
        restored.restoring.scanned_to = recovery.next_seq - 1;
        restored.since = recovery.next_seq;
        recovery.stores.entry(namespace.clone()).or_default();
        recovery
            .imported
            .retain(|(at, _, _)| now.saturating_duration_since(*at) < IMPORT_WAIT);
        recovery.imported.push((now, namespace, restored));
    }

    /// Keeps what is needed to recover a socket that is going away, if `reason` allows it.
    pub(crate) fn keep_for_recovery(
        &mut self,
        st: &mut crate::server::SocketState,
        reason: crate::DisconnectReason,
    ) {
        if !reason.is_recoverable() {
            return;
        }
        let now = self.now();
        let (Some(pid), Some(recovery)) = (st.pid, self.recovery.as_deref_mut()) else {
            return;
        };
        let kept = match st.restoring.take() {
            // Recovered but never accepted: kept again as it was.
            Some(r) if !st.connected => Kept {
                sid: st.sid,
                rooms: r.rooms,
                since: st.since,
                at: r.at,
                data: r.data,
            },
            _ if st.connected => Kept {
                sid: st.sid,
                rooms: st.rooms.take(),
                since: st.since,
                at: now,
                data: None,
            },
            _ => return,
        };
        if recovery.expired(kept.at, now) {
            return;
        }
        recovery.keep(&st.namespace, pid, kept);
    }

    /// The namespace lost its last connected socket: drops its recovery store if it is empty.
    pub(crate) fn release_recovery(&mut self, namespace: &str) {
        if let Some(recovery) = self.recovery.as_deref_mut() {
            recovery.release(namespace);
        }
    }

    /// What a recovering socket that was just accepted must get before anything else.
    pub(crate) fn take_replay(&mut self, id: SocketId) -> Vec<OutPacket> {
        let Some(st) = self.sockets.get_mut(id.index, id.generation) else {
            return Vec::new();
        };
        let Some(r) = st.restoring.take() else {
            return Vec::new();
        };
        let namespace = st.namespace.clone();
        match self.recovery.as_deref() {
            Some(recovery) => recovery.replay(&namespace, *r),
            None => Vec::new(),
        }
    }

    /// Drops recovery state older than the window.
    pub(crate) fn expire_recovery(&mut self, now: Instant) {
        let Some(recovery) = self.recovery.as_deref_mut() else {
            return;
        };
        let namespaces = &self.namespaces;
        recovery.expire(now, |ns| namespaces.contains_key(ns));
    }

    /// When recovery state next expires.
    pub(crate) fn recovery_deadline(&self) -> Option<Instant> {
        self.recovery.as_ref()?.next_deadline()
    }

    /// Keeps application data (a handler's session, say) with the socket `sid` of `namespace`
    /// that just went away, for as long as its state is kept for recovery. Call it on the
    /// socket's [`Event::Disconnect`](crate::Event::Disconnect); the data comes back through
    /// [`take_recovery_data`](Self::take_recovery_data) when the socket is recovered and is
    /// dropped when its state expires. Hands the data back when nothing is kept for that socket
    /// (recovery off, or a disconnect reason that does not keep it).
    pub fn keep_recovery_data(
        &mut self,
        namespace: &str,
        sid: &str,
        data: RecoveryData,
    ) -> Result<(), RecoveryData> {
        let Some(sid) = Sid::parse(sid) else {
            return Err(data);
        };
        let kept = self
            .recovery
            .as_deref_mut()
            .and_then(|r| r.stores.get_mut(namespace))
            .and_then(|s| {
                let pid = s.by_sid.get(&sid)?;
                s.kept.get_mut(pid)
            });
        match kept {
            Some(k) => {
                k.data = Some(data);
                Ok(())
            }
            None => Err(data),
        }
    }

    /// Takes the data [`keep_recovery_data`](Self::keep_recovery_data) kept with a socket,
    /// once it is recovered (from its [`Event::Connect`](crate::Event::Connect) with
    /// `recovered: true` until it is accepted).
    pub fn take_recovery_data(&mut self, socket: SocketId) -> Option<RecoveryData> {
        self.socket_state_mut(socket)?
            .restoring
            .as_mut()?
            .data
            .take()
    }

    /// Checks the recovery indexes (see [`Server::check_invariants`]).
    pub(crate) fn check_recovery_invariants(&self) {
        let Some(r) = self.recovery.as_deref() else {
            for (_, _, st) in self.sockets.iter() {
                assert!(
                    st.pid.is_none() && st.restoring.is_none(),
                    "recovery is off"
                );
            }
            return;
        };
        for (ns, store) in &r.stores {
            let mut last = 0;
            for l in &store.log {
                assert!(
                    l.seq > last && l.seq < r.next_seq,
                    "log out of order in {ns}"
                );
                assert!(l.seq > store.dropped_to, "dropped event still logged");
                last = l.seq;
                assert_eq!(l.bytes, l.packets.iter().map(OutPacket::len).sum::<usize>());
            }
            assert_eq!(
                store.bytes,
                store.log.iter().map(|l| l.bytes).sum::<usize>()
            );
            assert!(store.log.len() <= r.config.max_packets, "packet cap");
            assert!(store.bytes <= r.config.max_bytes, "byte cap");
            assert!(store.kept.len() <= r.config.max_sessions, "session cap");
            assert_eq!(store.kept.len(), store.by_sid.len(), "kept sid index");
            for (pid, k) in &store.kept {
                assert_eq!(store.by_sid.get(&k.sid), Some(pid), "kept sid index");
                assert!(
                    store.order.contains(&(k.at, *pid)),
                    "kept socket missing from the expiry order"
                );
                assert!(
                    self.socket_by_sid(k.sid.as_str()).is_none(),
                    "a kept sid is live"
                );
            }
            assert!(
                store
                    .order
                    .iter()
                    .zip(store.order.iter().skip(1))
                    .all(|(a, b)| a.0 <= b.0),
                "expiry order"
            );
        }
        for (_, _, st) in self.sockets.iter() {
            assert!(st.pid.is_some(), "a socket without a pid under recovery");
            assert!(
                st.restoring.is_none() || !st.connected,
                "a connected socket still restoring"
            );
        }
    }

    /// Whether `text` is an offset this server put on an event (connection state recovery):
    /// for tools that read events, such as a test client that strips offsets from arguments.
    pub fn is_recovery_offset(&self, text: &str) -> bool {
        self.recovery
            .as_deref()
            .and_then(|r| r.parse_offset(text))
            .is_some()
    }

    /// What connection state recovery holds right now; `None` when it is off.
    pub fn recovery_stats(&self) -> Option<RecoveryStats> {
        let r = self.recovery.as_deref()?;
        let mut stats = RecoveryStats {
            namespaces: r.stores.len(),
            ..RecoveryStats::default()
        };
        for store in r.stores.values() {
            stats.sockets += store.kept.len();
            stats.packets += store.log.len();
            stats.bytes += store.bytes;
        }
        Some(stats)
    }

    /// The pids of kept sockets and the offsets still logged, for the fuzz harness.
    pub(crate) fn recovery_handles(&self) -> (Vec<String>, Vec<String>) {
        let Some(r) = self.recovery.as_deref() else {
            return (Vec::new(), Vec::new());
        };
        let mut pids: Vec<String> = r
            .stores
            .values()
            .flat_map(|s| s.kept.keys().map(|p| p.to_string()))
            .collect();
        let mut offsets: Vec<String> = r
            .stores
            .values()
            .flat_map(|s| s.log.iter().map(|l| r.offset(l.seq)))
            .collect();
        pids.sort();
        offsets.sort();
        (pids, offsets)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;

    use super::*;
    use crate::fuzzing::TestEntropy;

    fn recovery() -> Recovery {
        let config = RecoveryConfig::default()
            .max_disconnection_duration(Duration::from_secs(10))
            .max_packets(3)
            .max_bytes(100)
            .max_sessions(2);
        Recovery::new(config, &mut TestEntropy(7))
    }

    fn logged(r: &mut Recovery, ns: &str, at: Instant, target: Target, len: usize) -> u64 {
        let seq = r.next();
        let packets = SmallVec::from_elem(OutPacket::Text(Bytes::from(vec![b'x'; len])), 1);
        r.append(
            ns,
            Logged {
                seq,
                at,
                target,
                packets,
                bytes: len,
            },
        );
        seq
    }

    fn kept(sid: Sid, rooms: &[&str], since: u64, at: Instant) -> Kept {
        Kept {
            sid,
            rooms: rooms.iter().map(|r| Room::from(*r)).collect(),
            since,
            at,
            data: None,
        }
    }

    fn sid(n: u8) -> Sid {
        Sid::random(&mut TestEntropy(n as u64 + 1000))
    }

    fn texts(p: &[OutPacket]) -> Vec<usize> {
        p.iter().map(OutPacket::len).collect()
    }

    #[test]
    fn offsets_are_unique_parse_back_and_reject_lookalikes() {
        let mut r = recovery();
        let a = r.next();
        let b = r.next();
        assert_ne!(r.offset(a), r.offset(b));
        assert_eq!(r.parse_offset(&r.offset(a)), Some(a));
        assert_eq!(r.parse_offset(&r.offset(0xdead_beef)), Some(0xdead_beef));
        for seq in [1, 9, 15, 16, 255, 256, u64::MAX] {
            let epoch = std::str::from_utf8(&r.epoch).unwrap();
            assert_eq!(r.offset(seq), format!("{epoch}{seq:x}"));
            assert_eq!(r.parse_offset(&r.offset(seq)), Some(seq));
        }
        let epoch = std::str::from_utf8(&r.epoch).unwrap().to_string();
        for bad in ["", "x", &epoch, &format!("{epoch}01"), &format!("{epoch}A")] {
            assert_eq!(r.parse_offset(bad), None, "{bad:?}");
        }
        assert_eq!(r.parse_offset(&format!("{epoch}{}", "f".repeat(17))), None);
        let other = Recovery::new(RecoveryConfig::default(), &mut TestEntropy(8));
        assert_eq!(
            other.parse_offset(&r.offset(a)),
            None,
            "another server's offset"
        );
    }

    #[test]
    fn offsets_are_appended_to_the_array() {
        let cases: [(&str, Option<&str>); 6] = [
            (r#"["a"]"#, Some(r#"["a","O"]"#)),
            (r#" [ "a" , 1 ] "#, Some(r#"[ "a" , 1 ,"O"]"#)),
            ("[]", Some(r#"["O"]"#)),
            ("[ ]", Some(r#"[ "O"]"#)),
            (r#"{"a":1}"#, None),
            ("", None),
        ];
        for (json, want) in cases {
            let mut out = BytesMut::new();
            let ok = write_with_offset(&mut out, json.as_bytes(), "O");
            assert_eq!(ok, want.is_some(), "{json:?}");
            if let Some(w) = want {
                assert_eq!(std::str::from_utf8(&out).unwrap(), w);
                let v: Value = serde_json::from_slice(&out).unwrap();
                assert_eq!(v.as_array().unwrap().last(), Some(&Value::from("O")));
            }
        }
        assert!(!write_with_offset(&mut BytesMut::new(), b"]", "O"));
    }

    #[test]
    fn targets_follow_socket_io() {
        let rooms = [Room::from("me"), Room::from("red")];
        let t = |to: &[&str], except: &[&str]| Target {
            rooms: to.iter().map(|r| Room::from(*r)).collect(),
            except: except.iter().map(|r| Room::from(*r)).collect(),
        };
        assert!(t(&[], &[]).includes(&rooms));
        assert!(t(&["red", "blue"], &[]).includes(&rooms));
        assert!(!t(&["blue"], &[]).includes(&rooms));
        assert!(!t(&[], &["me"]).includes(&rooms), "skipped sender");
        assert!(!t(&["red"], &["red"]).includes(&rooms));
        assert!(t(&["me"], &["blue"]).includes(&rooms));
    }

    #[test]
    fn restore_replays_what_the_socket_missed_in_order() {
        let mut r = recovery();
        let t0 = Instant::now();
        let (s, pid) = (sid(1), sid(2));
        let since = r.position();
        let seen = logged(&mut r, "/", t0, Target::default(), 1);
        r.keep(
            &Namespace::from("/"),
            pid,
            kept(s, &[s.as_str(), "red"], since, t0),
        );
        let red = Target {
            rooms: SmallVec::from_elem(Room::from("red"), 1),
            except: SmallVec::new(),
        };
        let blue = Target {
            rooms: SmallVec::from_elem(Room::from("blue"), 1),
            except: SmallVec::new(),
        };
        logged(&mut r, "/", t0, red, 2);
        logged(&mut r, "/", t0, blue, 3);
        logged(&mut r, "/other", t0, Target::default(), 4);
        // an unknown pid, an offset of another namespace, a malformed one: nothing happens
        assert!(r
            .restore("/", sid(3).as_str(), Some(&r.offset(seen)), t0)
            .is_none());
        assert!(r
            .restore("/", pid.as_str(), Some(&r.offset(4)), t0)
            .is_none());
        assert!(r.restore("/", pid.as_str(), Some("nope"), t0).is_none());
        assert!(r
            .restore("/other", pid.as_str(), Some(&r.offset(4)), t0)
            .is_none());
        let got = r
            .restore("/", pid.as_str(), Some(&r.offset(seen)), t0)
            .unwrap();
        assert_eq!((got.sid, got.pid, got.since), (s, pid, since));
        assert_eq!(
            texts(&got.restoring.missed),
            vec![2],
            "red, not blue nor /other"
        );
        assert!(
            r.restore("/", pid.as_str(), Some(&r.offset(seen)), t0)
                .is_none(),
            "a session is restored once"
        );
        // what comes while the connection waits for acceptance follows
        logged(&mut r, "/", t0, Target::default(), 5);
        assert_eq!(texts(&r.replay("/", *got.restoring)), vec![2, 5]);
    }

    #[test]
    fn without_an_offset_the_replay_starts_where_the_socket_connected() {
        let mut r = recovery();
        let t0 = Instant::now();
        logged(&mut r, "/", t0, Target::default(), 1);
        let since = r.position();
        r.keep(
            &Namespace::from("/"),
            sid(2),
            kept(sid(1), &["a"], since, t0),
        );
        logged(&mut r, "/", t0, Target::default(), 2);
        let got = r.restore("/", sid(2).as_str(), None, t0).unwrap();
        assert_eq!(texts(&got.restoring.missed), vec![2]);
        // once something it may have missed was dropped, its position is unknown
        r.keep(
            &Namespace::from("/"),
            sid(2),
            kept(sid(1), &["a"], since, t0),
        );
        for _ in 0..3 {
            logged(&mut r, "/", t0, Target::default(), 1);
        }
        assert!(r.restore("/", sid(2).as_str(), None, t0).is_none());
    }

    #[test]
    fn caps_drop_the_oldest() {
        let mut r = recovery();
        let t0 = Instant::now();
        let first = logged(&mut r, "/", t0, Target::default(), 10);
        for _ in 0..3 {
            logged(&mut r, "/", t0, Target::default(), 10);
        }
        let store = &r.stores["/"];
        assert_eq!(store.log.len(), 3);
        assert_eq!(store.dropped_to, first);
        logged(&mut r, "/", t0, Target::default(), 95);
        let store = &r.stores["/"];
        assert_eq!((store.log.len(), store.bytes), (1, 95), "byte cap");
        for n in 0..3 {
            r.keep(
                &Namespace::from("/"),
                sid(10 + n),
                kept(sid(20 + n), &[], 0, t0 + Duration::from_secs(n as u64)),
            );
        }
        let store = &r.stores["/"];
        assert_eq!(store.kept.len(), 2);
        assert!(!store.kept.contains_key(&sid(10)), "the oldest went");
    }

    #[test]
    fn everything_expires_with_the_window() {
        let mut r = recovery();
        let t0 = Instant::now();
        let since = r.position();
        let seen = logged(&mut r, "/", t0, Target::default(), 1);
        let t1 = t0 + Duration::from_secs(4);
        r.keep(&Namespace::from("/"), sid(2), kept(sid(1), &[], since, t1));
        assert_eq!(r.next_deadline(), Some(t0 + Duration::from_secs(10)));
        let late = t1 + Duration::from_secs(10);
        assert!(r
            .restore("/", sid(2).as_str(), Some(&r.offset(seen)), late)
            .is_none());
        r.expire(t0 + Duration::from_secs(10), |_| false);
        assert!(r.stores["/"].log.is_empty());
        assert_eq!(r.next_deadline(), Some(t1 + Duration::from_secs(10)));
        r.expire(late, |_| true);
        assert!(
            r.stores["/"].kept.is_empty(),
            "kept while the namespace lives"
        );
        r.expire(late, |_| false);
        assert!(r.stores.is_empty());
        assert_eq!(r.next_deadline(), None);
    }

    #[test]
    fn an_empty_store_goes_with_the_last_socket_of_its_namespace() {
        let mut r = recovery();
        let t0 = Instant::now();
        logged(&mut r, "/", t0, Target::default(), 1);
        logged(&mut r, "/chat", t0, Target::default(), 1);
        // Expired while sockets were connected: both stores stay, empty, with no deadline.
        r.expire(t0 + Duration::from_secs(10), |_| true);
        assert_eq!(r.stores.len(), 2);
        assert_eq!(r.next_deadline(), None);
        // "/chat" gets something again before its last socket leaves: it stays.
        logged(
            &mut r,
            "/chat",
            t0 + Duration::from_secs(11),
            Target::default(),
            1,
        );
        r.release("/chat");
        r.release("/");
        assert_eq!(
            r.stores.keys().map(|k| k.as_str()).collect::<Vec<_>>(),
            ["/chat"]
        );
        r.expire(t0 + Duration::from_secs(21), |_| false);
        assert!(r.stores.is_empty());
    }
}
