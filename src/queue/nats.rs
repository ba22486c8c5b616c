//! NATS core pub/sub: the channel is the subject. Not a python-socketio backend, but the same
//! JSON messages, so any client of the subject can emit.
//!
//! async-nats reconnects on its own (with our backoff bounds) and replays the subscription;
//! its connection events drive the outage log. Publishes made while it reconnects wait in
//! its buffer and go out on reconnection.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_lite::StreamExt as _;

use super::pubsub::{Backend, Format, Health, Incoming, PubSubQueue};
use super::{MessageQueue, QueueError, QueueOptions};

pub(super) fn connect(
    url: &str,
    options: QueueOptions,
) -> Result<Arc<dyn MessageQueue>, QueueError> {
    let backend = Nats {
        url: url.to_string(),
        subject: options.channel.clone(),
        min: options.reconnect_min,
        max: options.reconnect_max,
    };
    Ok(Arc::new(PubSubQueue::start("nats", url, backend, options)?))
}

struct Nats {
    url: String,
    subject: String,
    min: Duration,
    max: Duration,
}

/// A round trip through the server on the client's connection. The server handles a
/// connection's commands in order, so once the probe comes back every subscription made
/// before it is in place, and every later publish, from any process, reaches it.
struct Probe {
    client: async_nats::Client,
    inbox: async_nats::Subject,
    sub: tokio::sync::Mutex<async_nats::Subscriber>,
}

impl Probe {
    async fn run(&self) -> Result<(), QueueError> {
        let mut sub = self.sub.lock().await;
        // A probe of an earlier, failed round may still be buffered.
        while let Some(Some(_)) = futures_lite::future::poll_once(sub.next()).await {}
        self.client
            .publish(self.inbox.clone(), Default::default())
            .await
            .map_err(|e| err("publish", e))?;
        tokio::time::timeout(Duration::from_secs(5), sub.next())
            .await
            .ok()
            .flatten()
            .map(drop)
            .ok_or_else(|| QueueError::new("the subscription was not confirmed"))
    }
}

pub(super) struct Publisher {
    client: async_nats::Client,
    subject: String,
}

fn err(what: &str, e: impl std::fmt::Display) -> QueueError {
    QueueError::new(format!("{what}: {e}"))
}

impl Backend for Nats {
    type Publisher = Publisher;
    type Subscriber = async_nats::Subscriber;

    async fn connect(
        &mut self,
        health: &Arc<Health>,
        write_only: bool,
    ) -> Result<(Publisher, Option<async_nats::Subscriber>), QueueError> {
        let events = health.clone();
        // Set once the subscription exists. The first `Connected` comes before that (the
        // generic loop reports the queue up when this returns); after a reconnection the
        // library replays the subscription, and a probe confirms it before the queue is up.
        let probe: Arc<OnceLock<Arc<Probe>>> = Arc::new(OnceLock::new());
        let probe_cb = probe.clone();
        let (min, max) = (self.min, self.max);
        let client = async_nats::ConnectOptions::new()
            .name("sockio")
            .connection_timeout(Duration::from_secs(5))
            .max_reconnects(None)
            .reconnect_delay_callback(move |attempts| {
                let factor = 1u32 << attempts.min(16);
                min.saturating_mul(factor).min(max)
            })
            .event_callback(move |event| {
                let health = events.clone();
                let probe = probe_cb.get().cloned();
                async move {
                    match (event, probe) {
                        (async_nats::Event::Connected, Some(probe)) => match probe.run().await {
                            Ok(()) => health.up(),
                            Err(e) => health.down(&e),
                        },
                        (async_nats::Event::Disconnected, _) => {
                            health.down(&QueueError::new("disconnected"))
                        }
                        (other, _) => tracing::debug!(queue = "nats", "event: {other}"),
                    }
                }
            })
            .connect(self.url.as_str())
            .await
            .map_err(|e| err("connect", e))?;
        let subscriber = if write_only {
            None
        } else {
            Some(
                client
                    .subscribe(self.subject.clone())
                    .await
                    .map_err(|e| err("subscribe", e))?,
            )
        };
        let inbox = client.new_inbox();
        let sub = client
            .subscribe(inbox.clone())
            .await
            .map_err(|e| err("subscribe", e))?;
        let p = Arc::new(Probe {
            client: client.clone(),
            inbox: inbox.into(),
            sub: tokio::sync::Mutex::new(sub),
        });
        p.run().await?;
        let _ = probe.set(p);
        Ok((
            Publisher {
                client,
                subject: self.subject.clone(),
            },
            subscriber,
        ))
    }

    async fn publish(p: &mut Publisher, body: &[u8], confirm: bool) -> Result<(), QueueError> {
        p.client
            .publish(p.subject.clone(), body.to_vec().into())
            .await
            .map_err(|e| err("publish", e))?;
        if confirm {
            p.client.flush().await.map_err(|e| err("flush", e))?;
        }
        Ok(())
    }

    async fn flush(p: &mut Publisher) -> Result<(), QueueError> {
        p.client.flush().await.map_err(|e| err("flush", e))
    }

    async fn next(s: &mut async_nats::Subscriber) -> Result<Incoming, QueueError> {
        let msg = s
            .next()
            .await
            .ok_or_else(|| QueueError::new("the subscription closed"))?;
        Ok(Incoming {
            format: Format::Json,
            channel: msg.subject.to_string(),
            body: msg.payload.to_vec(),
            content_type: None,
        })
    }
}
