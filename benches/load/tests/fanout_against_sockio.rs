//! The fanout scenario against the sockio bench server: every broadcast reaches everybody.

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_broadcast_reaches_every_client() {
    let addr = common::sockio(None).await;
    let line = common::run("fanout", addr, "--clients 20 --duration 0.5 --warmup 0.1").await;
    assert!(line["broadcasts"].as_u64().unwrap() > 0, "{line}");
    assert_eq!(line["params"]["recipients"], 21, "{line}");
    assert_eq!(line["missing"], 0, "{line}");
    assert!(line["deliveries"].as_u64().unwrap() > 0, "{line}");
}
