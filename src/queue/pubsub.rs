//! The pub/sub manager every broker backend shares (python-socketio's `PubSubManager`): a
//! random host id, an outbox drained by the queue thread, reconnection with backoff and
//! outage logging, decoding and applying incoming messages, and acknowledgements of emits
//! answered by another process.
//!
//! A backend only connects, publishes bytes and returns the next message received; this
//! module runs it on its own thread with a single-threaded tokio runtime (see the module
//! docs of [`crate::queue`] for why).

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use futures_lite::future;
use serde_json::Value;

use super::wire::{self, WireError};
use super::{
    node, AckHandler, MessageQueue, QueueError, QueueMessage, QueueOptions, QueueSink, RemoteAck,
};
use crate::engine::AckError;
use crate::Args;

/// How a received message is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// python-socketio JSON.
    Json,
    /// node `@socket.io/redis-emitter` msgpack (Redis only).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    NodeEmitter,
    /// node `@socket.io/redis-emitter` JSON requests (Redis only).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    NodeRequest,
}

/// A message from the broker.
#[derive(Debug)]
pub(crate) struct Incoming {
    pub(crate) format: Format,
    pub(crate) channel: String,
    pub(crate) body: Vec<u8>,
    pub(crate) content_type: Option<String>,
}

/// What a broker backend does; everything else is shared.
pub(crate) trait Backend: Send + 'static {
    /// Publishes.
    type Publisher;
    /// Receives.
    type Subscriber;

    /// Connects, and subscribes unless `write_only`. Only called on the queue thread.
    fn connect(
        &mut self,
        health: &Arc<Health>,
        write_only: bool,
    ) -> impl Future<Output = Result<(Self::Publisher, Option<Self::Subscriber>), QueueError>>;

    /// Publishes one message; with `confirm`, returns once the broker has it.
    fn publish(
        publisher: &mut Self::Publisher,
        body: &[u8],
        confirm: bool,
    ) -> impl Future<Output = Result<(), QueueError>>;

    /// Publishes several messages in order, in one round trip where the broker allows it.
    fn publish_batch(
        publisher: &mut Self::Publisher,
        bodies: &[&[u8]],
    ) -> impl Future<Output = Result<(), QueueError>> {
        async move {
            for b in bodies {
                Self::publish(publisher, b, false).await?;
            }
            Ok(())
        }
    }

    /// Returns once everything published so far is with the broker.
    fn flush(publisher: &mut Self::Publisher) -> impl Future<Output = Result<(), QueueError>> {
        let _ = publisher;
        future::ready(Ok(()))
    }

    /// The next message; an error means the subscription is lost.
    fn next(
        subscriber: &mut Self::Subscriber,
    ) -> impl Future<Output = Result<Incoming, QueueError>>;
}

