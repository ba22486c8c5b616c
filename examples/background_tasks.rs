//! Background tasks, sleeps and emits from outside handlers (another task or thread).

use std::time::Duration;

use sockio::{SocketIo, SocketIoTestClient};

fn app() -> SocketIo {
    let io = SocketIo::new();
    let ticker = io.clone();
    io.start_background_task(async move {
        for i in 0.. {
            ticker.sleep(Duration::from_millis(200)).await;
            if ticker.emit("tick", i).is_err() {
                break;
            }
        }
    });
    io
}

fn demo(io: &SocketIo) {
    let mut c = SocketIoTestClient::new(io);
    let from_thread = io.clone();
    std::thread::spawn(move || from_thread.emit("hello", "from a thread").unwrap())
        .join()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    for r in c.get_received("/") {
        println!("{} {:?}", r.name, r.args);
    }
}

/// `cargo run --example NAME -- serve` serves on 127.0.0.1:5000; without it, the in-memory demo.
#[tokio::main]
async fn main() -> std::io::Result<()> {
    let io = app();
    if std::env::args().any(|a| a == "serve") {
        println!(
            "serving on http://127.0.0.1:5000 (async_mode {})",
            io.async_mode()
        );
        return io.run("127.0.0.1:5000").await;
    }
    demo(&io);
    Ok(())
}
