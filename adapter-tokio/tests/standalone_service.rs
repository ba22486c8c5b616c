//! `SocketIoService::new` works as a tower service of its own, answering 404 off-path.

mod common;

use std::future::poll_fn;
use std::sync::Arc;

use bytes::Bytes;
use common::{echo_handlers, Seen};
use http_body_util::{BodyExt, Full};
use sockio_tokio::{ServerConfig, SocketIoService};
use tower_service::Service;

async fn call(
    svc: &mut SocketIoService,
    method: &str,
    uri: &str,
    body: &'static str,
) -> (u16, Bytes) {
    poll_fn(|cx| Service::<http::Request<Full<Bytes>>>::poll_ready(svc, cx))
        .await
        .unwrap();
    let req = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("X-Test", "1")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap();
    let resp = svc.call(req).await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.into_body().collect().await.unwrap().to_bytes())
}

#[tokio::test]
async fn standalone_service_answers_engine_path_and_404() {
    let seen = Arc::new(Seen::default());
    let (ev_tx, _events) = async_channel::unbounded();
    let mut svc = SocketIoService::new(ServerConfig::default(), echo_handlers(seen.clone(), ev_tx));
    let (status, body) = call(&mut svc, "POST", "/socket.io/?EIO=4", "4x").await;
    assert_eq!((status, &body[..]), (200, &b"Post|EIO=4|4x"[..]));
    let (status, _) = call(&mut svc, "GET", "/other", "").await;
    assert_eq!(status, 404);
    let seen = seen.requests.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header("x-test"), Some("1"));
    assert_eq!(seen[0].peer, None);
}
