//! Class-based namespaces: one type handles connect, disconnect and the events of `/chat`.

use std::sync::atomic::{AtomicUsize, Ordering};

use sockio::{
    ConnectError, Context, DisconnectReason, EmitError, Events, Namespace, SocketIo, Value,
};

#[derive(Default)]
struct Chat {
    messages: AtomicUsize,
}

impl Chat {
    // Flask-SocketIO's `def on_my_event(self, data)`
    fn on_my_event(&self, ctx: Context, text: String) -> Result<usize, EmitError> {
        let n = self.messages.fetch_add(1, Ordering::Relaxed) + 1;
        ctx.emit("my_response", (text.to_uppercase(), n))?;
        Ok(text.len()) // the acknowledgement
    }
}

impl Namespace for Chat {
    fn events(events: &mut Events<Self>) {
        events.on("my_event", Chat::on_my_event);
    }

    fn on_connect(&self, ctx: &Context, _auth: Option<&Value>) -> Result<(), ConnectError> {
        println!("{} joined /chat", ctx.sid());
        Ok(())
    }

    fn on_disconnect(&self, ctx: &Context, reason: DisconnectReason) {
        println!("{} left /chat: {reason}", ctx.sid());
    }
}

fn app() -> SocketIo {
    let io = SocketIo::new();
    io.on_namespace("/chat", Chat::default());
    io
}

fn demo(io: &SocketIo) {
    let mut c = io.test_client().namespace("/chat").connect(io);
    println!(
        "ack: {:?}",
        c.emit_with_ack("/chat", "my_event", "hello")
            .unwrap()
            .values()
    );
    println!("received: {:?}", c.get_received("/chat"));
    c.disconnect("/chat");
}

/// `cargo run --example NAME -- serve` serves on 127.0.0.1:5000; without it, the in-memory demo.
#[tokio::main]
async fn main() -> std::io::Result<()> {
    let io = app();
    if std::env::args().any(|a| a == "serve") {
        println!(
            "serving on http://127.0.0.1:5000 (async_mode {})",
            io.async_mode()
        );
        return io.run("127.0.0.1:5000").await;
    }
    demo(&io);
    Ok(())
}
