//! fanout: N receivers (default 1,000) and one emitter, all connected to `/`. The emitter
//! sends `bcast` carrying its send time; the server broadcasts `bcast` to everybody, the
//! emitter included. At most `window` broadcasts are in flight: the emitter sends the next
//! only when fewer than `window` broadcasts still miss a recipient. Figures: deliveries per
//! second (over all N + 1 recipients) and emit-to-receive p50/p99.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

use super::{connect_all, cpu_fields, line, Common, MAX_DURATION_S};
use crate::cli::Opts;
use crate::client::{event_frame, json_u64, Client, Error, Frame};
use crate::stats::{sig3, Samples};
use crate::sys::CpuMeter;
use crate::BCAST_EVENT;

/// Parameters of the fanout scenario.
#[derive(Debug, Clone)]
pub struct Params {
    /// Receivers besides the emitter (default 1,000).
    pub clients: usize,
    /// Broadcasts in flight at most (default 4).
    pub window: u64,
    /// Measured time (default 8 s).
    pub duration: Duration,
    /// Unmeasured time before it (default 1 s).
    pub warmup: Duration,
    /// Bytes of padding in the payload (default 32).
    pub payload: usize,
    /// Most broadcasts sent (a hard cap besides the time).
    pub max_broadcasts: u64,
}

impl Params {
    /// From `--clients --window --duration --warmup --payload --max-broadcasts`.
    pub fn from_opts(o: &mut Opts) -> Result<Params, String> {
        Ok(Params {
            clients: o.num("clients", 1_000, 1, 20_000)?,
            window: o.num("window", 4, 1, RING as u64 / 4)?,
            duration: o.secs("duration", 8.0, MAX_DURATION_S)?,
            warmup: o.secs("warmup", 1.0, MAX_DURATION_S)?,
            payload: o.num("payload", 32, 0, 65_536)?,
            max_broadcasts: o.num("max-broadcasts", 10_000_000, 1, 100_000_000)?,
        })
    }
}

/// Slots tracking deliveries per broadcast, indexed by sequence number modulo this.
const RING: usize = 4096;

/// How long the emitter waits for a broadcast to reach everybody before it calls the run
/// stalled (a server that drops packets).
const STALL: Duration = Duration::from_secs(5);

/// Shared by the emitter and the receivers.
struct Board {
    /// Recipients per broadcast (receivers + the emitter).
    recipients: u32,
    /// Deliveries per broadcast slot.
    slots: Vec<AtomicU32>,
    /// Broadcasts that reached every recipient.
    completed: AtomicU64,
    /// Wakes the emitter when one completes.
    notify: Notify,
    /// Zero point of the timestamps in payloads.
    base: Instant,
    /// Measured window, as nanoseconds since `base`.
    start_ns: u64,
    end_ns: u64,
    /// Deliveries received inside the measured window.
    counted: AtomicU64,
    /// Deliveries received in all.
    received: AtomicU64,
    /// Set when a receiver lost its connection.
    broken: AtomicBool,
}

impl Board {
    fn now_ns(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }

    /// Books one delivery of a `bcast` frame; records its latency when it was sent inside
    /// the measured window.
    fn deliver(&self, text: &str, samples: &mut Samples) {
        let (Some(seq), Some(t)) = (json_u64(text, "seq"), json_u64(text, "t")) else {
            return;
        };
        let now = self.now_ns();
        self.received.fetch_add(1, Ordering::Relaxed);
        if now >= self.start_ns && now < self.end_ns {
            self.counted.fetch_add(1, Ordering::Relaxed);
        }
        if t >= self.start_ns && t < self.end_ns {
            samples.record(Duration::from_nanos(now.saturating_sub(t)));
        }
        let slot = &self.slots[seq as usize % RING];
        if slot.fetch_add(1, Ordering::AcqRel) + 1 == self.recipients {
            self.completed.fetch_add(1, Ordering::AcqRel);
            self.notify.notify_one();
        }
    }
}

