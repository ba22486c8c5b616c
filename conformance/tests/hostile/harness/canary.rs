//! The canary: a well-behaved Socket.IO client (tungstenite) on `/` that answers every ping
//! and does an acknowledged round trip (`message-with-ack`) every 20 ms while an attack runs,
//! recording the slowest round trip and every failure.

use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tungstenite::{Message, WebSocket};

use super::wire::is_timeout;

/// The rhythm of the round trips.
const PERIOD: Duration = Duration::from_millis(20);
/// A round trip that takes longer than this is counted as a failure (and the canary waits
/// for the next one).
const LOST_AFTER: Duration = Duration::from_secs(2);
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The read timeout between checks (pings are answered within it).
const POLL: Duration = Duration::from_millis(2);

/// What the canary saw.
#[derive(Debug, Clone, Default)]
pub struct CanaryReport {
    pub round_trips: u64,
    pub max_rtt: Duration,
    /// Round trips over the slow threshold ([`super::canary_max_rtt`]), and how many of
    /// them the operating system explains (see [`CpuWaits::explains`]).
    pub slow: u64,
    pub excused: u64,
    /// Failures (lost round trips, a closed connection), with the time since the canary
    /// started; the first few.
    pub failures: Vec<String>,
    /// The slowest round trip and how long the operating system kept runnable threads
    /// waiting for a CPU meanwhile (see [`CpuWaits`]): to tell a server that starves a client
    /// from a machine that is busy with other work.
    pub slowest: Option<(Duration, Duration, CpuWaits)>,
    /// The slowest round trip not explained by the operating system, if any.
    pub slowest_unexcused: Option<(Duration, Duration, CpuWaits)>,
}

/// Run-queue waits (`/proc/.../schedstat`, second field) accumulated during a round trip: the
/// canary's own thread, and the server's threads (the largest of one thread, and all of them;
/// not read when the server has more than 64 threads).
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuWaits {
    pub canary: Duration,
    pub server_max: Duration,
    pub server_sum: Duration,
}

impl CpuWaits {
    /// Whether these waits explain a round trip of `rtt` over `threshold`: the canary's thread
    /// and the server's most delayed thread waited for a CPU, together, at least as long as
    /// the round trip went over. On a machine busy with other work that happens; when one
    /// connection starves the others inside the server (an executor thread taken over, a
    /// lock held), the server's threads run or sleep instead, and nothing is excused.
    pub fn explains(&self, rtt: Duration, threshold: Duration) -> bool {
        self.canary + self.server_max >= rtt.saturating_sub(threshold)
    }
}

impl std::fmt::Display for CpuWaits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "run-queue waits: canary {} ms, server threads max {} ms, sum {} ms",
            self.canary.as_millis(),
            self.server_max.as_millis(),
            self.server_sum.as_millis()
        )
    }
}

/// Run-queue wait so far, in ns, of one task's `schedstat` file.
fn rq_wait(path: &str) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// Run-queue wait so far of each thread of `pid` (at most 64 threads, else none).
fn server_waits(pid: u32) -> Vec<(String, u64)> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let tasks: Vec<_> = dir.flatten().take(65).collect();
    if tasks.len() > 64 {
        return Vec::new();
    }
    tasks
        .iter()
        .map(|t| {
            let tid = t.file_name().to_string_lossy().into_owned();
            let w = rq_wait(&format!("/proc/{pid}/task/{tid}/schedstat"));
            (tid, w)
        })
        .collect()
}

fn waits_between(
    canary0: u64,
    server0: &[(String, u64)],
    canary1: u64,
    server1: &[(String, u64)],
) -> CpuWaits {
    let mut max = 0;
    let mut sum = 0;
    for (tid, w1) in server1 {
        let w0 = server0
            .iter()
            .find(|(t, _)| t == tid)
            .map_or(0, |(_, w)| *w);
        let d = w1.saturating_sub(w0);
        max = max.max(d);
        sum += d;
    }
    CpuWaits {
        canary: Duration::from_nanos(canary1.saturating_sub(canary0)),
        server_max: Duration::from_nanos(max),
        server_sum: Duration::from_nanos(sum),
    }
}

/// A running canary.
pub struct Canary {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<CanaryReport>>,
}

type Socket = WebSocket<TcpStream>;

