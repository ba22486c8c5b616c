//! SIGTERM and SIGINT for the runtimes on the async-io reactor and on threads, through
//! async-signal (tokio has its own in `rt_tokio`).

use std::future::Future;
use std::io;

use async_signal::{Signal, Signals};
use futures_lite::StreamExt as _;

/// Registers the handlers now (so that a signal that comes right after the `listening` line
/// is not missed) and returns a future that completes on the first SIGTERM or SIGINT.
pub fn stopped() -> io::Result<impl Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    let mut signals = Signals::new([Signal::Term, Signal::Int])?;
    #[cfg(not(unix))]
    let mut signals = Signals::new([Signal::Int])?;
    Ok(async move {
        let _ = signals.next().await;
    })
}
