//! A request body over `max_body` on the engine path reaches `on_request` cut to
//! `max_body + 1` bytes, so that the engine can answer for its session; the whole body is
//! never read into memory.

mod common;

use common::{request, start, stop, STEP};
use sockio_tokio::ServerConfig;

#[tokio::test]
async fn body_over_max_body_reaches_the_engine_cut_one_byte_over() {
    tokio::time::timeout(STEP, async {
        let config = ServerConfig {
            max_body: 100,
            ..Default::default()
        };
        let server = start(config, None).await;
        let path = "POST /socket.io/?EIO=4&transport=polling HTTP/1.1";

        let seen_body = |i: usize| server.seen.requests.lock().unwrap()[i].body.clone();

        // Declared far too long: the handler gets 101 bytes.
        let body = vec![b'x'; 5000];
        let reply = request(server.addr, &format!("{path}\r\nContent-Length: 5000"), &body).await;
        assert_eq!(reply.status, 200);
        assert_eq!(&seen_body(0)[..], &[b'x'; 101][..]);

        // Chunked, found too long while reading.
        let chunked = b"40\r\n0123456789012345678901234567890123456789012345678901234567890123\r\n\
                        40\r\n0123456789012345678901234567890123456789012345678901234567890123\r\n0\r\n\r\n";
        let reply = request(server.addr, &format!("{path}\r\nTransfer-Encoding: chunked"), chunked).await;
        assert_eq!(reply.status, 200);
        assert_eq!(seen_body(1).len(), 101);
        assert_eq!(&seen_body(1)[64..], &chunked[74..74 + 37]);

        // Exactly the limit comes whole.
        let body = vec![b'y'; 100];
        let reply = request(server.addr, &format!("{path}\r\nContent-Length: 100"), &body).await;
        assert_eq!(reply.status, 200);
        assert_eq!(&seen_body(2)[..], &body[..]);
        stop(server).await;
    })
    .await
    .expect("test in time");
}

#[tokio::test]
async fn body_over_max_body_off_the_engine_path_is_413() {
    tokio::time::timeout(STEP, async {
        let config = ServerConfig {
            max_body: 100,
            ..Default::default()
        };
        let fallback: sockio_tokio::HttpHandler = std::sync::Arc::new(|_req| {
            Box::pin(async {
                sockio_tokio::HttpResponse {
                    status: 200,
                    headers: Vec::new(),
                    body: Default::default(),
                }
            })
        });
        let server = start(config, Some(fallback)).await;
        let path = "POST /upload HTTP/1.1";
        let body = vec![b'x'; 101];
        let reply = request(
            server.addr,
            &format!("{path}\r\nContent-Length: 101"),
            &body,
        )
        .await;
        assert_eq!(reply.status, 413);
        let body = vec![b'x'; 100];
        let reply = request(
            server.addr,
            &format!("{path}\r\nContent-Length: 100"),
            &body,
        )
        .await;
        assert_eq!(reply.status, 200);
        stop(server).await;
    })
    .await
    .expect("test in time");
}
