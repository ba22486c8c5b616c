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

/// python-socketio sends `{}` when `connect()` got no `auth`: an `Option<T>` parameter reads it
/// as `None` and the handler runs (a cookie fallback works); a payload that does not fit still
/// refuses with a message that says why.
#[test]
fn empty_auth_is_none_for_an_optional_typed_parameter() {
    let io = SocketIo::new();
    io.on_connect(|ctx: Context, auth: Option<Auth>| match auth {
        Some(a) if a.token == "secret" => Ok(()),
        Some(_) => Err(ConnectError::new("bad token")),
        None if ctx.request().cookie("session") == Some("ok") => Ok(()),
        None => Err(ConnectError::new("no auth and no cookie")),
    });
    // `{}` as python-socketio sends it, with the cookie fallback
    let mut c = io
        .test_client()
        .auth(json!({}))
        .header("cookie", "session=ok")
        .connect(&io);
    assert!(c.is_connected("/"), "{:?}", c.connect_error("/"));
    // `{}` without the cookie: the handler ran and refused
    let c = io.test_client().auth(json!({})).connect(&io);
    assert_eq!(
        c.connect_error("/").unwrap().message,
        "no auth and no cookie"
    );
    // none at all, as the JavaScript client without `auth`
    let c = io.test_client().connect(&io);
    assert_eq!(
        c.connect_error("/").unwrap().message,
        "no auth and no cookie"
    );
    // a payload of the wrong shape
    let c = io.test_client().auth(json!({"token": 5})).connect(&io);
    let message = &c.connect_error("/").unwrap().message;
    assert!(
        message.starts_with("invalid auth payload: invalid type: integer `5`"),
        "{message}"
    );
}

/// A required (non-`Option`) typed auth still refuses an empty payload, saying which field.
#[test]
fn empty_auth_refuses_a_required_typed_parameter() {
    let io = SocketIo::new();
    io.on_connect(|_: Context, _auth: Auth| true);
    let c = io.test_client().auth(json!({})).connect(&io);
    let message = &c.connect_error("/").unwrap().message;
    assert!(message.contains("missing field `token`"), "{message}");
}
