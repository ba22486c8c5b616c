//! The load generator, and the report of its lines.
//!
//! ```text
//! sockio-load <echo|fanout|idle|connect> --target 127.0.0.1:PORT --server LABEL
//!             [--server-pid PID] [--path /socket.io/] [--time-limit SECONDS] [scenario options]
//! sockio-load report RESULTS.jsonl [--readme benches/load/README.md]
//! ```
//!
//! A scenario prints one JSON line on stdout. `report` prints the results section, or writes
//! it between the markers of the README given.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use sockio_load::cli::Opts;
use sockio_load::client::Target;
use sockio_load::report;
use sockio_load::scenario::{Common, Scenario};

const USAGE: &str = "\
usage: sockio-load <echo|fanout|idle|connect> --target 127.0.0.1:PORT --server LABEL
                   [--server-pid PID] [--path /socket.io/] [--time-limit SECONDS] [options]
       sockio-load report RESULTS.jsonl [--readme README.md]

echo     --clients 50 --duration 8 --warmup 1 --payload 32 --max-round-trips N
fanout   --clients 1000 --window 4 --duration 8 --warmup 1 --payload 32 --max-broadcasts N
idle     --conns 5000 --hold 30 --concurrency 200 --sources auto --ramp-limit 120
connect  --workers 32 --duration 8 --warmup 1 --sources 16 --max-handshakes N";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sockio-load: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut opts = Opts::parse(std::env::args().skip(1), &["help"])?;
    if opts.flag("help") || opts.positional.is_empty() {
        println!("{USAGE}");
        return Ok(());
    }
    let name = opts.positional[0].clone();
    if name == "report" {
        return report(opts);
    }
    let addr: SocketAddr = opts
        .opt("target")?
        .ok_or("--target 127.0.0.1:PORT is required")?;
    let path = opts.string("path", "/socket.io/");
    let target = Target::new(addr, &path).map_err(|e| e.to_string())?;
    let label = opts.string("server", &addr.to_string());
    let server_pid = opts.opt("server-pid")?;
    let limit = opts.secs("time-limit", 900.0, 3_600.0)?;
    let common = Common {
        target,
        label,
        server_pid,
    };
    let scenario = Scenario::parse(&name, &mut opts)?;
    opts.positional.clear();
    opts.finish()?;
    // One thread: the generator has a core of its own and no locks to share.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let line = rt.block_on(async {
        match tokio::time::timeout(limit, scenario.run(&common)).await {
            Ok(r) => r,
            Err(_) => Err(format!("{name} did not finish within {limit:?}")),
        }
    })?;
    println!("{line}");
    rt.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}

fn report(mut opts: Opts) -> Result<(), String> {
    let input = opts
        .positional
        .get(1)
        .cloned()
        .ok_or("report needs the results file")?;
    let readme: Option<String> = opts.opt("readme")?;
    opts.positional.clear();
    opts.finish()?;
    let text = std::fs::read_to_string(&input).map_err(|e| format!("{input}: {e}"))?;
    let section = report::render(&report::parse_lines(&text)?);
    match readme {
        None => print!("{section}"),
        Some(path) => {
            let old = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
            let new = report::replace_section(&old, &section)?;
            std::fs::write(&path, new).map_err(|e| format!("{path}: {e}"))?;
        }
    }
    Ok(())
}
