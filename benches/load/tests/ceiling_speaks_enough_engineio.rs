//! The raw ceiling answers the generator's handshake and does the echo and fanout work.

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ceiling_echoes_and_broadcasts() {
    let addr = common::ceiling().await;
    let echo = common::run("echo", addr, "--clients 2 --duration 0.3 --warmup 0.1").await;
    assert!(echo["round_trips"].as_u64().unwrap() > 10, "{echo}");
    let fanout = common::run("fanout", addr, "--clients 10 --duration 0.3 --warmup 0.1").await;
    assert_eq!(fanout["missing"], 0, "{fanout}");
    assert!(fanout["deliveries"].as_u64().unwrap() > 0, "{fanout}");
}
