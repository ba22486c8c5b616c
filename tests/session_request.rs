//! The per-connection session and the handshake request (headers, cookies, query, peer).

use sockio::{Context, SocketIo};

#[test]
fn session_persists_between_events() {
    let io = SocketIo::new();
    io.on("set", |ctx: Context, name: String| {
        ctx.session_set("name", name).unwrap()
    });
    io.on("get", |ctx: Context| ctx.session_get::<String>("name"));
    let mut a = io.test_client().connect(&io);
    let mut b = io.test_client().connect(&io);
    a.emit("set", "ada");
    assert_eq!(
        a.emit_with_ack("/", "get", ())
            .unwrap()
            .get::<Option<String>>(0)
            .unwrap(),
        Some("ada".into())
    );
    assert_eq!(
        b.emit_with_ack("/", "get", ())
            .unwrap()
            .get::<Option<String>>(0)
            .unwrap(),
        None
    );
}

#[test]
fn handshake_request_is_visible() {
    let io = SocketIo::new();
    io.on("whoami", |ctx: Context| {
        let r = ctx.request();
        (
            r.header("user-agent").unwrap_or_default().to_string(),
            r.cookie("theme").unwrap_or_default().to_string(),
            r.query("token").unwrap_or_default(),
            r.peer_addr()
                .map(|a| a.ip().to_string())
                .unwrap_or_default(),
        )
    });
    let mut c = io
        .test_client()
        .header("User-Agent", "tests/1.0")
        .header("Cookie", "theme=dark; x=y")
        .query("token=t%20k")
        .connect(&io);
    let ack = c.emit_with_ack("/", "whoami", ()).unwrap();
    let got: Vec<String> = (0..4).map(|i| ack.get(i).unwrap()).collect();
    assert_eq!(got, vec!["tests/1.0", "dark", "t k", "127.0.0.1"]);
}
