//! A request body over `max_body` is answered with 413 without calling `on_request`.

mod common;

use common::{request, start, stop, Rt};
use sockio_async_std::ServerConfig;

async fn body_over_max_body_is_413(rt: Rt) {
    let config = ServerConfig {
        max_body: 100,
        ..Default::default()
    };
    let server = start(rt, config, None).await;
    let path = "POST /socket.io/?EIO=4&transport=polling HTTP/1.1";

    // Declared too long.
    let body = vec![b'x'; 101];
    let reply = request(
        server.addr,
        &format!("{path}\r\nContent-Length: 101"),
        &body,
    )
    .await;
    assert_eq!(reply.status, 413);

    // Chunked, found too long while reading.
    let chunk = "0123456789012345678901234567890123456789012345678901234567890123";
    let chunked = format!("40\r\n{chunk}\r\n40\r\n{chunk}\r\n0\r\n\r\n");
    let head = format!("{path}\r\nTransfer-Encoding: chunked");
    let reply = request(server.addr, &head, chunked.as_bytes()).await;
    assert_eq!(reply.status, 413);
    assert!(server.seen.requests.lock().unwrap().is_empty());

    // Chunked within the limit is read whole.
    let chunked = format!("40\r\n{chunk}\r\n0\r\n\r\n");
    let reply = request(server.addr, &head, chunked.as_bytes()).await;
    assert_eq!(reply.status, 200);
    assert!(reply.body.ends_with(chunk.as_bytes()));

    // Exactly the limit is fine.
    let body = vec![b'y'; 100];
    let reply = request(
        server.addr,
        &format!("{path}\r\nContent-Length: 100"),
        &body,
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(server.seen.requests.lock().unwrap().len(), 2);
    stop(server).await;
}

on_both_runtimes!(max_body, body_over_max_body_is_413);
