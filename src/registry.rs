//! Where handlers are registered, per namespace.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::Arc;

use serde_json::Value;
use sockio_protocol::hash::HandleHasher;
use sockio_protocol::{DisconnectReason, Payload};

use crate::handler::{
    ConnectError, Erased, ErasedConnect, ErasedDisconnect, ErasedError, HandlerError,
    HandlerOutput, Method,
};
use crate::Context;

/// A map keyed by handler names (events, namespaces). The application chooses every key: a
/// peer's event or namespace name is only looked up, never inserted, so no peer can flood a
/// bucket, and the fast handle hasher serves instead of SipHash.
pub(crate) type NameMap<V> = HashMap<String, V, BuildHasherDefault<HandleHasher>>;

/// A class-style namespace, like Flask-SocketIO's `Namespace` class: one object handles the
/// connect, disconnect and events of a namespace, with one method per event.
///
/// Flask-SocketIO finds `on_<event>` methods by name; here [`events`](Self::events) binds event
/// names to methods, which take typed arguments and return the acknowledgement just like
/// function handlers. A function handler registered with `io.of(ns).on(event, ..)` for the same
/// namespace and event wins over the method. Events bound to no method go to
/// [`on_event`](Self::on_event), the catch-all.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use sockio::{ConnectError, Context, DisconnectReason, Events, Namespace, SocketIo, Value};
///
/// #[derive(Default)]
/// struct Chat {
///     messages: AtomicUsize,
/// }
///
/// impl Chat {
///     fn on_my_event(&self, ctx: Context, text: String) -> Result<usize, sockio::EmitError> {
///         self.messages.fetch_add(1, Ordering::Relaxed);
///         ctx.emit("my_response", text.clone())?;
///         Ok(text.len()) // the acknowledgement
///     }
///
///     async fn on_slow(self: Arc<Self>, ctx: Context, ms: u64) -> u64 {
///         ctx.io().sleep(std::time::Duration::from_millis(ms)).await;
///         ms
///     }
/// }
///
/// impl Namespace for Chat {
///     fn events(events: &mut Events<Self>) {
///         events.on("my_event", Chat::on_my_event).on("slow", Chat::on_slow);
///     }
///
///     fn on_connect(&self, ctx: &Context, auth: Option<&Value>) -> Result<(), ConnectError> {
///         println!("{} connected with {auth:?}", ctx.sid());
///         Ok(())
///     }
///
///     fn on_disconnect(&self, ctx: &Context, reason: DisconnectReason) {
///         println!("{} left: {reason}", ctx.sid());
///     }
/// }
///
/// let io = SocketIo::new();
/// io.on_namespace("/chat", Chat::default());
/// ```
pub trait Namespace: Send + Sync + 'static {
    /// Binds event names to methods (Flask-SocketIO's `on_<event>` methods).
    fn events(events: &mut Events<Self>)
    where
        Self: Sized,
    {
        let _ = events;
    }

    /// A client connects; return an error to refuse it.
    fn on_connect(&self, ctx: &Context, auth: Option<&Value>) -> Result<(), ConnectError> {
        let _ = (ctx, auth);
        Ok(())
    }

    /// A client disconnected.
    fn on_disconnect(&self, ctx: &Context, reason: DisconnectReason) {
        let _ = (ctx, reason);
    }

    /// An event no method is bound to (Flask-SocketIO's `trigger_event`): match on
    /// [`Context::event`]. Return [`Reply::Unhandled`] for events this namespace does not know.
    fn on_event(&self, ctx: &Context) -> Result<Reply, HandlerError> {
        let _ = ctx;
        Ok(Reply::Unhandled)
    }
}

/// The event methods of a class-style [`Namespace`], filled in by [`Namespace::events`].
pub struct Events<N> {
    namespace: Arc<N>,
    bound: NameMap<Erased>,
}

impl<N> std::fmt::Debug for Events<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.bound.keys().collect();
        names.sort();
        f.debug_struct("Events").field("bound", &names).finish()
    }
}

impl<N: Namespace> Events<N> {
    pub(crate) fn of(namespace: Arc<N>) -> Self {
        let mut events = Events {
            namespace,
            bound: NameMap::default(),
        };
        N::events(&mut events);
        events
    }

    /// Handles `event` with `method` (see [`Method`] for the shapes a method may have).
    pub fn on<M, H: Method<N, M>>(&mut self, event: &str, method: H) -> &mut Self {
        let erased = method.bind(self.namespace.clone());
        self.bound.insert(event.to_string(), erased);
        self
    }

    pub(crate) fn into_bound(self) -> NameMap<Erased> {
        self.bound
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
    pub(crate) events: NameMap<Erased>,
    pub(crate) connect: Option<ErasedConnect>,
    pub(crate) disconnect: Option<ErasedDisconnect>,
    pub(crate) error: Option<ErasedError>,
    pub(crate) class: Option<Arc<dyn Namespace>>,
    /// The class's event methods.
    pub(crate) methods: NameMap<Erased>,
}

/// The handler of plain Engine.IO messages: the server, the session's sid, the message.
pub(crate) type EngineMessageHandler =
    Arc<dyn Fn(&crate::SocketIo, &str, sockio_protocol::Frame) + Send + Sync>;

/// The application's verdict on a handshake request.
pub(crate) type AllowRequest = Arc<dyn Fn(&sockio_protocol::HttpRequest) -> bool + Send + Sync>;

#[derive(Default, Clone)]
pub(crate) struct Registry {
    namespaces: NameMap<NsHandlers>,
    pub(crate) default_error: Option<ErasedError>,
    /// Decides on every new session's handshake request (`SocketIo::allow_request`).
    pub(crate) allow_request: Option<AllowRequest>,
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
    pub(crate) fn catch_all(&self) -> Option<&Erased> {
        self.namespaces.get("*").and_then(|n| n.events.get("*"))
    }
}
