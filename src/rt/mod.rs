//! Runtime selection; the public part is re-exported as [`crate::runtime`].

use std::sync::Arc;

use crate::engine::Runtime;

#[cfg(not(any(feature = "tokio", feature = "async-std", feature = "threaded")))]
compile_error!(
    "sockio needs a runtime: enable one of the Cargo features `tokio` (default), `async-std` \
     (also runs under smol) or `threaded`"
);

#[cfg(feature = "tokio")]
pub(crate) mod tokio;
#[cfg(feature = "tokio")]
pub use self::tokio::Tokio;

#[cfg(feature = "async-std")]
pub(crate) mod async_std;
#[cfg(feature = "async-std")]
pub use self::async_std::AsyncStd;

#[cfg(feature = "threaded")]
pub(crate) mod threaded;
#[cfg(feature = "threaded")]
pub use self::threaded::Threaded;

impl crate::SocketIo {
    /// What every runtime adapter needs to know: the engine path and its size limits, which
    /// follow `max_payload`.
    #[cfg_attr(
        not(any(feature = "tokio", feature = "async-std", feature = "threaded")),
        allow(dead_code)
    )]
    pub(crate) fn transport_config(&self) -> sockio_protocol::TransportConfig {
        let max_payload = self.engine.max_payload;
        sockio_protocol::TransportConfig {
            path: self.path.to_string(),
            // The engine answers bodies over its limit (and closes their session); the adapter
            // hands it at most one byte more.
            max_body: max_payload,
            // Messages a little over the limit reach the engine, which closes the session;
            // beyond that the WebSocket layer closes the connection itself.
            max_message_size: max_payload.saturating_add(4096),
            ..self.engine.options.transport.clone()
        }
    }
}

/// Connects an adapter's transport callbacks to the engine. The adapters share this shape
/// (`Handlers` with `on_request`/`on_websocket`, `WsInbound`, `WsOutbox`), so one definition
/// serves all of them.
macro_rules! adapter_glue {
    ($adapter:ident) => {
        /// The transport callbacks of this adapter, feeding `io`.
        pub(crate) fn handlers(io: &crate::SocketIo) -> $adapter::Handlers {
            let http_io = io.clone();
            let ws_io = io.clone();
            $adapter::Handlers {
                on_request: std::sync::Arc::new(move |req| http_io.handle_request(req)),
                check_websocket: {
                    let io = io.clone();
                    std::sync::Arc::new(move |req: &$adapter::HttpRequest| {
                        io.websocket_refusal(req)
                    })
                },
                on_websocket: std::sync::Arc::new(move |req| {
                    let mut conn = ws_io.open_websocket(req);
                    let outbox = conn.outbox().clone();
                    let inbound: $adapter::WsInbound = Box::new(move |frame| conn.receive(frame));
                    (inbound, outbox)
                }),
            }
        }
    };
}
pub(crate) use adapter_glue;

/// Without a runtime only the compile_error! above is worth reporting.
#[cfg(not(any(feature = "tokio", feature = "async-std", feature = "threaded")))]
pub(crate) fn default_runtime() -> Arc<dyn Runtime> {
    unreachable!("no runtime feature enabled")
}

/// The runtime chosen by Cargo features.
#[cfg(any(feature = "tokio", feature = "async-std", feature = "threaded"))]
pub(crate) fn default_runtime() -> Arc<dyn Runtime> {
    #[cfg(feature = "tokio")]
    {
        Arc::new(Tokio)
    }
    #[cfg(all(not(feature = "tokio"), feature = "async-std"))]
    {
        Arc::new(AsyncStd)
    }
    #[cfg(all(
        not(feature = "tokio"),
        not(feature = "async-std"),
        feature = "threaded"
    ))]
    {
        Arc::new(Threaded)
    }
}
