//! [`WsDriver`]: the poll loop of one WebSocket connection, the same on every runtime.
//!
//! A runtime adapter gives it the socket and a timer through [`WsIo`] and polls it from one
//! task until it is over: it writes what the layer above put in the [`WsOutbox`] (control
//! frames first), reads and hands each message to the [`WsInbound`], holds reading while the
//! layer above paused the client, yields after a read budget, and ends the connection at its
//! deadline (write timeout, close grace) or when the server stops.

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use super::{ReadOutcome, WsConn};
use crate::http::{BoxFuture, ReadBudget, StopWait, WsInbound, WsOutbox};

/// The socket and clock of one connection, as its runtime adapter provides them.
pub trait WsIo {
    /// Reads what the socket has (into a buffer of the adapter's choosing, typically one per
    /// thread) and hands it to `deliver` before returning how many bytes were read; `Ok(0)`
    /// when the peer closed its side.
    fn poll_read_with(
        &mut self,
        cx: &mut Context<'_>,
        deliver: &mut dyn FnMut(&[u8]),
    ) -> Poll<io::Result<usize>>;

    /// Writes some of `buf`, as `AsyncWrite::poll_write` does.
    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>;

    /// `Ready` once `deadline` has passed; otherwise `cx` is woken at (or soon after) it.
    fn poll_timer(&mut self, cx: &mut Context<'_>, deadline: Instant) -> Poll<()>;

    /// Drops the timer armed by [`poll_timer`](Self::poll_timer), if any.
    fn clear_timer(&mut self);

    /// The current time.
    fn now(&self) -> Instant;
}

/// One connection's loop state; see the [module docs](crate::websocket).
pub struct WsDriver {
    conn: WsConn,
    inbound: WsInbound,
    outbox: Arc<dyn WsOutbox>,
    /// The layer above paused this client: nothing is read until this resolves.
    paused: Option<BoxFuture<()>>,
    budget: ReadBudget,
    /// Completes when the server shuts down: what is queued is written, then a close frame.
    /// Held in place (not boxed): it is looked at on every wake-up.
    stop: Option<StopWait>,
}

impl std::fmt::Debug for WsDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsDriver")
            .field("conn", &self.conn)
            .field("paused", &self.paused.is_some())
            .finish_non_exhaustive()
    }
}

impl WsDriver {
    /// A connection just upgraded, between `conn`'s socket and the layer above's `inbound`
    /// and `outbox`; `stop` (if any) completes when the server shuts down.
    pub fn new(
        conn: WsConn,
        inbound: WsInbound,
        outbox: Arc<dyn WsOutbox>,
        stop: Option<StopWait>,
    ) -> Self {
        WsDriver {
            conn,
            inbound,
            outbox,
            paused: None,
            budget: ReadBudget::default(),
            stop,
        }
    }

    /// Bytes the HTTP layer read past the upgrade request: the first bytes of the connection.
    pub fn deliver(&mut self, bytes: &[u8]) {
        let WsDriver {
            conn,
            inbound,
            paused,
            ..
        } = self;
        conn.read(bytes, |frame| {
            if let Some(wait) = inbound(frame) {
                *paused = Some(wait);
            }
        });
    }

    /// The connection's state (for its memory and its phase).
    pub fn conn(&self) -> &WsConn {
        &self.conn
    }

    /// Why the peer's bytes failed the connection, if they did (for logs).
    pub fn failure(&self) -> Option<&super::WsError> {
        self.conn.failure()
    }

    /// Whether the write timeout ended the connection (for logs).
    pub fn write_timed_out(&self, now: Instant) -> bool {
        self.conn.write_timed_out(now)
    }

    /// Moves the connection along: `Ready` when it is over and the socket may be closed.
    pub fn poll(&mut self, io: &mut impl WsIo, cx: &mut Context<'_>) -> Poll<()> {
        // While the loop runs, the outbox is looked at without this task's waker: the reply
        // to what it reads must not wake the task that is about to write it anyway. The
        // waker goes in last, before the task sleeps.
        // One look at the clock and at the stop signal per wake-up: the loop below runs for
        // microseconds, and a stop given meanwhile wakes the task again.
        let now = io.now();
        if let Some(stop) = &mut self.stop {
            if Pin::new(stop).poll(cx).is_ready() {
                self.stop = None;
                self.conn.close(&*self.outbox, now);
            }
        }
        loop {
            let mut progress = false;
            // Write what there is, control frames first.
            while self.conn.fill_now(&*self.outbox, now).is_ready() {
                if self.conn.is_done() {
                    return self.end(io);
                }
                match io.poll_write(cx, self.conn.output()) {
                    Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => return self.end(io),
                    Poll::Ready(Ok(n)) => {
                        self.conn.wrote(n, now);
                        progress = true;
                    }
                    Poll::Pending => {
                        self.conn.stalled(now);
                        break;
                    }
                }
            }
            if self.conn.is_done() {
                return self.end(io);
            }
            if let Some(wait) = &mut self.paused {
                if wait.as_mut().poll(cx).is_ready() {
                    self.paused = None;
                }
            }
            if self.conn.wants_read() && self.paused.is_none() {
                let WsDriver {
                    conn,
                    inbound,
                    paused,
                    ..
                } = self;
                let mut outcome = ReadOutcome::More;
                let read = io.poll_read_with(cx, &mut |bytes| {
                    outcome = conn.read(bytes, |frame| {
                        if let Some(wait) = inbound(frame) {
                            *paused = Some(wait);
                        }
                    });
                });
                match read {
                    Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => {
                        self.conn.read_closed();
                        progress = true;
                    }
                    Poll::Ready(Ok(n)) => {
                        progress = true;
                        if outcome == ReadOutcome::More && self.budget.spend(n) {
                            // Let the executor's other tasks run; come back at once.
                            cx.waker().wake_by_ref();
                            return Poll::Pending;
                        }
                    }
                    Poll::Pending => {}
                }
            }
            match self.conn.deadline() {
                None => io.clear_timer(),
                Some(deadline) => {
                    if self.conn.expired(now) {
                        return self.end(io);
                    }
                    if io.poll_timer(cx, deadline).is_ready() && self.conn.expired(io.now()) {
                        return self.end(io);
                    }
                }
            }
            if !progress {
                // Going to sleep: unless a write waits for the socket, the outbox wakes this
                // task from now on (and may have something already).
                if self.conn.output().is_empty()
                    && self.conn.fill(&*self.outbox, cx, now).is_ready()
                {
                    continue;
                }
                return Poll::Pending;
            }
        }
    }

    fn end(&mut self, io: &mut impl WsIo) -> Poll<()> {
        io.clear_timer();
        self.outbox.close();
        Poll::Ready(())
    }
}

impl Drop for WsDriver {
    fn drop(&mut self) {
        // However the connection ended, nothing more will be written.
        self.outbox.close();
    }
}
