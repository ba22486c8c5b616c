//! Class-style namespaces: event methods with typed arguments, the `on_event` catch-all,
//! connect/disconnect methods, and function handlers winning over methods.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sockio::{
    ConnectError, Context, DisconnectReason, EmitError, Events, HandlerError, Namespace, Reply,
    SocketIo, Value,
};

#[derive(Default)]
struct Chat {
    connects: AtomicUsize,
    disconnects: AtomicUsize,
    shouts: AtomicUsize,
}

impl Chat {
    fn on_shout(&self, ctx: Context, text: String) -> Result<usize, EmitError> {
        self.shouts.fetch_add(1, Ordering::SeqCst);
        ctx.emit("shouted", text.to_uppercase())?;
        Ok(text.len())
    }

    fn on_add(&self, _: Context, a: i64, b: i64) -> i64 {
        a + b
    }

    fn on_both(&self, _: Context) -> &'static str {
        "from the class"
    }

    async fn on_later(self: Arc<Self>, ctx: Context, ms: u64) -> (u64, usize) {
        ctx.io().sleep(Duration::from_millis(ms)).await;
        (ms, self.shouts.load(Ordering::SeqCst))
    }
}

impl Namespace for Chat {
    fn events(events: &mut Events<Self>) {
        events
            .on("shout", Chat::on_shout)
            .on("add", Chat::on_add)
            .on("both", Chat::on_both)
            .on("later", Chat::on_later);
    }

    fn on_connect(&self, _: &Context, auth: Option<&Value>) -> Result<(), ConnectError> {
        if auth.is_some_and(|a| a["banned"] == true) {
            return Err(ConnectError::new("banned"));
        }
        self.connects.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn on_disconnect(&self, _: &Context, _: DisconnectReason) {
        self.disconnects.fetch_add(1, Ordering::SeqCst);
    }

    fn on_event(&self, ctx: &Context) -> Result<Reply, HandlerError> {
        match ctx.event() {
            Some("anything") => Reply::with(format!("caught {}", ctx.args().len())),
            _ => Ok(Reply::Unhandled),
        }
    }
}

/// Shares the namespace object's counters with the test.
struct Shared(Arc<Chat>);

impl Namespace for Shared {
    fn events(events: &mut Events<Self>) {
        events
            .on("shout", |s: &Shared, ctx: Context, t: String| {
                s.0.on_shout(ctx, t)
            })
            .on("add", |s: &Shared, ctx: Context, a: i64, b: i64| {
                s.0.on_add(ctx, a, b)
            })
            .on("both", |s: &Shared, ctx: Context| s.0.on_both(ctx))
            .on("later", |s: Arc<Shared>, ctx: Context, ms: u64| {
                s.0.clone().on_later(ctx, ms)
            });
    }
    fn on_connect(&self, ctx: &Context, auth: Option<&Value>) -> Result<(), ConnectError> {
        self.0.on_connect(ctx, auth)
    }
    fn on_disconnect(&self, ctx: &Context, reason: DisconnectReason) {
        self.0.on_disconnect(ctx, reason)
    }
    fn on_event(&self, ctx: &Context) -> Result<Reply, HandlerError> {
        self.0.on_event(ctx)
    }
}

#[test]
fn class_namespace_methods_handle_their_events() {
    let io = SocketIo::new();
    let chat = Arc::new(Chat::default());
    io.on_namespace("/chat", Shared(chat.clone()));
    io.of("/chat").on("both", |_: Context| "from the function");

    let mut c = io.test_client().namespace("/chat").connect(&io);
    assert!(c.is_connected("/chat"));

    let ack = c.emit_with_ack("/chat", "shout", "hey").unwrap();
    assert_eq!(ack.get::<usize>(0).unwrap(), 3);
    assert_eq!(c.get_received("/chat")[0].args[0], "HEY");

    let ack = c.emit_with_ack("/chat", "add", (2, 40)).unwrap();
    assert_eq!(ack.get::<i64>(0).unwrap(), 42);

    let ack = c.emit_with_ack("/chat", "later", 5).unwrap();
    assert_eq!(ack.values(), &[Value::from(5), Value::from(1)]);

    // the function handler wins over the method for the same event
    let ack = c.emit_with_ack("/chat", "both", ()).unwrap();
    assert_eq!(ack.get::<String>(0).unwrap(), "from the function");

    // events bound to no method reach on_event
    let ack = c.emit_with_ack("/chat", "anything", (1, 2, 3)).unwrap();
    assert_eq!(ack.get::<String>(0).unwrap(), "caught 3");

    c.disconnect("/chat");

    let banned = io
        .test_client()
        .namespace("/chat")
        .auth(sockio::json!({"banned": true}))
        .connect(&io);
    assert_eq!(banned.connect_error("/chat").unwrap().message, "banned");
    assert_eq!(chat.connects.load(Ordering::SeqCst), 1);
    assert_eq!(chat.disconnects.load(Ordering::SeqCst), 1);
    assert_eq!(chat.shouts.load(Ordering::SeqCst), 1);
}

#[test]
fn methods_can_be_bound_directly_on_the_namespace_type() {
    let io = SocketIo::new();
    io.on_namespace("/direct", Chat::default());
    let mut c = io.test_client().namespace("/direct").connect(&io);
    let ack = c.emit_with_ack("/direct", "add", (1, 2)).unwrap();
    assert_eq!(ack.get::<i64>(0).unwrap(), 3);
    let ack = c.emit_with_ack("/direct", "later", 1).unwrap();
    assert_eq!(ack.values(), &[Value::from(1), Value::from(0)]);
}
