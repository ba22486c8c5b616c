//! Connect handlers see the auth payload and may refuse: CONNECT_ERROR with message and data.

use serde::Deserialize;
use sockio::{json, ConnectError, Context, SocketIo};

#[derive(Deserialize)]
struct Auth {
    token: String,
}

#[test]
fn connect_handler_accepts_and_rejects() {
    let io = SocketIo::new();
    io.on_connect(|ctx: Context, auth: Option<Auth>| match auth {
        Some(a) if a.token == "secret" => {
            ctx.emit("welcome", ctx.sid().to_string()).unwrap();
            Ok(())
        }
        Some(_) => Err(ConnectError::new("bad token").with_data(json!({"retry": false}))),
        None => Err(ConnectError::new("missing token")),
    });
    let mut ok = io
        .test_client()
        .auth(json!({"token": "secret"}))
        .connect(&io);
    assert!(ok.is_connected("/"));
    let got = ok.get_received("/");
    assert_eq!(got[0].name, "welcome");
    assert_eq!(got[0].args[0], json!(ok.sid("/").unwrap()));

    let mut bad = io.test_client().auth(json!({"token": "nope"})).connect(&io);
    assert!(!bad.is_connected("/"));
    let err = bad.connect_error("/").unwrap();
    assert_eq!(err.message, "bad token");
    assert_eq!(err.data, Some(json!({"retry": false})));

    let missing = io.test_client().connect(&io);
    assert_eq!(missing.connect_error("/").unwrap().message, "missing token");
    assert_eq!(io.connected_count(), 1);
}

#[test]
fn returning_false_refuses_and_unknown_namespaces_are_refused() {
    let io = SocketIo::new();
    io.of("/private").on_connect(|_: Context| false);
    let c = io.test_client().namespace("/private").connect(&io);
    assert!(c.connect_error("/private").is_some());
    let c = io.test_client().namespace("/nowhere").connect(&io);
    assert_eq!(
        c.connect_error("/nowhere").unwrap().message,
        "Invalid namespace"
    );
}

#[test]
fn async_connect_handler() {
    let io = SocketIo::new();
    io.on_connect(|ctx: Context| async move {
        ctx.io().sleep(std::time::Duration::from_millis(5)).await;
        ctx.request().query("room").is_some()
    });
    let mut c = io.test_client().query("room=1").connect(&io);
    assert!(c.is_connected("/"));
    let mut d = io.test_client().connect(&io);
    assert!(!d.is_connected("/"));
}
