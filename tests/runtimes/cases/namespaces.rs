//! Namespaces share one connection but not their events, rooms or emits; unknown ones are
//! refused.

use std::time::Duration;

use serde_json::json;
use sockio::Context;

use crate::Rt;

pub fn namespaces_are_separate(rt: &Rt) {
    let io = rt.io();
    io.on("where", |ctx: Context| ctx.namespace().to_string());
    io.of("/chat")
        .on("where", |ctx: Context| format!("chat {}", ctx.namespace()));
    io.of("/chat").on("shout", |ctx: Context, text: String| {
        ctx.broadcast().emit("shout", text)
    });
    let served = rt.serve(&io);
    let mut a = rt.client(&served);
    let chat_sid = a.join("/chat", None).unwrap();
    assert_ne!(chat_sid, a.sid("/"), "each namespace has its own sid");
    let mut b = rt.client(&served);

    assert_eq!(a.emit_ack("/", "where", json!([])), vec![json!("/")]);
    assert_eq!(
        a.emit_ack("/chat", "where", json!([])),
        vec![json!("chat /chat")]
    );
    a.emit("/chat", "shout", json!(["hey"]));
    assert_eq!(a.expect("/chat", "shout"), vec![json!("hey")]);
    io.of("/chat").emit("news", 1).unwrap();
    io.to_all("/").emit("root news", 2).unwrap();
    assert_eq!(a.expect("/chat", "news"), vec![json!(1)]);
    assert_eq!(a.expect("/", "root news"), vec![json!(2)]);
    // b is only in `/`.
    assert_eq!(b.expect("/", "root news"), vec![json!(2)]);
    b.no_event(Duration::from_millis(150));

    // An emit addressed to a sid of another namespace.
    io.to(chat_sid)
        .namespace("/chat")
        .emit("for you", ())
        .unwrap();
    assert_eq!(a.expect("/chat", "for you"), Vec::<sockio::Value>::new());

    let refused = b.join("/nope", None).unwrap_err();
    assert_eq!(refused["message"], "Invalid namespace");
    // Leaving one namespace keeps the others.
    a.leave("/chat");
    assert_eq!(a.emit_ack("/", "where", json!([])), vec![json!("/")]);
}
