//! Error handlers per namespace and a default one; they see the event and its arguments.

use std::sync::{Arc, Mutex};

use sockio::{json, Context, HandlerError, HandlerErrorKind, SocketIo, SocketIoTestClient};

#[test]
fn namespace_and_default_error_handlers() {
    let io = SocketIo::new();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    io.on("fail", |_: Context, _n: u32| -> Result<(), HandlerError> {
        Err(HandlerError::new("boom"))
    });
    io.on("typed", |_: Context, _n: u32| {});
    io.on("panics", |_: Context| -> () { panic!("handler bug") });
    let s = seen.clone();
    io.on_error(move |ctx: Context, e: HandlerError| {
        s.lock().unwrap().push(format!(
            "{}{:?}:{:?}:{}",
            ctx.event().unwrap(),
            ctx.args(),
            e.kind(),
            e.message()
        ));
        "recovered"
    });
    io.of("/other")
        .on("fail", |_: Context| -> Result<(), HandlerError> {
            Err(HandlerError::new("other boom"))
        });
    let s = seen.clone();
    io.on_error_default(move |ctx: Context, e: HandlerError| {
        s.lock()
            .unwrap()
            .push(format!("default {} {}", ctx.namespace(), e));
    });

    let mut c = SocketIoTestClient::new(&io);
    let ack = c.emit_with_ack("/", "fail", 7).unwrap();
    assert_eq!(ack.values(), &[json!("recovered")]);
    c.emit("typed", "not a number");
    c.emit("panics", ());
    let mut o = io.test_client().namespace("/other").connect(&io);
    o.emit_to("/other", "fail", ());
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0], "fail[Number(7)]:Handler:boom");
    assert!(
        seen[1].starts_with("typed[String(\"not a number\")]:BadArguments:"),
        "{}",
        seen[1]
    );
    assert!(
        seen[2].starts_with(&format!("panics[]:{:?}", HandlerErrorKind::Panic)),
        "{}",
        seen[2]
    );
    assert_eq!(seen[3], "default /other other boom");
    // the connection survived all of it
    assert!(c.is_connected("/"));
}
