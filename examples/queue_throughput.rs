//! How fast emits cross processes through each message queue: two servers in this process
//! share a channel; one emits a bounded number of events to everybody, a client of the other
//! counts them. Prints events per second per backend (and the emit call's own cost).
//!
//! ```sh
//! cargo run --release --features redis,amqp,nats --example queue_throughput
//! ```
//!
//! Needs the brokers on 127.0.0.1 (Redis 6379, RabbitMQ 5672, NATS 4222); a backend whose
//! broker does not answer within 10 s is reported and skipped.

#![cfg_attr(
    not(any(feature = "redis", feature = "amqp", feature = "nats")),
    allow(dead_code, unused_imports)
)]

use std::time::{Duration, Instant};

use sockio::{SocketIo, SocketIoTestClient};

const EVENTS: usize = 20_000;
const LIMIT: Duration = Duration::from_secs(60);

fn measure(name: &str, url: &str) {
    let channel = format!("sockio-throughput-{}", std::process::id());
    let build = || {
        SocketIo::builder()
            .message_queue_url(url)
            .channel(&channel)
            .build()
    };
    let (a, b) = (build(), build());
    if !(a.message_queue().wait_connected(Duration::from_secs(10))
        && b.message_queue().wait_connected(Duration::from_secs(10)))
    {
        println!("{name:6} broker not reachable at {url}; skipped");
        return;
    }
    let mut client = SocketIoTestClient::new(&b);
    let start = Instant::now();
    for i in 0..EVENTS {
        if let Err(e) = a.emit("tick", i) {
            println!("{name:6} emit {i} failed: {e}");
            return;
        }
    }
    let emitted = start.elapsed();
    let mut got = 0;
    while got < EVENTS && start.elapsed() < LIMIT {
        got += client
            .get_received("/")
            .iter()
            .filter(|e| e.name == "tick")
            .count();
    }
    let total = start.elapsed();
    println!(
        "{name:6} {got}/{EVENTS} events across processes in {:.2} s: {:>7.0} events/s \
         (emit calls: {:.1} µs each)",
        total.as_secs_f64(),
        got as f64 / total.as_secs_f64(),
        emitted.as_secs_f64() * 1e6 / EVENTS as f64
    );
}

fn main() {
    #[cfg(feature = "redis")]
    measure("redis", "redis://127.0.0.1:6379");
    #[cfg(feature = "amqp")]
    measure("amqp", "amqp://guest:guest@127.0.0.1:5672/%2f");
    #[cfg(feature = "nats")]
    measure("nats", "nats://127.0.0.1:4222");
    #[cfg(not(any(feature = "redis", feature = "amqp", feature = "nats")))]
    println!("enable a message queue feature: --features redis,amqp,nats");
}
