//! Off-path requests get 404, or the fallback's answer when one is given.

mod common;

use std::sync::Arc;

use common::{request, start, stop, STEP};
use sockio_tokio::{HttpHandler, HttpRequest, HttpResponse, ServerConfig};

#[tokio::test]
async fn off_path_is_404_without_fallback() {
    tokio::time::timeout(STEP, async {
        let server = start(ServerConfig::default(), None).await;
        for path in ["/", "/index.html", "/socket.iox/", "/socket"] {
            let reply = request(server.addr, &format!("GET {path} HTTP/1.1"), b"").await;
            assert_eq!(reply.status, 404, "{path}");
        }
        assert!(server.seen.requests.lock().unwrap().is_empty());
        stop(server).await;
    })
    .await
    .expect("test in time");
}

#[tokio::test]
async fn fallback_serves_off_path() {
    tokio::time::timeout(STEP, async {
        let fallback: HttpHandler = Arc::new(|req: HttpRequest| {
            Box::pin(async move {
                HttpResponse {
                    status: 200,
                    headers: vec![("Content-Type", "text/html".to_owned())],
                    body: format!("<p>{}</p>", req.path).into(),
                }
            })
        });
        let config = ServerConfig {
            path: "/engine.io".to_owned(),
            ..Default::default()
        };
        let server = start(config, Some(fallback)).await;
        let page = request(server.addr, "GET /index.html HTTP/1.1", b"").await;
        assert_eq!(page.status, 200);
        assert_eq!(page.header("content-type"), Some("text/html"));
        assert_eq!(page.body, b"<p>/index.html</p>");
        // The engine path still goes to the engine.
        let engine = request(server.addr, "GET /engine.io/?EIO=4 HTTP/1.1", b"").await;
        assert_eq!(engine.body, b"Get|EIO=4|");
        assert_eq!(server.seen.requests.lock().unwrap().len(), 1);
        stop(server).await;
    })
    .await
    .expect("test in time");
}
