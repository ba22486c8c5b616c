//! connect: W workers each open a connection (TCP, WebSocket upgrade, Engine.IO open packet,
//! Socket.IO CONNECT and its reply), close it (WebSocket close handshake), and start over.
//! Figures: handshakes per second and the p50/p99 time from TCP connect to the CONNECT reply.
//!
//! Connections come from 16 loopback source addresses so that TIME_WAIT sockets do not run
//! out of ephemeral ports.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::task::JoinSet;

use super::{cpu_fields, line, source_for, Common, CONNECT_TIMEOUT, MAX_DURATION_S};
use crate::cli::Opts;
use crate::client::{Client, Error, Target};
use crate::stats::{sig3, Samples};
use crate::sys::CpuMeter;

/// Parameters of the connect scenario.
#[derive(Debug, Clone)]
pub struct Params {
    /// Concurrent workers (default 32).
    pub workers: usize,
    /// Measured time (default 8 s).
    pub duration: Duration,
    /// Unmeasured time before it (default 1 s).
    pub warmup: Duration,
    /// Loopback source addresses (default 16).
    pub sources: usize,
    /// Most handshakes per worker (a hard cap besides the time).
    pub max_handshakes: u64,
}

impl Params {
    /// From `--workers --duration --warmup --sources --max-handshakes`.
    pub fn from_opts(o: &mut Opts) -> Result<Params, String> {
        Ok(Params {
            workers: o.num("workers", 32, 1, 2_000)?,
            duration: o.secs("duration", 8.0, MAX_DURATION_S)?,
            warmup: o.secs("warmup", 1.0, MAX_DURATION_S)?,
            sources: o.num("sources", 16, 1, 250)?,
            max_handshakes: o.num("max-handshakes", 1_000_000, 1, 100_000_000)?,
        })
    }
}

#[derive(Default)]
struct Outcome {
    counted: u64,
    errors: u64,
    last_error: Option<String>,
    samples: Option<Samples>,
}

/// Runs the scenario and returns its line.
pub async fn run(common: &Common, p: &Params) -> Result<Value, Error> {
    crate::sys::raise_nofile(4 * p.workers as u64 + 1_000);
    let start = Instant::now() + p.warmup;
    let end = start + p.duration;
    let mut set = JoinSet::new();
    for w in 0..p.workers {
        set.spawn(worker(
            common.target.clone(),
            w,
            p.workers,
            p.sources,
            start,
            end,
            p.max_handshakes,
        ));
    }
    tokio::time::sleep_until(start.into()).await;
    let meter = CpuMeter::start(common.server_pid);
    tokio::time::sleep_until(end.into()).await;
    let (server_cpu, gen_cpu) = meter.stop(p.duration);

    let mut all = Samples::new(1_000_000);
    let mut total = Outcome::default();
    while let Some(joined) = set.join_next().await {
        let o = joined.map_err(|e| Error(format!("worker task: {e}")))?;
        total.counted += o.counted;
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
        "unit": "handshakes/s",
        "handshakes": total.counted,
        "p50_us": sig3(lat.p50_us),
        "p99_us": sig3(lat.p99_us),
        "errors": total.errors,
        "last_error": total.last_error,
    });
    if let Value::Object(m) = &mut figures {
        cpu_fields(m, server_cpu, gen_cpu, Some(total.counted));
    }
    let params = json!({
        "workers": p.workers,
        "duration_s": p.duration.as_secs_f64(),
        "warmup_s": p.warmup.as_secs_f64(),
        "sources": p.sources,
    });
    Ok(line("connect", common, params, figures))
}

async fn worker(
    target: Target,
    w: usize,
    workers: usize,
    sources: usize,
    start: Instant,
    end: Instant,
    max: u64,
) -> Outcome {
    let mut o = Outcome::default();
    let mut samples = Samples::new(1_000_000 / workers.max(1));
    let mut n = 0u64;
    while n < max && Instant::now() < end {
        let source = source_for(w + n as usize * workers, sources);
        let t0 = Instant::now();
        match tokio::time::timeout(CONNECT_TIMEOUT, Client::connect(&target, source)).await {
            Ok(Ok(c)) => {
                let t1 = Instant::now();
                if t0 >= start && t1 <= end {
                    o.counted += 1;
                    samples.record(t1 - t0);
                }
                c.close(Duration::from_secs(2)).await;
            }
            Ok(Err(e)) => {
                o.errors += 1;
                o.last_error = Some(e.to_string());
                // Do not spin on a server that refuses.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(_) => {
                o.errors += 1;
                o.last_error = Some("handshake timed out".into());
            }
        }
        n += 1;
    }
    o.samples = Some(samples);
    o
}
