//! In-process engine scaling: K threads each drive their own connections through sockio's
//! engine, with no sockets: frames go in through [`WebSocketConnection::receive`] and come out
//! of its outbox, the way a runtime adapter moves them. Echo (each connection emits `echo` and
//! waits for its reply) and fanout (each thread's emitter broadcasts `bcast` to every
//! connection of every thread), with 1 thread and with 2, the same engine settings.
//!
//! Prints one JSON line per run and the summary lines benches/README.md records:
//!
//! ```text
//! engine scaling 2 threads / 1 thread: echo N.NNx, fanout N.NNx
//! lock-held share: echo N.N%, fanout N.N%
//! ```
//!
//! The lock-held share is the time any process-wide lock was held over the CPU time of the
//! driving threads (built with sockio's `lock-stats` feature, which the bench enables); the
//! shards' own locks are reported beside it. Every loop is bounded in time.
//!
//! ```sh
//! cargo run --release -p sockio-load --bin sockio-engine-scaling -- [--seconds 3]
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::task::{Context as TaskContext, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sockio::protocol::{Frame, HttpRequest, WsOut};
use sockio::{lock_stats, Context, SocketIo, WebSocketConnection};

/// Connections driven in the echo scenario, over all threads.
const ECHO_CONNECTIONS: usize = 64;
/// Receivers in the fanout scenario, over all threads (plus one emitter per thread).
const FANOUT_RECEIVERS: usize = 1000;
/// Broadcasts each fanout emitter keeps in flight at most.
const FANOUT_IN_FLIGHT: usize = 4;

fn main() {
    let mut seconds = 3.0f64;
    let mut only: Option<(String, usize)> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--seconds" => seconds = args.next().and_then(|v| v.parse().ok()).unwrap_or(3.0),
            // One run, for profiling: `--only fanout 2`.
            "--only" => {
                let name = args.next().expect("--only SCENARIO THREADS");
                let threads = args.next().and_then(|v| v.parse().ok()).unwrap_or(1);
                only = Some((name, threads));
            }
            "-h" | "--help" => {
                println!(
                    "sockio-engine-scaling [--seconds S] [--only echo|fanout THREADS]  \
                     (default 3 s per run)"
                );
                return;
            }
            other => panic!("unknown argument {other}"),
        }
    }
    let run = Duration::from_secs_f64(seconds.clamp(0.5, 60.0));
    if let Some((name, threads)) = only {
        let scenario: Scenario = if name == "echo" { echo } else { fanout };
        measure(&name, threads, run, scenario);
        return;
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus < 2 {
        eprintln!("only {cpus} CPU: the 2-thread runs cannot scale");
    }
    let echo1 = measure("echo", 1, run, echo);
    let echo2 = measure("echo", 2, run, echo);
    let fan1 = measure("fanout", 1, run, fanout);
    let fan2 = measure("fanout", 2, run, fanout);
    println!(
        "engine scaling 2 threads / 1 thread: echo {:.2}x, fanout {:.2}x",
        echo2.rate / echo1.rate,
        fan2.rate / fan1.rate
    );
    println!(
        "lock-held share: echo {:.1}%, fanout {:.1}%",
        100.0 * echo2.global_share,
        100.0 * fan2.global_share
    );
    let amdahl = |s: f64| 1.0 / (s + (1.0 - s) / 16.0);
    println!(
        "process-wide locks, 16-core Amdahl bound: echo {:.1}x, fanout {:.1}x; shard locks held: \
         echo {:.1}%, fanout {:.1}% of the driving threads' CPU time",
        amdahl(echo2.global_share),
        amdahl(fan2.global_share),
        100.0 * echo2.shard_share,
        100.0 * fan2.shard_share
    );
}

/// What one run measured.
struct Measured {
    /// Operations per second of wall time (echo round trips, fanout deliveries).
    rate: f64,
    /// Time process-wide locks were held over the driving threads' CPU time.
    global_share: f64,
    /// The same for the shards' locks.
    shard_share: f64,
}

/// One thread's part of a run: its operations and its CPU time.
struct Part {
    ops: u64,
    cpu: Duration,
}

type Scenario = fn(&SocketIo, usize, usize, &Barrier, &AtomicBool) -> Part;

fn measure(name: &str, threads: usize, run: Duration, scenario: Scenario) -> Measured {
    let io = SocketIo::builder().shards(threads.max(2)).build();
    io.on("echo", |ctx: Context| {
        ctx.emit("echo", ctx.arguments().clone())
    });
    io.on("bcast", |ctx: Context| {
        ctx.broadcast().emit("bcast", ctx.arguments().clone())
    });
    let start = Barrier::new(threads + 1);
    let stop = AtomicBool::new(false);
    let parts: Vec<Part> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|k| {
                let (io, start, stop) = (&io, &start, &stop);
                s.spawn(move || scenario(io, k, threads, start, stop))
            })
            .collect();
        start.wait();
        lock_stats::reset();
        std::thread::sleep(run);
        stop.store(true, Ordering::SeqCst);
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let locks = lock_stats::snapshot();
    let ops: u64 = parts.iter().map(|p| p.ops).sum();
    let cpu: f64 = parts.iter().map(|p| p.cpu.as_secs_f64()).sum();
    let m = Measured {
        rate: ops as f64 / run.as_secs_f64(),
        global_share: locks.global_held_ns as f64 / 1e9 / cpu.max(1e-9),
        shard_share: locks.shard_held_ns as f64 / 1e9 / cpu.max(1e-9),
    };
    println!(
        "{{\"scenario\":\"{name}\",\"threads\":{threads},\"ops_per_s\":{:.0},\"cpu_s\":{cpu:.3},\
         \"wall_s\":{:.3},\"global_lock_share\":{:.5},\"shard_lock_share\":{:.5},\
         \"global_acquisitions\":{},\"shard_acquisitions\":{}}}",
        m.rate,
        run.as_secs_f64(),
        m.global_share,
        m.shard_share,
        locks.global_acquisitions,
        locks.shard_acquisitions
    );
    m
}

