//! The idle scenario holds its connections and reads the server's memory; the connect
//! scenario opens and closes connections from several loopback source addresses.

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_holds_every_connection() {
    let addr = common::sockio(None).await;
    let line = common::run("idle", addr, "--conns 50 --hold 0.3 --sources 2").await;
    assert_eq!(line["held"], 50, "{line}");
    assert!(line["rss_after_kib"].as_u64().unwrap() > 0, "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_completes_handshakes() {
    let addr = common::sockio(None).await;
    let line = common::run(
        "connect",
        addr,
        "--workers 4 --duration 0.5 --warmup 0.1 --sources 4",
    )
    .await;
    assert!(line["handshakes"].as_u64().unwrap() > 0, "{line}");
}
