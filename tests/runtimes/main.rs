//! The behavioural suite: every feature of the `sockio` API exercised through real TCP
//! connections on 127.0.0.1, on every runtime compiled in, with each client transport
//! (WebSocket, long-polling, and long-polling upgraded to WebSocket).
//!
//! The cases are written once, in `cases/`, as functions taking an [`Rt`]. [`runtime_suite!`]
//! generates one test per case and transport for a runtime, as `RUNTIME::CASE::TRANSPORT`
//! (for instance `threaded::rooms_join_leave_close::upgrade`), and one per runtime for the
//! cases that speak raw HTTP and WebSocket themselves, as `RUNTIME::CASE::raw` (for instance
//! `smol::client_close_over_polling::raw`). A runtime joins the suite with
//! one line below, naming its Cargo feature, its runtime value, and a function in
//! `common/serve.rs` that serves a `SocketIo` on it in the background.

#[path = "../common/mod.rs"]
mod common;

mod cases;

pub use common::client::{Client, Options, Transport, STEP};
pub use common::serve::{Rt, Served};

/// Generates the suite for one runtime: `runtime_suite!(feature, module, runtime value,
/// serve function)`.
macro_rules! runtime_suite {
    ($feature:literal, $name:ident, $runtime:expr, $serve:path) => {
        #[cfg(feature = $feature)]
        mod $name {
            use super::*;

            fn rt(transport: Transport) -> Rt {
                Rt {
                    async_mode: sockio::runtime::Runtime::name(&$runtime),
                    builder: || sockio::SocketIo::builder().runtime($runtime),
                    serve_fn: $serve,
                    transport,
                }
            }

            cases::for_each_case!(tests_per_transport);
            cases::for_each_raw_case!(tests_once);
        }
    };
}

/// One test per transport for each case function.
macro_rules! tests_per_transport {
    ($($module:ident :: $case:ident),* $(,)?) => {
        $(
            mod $case {
                #[test]
                fn websocket() {
                    crate::cases::$module::$case(&super::rt(crate::Transport::WebSocket));
                }

                #[test]
                fn polling() {
                    crate::cases::$module::$case(&super::rt(crate::Transport::Polling));
                }

                #[test]
                fn upgrade() {
                    crate::cases::$module::$case(&super::rt(crate::Transport::Upgrade));
                }
            }
        )*
    };
}

/// One test for each case function that picks no client transport.
macro_rules! tests_once {
    ($($module:ident :: $case:ident),* $(,)?) => {
        $(
            mod $case {
                #[test]
                fn raw() {
                    crate::cases::$module::$case(&super::rt(crate::Transport::WebSocket));
                }
            }
        )*
    };
}

runtime_suite!("tokio", tokio, sockio::runtime::Tokio, common::serve::tokio);
runtime_suite!(
    "async-std",
    async_std,
    sockio::runtime::AsyncStd,
    common::serve::async_std
);
runtime_suite!(
    "async-std",
    smol,
    sockio::runtime::AsyncStd,
    common::serve::smol
);
runtime_suite!(
    "threaded",
    threaded,
    sockio::runtime::Threaded,
    common::serve::threaded
);
