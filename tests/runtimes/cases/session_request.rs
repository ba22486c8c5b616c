//! The per-connection session, and the handshake request: headers, query, cookies and the
//! peer's address.

use serde_json::json;
use sockio::Context;

use crate::{Client, Rt};

pub fn session_and_handshake_request(rt: &Rt) {
    let io = rt.io();
    io.on("set", |ctx: Context, name: String| {
        ctx.session_set("name", name)
    });
    io.on("get", |ctx: Context| ctx.session_get::<String>("name"));
    io.on("forget", |ctx: Context| ctx.session_remove("name"));
    io.on("whoami", |ctx: Context| {
        let r = ctx.request();
        let peer = r.peer_addr().expect("a peer address");
        (
            r.header("x-client").unwrap_or_default().to_string(),
            r.cookie("theme").unwrap_or_default().to_string(),
            r.query("token").unwrap_or_default(),
            peer.ip().to_string(),
            peer.port() != 0,
            r.path().to_string(),
        )
    });
    let served = rt.serve(&io);
    let mut opts = rt.options();
    opts.headers = vec![
        ("X-Client".into(), "tests/1.0".into()),
        ("Cookie".into(), "theme=dark; other=1".into()),
    ];
    opts.query = "token=t%20k".into();
    let mut a = Client::connect(served.addr, opts, "/", None);
    let mut b = rt.client(&served);

    a.emit("/", "set", json!(["ada"]));
    assert_eq!(a.emit_ack("/", "get", json!([])), vec![json!("ada")]);
    assert_eq!(b.emit_ack("/", "get", json!([])), vec![json!(null)]);
    assert_eq!(a.emit_ack("/", "forget", json!([])), vec![json!("ada")]);
    assert_eq!(a.emit_ack("/", "get", json!([])), vec![json!(null)]);
    assert_eq!(
        a.emit_ack("/", "whoami", json!([])),
        vec![
            json!("tests/1.0"),
            json!("dark"),
            json!("t k"),
            json!("127.0.0.1"),
            json!(true),
            json!("/socket.io/")
        ]
    );
}
