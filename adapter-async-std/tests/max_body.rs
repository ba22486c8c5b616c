//! A request body over `max_body` on the engine path reaches `on_request` cut to
//! `max_body + 1` bytes, so that the engine can answer for its session; the whole body is
//! never read into memory. Off the engine path it is refused with 413.

mod common;

use common::{request, start, stop, Rt};
use sockio_async_std::{HttpHandler, HttpResponse, ServerConfig};

fn config() -> ServerConfig {
    ServerConfig {
        max_body: 100,
        ..Default::default()
    }
}

async fn body_over_max_body_reaches_the_engine_cut_one_byte_over(rt: Rt) {
    let server = start(rt, config(), None).await;
    let path = "POST /socket.io/?EIO=4&transport=polling HTTP/1.1";
    let seen_body = |i: usize| server.seen.requests.lock().unwrap()[i].body.clone();

    // Declared far too long: the handler gets 101 bytes.
    let body = vec![b'x'; 5000];
    let reply = request(
        server.addr,
        &format!("{path}\r\nContent-Length: 5000"),
        &body,
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(&seen_body(0)[..], &[b'x'; 101][..]);

    // Chunked, found too long while reading.
    let chunk = "0123456789012345678901234567890123456789012345678901234567890123";
    let chunked = format!("40\r\n{chunk}\r\n40\r\n{chunk}\r\n0\r\n\r\n");
    let head = format!("{path}\r\nTransfer-Encoding: chunked");
    let reply = request(server.addr, &head, chunked.as_bytes()).await;
    assert_eq!(reply.status, 200);
    assert_eq!(seen_body(1).len(), 101);
    assert_eq!(&seen_body(1)[..64], chunk.as_bytes());

    // Exactly the limit comes whole.
    let body = vec![b'y'; 100];
    let reply = request(
        server.addr,
        &format!("{path}\r\nContent-Length: 100"),
        &body,
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(&seen_body(2)[..], &body[..]);
    stop(server).await;
}

async fn body_over_max_body_off_the_engine_path_is_413(rt: Rt) {
    let fallback: HttpHandler = std::sync::Arc::new(|_req| {
        Box::pin(async {
            HttpResponse {
                status: 200,
                headers: Vec::new(),
                body: Default::default(),
            }
        })
    });
    let server = start(rt, config(), Some(fallback)).await;
    let path = "POST /upload HTTP/1.1";
    let reply = request(
        server.addr,
        &format!("{path}\r\nContent-Length: 101"),
        &[b'x'; 101],
    )
    .await;
    assert_eq!(reply.status, 413);
    let chunk = "0123456789012345678901234567890123456789012345678901234567890123";
    let chunked = format!("40\r\n{chunk}\r\n40\r\n{chunk}\r\n0\r\n\r\n");
    let head = format!("{path}\r\nTransfer-Encoding: chunked");
    let reply = request(server.addr, &head, chunked.as_bytes()).await;
    assert_eq!(reply.status, 413);
    let reply = request(
        server.addr,
        &format!("{path}\r\nContent-Length: 100"),
        &[b'x'; 100],
    )
    .await;
    assert_eq!(reply.status, 200);
    stop(server).await;
}

on_both_runtimes!(
    engine_path,
    body_over_max_body_reaches_the_engine_cut_one_byte_over
);
on_both_runtimes!(off_path, body_over_max_body_off_the_engine_path_is_413);
