//! Receiving: `message` (send), `json`, named events with several arguments, typed structs,
//! async handlers and the catch-all.

use serde::Deserialize;
use serde_json::json;
use sockio::{Context, Value};

use crate::Rt;

#[derive(Deserialize)]
struct Point {
    x: f64,
    y: f64,
}

pub fn events_with_arguments(rt: &Rt) {
    let io = rt.io();
    io.on("message", |ctx: Context, text: String| {
        ctx.send(format!("got {text}"))
    });
    io.on("json", |ctx: Context, v: Value| ctx.emit("json back", v));
    io.on(
        "move",
        |ctx: Context, x: i32, y: i32, label: Option<String>| {
            ctx.emit("moved", (x + y, label.unwrap_or_default()))
        },
    );
    io.on("measure", |ctx: Context, p: Point| async move {
        ctx.io().sleep(std::time::Duration::from_millis(5)).await;
        (p.x * p.x + p.y * p.y).sqrt()
    });
    io.on("*", |ctx: Context| {
        let event = ctx.event().unwrap_or_default().to_string();
        ctx.emit("caught", (event, ctx.args().len()))
    });
    let served = rt.serve(&io);
    let mut c = rt.client(&served);

    c.emit("/", "message", json!(["hi"]));
    assert_eq!(c.expect("/", "message"), vec![json!("got hi")]);
    c.emit("/", "json", json!([{"a": [1, 2, {"b": null}]}]));
    assert_eq!(
        c.expect("/", "json back"),
        vec![json!({"a": [1, 2, {"b": null}]})]
    );
    c.emit("/", "move", json!([3, 4, "here"]));
    assert_eq!(c.expect("/", "moved"), vec![json!(7), json!("here")]);
    c.emit("/", "move", json!([1, 1]));
    assert_eq!(c.expect("/", "moved"), vec![json!(2), json!("")]);
    assert_eq!(
        c.emit_ack("/", "measure", json!([{"x": 3.0, "y": 4.0}])),
        vec![json!(5.0)]
    );
    c.emit("/", "anything else", json!([1, 2, 3]));
    assert_eq!(
        c.expect("/", "caught"),
        vec![json!("anything else"), json!(3)]
    );

    // Events of one client are handled in order, one at a time.
    for i in 0..50 {
        c.emit("/", "message", json!([i.to_string()]));
    }
    for i in 0..50 {
        assert_eq!(c.expect("/", "message"), vec![json!(format!("got {i}"))]);
    }
}
