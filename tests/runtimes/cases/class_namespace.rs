//! Class-style namespaces: one object handles connect, events and disconnect; a function
//! handler for the same event wins.

use std::sync::mpsc;
use std::sync::Mutex;

use serde_json::json;
use sockio::{ConnectError, Context, DisconnectReason, HandlerError, Namespace, Reply, Value};

use crate::Rt;

struct Chat {
    left: Mutex<mpsc::Sender<String>>,
}

impl Namespace for Chat {
    fn on_connect(&self, ctx: &Context, auth: Option<&Value>) -> Result<(), ConnectError> {
        match auth.and_then(|a| a["name"].as_str()) {
            Some(name) => {
                ctx.session_set("name", name)?;
                Ok(())
            }
            None => Err(ConnectError::new("name required")),
        }
    }

    fn on_disconnect(&self, ctx: &Context, reason: DisconnectReason) {
        let name: String = ctx.session_get("name").unwrap_or_default();
        let _ = self.left.lock().unwrap().send(format!("{name}: {reason}"));
    }

    fn on_event(&self, ctx: &Context) -> Result<Reply, HandlerError> {
        match ctx.event() {
            Some("say") => {
                let text: String = ctx.arg(0)?;
                let name: String = ctx.session_get("name").unwrap_or_default();
                ctx.broadcast().emit("said", (name, text.clone()))?;
                Reply::with(text.len())
            }
            Some("overridden") => Reply::with("class"),
            _ => Ok(Reply::Unhandled),
        }
    }
}

pub fn class_namespaces(rt: &Rt) {
    let io = rt.io();
    let (tx, rx) = mpsc::channel();
    io.on_namespace(
        "/chat",
        Chat {
            left: Mutex::new(tx),
        },
    );
    io.of("/chat").on("overridden", |_: Context| "function");
    let served = rt.serve(&io);

    let mut c = rt.client_to(&served, "/chat", Some(json!({"name": "ada"})));
    assert_eq!(c.emit_ack("/chat", "say", json!(["hello"])), vec![json!(5)]);
    assert_eq!(
        c.expect("/chat", "said"),
        vec![json!("ada"), json!("hello")]
    );
    assert_eq!(
        c.emit_ack("/chat", "overridden", json!([])),
        vec![json!("function")]
    );
    // Unhandled events are acknowledged with nothing.
    assert!(c.emit_ack("/chat", "unknown", json!([])).is_empty());
    let mut other = crate::Client::open(served.addr, rt.options());
    assert_eq!(
        other.join("/chat", None).unwrap_err()["message"],
        "name required"
    );
    c.leave("/chat");
    assert_eq!(
        rx.recv_timeout(crate::STEP).unwrap(),
        "ada: client namespace disconnect"
    );
}
