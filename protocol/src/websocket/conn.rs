//! [`WsConn`]: one WebSocket connection between its socket and the layer above, sans I/O.
//!
//! A runtime adapter owns one per connection and moves bytes: what it reads goes to
//! [`read`](WsConn::read) (messages come out to the caller), what [`fill`](WsConn::fill)
//! put in [`output`](WsConn::output) goes to the socket, and [`wrote`](WsConn::wrote) says
//! how much did. The connection holds no buffer while idle: the output is freed once written,
//! and the decoder keeps only frames that arrived in part.
//!
//! It does the protocol's chores: pongs and the closing handshake (control frames go ahead of
//! data, between messages), the write timeout (a peer that takes no bytes for
//! `write_timeout` while some wait is dropped), and the close grace (after our close frame,
//! the peer's answer is awaited at most `close_grace`).

use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::{
    encode_close, encode_message, return_output, spare_output, WsDecoder, WsError, WsEvent,
    WsLimits, CLOSE_GRACE,
};
use crate::http::{Frame, WsOut, WsOutbox};

/// Most bytes one [`fill`](WsConn::fill) takes from the outbox before they are written.
const BATCH: usize = 256 * 1024;

/// Where a connection is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Open,
    /// Our close frame is queued or out; the peer's answer is awaited until `until`.
    Closing {
        until: Option<Instant>,
    },
    /// Nothing more to read: the peer closed (its close is answered), failed the protocol,
    /// or went away. What is queued is written, then the connection ends.
    Ending,
    /// Over: the socket can be closed.
    Done,
}

/// One WebSocket connection's state; see the [module docs](crate::websocket).
#[derive(Debug)]
pub struct WsConn {
    decoder: WsDecoder,
    out: Vec<u8>,
    phase: Phase,
    /// Since when bytes wait that the socket does not take.
    stalled_since: Option<Instant>,
    write_timeout: Duration,
    close_grace: Duration,
    /// Why the peer's bytes failed the connection, if they did.
    failure: Option<WsError>,
}

/// What [`WsConn::read`] asks of the adapter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadOutcome {
    /// Keep reading.
    More,
    /// Stop reading: write what [`fill`](WsConn::fill) gives until the connection is done.
    Stop,
}

impl WsConn {
    /// A connection with a runtime adapter's settings: frames and messages up to
    /// `max_message_size`, its `write_timeout`, and [`CLOSE_GRACE`] for the peer's close.
    pub fn for_transport(config: &crate::http::TransportConfig) -> Self {
        let limits = WsLimits {
            max_frame: config.max_message_size,
            max_message: config.max_message_size,
        };
        WsConn::new(limits, config.write_timeout, CLOSE_GRACE)
    }

    /// A connection just upgraded.
    pub fn new(limits: WsLimits, write_timeout: Duration, close_grace: Duration) -> Self {
        WsConn {
            decoder: WsDecoder::new(limits),
            out: Vec::new(),
            phase: Phase::Open,
            stalled_since: None,
            write_timeout,
            close_grace,
            failure: None,
        }
    }

    /// Why the peer's bytes failed the connection (framing, UTF-8, size), if they did: for
    /// the adapter's logs.
    pub fn failure(&self) -> Option<&WsError> {
        self.failure.as_ref()
    }

    /// Whether the connection holds no buffer at all (nothing arriving, nothing to write).
    pub fn is_idle(&self) -> bool {
        self.out.capacity() == 0 && self.decoder.is_idle()
    }

    /// Whether reading should go on.
    pub fn wants_read(&self) -> bool {
        matches!(self.phase, Phase::Open | Phase::Closing { .. })
    }

    /// Whether the connection is over (the socket may be closed).
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// Bytes read from the socket: every data message they complete goes to `deliver`, in
    /// order. Pongs and the answer to a close are queued for [`fill`](Self::fill).
    pub fn read(&mut self, bytes: &[u8], mut deliver: impl FnMut(Frame)) -> ReadOutcome {
        if !self.wants_read() {
            return ReadOutcome::Stop;
        }
        let closing = matches!(self.phase, Phase::Closing { .. });
        let mut peer_closed = false;
        let r = self.decoder.receive(bytes, |e| match e {
            // After our close, data is not for the application any more.
            WsEvent::Message(m) if !closing => deliver(m),
            WsEvent::Close(_) => peer_closed = true,
            _ => {}
        });
        match r {
            Err(e) => {
                // Fail the connection: our close frame with its code, after what is queued.
                if !closing {
                    encode_close(&mut self.out, Some(e.close_code()), "");
                }
                self.failure = Some(e);
                self.phase = Phase::Ending;
                ReadOutcome::Stop
            }
            Ok(()) if peer_closed => {
                if closing {
                    // The answer to our close: nothing more to do.
                    self.decoder.take_control(&mut Vec::new());
                    self.phase = if self.out.is_empty() {
                        Phase::Done
                    } else {
                        Phase::Ending
                    };
                } else {
                    self.phase = Phase::Ending;
                }
                ReadOutcome::Stop
            }
            Ok(()) => ReadOutcome::More,
        }
    }

