//! Through each message queue: an emit-only handle (no server) reaches the clients of a
//! cluster with emit, send, rooms, skip_sid and namespaces, and manages their rooms and
//! connections by sid; the blocking variant works from a thread with no runtime and reports
//! an unreachable broker.

#![cfg(any(feature = "redis", feature = "amqp", feature = "nats"))]

mod queue_common;

use std::time::{Duration, Instant};

use queue_common::{args_of, eventually, fresh_channel, receive, server, Broker};
use serde_json::json;
use sockio::{EmitError, SocketIo, SocketIoTestClient};

fn write_only(broker: Broker, channel: &str, blocking: bool) -> SocketIo {
    let b = SocketIo::builder()
        .message_queue_url(broker.url())
        .channel(channel);
    let b = if blocking {
        b.write_only_blocking()
    } else {
        b.write_only()
    };
    b.try_build().unwrap()
}

fn emit_only(broker: Broker) {
    broker.ensure_running();
    let channel = fresh_channel("emit_only");
    let s = [
        server(&broker.url(), &channel),
        server(&broker.url(), &channel),
    ];
    let mut a = SocketIoTestClient::new(&s[0]);
    let mut b = SocketIoTestClient::new(&s[1]);
    let mut b_chat = s[1].test_client().namespace("/chat").connect(&s[1]);
    b.emit("join", "room1");
    let a_sid = a.sid("/").unwrap().to_string();
    let b_sid = b.sid("/").unwrap().to_string();

    for blocking in [false, true] {
        // From a plain thread: no async runtime anywhere on it.
        let (channel, a_sid2, b_sid2) = (channel.clone(), a_sid.clone(), b_sid.clone());
        std::thread::spawn(move || {
            let (a_sid, b_sid) = (a_sid2, b_sid2);
            let ext = write_only(broker, &channel, blocking);
            assert!(ext.message_queue().is_write_only());
            ext.emit("ext", "to all").unwrap();
            ext.send("ext message").unwrap();
            ext.to("room1").emit("ext room", 1).unwrap();
            ext.to_all("/")
                .skip_sid(a_sid.clone())
                .emit("ext skip", ())
                .unwrap();
            ext.to(b_sid.clone()).emit("ext sid", ()).unwrap();
            ext.to_all("/chat").emit("ext chat", ()).unwrap();
            ext.enter_room(&a_sid, "joined by ext", "/");
            ext.flush(Duration::from_secs(5)).unwrap();
            // Acknowledgements need a server.
            let r = ext.to(b_sid).emit_with_ack("q", (), |_| {});
            assert!(matches!(r, Err(EmitError::Queue(_))), "{r:?}");
        })
        .join()
        .unwrap();
        let got = receive(
            &mut a,
            "/",
            &[
                ("ext", 1),
                ("message", 1),
                ("ext room", 0),
                ("ext skip", 0),
                ("ext sid", 0),
            ],
        );
        assert_eq!(args_of(&got, "ext"), vec![json!("to all")]);
        let got = receive(
            &mut b,
            "/",
            &[
                ("ext", 1),
                ("message", 1),
                ("ext room", 1),
                ("ext skip", 1),
                ("ext sid", 1),
            ],
        );
        assert_eq!(args_of(&got, "message"), vec![json!("ext message")]);
        receive(&mut b_chat, "/chat", &[("ext chat", 1)]);
        eventually("the emit-only handle put a client in a room", || {
            s[0].rooms(&a_sid, "/")
                .contains(&"joined by ext".to_string())
        });
        s[0].leave_room(&a_sid, "joined by ext", "/");
    }

    // Closing rooms and disconnecting by sid.
    let ext = write_only(broker, &channel, true);
    ext.close_room("room1", "/");
    eventually("room1 closed", || {
        s[1].room_members("room1", "/").is_empty()
    });
    ext.disconnect(&b_sid, "/");
    let mut gone = false;
    for _ in 0..500 {
        if !b.is_connected("/") {
            gone = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(gone, "b was not disconnected");
    assert!(a.is_connected("/"));
}

fn unreachable_brokers_fail_blocking_emits(broker: Broker) {
    // Nothing listens on port 1.
    let url = match broker {
        Broker::Redis => "redis://127.0.0.1:1",
        Broker::Amqp => "amqp://guest:guest@127.0.0.1:1/%2f",
        Broker::Nats => "nats://127.0.0.1:1",
    };
    let options = sockio::queue::QueueOptions {
        publish_timeout: Duration::from_millis(500),
        ..Default::default()
    };
    let ext = SocketIo::builder()
        .message_queue_url(url)
        .message_queue_options(options)
        .write_only_blocking()
        .try_build()
        .unwrap();
    let start = Instant::now();
    let r = ext.emit("lost", ());
    assert!(matches!(r, Err(EmitError::Queue(_))), "{r:?}");
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(!ext.message_queue().is_connected());

    // Queued emits wait in a bounded outbox; once it is full, emitting fails visibly.
    let options = sockio::queue::QueueOptions {
        outbox_capacity: 3,
        publish_timeout: Duration::from_millis(200),
        ..Default::default()
    };
    let ext = SocketIo::builder()
        .message_queue_url(url)
        .message_queue_options(options)
        .write_only()
        .try_build()
        .unwrap();
    let results: Vec<_> = (0..10).map(|i| ext.emit("queued", i)).collect();
    assert!(results[..3].iter().all(Result::is_ok), "{results:?}");
    assert!(
        matches!(results[9], Err(EmitError::Queue(ref m)) if m.contains("full")),
        "{results:?}"
    );
    assert!(ext.flush(Duration::from_millis(200)).is_err());
}

#[test]
fn emit_only_handles_need_a_url() {
    assert!(SocketIo::builder().write_only().try_build().is_err());
}

#[cfg(feature = "redis")]
#[test]
fn redis() {
    emit_only(Broker::Redis);
}

#[cfg(feature = "amqp")]
#[test]
fn amqp() {
    emit_only(Broker::Amqp);
}

#[cfg(feature = "nats")]
#[test]
fn nats() {
    emit_only(Broker::Nats);
}

#[cfg(feature = "redis")]
#[test]
fn redis_unreachable() {
    unreachable_brokers_fail_blocking_emits(Broker::Redis);
}

#[cfg(feature = "amqp")]
#[test]
fn amqp_unreachable() {
    unreachable_brokers_fail_blocking_emits(Broker::Amqp);
}

#[cfg(feature = "nats")]
#[test]
fn nats_unreachable() {
    unreachable_brokers_fail_blocking_emits(Broker::Nats);
}
