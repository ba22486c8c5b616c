//! RabbitMQ over AMQP 0-9-1 (python-socketio's `KombuManager`): a non-durable fanout exchange
//! named after the channel; each process consumes from its own exclusive, auto-deleted queue
//! bound to it. Messages are published as `application/json`; what Kombu publishes (the same
//! JSON inside a JSON string) is read too, and pickled bodies are refused.

use std::sync::Arc;

use futures_lite::StreamExt as _;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions,
    QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, Consumer, ExchangeKind};

use super::pubsub::{Backend, Format, Health, Incoming, PubSubQueue};
use super::{MessageQueue, QueueError, QueueOptions};

pub(super) fn connect(
    url: &str,
    options: QueueOptions,
) -> Result<Arc<dyn MessageQueue>, QueueError> {
    let backend = Amqp {
        uri: normalize(url),
        exchange: options.channel.clone(),
    };
    Ok(Arc::new(PubSubQueue::start("amqp", url, backend, options)?))
}

/// Kombu-style URLs as lapin reads them: `amqp://` is the local broker, an empty path or
/// `/` (or Kombu's `//`) the default virtual host `/`.
fn normalize(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let scheme = if url.to_ascii_lowercase().starts_with("amqps") {
        "amqps"
    } else {
        "amqp"
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let authority = if authority.is_empty() {
        "localhost"
    } else {
        authority
    };
    let path = match path {
        "" | "/" | "//" => "/%2f",
        p => p,
    };
    format!("{scheme}://{authority}{path}")
}

struct Amqp {
    uri: String,
    exchange: String,
}

pub(super) struct Publisher {
    channel: Channel,
    exchange: String,
    // The connection closes when dropped; the channels belong to it.
    _conn: Arc<Connection>,
}

pub(super) struct Subscriber {
    consumer: Consumer,
    _channel: Channel,
    _conn: Arc<Connection>,
}

fn err(what: &str, e: lapin::Error) -> QueueError {
    QueueError::new(format!("{what}: {e}"))
}

impl Backend for Amqp {
    type Publisher = Publisher;
    type Subscriber = Subscriber;

    async fn connect(
        &mut self,
        health: &Arc<Health>,
        write_only: bool,
    ) -> Result<(Publisher, Option<Subscriber>), QueueError> {
        let runtime = lapin::runtime::default_runtime().map_err(|e| err("runtime", e))?;
        // Named after the process, as the broker's management tools show it.
        let name = format!("sockio {}", health.host_id());
        let conn = Connection::connect_with_runtime(
            &self.uri,
            ConnectionProperties::default().with_connection_name(name.into()),
            runtime,
        )
        .await
        .map_err(|e| err("connect", e))?;
        let conn = Arc::new(conn);
        let channel = conn.create_channel().await.map_err(|e| err("channel", e))?;
        // As Kombu declares it, so that python-socketio processes share the exchange.
        channel
            .exchange_declare(
                self.exchange.as_str().into(),
                ExchangeKind::Fanout,
                ExchangeDeclareOptions {
                    durable: false,
                    auto_delete: false,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(|e| err("exchange.declare", e))?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| err("confirm.select", e))?;
        let publisher = Publisher {
            channel,
            exchange: self.exchange.clone(),
            _conn: conn.clone(),
        };
        if write_only {
            return Ok((publisher, None));
        }
        let channel = conn.create_channel().await.map_err(|e| err("channel", e))?;
        let queue = channel
            .queue_declare(
                "".into(),
                QueueDeclareOptions {
                    exclusive: true,
                    auto_delete: true,
                    durable: false,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(|e| err("queue.declare", e))?;
        let name = queue.name().clone();
        channel
            .queue_bind(
                name.clone(),
                self.exchange.as_str().into(),
                "".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|e| err("queue.bind", e))?;
        let consumer = channel
            .basic_consume(
                name,
                "sockio".into(),
                BasicConsumeOptions {
                    no_ack: true,
                    exclusive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(|e| err("basic.consume", e))?;
        Ok((
            publisher,
            Some(Subscriber {
                consumer,
                _channel: channel,
                _conn: conn,
            }),
        ))
    }

    async fn publish(p: &mut Publisher, body: &[u8], confirm: bool) -> Result<(), QueueError> {
        let pending = p
            .channel
            .basic_publish(
                p.exchange.as_str().into(),
                "".into(),
                BasicPublishOptions::default(),
                body,
                BasicProperties::default()
                    .with_content_type("application/json".into())
                    .with_content_encoding("utf-8".into()),
            )
            .await
            .map_err(|e| err("publish", e))?;
        if confirm {
            pending.await.map_err(|e| err("publish confirm", e))?;
        }
        Ok(())
    }

    async fn flush(p: &mut Publisher) -> Result<(), QueueError> {
        p.channel
            .wait_for_confirms()
            .await
            .map(drop)
            .map_err(|e| err("confirms", e))
    }

    async fn next(s: &mut Subscriber) -> Result<Incoming, QueueError> {
        let delivery = s
            .consumer
            .next()
            .await
            .ok_or_else(|| QueueError::new("the consumer closed"))?
            .map_err(|e| err("consume", e))?;
        Ok(Incoming {
            format: Format::Json,
            channel: delivery.exchange.as_str().to_string(),
            content_type: delivery
                .properties
                .content_type()
                .as_ref()
                .map(|c| c.as_str().to_string()),
            body: delivery.data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn kombu_urls_name_the_default_vhost() {
        assert_eq!(normalize("amqp://"), "amqp://localhost/%2f");
        assert_eq!(
            normalize("amqp://guest:guest@localhost:5672//"),
            "amqp://guest:guest@localhost:5672/%2f"
        );
        assert_eq!(normalize("amqp://h:5672"), "amqp://h:5672/%2f");
        assert_eq!(normalize("amqp://h:5672/prod"), "amqp://h:5672/prod");
        assert_eq!(normalize("pyamqp://h"), "amqp://h/%2f");
    }
}
