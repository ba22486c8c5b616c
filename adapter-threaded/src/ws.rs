//! WebSockets: the handshake answer on the connection's thread, then the connection goes to
//! one of a few reactor threads (one per core) that serve every WebSocket of the server.
//!
//! A reactor thread waits on all its sockets at once (epoll, kqueue or the like, through
//! `polling`) and drives each connection's protocol [`WsDriver`] when its socket is ready, when
//! the layer above queued something for it (the connection's waker), or at its deadline. An
//! idle WebSocket costs no thread and no buffer: reads go into the reactor thread's scratch
//! buffer, and what is written is freed once the socket took it.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use polling::{Event, Events, Poller};
use sockio_protocol::websocket::{accept_key, with_scratch, WsConn, WsDriver, WsError, WsIo};

use crate::http::{self, Conn};
use crate::server::Shared;
use crate::HttpRequest;

/// Answers the upgrade request and hands the WebSocket to a reactor thread. `Err` gives the
/// connection back when it could not be handed over (it is then over).
pub(crate) fn run(shared: &Arc<Shared>, id: u64, conn: Conn, request: HttpRequest) -> bool {
    let Conn {
        mut stream, buf, ..
    } = conn;
    let peer = request.peer;
    let Some(key) = request.websocket_key() else {
        let mut resp = http::status(400);
        resp.headers
            .push(("Sec-WebSocket-Version", "13".to_owned()));
        let _ = http::write_response(&mut stream, &resp, false, false);
        return false;
    };
    if let Some(refusal) = (shared.handlers.check_websocket)(&request) {
        let _ = http::write_response(&mut stream, &refusal, false, false);
        return false;
    }
    let answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(key)
    );
    let reactor = match shared.reactor() {
        Ok(reactor) => reactor,
        Err(e) => {
            tracing::error!(error = %e, ?peer, "could not start a WebSocket reactor thread");
            return false;
        }
    };
    // The layer above learns of the WebSocket before the 101 goes out: what the client does
    // once it sees the 101 (open another WebSocket for the same session, say) comes after it.
    // Dropping what it returned, if the 101 cannot be written, tells it the WebSocket is over.
    let (inbound, outbox) = (shared.handlers.on_websocket)(request);
    let ready = stream
        .write_all(answer.as_bytes())
        .and_then(|()| stream.set_read_timeout(None))
        .and_then(|()| stream.set_write_timeout(None))
        .and_then(|()| stream.set_nonblocking(true));
    if let Err(e) = ready {
        tracing::debug!(error = %e, ?peer, "WebSocket handshake failed");
        return false;
    }
    shared.set_websocket(id);
    let transport = &shared.config.transport;
    let conn = WsConn::for_transport(transport);
    let stop = shared.ws_stop.wait();
    let mut driver = WsDriver::new(conn, inbound, outbox, Some(stop));
    if !buf.is_empty() {
        driver.deliver(buf.as_slice());
    }
    drop(buf);
    reactor.enter(NewConn {
        stream,
        driver,
        shared: shared.clone(),
        id,
        peer,
    });
    true
}

/// The reactor threads of one server, started with its first WebSocket.
pub(crate) struct Reactors {
    threads: Vec<Arc<Reactor>>,
    next: AtomicUsize,
}

impl Reactors {
    /// One reactor thread per core.
    pub(crate) fn start() -> io::Result<Self> {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = (0..n)
            .map(|_| {
                let reactor = Arc::new(Reactor {
                    poller: Poller::new()?,
                    inbox: Mutex::new(Inbox::default()),
                    closed: AtomicBool::new(false),
                    close_all: AtomicBool::new(false),
                });
                let r = reactor.clone();
                crate::spawn_thread("sockio-ws", move || r.run())?;
                Ok(reactor)
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Reactors {
            threads,
            next: AtomicUsize::new(0),
        })
    }

    /// Closes every WebSocket at once (the server's shutdown grace is over).
    pub(crate) fn close_all(&self) {
        for r in &self.threads {
            r.close_all.store(true, Ordering::SeqCst);
            let _ = r.poller.notify();
        }
    }

    /// The reactor thread for the next connection (in turn).
    pub(crate) fn pick(&self) -> Arc<Reactor> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.threads.len();
        self.threads[i].clone()
    }
}

impl Drop for Reactors {
    fn drop(&mut self) {
        // The server is gone (and with it every connection): the threads end.
        for r in &self.threads {
            r.closed.store(true, Ordering::SeqCst);
            let _ = r.poller.notify();
        }
    }
}

/// A WebSocket on its way to its reactor thread.
pub(crate) struct NewConn {
    stream: TcpStream,
    driver: WsDriver,
    shared: Arc<Shared>,
    id: u64,
    peer: Option<SocketAddr>,
}

