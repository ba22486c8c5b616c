//! [`Emitter`]: who an emit goes to (rooms, namespace, exclusions) and how (ack, volatile).

use std::sync::Arc;
use std::time::{Duration, Instant};

use sockio_protocol::Payload;

use crate::args::{encode, ArgsError, IntoArgs};
use crate::engine::{AckError, Engine};
use crate::queue::QueueMessage;
use crate::Args;

/// Why an emit failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmitError {
    /// The arguments did not serialize.
    #[error(transparent)]
    Args(#[from] ArgsError),
    /// The client's outbound queue is full (it does not read fast enough).
    #[error("the client's outbound queue is full")]
    QueueFull,
    /// An acknowledgement needs exactly one recipient, given with `to(sid)`.
    #[error("an emit with acknowledgement needs exactly one client (to(sid))")]
    AckNeedsOneClient,
    /// No client has this sid in this namespace.
    #[error("no such client")]
    NoSuchClient,
    /// The message queue refused the message.
    #[error("message queue: {0}")]
    Queue(String),
}

/// An emit under construction; finish it with [`emit`](Self::emit), [`send`](Self::send),
/// [`emit_with_ack`](Self::emit_with_ack) or [`call`](Self::call).
///
/// Made by [`SocketIo::to`](crate::SocketIo::to), [`SocketIo::to_all`](crate::SocketIo::to_all),
/// [`Context::to`](crate::Context::to), [`Context::broadcast`](crate::Context::broadcast) and
/// [`Context::in_namespace`](crate::Context::in_namespace); each call narrows it down.
///
/// ```
/// use sockio::{Context, SocketIo};
///
/// let io = SocketIo::new();
/// io.on("join", |ctx: Context, room: String| ctx.join_room(room));
/// let mut a = io.test_client().connect(&io);
/// let mut b = io.test_client().connect(&io);
/// a.emit("join", "lobby");
/// b.emit("join", "lobby");
/// b.emit("join", "muted");
/// io.to("lobby").except("muted").emit("news", "for a only")?;
/// assert_eq!(a.get_received("/")[0].name, "news");
/// assert!(b.get_received("/").is_empty());
/// # Ok::<(), sockio::EmitError>(())
/// ```
#[derive(Clone)]
#[must_use = "an emitter does nothing until emit, send or call"]
pub struct Emitter {
    engine: Arc<Engine>,
    namespace: String,
    to: Vec<String>,
    except: Vec<String>,
    skip: Vec<String>,
    sender: Option<String>,
    volatile: bool,
    ignore_queue: bool,
    timeout: Option<Duration>,
}

impl std::fmt::Debug for Emitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emitter")
            .field("namespace", &self.namespace)
            .field("to", &self.to)
            .field("except", &self.except)
            .field("skip", &self.skip)
            .finish()
    }
}

impl Emitter {
    pub(crate) fn new(engine: Arc<Engine>, namespace: &str) -> Self {
        Emitter {
            engine,
            namespace: namespace.to_string(),
            to: Vec::new(),
            except: Vec::new(),
            skip: Vec::new(),
            sender: None,
            volatile: false,
            ignore_queue: false,
            timeout: None,
        }
    }

    pub(crate) fn with_sender(mut self, sid: String) -> Self {
        self.sender = Some(sid);
        self
    }

    /// Adds a room (or a client's sid) to the recipients; without any, the whole namespace.
    pub fn to(mut self, room: impl Into<String>) -> Self {
        self.to.push(room.into());
        self
    }

    /// Same as [`to`](Self::to).
    pub fn room(self, room: impl Into<String>) -> Self {
        self.to(room)
    }

    /// Emits in another namespace.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// Leaves out the clients in this room.
    pub fn except(mut self, room: impl Into<String>) -> Self {
        self.except.push(room.into());
        self
    }

    /// Leaves out one client (Flask's `skip_sid`).
    pub fn skip_sid(mut self, sid: impl Into<String>) -> Self {
        self.skip.push(sid.into());
        self
    }

    /// Whether the client whose handler emits gets it too (default true, as in Flask).
    pub fn include_self(mut self, include: bool) -> Self {
        if !include {
            if let Some(s) = self.sender.clone() {
                self.skip.push(s);
            }
        }
        self
    }

    /// The packet may be dropped for clients that are not ready to receive it (a busy
    /// transport, a full queue). It is never replayed by connection state recovery.
    pub fn volatile(mut self) -> Self {
        self.volatile = true;
        self
    }

    /// The timeout of [`call`](Self::call) and [`emit_with_ack`](Self::emit_with_ack)
    /// (default: the server's ack timeout).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Emits `event` with `args` (`()` none, a tuple several, a value one).
    pub fn emit(self, event: &str, args: impl IntoArgs) -> Result<(), EmitError> {
        let payload = encode(Some(event), args)?;
        self.deliver(payload)
    }

    /// Sends a `message` event (Flask's `send`).
    pub fn send(self, data: impl IntoArgs) -> Result<(), EmitError> {
        self.emit("message", data)
    }

    /// Delivers to the clients of this process only, not through the message queue
    /// (Flask-SocketIO's `ignore_queue=True`): faster when the emit is known to concern
    /// local clients only, or when several processes make the same emit each for their own.
    /// No effect without a message queue.
    pub fn ignore_queue(mut self) -> Self {
        self.ignore_queue = true;
        self
    }