/// Connection state and the outage log: one warning when an outage starts, an info when it
/// ends.
#[derive(Debug)]
pub(crate) struct Health {
    name: &'static str,
    url: String,
    host_id: String,
    state: Mutex<HealthState>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct HealthState {
    connected: bool,
    /// When the current outage began and how many attempts failed since.
    outage: Option<(Instant, u32)>,
    /// Whether the queue ever connected.
    ever: bool,
}

impl Health {
    fn new(name: &'static str, url: String, host_id: String) -> Self {
        Health {
            name,
            url,
            host_id,
            state: Mutex::new(HealthState::default()),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HealthState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The process's id on the queue, to name its connections.
    #[cfg_attr(not(feature = "amqp"), allow(dead_code))]
    pub(crate) fn host_id(&self) -> &str {
        &self.host_id
    }

    /// The broker is reachable (again).
    pub(crate) fn up(&self) {
        let mut st = self.lock();
        if st.connected {
            return;
        }
        st.connected = true;
        match st.outage.take() {
            Some((since, attempts)) if st.ever => tracing::info!(
                queue = self.name,
                url = %self.url,
                host_id = %self.host_id,
                outage_ms = since.elapsed().as_millis() as u64,
                attempts,
                "message queue reconnected; cross-process delivery resumed"
            ),
            Some((since, attempts)) => tracing::info!(
                queue = self.name,
                url = %self.url,
                after_ms = since.elapsed().as_millis() as u64,
                attempts,
                "message queue connected"
            ),
            None => tracing::debug!(queue = self.name, url = %self.url, "message queue connected"),
        }
        st.ever = true;
        self.changed.notify_all();
    }

    /// The broker is unreachable; logs a warning at the start of an outage only.
    pub(crate) fn down(&self, error: &QueueError) {
        let mut st = self.lock();
        st.connected = false;
        match &mut st.outage {
            Some((_, attempts)) => {
                *attempts += 1;
                tracing::debug!(queue = self.name, url = %self.url, "still unreachable: {error}");
            }
            None => {
                st.outage = Some((Instant::now(), 1));
                if st.ever {
                    tracing::warn!(
                        queue = self.name,
                        url = %self.url,
                        host_id = %self.host_id,
                        "message queue connection lost: {error}; reconnecting with backoff, \
                         local clients are still served"
                    );
                } else {
                    tracing::warn!(
                        queue = self.name,
                        url = %self.url,
                        host_id = %self.host_id,
                        "message queue unreachable: {error}; retrying with backoff, \
                         local clients are served meanwhile"
                    );
                }
            }
        }
        self.changed.notify_all();
    }

    fn is_up(&self) -> bool {
        self.lock().connected
    }

    fn wait_up(&self, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        let mut st = self.lock();
        while !st.connected {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            st = self
                .changed
                .wait_timeout(st, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        true
    }
}

/// The answer a waiting publisher or flush gets from the queue thread.
struct Done {
    tx: mpsc::SyncSender<Result<(), QueueError>>,
    /// Set by a publisher that stopped waiting: the message is then not published late.
    abandoned: Arc<AtomicBool>,
}

impl Done {
    fn send(self, r: Result<(), QueueError>) {
        let _ = self.tx.try_send(r);
    }

    fn abandoned(&self) -> bool {
        self.abandoned.load(Ordering::Acquire)
    }
}

enum Outgoing {
    Publish {
        body: Vec<u8>,
        done: Option<Done>,
        /// Failed attempts, each followed by a reconnection.
        failures: u32,
    },
    Flush(Done),
}

/// A message that failed this many times in a row on fresh connections is dropped (it is
/// the message, not the connection: too large for the broker, say).
const MAX_PUBLISH_FAILURES: u32 = 3;

struct PendingAck {
    sid: String,
    callback: AckHandler,
}

/// State shared between the handles and the queue thread.
struct Shared {
    name: &'static str,
    host_id: String,
    health: Arc<Health>,
    sink: OnceLock<QueueSink>,
    acks: Mutex<HashMap<u64, PendingAck>>,
    next_ack: AtomicU64,
}

impl Shared {
    fn take_ack(&self, id: u64) -> Option<PendingAck> {
        self.acks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id)
    }

    /// Decodes and applies one message from the broker.
    fn deliver(&self, inc: Incoming) {
        let decoded = match inc.format {
            Format::Json => wire::decode(&inc.body, inc.content_type.as_deref()),
            Format::NodeEmitter => node::decode(&inc.body).map(|m| (None, m)),
            Format::NodeRequest => match node::decode_request(&inc.channel, &inc.body) {
                Ok(Some(m)) => Ok((None, m)),
                Ok(None) => return,
                Err(e) => Err(e),
            },
        };
        let (host, msg) = match decoded {
            Ok(d) => d,
            Err(WireError::Pickle) => {
                tracing::warn!(
                    queue = self.name,
                    channel = %inc.channel,
                    "ignored a pickled message: sockio never unpickles; \
                     make the sender use JSON (python-socketio >= 5.14 does)"
                );
                return;
            }
            Err(e) => {
                tracing::warn!(
                    queue = self.name,
                    channel = %inc.channel,
                    bytes = inc.body.len(),
                    "ignored a message: {e}"
                );
                return;
            }
        };
        if let QueueMessage::Callback {
            host_id,
            sid,
            id,
            args,
            ..
        } = msg
        {
            if host_id == self.host_id {
                self.answer(id, &sid, args);
            }
            return;
        }
        if host.as_deref() == Some(self.host_id.as_str()) {
            return;
        }
        if let Some(sink) = self.sink.get() {
            sink.apply(msg);
        }
    }

    /// A remote client acknowledged an emit of this process.
    fn answer(&self, id: u64, sid: &str, args: sockio_protocol::Payload) {
        let pending = {
            let mut acks = self.acks.lock().unwrap_or_else(|p| p.into_inner());
            match acks.get(&id) {
                Some(p) if p.sid == sid => acks.remove(&id),
                Some(p) => {
                    tracing::warn!(id, sid, expected = %p.sid, "ignored an acknowledgement from another sid");
                    return;
                }
                None => None,
            }
        };
        let Some(pending) = pending else {
            tracing::debug!(id, "an acknowledgement for an unknown or expired callback");
            return;
        };
        let values = match serde_json::from_slice::<Value>(&args.json) {
            Ok(Value::Array(a)) => a,
            Ok(other) => vec![other],
            Err(_) => Vec::new(),
        };
        run_callback(pending.callback, Ok(Args::new(values, args.attachments)));
    }
}

fn run_callback(cb: AckHandler, r: Result<Args, AckError>) {
    if std::panic::catch_unwind(AssertUnwindSafe(|| cb(r))).is_err() {
        tracing::error!("an ack callback panicked");
    }
}

/// A [`MessageQueue`] over a broker [`Backend`].
pub(crate) struct PubSubQueue {
    shared: Arc<Shared>,
    outbox: async_channel::Sender<Outgoing>,
    options: QueueOptions,
    runtime: tokio::runtime::Handle,
}

impl std::fmt::Debug for PubSubQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PubSubQueue")
            .field("name", &self.shared.name)
            .field("host_id", &self.shared.host_id)
            .field("channel", &self.options.channel)
            .finish()
    }
}

/// A random id like python's `uuid4().hex`.
fn new_host_id() -> String {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        // Only used to tell processes apart; the time and address still differ.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        b = (t ^ (&b as *const _ as usize as u128)).to_le_bytes();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl PubSubQueue {
    /// Starts the queue thread for `backend`.
    pub(crate) fn start<B: Backend>(
        name: &'static str,
        url: &str,
        backend: B,
        options: QueueOptions,
    ) -> Result<Self, QueueError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| QueueError::new(format!("cannot start the queue runtime: {e}")))?;
        let handle = runtime.handle().clone();
        let host_id = new_host_id();
        let shared = Arc::new(Shared {
            name,
            health: Arc::new(Health::new(name, super::redact(url), host_id.clone())),
            host_id,
            sink: OnceLock::new(),
            acks: Mutex::new(HashMap::new()),
            next_ack: AtomicU64::new(1),
        });
        let (tx, rx) = async_channel::bounded(options.outbox_capacity.max(1));
        let thread_shared = shared.clone();
        let thread_options = options.clone();
        std::thread::Builder::new()
            .name(format!("sockio-{name}"))
            .spawn(move || {
                runtime.block_on(run(backend, rx, thread_shared, thread_options));
            })
            .map_err(|e| QueueError::new(format!("cannot start the queue thread: {e}")))?;
        tracing::info!(
            queue = name,
            url = %super::redact(url),
            channel = %options.channel,
            host_id = %shared.host_id,
            write_only = options.write_only,
            "message queue started"
        );
        Ok(PubSubQueue {
            shared,
            outbox: tx,
            options,
            runtime: handle,
        })
    }

