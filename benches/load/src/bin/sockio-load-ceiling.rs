//! The raw WebSocket ceiling server (see `sockio_load::ceiling`).
//!
//! ```text
//! sockio-load-ceiling [--port 0] [--codec tungstenite|sockio] [--read-buffer 4096]
//! ```
//!
//! `--codec tungstenite` (the default) frames with tokio-tungstenite (`sockio_load::ceiling`),
//! `--codec sockio` with sockio's own WebSocket layer (`sockio_load::ceiling_codec`; the read
//! buffer is then its per-thread scratch buffer and `--read-buffer` does not apply).
//!
//! Listens on 127.0.0.1 and prints one JSON line `{"listening": "127.0.0.1:PORT", ...}` once
//! it accepts connections. Runs until killed.

use std::io::Write as _;
use std::process::ExitCode;

use serde_json::json;
use sockio_load::cli::Opts;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sockio-load-ceiling: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut opts = Opts::parse(std::env::args().skip(1), &[])?;
    let port: u16 = opts.num("port", 0, 0, u16::MAX)?;
    let read_buffer = opts.num(
        "read-buffer",
        sockio_load::ceiling::DEFAULT_READ_BUFFER,
        64,
        16 << 20,
    )?;
    let codec = opts.string("codec", "tungstenite");
    if codec != "tungstenite" && codec != "sockio" {
        return Err(format!("--codec {codec}: tungstenite or sockio"));
    }
    opts.finish()?;
    sockio_load::sys::raise_nofile(200_000);
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    // The same runtime as sockio-tokio's bench server: multi-threaded, one worker per CPU
    // the process may use.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        println!(
            "{}",
            json!({
                "listening": addr.to_string(),
                "pid": std::process::id(),
                "server": if codec == "sockio" { "ceiling-codec" } else { "ceiling" },
                "codec": codec,
                "read_buffer": read_buffer,
            })
        );
        let _ = std::io::stdout().flush();
        if codec == "sockio" {
            sockio_load::ceiling_codec::serve(listener).await
        } else {
            sockio_load::ceiling::serve(listener, read_buffer).await
        }
    })
    .map_err(|e| e.to_string())
}
