//! Error handlers: handler errors, bad arguments and panics go to the namespace's error
//! handler or the default one, whose result is the ack; the connection survives.

use serde_json::json;
use sockio::{Context, HandlerError, HandlerErrorKind};

use crate::Rt;

pub fn error_handlers(rt: &Rt) {
    let io = rt.io();
    io.on("fails", |_: Context| {
        Err::<(), _>(HandlerError::new("broken"))
    });
    io.on("typed", |_: Context, n: u8| n);
    io.on("panics", |_: Context| -> i32 { panic!("handler bug") });
    io.on("async fails", |_: Context| async {
        Err::<(), _>(HandlerError::new("later"))
    });
    io.on_error(|ctx: Context, e: HandlerError| {
        let kind = match e.kind() {
            HandlerErrorKind::BadArguments => "bad arguments",
            HandlerErrorKind::Panic => "panic",
            _ => "error",
        };
        (
            ctx.event().unwrap_or_default().to_string(),
            kind,
            e.message().to_string(),
            ctx.args().len(),
        )
    });
    io.of("/other").on("fails", |_: Context| {
        Err::<(), _>(HandlerError::new("there"))
    });
    io.on_error_default(|ctx: Context, e: HandlerError| format!("default {} {e}", ctx.namespace()));
    let served = rt.serve(&io);
    let mut c = rt.client(&served);
    c.join("/other", None).unwrap();

    assert_eq!(
        c.emit_ack("/", "fails", json!([1, 2])),
        vec![json!("fails"), json!("error"), json!("broken"), json!(2)]
    );
    let bad = c.emit_ack("/", "typed", json!(["not a number"]));
    assert_eq!(&bad[..2], &[json!("typed"), json!("bad arguments")]);
    assert_eq!(c.emit_ack("/", "typed", json!([7])), vec![json!(7)]);
    let panicked = c.emit_ack("/", "panics", json!([]));
    assert_eq!(&panicked[..2], &[json!("panics"), json!("panic")]);
    assert_eq!(
        c.emit_ack("/", "async fails", json!([])),
        vec![
            json!("async fails"),
            json!("error"),
            json!("later"),
            json!(0)
        ]
    );
    assert_eq!(
        c.emit_ack("/other", "fails", json!([])),
        vec![json!("default /other there")]
    );
    // Still connected and served.
    assert_eq!(c.emit_ack("/", "typed", json!([1])), vec![json!(1)]);
}
