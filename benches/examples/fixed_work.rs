//! A fixed amount of server work, for CPU-time comparisons between two builds on a busy
//! machine, where criterion's wall-clock figures are too noisy:
//!
//! ```text
//! cargo build --release -p sockio-benches --example fixed_work
//! for w in setup broadcast heartbeat; do
//!     perf stat -e task-clock target/release/examples/fixed_work $w
//! done
//! ```
//!
//! Every run builds a server with 10,000 WebSocket sessions in 100 rooms (`setup` does only
//! that); `broadcast` then broadcasts 300 small events to the union of the 100 rooms, and
//! `heartbeat` runs 100 heartbeat rounds (every ping sent, every pong received). Subtract the
//! `setup` time and divide by 300 or 100; repeat a few times, interleaving the builds, and
//! compare medians.

use std::time::Duration;

use sockio_benches::{drain, Fleet};
use sockio_protocol::{Bytes, Config, Payload, Room};

fn main() {
    let what = std::env::args().nth(1).unwrap_or_default();
    let mut fleet = Fleet::new(Config::default(), 10_000, 100);
    let payload = Payload::json(Bytes::from_static(br#"["chat",{"text":"hello","n":1}]"#));
    let rooms: Vec<Room> = (0..100).map(|i| Room::from(format!("r{i}"))).collect();
    let interval = Config::default().ping_interval_value() + Duration::from_millis(1);
    match what.as_str() {
        "setup" => {}
        "broadcast" => {
            for _ in 0..300 {
                let mut b = fleet.server.broadcast("/");
                for r in &rooms {
                    b = b.to(r.clone());
                }
                assert_eq!(b.emit(&payload).delivered, 10_000);
                drain(&mut fleet.server);
            }
        }
        "heartbeat" => {
            for _ in 0..100 {
                assert_eq!(fleet.advance(interval).frames, 10_000);
                fleet.pong_all();
            }
        }
        other => {
            eprintln!("unknown workload {other:?}: setup, broadcast or heartbeat");
            std::process::exit(2);
        }
    }
}
