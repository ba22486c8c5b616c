//! Connection state recovery refused: past the window, after a namespace disconnect, or with
//! recovery off, a reconnecting client gets a new socket (new sid, no rooms, empty session).

use std::time::Duration;

use sockio::{Context, SocketIo, SocketIoTestClient};

fn server(io: &SocketIo) {
    io.on_connect(|ctx: Context| {
        if !ctx.recovered() {
            ctx.join_room("red");
        }
    });
}

#[test]
fn past_the_window_a_new_socket() {
    let io = SocketIo::builder()
        .connection_state_recovery(Duration::from_millis(200))
        .build();
    server(&io);
    let mut c = SocketIoTestClient::new(&io);
    let sid = c.sid("/").unwrap().to_string();
    c.drop_connection();
    io.to("red").emit("missed", ()).unwrap();
    std::thread::sleep(Duration::from_millis(400));
    assert!(c.reconnect());
    assert!(!c.recovered("/"));
    let new_sid = c.sid("/").unwrap().to_string();
    assert_ne!(new_sid, sid);
    assert!(c.get_received("/").is_empty(), "nothing replayed");
    assert_eq!(io.rooms(&new_sid, "/"), [new_sid.clone(), "red".into()]);
}

#[test]
fn leaving_the_namespace_is_not_recoverable() {
    let io = SocketIo::builder().with_connection_state_recovery().build();
    server(&io);
    let mut c = SocketIoTestClient::new(&io);
    let sid = c.sid("/").unwrap().to_string();
    c.disconnect("/");
    assert!(c.connect("/", None));
    assert!(!c.recovered("/"));
    assert_ne!(c.sid("/"), Some(sid.as_str()));

    // The server disconnecting it is not either.
    let sid = c.sid("/").unwrap().to_string();
    io.disconnect(&sid, "/");
    assert!(!c.is_connected("/"));
    assert!(c.connect("/", None));
    assert!(!c.recovered("/"));
}

#[test]
fn off_by_default() {
    let io = SocketIo::new();
    server(&io);
    let mut c = SocketIoTestClient::new(&io);
    let sid = c.sid("/").unwrap().to_string();
    io.emit("x", "last").unwrap();
    let args: Vec<_> = c.get_received("/").into_iter().map(|r| r.args).collect();
    assert_eq!(
        args,
        [vec![serde_json::json!("last")]],
        "no offset, nothing stripped"
    );
    c.drop_connection();
    io.emit("missed", ()).unwrap();
    assert!(c.reconnect());
    assert!(!c.recovered("/"));
    assert_ne!(c.sid("/"), Some(sid.as_str()));
    assert!(c.get_received("/").is_empty());
}
