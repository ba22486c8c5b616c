//! Servers in the test process and scenario runs against them.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::Value;
use sockio_load::cli::Opts;
use sockio_load::client::Target;
use sockio_load::scenario::{Common, Scenario};
use sockio_load::server::{self, Probes};

/// The sockio bench server on an ephemeral port of this process's runtime.
pub async fn sockio(probes: Option<Arc<Probes>>) -> SocketAddr {
    let io = server::build(probes);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { io.serve(listener, std::future::pending()).await });
    addr
}

/// The raw WebSocket ceiling on an ephemeral port.
pub async fn ceiling() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(sockio_load::ceiling::serve(
        listener,
        sockio_load::ceiling::DEFAULT_READ_BUFFER,
    ));
    addr
}

/// Runs scenario `name` with `args` (command-line style) against `addr`; the server is this
/// process.
pub async fn run(name: &str, addr: SocketAddr, args: &str) -> Value {
    let mut opts = Opts::parse(args.split_whitespace().map(String::from), &[]).unwrap();
    let scenario = Scenario::parse(name, &mut opts).unwrap();
    opts.finish().unwrap();
    let common = Common {
        target: Target::new(addr, "/socket.io/").unwrap(),
        label: "test".into(),
        server_pid: Some(std::process::id()),
    };
    let line = scenario.run(&common).await.unwrap();
    assert_eq!(line["scenario"], name);
    assert_eq!(line["server"], "test");
    assert_eq!(line["errors"], 0, "{line}");
    line
}
