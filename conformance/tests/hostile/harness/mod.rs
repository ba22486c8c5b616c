//! The frame every hostile test runs in ([`hostile`]): a server of its own, a canary, a
//! memory sampler, a bounded attack, then the checks.

pub mod canary;
pub mod peer;
pub mod polling;
pub mod server;
pub mod wire;

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use canary::Canary;
pub use peer::Peer;
pub use server::Server;
pub use wire::{Http, Ws};

pub const MB: u64 = 1 << 20;

/// Round trips of the canary slower than this fail a test: 100 ms, or `$HOSTILE_MAX_RTT_MS`.
/// Unless `$HOSTILE_STRICT_RTT` is set, a slow round trip is excused when the operating
/// system kept the canary and the server waiting for a CPU about as long as it went over
/// ([`canary::CpuWaits::explains`]): the machine is shared, and what is tested is whether
/// the server starves a client, not whether the machine is busy. Each summary shows the waits
/// during the slowest round trip.
pub fn canary_max_rtt() -> Duration {
    std::env::var("HOSTILE_MAX_RTT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_millis(100), Duration::from_millis)
}

/// The slack given to an attack over its time budget (a write or read in flight when the
/// budget runs out finishes or times out first).
const ATTACK_SLACK: Duration = Duration::from_secs(2);

/// A payload of `n` `x` characters (JSON-safe as is).
pub fn filler(n: usize) -> String {
    "x".repeat(n)
}

/// One hostile test: how the server runs and what is checked.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Flags after `--hostile`.
    pub args: Vec<String>,
    /// The server's open-file limit, when the test needs one.
    pub nofile: Option<u32>,
    /// The largest growth of the server's resident memory allowed during the attack (peak
    /// minus the baseline taken once the canary is connected); `None`: recorded only.
    pub rss_bound: Option<u64>,
    /// Growth past which the attack is stopped at once (the test then fails on the bound).
    pub rss_abort: u64,
    /// The attack's time budget.
    pub time: Duration,
    /// The attack's byte budget (what attackers write, all of them together).
    pub bytes: u64,
    /// How long the server's open files may take to return to the baseline once the attack
    /// stopped.
    pub fds_settle: Duration,
    /// Whether a canary runs (and is checked).
    pub canary: bool,
}

impl Spec {
    /// The usual test: 50 MB bound, 3 s and 400 MB of attack, 3 s for the files to settle.
    pub fn bounded(args: &[&str]) -> Spec {
        Spec {
            args: args.iter().map(|s| s.to_string()).collect(),
            nofile: None,
            rss_bound: Some(50 * MB),
            rss_abort: 200 * MB,
            time: Duration::from_secs(3),
            bytes: 400 * MB,
            fds_settle: Duration::from_secs(3),
            canary: true,
        }
    }

    pub fn time(mut self, t: Duration) -> Spec {
        self.time = t;
        self
    }

    pub fn bytes(mut self, b: u64) -> Spec {
        self.bytes = b;
        self
    }

    pub fn unbounded_rss(mut self) -> Spec {
        self.rss_bound = None;
        self.rss_abort = 500 * MB;
        self
    }

    pub fn nofile(mut self, n: u32) -> Spec {
        self.nofile = Some(n);
        self
    }

    pub fn fds_settle(mut self, d: Duration) -> Spec {
        self.fds_settle = d;
        self
    }
}

/// What an attack gets: the server, its budget, and where to note what it saw.
pub struct Attack<'a> {
    pub server: &'a Server,
    pub addr: SocketAddr,
    pub start: Instant,
    pub deadline: Instant,
    max_bytes: u64,
    sent: AtomicU64,
    abort: Arc<AtomicBool>,
    notes: Mutex<Vec<String>>,
    violations: Mutex<Vec<String>>,
    ended: Mutex<Option<Instant>>,
}

