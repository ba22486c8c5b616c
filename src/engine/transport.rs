//! The runtime adapters' way in: HTTP requests on the engine path and WebSockets, routed to
//! their shard and decoded before the shard is taken.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use sockio_protocol::http::{Frame, HttpRequest, HttpResponse};
use sockio_protocol::{Decoded, DecodedBody, Input, TransportHandle};

use super::client::SessionData;
use super::outbox::{Listener, Outbox};
use super::{Engine, EventBacklog, Sink};
use crate::handler::BoxFuture;

impl Engine {
    /// An HTTP request on the engine path. The future resolves to its response; dropping it
    /// before then tells the server the client went away.
    pub(crate) fn http(self: &Arc<Self>, mut request: HttpRequest) -> BoxFuture<HttpResponse> {
        let sid = request.query_param("sid").map(|s| s.into_owned());
        let handshake = request.method == sockio_protocol::Method::Get && sid.is_none();
        // What the log lines about the answer need (nothing when logging is off).
        let asked = crate::diag::Asked::new(&request);
        if handshake && !self.allows(&request) {
            let refused = HttpResponse::engine_error(403, 4, "Forbidden");
            crate::diag::answered(asked, &refused);
            return Box::pin(std::future::ready(refused));
        }
        let shard = match &sid {
            Some(sid) => self.shard_of_sid(sid).unwrap_or(0),
            None => self.pick_shard(),
        };
        let t = self.next_handle(shard);
        let (tx, rx) = async_channel::bounded(1);
        // A paused client's POST is answered once its handlers caught up.
        let post = request.method == sockio_protocol::Method::Post;
        let client = (post && self.options.event_backlog == EventBacklog::Pause)
            .then(|| {
                sid.as_deref()
                    .and_then(|sid| self.client_of_sid(shard, sid))
            })
            .flatten();
        // The body is decoded here, before the shard is taken.
        let body = post.then(|| DecodedBody::new(&self.limits, std::mem::take(&mut request.body)));
        if let Some(body) = &body {
            self.recover_across_shards(shard, body.packets());
        }
        self.drive_shard(shard, |st| {
            st.sinks.insert(t, Sink::Http(tx));
            let now = Instant::now();
            let input = match body {
                Some(body) => Input::HttpRequestDecoded {
                    now,
                    transport: t,
                    request,
                    body,
                },
                None => Input::HttpRequest {
                    now,
                    transport: t,
                    request,
                },
            };
            st.server.handle_input(input);
        });
        if let Ok(r) = rx.try_recv() {
            crate::diag::answered(asked, &r);
            return match client.filter(|c| c.gate.is_closed()) {
                Some(c) => {
                    let wait = c.gate.clone().wait();
                    Box::pin(async move {
                        wait.await;
                        r
                    })
                }
                None => Box::pin(std::future::ready(r)),
            };
        }
        let guard = CloseOnDrop {
            engine: self.clone(),
            transport: t,
            armed: true,
        };
        Box::pin(async move {
            let mut guard = guard;
            let r = rx.recv().await;
            guard.armed = false;
            let r = r.unwrap_or_else(|_| HttpResponse {
                status: 503,
                headers: Vec::new(),
                body: sockio_protocol::Bytes::new(),
            });
            crate::diag::answered(asked, &r);
            r
        })
    }

    /// A WebSocket opened: returns its handle and the outbox its writer drains.
    pub(crate) fn ws_open(
        self: &Arc<Self>,
        request: HttpRequest,
    ) -> (TransportHandle, Arc<Outbox>) {
        let shard = self.shard_for_request(&request);
        let t = self.next_handle(shard);
        let outbox = Arc::new(Outbox::new(
            self.options.transport.ws_buffer,
            Arc::downgrade(self),
            t,
        ));
        self.open_ws(shard, t, request, outbox.clone());
        (t, outbox)
    }

    /// A WebSocket whose frames go straight to `listener` (the in-memory test client).
    pub(crate) fn ws_open_direct(
        self: &Arc<Self>,
        request: HttpRequest,
        listener: Listener,
    ) -> TransportHandle {
        let shard = self.shard_for_request(&request);
        let t = self.next_handle(shard);
        let outbox = Arc::new(Outbox::direct(Arc::downgrade(self), t, listener));
        self.open_ws(shard, t, request, outbox);
        t
    }

    fn open_ws(
        self: &Arc<Self>,
        shard: usize,
        t: TransportHandle,
        request: HttpRequest,
        outbox: Arc<Outbox>,
    ) {
        self.drive_shard(shard, |st| {
            st.sinks.insert(t, Sink::Ws(outbox));
            st.server.handle_input(Input::WebSocketOpen {
                now: Instant::now(),
                transport: t,
                request,
            });
        });
    }

    /// The shard of a new connection or of the session a request names.
    fn shard_for_request(&self, request: &HttpRequest) -> usize {
        match request.query_param("sid") {
            Some(sid) => self.shard_of_sid(&sid).unwrap_or(0),
            None => self.pick_shard(),
        }
    }