impl Canary {
    /// Connects (panics when it cannot: the server must be healthy before an attack) and
    /// starts the round trips.
    /// Round trips over `slow` are recorded with the CPU waits during them.
    pub fn start(addr: SocketAddr, server_pid: u32, slow: Duration) -> Canary {
        let ws = connect(addr).unwrap_or_else(|e| panic!("the canary cannot connect: {e}"));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("canary".into())
                .spawn(move || run(ws, &stop, server_pid, slow))
                .expect("canary thread")
        };
        Canary {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops the canary.
    pub fn finish(mut self) -> CanaryReport {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .expect("not finished")
            .join()
            .unwrap_or_else(|_| CanaryReport {
                failures: vec!["the canary thread panicked".into()],
                ..CanaryReport::default()
            })
    }
}

impl Drop for Canary {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn connect(addr: SocketAddr) -> Result<Socket, String> {
    let stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(CONNECT_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    let (mut ws, _) =
        tungstenite::client::client(url.as_str(), stream).map_err(|e| e.to_string())?;
    let until = Instant::now() + CONNECT_TIMEOUT;
    wait_text(&mut ws, until, |t| t.starts_with('0'))?;
    ws.send(Message::text("40")).map_err(|e| e.to_string())?;
    let answer = wait_text(&mut ws, until, |t| {
        t.starts_with("40") || t.starts_with("44")
    })?;
    if !answer.starts_with("40{") {
        return Err(format!("CONNECT answered {answer}"));
    }
    ws.get_mut()
        .set_read_timeout(Some(POLL))
        .map_err(|e| e.to_string())?;
    Ok(ws)
}

/// Reads text messages, answering pings, until one satisfies `pick`.
fn wait_text(
    ws: &mut Socket,
    until: Instant,
    mut pick: impl FnMut(&str) -> bool,
) -> Result<String, String> {
    loop {
        if Instant::now() >= until {
            return Err("nothing in time".into());
        }
        match read(ws)? {
            Some(t) if pick(&t) => return Ok(t),
            _ => {}
        }
    }
}

/// One read: a text message (pings already answered), or `None` when the read timed out or
/// brought something else.
fn read(ws: &mut Socket) -> Result<Option<String>, String> {
    match ws.read() {
        Ok(Message::Text(t)) if t.as_str() == "2" => {
            ws.send(Message::text("3"))
                .map_err(|e| format!("answering a ping: {e}"))?;
            Ok(None)
        }
        Ok(Message::Text(t)) => Ok(Some(t.as_str().to_string())),
        Ok(Message::Close(c)) => Err(format!("the server closed the connection ({c:?})")),
        Ok(_) => Ok(None),
        Err(tungstenite::Error::Io(e)) if is_timeout(&e) => Ok(None),
        Err(e) => Err(format!("connection failed: {e}")),
    }
}

fn run(mut ws: Socket, stop: &AtomicBool, server_pid: u32, slow: Duration) -> CanaryReport {
    let start = Instant::now();
    let mut report = CanaryReport::default();
    let fail = |report: &mut CanaryReport, what: String| {
        if report.failures.len() < 8 {
            report
                .failures
                .push(format!("at {:.2} s: {what}", start.elapsed().as_secs_f64()));
        }
    };
    let mut id: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        id += 1;
        let canary0 = rq_wait("/proc/thread-self/schedstat");
        let server0 = server_waits(server_pid);
        let sent = Instant::now();
        if let Err(e) = ws.send(Message::text(format!("42{id}[\"message-with-ack\",{id}]"))) {
            fail(&mut report, format!("sending: {e}"));
            break;
        }
        let want = format!("43{id}[{id}]");
        let mut closed = false;
        loop {
            match read(&mut ws) {
                Ok(Some(t)) if t == want => {
                    let rtt = sent.elapsed();
                    report.round_trips += 1;
                    if rtt > slow {
                        let waits = waits_between(
                            canary0,
                            &server0,
                            rq_wait("/proc/thread-self/schedstat"),
                            &server_waits(server_pid),
                        );
                        let trip = Some((sent - start, rtt, waits));
                        report.slow += 1;
                        if waits.explains(rtt, slow) {
                            report.excused += 1;
                        } else if report.slowest_unexcused.is_none_or(|s| s.1 < rtt) {
                            report.slowest_unexcused = trip;
                        }
                        if rtt > report.max_rtt {
                            report.slowest = trip;
                        }
                    }
                    report.max_rtt = report.max_rtt.max(rtt);
                    break;
                }
                Ok(_) => {}
                Err(e) => {
                    fail(&mut report, e);
                    closed = true;
                    break;
                }
            }
            if sent.elapsed() > LOST_AFTER {
                fail(
                    &mut report,
                    format!("round trip {id} got no answer within {LOST_AFTER:?}"),
                );
                report.max_rtt = report.max_rtt.max(sent.elapsed());
                break;
            }
        }
        if closed {
            break;
        }
        // Until the next round trip: keep answering pings.
        while sent.elapsed() < PERIOD && !stop.load(Ordering::Relaxed) {
            if let Err(e) = read(&mut ws) {
                fail(&mut report, e);
                return report;
            }
        }
    }
    let _ = ws.close(None);
    report
}
