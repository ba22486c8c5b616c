//! RabbitMQ closes a process's connection (as when the broker restarts or an operator
//! closes it; the shared broker itself is left running): the process logs one warning, then
//! an info once reconnected, and cross-process delivery resumes, exactly once per client.

#![cfg(feature = "amqp")]

mod queue_common;

use std::process::Command;
use std::time::{Duration, Instant};

use queue_common::{cluster, receive, Broker, Logs};
use sockio::SocketIoTestClient;

/// Closes the broker's connections named after `host` (sockio names them `sockio <host_id>`).
fn close_connections_of(host: &str) -> usize {
    let out = Command::new("rabbitmqctl")
        .args(["list_connections", "pid", "client_properties"])
        .args(["--no-table-headers", "--quiet"])
        .output()
        .expect("rabbitmqctl runs");
    assert!(
        out.status.success(),
        "rabbitmqctl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut closed = 0;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some((pid, properties)) = line.split_once('\t') else {
            continue;
        };
        if !properties.contains(&format!("\"sockio {host}\"")) {
            continue;
        }
        let st = Command::new("rabbitmqctl")
            .args([
                "close_connection",
                pid,
                "closed by the sockio connection-loss test",
            ])
            .status()
            .expect("rabbitmqctl runs");
        assert!(st.success());
        closed += 1;
    }
    closed
}

#[test]
fn a_closed_connection_is_reopened() {
    let logs = Logs::capture();
    let s = cluster(Broker::Amqp, "amqp_loss", 2);
    let host = s[0].message_queue().host_id().unwrap().to_string();
    let mut a = SocketIoTestClient::new(&s[0]);
    let mut b = SocketIoTestClient::new(&s[1]);
    let b_sid = b.sid("/").unwrap().to_string();
    s[0].emit("before", ()).unwrap();
    receive(&mut b, "/", &[("before", 1)]);

    assert_eq!(close_connections_of(&host), 1, "one connection per process");
    let end = Instant::now() + Duration::from_secs(20);
    while logs
        .lines(&["INFO", "message queue reconnected", &host])
        .is_empty()
    {
        assert!(Instant::now() < end, "no reconnection logged");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(s[0].message_queue().wait_connected(Duration::from_secs(10)));
    s[0].to(b_sid).emit("after", ()).unwrap();
    s[1].emit("after all", ()).unwrap();
    receive(&mut b, "/", &[("after", 1), ("after all", 1)]);
    receive(&mut a, "/", &[("after all", 1)]);
    assert_eq!(
        logs.lines(&["WARN", "message queue connection lost", &host])
            .len(),
        1,
        "one warning"
    );
}
