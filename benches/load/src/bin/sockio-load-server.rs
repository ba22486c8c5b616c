//! The sockio bench server.
//!
//! ```text
//! sockio-load-server [--runtime tokio|async-std|threaded] [--port 0] [--count-allocs]
//! ```
//!
//! Listens on 127.0.0.1 and prints one JSON line `{"listening": "127.0.0.1:PORT", ...}` once
//! it accepts connections. Runs until SIGTERM or SIGINT. With `--count-allocs` it counts
//! allocations and prints, at exit, one JSON line `{"allocs": {"echo": ..., "bcast": ...}}`:
//! allocations per `echo` round trip and per `bcast` broadcast, end to end, between the first
//! and the last call of each handler.

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

use serde_json::json;
use sockio_load::alloc::{self, CountingAlloc};
use sockio_load::cli::Opts;
use sockio_load::server::{self, Probes, Runtime};
use sockio_load::sys;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sockio-load-server: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut opts = Opts::parse(std::env::args().skip(1), &["count-allocs"])?;
    let default = Runtime::compiled().map_or("tokio", Runtime::name);
    let runtime: Runtime = opts.string("runtime", default).parse()?;
    let port: u16 = opts.num("port", 0, 0, u16::MAX)?;
    let count = opts.flag("count-allocs");
    opts.finish()?;
    server::check_runtime(runtime)?;

    sys::raise_nofile(200_000);
    let probes = count.then(|| Arc::new(Probes::default()));
    let at_exit = probes.clone();
    let label = format!("sockio-{runtime}");
    let exit_label = label.clone();
    sys::on_termination(move || {
        if let Some(p) = at_exit {
            let line = json!({
                "server": exit_label,
                "allocs": {"echo": p.echo.report(), "bcast": p.bcast.report()},
            });
            println!("{line}");
            let _ = std::io::stdout().flush();
        }
    })
    .map_err(|e| format!("signal handling: {e}"))?;

    let io = server::build(probes);
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!(
        "{}",
        json!({
            "listening": addr.to_string(),
            "pid": std::process::id(),
            "server": label,
            "async_mode": io.async_mode(),
            "count_allocs": count,
        })
    );
    let _ = std::io::stdout().flush();
    if count {
        alloc::enable();
    }
    server::serve(runtime, io, listener).map_err(|e| e.to_string())
}
