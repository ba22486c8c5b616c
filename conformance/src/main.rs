//! The sockio conformance test server: one fixed contract (see `conformance/README.md`) that
//! the Socket.IO, Engine.IO and browser clients of the conformance suite test against.
//!
//! ```text
//! sockio-conformance-server --port 0 [--runtime tokio] [--engineio | --recovery | --msgpack]
//!                           [--hostile] [limit flags: see `--help` and `tuning.rs`]
//! sockio-conformance-server --list-runtimes
//! ```
//!
//! Once listening it prints exactly one line on stdout:
//! `listening on 127.0.0.1:<port> runtime=<name> mode=<socketio|engineio>`.
//! It serves until SIGTERM or SIGINT.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::process::ExitCode;

use sockio::{SocketIo, SocketIoBuilder};

pub use tuning::Tuning;

mod app;
mod tuning;

#[cfg(feature = "async-std")]
mod rt_async_std;
#[cfg(feature = "smol")]
mod rt_smol;
#[cfg(feature = "threaded")]
mod rt_threaded;
#[cfg(feature = "tokio")]
mod rt_tokio;

/// What the server serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Socket.IO with the handlers of [`app::socketio`].
    SocketIo,
    /// The same, with connection state recovery on (the default window of 2 minutes).
    SocketIoRecovery,
    /// Plain Engine.IO: every message echoed back ([`app::engineio`]).
    EngineIo,
    /// Socket.IO with the MessagePack parser (`socket.io-msgpack-parser`, python-socketio's
    /// `serializer='msgpack'`), the same handlers.
    SocketIoMsgPack,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::SocketIo | Mode::SocketIoRecovery | Mode::SocketIoMsgPack => "socketio",
            Mode::EngineIo => "engineio",
        }
    }
}

/// What the server serves ([`Mode`]) and how ([`Tuning`]: `--hostile` and the limit flags).
#[derive(Clone, Debug)]
pub struct Setup {
    /// The contract served.
    pub mode: Mode,
    /// Settings and handlers added to it for the hostile-peer tests; none by default.
    pub tuning: Tuning,
}

impl Setup {
    /// The server for this setup, from a runtime's builder.
    pub fn build(&self, builder: SocketIoBuilder) -> SocketIo {
        let builder = self.tuning.apply(app::settings(builder));
        let io = match self.mode {
            Mode::SocketIo => app::socketio(builder.build()),
            Mode::SocketIoRecovery => {
                app::socketio(builder.with_connection_state_recovery().build())
            }
            Mode::SocketIoMsgPack => app::socketio(builder.parser(sockio::Parser::MsgPack).build()),
            Mode::EngineIo => return app::engineio(builder.engineio_only().build()),
        };
        if self.tuning.hostile {
            app::hostile(&io);
        }
        io
    }
}

/// Serves `setup` on 127.0.0.1:`port` until SIGTERM or SIGINT, calling [`announce`] once
/// listening.
pub type Serve = fn(setup: Setup, port: u16) -> io::Result<()>;

/// Every runtime the contract knows, and how this binary serves on it (`None`: not built in).
/// A runtime lands with a `rt_<name>.rs` module holding its [`Serve`] function, a Cargo
/// feature, and its line here.
fn runtimes() -> [(&'static str, Option<Serve>); 4] {
    [
        ("tokio", tokio_serve()),
        ("async-std", async_std_serve()),
        ("smol", smol_serve()),
        ("threaded", threaded_serve()),
    ]
}

fn tokio_serve() -> Option<Serve> {
    #[cfg(feature = "tokio")]
    {
        Some(rt_tokio::serve)
    }
    #[cfg(not(feature = "tokio"))]
    {
        None
    }
}

fn async_std_serve() -> Option<Serve> {
    #[cfg(feature = "async-std")]
    {
        Some(rt_async_std::serve)
    }
    #[cfg(not(feature = "async-std"))]
    {
        None
    }
}

fn smol_serve() -> Option<Serve> {
    #[cfg(feature = "smol")]
    {
        Some(rt_smol::serve)
    }
    #[cfg(not(feature = "smol"))]
    {
        None
    }
}

fn threaded_serve() -> Option<Serve> {
    #[cfg(feature = "threaded")]
    {
        Some(rt_threaded::serve)
    }
    #[cfg(not(feature = "threaded"))]
    {
        None
    }
}

/// Prints the one stdout line of the contract.
pub fn announce(addr: SocketAddr, runtime: &str, mode: Mode) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "listening on {addr} runtime={runtime} mode={}",
        mode.name()
    )?;
    out.flush()
}

