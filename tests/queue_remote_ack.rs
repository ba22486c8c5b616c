//! Through each message queue: an emit with a callback addressed to a client on another
//! process gets that client's acknowledgement back (python-socketio's `callback` message),
//! `call` waits for it, binary acknowledgements arrive whole, and a client that never answers
//! ends in a timeout.

#![cfg(any(feature = "redis", feature = "amqp", feature = "nats"))]

mod queue_common;

use std::sync::mpsc;
use std::time::Duration;

use bytes::Bytes;
use queue_common::{cluster, receive, Broker};
use serde_json::json;
use sockio::{AckError, Binary, SocketIoTestClient};

fn acks_come_back_across_processes(broker: Broker) {
    let s = cluster(broker, "remote_ack", 2);
    let mut client = SocketIoTestClient::new(&s[1]);
    let sid = client.sid("/").unwrap().to_string();

    // emit_with_ack: the callback runs on the emitting process.
    let (tx, rx) = mpsc::channel();
    s[0].to(sid.clone())
        .emit_with_ack("question", "2+2?", move |r| tx.send(r).unwrap())
        .unwrap();
    let got = receive(&mut client, "/", &[("question", 1)]);
    assert_eq!(got[0].args, vec![json!("2+2?")]);
    let id = got[0].ack.expect("an ack was asked for");
    client.ack("/", id, (4, "four"));
    let answer = rx.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
    assert_eq!(answer.get::<i32>(0).unwrap(), 4);
    assert_eq!(answer.get::<String>(1).unwrap(), "four");

    // call: waits for the answer; binary survives the trip back.
    let io = s[0].clone();
    let to = sid.clone();
    let caller =
        std::thread::spawn(move || futures_lite::future::block_on(io.to(to).call("file?", ())));
    let got = receive(&mut client, "/", &[("file?", 1)]);
    client.ack(
        "/",
        got[0].ack.unwrap(),
        Binary::from(&b"\x00bytes\xff"[..]),
    );
    let answer = caller.join().unwrap().unwrap();
    assert_eq!(
        answer.get::<Binary>(0).unwrap(),
        Binary(Bytes::from_static(b"\x00bytes\xff"))
    );

    // Nobody answers: the emitting process times out on its own.
    let (tx, rx) = mpsc::channel();
    s[0].to(sid)
        .timeout(Duration::from_millis(400))
        .emit_with_ack("ignored", (), move |r| tx.send(r).unwrap())
        .unwrap();
    receive(&mut client, "/", &[("ignored", 1)]);
    let r = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(r.unwrap_err(), AckError::Timeout);
}

#[cfg(feature = "redis")]
#[test]
fn redis() {
    acks_come_back_across_processes(Broker::Redis);
}

#[cfg(feature = "amqp")]
#[test]
fn amqp() {
    acks_come_back_across_processes(Broker::Amqp);
}

#[cfg(feature = "nats")]
#[test]
fn nats() {
    acks_come_back_across_processes(Broker::Nats);
}