    /// The peer closed its side, or reading failed: nothing more will be read.
    pub fn read_closed(&mut self) {
        match self.phase {
            Phase::Open | Phase::Closing { .. } => {
                // Nobody left to answer; what is queued may still go out.
                self.phase = Phase::Ending;
                if self.out.is_empty() {
                    self.phase = Phase::Done;
                }
            }
            Phase::Ending | Phase::Done => {}
        }
    }

    /// The layer above wants the connection closed now (the server shuts down): what the
    /// outbox still holds goes out, then a close frame.
    pub fn close(&mut self, outbox: &dyn WsOutbox, now: Instant) {
        if self.phase != Phase::Open {
            return;
        }
        while let Some(m) = outbox.try_next() {
            match m {
                WsOut::Frame(f) => encode_message(&mut self.out, &f),
                WsOut::Close => break,
            }
        }
        self.start_close(now);
    }

    fn start_close(&mut self, now: Instant) {
        encode_close(&mut self.out, Some(1000), "");
        self.phase = Phase::Closing {
            until: Some(now + self.close_grace),
        };
    }

    /// Puts the next bytes to write in [`output`](Self::output): control frames (pongs, the
    /// answer to a close) first, then messages from `outbox` (up to a batch). `Pending` when
    /// there is nothing to write (`outbox` will wake `cx` when there is); `Ready` when the
    /// output has bytes, or the connection is done.
    pub fn fill(&mut self, outbox: &dyn WsOutbox, cx: &mut Context<'_>, now: Instant) -> Poll<()> {
        self.fill_with(|| outbox.poll_next(cx), now)
    }

    /// Like [`fill`](Self::fill), for a loop that looks again before it sleeps: what `outbox`
    /// holds right now ([`WsOutbox::try_next`]), with no waker left behind.
    pub fn fill_now(&mut self, outbox: &dyn WsOutbox, now: Instant) -> Poll<()> {
        self.fill_with(
            || match outbox.try_next() {
                Some(m) => Poll::Ready(Some(m)),
                None => Poll::Pending,
            },
            now,
        )
    }

    /// Like [`fill`](Self::fill), with messages from `next`: `Ready(Some)` for a message,
    /// `Ready(None)` when no more will come (the connection closes), `Pending` for none yet.
    pub fn fill_with(
        &mut self,
        mut next: impl FnMut() -> Poll<Option<WsOut>>,
        now: Instant,
    ) -> Poll<()> {
        if self.phase == Phase::Done {
            return Poll::Ready(());
        }
        // Control frames go out between batches: while the socket has not taken the last
        // one, a newer ping replaces the waiting pong, so a peer that pings without reading
        // gets no more than one.
        if self.out.is_empty()
            && (self.decoder.has_control() && self.phase != Phase::Ending
                || self.decoder.close_received())
        {
            self.decoder.take_control(&mut self.out);
        }
        if self.phase == Phase::Open {
            while self.out.len() < BATCH {
                match next() {
                    Poll::Ready(Some(WsOut::Frame(f))) => {
                        if self.out.capacity() == 0 {
                            self.out = spare_output();
                        }
                        encode_message(&mut self.out, &f);
                    }
                    Poll::Ready(Some(WsOut::Close)) | Poll::Ready(None) => {
                        self.start_close(now);
                        break;
                    }
                    Poll::Pending => break,
                }
            }
        }
        if !self.out.is_empty() {
            return Poll::Ready(());
        }
        // Nothing to write: the connection holds no buffer while idle.
        if self.out.capacity() > 0 {
            return_output(std::mem::take(&mut self.out));
        }
        if self.phase == Phase::Ending {
            self.phase = Phase::Done;
            return Poll::Ready(());
        }
        Poll::Pending
    }

    /// The bytes to write.
    pub fn output(&self) -> &[u8] {
        &self.out
    }

    /// `n` bytes of the output were written at `now`. The output is freed once all of it is.
    pub fn wrote(&mut self, n: usize, now: Instant) {
        let n = n.min(self.out.len());
        if n == self.out.len() {
            return_output(std::mem::take(&mut self.out));
            self.stalled_since = None;
            // Done, unless the answer to the peer's close still has to go out.
            if self.phase == Phase::Ending
                && !(self.decoder.close_received() && self.decoder.has_control())
            {
                self.phase = Phase::Done;
            }
            return;
        }
        self.out.drain(..n);
        if n > 0 {
            self.stalled_since = None;
        }
        self.stalled_since.get_or_insert(now);
    }