impl Attack<'_> {
    /// Marks the end of the attack proper, when checks of the test's own follow (they do
    /// not count against the attack's time budget). By default the attack ends when the
    /// attack function returns.
    pub fn finished(&self) {
        self.ended.lock().unwrap().get_or_insert_with(Instant::now);
    }

    /// Whether the attack may go on: time and bytes left, and the server's memory under the
    /// abort line.
    pub fn go(&self) -> bool {
        Instant::now() < self.deadline
            && self.sent.load(Ordering::Relaxed) < self.max_bytes
            && !self.aborted()
    }

    /// Whether the memory sampler stopped the attack.
    pub fn aborted(&self) -> bool {
        self.abort.load(Ordering::Relaxed)
    }

    /// Counts bytes written by an attacker.
    pub fn sent(&self, n: usize) {
        self.sent.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub fn bytes_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Seconds since the attack started, for notes.
    pub fn t(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Something worth reporting.
    pub fn note(&self, s: impl Into<String>) {
        self.notes.lock().unwrap().push(s.into());
    }

    /// A check of the test's own that failed.
    pub fn fail(&self, s: impl Into<String>) {
        self.violations.lock().unwrap().push(s.into());
    }
}

/// Raises this process's open-file limit to its hard limit (the attacks hold up to ~2,100
/// connections at once); fails when that is not enough.
fn raise_nofile() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit and setrlimit only read and write the struct passed in.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
                lim.rlim_cur = lim.rlim_max;
                libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            }
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        }
        assert!(
            lim.rlim_cur >= 4096,
            "the hostile tests need at least 4096 open files (ulimit -n is {})",
            lim.rlim_cur
        );
    });
}

/// Runs one hostile test: starts the server (`--hostile` plus `spec.args`) on `runtime`,
/// connects the canary, takes the baseline (resident memory, open files), runs `attack`
/// with the memory sampler on, then checks that
///
/// - the attack stayed within its time budget (plus 2 s of slack),
/// - the server's memory grew by less than `spec.rss_bound` (peak minus baseline),
/// - the canary had no failure and no round trip over [`canary_max_rtt`] (100 ms) that
///   CPU waits do not explain,
/// - the server's open files came back to the baseline within `spec.fds_settle`,
/// - the server is still running,
/// - and whatever `attack` itself reported with [`Attack::fail`].
///
/// Prints one summary line (and appends it to `$HOSTILE_REPORT` when set), then panics
/// with every failed check.
pub fn hostile(name: &str, runtime: &str, spec: Spec, attack: impl FnOnce(&Attack)) {
    raise_nofile();
    let mut args = vec!["--hostile".to_string()];
    args.extend(spec.args.iter().cloned());
    let mut server = Server::start(runtime, &args, spec.nofile);
    let canary = spec
        .canary
        .then(|| Canary::start(server.addr, server.pid, canary_max_rtt()));
    std::thread::sleep(Duration::from_millis(100));
    let rss0 = server.rss();
    let fds0 = server.fds();
    let abort = Arc::new(AtomicBool::new(false));
    let sampler = server::Sampler::start(server.pid, rss0 + spec.rss_abort, abort.clone());
    let start = Instant::now();
    let ctx = Attack {
        server: &server,
        addr: server.addr,
        start,
        deadline: start + spec.time,
        max_bytes: spec.bytes,
        sent: AtomicU64::new(0),
        abort,
        notes: Mutex::new(Vec::new()),
        violations: Mutex::new(Vec::new()),
        ended: Mutex::new(None),
    };
    attack(&ctx);
    ctx.finished();
    let took = ctx.ended.lock().unwrap().expect("set") - start;
    let peak = sampler.finish();
    let (fds1, settle) = server.settle_fds(fds0, spec.fds_settle);
    let report = canary.map(|c| c.finish());
    let mut bad: Vec<String> = std::mem::take(&mut *ctx.violations.lock().unwrap());
    let notes: Vec<String> = std::mem::take(&mut *ctx.notes.lock().unwrap());
    let (aborted, sent) = (ctx.aborted(), ctx.bytes_sent());
    drop(ctx);
    let exited = server.exited();

    let growth = peak.saturating_sub(rss0);
    if took > spec.time + ATTACK_SLACK {
        bad.push(format!(
            "the attack ran {:.1} s, over its budget of {:.1} s",
            took.as_secs_f64(),
            spec.time.as_secs_f64()
        ));
    }
    if let Some(bound) = spec.rss_bound {
        if growth > bound {
            bad.push(format!(
                "server memory grew by {} MB (bound {} MB){}",
                growth / MB,
                bound / MB,
                if aborted {
                    ", attack stopped at the abort line"
                } else {
                    ""
                }
            ));
        }
    }
    if let Some(r) = &report {
        if !r.failures.is_empty() {
            bad.push(format!("canary failures: {}", r.failures.join("; ")));
        }
        let strict = std::env::var_os("HOSTILE_STRICT_RTT").is_some();
        let counted = if strict { r.slow } else { r.slow - r.excused };
        if counted > 0 {
            let worst = if strict {
                r.slowest
            } else {
                r.slowest_unexcused
            };
            bad.push(format!(
                "canary: {counted} of {} round trips over {} ms{} (max {} ms{})",
                r.round_trips,
                canary_max_rtt().as_millis(),
                if strict || r.excused == 0 {
                    String::new()
                } else {
                    format!(" not explained by CPU waits, {} more excused", r.excused)
                },
                r.max_rtt.as_millis(),
                worst
                    .map(|(at, rtt, w)| format!(
                        "; {} ms at {:.2} s: {w}",
                        rtt.as_millis(),
                        at.as_secs_f64()
                    ))
                    .unwrap_or_default()
            ));
        }
    }
    if fds1 > fds0 {
        bad.push(format!(
            "open files {fds0} before the attack, still {fds1} {:.1} s after it",
            settle.as_secs_f64()
        ));
    }
    if let Some(status) = exited {
        bad.push(format!("the server exited: {status}"));
    }

    let mut line = format!(
        "hostile {runtime}/{name}: {} | attack {:.2} s, sent {} MB | RSS base {} MB, peak +{} MB{}{} |",
        if bad.is_empty() { "PASS" } else { "FAIL" },
        took.as_secs_f64(),
        sent / MB,
        rss0 / MB,
        growth / MB,
        spec.rss_bound.map(|b| format!(" (bound {} MB)", b / MB)).unwrap_or_default(),
        if aborted { " ABORTED" } else { "" },
    );
    if let Some(r) = &report {
        let _ = write!(
            line,
            " canary {} trips, max RTT {} ms, {} slow ({} excused), {} failures |",
            r.round_trips,
            r.max_rtt.as_millis(),
            r.slow,
            r.excused,
            r.failures.len()
        );
        if let Some((at, rtt, waits)) = r.slowest {
            let _ = write!(
                line,
                " slowest {} ms at {:.2} s ({waits}) |",
                rtt.as_millis(),
                at.as_secs_f64()
            );
        }
    }
    let _ = write!(
        line,
        " fds {fds0} -> {fds1} in {:.2} s",
        settle.as_secs_f64()
    );
    for n in &notes {
        let _ = write!(line, " | {n}");
    }
    eprintln!("{line}");
    for b in &bad {
        eprintln!("  - {b}");
    }
    if let Ok(path) = std::env::var("HOSTILE_REPORT") {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{line}");
            for b in &bad {
                let _ = writeln!(f, "  - {b}");
            }
        }
    }
    drop(server);
    assert!(
        bad.is_empty(),
        "{name} on {runtime}:\n  - {}",
        bad.join("\n  - ")
    );
}