    fn send(&self, out: Outgoing) -> Result<(), QueueError> {
        self.outbox.try_send(out).map_err(|e| match e {
            async_channel::TrySendError::Full(_) => QueueError::new(format!(
                "the {} message queue's outbox is full ({} messages wait for the broker)",
                self.shared.name, self.options.outbox_capacity
            )),
            async_channel::TrySendError::Closed(_) => {
                QueueError::new(format!("the {} message queue stopped", self.shared.name))
            }
        })
    }

    /// Queues `body`, waiting for the broker when `wait` is set.
    fn send_body(&self, body: Vec<u8>, wait: bool) -> Result<(), QueueError> {
        if !wait {
            return self.send(Outgoing::Publish {
                body,
                done: None,
                failures: 0,
            });
        }
        let (tx, rx) = mpsc::sync_channel(1);
        let abandoned = Arc::new(AtomicBool::new(false));
        self.send(Outgoing::Publish {
            body,
            done: Some(Done {
                tx,
                abandoned: abandoned.clone(),
            }),
            failures: 0,
        })?;
        self.wait(rx, &abandoned, "publish")
    }

    fn wait(
        &self,
        rx: mpsc::Receiver<Result<(), QueueError>>,
        abandoned: &AtomicBool,
        what: &str,
    ) -> Result<(), QueueError> {
        match rx.recv_timeout(self.options.publish_timeout) {
            Ok(r) => r,
            Err(_) => {
                abandoned.store(true, Ordering::Release);
                Err(QueueError::new(format!(
                    "{what} not confirmed by the {} broker within {:?}{}",
                    self.shared.name,
                    self.options.publish_timeout,
                    if self.shared.health.is_up() {
                        ""
                    } else {
                        " (it is unreachable)"
                    }
                )))
            }
        }
    }
}

