//! HTTP/1.1 on the engine path: keep-alive, both body framings, the body limit checked before
//! the body is read, bad requests, the fallback and 404.

mod common;

use std::io::Write;
use std::sync::Arc;

use common::{connect, is_closed, read_reply, request, start, stop};
use sockio_threaded::{HttpHandler, HttpResponse, ServerConfig};

#[test]
fn keep_alive_carries_several_requests() {
    let server = start(ServerConfig::default(), None);
    let mut s = connect(server.addr);
    s.write_all(
        b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nX-Test: A\r\n\r\n",
    )
    .unwrap();
    let r = read_reply(&mut s);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"Get|EIO=4&transport=polling|");
    assert_eq!(r.header("connection"), Some("keep-alive"));
    assert_eq!(r.header("content-type"), Some("text/plain; charset=UTF-8"));

    // Two pipelined requests: one with Content-Length, one chunked.
    s.write_all(
        b"POST /socket.io/?b=2 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello\
          POST /socket.io/?c=3 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
          4\r\nwiki\r\n5\r\npedia\r\n0\r\n\r\n",
    )
    .unwrap();
    assert_eq!(read_reply(&mut s).body, b"Post|b=2|hello");
    assert_eq!(read_reply(&mut s).body, b"Post|c=3|wikipedia");

    // 100-continue is answered before the body is sent.
    s.write_all(b"POST /socket.io/ HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
        .unwrap();
    assert_eq!(read_reply(&mut s).status, 100);
    s.write_all(b"ok").unwrap();
    assert_eq!(read_reply(&mut s).body, b"Post||ok");

    // HEAD gets the length but no body; the next request still parses.
    s.write_all(b"HEAD /socket.io/?h HTTP/1.1\r\nHost: x\r\n\r\nGET /socket.io/?after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        std::io::Read::read_exact(&mut s, &mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(String::from_utf8_lossy(&head).contains("Content-Length: 8\r\n"));
    let r = read_reply(&mut s);
    assert_eq!(r.body, b"Get|after|");
    assert_eq!(r.header("connection"), Some("close"));
    assert!(is_closed(&mut s));

    let seen = server.seen.requests.lock().unwrap().clone();
    assert_eq!(seen.len(), 6);
    assert_eq!(seen[0].path, "/socket.io/");
    assert_eq!(seen[0].header("x-test"), Some("A"));
    assert_eq!(seen[0].headers[1].0, "x-test");
    assert_eq!(seen[0].peer.unwrap().ip(), s.local_addr().unwrap().ip());
    assert_eq!(seen[0].peer, Some(s.local_addr().unwrap()));
    stop(server);
}

#[test]
fn http10_closes_unless_asked_to_keep_alive() {
    let server = start(ServerConfig::default(), None);
    let mut s = connect(server.addr);
    s.write_all(b"GET /socket.io/?x HTTP/1.0\r\n\r\n").unwrap();
    assert_eq!(read_reply(&mut s).header("connection"), Some("close"));
    assert!(is_closed(&mut s));
    let mut s = connect(server.addr);
    s.write_all(b"GET /socket.io/?x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .unwrap();
    assert_eq!(read_reply(&mut s).header("connection"), Some("keep-alive"));
    stop(server);
}

#[test]
fn too_large_bodies_reach_the_engine_cut_one_byte_over() {
    let mut config = ServerConfig::default();
    config.transport.max_body = 10;
    let server = start(config, None);
    // Declared far too long: only 11 bytes are read, then the connection closes.
    let mut s = connect(server.addr);
    s.write_all(b"POST /socket.io/ HTTP/1.1\r\nContent-Length: 1000000000\r\n\r\n0123456789abcdef")
        .unwrap();
    assert_eq!(read_reply(&mut s).body, b"Post||0123456789a");
    assert!(is_closed(&mut s));
    let r = request(
        server.addr,
        b"POST /socket.io/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n123456\r\n6\r\n123456\r\n0\r\n\r\n",
    );
    assert_eq!(r.body, b"Post||12345612345");
    // Exactly the limit is whole.
    let r = request(
        server.addr,
        b"POST /socket.io/ HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789",
    );
    assert_eq!(r.body, b"Post||0123456789");
    assert_eq!(server.seen.requests.lock().unwrap().len(), 3);
    stop(server);
}

#[test]
fn too_large_bodies_off_the_engine_path_are_refused_before_reading() {
    let mut config = ServerConfig::default();
    config.transport.max_body = 10;
    let fallback: sockio_threaded::HttpHandler = std::sync::Arc::new(|_req| {
        Box::pin(async {
            sockio_threaded::HttpResponse {
                status: 200,
                headers: Vec::new(),
                body: Default::default(),
            }
        })
    });
    let server = start(config, Some(fallback));
    // The body is never sent: the answer must not wait for it.
    let mut s = connect(server.addr);
    s.write_all(b"POST /upload HTTP/1.1\r\nContent-Length: 1000000000\r\n\r\n")
        .unwrap();
    assert_eq!(read_reply(&mut s).status, 413);
    assert!(is_closed(&mut s));
    let r = request(
        server.addr,
        b"POST /upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n123456\r\n6\r\n123456\r\n0\r\n\r\n",
    );
    assert_eq!(r.status, 413);
    let r = request(
        server.addr,
        b"POST /upload HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789",
    );
    assert_eq!(r.status, 200);
    stop(server);
}

#[test]
fn malformed_requests_get_an_error_and_a_close() {
    let server = start(ServerConfig::default(), None);
    for (raw, status) in [
        (&b"NOT HTTP AT ALL\r\n\r\n"[..], 400),
        (
            b"POST /socket.io/ HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
            400,
        ),
        (
            b"POST /socket.io/ HTTP/1.1\r\nContent-Length: x\r\n\r\n",
            400,
        ),
        (
            b"POST /socket.io/ HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            501,
        ),
        (
            b"POST /socket.io/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nnope\r\n",
            400,
        ),
    ] {
        let mut s = connect(server.addr);
        s.write_all(raw).unwrap();
        assert_eq!(
            read_reply(&mut s).status,
            status,
            "{}",
            String::from_utf8_lossy(raw)
        );
        assert!(is_closed(&mut s));
    }
    let mut huge = b"GET /socket.io/ HTTP/1.1\r\n".to_vec();
    huge.extend(std::iter::repeat_n(b"X-Filler: 0123456789abcdef\r\n", 1000).flatten());
    let mut s = connect(server.addr);
    let _ = s.write_all(&huge);
    assert_eq!(read_reply(&mut s).status, 431);
    assert!(server.seen.requests.lock().unwrap().is_empty());
    stop(server);
}

#[test]
fn other_paths_go_to_the_fallback_or_404() {
    let server = start(ServerConfig::default(), None);
    assert_eq!(
        request(server.addr, b"GET /socket.iox HTTP/1.1\r\n\r\n").status,
        404
    );
    assert_eq!(
        request(server.addr, b"GET /socket.io HTTP/1.1\r\n\r\n").status,
        200
    );
    stop(server);

    let fallback: HttpHandler = Arc::new(|req| {
        Box::pin(async move {
            HttpResponse {
                status: 200,
                headers: vec![("Content-Type", "text/html".to_owned())],
                body: format!("page {}", req.path).into(),
            }
        })
    });
    let server = start(ServerConfig::default(), Some(fallback));
    let r = request(server.addr, b"GET /index.html HTTP/1.1\r\n\r\n");
    assert_eq!(
        (r.status, r.body.as_slice()),
        (200, &b"page /index.html"[..])
    );
    // Absolute-form targets are understood too.
    let r = request(
        server.addr,
        b"GET http://example.com/socket.io/?q HTTP/1.1\r\n\r\n",
    );
    assert_eq!(r.body, b"Get|q|");
    stop(server);
}
