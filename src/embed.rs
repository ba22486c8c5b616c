//! Serving sockio from an HTTP server of your own: [`SocketIo::handle_request`],
//! [`SocketIo::websocket_refusal`] and [`SocketIo::open_websocket`] are what the built-in
//! runtime adapters call, for a host that does its own I/O (another framework, a custom event
//! loop, an in-process benchmark).

use std::sync::Arc;

use sockio_protocol::http::{Frame, HttpRequest, HttpResponse};
use sockio_protocol::WsOutbox;

use crate::engine::WsInbound;
use crate::handler::BoxFuture;
use crate::SocketIo;

/// A WebSocket a host server accepted on the engine path, from [`SocketIo::open_websocket`]:
/// feed it every data message read with [`receive`](Self::receive), and write what its
/// [`outbox`](Self::outbox) hands out, in order. Dropping it tells the server the connection
/// ended.
pub struct WebSocketConnection {
    inbound: WsInbound,
    outbox: Arc<dyn WsOutbox>,
}

impl std::fmt::Debug for WebSocketConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketConnection")
            .finish_non_exhaustive()
    }
}

impl WebSocketConnection {
    /// Hands one data message to the server, on the task or thread that read it (its
    /// handlers may run right there). `Some(wait)` when the client is paused
    /// ([`EventBacklog::Pause`](crate::EventBacklog::Pause)): read nothing more from it until
    /// `wait` resolves.
    pub fn receive(&mut self, frame: Frame) -> Option<BoxFuture<()>> {
        self.inbound.message(frame)
    }

    /// What to write to the peer: data messages, then [`WsOut::Close`](crate::protocol::WsOut)
    /// (a close frame, and the end of the connection); it also runs dry for good when the
    /// server lets go of the connection.
    pub fn outbox(&self) -> &Arc<dyn WsOutbox> {
        &self.outbox
    }
}

impl SocketIo {
    /// Answers an HTTP request on the engine path (long-polling, the handshake, CORS
    /// preflight) for a server of your own. Read the body first, at most
    /// [`max_payload`](crate::SocketIoBuilder::max_payload) plus one byte; dropping the future
    /// before it resolves tells the server the client went away. The response is compressed
    /// when the client accepts it (see [`http_compression`](crate::SocketIoBuilder::http_compression)).
    pub fn handle_request(&self, request: HttpRequest) -> BoxFuture<HttpResponse> {
        match crate::compress::Compress::for_options(&self.engine.options, &request) {
            Some(c) => c.wrap(self.engine.http(request)),
            None => self.engine.http(request),
        }
    }

    /// Whether a WebSocket upgrade on the engine path may go ahead: `Some(response)` is the
    /// refusal to answer instead of 101 (`allow_request`, CORS, protocol checks).
    pub fn websocket_refusal(&self, request: &HttpRequest) -> Option<HttpResponse> {
        self.engine.check_websocket(request)
    }

    /// A WebSocket your server accepts on the engine path, `request` being the upgrade
    /// request. Call it before the 101 goes out, as the built-in adapters do: a client that
    /// acts on the 101 at once (another WebSocket for the same session, say) then finds the
    /// server already knowing this one. Drop the connection if the upgrade fails after all.
    pub fn open_websocket(&self, request: HttpRequest) -> WebSocketConnection {
        let (t, outbox) = self.engine.ws_open(request);
        WebSocketConnection {
            inbound: WsInbound::new(self.engine.clone(), t),
            outbox,
        }
    }
}
