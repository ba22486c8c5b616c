//! echo: C clients each emit `echo` with a small payload and wait for the server's `echo`
//! reply (the same bytes) before the next. Figures: round trips per second, p50/p99 latency.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::{connect_all, cpu_fields, line, Common, MAX_DURATION_S, REPLY_TIMEOUT};
use crate::cli::Opts;
use crate::client::{event_frame, Client, Error};
use crate::stats::{sig3, Samples};
use crate::sys::CpuMeter;
use crate::ECHO_EVENT;

/// Parameters of the echo scenario.
#[derive(Debug, Clone)]
pub struct Params {
    /// Concurrent clients, each with one round trip in flight (default 50).
    pub clients: usize,
    /// Measured time (default 8 s).
    pub duration: Duration,
    /// Unmeasured time before it (default 1 s).
    pub warmup: Duration,
    /// Bytes of padding in the payload (default 32).
    pub payload: usize,
    /// Most round trips per client (a hard cap besides the time).
    pub max_round_trips: u64,
}

impl Params {
    /// From `--clients --duration --warmup --payload --max-round-trips`.
    pub fn from_opts(o: &mut Opts) -> Result<Params, String> {
        Ok(Params {
            clients: o.num("clients", 50, 1, 10_000)?,
            duration: o.secs("duration", 8.0, MAX_DURATION_S)?,
            warmup: o.secs("warmup", 1.0, MAX_DURATION_S)?,
            payload: o.num("payload", 32, 0, 65_536)?,
            max_round_trips: o.num("max-round-trips", 10_000_000, 1, 100_000_000)?,
        })
    }
}

#[derive(Default)]
struct Outcome {
    counted: u64,
    mismatched: u64,
    errors: u64,
    last_error: Option<String>,
    samples: Option<Samples>,
}

/// Runs the scenario and returns its line.
pub async fn run(common: &Common, p: &Params) -> Result<Value, Error> {
    let clients = connect_all(&common.target, p.clients, 64, 1).await?;
    let pad: Arc<str> = "x".repeat(p.payload).into();
    let start = Instant::now() + p.warmup;
    let end = start + p.duration;
    let cap = (2_000_000 / p.clients).max(1_000);
    let mut set = JoinSet::new();
    for c in clients {
        set.spawn(client_loop(
            c,
            pad.clone(),
            start,
            end,
            p.max_round_trips,
            cap,
        ));
    }
    tokio::time::sleep_until(start.into()).await;
    let meter = CpuMeter::start(common.server_pid);
    tokio::time::sleep_until(end.into()).await;
    let (server_cpu, gen_cpu) = meter.stop(p.duration);

    let mut all = Samples::new(2_000_000);
    let mut total = Outcome::default();
    while let Some(joined) = set.join_next().await {
        let o = joined.map_err(|e| Error(format!("client task: {e}")))?;
        total.counted += o.counted;
        total.mismatched += o.mismatched;
        total.errors += o.errors;
        if o.last_error.is_some() {
            total.last_error = o.last_error;
        }
        if let Some(s) = o.samples {
            all.merge(s);
        }
    }
    let lat = all.summary();
    let rate = total.counted as f64 / p.duration.as_secs_f64();
    let mut figures = json!({
        "rate": sig3(rate),
        "unit": "round trips/s",
        "round_trips": total.counted,
        "p50_us": sig3(lat.p50_us),
        "p99_us": sig3(lat.p99_us),
        "errors": total.errors + total.mismatched,
        "mismatched": total.mismatched,
        "last_error": total.last_error,
    });
    if let Value::Object(m) = &mut figures {
        cpu_fields(m, server_cpu, gen_cpu, Some(total.counted));
    }
    let params = json!({
        "clients": p.clients,
        "duration_s": p.duration.as_secs_f64(),
        "warmup_s": p.warmup.as_secs_f64(),
        "payload_bytes": p.payload,
    });
    Ok(line("echo", common, params, figures))
}

async fn client_loop(
    mut c: Client,
    pad: Arc<str>,
    start: Instant,
    end: Instant,
    max: u64,
    cap: usize,
) -> Outcome {
    let mut o = Outcome::default();
    let mut samples = Samples::new(cap);
    let mut seq = 0u64;
    while seq < max && Instant::now() < end {
        // Keys in sorted order: every server sends the same bytes back.
        let frame: Utf8Bytes =
            event_frame(ECHO_EVENT, &format!(r#"{{"pad":"{pad}","seq":{seq}}}"#)).into();
        let t0 = Instant::now();
        if let Err(e) = c.send_text(frame.clone()).await {
            o.errors += 1;
            o.last_error = Some(e.to_string());
            break;
        }
        match tokio::time::timeout(REPLY_TIMEOUT, c.next_message()).await {
            Ok(Ok(reply)) => {
                let t1 = Instant::now();
                if reply.as_str() != frame.as_str() {
                    o.mismatched += 1;
                    o.last_error = Some(format!("reply {:?} to {:?}", reply.as_str(), &*frame));
                } else if t0 >= start && t1 <= end {
                    o.counted += 1;
                    samples.record(t1 - t0);
                }
            }
            Ok(Err(e)) => {
                o.errors += 1;
                o.last_error = Some(e.to_string());
                break;
            }
            Err(_) => {
                o.errors += 1;
                o.last_error = Some("no reply within 10 s".into());
                break;
            }
        }
        seq += 1;
    }
    c.close(Duration::from_millis(500)).await;
    o.samples = Some(samples);
    o
}
