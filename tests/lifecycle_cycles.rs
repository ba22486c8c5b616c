//! 20,000 connect/disconnect cycles over real sockets (WebSocket and polling, clients that
//! say goodbye and clients that vanish) leave the server as it was: no sessions, sockets,
//! transports or acknowledgements left, and memory and open file descriptors back at their
//! baseline.

#[path = "common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::client::{Client, Options, Transport};
use serde_json::json;
use sockio::{Context, SocketIo, Stats, Value};

const CYCLES: usize = 20_000;
const WARMUP: usize = 1_000;
const THREADS: usize = 4;

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Waits until the server holds nothing; fails with what it still holds.
fn wait_empty(io: &SocketIo) {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let stats = io.stats();
        if stats == Stats::default() {
            return;
        }
        assert!(Instant::now() < until, "the server still holds {stats:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One client's life; `n` picks the transport and how it ends.
fn cycle(addr: std::net::SocketAddr, n: usize) {
    let transport = if n % 2 == 0 {
        Transport::WebSocket
    } else {
        Transport::Polling
    };
    let mut c = Client::connect(addr, Options::new(transport), "/", None);
    assert_eq!(c.emit_ack("/", "echo", json!([n])), vec![json!(n)]);
    if n % 10 == 9 {
        c.vanish(); // the heartbeat must find it
    } else {
        c.close();
    }
}

fn run_cycles(addr: std::net::SocketAddr, count: usize) {
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::spawn(move || {
                for i in (t..count).step_by(THREADS) {
                    cycle(addr, i);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a client thread failed");
    }
}

#[test]
fn connect_disconnect_cycles_leave_nothing_behind() {
    let io = SocketIo::builder()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(300))
        .build();
    io.on("echo", |_: Context, v: Value| v);
    let served = common::serve::tokio(&io);

    run_cycles(served.addr, WARMUP);
    wait_empty(&io);
    let (rss0, fds0) = (rss_kib(), open_fds());

    let started = Instant::now();
    run_cycles(served.addr, CYCLES);
    let elapsed = started.elapsed();
    wait_empty(&io);
    // Sockets of the last cycles may linger in the kernel for a moment.
    let until = Instant::now() + Duration::from_secs(10);
    while open_fds() > fds0 + 2 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    let (rss1, fds1) = (rss_kib(), open_fds());
    println!("{CYCLES} cycles in {elapsed:?}: RSS {rss0} -> {rss1} KiB, open fds {fds0} -> {fds1}");
    assert!(fds1 <= fds0 + 2, "file descriptors leak: {fds0} -> {fds1}");
    // A leak of 256 bytes a cycle would show as 5 MB.
    assert!(
        rss1 <= rss0 + 5 * 1024,
        "memory grows with cycles: {rss0} -> {rss1} KiB"
    );
    served.stop();
}