    /// The socket took nothing of the output at `now` (it would block): the write timeout
    /// runs from the first time.
    pub fn stalled(&mut self, now: Instant) {
        self.stalled_since.get_or_insert(now);
    }

    /// When the connection must end if nothing happens before: the write timeout while bytes
    /// wait, the close grace after our close frame.
    pub fn deadline(&self) -> Option<Instant> {
        let write = self.stalled_since.map(|at| at + self.write_timeout);
        let grace = match self.phase {
            Phase::Closing { until } => until,
            _ => None,
        };
        match (write, grace) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Time passed: true when the connection must end now (the peer took nothing for the
    /// write timeout, or did not answer our close in time).
    pub fn expired(&mut self, now: Instant) -> bool {
        if self.deadline().is_some_and(|d| d <= now) {
            self.phase = Phase::Done;
            return true;
        }
        false
    }

    /// Whether the write timeout, not the close grace, ended the connection (for logs).
    pub fn write_timed_out(&self, now: Instant) -> bool {
        self.stalled_since
            .is_some_and(|at| now.saturating_duration_since(at) >= self.write_timeout)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::task::Waker;

    use bytes::Bytes;

    use super::*;
    use crate::websocket::tests::client_frame;
    use crate::websocket::SPARE_OUTPUT;

    #[derive(Default)]
    struct Outbox(Mutex<Vec<WsOut>>);

    impl WsOutbox for Outbox {
        fn poll_next(&self, _: &mut Context<'_>) -> Poll<Option<WsOut>> {
            let mut q = self.0.lock().unwrap();
            if q.is_empty() {
                Poll::Pending
            } else {
                Poll::Ready(Some(q.remove(0)))
            }
        }

        fn try_next(&self) -> Option<WsOut> {
            let mut q = self.0.lock().unwrap();
            (!q.is_empty()).then(|| q.remove(0))
        }

        fn close(&self) {}
    }

    fn conn() -> WsConn {
        WsConn::new(
            WsLimits::default(),
            Duration::from_secs(30),
            Duration::from_secs(3),
        )
    }

    fn cx() -> Context<'static> {
        Context::from_waker(Waker::noop())
    }

    #[test]
    fn echo_then_idle_with_nothing_held() {
        let mut c = conn();
        let now = Instant::now();
        let mut got = Vec::new();
        let r = c.read(&client_frame(true, 1, b"hi", [1, 2, 3, 4]), |m| got.push(m));
        assert_eq!(r, ReadOutcome::More);
        assert_eq!(got, [Frame::Text(Bytes::from_static(b"hi"))]);
        let outbox = Outbox::default();
        outbox
            .0
            .lock()
            .unwrap()
            .push(WsOut::Frame(Frame::Text(Bytes::from_static(b"yo"))));
        assert_eq!(c.fill(&outbox, &mut cx(), now), Poll::Ready(()));
        assert_eq!(c.output(), [0x81, 2, b'y', b'o']);
        c.wrote(4, now);
        assert!(c.is_idle());
        assert_eq!(c.fill(&outbox, &mut cx(), now), Poll::Pending);
    }

    #[test]
    fn connections_of_a_thread_write_through_one_buffer() {
        let now = Instant::now();
        let outbox = Outbox::default();
        let push = |len: usize| {
            let frame = Frame::Binary(Bytes::from(vec![7; len]));
            outbox.0.lock().unwrap().push(WsOut::Frame(frame));
        };
        let (mut a, mut b) = (conn(), conn());
        push(100);
        assert_eq!(a.fill(&outbox, &mut cx(), now), Poll::Ready(()));
        let first = a.output().as_ptr();
        a.wrote(a.output().len(), now);
        assert!(
            a.is_idle(),
            "the written buffer is not kept by the connection"
        );
        push(100);
        assert_eq!(b.fill(&outbox, &mut cx(), now), Poll::Ready(()));
        assert_eq!(b.output().as_ptr(), first, "the next connection reuses it");
        assert_eq!(&b.output()[..2], [0x82, 100]);
        // Written in part: the rest stays with its connection, and the next one gets another.
        b.wrote(10, now);
        push(3);
        assert_eq!(a.fill(&outbox, &mut cx(), now), Poll::Ready(()));
        assert_ne!(a.output().as_ptr(), b.output().as_ptr());
        assert_eq!(a.output(), [0x82, 3, 7, 7, 7]);
        // A buffer grown past the spare size is freed, not kept.
        a.wrote(5, now);
        b.wrote(92, now);
        push(SPARE_OUTPUT + 1);
        assert_eq!(a.fill(&outbox, &mut cx(), now), Poll::Ready(()));
        a.wrote(a.output().len(), now);
        assert!(spare_output().capacity() <= SPARE_OUTPUT);
        // Nothing to write: fill keeps nothing either.
        assert_eq!(a.fill(&outbox, &mut cx(), now), Poll::Pending);
        assert!(a.is_idle());
    }

    #[test]
    fn a_stalled_peer_is_dropped_at_the_write_timeout() {
        let mut c = conn();
        let t0 = Instant::now();
        let outbox = Outbox::default();
        outbox
            .0
            .lock()
            .unwrap()
            .push(WsOut::Frame(Frame::Binary(Bytes::from(vec![0; 100]))));
        assert_eq!(c.fill(&outbox, &mut cx(), t0), Poll::Ready(()));
        c.wrote(10, t0);
        assert_eq!(c.deadline(), Some(t0 + Duration::from_secs(30)));
        assert!(!c.expired(t0 + Duration::from_secs(29)));
        c.wrote(1, t0 + Duration::from_secs(29));
        assert_eq!(
            c.deadline(),
            Some(t0 + Duration::from_secs(59)),
            "progress restarts it"
        );
        assert!(c.expired(t0 + Duration::from_secs(59)));
        assert!(c.is_done());
    }

    #[test]
    fn closing_handshakes_both_ways() {
        // The peer closes: answered, then done once written.
        let mut c = conn();
        let now = Instant::now();
        let r = c.read(
            &client_frame(true, 8, &1000u16.to_be_bytes(), [1; 4]),
            |_| {},
        );
        assert_eq!(r, ReadOutcome::Stop);
        let outbox = Outbox::default();
        assert_eq!(c.fill(&outbox, &mut cx(), now), Poll::Ready(()));
        assert_eq!(c.output(), [0x88, 2, 0x03, 0xE8]);
        c.wrote(4, now);
        assert!(c.is_done());

        // We close: our frame, then the peer's answer ends it.
        let mut c = conn();
        outbox.0.lock().unwrap().push(WsOut::Close);
        assert_eq!(c.fill(&outbox, &mut cx(), now), Poll::Ready(()));
        assert_eq!(c.output(), [0x88, 2, 0x03, 0xE8]);
        c.wrote(4, now);
        assert!(c.wants_read() && !c.is_done());
        assert_eq!(c.deadline(), Some(now + Duration::from_secs(3)));
        c.read(&client_frame(true, 8, &[], [1; 4]), |_| {});
        assert!(c.is_done());

        // We close and the peer never answers: the grace ends it.
        let mut c = conn();
        c.close(&outbox, now);
        assert_eq!(c.fill(&outbox, &mut cx(), now), Poll::Ready(()));
        c.wrote(4, now);
        assert!(c.expired(now + Duration::from_secs(3)));
    }

    #[test]
    fn a_peer_that_pings_without_reading_gets_one_pong_waiting_at_most() {
        let mut c = conn();
        let now = Instant::now();
        let outbox = Outbox::default();
        outbox
            .0
            .lock()
            .unwrap()
            .push(WsOut::Frame(Frame::Binary(Bytes::from(vec![0; 1000]))));
        assert_eq!(c.fill(&outbox, &mut cx(), now), Poll::Ready(()));
        c.stalled(now);
        let held = c.output().len();
        for i in 0..10_000u32 {
            c.read(&client_frame(true, 9, &i.to_be_bytes(), [7; 4]), |_| {});
            assert_eq!(c.fill(&outbox, &mut cx(), now), Poll::Ready(()));
        }
        assert_eq!(
            c.output().len(),
            held,
            "no pong piles up behind unwritten bytes"
        );
        let n = c.output().len();
        c.wrote(n, now);
        assert_eq!(c.fill(&outbox, &mut cx(), now), Poll::Ready(()));
        let mut pong = vec![0x8A, 4];
        pong.extend_from_slice(&9999u32.to_be_bytes());
        assert_eq!(c.output(), pong, "the newest ping is answered");
    }

    #[test]
    fn a_protocol_error_fails_the_connection_with_its_code() {
        let mut c = conn();
        let now = Instant::now();
        assert_eq!(c.read(&[0xC1, 0x80, 0, 0, 0, 0], |_| {}), ReadOutcome::Stop);
        assert_eq!(c.fill(&Outbox::default(), &mut cx(), now), Poll::Ready(()));
        assert_eq!(c.output(), [0x88, 2, 0x03, 0xEA], "1002");
        assert!(matches!(c.failure(), Some(WsError::Protocol(_))));
        c.wrote(4, now);
        assert!(c.is_done());
    }
}
