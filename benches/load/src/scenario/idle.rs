//! idle: N connections (default 5,000; up to 100,000) opened and held for a fixed time with
//! every ping answered; the server's memory per connection is the growth of its resident set
//! (`VmRSS` of `--server-pid`) from before the first connection to the end of the hold,
//! divided by the connections held.
//!
//! Connections come from 127.0.0.1, 127.0.0.2, … (about 20,000 per address) so that 50,000
//! of them do not exhaust one address's ephemeral ports; the generator raises its own
//! open-file limit.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use super::{cpu_fields, line, source_for, sources_for, Common, CONNECT_TIMEOUT, MAX_DURATION_S};
use crate::cli::Opts;
use crate::client::{Client, Error, Frame};
use crate::stats::sig3;
use crate::sys::{self, CpuMeter};

/// Parameters of the idle scenario.
#[derive(Debug, Clone)]
pub struct Params {
    /// Connections to hold (default 5,000).
    pub conns: usize,
    /// How long to hold them once all are open (default 30 s: longer than the 25 s ping
    /// interval, so every connection answers a ping).
    pub hold: Duration,
    /// Handshakes in flight at most (default 200).
    pub concurrency: usize,
    /// Loopback source addresses (default: one per 20,000 connections).
    pub sources: usize,
    /// Longest time allowed to open all connections (default 120 s).
    pub ramp_limit: Duration,
}

impl Params {
    /// From `--conns --hold --concurrency --sources --ramp-limit`.
    pub fn from_opts(o: &mut Opts) -> Result<Params, String> {
        let conns = o.num("conns", 5_000, 1, 100_000)?;
        Ok(Params {
            conns,
            hold: o.secs("hold", 30.0, MAX_DURATION_S)?,
            concurrency: o.num("concurrency", 200, 1, 5_000)?,
            sources: o.num("sources", sources_for(conns), 1, 250)?,
            ramp_limit: o.secs("ramp-limit", 120.0, MAX_DURATION_S)?,
        })
    }
}

#[derive(Default)]
struct Counters {
    connected: AtomicU64,
    failed: AtomicU64,
    pongs: AtomicU64,
    dropped: AtomicU64,
}

/// Runs the scenario and returns its line.
pub async fn run(common: &Common, p: &Params) -> Result<Value, Error> {
    let pid = common
        .server_pid
        .ok_or_else(|| Error("idle needs --server-pid to read the server's memory".into()))?;
    let limit = sys::raise_nofile(p.conns as u64 + 1_000);
    if limit < p.conns as u64 + 100 {
        return Err(Error(format!(
            "open-file limit {limit} is too low for {} connections (run as root or raise \
             `ulimit -n`)",
            p.conns
        )));
    }
    let rss_before = sys::rss_kib(pid)?;
    let counters = Arc::new(Counters::default());
    let permits = Arc::new(Semaphore::new(p.concurrency));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut set = JoinSet::new();
    let ramp_start = Instant::now();
    for i in 0..p.conns {
        set.spawn(hold_one(
            common.target.clone(),
            source_for(i, p.sources),
            permits.clone(),
            counters.clone(),
            stop_rx.clone(),
        ));
    }
    // Wait until every connection is open or has failed, bounded.
    let ramp_end = ramp_start + p.ramp_limit;
    let mut last_error = None;
    loop {
        let done =
            counters.connected.load(Ordering::Relaxed) + counters.failed.load(Ordering::Relaxed);
        if done >= p.conns as u64 {
            break;
        }
        if Instant::now() >= ramp_end {
            last_error = Some(format!(
                "only {done} of {} handshakes finished within {:?}",
                p.conns, p.ramp_limit
            ));
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ramp = ramp_start.elapsed();
    let connected = counters.connected.load(Ordering::Relaxed);

    let meter = CpuMeter::start(Some(pid));
    tokio::time::sleep(p.hold).await;
    let rss_after = sys::rss_kib(pid)?;
    let (server_cpu, gen_cpu) = meter.stop(p.hold);
    let dropped = counters.dropped.load(Ordering::Relaxed);
    let pongs = counters.pongs.load(Ordering::Relaxed);

    stop_tx.send_replace(true);
    while let Some(r) = set.join_next().await {
        if let Ok(Some(e)) = r {
            last_error = Some(e);
        }
    }
    let held = connected.saturating_sub(dropped);
    let per_conn = rss_after.saturating_sub(rss_before) as f64 / held.max(1) as f64;
    let failed = counters.failed.load(Ordering::Relaxed);
    let mut figures = json!({
        "kib_per_conn": sig3(per_conn),
        "unit": "KiB/connection",
        "held": held,
        "rss_before_kib": rss_before,
        "rss_after_kib": rss_after,
        "connect_rate": sig3(connected as f64 / ramp.as_secs_f64().max(1e-9)),
        "pongs": pongs,
        "errors": failed + dropped,
        "failed_conns": failed,
        "dropped": dropped,
        "last_error": last_error,
    });
    if let Value::Object(m) = &mut figures {
        cpu_fields(m, server_cpu, gen_cpu, None);
    }
    let params = json!({
        "conns": p.conns,
        "hold_s": p.hold.as_secs_f64(),
        "sources": p.sources,
        "concurrency": p.concurrency,
    });
    Ok(line("idle", common, params, figures))
}

/// Opens one connection and keeps it, answering pings, until told to stop. Returns the
/// error that ended it early, if any.
async fn hold_one(
    target: crate::client::Target,
    source: Option<std::net::Ipv4Addr>,
    permits: Arc<Semaphore>,
    counters: Arc<Counters>,
    mut stop: watch::Receiver<bool>,
) -> Option<String> {
    let connected = {
        let _permit = permits.acquire_owned().await;
        tokio::time::timeout(CONNECT_TIMEOUT, Client::connect(&target, source)).await
    };
    let mut c = match connected.map_err(Error::from).and_then(|r| r) {
        Ok(c) => c,
        Err(e) => {
            counters.failed.fetch_add(1, Ordering::Relaxed);
            return Some(e.to_string());
        }
    };
    counters.connected.fetch_add(1, Ordering::Relaxed);
    loop {
        tokio::select! {
            biased;
            _ = super::stopped(&mut stop) => return None,
            frame = c.next_frame() => match frame {
                Ok(Frame::Ping) => {
                    if let Err(e) = c.pong().await {
                        counters.dropped.fetch_add(1, Ordering::Relaxed);
                        return Some(e.to_string());
                    }
                    counters.pongs.fetch_add(1, Ordering::Relaxed);
                }
                Ok(_) => {}
                Err(e) => {
                    if *stop.borrow() {
                        return None;
                    }
                    counters.dropped.fetch_add(1, Ordering::Relaxed);
                    return Some(e.to_string());
                }
            },
        }
    }
}
