//! Disconnect handlers get the reason; disconnect() from a handler or from outside.

use std::sync::{Arc, Mutex};

use sockio::{Context, DisconnectReason, SocketIo, SocketIoTestClient};

#[test]
fn disconnect_reasons() {
    let io = SocketIo::new();
    let reasons: Arc<Mutex<Vec<DisconnectReason>>> = Arc::default();
    let r = reasons.clone();
    io.on_disconnect(move |_: Context, reason: DisconnectReason| r.lock().unwrap().push(reason));
    io.on("kick-me", |ctx: Context| ctx.disconnect());

    let mut a = SocketIoTestClient::new(&io);
    a.disconnect("/");
    let mut b = SocketIoTestClient::new(&io);
    b.emit("kick-me", ());
    assert!(!b.is_connected("/"));
    let mut c = SocketIoTestClient::new(&io);
    let sid = c.sid("/").unwrap().to_string();
    io.disconnect(&sid, "/");
    assert!(!c.is_connected("/"));
    let mut d = SocketIoTestClient::new(&io);
    d.close();
    assert_eq!(
        *reasons.lock().unwrap(),
        vec![
            DisconnectReason::ClientNamespaceDisconnect,
            DisconnectReason::ServerNamespaceDisconnect,
            DisconnectReason::ServerNamespaceDisconnect,
            DisconnectReason::TransportClose,
        ]
    );
    assert_eq!(io.connected_count(), 0);
}