/// One reactor thread's shared side: what other threads hand it.
pub(crate) struct Reactor {
    poller: Poller,
    inbox: Mutex<Inbox>,
    /// The server is gone: end once no connection is left.
    closed: AtomicBool,
    /// Close every connection now.
    close_all: AtomicBool,
}

#[derive(Default)]
struct Inbox {
    new: Vec<NewConn>,
    /// Connections whose waker was called: `(slot, generation)`.
    woken: Vec<(usize, u64)>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Reactor {
    fn enter(&self, conn: NewConn) {
        lock(&self.inbox).new.push(conn);
        let _ = self.poller.notify();
    }

    fn wake(&self, slot: usize, gen: u64) {
        lock(&self.inbox).woken.push((slot, gen));
        let _ = self.poller.notify();
    }

    /// The reactor thread.
    fn run(self: Arc<Self>) {
        let mut state = ReactorState {
            slots: Vec::new(),
            free: Vec::new(),
            next_gen: 0,
            timers: BinaryHeap::new(),
        };
        let mut events = Events::new();
        let mut ready: Vec<(usize, u64)> = Vec::new();
        loop {
            let new = {
                let mut inbox = lock(&self.inbox);
                ready.append(&mut inbox.woken);
                std::mem::take(&mut inbox.new)
            };
            for conn in new {
                if let Some(at) = state.insert(&self, conn) {
                    ready.push(at);
                }
            }
            if self.close_all.swap(false, Ordering::SeqCst) {
                for slot in 0..state.slots.len() {
                    state.remove(&self, slot);
                }
                ready.clear();
            }
            let now = Instant::now();
            while let Some(Reverse((at, slot, gen))) = state.timers.peek().copied() {
                if at > now {
                    break;
                }
                state.timers.pop();
                if state.slot(slot, gen).is_some_and(|e| e.timer == Some(at)) {
                    ready.push((slot, gen));
                }
            }
            if ready.is_empty() {
                if self.closed.load(Ordering::SeqCst) && state.free.len() == state.slots.len() {
                    return;
                }
                let timeout = state
                    .timers
                    .peek()
                    .map(|Reverse((at, ..))| at.saturating_duration_since(now));
                events.clear();
                if let Err(e) = self.poller.wait(&mut events, timeout) {
                    if e.kind() != io::ErrorKind::Interrupted {
                        tracing::error!(error = %e, "WebSocket reactor wait failed");
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
                state.take_events(&events, &mut ready);
                continue;
            }
            // Busy: look at the sockets all the same, without waiting, so that connections
            // which keep coming back (a flood yielding after its read budget) cannot keep
            // the others' readiness from being seen.
            events.clear();
            if self.poller.wait(&mut events, Some(Duration::ZERO)).is_ok() {
                state.take_events(&events, &mut ready);
            }
            for (slot, gen) in ready.drain(..) {
                state.poll(&self, slot, gen);
            }
        }
    }
}

/// One connection on its reactor thread.
struct Entry {
    gen: u64,
    stream: TcpStream,
    driver: WsDriver,
    wake: Arc<ConnWake>,
    waker: Waker,
    /// The deadline entered in the timer heap, if any.
    timer: Option<Instant>,
    /// The interest registered with the poller (read, write) and not used up yet.
    armed: (bool, bool),
    shared: Arc<Shared>,
    id: u64,
    peer: Option<SocketAddr>,
}

/// A reactor thread's own state.
struct ReactorState {
    slots: Vec<Option<Entry>>,
    free: Vec<usize>,
    next_gen: u64,
    /// Deadlines, `(when, slot, generation)`; stale ones are skipped when they come up.
    timers: BinaryHeap<Reverse<(Instant, usize, u64)>>,
}

impl ReactorState {
    fn slot(&self, slot: usize, gen: u64) -> Option<&Entry> {
        self.slots
            .get(slot)
            .and_then(Option::as_ref)
            .filter(|e| e.gen == gen)
    }

    /// Queues the connections the poller reported ready.
    fn take_events(&mut self, events: &Events, ready: &mut Vec<(usize, u64)>) {
        for ev in events.iter() {
            if let Some(Some(e)) = self.slots.get_mut(ev.key) {
                // One-shot interest: the event used it up.
                e.armed = (false, false);
                ready.push((ev.key, e.gen));
            }
        }
    }

    /// Takes a new connection in; `None` if its socket cannot be watched (it is then over).
    fn insert(&mut self, reactor: &Arc<Reactor>, conn: NewConn) -> Option<(usize, u64)> {
        let slot = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        self.next_gen += 1;
        let gen = self.next_gen;
        // SAFETY: the socket is deleted from the poller before it is dropped (`remove`).
        if let Err(e) = unsafe { reactor.poller.add(&conn.stream, Event::none(slot)) } {
            tracing::error!(error = %e, peer = ?conn.peer, "could not watch a WebSocket");
            self.free.push(slot);
            conn.shared.connection_ended(conn.id);
            return None;
        }
        let wake = Arc::new(ConnWake {
            reactor: Arc::downgrade(reactor),
            slot,
            gen,
            queued: AtomicBool::new(true),
        });
        self.slots[slot] = Some(Entry {
            gen,
            stream: conn.stream,
            driver: conn.driver,
            waker: Waker::from(wake.clone()),
            wake,
            timer: None,
            armed: (false, false),
            shared: conn.shared,
            id: conn.id,
            peer: conn.peer,
        });
        Some((slot, gen))
    }

    /// Drives one connection; ends it when it is over.
    fn poll(&mut self, reactor: &Reactor, slot: usize, gen: u64) {
        let Some(Some(e)) = self.slots.get_mut(slot) else {
            return;
        };
        if e.gen != gen {
            return;
        }
        e.wake.queued.store(false, Ordering::SeqCst);
        let mut io = Io {
            stream: &e.stream,
            want: (false, false),
            timer: e.timer,
        };
        let mut cx = Context::from_waker(&e.waker);
        if e.driver.poll(&mut io, &mut cx).is_ready() {
            return self.remove(reactor, slot);
        }
        let (want, timer) = (io.want, io.timer);
        if want != (false, false) && want != e.armed {
            let interest = Event::new(slot, want.0, want.1);
            if let Err(err) = reactor.poller.modify(&e.stream, interest) {
                tracing::debug!(error = %err, peer = ?e.peer, "could not watch a WebSocket");
                return self.remove(reactor, slot);
            }
            e.armed = want;
        }
        if timer != e.timer {
            e.timer = timer;
            if let Some(at) = timer {
                self.timers.push(Reverse((at, slot, gen)));
            }
        }
    }

    fn remove(&mut self, reactor: &Reactor, slot: usize) {
        let Some(e) = self.slots[slot].take() else {
            return;
        };
        self.free.push(slot);
        let _ = reactor.poller.delete(&e.stream);
        let patience = e.shared.config.transport.write_timeout;
        let peer = e.peer;
        match e.driver.failure() {
            Some(err @ WsError::TooLarge) => {
                tracing::warn!(error = %err, ?peer, "WebSocket message over max_payload: closed")
            }
            Some(err) => {
                tracing::debug!(error = %err, ?peer, "WebSocket peer failed the protocol: closed")
            }
            None => {}
        }
        if e.driver.write_timed_out(Instant::now()) {
            tracing::warn!(peer = ?e.peer, ?patience, "WebSocket peer does not read; connection dropped");
        }
        let _ = e.stream.shutdown(std::net::Shutdown::Both);
        let (shared, id) = (e.shared.clone(), e.id);
        drop(e);
        shared.connection_ended(id);
    }
}

/// A connection's waker: queues the connection on its reactor thread.
struct ConnWake {
    reactor: std::sync::Weak<Reactor>,
    slot: usize,
    gen: u64,
    /// Already queued (or being polled, which reads everything new anyway).
    queued: AtomicBool,
}

impl Wake for ConnWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.queued.swap(true, Ordering::SeqCst) {
            return;
        }
        if let Some(reactor) = self.reactor.upgrade() {
            reactor.wake(self.slot, self.gen);
        }
    }
}

/// A connection's socket and timer, for one poll of its driver.
struct Io<'a> {
    stream: &'a TcpStream,
    /// Readiness to wait for: (readable, writable).
    want: (bool, bool),
    timer: Option<Instant>,
}

