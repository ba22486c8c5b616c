//! Running handlers: a socket's connect and disconnect handlers in its own task, in order;
//! its events on the task that received them (one that waits goes on in a task of its own,
//! or, with `async_handlers(false)`, in the socket's task, one after the other).

use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use futures_lite::FutureExt as _;
use serde_json::Value;
use sockio_protocol::socketio::binary::Attachments;
use sockio_protocol::socketio::RawJson;
use sockio_protocol::{DisconnectReason, Payload};

use super::{Engine, SocketData, SocketEvent};
use crate::handler::{BoxFuture, ConnectError, HandlerError, HandlerErrorKind, Started};
use crate::{Args, Context};

impl Engine {
    /// Starts a task for the socket's queued events (the queue asked for one).
    pub(super) fn start_socket_task(self: &Arc<Self>, data: Arc<SocketData>) {
        let engine = self.clone();
        self.socket_tasks.fetch_add(1, Ordering::SeqCst);
        self.runtime.spawn(Box::pin(async move {
            /// Counts the task out however it ends.
            struct Running<'a>(&'a std::sync::atomic::AtomicUsize);
            impl Drop for Running<'_> {
                fn drop(&mut self) {
                    self.0.fetch_sub(1, Ordering::SeqCst);
                }
            }
            let _running = Running(&engine.socket_tasks);
            engine.clone().socket_task(data).await
        }));
    }

    /// Handles the socket's queued events in order, and ends once none is left (the next
    /// event starts another task).
    async fn socket_task(self: Arc<Self>, data: Arc<SocketData>) {
        while let Some(ev) = data.queue.recv().await {
            let keep_going = match ev {
                SocketEvent::Connect(auth) => {
                    let accepted = self.handle_connect(&data, auth).await;
                    data.accepted.store(accepted, Ordering::SeqCst);
                    accepted
                }
                SocketEvent::Message {
                    data: msg,
                    attachments,
                    ack,
                    pending,
                } => {
                    self.handle_message(&data, msg, attachments, ack).await;
                    drop(pending);
                    true
                }
                SocketEvent::Disconnect(reason) => {
                    if data.accepted.load(Ordering::SeqCst) {
                        self.connected_sockets.fetch_sub(1, Ordering::Relaxed);
                        self.handle_disconnect(&data, reason).await;
                    }
                    false
                }
                SocketEvent::Resume(rest) => {
                    if AssertUnwindSafe(rest).catch_unwind().await.is_err() {
                        tracing::error!(sid = %data.sid, "handling an event panicked");
                    }
                    true
                }
            };
            self.done_one(data.shard);
            if !keep_going {
                // Whatever is left was queued for a socket that is gone; nothing more gets
                // in, and the turn stays taken, so nobody handles anything for it any more.
                data.queue.close();
                while data.queue.try_recv().is_some() {
                    self.done_one(data.shard);
                }
                return;
            }
            data.queue.finished();
        }
    }

    async fn handle_connect(self: &Arc<Self>, data: &Arc<SocketData>, auth: Option<Value>) -> bool {
        let ctx = Context::new(data.clone(), None, Args::default(), None);
        let (handler, class) = {
            let reg = self.registry_for(data.shard);
            let ns = reg.namespace(&data.namespace);
            (
                ns.and_then(|n| n.connect.clone()),
                ns.and_then(|n| n.class.clone()),
            )
        };
        let id = data.id;
        let always = self.options.always_connect;
        if always {
            self.drive_shard(data.shard, |st| st.server.socket(id).map(|s| s.accept()));
        }
        let decision = if let Some(h) = handler {
            let started =
                std::panic::catch_unwind(AssertUnwindSafe(|| h(ctx.clone(), auth.clone())));
            match started {
                Ok(f) => match AssertUnwindSafe(f).catch_unwind().await {
                    Ok(d) => d,
                    Err(_) => Err(ConnectError::new("connect handler failed")),
                },
                Err(_) => Err(ConnectError::new("connect handler failed")),
            }
        } else if let Some(c) = class {
            match std::panic::catch_unwind(AssertUnwindSafe(|| c.on_connect(&ctx, auth.as_ref()))) {
                Ok(d) => d,
                Err(_) => Err(ConnectError::new("connect handler failed")),
            }
        } else {
            Ok(())
        };
        let ok = decision.is_ok();
        if let Err(e) = &decision {
            let peer = data.client.request.peer_addr();
            crate::diag::connect_refused(&data.sid, &data.namespace, peer, &e.message);
        }
        self.drive_shard(data.shard, |st| {
            let Some(s) = st.server.socket(id) else {
                return;
            };
            match &decision {
                Ok(()) if always => {}
                Ok(()) => s.accept(),
                // Accepted already: the refusal is a disconnect from the server's side.
                Err(_) if always => {
                    s.disconnect();
                    st.sockets.remove(&id);
                }
                Err(e) => {
                    s.reject(&e.message, e.data.as_ref());
                    st.sockets.remove(&id);
                }
            }
        });
        if ok {
            self.connected_sockets.fetch_add(1, Ordering::Relaxed);
        }
        ok
    }

    /// Handles an event in the socket's task (ordered handlers), to the end.
    async fn handle_message(
        self: &Arc<Self>,
        data: &Arc<SocketData>,
        msg: RawJson,
        attachments: Attachments,
        ack: Option<u64>,
    ) {
        if let Some(rest) = self.start_message(data, msg, attachments, ack) {
            rest.await;
        }
    }

    /// Starts handling an event: a handler that does not wait is done when this returns
    /// `None` (its acknowledgement queued); otherwise the rest of it is returned, to await.
    fn start_message(
        self: &Arc<Self>,
        data: &Arc<SocketData>,
        msg: RawJson,
        attachments: Attachments,
        ack: Option<u64>,
    ) -> Option<BoxFuture<()>> {
        let args = Args::from_raw(msg, 1, attachments);
        // The core checked that an event is an array led by a string.
        let event = args.leading_str()?;
        let ctx = Context::new(data.clone(), Some(event.clone()), args, ack);
        let rest = match self.start_event(&ctx, &event) {
            Begun::Done(Some(Ok(p))) => {
                self.answer(data, ack, Some(p));
                return None;
            }
            Begun::Done(None) => {
                self.answer(data, ack, None);
                return None;
            }
            // The error handlers may wait.
            Begun::Done(Some(Err(e))) => Started::Done(Err(e)),
            Begun::Waits(rest) => Started::Waits(rest),
        };
        let (engine, data) = (self.clone(), data.clone());
        Some(Box::pin(async move {
            let result = match rest {
                Started::Done(r) => r,
                Started::Waits(f) => match AssertUnwindSafe(f).catch_unwind().await {
                    Ok(r) => r,
                    Err(_) => Err(panicked()),
                },
            };
            let result = match result {
                Ok(p) => Some(p),
                Err(e) => engine.run_error(&ctx, e).await,
            };
            engine.answer(&data, ack, result);
        }))
    }

    /// Queues the acknowledgement of an event the client asked one for (`[]` when nothing
    /// answered it).
    fn answer(self: &Arc<Self>, data: &Arc<SocketData>, ack: Option<u64>, result: Option<Payload>) {
        let Some(ack) = ack else {
            return;
        };
        let payload = result.unwrap_or_else(|| Payload::json(&b"[]"[..]));
        let id = data.id;
        self.drive_shard(data.shard, |st| {
            let Some(mut s) = st.server.socket(id) else {
                return;
            };
            if let Err(e) = s.ack(ack, payload) {
                // The client asked and does not read: it is not keeping up.
                tracing::warn!(
                    sid = %data.sid,
                    peer = ?data.client.request.peer_addr(),
                    "acknowledgement not queued ({e}): client disconnected as a slow consumer"
                );
                st.server
                    .close_session_for(data.engine_session, DisconnectReason::SlowConsumer);
            }
        });
    }

    /// Starts the handler for an event: a function handler first, then the class namespace,
    /// then a catch-all. `Done(None)` when nothing handles it.
    fn start_event(self: &Arc<Self>, ctx: &Context, event: &str) -> Begun {
        // Called through the shard's copy of the registry: no handler is cloned per event.
        let reg = self.registry_for(ctx.data.shard);
        let ns = reg.namespace(ctx.namespace());
        let handler = ns.and_then(|n| n.events.get(event).or_else(|| n.methods.get(event)));
        let class = ns.and_then(|n| n.class.as_ref());
        if let Some(h) = handler {
            return start_guarded(|| h(ctx.clone()));
        }
        if let Some(c) = class {
            match std::panic::catch_unwind(AssertUnwindSafe(|| c.on_event(ctx))) {
                Ok(Ok(crate::Reply::Unhandled)) => {}
                Ok(Ok(crate::Reply::Ack(p))) => return Begun::Done(Some(Ok(p))),
                Ok(Err(e)) => return Begun::Done(Some(Err(e))),
                Err(_) => return Begun::Done(Some(Err(panicked()))),
            }
        }
        let catch_all = ns
            .and_then(|n| n.events.get("*"))
            .or_else(|| reg.catch_all());
        if let Some(h) = catch_all {
            return start_guarded(|| h(ctx.clone()));
        }
        tracing::debug!(event, namespace = ctx.namespace(), "no handler for event");
        Begun::Done(None)
    }

    async fn run_error(self: &Arc<Self>, ctx: &Context, e: HandlerError) -> Option<Payload> {
        let handler = {
            let reg = self.registry_for(ctx.data.shard);
            reg.namespace(ctx.namespace())
                .and_then(|n| n.error.clone())
                .or_else(|| reg.default_error.clone())
        };
        match handler {
            Some(h) => match run_guarded(|| Started::Waits(h(ctx.clone(), e))).await {
                Ok(p) => Some(p),
                Err(e2) => {
                    tracing::error!(event = ctx.event(), "error handler failed: {e2}");
                    None
                }
            },
            None => {
                tracing::error!(
                    event = ctx.event(),
                    namespace = ctx.namespace(),
                    "handler error: {e}"
                );
                None
            }
        }
    }

    async fn handle_disconnect(self: &Arc<Self>, data: &Arc<SocketData>, reason: DisconnectReason) {
        let ctx = Context::new(data.clone(), None, Args::default(), None);
        let (handler, class) = {
            let reg = self.registry_for(data.shard);
            let ns = reg.namespace(&data.namespace);
            (
                ns.and_then(|n| n.disconnect.clone()),
                ns.and_then(|n| n.class.clone()),
            )
        };
        if let Some(h) = handler {
            let ok = match std::panic::catch_unwind(AssertUnwindSafe(|| h(ctx, reason))) {
                Ok(f) => AssertUnwindSafe(f).catch_unwind().await.is_ok(),
                Err(_) => false,
            };
            if !ok {
                tracing::error!("disconnect handler panicked");
            }
        } else if let Some(c) = class {
            if std::panic::catch_unwind(AssertUnwindSafe(|| c.on_disconnect(&ctx, reason))).is_err()
            {
                tracing::error!("disconnect handler panicked");
            }
        }
    }

    /// Handles an event whose socket's turn was claimed, on this task: a handler that does not
    /// wait (a plain function, or an async one that finishes at once) completes here; the
    /// rest of one that waits goes to the socket's task, first in its line.
    pub(super) fn handle_inline(self: &Arc<Self>, data: Arc<SocketData>, ev: SocketEvent) {
        let concurrent = self.options.async_handlers;
        let SocketEvent::Message {
            data: msg,
            attachments,
            ack,
            pending,
        } = ev
        else {
            // Only messages are claimed; anything else takes the usual way.
            if !concurrent {
                data.queue.release();
            }
            self.done_one(data.shard);
            return;
        };
        // A handler that does not wait runs to the end here, with nothing allocated for it.
        let started = std::panic::catch_unwind(AssertUnwindSafe(|| {
            self.start_message(&data, msg, attachments, ack)
        }));
        let mut work = match started {
            Ok(None) => {
                drop(pending);
                return self.handled_inline(&data);
            }
            Ok(Some(rest)) => rest,
            Err(_) => {
                tracing::error!(sid = %data.sid, "handling an event panicked");
                drop(pending);
                return self.handled_inline(&data);
            }
        };
        work = Box::pin(async move {
            work.await;
            drop(pending);
        });
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let polled = std::panic::catch_unwind(AssertUnwindSafe(|| work.as_mut().poll(&mut cx)));
        match polled {
            Ok(std::task::Poll::Pending) if concurrent => {
                // It waits: the rest runs in a task of its own, beside the client's others.
                let engine = self.clone();
                let (sid, shard) = (data.sid.clone(), data.shard);
                self.runtime.spawn(Box::pin(async move {
                    if AssertUnwindSafe(work).catch_unwind().await.is_err() {
                        tracing::error!(sid, "handling an event panicked");
                    }
                    engine.done_one(shard);
                }));
                return;
            }
            Ok(std::task::Poll::Pending) => {
                if data.queue.hand_over(SocketEvent::Resume(work)) {
                    self.start_socket_task(data);
                }
                return;
            }
            Ok(std::task::Poll::Ready(())) => {}
            Err(_) => tracing::error!(sid = %data.sid, "handling an event panicked"),
        }
        self.handled_inline(&data);
    }

    /// An event handled on the task that received it is over.
    fn handled_inline(self: &Arc<Self>, data: &SocketData) {
        if !self.options.async_handlers {
            data.queue.release();
        }
        self.done_one(data.shard);
    }
}

