//! A handler's return value is the acknowledgement: nothing, one value, several (tuple).

use sockio::{json, Context, SocketIo, SocketIoTestClient};

#[test]
fn return_values_become_acks() {
    let io = SocketIo::new();
    io.on("none", |_: Context| {});
    io.on("one", |_: Context, s: String| s.to_uppercase());
    io.on("two", |_: Context, a: i32, b: i32| (a + b, a * b));
    io.on("json", |_: Context| json!({"ok": true}));
    let mut c = SocketIoTestClient::new(&io);
    assert!(c.emit_with_ack("/", "none", ()).unwrap().is_empty());
    assert_eq!(
        c.emit_with_ack("/", "one", "abc").unwrap().values(),
        &[json!("ABC")]
    );
    assert_eq!(
        c.emit_with_ack("/", "two", (3, 4)).unwrap().values(),
        &[json!(7), json!(12)]
    );
    assert_eq!(
        c.emit_with_ack("/", "json", ()).unwrap().values(),
        &[json!({"ok": true})]
    );
}

#[test]
fn unhandled_event_with_ack_request_gets_an_empty_ack() {
    let io = SocketIo::new();
    let mut c = SocketIoTestClient::new(&io);
    assert!(c
        .emit_with_ack("/", "nobody-listens", 1)
        .unwrap()
        .is_empty());
}