impl WsIo for Io<'_> {
    fn poll_read_with(
        &mut self,
        _cx: &mut Context<'_>,
        deliver: &mut dyn FnMut(&[u8]),
    ) -> Poll<io::Result<usize>> {
        let stream = self.stream;
        let read = with_scratch(|buf| loop {
            match (&mut &*stream).read(buf) {
                Ok(n) => {
                    if n > 0 {
                        deliver(&buf[..n]);
                    }
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        });
        match read {
            Ok(n) => Poll::Ready(Ok(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.want.0 = true;
                Poll::Pending
            }
            Err(e) => {
                tracing::debug!(error = %e, "WebSocket read failed");
                Poll::Ready(Err(e))
            }
        }
    }

    fn poll_write(&mut self, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        loop {
            match (&mut &*self.stream).write(buf) {
                Ok(n) => return Poll::Ready(Ok(n)),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.want.1 = true;
                    return Poll::Pending;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "WebSocket write failed");
                    return Poll::Ready(Err(e));
                }
            }
        }
    }

    fn poll_timer(&mut self, _cx: &mut Context<'_>, deadline: Instant) -> Poll<()> {
        if Instant::now() >= deadline {
            return Poll::Ready(());
        }
        self.timer = Some(deadline);
        Poll::Pending
    }

    fn clear_timer(&mut self) {
        self.timer = None;
    }

    fn now(&self) -> Instant {
        Instant::now()
    }
}
