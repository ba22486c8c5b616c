//! Shared by the message-queue tests: the real brokers on 127.0.0.1 (started when they are
//! not running; a broker that cannot be reached fails the test), clusters of servers sharing
//! a fresh channel, and waiting for cross-process deliveries.

#![allow(dead_code)]

use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use sockio::{Context, Received, SocketIo, SocketIoTestClient};

/// A message-queue broker of the test machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Broker {
    Redis,
    Amqp,
    Nats,
}

impl Broker {
    pub fn port(self) -> u16 {
        match self {
            Broker::Redis => 6379,
            Broker::Amqp => 5672,
            Broker::Nats => 4222,
        }
    }

    pub fn url(self) -> String {
        match self {
            Broker::Redis => "redis://127.0.0.1:6379".into(),
            Broker::Amqp => "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
            Broker::Nats => "nats://127.0.0.1:4222".into(),
        }
    }

    /// Starts the broker if nothing listens on its port; panics if it cannot be reached.
    pub fn ensure_running(self) {
        if listening(self.port()) {
            return;
        }
        let (cmd, args): (&str, Vec<&str>) = match self {
            Broker::Redis => (
                "redis-server",
                vec![
                    "--daemonize",
                    "yes",
                    "--bind",
                    "127.0.0.1",
                    "-::1",
                    "--port",
                    "6379",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    "/var/lib/redis",
                    "--logfile",
                    "/var/log/redis/ci.log",
                ],
            ),
            Broker::Amqp => ("rabbitmq-server", vec!["-detached"]),
            Broker::Nats => (
                "start-stop-daemon",
                vec![
                    "--start",
                    "--oknodo",
                    "--background",
                    "--exec",
                    "/usr/sbin/nats-server",
                    "--",
                    "-a",
                    "127.0.0.1",
                    "-p",
                    "4222",
                    "-js",
                    "-sd",
                    "/var/lib/nats-server",
                    "-l",
                    "/var/log/nats-server.log",
                ],
            ),
        };
        let status = Command::new(cmd).args(&args).status();
        if let Err(e) = status {
            panic!(
                "{self:?} is not running on 127.0.0.1:{} and `{cmd}` failed: {e}",
                self.port()
            );
        }
        let end = Instant::now() + Duration::from_secs(60);
        while Instant::now() < end {
            if listening(self.port()) {
                // RabbitMQ listens a moment before it accepts logins.
                if self == Broker::Amqp {
                    std::thread::sleep(Duration::from_secs(2));
                }
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("{self:?} did not come up on 127.0.0.1:{}", self.port());
    }
}

pub fn listening(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500)).is_ok()
}

/// A channel no other test uses.
pub fn fresh_channel(test: &str) -> String {
    let mut b = [0u8; 6];
    getrandom::fill(&mut b).expect("random bytes");
    let tag: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("sockio-test.{test}.{tag}")
}

/// Prints sockio's logs (debug and up) into the test's output.
pub fn logs() {
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_test_writer()
        .try_init();
}

/// A server of a cluster, with handlers the tests drive from clients.
pub fn server(url: &str, channel: &str) -> SocketIo {
    logs();
    let io = SocketIo::builder()
        .message_queue_url(url)
        .channel(channel)
        .ack_timeout(Duration::from_secs(5))
        .try_build()
        .expect("message queue URL");
    io.on("join", |ctx: Context, room: String| ctx.join_room(room));
    io.on("leave", |ctx: Context, room: String| ctx.leave_room(&room));
    io.of("/chat")
        .on("join", |ctx: Context, room: String| ctx.join_room(room));
    assert!(
        io.message_queue().wait_connected(Duration::from_secs(20)),
        "the message queue did not connect to {url}"
    );
    io
}

/// `n` servers sharing a fresh channel on `broker`, each with its own host id.
pub fn cluster(broker: Broker, test: &str, n: usize) -> Vec<SocketIo> {
    broker.ensure_running();
    let channel = fresh_channel(test);
    let servers: Vec<SocketIo> = (0..n).map(|_| server(&broker.url(), &channel)).collect();
    let mut ids: Vec<&str> = servers
        .iter()
        .map(|s| s.message_queue().host_id().expect("a host id"))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n, "host ids differ");
    servers
}

/// What `client` receives in `namespace`: waits until every `(event, count)` of `expected`
/// arrived (10 s at most), listens a moment longer so that duplicates would show, then
/// asserts the exact counts. Returns everything received.
pub fn receive(
    client: &mut SocketIoTestClient,
    namespace: &str,
    expected: &[(&str, usize)],
) -> Vec<Received> {
    let count = |got: &[Received], name: &str| got.iter().filter(|e| e.name == name).count();
    let end = Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    while Instant::now() < end {
        got.extend(client.get_received(namespace));
        if expected.iter().all(|(n, c)| count(&got, n) >= *c) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    got.extend(client.get_received(namespace));
    for (name, c) in expected {
        assert_eq!(
            count(&got, name),
            *c,
            "{name:?} events in {namespace}: {got:?}"
        );
    }
    got
}

/// The arguments of the first `name` event.
pub fn args_of(got: &[Received], name: &str) -> Vec<serde_json::Value> {
    got.iter()
        .find(|e| e.name == name)
        .map(|e| e.args.clone())
        .unwrap_or_else(|| panic!("no {name:?} event in {got:?}"))
}

/// Asserts that `client` receives no `name` event for a while.
pub fn expect_none(client: &mut SocketIoTestClient, namespace: &str, name: &str) {
    std::thread::sleep(Duration::from_millis(500));
    let got: Vec<Received> = client
        .get_received(namespace)
        .into_iter()
        .filter(|e| e.name == name)
        .collect();
    assert!(got.is_empty(), "unexpected {name:?} events: {got:?}");
}

/// Polls `f` until it holds or 10 s pass.
pub fn eventually(what: &str, f: impl Fn() -> bool) {
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting until {what}");
}