impl MessageQueue for PubSubQueue {
    fn name(&self) -> &'static str {
        self.shared.name
    }

    fn is_write_only(&self) -> bool {
        self.options.write_only
    }

    fn host_id(&self) -> Option<&str> {
        Some(&self.shared.host_id)
    }

    fn publish(&self, message: &QueueMessage) -> Result<(), QueueError> {
        let body = wire::encode(message, &self.shared.host_id)?;
        self.send_body(body, self.options.blocking)
    }

    fn publish_with_ack(
        &self,
        message: &QueueMessage,
        callback: AckHandler,
        timeout: Duration,
    ) -> Result<(), QueueError> {
        if self.options.write_only {
            return Err(QueueError::new(
                "acknowledgements need a server; an emit-only handle cannot receive them",
            ));
        }
        let QueueMessage::Emit {
            namespace, rooms, ..
        } = message
        else {
            return Err(QueueError::new("only emits carry acknowledgements"));
        };
        let [sid] = rooms.as_slice() else {
            return Err(QueueError::new("an acknowledgement needs exactly one sid"));
        };
        let id = self.shared.next_ack.fetch_add(1, Ordering::Relaxed);
        let mut message = message.clone();
        if let QueueMessage::Emit { callback: cb, .. } = &mut message {
            *cb = Some(RemoteAck {
                host_id: self.shared.host_id.clone(),
                sid: sid.clone(),
                namespace: namespace.clone(),
                id,
            });
        }
        let body = wire::encode(&message, &self.shared.host_id)?;
        self.shared
            .acks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                id,
                PendingAck {
                    sid: sid.clone(),
                    callback,
                },
            );
        if let Err(e) = self.send_body(body, self.options.blocking) {
            self.shared.take_ack(id);
            return Err(e);
        }
        let shared = Arc::downgrade(&self.shared);
        self.runtime.spawn(async move {
            tokio::time::sleep(timeout).await;
            if let Some(p) = shared.upgrade().and_then(|s| s.take_ack(id)) {
                run_callback(p.callback, Err(AckError::Timeout));
            }
        });
        Ok(())
    }

    fn start(&self, sink: QueueSink) {
        if self.shared.sink.set(sink).is_err() {
            tracing::warn!(queue = self.shared.name, "message queue already started");
        }
    }

    fn is_connected(&self) -> bool {
        self.shared.health.is_up()
    }

    fn wait_connected(&self, timeout: Duration) -> bool {
        self.shared.health.wait_up(timeout)
    }

    fn flush(&self, timeout: Duration) -> Result<(), QueueError> {
        let (tx, rx) = mpsc::sync_channel(1);
        let abandoned = Arc::new(AtomicBool::new(false));
        self.send(Outgoing::Flush(Done {
            tx,
            abandoned: abandoned.clone(),
        }))?;
        match rx.recv_timeout(timeout) {
            Ok(r) => r,
            Err(_) => {
                abandoned.store(true, Ordering::Release);
                Err(QueueError::new(format!(
                    "the {} message queue did not flush within {timeout:?}",
                    self.shared.name
                )))
            }
        }
    }
}

impl Drop for PubSubQueue {
    fn drop(&mut self) {
        // An emit-only handle's last emits must not die with the process that made them
        // (blocking publishes were confirmed already).
        if self.options.write_only && !self.options.blocking {
            if let Err(e) = self.flush(self.options.publish_timeout) {
                tracing::warn!(queue = self.shared.name, "messages not published: {e}");
            }
        }
    }
}

/// Sleeps `d`, or less if every handle is gone.
async fn backoff(d: Duration, outbox: &async_channel::Receiver<Outgoing>) {
    let end = Instant::now() + d;
    while Instant::now() < end && outbox.sender_count() > 0 {
        let step = end
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(100));
        tokio::time::sleep(step).await;
    }
}

/// A delay between `d / 2` and `d`, so that a cluster does not reconnect in lockstep.
fn jitter(d: Duration) -> Duration {
    let mut b = [0u8; 2];
    let r = if getrandom::fill(&mut b).is_ok() {
        f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX)
    } else {
        1.0
    };
    d.mul_f64(0.5 + 0.5 * r)
}

enum Step {
    Out(Outgoing),
    In(Incoming),
    Lost(QueueError),
    Stop,
}

/// Most messages published in one batch (one round trip where the broker allows it).
const BATCH: usize = 256;

