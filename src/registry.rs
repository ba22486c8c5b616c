//! Where handlers are registered, per namespace.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use sockio_protocol::{DisconnectReason, Payload};

use crate::handler::{
    ConnectError, Erased, ErasedConnect, ErasedDisconnect, ErasedError, HandlerError, HandlerOutput,
};
use crate::Context;

/// A class-style namespace, like Flask-SocketIO's `Namespace` class: one object handles the
/// connect, disconnect and events of a namespace. A function handler registered with
/// [`SocketIo::on`](crate::SocketIo::on) for the same namespace and event wins over
/// [`on_event`](Self::on_event).
///
/// ```
/// use sockio::{Context, HandlerError, Namespace, Reply};
///
/// struct Chat;
///
/// impl Namespace for Chat {
///     fn on_event(&self, ctx: &Context) -> Result<Reply, HandlerError> {
///         match ctx.event() {
///             Some("my_event") => {
///                 let text: String = ctx.arg(0)?;
///                 ctx.emit("my_response", text.clone())?;
///                 Reply::with(text.len())
///             }
///             _ => Ok(Reply::Unhandled),
///         }
///     }
/// }
/// ```
pub trait Namespace: Send + Sync + 'static {
    /// A client connects; return an error to refuse it.
    fn on_connect(&self, ctx: &Context, auth: Option<&Value>) -> Result<(), ConnectError> {
        let _ = (ctx, auth);
        Ok(())
    }

    /// A client disconnected.
    fn on_disconnect(&self, ctx: &Context, reason: DisconnectReason) {
        let _ = (ctx, reason);
    }

    /// An event arrived: match on [`Context::event`]. Return [`Reply::Unhandled`] for events
    /// this namespace does not know.
    fn on_event(&self, ctx: &Context) -> Result<Reply, HandlerError> {
        let _ = ctx;
        Ok(Reply::Unhandled)
    }
}

/// What [`Namespace::on_event`] did with an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Not an event of this namespace.
    Unhandled,
    /// Handled; the payload is the acknowledgement if the client asked for one.
    Ack(Payload),
}

impl Reply {
    /// Handled, acknowledging with `out` (`()` for no arguments).
    pub fn with(out: impl HandlerOutput) -> Result<Reply, HandlerError> {
        Ok(Reply::Ack(out.into_ack()?))
    }
}

#[derive(Default, Clone)]
pub(crate) struct NsHandlers {
    pub(crate) events: HashMap<String, Erased>,
    pub(crate) connect: Option<ErasedConnect>,
    pub(crate) disconnect: Option<ErasedDisconnect>,
    pub(crate) error: Option<ErasedError>,
    pub(crate) class: Option<Arc<dyn Namespace>>,
}

/// The handler of plain Engine.IO messages: the server, the session's sid, the message.
pub(crate) type EngineMessageHandler =
    Arc<dyn Fn(&crate::SocketIo, &str, sockio_protocol::Frame) + Send + Sync>;

#[derive(Default)]
pub(crate) struct Registry {
    namespaces: HashMap<String, NsHandlers>,
    pub(crate) default_error: Option<ErasedError>,
    pub(crate) any_namespace: bool,
    pub(crate) engine_message: Option<EngineMessageHandler>,
}

impl Registry {
    /// Whether clients may connect to `ns`: `/` always, others once something is registered
    /// for them (or when every namespace is allowed).
    pub(crate) fn has_namespace(&self, ns: &str) -> bool {
        ns == "/" || self.any_namespace || self.namespaces.contains_key(ns)
    }

    pub(crate) fn namespace(&self, ns: &str) -> Option<&NsHandlers> {
        self.namespaces.get(ns)
    }

    pub(crate) fn namespace_mut(&mut self, ns: &str) -> &mut NsHandlers {
        self.namespaces.entry(ns.to_string()).or_default()
    }

    /// A catch-all handler registered for every namespace (namespace `*`, event `*`).
    pub(crate) fn catch_all(&self) -> Option<Erased> {
        self.namespaces
            .get("*")
            .and_then(|n| n.events.get("*").cloned())
    }
}
