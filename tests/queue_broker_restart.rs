//! When the broker restarts (Redis; NATS): local clients keep being served during the outage,
//! each process logs one warning when the outage starts and one info when it ends,
//! reconnects with backoff, and cross-process delivery resumes, exactly once per client.
//! The broker is a process of this test on its own port, killed and restarted by PID.

#![cfg(any(feature = "redis", feature = "nats"))]

mod queue_common;

use std::time::Duration;

use queue_common::{eventually, free_port, fresh_channel, receive, Broker, Logs, OwnBroker};
use sockio::queue::QueueOptions;
use sockio::{Context, SocketIo, SocketIoTestClient};

fn server(url: &str, channel: &str) -> SocketIo {
    let io = SocketIo::builder()
        .message_queue_url(url)
        .message_queue_options(QueueOptions {
            channel: channel.into(),
            reconnect_min: Duration::from_millis(50),
            reconnect_max: Duration::from_millis(500),
            ..Default::default()
        })
        .try_build()
        .unwrap();
    io.on("echo", |ctx: Context, text: String| {
        ctx.emit("echoed", text)
    });
    assert!(io.message_queue().wait_connected(Duration::from_secs(20)));
    io
}

fn survives_a_broker_restart(broker: Broker) {
    let logs = Logs::capture();
    let mut own = OwnBroker::start(broker, free_port());
    let channel = fresh_channel("restart");
    let s = [server(&own.url(), &channel), server(&own.url(), &channel)];
    let hosts: Vec<String> = s
        .iter()
        .map(|io| io.message_queue().host_id().unwrap().to_string())
        .collect();
    let mut a = SocketIoTestClient::new(&s[0]);
    let mut b = SocketIoTestClient::new(&s[1]);
    let a_sid = a.sid("/").unwrap().to_string();
    s[0].emit("before", ()).unwrap();
    receive(&mut b, "/", &[("before", 1)]);

    own.stop();
    eventually("both processes notice the outage", || {
        s.iter().all(|io| !io.message_queue().is_connected())
    });
    // Local clients are still served, and emits still succeed locally.
    a.emit("echo", "still here");
    s[0].emit("during", ()).unwrap();
    receive(&mut a, "/", &[("echoed", 1), ("during", 1)]);
    // Give the backoff a few rounds.
    std::thread::sleep(Duration::from_millis(1500));

    own.restart();
    for io in &s {
        assert!(
            io.message_queue().wait_connected(Duration::from_secs(20)),
            "reconnected"
        );
    }
    s[0].emit("after", 1).unwrap();
    s[1].to(a_sid).emit("after back", ()).unwrap();
    receive(&mut b, "/", &[("after", 1)]);
    receive(&mut a, "/", &[("after back", 1), ("after", 1)]);

    for host in &hosts {
        let warned = logs.lines(&["WARN", "message queue connection lost", host]);
        assert_eq!(warned.len(), 1, "one warning per outage: {warned:#?}");
        let recovered = logs.lines(&["INFO", "message queue reconnected", host]);
        assert_eq!(recovered.len(), 1, "one info on recovery: {recovered:#?}");
    }
}

#[cfg(feature = "redis")]
#[test]
fn redis() {
    survives_a_broker_restart(Broker::Redis);
}

#[cfg(feature = "nats")]
#[test]
fn nats() {
    survives_a_broker_restart(Broker::Nats);
}