/// Runs the scenario and returns its line.
pub async fn run(common: &Common, p: &Params) -> Result<Value, Error> {
    let mut clients = connect_all(&common.target, p.clients + 1, 64, 1).await?;
    let emitter = clients.pop().expect("at least one client");
    let base = Instant::now();
    let start = base + p.warmup;
    let end = start + p.duration;
    let board = Arc::new(Board {
        recipients: (p.clients + 1) as u32,
        slots: (0..RING).map(|_| AtomicU32::new(0)).collect(),
        completed: AtomicU64::new(0),
        notify: Notify::new(),
        base,
        start_ns: p.warmup.as_nanos() as u64,
        end_ns: (p.warmup + p.duration).as_nanos() as u64,
        counted: AtomicU64::new(0),
        received: AtomicU64::new(0),
        broken: AtomicBool::new(false),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let cap = (2_000_000 / (p.clients + 1)).max(100);
    let mut receivers = JoinSet::new();
    for c in clients {
        receivers.spawn(receiver(c, board.clone(), stop_rx.clone(), cap));
    }
    let pad = "x".repeat(p.payload);
    let emit = tokio::spawn(emitter_loop(
        emitter,
        board.clone(),
        pad,
        end,
        p.window,
        p.max_broadcasts,
        cap,
    ));

    tokio::time::sleep_until(start.into()).await;
    let meter = CpuMeter::start(common.server_pid);
    tokio::time::sleep_until(end.into()).await;
    let (server_cpu, gen_cpu) = meter.stop(p.duration);

    let (sent, stalled, mut all, emitter_error) = emit
        .await
        .map_err(|e| Error(format!("emitter task: {e}")))?;
    stop_tx.send_replace(true);
    while let Some(joined) = receivers.join_next().await {
        all.merge(joined.map_err(|e| Error(format!("receiver task: {e}")))?);
    }
    let lat = all.summary();
    let expected = sent * u64::from(board.recipients);
    let received = board.received.load(Ordering::Relaxed);
    let counted = board.counted.load(Ordering::Relaxed);
    let rate = counted as f64 / p.duration.as_secs_f64();
    let mut figures = json!({
        "rate": sig3(rate),
        "unit": "deliveries/s",
        "broadcasts": sent,
        "deliveries": counted,
        "p50_us": sig3(lat.p50_us),
        "p99_us": sig3(lat.p99_us),
        "missing": expected.saturating_sub(received),
        "errors": u64::from(stalled) + u64::from(board.broken.load(Ordering::Relaxed))
            + u64::from(emitter_error.is_some()),
        "last_error": emitter_error.or_else(|| stalled.then(|| {
            format!("a broadcast missed recipients for {} s", STALL.as_secs())
        })),
    });
    if let Value::Object(m) = &mut figures {
        cpu_fields(m, server_cpu, gen_cpu, Some(counted));
    }
    let params = json!({
        "clients": p.clients,
        "recipients": board.recipients,
        "window": p.window,
        "duration_s": p.duration.as_secs_f64(),
        "warmup_s": p.warmup.as_secs_f64(),
        "payload_bytes": p.payload,
    });
    Ok(line("fanout", common, params, figures))
}

/// Sends broadcasts while the window allows, until `end`; reads its own copies meanwhile.
/// Then waits (bounded) for the last broadcasts to complete.
async fn emitter_loop(
    mut c: Client,
    board: Arc<Board>,
    pad: String,
    end: Instant,
    window: u64,
    max: u64,
    cap: usize,
) -> (u64, bool, Samples, Option<String>) {
    let mut samples = Samples::new(cap);
    let mut sent = 0u64;
    let mut stalled = false;
    let mut waiting_since: Option<Instant> = None;
    let mut error = None;
    loop {
        let now = Instant::now();
        let completed = board.completed.load(Ordering::Acquire);
        let sending = now < end && sent < max;
        if !sending && completed >= sent {
            break;
        }
        let open = sending && sent - completed < window;
        if open {
            waiting_since = None;
        } else {
            let since = *waiting_since.get_or_insert(now);
            if now - since > STALL {
                stalled = true;
                break;
            }
        }
        let deadline = if sending {
            end.min(now + STALL)
        } else {
            now + STALL
        };
        tokio::select! {
            biased;
            frame = c.next_frame() => match frame {
                Ok(Frame::Message(t)) => board.deliver(&t, &mut samples),
                Ok(Frame::Ping) => {
                    if let Err(e) = c.pong().await {
                        error = Some(e.to_string());
                        break;
                    }
                }
                Ok(Frame::Other) => {}
                Err(e) => {
                    error = Some(e.to_string());
                    break;
                }
            },
            _ = std::future::ready(()), if open => {
                board.slots[sent as usize % RING].store(0, Ordering::Release);
                let json = format!(
                    r#"{{"pad":"{pad}","seq":{sent},"t":{}}}"#,
                    board.now_ns()
                );
                if let Err(e) = c.send_text(event_frame(BCAST_EVENT, &json)).await {
                    error = Some(e.to_string());
                    break;
                }
                sent += 1;
            },
            _ = board.notify.notified(), if !open => {},
            _ = tokio::time::sleep_until(deadline.into()), if !open => {},
        }
    }
    c.close(Duration::from_millis(500)).await;
    (sent, stalled, samples, error)
}

/// Books every `bcast` delivery and answers pings until told to stop.
async fn receiver(
    mut c: Client,
    board: Arc<Board>,
    mut stop: watch::Receiver<bool>,
    cap: usize,
) -> Samples {
    let mut samples = Samples::new(cap);
    loop {
        tokio::select! {
            biased;
            frame = c.next_frame() => match frame {
                Ok(Frame::Message(t)) => board.deliver(&t, &mut samples),
                Ok(Frame::Ping) => {
                    if c.pong().await.is_err() {
                        board.broken.store(true, Ordering::Relaxed);
                        break;
                    }
                }
                Ok(Frame::Other) => {}
                Err(_) => {
                    if !*stop.borrow() {
                        board.broken.store(true, Ordering::Relaxed);
                    }
                    break;
                }
            },
            _ = super::stopped(&mut stop) => break,
        }
    }
    drop(c);
    samples
}
