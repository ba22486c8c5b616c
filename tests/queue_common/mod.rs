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

thread_local! {
    static LAST_CHANNEL: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// A channel no other test uses.
pub fn fresh_channel(test: &str) -> String {
    let mut b = [0u8; 6];
    getrandom::fill(&mut b).expect("random bytes");
    let tag: String = b.iter().map(|x| format!("{x:02x}")).collect();
    let channel = format!("sockio-test.{test}.{tag}");
    LAST_CHANNEL.with(|c| *c.borrow_mut() = channel.clone());
    channel
}

/// The channel [`fresh_channel`] made last on this thread.
pub fn last_channel() -> String {
    LAST_CHANNEL.with(|c| c.borrow().clone())
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

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("an ephemeral port")
        .port()
}

/// A broker process this test owns, on its own port: stopped by PID, never by name.
pub struct OwnBroker {
    broker: Broker,
    port: u16,
    child: Option<std::process::Child>,
    dir: std::path::PathBuf,
}

impl OwnBroker {
    /// Starts `broker` (Redis or NATS) on `port`, and waits until it listens.
    pub fn start(broker: Broker, port: u16) -> Self {
        let dir = std::env::temp_dir().join(format!("sockio-broker-{port}"));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let mut b = OwnBroker {
            broker,
            port,
            child: None,
            dir,
        };
        b.restart();
        b
    }

    pub fn url(&self) -> String {
        match self.broker {
            Broker::Redis => format!("redis://127.0.0.1:{}", self.port),
            Broker::Nats => format!("nats://127.0.0.1:{}", self.port),
            Broker::Amqp => unreachable!("RabbitMQ is not started per test"),
        }
    }

    /// Starts the process again after [`stop`](Self::stop).
    pub fn restart(&mut self) {
        let port = self.port.to_string();
        let mut cmd = match self.broker {
            Broker::Redis => {
                let mut c = Command::new("redis-server");
                c.args([
                    "--port",
                    &port,
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                ])
                .args(["no", "--daemonize", "no", "--dir"])
                .arg(&self.dir);
                c
            }
            Broker::Nats => {
                let mut c = Command::new("nats-server");
                c.args(["-a", "127.0.0.1", "-p", &port]);
                c
            }
            Broker::Amqp => unreachable!("RabbitMQ is not started per test"),
        };
        let child = cmd
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", self.broker));
        self.child = Some(child);
        let end = Instant::now() + Duration::from_secs(20);
        while !listening(self.port) {
            assert!(
                Instant::now() < end,
                "{:?} did not listen on {}",
                self.broker,
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the process (by its PID) and waits until the port is closed.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let end = Instant::now() + Duration::from_secs(10);
        while listening(self.port) {
            assert!(Instant::now() < end, "port {} still open", self.port);
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for OwnBroker {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Captures sockio's log lines (info and up) for assertions; call before anything logs.
#[derive(Clone, Default)]
pub struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        std::io::stderr().write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    /// The process's capture (tests of one binary share it; filter lines by host id).
    pub fn capture() -> Logs {
        static LOGS: std::sync::OnceLock<Logs> = std::sync::OnceLock::new();
        LOGS.get_or_init(|| {
            let logs = Logs::default();
            let writer = logs.clone();
            tracing_subscriber::fmt()
                .with_max_level(tracing::Level::INFO)
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .try_init()
                .expect("the first subscriber of this test process");
            logs
        })
        .clone()
    }

    /// The lines holding every one of `parts`.
    pub fn lines(&self, parts: &[&str]) -> Vec<String> {
        let text = String::from_utf8_lossy(&self.0.lock().unwrap()).to_string();
        text.lines()
            .filter(|l| parts.iter().all(|p| l.contains(p)))
            .map(str::to_string)
            .collect()
    }
}
