//! Serving a [`SocketIo`] on 127.0.0.1:0 in the background, one function per runtime, and
//! [`Rt`]: everything a behaviour test needs to know about the runtime and transport it runs
//! with.

use std::net::{SocketAddr, TcpListener};
use std::thread::JoinHandle;

use serde_json::Value;
use sockio::{SocketIo, SocketIoBuilder};

use super::client::{Client, Options, Transport};

/// A server running in the background; dropping it shuts it down and waits for it.
pub struct Served {
    pub addr: SocketAddr,
    stop: Option<Box<dyn FnOnce() + Send>>,
    thread: Option<JoinHandle<()>>,
}

impl Served {
    /// Shuts the server down gracefully and waits until serving returned.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop();
        }
        if let Some(t) = self.thread.take() {
            t.join().expect("the server thread ends cleanly");
        }
    }
}

impl Served {
    /// Waits up to `timeout` for serving to return by itself (nobody called `stop`): true
    /// when it did.
    #[allow(dead_code)] // not every test crate uses it
    pub fn returned_within(&mut self, timeout: std::time::Duration) -> bool {
        let end = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < end {
            if self.thread.as_ref().is_none_or(|t| t.is_finished()) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        false
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.shutdown();
        }
    }
}

fn listener() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    (l, addr)
}

/// Serves `io` with `SocketIo::serve` on a tokio runtime that outlives it (as an
/// application's does), so that the tasks serving's end leaves behind, such as disconnect
/// handlers, still run.
#[cfg(feature = "tokio")]
pub fn tokio(io: &SocketIo) -> Served {
    static RT: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    let rt = RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    });
    let (l, addr) = listener();
    l.set_nonblocking(true).unwrap();
    let (tx, rx) = async_channel::bounded::<()>(1);
    let (done_tx, done) = std::sync::mpsc::channel();
    let io = io.clone();
    rt.spawn(async move {
        let l = tokio::net::TcpListener::from_std(l).unwrap();
        let stop = async move {
            let _ = rx.recv().await;
        };
        io.serve(l, stop).await.unwrap();
        let _ = done_tx.send(());
    });
    let thread = std::thread::spawn(move || done.recv().expect("serve returns"));
    Served {
        addr,
        stop: Some(Box::new(move || {
            let _ = tx.try_send(());
        })),
        thread: Some(thread),
    }
}

/// Serves `io` with `SocketIo::serve_blocking` on a thread.
#[cfg(feature = "threaded")]
pub fn threaded(io: &SocketIo) -> Served {
    let (l, addr) = listener();
    let handle = sockio::ShutdownHandle::new();
    let io = io.clone();
    let h = handle.clone();
    let thread = std::thread::spawn(move || io.serve_blocking(l, None, h).unwrap());
    Served {
        addr,
        stop: Some(Box::new(move || handle.shutdown())),
        thread: Some(thread),
    }
}

/// A future run to completion by an executor's `block_on`.
#[cfg(feature = "async-std")]
type BlockOn = fn(std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>);

/// Serves `io` with `SocketIo::serve_async_std` in a thread that runs it with `block_on`.
#[cfg(feature = "async-std")]
fn serve_async_io(io: &SocketIo, block_on: BlockOn) -> Served {
    let (l, addr) = listener();
    let l = sockio::AsyncTcpListener::try_from(l).unwrap();
    let (tx, rx) = async_channel::bounded::<()>(1);
    let io = io.clone();
    let thread = std::thread::spawn(move || {
        block_on(Box::pin(async move {
            let stop = async move {
                let _ = rx.recv().await;
            };
            io.serve_async_std(l, stop).await.unwrap();
        }))
    });
    Served {
        addr,
        stop: Some(Box::new(move || {
            let _ = tx.try_send(());
        })),
        thread: Some(thread),
    }
}

/// Serves `io` on the async-std runtime, under async-std's `block_on`.
#[cfg(feature = "async-std")]
pub fn async_std(io: &SocketIo) -> Served {
    serve_async_io(io, async_std::task::block_on)
}

/// Serves `io` on the async-std runtime, under smol's `block_on`.
#[cfg(feature = "async-std")]
pub fn smol(io: &SocketIo) -> Served {
    serve_async_io(io, smol::block_on)
}

/// The runtime and transport a behaviour test runs with.
#[derive(Clone, Copy)]
pub struct Rt {
    /// What `SocketIo::async_mode` says on this runtime.
    pub async_mode: &'static str,
    /// A builder set to this runtime.
    pub builder: fn() -> SocketIoBuilder,
    /// Serves a server on this runtime.
    pub serve_fn: fn(&SocketIo) -> Served,
    pub transport: Transport,
}

impl Rt {
    /// A server with default options on this runtime.
    pub fn io(&self) -> SocketIo {
        (self.builder)().build()
    }

    /// Serves `io` in the background.
    pub fn serve(&self, io: &SocketIo) -> Served {
        let served = (self.serve_fn)(io);
        assert_eq!(io.async_mode(), self.async_mode);
        served
    }

    /// Options for a client with this test's transport.
    pub fn options(&self) -> Options {
        Options::new(self.transport)
    }

    /// A client connected to `/`.
    pub fn client(&self, served: &Served) -> Client {
        Client::connect(served.addr, self.options(), "/", None)
    }

    /// A client connected to `namespace` with `auth`.
    pub fn client_to(&self, served: &Served, namespace: &str, auth: Option<Value>) -> Client {
        Client::connect(served.addr, self.options(), namespace, auth)
    }
}
