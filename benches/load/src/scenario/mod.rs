//! The four load scenarios. Each takes its parameters from the command line, runs bounded in
//! count and time, and returns one JSON object: the line the generator prints.
//!
//! Every line has `scenario`, `server` (the label given with `--server`), `params`, the
//! figures of the scenario, `errors`, and the CPU use over the measured window: `server_cpu`
//! (of the process given with `--server-pid`, in cores) and `gen_cpu` (of the generator). A
//! server below ~0.9 cores while the generator is near 1.0 means the generator, not the
//! server, set the pace.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::cli::Opts;
use crate::client::{Client, Error, Target};
use crate::sys::{self, CpuUse};

pub mod connect;
pub mod echo;
pub mod fanout;
pub mod idle;

/// Longest time a measurement may last, whatever the arguments say.
pub const MAX_DURATION_S: f64 = 600.0;

/// Longest wait for one handshake.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest wait for one reply before a client gives up.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// What every scenario needs.
#[derive(Debug, Clone)]
pub struct Common {
    /// Where to connect.
    pub target: Target,
    /// The server's label in the output line (`sockio-tokio`, `node`, `ceiling`, …).
    pub label: String,
    /// The server's process id, for its memory and CPU use.
    pub server_pid: Option<u32>,
}

/// The scenario names, in the order the run script uses.
pub const SCENARIOS: [&str; 4] = ["echo", "fanout", "idle", "connect"];

/// A scenario with its parameters.
#[derive(Debug, Clone)]
pub enum Scenario {
    /// See [`echo`].
    Echo(echo::Params),
    /// See [`fanout`].
    Fanout(fanout::Params),
    /// See [`idle`].
    Idle(idle::Params),
    /// See [`connect`].
    Connect(connect::Params),
}

impl Scenario {
    /// The scenario `name` with its parameters taken from `opts`.
    pub fn parse(name: &str, opts: &mut Opts) -> Result<Scenario, String> {
        Ok(match name {
            "echo" => Scenario::Echo(echo::Params::from_opts(opts)?),
            "fanout" => Scenario::Fanout(fanout::Params::from_opts(opts)?),
            "idle" => Scenario::Idle(idle::Params::from_opts(opts)?),
            "connect" => Scenario::Connect(connect::Params::from_opts(opts)?),
            other => return Err(format!("unknown scenario {other:?}; one of {SCENARIOS:?}")),
        })
    }

    /// Runs it and returns its line.
    pub async fn run(&self, common: &Common) -> Result<Value, String> {
        let (name, line) = match self {
            Scenario::Echo(p) => ("echo", echo::run(common, p).await),
            Scenario::Fanout(p) => ("fanout", fanout::run(common, p).await),
            Scenario::Idle(p) => ("idle", idle::run(common, p).await),
            Scenario::Connect(p) => ("connect", connect::run(common, p).await),
        };
        line.map_err(|e| format!("{name} against {}: {e}", common.label))
    }
}

/// The output line: scenario, server, parameters, then the figures.
pub(crate) fn line(scenario: &str, common: &Common, params: Value, figures: Value) -> Value {
    let mut m = Map::new();
    m.insert("scenario".into(), json!(scenario));
    m.insert("server".into(), json!(common.label));
    m.insert("params".into(), params);
    if let Value::Object(f) = figures {
        m.extend(f);
    }
    Value::Object(m)
}

/// Connects `n` clients, at most `concurrency` handshakes at a time, spreading them over
/// `sources` loopback source addresses. Fails on the first client that cannot connect.
pub(crate) async fn connect_all(
    target: &Target,
    n: usize,
    concurrency: usize,
    sources: usize,
) -> Result<Vec<Client>, Error> {
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut set = JoinSet::new();
    for i in 0..n {
        let target = target.clone();
        let permits = permits.clone();
        let source = source_for(i, sources);
        set.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let c = tokio::time::timeout(CONNECT_TIMEOUT, Client::connect(&target, source)).await;
            (i, c.map_err(Error::from).and_then(|r| r))
        });
    }
    let mut clients: Vec<Option<Client>> = (0..n).map(|_| None).collect();
    while let Some(joined) = set.join_next().await {
        let (i, c) = joined.map_err(|e| Error(format!("connect task: {e}")))?;
        clients[i] = Some(c.map_err(|e| Error(format!("client {i} could not connect: {e}")))?);
    }
    let clients: Vec<Client> = clients.into_iter().flatten().collect();
    if clients.iter().any(|c| c.extensions) {
        return Err(Error(
            "the server negotiated a WebSocket extension (permessage-deflate must be off)".into(),
        ));
    }
    Ok(clients)
}

/// The source address of connection `i` (none: the kernel picks 127.0.0.1).
pub(crate) fn source_for(i: usize, sources: usize) -> Option<Ipv4Addr> {
    (sources > 1).then(|| sys::source_addr(i, sources))
}

/// Source addresses needed for `n` connections: about 20,000 per address, well inside the
/// ephemeral port range.
pub(crate) fn sources_for(n: usize) -> usize {
    n.div_ceil(20_000).max(1)
}

/// Completes once `stop` turns true (or its sender is gone).
pub(crate) async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// CPU figures as JSON fields: the server's cores used, cores' worth of waiting for a CPU,
/// and `ops` per server CPU-second (what one fully used core would do); the same for the
/// generator.
pub(crate) fn cpu_fields(
    m: &mut Map<String, Value>,
    server: Option<CpuUse>,
    generator: CpuUse,
    ops: Option<u64>,
) {
    use crate::stats::sig3;
    let or_null = |v: Option<f64>| v.map_or(Value::Null, |x| json!(sig3(x)));
    m.insert("server_cpu".into(), or_null(server.map(|s| s.cores)));
    m.insert("server_wait".into(), or_null(server.map(|s| s.waiting)));
    if let Some(ops) = ops {
        let per = server
            .filter(|s| s.seconds > 0.0)
            .map(|s| ops as f64 / s.seconds);
        m.insert("per_cpu_s".into(), or_null(per));
    }
    m.insert("gen_cpu".into(), json!(sig3(generator.cores)));
    m.insert("gen_wait".into(), json!(sig3(generator.waiting)));
}