const USAGE: &str = "\
usage: sockio-conformance-server --port PORT [--runtime NAME] [--engineio | --recovery | --msgpack]
                                 [--hostile] [LIMIT FLAGS]
       sockio-conformance-server --list-runtimes

  --port PORT       port on 127.0.0.1 (0: any free port; the bound address is printed)
  --runtime NAME    tokio, async-std, smol or threaded (default tokio)
  --engineio        plain Engine.IO: echo every message back
  --recovery        Socket.IO with connection state recovery on (2 minute window)
  --msgpack         Socket.IO with the MessagePack parser (socket.io-msgpack-parser)
  --list-runtimes   print the runtimes this binary serves on, one per line

  --hostile         settings and handlers for the hostile-peer tests: pingInterval and
                    pingTimeout 1000 ms; events ignore, hang, stats, disconnect-reasons,
                    disconnects
  --ping-interval-ms MS, --ping-timeout-ms MS
  --ordered                        async_handlers(false): one event at a time per client
  --event-backlog pause|disconnect
  --max-pending-events N, --max-pending-event-bytes N
  --write-timeout-ms MS, --http-header-timeout-ms MS, --http-body-timeout-ms MS
  --http-min-body-rate BYTES_PER_S, --max-http-head BYTES, --max-http-connections N
  --max-rooms-per-socket N";

struct Options {
    port: u16,
    runtime: String,
    mode: Mode,
    tuning: Tuning,
}

enum Command {
    Serve(Box<Options>),
    ListRuntimes,
    Help,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Command, String> {
    let mut port = None;
    let mut runtime = "tokio".to_string();
    let mut mode = Mode::SocketIo;
    let mut tuning = Tuning::default();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                let v = args.next().ok_or("--port needs a value")?;
                port = Some(v.parse::<u16>().map_err(|_| format!("bad port: {v}"))?);
            }
            "--runtime" => runtime = args.next().ok_or("--runtime needs a value")?,
            "--engineio" | "--recovery" | "--msgpack" if mode != Mode::SocketIo => {
                return Err("--engineio, --recovery and --msgpack exclude each other".into())
            }
            "--engineio" => mode = Mode::EngineIo,
            "--recovery" => mode = Mode::SocketIoRecovery,
            "--msgpack" => mode = Mode::SocketIoMsgPack,
            "--list-runtimes" => return Ok(Command::ListRuntimes),
            "-h" | "--help" => return Ok(Command::Help),
            other => {
                if !tuning.parse(other, &mut args)? {
                    return Err(format!("unknown argument: {other}"));
                }
            }
        }
    }
    let port = port.ok_or("--port is required")?;
    if tuning.hostile && mode == Mode::EngineIo {
        return Err("--hostile needs Socket.IO mode (not --engineio)".into());
    }
    Ok(Command::Serve(Box::new(Options {
        port,
        runtime,
        mode,
        tuning,
    })))
}

fn main() -> ExitCode {
    // The `panic` event panics on purpose: one line, no backtrace (symbolizing one takes long
    // enough in a debug build to delay heartbeats).
    std::panic::set_hook(Box::new(|info| eprintln!("server: {info}")));
    let opts = match parse(std::env::args().skip(1)) {
        Ok(Command::Serve(opts)) => opts,
        Ok(Command::ListRuntimes) => {
            for (name, serve) in runtimes() {
                if serve.is_some() {
                    println!("{name}");
                }
            }
            return ExitCode::SUCCESS;
        }
        Ok(Command::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let table = runtimes();
    let Some((_, serve)) = table.iter().find(|(name, _)| *name == opts.runtime) else {
        let known: Vec<&str> = table.iter().map(|(n, _)| *n).collect();
        eprintln!(
            "error: unknown runtime {:?} (known: {})",
            opts.runtime,
            known.join(", ")
        );
        return ExitCode::from(2);
    };
    let Some(serve) = serve else {
        eprintln!(
            "error: runtime {:?} is not available in this build of the server",
            opts.runtime
        );
        return ExitCode::from(3);
    };
    let setup = Setup {
        mode: opts.mode,
        tuning: opts.tuning,
    };
    match serve(setup, opts.port) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