/// The queue thread: connect, then publish what the outbox holds and apply what arrives,
/// reconnecting with backoff when the broker goes away, until every handle is dropped.
async fn run<B: Backend>(
    mut backend: B,
    outbox: async_channel::Receiver<Outgoing>,
    shared: Arc<Shared>,
    options: QueueOptions,
) {
    let health = shared.health.clone();
    let mut delay = options.reconnect_min;
    // Taken from the outbox but not yet published, in order.
    let mut pending: VecDeque<Outgoing> = VecDeque::new();
    loop {
        if outbox.sender_count() == 0 && outbox.is_empty() && pending.is_empty() {
            return;
        }
        let (mut publisher, mut subscriber) =
            match backend.connect(&health, options.write_only).await {
                Ok(c) => c,
                Err(e) => {
                    health.down(&e);
                    backoff(jitter(delay), &outbox).await;
                    delay = (delay * 2).min(options.reconnect_max);
                    continue;
                }
            };
        health.up();
        delay = options.reconnect_min;
        loop {
            let step = match pending.pop_front() {
                Some(out) => Step::Out(out),
                None => {
                    let out = async {
                        match outbox.recv().await {
                            Ok(o) => Step::Out(o),
                            Err(_) => Step::Stop,
                        }
                    };
                    let inc = async {
                        match subscriber.as_mut() {
                            Some(s) => match B::next(s).await {
                                Ok(i) => Step::In(i),
                                Err(e) => Step::Lost(e),
                            },
                            None => future::pending().await,
                        }
                    };
                    future::or(inc, out).await
                }
            };
            let out = match step {
                Step::Stop => return,
                Step::In(inc) => {
                    shared.deliver(inc);
                    continue;
                }
                Step::Lost(e) => {
                    health.down(&e);
                    break;
                }
                Step::Out(out) => out,
            };
            match out {
                Outgoing::Flush(done) => {
                    if done.abandoned() {
                        continue;
                    }
                    if let Err(e) = B::flush(&mut publisher).await {
                        pending.push_front(Outgoing::Flush(done));
                        health.down(&e);
                        break;
                    }
                    done.send(Ok(()));
                }
                Outgoing::Publish {
                    done: Some(done), ..
                } if done.abandoned() => {}
                Outgoing::Publish {
                    body,
                    done: Some(done),
                    failures,
                } => match B::publish(&mut publisher, &body, true).await {
                    Ok(()) => done.send(Ok(())),
                    Err(e) => {
                        let retry = Outgoing::Publish {
                            body,
                            done: Some(done),
                            failures,
                        };
                        if let Some(again) = failed(&shared, retry, &e) {
                            pending.push_front(again);
                        }
                        health.down(&e);
                        break;
                    }
                },
                Outgoing::Publish {
                    body,
                    done: None,
                    failures,
                } => {
                    // Whatever else waits and needs no answer goes in the same batch.
                    let mut batch = vec![(body, failures)];
                    while batch.len() < BATCH {
                        let next = match pending.pop_front() {
                            Some(o) => o,
                            None => match outbox.try_recv() {
                                Ok(o) => o,
                                Err(_) => break,
                            },
                        };
                        match next {
                            Outgoing::Publish {
                                body,
                                done: None,
                                failures,
                            } => batch.push((body, failures)),
                            other => {
                                pending.push_front(other);
                                break;
                            }
                        }
                    }
                    let bodies: Vec<&[u8]> = batch.iter().map(|(b, _)| b.as_slice()).collect();
                    if let Err(e) = B::publish_batch(&mut publisher, &bodies).await {
                        // Not knowing which went out, publish them all again: pub/sub
                        // receivers may see a message twice rather than never.
                        for (body, failures) in batch.into_iter().rev() {
                            let retry = Outgoing::Publish {
                                body,
                                done: None,
                                failures,
                            };
                            if let Some(again) = failed(&shared, retry, &e) {
                                pending.push_front(again);
                            }
                        }
                        health.down(&e);
                        break;
                    }
                }
            }
        }
        backoff(jitter(delay), &outbox).await;
        delay = (delay * 2).min(options.reconnect_max);
    }
}

/// A publish failed: the message to retry after reconnecting, or `None` once it failed
/// [`MAX_PUBLISH_FAILURES`] times (it is the message, then, not the connection).
fn failed(shared: &Shared, out: Outgoing, e: &QueueError) -> Option<Outgoing> {
    let Outgoing::Publish {
        body,
        done,
        failures,
    } = out
    else {
        return Some(out);
    };
    if failures + 1 < MAX_PUBLISH_FAILURES {
        return Some(Outgoing::Publish {
            body,
            done,
            failures: failures + 1,
        });
    }
    tracing::error!(
        queue = shared.name,
        bytes = body.len(),
        "dropped a message the broker refused {MAX_PUBLISH_FAILURES} times: {e}"
    );
    if let Some(d) = done {
        d.send(Err(e.clone()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_ids_are_random_hex() {
        let a = new_host_id();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, new_host_id());
    }

    #[test]
    fn jitter_stays_within_half_and_whole() {
        for _ in 0..100 {
            let j = jitter(Duration::from_millis(1000));
            assert!(j >= Duration::from_millis(500) && j <= Duration::from_millis(1000));
        }
    }
}
