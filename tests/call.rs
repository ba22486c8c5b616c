//! Server-to-client acknowledgements: emit with a callback, and call with a timeout.

use std::sync::mpsc;
use std::time::Duration;

use sockio::{AckError, Context, SocketIo, SocketIoTestClient};

#[test]
fn emit_with_callback_and_call() {
    let io = SocketIo::new();
    let (tx, rx) = mpsc::channel();
    io.on("start", move |ctx: Context| {
        let tx = tx.clone();
        async move {
            let r = ctx
                .call_timeout("question", "2+2?", Duration::from_secs(5))
                .await;
            tx.send(r.map(|a| a.get::<u32>(0).unwrap())).unwrap();
        }
    });
    let mut c = SocketIoTestClient::new(&io);
    c.emit("start", ());
    let got = c.get_received("/");
    assert_eq!(got[0].name, "question");
    let id = got[0].ack.expect("server asked for an ack");
    c.ack("/", id, 4);
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), Ok(4));

    // a callback from outside any handler
    let sid = c.sid("/").unwrap().to_string();
    let (tx2, rx2) = mpsc::channel();
    io.to(sid)
        .emit_with_ack("ping", (), move |r| tx2.send(r.is_ok()).unwrap())
        .unwrap();
    let got = c.get_received("/");
    c.ack("/", got[0].ack.unwrap(), ());
    assert!(rx2.recv_timeout(Duration::from_secs(5)).unwrap());
}

#[test]
fn call_times_out_and_fails_on_disconnect() {
    let io = SocketIo::new();
    let mut c = SocketIoTestClient::new(&io);
    let sid = c.sid("/").unwrap().to_string();
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    io.to(sid.clone())
        .timeout(Duration::from_millis(100))
        .emit_with_ack("q", (), move |r| tx.send(r.err()).unwrap())
        .unwrap();
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(5)).unwrap(),
        Some(AckError::Timeout)
    );
    io.to(sid.clone())
        .emit_with_ack("q", (), move |r| tx2.send(r.err()).unwrap())
        .unwrap();
    c.close();
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(5)).unwrap(),
        Some(AckError::Disconnected)
    );
    assert!(io
        .to("nobody-has-this-sid")
        .emit_with_ack("q", (), |_| {})
        .is_err());
    assert!(io.to("a").to("b").emit_with_ack("q", (), |_| {}).is_err());
}