/// The CPU time this thread has used so far.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write to.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Receivers of one thread whose outbox has something: what a runtime's writer tasks get
/// woken for. The driving thread drains only those, as an executor runs only woken tasks.
#[derive(Default)]
struct Ready {
    list: Mutex<Vec<usize>>,
}

/// The waker of one client's outbox: puts the client on its thread's ready list.
struct ClientWaker {
    ready: Arc<Ready>,
    index: usize,
}

impl Wake for ClientWaker {
    fn wake(self: Arc<Self>) {
        self.ready.list.lock().unwrap().push(self.index);
    }
}

/// An in-memory client: its connection, and the waker its writer side waits with.
struct Client {
    conn: WebSocketConnection,
    waker: Waker,
}

impl Client {
    /// Opens a WebSocket session and connects to `/`.
    fn connect(io: &SocketIo, ready: &Arc<Ready>, index: usize) -> Client {
        let request = HttpRequest {
            path: "/socket.io/".into(),
            query: "EIO=4&transport=websocket".into(),
            ..Default::default()
        };
        let waker = Waker::from(Arc::new(ClientWaker {
            ready: ready.clone(),
            index,
        }));
        let mut c = Client {
            conn: io.open_websocket(request),
            waker,
        };
        c.send("40");
        // The open packet, then the CONNECT reply (the connect handler runs on the runtime).
        let until = Instant::now() + Duration::from_secs(10);
        let mut connected = false;
        while !connected {
            assert!(Instant::now() < until, "no CONNECT reply");
            match c.conn.outbox().try_next() {
                Some(WsOut::Frame(Frame::Text(t))) => connected = t.starts_with(b"40"),
                Some(_) => {}
                None => std::thread::yield_now(),
            }
        }
        c.drain();
        c
    }

    fn send(&mut self, text: &'static str) {
        let frame = Frame::Text(Bytes::from_static(text.as_bytes()));
        // Nobody is paused here (the default backlog policy disconnects instead).
        let _ = self.conn.receive(frame);
    }

    /// Writes what is there, as a writer task does when woken, and waits again (registers its
    /// waker): the events among it, answering pings.
    fn drain(&mut self) -> u64 {
        let mut events = 0;
        let mut pings = 0;
        let waker = self.waker.clone();
        let mut cx = TaskContext::from_waker(&waker);
        while let Poll::Ready(Some(m)) = self.conn.outbox().poll_next(&mut cx) {
            match m {
                WsOut::Frame(Frame::Text(t)) if t.starts_with(b"42") => events += 1,
                WsOut::Frame(Frame::Text(t)) if &t[..] == b"2" => pings += 1,
                _ => {}
            }
        }
        for _ in 0..pings {
            self.send("3");
        }
        events
    }
}

/// Drains the clients on `ready`; their events.
fn drain_ready(ready: &Ready, clients: &mut [Client], batch: &mut Vec<usize>) -> u64 {
    std::mem::swap(&mut *ready.list.lock().unwrap(), batch);
    let mut events = 0;
    for i in batch.drain(..) {
        events += clients[i].drain();
    }
    events
}

/// Echo: each thread drives `ECHO_CONNECTIONS / threads` clients, each with one echo in flight.
fn echo(io: &SocketIo, _k: usize, threads: usize, start: &Barrier, stop: &AtomicBool) -> Part {
    let ready = Arc::new(Ready::default());
    let mut clients: Vec<Client> = (0..ECHO_CONNECTIONS / threads)
        .map(|i| Client::connect(io, &ready, i))
        .collect();
    start.wait();
    let cpu0 = thread_cpu();
    let mut ops = 0;
    let mut batch = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        for c in &mut clients {
            c.send(r#"42["echo",{"seq":1,"text":"hello from a load client"}]"#);
        }
        ops += drain_ready(&ready, &mut clients, &mut batch);
    }
    Part {
        ops,
        cpu: thread_cpu() - cpu0,
    }
}

/// Fanout: each thread drives `FANOUT_RECEIVERS / threads` receivers and one emitter; every
/// emitter's broadcast reaches every receiver of every thread (and every emitter). An emitter
/// keeps `FANOUT_IN_FLIGHT` of its broadcasts in flight: the next goes once its own came back.
fn fanout(io: &SocketIo, _k: usize, threads: usize, start: &Barrier, stop: &AtomicBool) -> Part {
    let ready = Arc::new(Ready::default());
    let n = FANOUT_RECEIVERS / threads;
    let mut clients: Vec<Client> = (0..n).map(|i| Client::connect(io, &ready, i)).collect();
    // The emitter is drained every turn: it has a ready list of its own, which is not read.
    clients.push(Client::connect(io, &Arc::new(Ready::default()), n));
    start.wait();
    let cpu0 = thread_cpu();
    let mut ops = 0;
    let mut sent = 0u64;
    let mut batch = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let back = {
            let emitter = &mut clients[n];
            emitter.drain()
        };
        ops += back;
        sent = sent.saturating_sub(back.min(sent));
        while sent < FANOUT_IN_FLIGHT as u64 {
            clients[n].send(r#"42["bcast",{"t":1}]"#);
            sent += 1;
        }
        let got = drain_ready(&ready, &mut clients, &mut batch);
        ops += got;
        if got == 0 {
            std::thread::yield_now();
        }
    }
    Part {
        ops,
        cpu: thread_cpu() - cpu0,
    }
}
