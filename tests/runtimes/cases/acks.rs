//! What a handler returns is the acknowledgement: one value, a tuple, nothing, or the error
//! handler's answer for an `Err`.

use serde_json::json;
use sockio::{Context, HandlerError};

use crate::Rt;

pub fn handler_results_are_acks(rt: &Rt) {
    let io = rt.io();
    io.on("add", |_: Context, a: i32, b: i32| a + b);
    io.on("divmod", |_: Context, a: i32, b: i32| (a / b, a % b));
    io.on("nothing", |_: Context| {});
    io.on(
        "async",
        |_: Context, s: String| async move { s.to_uppercase() },
    );
    io.on("fails", |_: Context| Err::<(), _>(HandlerError::new("no")));
    io.on_error(|_: Context, e: HandlerError| format!("error: {e}"));
    let served = rt.serve(&io);
    let mut c = rt.client(&served);
    assert_eq!(c.emit_ack("/", "add", json!([1, 2])), vec![json!(3)]);
    assert_eq!(
        c.emit_ack("/", "divmod", json!([7, 2])),
        vec![json!(3), json!(1)]
    );
    assert_eq!(
        c.emit_ack("/", "nothing", json!([])),
        Vec::<sockio::Value>::new()
    );
    assert_eq!(c.emit_ack("/", "async", json!(["abc"])), vec![json!("ABC")]);
    assert_eq!(
        c.emit_ack("/", "fails", json!([])),
        vec![json!("error: no")]
    );
    // Acks are matched by id even when several are outstanding.
    let many: Vec<_> = (0..20)
        .map(|i| c.emit_ack("/", "add", json!([i, i])))
        .collect();
    assert_eq!(
        many,
        (0..20).map(|i| vec![json!(2 * i)]).collect::<Vec<_>>()
    );
}