/// Asks the server something on a connection of its own: emits `args` (a JSON array text)
/// with an ack id and returns the acknowledgement's JSON array text.
pub fn ask(addr: SocketAddr, args: &str) -> std::io::Result<String> {
    let mut ws = Ws::socketio(addr, Duration::from_secs(5))?;
    let answer = ws.call(1, args, Duration::from_secs(5));
    let _ = ws.send(wire::CLOSE, &[]);
    answer
}

/// The disconnects the server saw in `/`, as (sid, reason) (the `disconnects` event).
pub fn disconnects(addr: SocketAddr) -> Vec<(String, String)> {
    ask(addr, r#"["disconnects"]"#)
        .ok()
        .and_then(|a| serde_json::from_str::<Vec<Vec<(String, String)>>>(&a).ok())
        .and_then(|mut v| v.pop())
        .unwrap_or_default()
}

/// The disconnect reasons the server saw in `/` (the `disconnect-reasons` event).
pub fn disconnect_reasons(addr: SocketAddr) -> Vec<String> {
    ask(addr, r#"["disconnect-reasons"]"#)
        .ok()
        .and_then(|a| serde_json::from_str::<Vec<Vec<String>>>(&a).ok())
        .and_then(|mut v| v.pop())
        .unwrap_or_default()
}
