//! The sockio bench server: the handlers and settings every bench server shares, and the
//! runtimes it can serve on.
//!
//! - `echo` emits `echo` with the same arguments back to the sender;
//! - `bcast` emits `bcast` with the same arguments to everybody in `/`, the sender included;
//! - ping interval 25 s, ping timeout 20 s ([`PING_INTERVAL_MS`], [`PING_TIMEOUT_MS`]),
//!   polling and WebSocket allowed, 1 MB max payload. sockio has no permessage-deflate (its
//!   WebSocket layers are built without it), so it is off as on the node server.
//!
//! # Runtimes
//!
//! sockio picks its runtime with Cargo features (tokio > async-std > threaded when several are
//! on), so one binary serves one runtime: the one [`Runtime::compiled`] reports. Adding a
//! runtime is its feature line in `Cargo.toml` plus its arm in [`serve`].

use std::fmt;
use std::io;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sockio::{Context, SocketIo, Transport};

use crate::alloc::Probe;
use crate::{BCAST_EVENT, ECHO_EVENT, PING_INTERVAL_MS, PING_TIMEOUT_MS};

/// Allocation probes of the two handlers (`--count-allocs`).
#[derive(Debug, Default)]
pub struct Probes {
    /// Marked on every `echo`.
    pub echo: Probe,
    /// Marked on every `bcast`, with the number of connected clients.
    pub bcast: Probe,
}

/// The bench server: sockio with the shared handlers and settings.
pub fn build(probes: Option<Arc<Probes>>) -> SocketIo {
    let io = SocketIo::builder()
        .ping_interval(Duration::from_millis(PING_INTERVAL_MS))
        .ping_timeout(Duration::from_millis(PING_TIMEOUT_MS))
        .max_payload(1_000_000)
        .transports(&[Transport::Polling, Transport::WebSocket])
        .build();
    let p = probes.clone();
    io.on(ECHO_EVENT, move |ctx: Context| {
        if let Some(p) = &p {
            p.echo.mark(1);
        }
        ctx.emit(ECHO_EVENT, ctx.arguments().clone())
    });
    let p = probes;
    io.on(BCAST_EVENT, move |ctx: Context| {
        if let Some(p) = &p {
            p.bcast.mark(ctx.io().connected_count() as u64);
        }
        ctx.broadcast().emit(BCAST_EVENT, ctx.arguments().clone())
    });
    io
}

/// A sockio runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// tokio (hyper + tokio-tungstenite).
    Tokio,
    /// async-std / smol.
    AsyncStd,
    /// std threads.
    Threaded,
}

impl Runtime {
    /// Every runtime, in sockio's order of precedence.
    pub const ALL: [Runtime; 3] = [Runtime::Tokio, Runtime::AsyncStd, Runtime::Threaded];

    /// The name on the command line and in labels (`sockio-<name>`).
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Tokio => "tokio",
            Runtime::AsyncStd => "async-std",
            Runtime::Threaded => "threaded",
        }
    }

    /// What sockio's `async_mode()` says when it runs on this runtime.
    pub fn async_mode(self) -> &'static str {
        match self {
            Runtime::Tokio => "tokio",
            Runtime::AsyncStd => "async-std",
            Runtime::Threaded => "threading",
        }
    }

    /// The runtime this binary's sockio runs on (the Cargo features it was built with).
    pub fn compiled() -> Option<Runtime> {
        if cfg!(feature = "tokio") {
            Some(Runtime::Tokio)
        } else if cfg!(feature = "async-std") {
            Some(Runtime::AsyncStd)
        } else if cfg!(feature = "threaded") {
            Some(Runtime::Threaded)
        } else {
            None
        }
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Runtime {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Runtime::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| format!("unknown runtime {s:?}: tokio, async-std or threaded"))
    }
}

/// Why `runtime` cannot be served by this binary, if it cannot.
pub fn check_runtime(runtime: Runtime) -> Result<(), String> {
    let build = |r: Runtime| {
        format!(
            "cargo build --release -p sockio-load --no-default-features --features {}",
            r.name()
        )
    };
    match Runtime::compiled() {
        Some(r) if r == runtime => Ok(()),
        Some(r) => Err(format!(
            "this binary's sockio runs on {r} (its Cargo features); for {runtime} build it \
             with `{}`",
            build(runtime)
        )),
        None => Err(format!(
            "this binary has no sockio runtime; build it with `{}`",
            build(runtime)
        )),
    }
}

/// Serves `io` on `listener` with `runtime` until the process ends.
pub fn serve(runtime: Runtime, io: SocketIo, listener: std::net::TcpListener) -> io::Result<()> {
    check_runtime(runtime).map_err(io::Error::other)?;
    if io.async_mode() != runtime.async_mode() {
        return Err(io::Error::other(format!(
            "sockio runs on {:?}, not {runtime}",
            io.async_mode()
        )));
    }
    match runtime {
        #[cfg(feature = "tokio")]
        Runtime::Tokio => {
            listener.set_nonblocking(true)?;
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
                .block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)?;
                    io.serve(listener, std::future::pending()).await
                })
        }
        #[cfg(feature = "threaded")]
        Runtime::Threaded => io.serve_blocking(listener, None, sockio::ShutdownHandle::new()),
        #[cfg(feature = "async-std")]
        Runtime::AsyncStd => async_io::block_on(async move {
            let listener = sockio::AsyncTcpListener::try_from(listener)?;
            io.serve_async_std(listener, std::future::pending()).await
        }),
        // Reachable unless every runtime feature is on.
        #[allow(unreachable_patterns)]
        other => Err(io::Error::other(format!("{other} is not compiled in"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_names_round_trip() {
        for r in Runtime::ALL {
            assert_eq!(r.name().parse::<Runtime>().unwrap(), r);
        }
        assert!("gevent".parse::<Runtime>().is_err());
    }

    #[test]
    fn unavailable_runtimes_explain_themselves() {
        if Runtime::compiled() == Some(Runtime::Tokio) {
            assert!(check_runtime(Runtime::Tokio).is_ok());
            let e = check_runtime(Runtime::Threaded).unwrap_err();
            assert!(e.contains("--features threaded"), "{e}");
        }
    }
}
