//! A client that never reads while 10,000 broadcasts go out: the server's memory stays
//! bounded (its outbound queue is capped, then the client is disconnected with the reason
//! "slow consumer"), and every other client receives every broadcast, in order.

#[path = "common/mod.rs"]
mod common;

use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::client::{Client, Options, Transport};
use sockio::protocol::Config;
use sockio::{Context, DisconnectReason, SocketIo};
use tungstenite::Message;

const BROADCASTS: usize = 10_000;
const PAYLOAD: usize = 10_000;
/// How far the emitter may run ahead of the slowest reader.
const WINDOW: usize = 200;

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A WebSocket client that connects to `/` and then never reads again.
fn stalled_client(addr: std::net::SocketAddr) -> tungstenite::WebSocket<TcpStream> {
    let stream = TcpStream::connect(addr).unwrap();
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    let (mut ws, _) = tungstenite::client(url, stream).unwrap();
    let open = ws.read().unwrap();
    assert!(open.to_text().unwrap().starts_with('0'));
    ws.send(Message::text("40")).unwrap();
    let connected = ws.read().unwrap();
    assert!(connected.to_text().unwrap().starts_with("40"));
    ws
}

#[test]
fn a_client_that_never_reads_is_cut_off_and_the_others_get_everything() {
    let config = Config::default()
        .max_queue_bytes(8 << 20)
        .max_queue_packets(100_000);
    let io = SocketIo::builder().protocol_config(config).build();
    let reasons = Arc::new(Mutex::new(Vec::new()));
    let seen = reasons.clone();
    io.on_disconnect(move |_: Context, reason: DisconnectReason| {
        seen.lock().unwrap().push(reason);
    });
    let served = common::serve::tokio(&io);

    let readers: Vec<Client> = (0..3)
        .map(|_| Client::connect(served.addr, Options::new(Transport::WebSocket), "/", None))
        .collect();
    let _stalled = stalled_client(served.addr);
    let rss0 = rss_kib();

    // Readers read as fast as they can; the emitter stays at most WINDOW broadcasts ahead of
    // the slowest, so a reader's backlog never comes near the queue cap.
    let progress: Arc<Vec<AtomicUsize>> = Arc::new((0..3).map(|_| AtomicUsize::new(0)).collect());
    let reader_threads: Vec<_> = readers
        .into_iter()
        .enumerate()
        .map(|(n, mut r)| {
            let progress = progress.clone();
            std::thread::spawn(move || {
                for i in 0..BROADCASTS {
                    let args = r.expect("/", "tick");
                    assert_eq!(args[0], i, "reader {n} got broadcasts in order");
                    progress[n].store(i + 1, Ordering::Release);
                }
            })
        })
        .collect();
    let started = Instant::now();
    let text = "x".repeat(PAYLOAD);
    let mut peak = rss0;
    for i in 0..BROADCASTS {
        while progress
            .iter()
            .map(|p| p.load(Ordering::Acquire))
            .min()
            .unwrap()
            + WINDOW
            < i
        {
            std::thread::yield_now();
        }
        io.emit("tick", (i, text.as_str())).unwrap();
        if i % 500 == 0 {
            peak = peak.max(rss_kib());
        }
    }
    for t in reader_threads {
        t.join().expect("a reader missed or reordered a broadcast");
    }
    peak = peak.max(rss_kib());
    println!(
        "{BROADCASTS} broadcasts of {PAYLOAD} bytes in {:?}; RSS {rss0} KiB -> peak {peak} KiB",
        started.elapsed()
    );

    // The stalled client's share (100 MB) must not have piled up anywhere.
    assert!(
        peak < rss0 + 48 * 1024,
        "memory grew with the stalled client's backlog: {rss0} -> {peak} KiB"
    );
    let until = Instant::now() + Duration::from_secs(10);
    while !reasons
        .lock()
        .unwrap()
        .contains(&DisconnectReason::SlowConsumer)
    {
        assert!(
            Instant::now() < until,
            "the stalled client was not disconnected: {:?}",
            reasons.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    served.stop();
}
