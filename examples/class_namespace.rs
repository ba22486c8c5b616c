//! Class-based namespaces: one type handles connect, disconnect and the events of `/chat`.

use sockio::{
    ConnectError, Context, DisconnectReason, HandlerError, Namespace, Reply, SocketIo, Value,
};

struct Chat;

impl Namespace for Chat {
    fn on_connect(&self, ctx: &Context, _auth: Option<&Value>) -> Result<(), ConnectError> {
        println!("{} joined /chat", ctx.sid());
        Ok(())
    }

    fn on_disconnect(&self, ctx: &Context, reason: DisconnectReason) {
        println!("{} left /chat: {reason}", ctx.sid());
    }

    fn on_event(&self, ctx: &Context) -> Result<Reply, HandlerError> {
        match ctx.event() {
            Some("my_event") => {
                let text: String = ctx.arg(0)?;
                ctx.emit("my_response", text.to_uppercase())?;
                Reply::with(text.len())
            }
            _ => Ok(Reply::Unhandled),
        }
    }
}

fn app() -> SocketIo {
    let io = SocketIo::new();
    io.on_namespace("/chat", Chat);
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
