//! The global executor: one [`Executor`] run by one thread per CPU, each in
//! [`async_io::block_on`] so that idle workers also drive the async-io reactor (as smol's
//! global executor does). Started on first use.

use std::future::{pending, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

use async_executor::Executor;

static EXECUTOR: Executor<'static> = Executor::new();
static START: Once = Once::new();

pub(crate) fn spawn<F: Future<Output = ()> + Send + 'static>(f: F) {
    START.call_once(start_workers);
    EXECUTOR.spawn(f).detach();
}

fn start_workers() {
    let n = std::thread::available_parallelism().map_or(1, |n| n.get());
    for i in 0..n {
        let worker = std::thread::Builder::new()
            .name(format!("sockio-async-{i}"))
            .spawn(|| loop {
                // A panicking task unwinds out of `run`; log it and keep the worker.
                let run = AssertUnwindSafe(|| async_io::block_on(EXECUTOR.run(pending::<()>())));
                if catch_unwind(run).is_err() {
                    tracing::error!("a task panicked on the sockio executor");
                }
            });
        if let Err(e) = worker {
            // With no worker at all nothing would run: that is fatal.
            assert!(i > 0, "cannot start a sockio executor thread: {e}");
            tracing::warn!(error = %e, started = i, "fewer sockio executor threads than CPUs");
            break;
        }
    }
}
