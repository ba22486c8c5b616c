//! Plain HTTP requests on the engine path reach `on_request` and its response is written
//! verbatim.

mod common;

use common::{request, start, stop, STEP};
use sockio_tokio::{Method, ServerConfig};

#[tokio::test]
async fn get_and_post_reach_on_request() {
    tokio::time::timeout(STEP * 2, async {
        let server = start(ServerConfig::default(), None).await;

        let get = request(
            server.addr,
            "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nX-Custom-Header: Some Value",
            b"",
        )
        .await;
        assert_eq!(get.status, 200);
        assert_eq!(get.header("content-type"), Some("text/plain; charset=UTF-8"));
        assert_eq!(get.header("x-echo-path"), Some("/socket.io/"));
        assert_eq!(get.body, b"Get|EIO=4&transport=polling|");

        let post = request(
            server.addr,
            "POST /socket.io/?EIO=4&transport=polling&sid=abc HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 10",
            b"4hello\x1e4hi",
        )
        .await;
        assert_eq!(post.status, 200);
        assert_eq!(post.header("content-length"), Some(post.body.len().to_string().as_str()));
        assert_eq!(post.body, b"Post|EIO=4&transport=polling&sid=abc|4hello\x1e4hi");

        // The path without its trailing slash is the engine path too.
        let bare = request(server.addr, "GET /socket.io?EIO=4 HTTP/1.1", b"").await;
        assert_eq!(bare.status, 200);
        assert_eq!(bare.header("x-echo-path"), Some("/socket.io"));

        {
            let seen = server.seen.requests.lock().unwrap();
            assert_eq!(seen.len(), 3);
            let first = &seen[0];
            assert_eq!(first.method, Method::Get);
            assert_eq!(first.path, "/socket.io/");
            assert_eq!(first.query, "EIO=4&transport=polling");
            assert!(first.body.is_empty());
            assert_eq!(first.peer.map(|p| p.ip().to_string()).as_deref(), Some("127.0.0.1"));
            assert!(first
                .headers
                .iter()
                .any(|(n, v)| n == "x-custom-header" && v == "Some Value"));
            assert!(first.headers.iter().all(|(n, _)| *n == n.to_ascii_lowercase()));
            assert_eq!(seen[1].method, Method::Post);
            assert_eq!(&seen[1].body[..], b"4hello\x1e4hi");
        }
        stop(server).await;
    })
    .await
    .expect("test in time");
}
