//! `run` (tokio), `run_async_std` (async-std and smol) and `run_blocking` (threads) serve until
//! SIGTERM (or Ctrl-C), then shut down gracefully and return; `io.shutdown()` ends them too.
//! nextest runs each test in a process of its own, so the signal reaches only that test.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use sockio::SocketIo;

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn wait_listening(addr: SocketAddr) {
    let end = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < end, "the server never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn sigterm_self() {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Starts `run` on a thread, triggers `stop` once it listens, and checks that it returned Ok
/// in time.
fn stops(
    run: impl FnOnce(SocketIo, String) -> std::io::Result<()> + Send + 'static,
    io: SocketIo,
    stop: impl FnOnce(&SocketIo),
) {
    let addr = free_addr();
    let (tx, rx) = std::sync::mpsc::channel();
    let server = io.clone();
    std::thread::spawn(move || {
        let _ = tx.send(run(server, addr.to_string()));
    });
    wait_listening(addr);
    stop(&io);
    let returned = rx
        .recv_timeout(Duration::from_secs(15))
        .expect("run returned");
    returned.unwrap();
    // It no longer listens.
    assert!(TcpStream::connect(addr).is_err());
}

#[cfg(feature = "tokio")]
fn run_tokio(io: SocketIo, addr: String) -> std::io::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
        .block_on(io.run(&addr))
}

#[cfg(feature = "tokio")]
#[test]
fn tokio_run_stops_on_sigterm() {
    stops(run_tokio, SocketIo::new(), |_| sigterm_self());
}

#[cfg(feature = "tokio")]
#[test]
fn tokio_run_stops_on_io_shutdown() {
    stops(run_tokio, SocketIo::new(), SocketIo::shutdown);
}

#[cfg(feature = "async-std")]
fn async_std_io() -> SocketIo {
    SocketIo::builder()
        .runtime(sockio::runtime::AsyncStd)
        .build()
}

#[cfg(feature = "async-std")]
#[test]
fn async_std_run_stops_on_sigterm() {
    let run = |io: SocketIo, addr: String| async_std::task::block_on(io.run_async_std(&addr));
    stops(run, async_std_io(), |_| sigterm_self());
}

#[cfg(feature = "async-std")]
#[test]
fn smol_run_stops_on_io_shutdown() {
    let run = |io: SocketIo, addr: String| smol::block_on(io.run_async_std(&addr));
    stops(run, async_std_io(), SocketIo::shutdown);
}

#[cfg(feature = "threaded")]
fn threaded_io() -> SocketIo {
    SocketIo::builder()
        .runtime(sockio::runtime::Threaded)
        .build()
}

#[cfg(feature = "threaded")]
#[test]
fn threaded_run_stops_on_sigterm() {
    stops(
        |io, addr| io.run_blocking(&addr),
        threaded_io(),
        |_| sigterm_self(),
    );
}

#[cfg(feature = "threaded")]
#[test]
fn threaded_run_stops_on_io_shutdown() {
    stops(
        |io, addr| io.run_blocking(&addr),
        threaded_io(),
        SocketIo::shutdown,
    );
}
