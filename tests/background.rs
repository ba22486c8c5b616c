//! Background tasks and sleeps on the server's runtime.

use std::time::Duration;

use sockio::{SocketIo, SocketIoTestClient};

#[test]
fn background_task_emits() {
    let io = SocketIo::new();
    let mut c = SocketIoTestClient::new(&io);
    let (tx, rx) = std::sync::mpsc::channel();
    let io2 = io.clone();
    io.start_background_task(async move {
        for i in 0..3 {
            io2.sleep(Duration::from_millis(10)).await;
            io2.emit("tick", i).unwrap();
        }
        tx.send(()).unwrap();
    });
    rx.recv_timeout(Duration::from_secs(5)).unwrap();
    let ticks: Vec<_> = c
        .get_received("/")
        .into_iter()
        .map(|r| r.args[0].clone())
        .collect();
    assert_eq!(ticks, vec![0, 1, 2]);
    // The runtime Cargo features chose: tokio wins over threaded.
    let expected = if cfg!(feature = "tokio") {
        "tokio"
    } else {
        "threading"
    };
    assert_eq!(io.async_mode(), expected);
}
