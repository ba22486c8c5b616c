//! A request body over `max_body` is answered with 413 without calling `on_request`.

mod common;

use common::{request, start, stop, STEP};
use sockio_tokio::ServerConfig;

#[tokio::test]
async fn body_over_max_body_is_413() {
    tokio::time::timeout(STEP, async {
        let config = ServerConfig {
            max_body: 100,
            ..Default::default()
        };
        let server = start(config, None).await;
        let path = "POST /socket.io/?EIO=4&transport=polling HTTP/1.1";

        // Declared too long.
        let body = vec![b'x'; 101];
        let reply = request(server.addr, &format!("{path}\r\nContent-Length: 101"), &body).await;
        assert_eq!(reply.status, 413);

        // Chunked, found too long while reading.
        let chunked = b"40\r\n0123456789012345678901234567890123456789012345678901234567890123\r\n\
                        40\r\n0123456789012345678901234567890123456789012345678901234567890123\r\n0\r\n\r\n";
        let reply = request(server.addr, &format!("{path}\r\nTransfer-Encoding: chunked"), chunked).await;
        assert_eq!(reply.status, 413);
        assert!(server.seen.requests.lock().unwrap().is_empty());

        // Exactly the limit is fine.
        let body = vec![b'y'; 100];
        let reply = request(server.addr, &format!("{path}\r\nContent-Length: 100"), &body).await;
        assert_eq!(reply.status, 200);
        assert_eq!(server.seen.requests.lock().unwrap().len(), 1);
        stop(server).await;
    })
    .await
    .expect("test in time");
}
