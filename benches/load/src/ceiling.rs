//! The raw WebSocket ceiling: tokio-tungstenite with the same WebSocket settings as
//! sockio-tokio and no Socket.IO logic. It speaks just enough Engine.IO framing for the load
//! generator: the open packet on connect, `40{"sid":…}` in answer to `40`, and otherwise the
//! bench work at frame level. A frame starting `42["bcast"` is written to every connection;
//! any other message frame is written back as it is. It never pings (so nothing answers
//! pongs), and pongs and namespace disconnects are ignored.
//!
//! One task per connection reads and writes; broadcasts reach the other connections through
//! an unbounded channel each, whose writer feeds everything queued and flushes once. That is
//! the least any tokio server must do for this work, so it is the ceiling for sockio-tokio.
//!
//! The WebSocket settings are sockio-tokio's: its message and frame limits and its read buffer,
//! [`DEFAULT_READ_BUFFER`], 4 KiB (sockio's `TransportConfig::ws_read_buffer`), where
//! tungstenite defaults to 128 KiB. tungstenite zero-fills the free part of its read buffer
//! before every read, including the reads that find nothing (each time a task holding a
//! WebSocket is woken to write, its read side is polled too), and the buffer stays resident:
//! with 128 KiB that is a 128 KiB memset per wake and about 130 KiB of memory per connection.
//! `--read-buffer 131072` reproduces tungstenite's default.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use futures_util::{SinkExt as _, StreamExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

use crate::{BCAST_EVENT, PING_INTERVAL_MS, PING_TIMEOUT_MS};

/// The same message size limit as sockio-tokio's default (1 MB payload plus slack).
const MAX_MESSAGE: usize = 1_000_000 + 4096;

/// The read buffer of each WebSocket, unless told otherwise.
pub const DEFAULT_READ_BUFFER: usize = 4 * 1024;

type Peers = Arc<RwLock<HashMap<u64, mpsc::UnboundedSender<Message>>>>;

/// Accepts connections on `listener` forever; each WebSocket reads with a buffer of
/// `read_buffer` bytes.
pub async fn serve(listener: TcpListener, read_buffer: usize) -> std::io::Result<()> {
    let peers: Peers = Arc::default();
    let next = Arc::new(AtomicU64::new(1));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(a) => a,
            Err(e) => {
                // Out of descriptors and the like: wait a moment.
                eprintln!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let id = next.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(connection(stream, peer, id, peers.clone(), read_buffer));
    }
}

async fn connection(
    stream: TcpStream,
    _peer: SocketAddr,
    id: u64,
    peers: Peers,
    read_buffer: usize,
) {
    let _ = stream.set_nodelay(true);
    let config = WebSocketConfig::default()
        .read_buffer_size(read_buffer)
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await else {
        return;
    };
    let sid = format!("{id:020}");
    let open = format!(
        r#"0{{"sid":"{sid}","upgrades":[],"pingInterval":{PING_INTERVAL_MS},"pingTimeout":{PING_TIMEOUT_MS},"maxPayload":1000000}}"#
    );
    if ws.send(Message::text(open)).await.is_err() {
        return;
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    peers
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .insert(id, tx);
    let bcast_prefix = format!("42[\"{BCAST_EVENT}\"");
    loop {
        tokio::select! {
            queued = rx.recv() => {
                let Some(first) = queued else { break };
                if ws.feed(first).await.is_err() {
                    break;
                }
                let mut ok = true;
                while let Ok(more) = rx.try_recv() {
                    if ws.feed(more).await.is_err() {
                        ok = false;
                        break;
                    }
                }
                if !ok || ws.flush().await.is_err() {
                    break;
                }
            }
            incoming = ws.next() => {
                let text = match incoming {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => continue,
                };
                let reply = if text.as_str() == "40" {
                    Some(Message::text(format!(r#"40{{"sid":"{sid}"}}"#)))
                } else if text.as_str().starts_with(&bcast_prefix) {
                    broadcast(&peers, Message::Text(text));
                    None
                } else if text.as_str().starts_with('4') && !text.as_str().starts_with("41") {
                    Some(Message::Text(text))
                } else {
                    None
                };
                if let Some(reply) = reply {
                    if ws.send(reply).await.is_err() {
                        break;
                    }
                }
            }
        }
    }
    peers.write().unwrap_or_else(|p| p.into_inner()).remove(&id);
}

fn broadcast(peers: &Peers, msg: Message) {
    let peers = peers.read().unwrap_or_else(|p| p.into_inner());
    for tx in peers.values() {
        let _ = tx.send(msg.clone());
    }
}
