//! Class-style namespaces, and function handlers winning over their methods.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use sockio::{
    ConnectError, Context, DisconnectReason, HandlerError, Namespace, Reply, SocketIo, Value,
};

struct Chat {
    connects: Arc<AtomicUsize>,
    disconnects: Arc<AtomicUsize>,
}

impl Namespace for Chat {
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
            Some("shout") => {
                let text: String = ctx.arg(0)?;
                ctx.emit("shouted", text.to_uppercase())?;
                Reply::with(text.len())
            }
            Some("both") => Reply::with("from the class"),
            _ => Ok(Reply::Unhandled),
        }
    }
}

#[test]
fn class_namespace_handles_its_events() {
    let io = SocketIo::new();
    let connects = Arc::new(AtomicUsize::new(0));
    let disconnects = Arc::new(AtomicUsize::new(0));
    io.on_namespace(
        "/chat",
        Chat {
            connects: connects.clone(),
            disconnects: disconnects.clone(),
        },
    );
    io.of("/chat").on("both", |_: Context| "from the function");

    let mut c = io.test_client().namespace("/chat").connect(&io);
    assert!(c.is_connected("/chat"));
    let ack = c.emit_with_ack("/chat", "shout", "hey").unwrap();
    assert_eq!(ack.get::<usize>(0).unwrap(), 3);
    assert_eq!(c.get_received("/chat")[0].args[0], "HEY");
    let ack = c.emit_with_ack("/chat", "both", ()).unwrap();
    assert_eq!(ack.get::<String>(0).unwrap(), "from the function");
    c.disconnect("/chat");

    let banned = io
        .test_client()
        .namespace("/chat")
        .auth(sockio::json!({"banned": true}))
        .connect(&io);
    assert_eq!(banned.connect_error("/chat").unwrap().message, "banned");
    assert_eq!(connects.load(Ordering::SeqCst), 1);
    assert_eq!(disconnects.load(Ordering::SeqCst), 1);
}
