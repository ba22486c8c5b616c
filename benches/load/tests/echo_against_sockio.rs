//! The echo scenario against the sockio bench server: every reply is the sent frame.

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_round_trips_come_back_unchanged() {
    let addr = common::sockio(None).await;
    let line = common::run("echo", addr, "--clients 3 --duration 0.5 --warmup 0.1").await;
    assert!(line["round_trips"].as_u64().unwrap() > 10, "{line}");
    assert_eq!(line["mismatched"], 0, "{line}");
    assert!(line["p50_us"].as_f64().unwrap() > 0.0, "{line}");
    assert!(line["per_cpu_s"].as_f64().unwrap() > 0.0, "{line}");
}