    /// Delivers an encoded event to the local recipients and publishes it to the message
    /// queue for the other processes.
    pub(crate) fn deliver(self, payload: Payload) -> Result<(), EmitError> {
        let queue = &self.engine.queue;
        // An emit-only handle has no clients of its own.
        let full = !queue.is_write_only()
            && deliver_local(
                &self.engine,
                &self.namespace,
                &self.to,
                &self.except,
                &self.skip,
                self.volatile,
                &payload,
            );
        if !queue.is_local() && !self.ignore_queue {
            let msg = QueueMessage::Emit {
                namespace: self.namespace.clone(),
                rooms: self.to.clone(),
                except: self.except.clone(),
                skip: self.skip.clone(),
                payload,
                volatile: self.volatile,
                callback: None,
            };
            queue
                .publish(&msg)
                .map_err(|e| EmitError::Queue(e.to_string()))?;
        }
        if full {
            return Err(EmitError::QueueFull);
        }
        Ok(())
    }

    /// Emits to exactly one client (`to(sid)`) and calls `callback` with its acknowledgement,
    /// or with the reason it did not come.
    pub fn emit_with_ack(
        self,
        event: &str,
        args: impl IntoArgs,
        callback: impl FnOnce(Result<Args, AckError>) + Send + 'static,
    ) -> Result<(), EmitError> {
        if self.to.len() != 1 || !self.except.is_empty() || !self.skip.is_empty() {
            return Err(EmitError::AckNeedsOneClient);
        }
        let payload = encode(Some(event), args)?;
        let deadline = Instant::now() + self.timeout.unwrap_or(self.engine.ack_timeout);
        let (sid, ns) = (&self.to[0], &self.namespace);
        let mut callback = Some(Box::new(callback) as crate::engine::AckCallback);
        let queue = self.engine.queue.clone();
        let r = self
            .engine
            .drive_sid(sid, |st| {
                let Some(id) = crate::io::find(st, sid, ns) else {
                    return Err(EmitError::NoSuchClient);
                };
                let mut s = st.server.socket(id).expect("socket found by sid");
                let ack = s
                    .emit_with_ack(payload.clone(), Some(deadline))
                    .map_err(|_| EmitError::QueueFull)?;
                Engine::add_ack(st, id, ack, callback.take().expect("used once"));
                Ok(())
            })
            .unwrap_or(Err(EmitError::NoSuchClient));
        match (r, callback) {
            // Not here: the client may be on another process.
            (Err(EmitError::NoSuchClient), Some(cb)) if !queue.is_local() => {
                let msg = QueueMessage::Emit {
                    namespace: ns.clone(),
                    rooms: self.to.clone(),
                    except: Vec::new(),
                    skip: Vec::new(),
                    payload,
                    volatile: false,
                    callback: None,
                };
                let timeout = deadline.saturating_duration_since(Instant::now());
                queue
                    .publish_with_ack(&msg, cb, timeout)
                    .map_err(|e| EmitError::Queue(e.to_string()))
            }
            (r, _) => r,
        }
    }

    /// Emits to exactly one client and waits for its acknowledgement (Flask's `call`).
    pub async fn call(self, event: &str, args: impl IntoArgs) -> Result<Args, AckError> {
        let (tx, rx) = async_channel::bounded(1);
        self.emit_with_ack(event, args, move |r| {
            let _ = tx.try_send(r);
        })
        .map_err(AckError::Emit)?;
        rx.recv().await.unwrap_or(Err(AckError::Disconnected))
    }
}

/// Queues an event for the local clients selected by rooms and exclusions, on every shard;
/// true when it was addressed to one client (by sid) whose outbound queue is full.
pub(crate) fn deliver_local(
    engine: &Arc<Engine>,
    ns: &str,
    to: &[String],
    except: &[String],
    skip: &[String],
    volatile: bool,
    payload: &Payload,
) -> bool {
    // One client addressed by sid: a direct emit on its shard, so a full queue is reported. A
    // volatile one goes the broadcast way, which drops it when the client is busy (as
    // socket.io does) and keeps it out of connection state recovery.
    if to.len() == 1 && except.is_empty() && skip.is_empty() && !volatile {
        let direct = engine.drive_sid(&to[0], |st| {
            let id = crate::io::find(st, &to[0], ns)?;
            let mut s = st.server.socket(id).expect("socket found by sid");
            Some(s.emit(payload.clone()).is_err())
        });
        if let Some(Some(full)) = direct {
            return full;
        }
    }
    let (ns, to, except, skip) = (ns.to_owned(), to.to_vec(), except.to_vec(), skip.to_vec());
    let payload = payload.clone();
    engine.post_all(Arc::new(move |st: &mut crate::engine::State| {
        broadcast_local(st, &ns, &to, &except, &skip, volatile, &payload)
    }));
    false
}

/// One shard's part of a broadcast.
pub(crate) fn broadcast_local(
    st: &mut crate::engine::State,
    ns: &str,
    to: &[String],
    except: &[String],
    skip: &[String],
    volatile: bool,
    payload: &Payload,
) {
    let skip_ids: Vec<_> = skip
        .iter()
        .filter_map(|sid| st.server.socket_by_sid(sid))
        .collect();
    let mut b = st.server.broadcast(ns);
    for r in to {
        b = b.to(r.as_str());
    }
    for r in except {
        b = b.except(r.as_str());
    }
    for id in skip_ids {
        b = b.skip(id);
    }
    if volatile {
        b = b.volatile();
    }
    b.emit(payload);
}
