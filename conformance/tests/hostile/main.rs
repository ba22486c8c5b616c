//! Hostile peers against the conformance server: nothing a single peer does may make the
//! server hold unbounded memory, sockets or CPU, on any runtime.
//!
//! Every test starts its own `sockio-conformance-server --hostile` as a child process (killed
//! by PID when the test ends), connects a canary (a well-behaved client doing a round trip
//! every 20 ms), attacks within a budget of time and bytes, and checks the server's memory
//! growth (from `/proc/<pid>/status`), the canary, and that the server's open files come back
//! to where they were; see [`harness::hostile`]. The tests are heavy: nextest runs them one at
//! a time (the `hostile` test group in `.config/nextest.toml`).
//!
//! One test per runtime and case, named `RUNTIME::ITEM::CASE` (`smol::mailbox::ordered`).
//! Each item's module says how it attacks and what it checks.

mod harness;

mod big_heads;
mod connect_errors;
mod fairness;
mod frozen_peer;
mod lone_surrogate;
mod mailbox;
mod ping_flood;
mod post_no_get;
mod rooms_cap;
mod sanity;
mod slow_http;

/// Every case: `item { case, ... }`, each a `fn(runtime: &str)` in `item.rs`.
macro_rules! for_each_case {
    ($m:ident, $rt:literal) => {
        $m! { $rt;
            sanity { idle, churn },
            mailbox { concurrent, ordered, pause, hung_handler },
            connect_errors { polling_flood },
            post_no_get { polling_flood },
            ping_flood { websocket },
            slow_http { fd_limit },
            lone_surrogate { relayed },
            fairness { pings, arrays },
            big_heads { handshakes, under_cap },
            frozen_peer { room_flood },
            rooms_cap { default_cap, flag },
        }
    };
}

/// One test per case for one runtime.
macro_rules! tests {
    ($rt:literal; $($item:ident { $($case:ident),* $(,)? }),* $(,)?) => {
        $(
            mod $item {
                $(
                    #[test]
                    fn $case() {
                        crate::$item::$case($rt);
                    }
                )*
            }
        )*
    };
}

/// The suite for each runtime the server binary serves on.
macro_rules! runtime_suite {
    ($($module:ident = $name:literal),* $(,)?) => {
        $(
            mod $module {
                for_each_case!(tests, $name);
            }
        )*
    };
}

runtime_suite!(
    tokio = "tokio",
    async_std = "async-std",
    smol = "smol",
    threaded = "threaded",
);