    pub(crate) fn ws_message(self: &Arc<Self>, t: TransportHandle, frame: Frame) {
        let shard = self.shard_of_transport(t);
        if crate::diag::tracing_packets() {
            let sid = self.peek_shard(shard, |st| Self::sid_of(st, t));
            crate::diag::frame("in", sid.as_deref(), &frame);
        }
        // Decoded here, before the shard is taken.
        let message = Decoded::new(&self.limits, frame);
        self.recover_across_shards(shard, std::slice::from_ref(&message));
        self.drive_shard(shard, |st| {
            st.server.handle_input(Input::WebSocketDecoded {
                now: Instant::now(),
                transport: t,
                message,
            });
        });
    }

    /// A blocked WebSocket's writer caught up: what waits for it may go.
    pub(crate) fn ws_writable(self: &Arc<Self>, t: TransportHandle) {
        self.drive_shard(self.shard_of_transport(t), |st| {
            if st.sinks.contains_key(&t) {
                let now = Instant::now();
                st.server
                    .handle_input(Input::WebSocketWritable { now, transport: t });
            }
        });
    }

    pub(crate) fn ws_closed(self: &Arc<Self>, t: TransportHandle) {
        self.transport_closed(t);
    }

    fn transport_closed(self: &Arc<Self>, t: TransportHandle) {
        self.drive_shard(self.shard_of_transport(t), |st| {
            st.forget_sink(t);
            st.server.handle_input(Input::TransportClosed {
                now: Instant::now(),
                transport: t,
            });
        });
    }

    /// The client a transport belongs to, while its session lives.
    fn client_of(self: &Arc<Self>, t: TransportHandle) -> Option<Arc<SessionData>> {
        self.peek_shard(self.shard_of_transport(t), |st| {
            let session = st.server.transport_session(t)?;
            st.sessions.get(&session).cloned()
        })
    }

    /// The client of session `sid` on `shard`, while its session lives.
    fn client_of_sid(self: &Arc<Self>, shard: usize, sid: &str) -> Option<Arc<SessionData>> {
        self.peek_shard(shard, |st| {
            let session = st.server.session_by_sid(sid)?;
            st.sessions.get(&session).cloned()
        })
    }

    /// Whether a WebSocket upgrade may go ahead: `Some(response)` refuses it (the
    /// application's `allow_request`, then the protocol's own checks).
    pub(crate) fn check_websocket(self: &Arc<Self>, request: &HttpRequest) -> Option<HttpResponse> {
        let refused = if request.query_param("sid").is_none() && !self.allows(request) {
            Some(HttpResponse::engine_error(403, 4, "Forbidden"))
        } else {
            let shard = match request.query_param("sid") {
                Some(sid) => self.shard_of_sid(&sid).unwrap_or(0),
                None => 0,
            };
            self.peek_shard(shard, |st| st.server.websocket_refusal(request))
        };
        if let Some(r) = &refused {
            crate::diag::websocket_refused(request, r);
        }
        refused
    }

    /// The application's `allow_request` verdict on a handshake.
    fn allows(&self, request: &HttpRequest) -> bool {
        let hook = self.registry().allow_request.clone();
        hook.is_none_or(|allow| {
            std::panic::catch_unwind(AssertUnwindSafe(|| allow(request))).unwrap_or_else(|_| {
                tracing::error!("allow_request panicked; handshake refused");
                false
            })
        })
    }
}

/// One WebSocket's incoming side: every message goes to the server on the reading task, and
/// dropping it (the runtime adapter does when the connection ends) closes the transport.
pub(crate) struct WsInbound {
    engine: Arc<Engine>,
    transport: TransportHandle,
    /// Its client, once known (to see whether it is paused).
    client: Option<Arc<SessionData>>,
}

impl WsInbound {
    pub(crate) fn new(engine: Arc<Engine>, transport: TransportHandle) -> Self {
        WsInbound {
            engine,
            transport,
            client: None,
        }
    }

    /// Hands a message to the server; `Some(wait)` when the client is paused
    /// ([`EventBacklog::Pause`]): the reader reads nothing more until `wait` resolves.
    pub(crate) fn message(&mut self, frame: Frame) -> Option<BoxFuture<()>> {
        self.engine.ws_message(self.transport, frame);
        if self.engine.options.event_backlog != EventBacklog::Pause {
            return None;
        }
        if self.client.is_none() {
            self.client = self.engine.client_of(self.transport);
        }
        let client = self.client.as_ref()?;
        client.gate.is_closed().then(|| client.gate.clone().wait())
    }
}

impl Drop for WsInbound {
    fn drop(&mut self) {
        self.engine.ws_closed(self.transport);
    }
}

/// Tells the server a pending HTTP request's client went away, unless it was answered.
struct CloseOnDrop {
    engine: Arc<Engine>,
    transport: TransportHandle,
    armed: bool,
}

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        if self.armed {
            self.engine.transport_closed(self.transport);
        }
    }
}