/// How an event's handler started.
enum Begun {
    /// It is over: its outcome, `None` when nothing handled the event.
    Done(Option<Result<Payload, HandlerError>>),
    /// It waits for something: the rest of it.
    Waits(BoxFuture<Result<Payload, HandlerError>>),
}

/// The error a handler's panic becomes.
fn panicked() -> HandlerError {
    HandlerError::with_kind(HandlerErrorKind::Panic, "handler panicked")
}

/// Starts a handler, turning a panic while starting it into an error.
fn start_guarded(start: impl FnOnce() -> Started) -> Begun {
    match std::panic::catch_unwind(AssertUnwindSafe(start)) {
        Ok(Started::Done(r)) => Begun::Done(Some(r)),
        Ok(Started::Waits(f)) => Begun::Waits(f),
        Err(_) => Begun::Done(Some(Err(panicked()))),
    }
}

/// Runs a handler, turning a panic (while starting it or while awaiting it) into an error.
async fn run_guarded(start: impl FnOnce() -> Started) -> Result<Payload, HandlerError> {
    match std::panic::catch_unwind(AssertUnwindSafe(start)) {
        Ok(Started::Done(r)) => r,
        Ok(Started::Waits(f)) => AssertUnwindSafe(f)
            .catch_unwind()
            .await
            .unwrap_or_else(|_| Err(panicked())),
        Err(_) => Err(panicked()),
    }
}
