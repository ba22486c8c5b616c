//! Redis pub/sub (python-socketio's `RedisManager`): messages are published on the channel;
//! each process subscribes to it, and to node `@socket.io/redis-emitter` channels
//! (`<key>#*`) unless that is turned off.
//!
//! One multiplexed connection publishes, another one is subscribed; both are recreated after
//! a failure (a restarted server drops them).

use std::sync::Arc;
use std::time::Duration;

use futures_lite::StreamExt as _;
use redis::aio::{MultiplexedConnection, PubSubSink, PubSubStream};
use redis::AsyncConnectionConfig;

use super::pubsub::{Backend, Format, Health, Incoming, PubSubQueue};
use super::{node, MessageQueue, QueueError, QueueOptions};

pub(super) fn connect(
    url: &str,
    options: QueueOptions,
) -> Result<Arc<dyn MessageQueue>, QueueError> {
    let client =
        redis::Client::open(url).map_err(|e| QueueError::new(format!("bad Redis URL: {e}")))?;
    let backend = Redis {
        client,
        channel: options.channel.clone(),
        node_key: options.node_emitter_key.clone(),
    };
    Ok(Arc::new(PubSubQueue::start(
        "redis", url, backend, options,
    )?))
}

struct Redis {
    client: redis::Client,
    channel: String,
    node_key: Option<String>,
}

pub(super) struct Publisher {
    conn: MultiplexedConnection,
    channel: String,
}

pub(super) struct Subscriber {
    stream: PubSubStream,
    /// Keeps the subscription open, and pings through it when the channel is quiet.
    sink: PubSubSink,
    channel: String,
    /// The prefix of node emitter request channels.
    requests: Option<String>,
}

/// A subscription quiet this long is pinged, so a connection that died silently (no reset,
/// as behind a broken network) is noticed and replaced.
const QUIET: Duration = Duration::from_secs(30);

fn err(what: &str, e: redis::RedisError) -> QueueError {
    QueueError::new(format!("{what}: {e}"))
}

impl Backend for Redis {
    type Publisher = Publisher;
    type Subscriber = Subscriber;

    async fn connect(
        &mut self,
        _: &Arc<Health>,
        write_only: bool,
    ) -> Result<(Publisher, Option<Subscriber>), QueueError> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(5)));
        let conn = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| err("connect", e))?;
        let publisher = Publisher {
            conn,
            channel: self.channel.clone(),
        };
        if write_only {
            return Ok((publisher, None));
        }
        let mut pubsub = self
            .client
            .get_async_pubsub()
            .await
            .map_err(|e| err("connect", e))?;
        pubsub
            .subscribe(&self.channel)
            .await
            .map_err(|e| err("subscribe", e))?;
        if let Some(key) = &self.node_key {
            for p in [node::pattern(key), node::request_pattern(key)] {
                pubsub
                    .psubscribe(p)
                    .await
                    .map_err(|e| err("psubscribe", e))?;
            }
        }
        let (sink, stream) = pubsub.split();
        Ok((
            publisher,
            Some(Subscriber {
                stream,
                sink,
                channel: self.channel.clone(),
                requests: self.node_key.as_ref().map(|k| format!("{k}-request#")),
            }),
        ))
    }

    async fn publish(p: &mut Publisher, body: &[u8], _confirm: bool) -> Result<(), QueueError> {
        // PUBLISH answers once the server has the message, so every publish is confirmed.
        redis::cmd("PUBLISH")
            .arg(&p.channel)
            .arg(body)
            .query_async::<i64>(&mut p.conn)
            .await
            .map(drop)
            .map_err(|e| err("publish", e))
    }

    async fn publish_batch(p: &mut Publisher, bodies: &[&[u8]]) -> Result<(), QueueError> {
        let mut pipe = redis::pipe();
        for b in bodies {
            pipe.cmd("PUBLISH").arg(&p.channel).arg(*b).ignore();
        }
        pipe.query_async::<()>(&mut p.conn)
            .await
            .map_err(|e| err("publish", e))
    }

    async fn next(s: &mut Subscriber) -> Result<Incoming, QueueError> {
        let (msg, format) = loop {
            let msg = match tokio::time::timeout(QUIET, s.stream.next()).await {
                Ok(m) => m.ok_or_else(|| QueueError::new("the subscription connection closed"))?,
                Err(_) => {
                    match tokio::time::timeout(Duration::from_secs(5), s.sink.ping::<()>()).await {
                        Ok(Ok(())) => continue,
                        Ok(Err(e)) => return Err(err("ping", e)),
                        Err(_) => return Err(QueueError::new("ping: no answer")),
                    }
                }
            };
            match (msg.get_channel_name() == s.channel, msg.from_pattern()) {
                (true, false) => break (msg, Format::Json),
                (false, true) => {
                    let request = s
                        .requests
                        .as_deref()
                        .is_some_and(|p| msg.get_channel_name().starts_with(p));
                    let format = if request {
                        Format::NodeRequest
                    } else {
                        Format::NodeEmitter
                    };
                    break (msg, format);
                }
                // The channel also matches the emitter pattern: it came as a message already.
                _ => continue,
            }
        };
        let channel = msg.get_channel_name().to_string();
        Ok(Incoming {
            format,
            channel,
            body: msg.get_payload_bytes().to_vec(),
            content_type: None,
        })
    }
}
