//! A `WsOutbox` fed by a channel, for the runtime adapters' tests: the tokio, async-std and
//! threaded test helpers include this one file by path.

use sockio_protocol::http::{WsOut, WsOutbox};

/// A pending read of the next message.
type NextMessage = std::pin::Pin<Box<dyn std::future::Future<Output = Option<WsOut>> + Send>>;

/// The writing side handed to the adapter, filled through a channel (as a test handler sends
/// frames at its own pace): the adapter writes what the channel hands out.
pub struct ChanOutbox {
    rx: async_channel::Receiver<WsOut>,
    waiting: std::sync::Mutex<Option<NextMessage>>,
}

impl ChanOutbox {
    /// A bounded channel (16 messages, as the engine's outbox) and the outbox reading it.
    pub fn new() -> (async_channel::Sender<WsOut>, ChanOutbox) {
        let (tx, rx) = async_channel::bounded(16);
        let outbox = ChanOutbox {
            rx,
            waiting: std::sync::Mutex::new(None),
        };
        (tx, outbox)
    }
}

impl WsOutbox for ChanOutbox {
    fn poll_next(&self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Option<WsOut>> {
        let mut waiting = self.waiting.lock().unwrap();
        let fut = waiting.get_or_insert_with(|| {
            let rx = self.rx.clone();
            Box::pin(async move { rx.recv().await.ok() })
        });
        let r = fut.as_mut().poll(cx);
        if r.is_ready() {
            *waiting = None;
        }
        r
    }

    fn try_next(&self) -> Option<WsOut> {
        self.rx.try_recv().ok()
    }

    fn close(&self) {
        self.rx.close();
    }
}
