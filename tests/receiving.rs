//! Receiving: `message`, `json`, named events with one or several typed arguments, sync
//! closures and async functions.

use std::sync::{Arc, Mutex};

use serde::Deserialize;
use sockio::{json, Context, SocketIo, SocketIoTestClient, Value};

#[test]
fn message_json_and_named_events() {
    let io = SocketIo::new();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let s = seen.clone();
    io.on("message", move |_: Context, msg: String| {
        s.lock().unwrap().push(format!("message:{msg}"));
    });
    let s = seen.clone();
    io.on("json", move |_: Context, v: Value| {
        s.lock().unwrap().push(format!("json:{v}"));
    });
    let s = seen.clone();
    io.on(
        "move",
        move |ctx: Context, x: i32, y: i32, label: Option<String>| {
            s.lock()
                .unwrap()
                .push(format!("{}:{x},{y},{label:?}", ctx.event().unwrap()));
        },
    );
    let mut c = SocketIoTestClient::new(&io);
    c.send("hello");
    c.emit("json", json!({"a": 1}));
    c.emit("move", (3, 4));
    c.emit("move", (5, 6, "there"));
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            "message:hello",
            "json:{\"a\":1}",
            "move:3,4,None",
            "move:5,6,Some(\"there\")"
        ]
    );
}

#[derive(Deserialize, Debug, PartialEq)]
struct Point {
    x: f64,
    y: f64,
}

async fn async_handler(ctx: Context, p: Point) -> f64 {
    ctx.io().sleep(std::time::Duration::from_millis(5)).await;
    p.x + p.y
}

#[test]
fn async_functions_and_structs() {
    let io = SocketIo::new();
    io.on("sum", async_handler);
    let mut c = SocketIoTestClient::new(&io);
    let ack = c
        .emit_with_ack("/", "sum", json!({"x": 1.5, "y": 2.0}))
        .unwrap();
    assert_eq!(ack.get::<f64>(0).unwrap(), 3.5);
}

#[test]
fn events_of_one_client_are_handled_in_order() {
    let io = SocketIo::new();
    let seen: Arc<Mutex<Vec<u32>>> = Arc::default();
    let s = seen.clone();
    io.on("n", move |ctx: Context, n: u32| {
        let s = s.clone();
        async move {
            // later events must wait for this one even though it sleeps
            ctx.io()
                .sleep(std::time::Duration::from_millis((10 - n as u64) * 2))
                .await;
            s.lock().unwrap().push(n);
        }
    });
    let mut c = SocketIoTestClient::new(&io);
    for n in 0..10 {
        c.emit("n", n);
    }
    c.get_received("/");
    assert_eq!(*seen.lock().unwrap(), (0..10).collect::<Vec<_>>());
}
