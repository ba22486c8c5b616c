//! Plain HTTP requests on the engine path reach `on_request` and its response is written
//! verbatim; a keep-alive connection carries several requests.

mod common;

use common::{request, start, stop, within, Rt};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use sockio_async_std::{Method, ServerConfig};

async fn get_and_post_reach_on_request(rt: Rt) {
    let server = start(rt, ServerConfig::default(), None).await;

    let get = request(
        server.addr,
        "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nX-Custom-Header: Some Value",
        b"",
    )
    .await;
    assert_eq!(get.status, 200);
    assert_eq!(
        get.header("content-type"),
        Some("text/plain; charset=UTF-8")
    );
    assert_eq!(get.header("x-echo-path"), Some("/socket.io/"));
    assert_eq!(get.body, b"Get|EIO=4&transport=polling|");

    let post = request(
        server.addr,
        "POST /socket.io/?EIO=4&transport=polling&sid=abc HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 10",
        b"4hello\x1e4hi",
    )
    .await;
    assert_eq!(post.status, 200);
    let len = post.body.len().to_string();
    assert_eq!(post.header("content-length"), Some(len.as_str()));
    assert_eq!(
        post.body,
        b"Post|EIO=4&transport=polling&sid=abc|4hello\x1e4hi"
    );

    // The path without its trailing slash is the engine path too; other paths are 404.
    let bare = request(server.addr, "GET /socket.io?EIO=4 HTTP/1.1", b"").await;
    assert_eq!(bare.status, 200);
    assert_eq!(bare.header("x-echo-path"), Some("/socket.io"));
    let other = request(server.addr, "GET /socket.iox/ HTTP/1.1", b"").await;
    assert_eq!(other.status, 404);

    {
        let seen = server.seen.requests.lock().unwrap();
        assert_eq!(seen.len(), 3);
        let first = &seen[0];
        assert_eq!(first.method, Method::Get);
        assert_eq!(first.path, "/socket.io/");
        assert_eq!(first.query, "EIO=4&transport=polling");
        assert!(first.body.is_empty());
        let ip = first.peer.map(|p| p.ip().to_string());
        assert_eq!(ip.as_deref(), Some("127.0.0.1"));
        assert!(first
            .headers
            .iter()
            .any(|(n, v)| n == "x-custom-header" && v == "Some Value"));
        assert!(first
            .headers
            .iter()
            .all(|(n, _)| *n == n.to_ascii_lowercase()));
        assert_eq!(seen[1].method, Method::Post);
        assert_eq!(&seen[1].body[..], b"4hello\x1e4hi");
    }
    stop(server).await;
}

async fn keep_alive_serves_several_requests(rt: Rt) {
    let server = start(rt, ServerConfig::default(), None).await;
    let mut stream = async_net::TcpStream::connect(server.addr).await.unwrap();
    let mut buf = vec![0; 4096];
    for i in 0..3 {
        let body = format!("4n{i}");
        let req = format!(
            "POST /socket.io/?n={i} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(req.as_bytes()).await.unwrap();
        let mut got = Vec::new();
        let expected = format!("Post|n={i}|{body}");
        while !got.ends_with(expected.as_bytes()) {
            let n = within(stream.read(&mut buf)).await.unwrap();
            assert!(n > 0, "connection closed after {i} requests");
            got.extend_from_slice(&buf[..n]);
        }
        assert!(got.starts_with(b"HTTP/1.1 200"));
    }
    assert_eq!(server.seen.requests.lock().unwrap().len(), 3);
    stop(server).await;
}

on_both_runtimes!(round_trip, get_and_post_reach_on_request);
on_both_runtimes!(keep_alive, keep_alive_serves_several_requests);
