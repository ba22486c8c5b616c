//! The load generator's Socket.IO client over WebSocket: the Engine.IO v4 handshake
//! (`GET /socket.io/?EIO=4&transport=websocket`, the open packet), the Socket.IO v5 CONNECT
//! to `/`, pongs to the server's pings, and event frames.
//!
//! The packet codecs of `sockio-protocol` decode the open packet and the CONNECT reply; the
//! hot paths (events sent and received during a measurement) work on the frame text directly,
//! so the generator spends as little as possible per packet.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use sockio_protocol::engineio::{Packet as EioPacket, PacketType};
use sockio_protocol::socketio::packet::{Limits, Packet as SioPacket, PacketKind};
use sockio_protocol::{Bytes, Str};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

use crate::sys;

/// Why a client operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error(format!("io: {e}"))
    }
}

impl From<tokio_tungstenite::tungstenite::Error> for Error {
    fn from(e: tokio_tungstenite::tungstenite::Error) -> Self {
        Error(format!("websocket: {e}"))
    }
}

impl From<tokio::time::error::Elapsed> for Error {
    fn from(_: tokio::time::error::Elapsed) -> Self {
        Error("timed out".into())
    }
}

/// Where the generator connects: a loopback address and the engine path.
#[derive(Debug, Clone)]
pub struct Target {
    /// The server's address (loopback only).
    pub addr: SocketAddr,
    /// The engine path, `/socket.io/` by default.
    pub path: String,
}

impl Target {
    /// A target on a loopback address; anything else is refused.
    pub fn new(addr: SocketAddr, path: &str) -> Result<Target, Error> {
        if !sys::is_loopback(&addr) {
            return Err(Error(format!(
                "{addr} is not a loopback address: the benchmark only talks to 127.0.0.0/8"
            )));
        }
        Ok(Target {
            addr,
            path: path.to_owned(),
        })
    }
}

/// One frame from the server, classified.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// An Engine.IO message (`4…`): the whole frame text, digit included.
    Message(Utf8Bytes),
    /// A ping (`2`): answer with [`Client::pong`].
    Ping,
    /// Anything else that needs no action (noop, WebSocket control frames, binary).
    Other,
}

/// A connected Socket.IO client (Engine.IO session open, namespace `/` joined).
#[derive(Debug)]
pub struct Client {
    ws: WebSocketStream<TcpStream>,
    /// The Socket.IO sid from the CONNECT reply.
    pub sid: String,
    /// The ping interval from the open packet.
    pub ping_interval: Duration,
    /// Whether the server negotiated a WebSocket extension (permessage-deflate); the bench
    /// servers must not.
    pub extensions: bool,
}

/// Small reads: many connections, small packets.
const READ_BUFFER: usize = 8 * 1024;

impl Client {
    /// Opens a WebSocket to `target` (from `source` when given), reads the open packet,
    /// connects to `/` and waits for the CONNECT reply. Not bounded in time: wrap it in a
    /// timeout.
    pub async fn connect(target: &Target, source: Option<Ipv4Addr>) -> Result<Client, Error> {
        let socket = TcpSocket::new_v4()?;
        if let Some(ip) = source {
            sys::bind_source(&socket, ip)?;
        }
        let stream = socket.connect(target.addr).await?;
        stream.set_nodelay(true)?;
        let url = format!(
            "ws://{}{}?EIO=4&transport=websocket",
            target.addr, target.path
        );
        let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER);
        let (ws, response) =
            tokio_tungstenite::client_async_with_config(url, stream, Some(config)).await?;
        let extensions = response.headers().contains_key("sec-websocket-extensions");
        let mut client = Client {
            ws,
            sid: String::new(),
            ping_interval: Duration::ZERO,
            extensions,
        };
        client.ping_interval = client.read_open().await?;
        client.send_text("40").await?;
        client.sid = client.read_connect_reply().await?;
        Ok(client)
    }

    /// Reads the Engine.IO open packet; returns its ping interval.
    async fn read_open(&mut self) -> Result<Duration, Error> {
        let text = loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(t))) => break t,
                Some(Ok(Message::Close(_))) | None => {
                    return Err(Error("closed before the open packet".into()))
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.into()),
            }
        };
        match EioPacket::decode_text_bytes(Bytes::from(text)) {
            Ok(EioPacket::Text(PacketType::Open, data)) => {
                let v: serde_json::Value = serde_json::from_str(data.as_str())
                    .map_err(|e| Error(format!("open packet: {e}")))?;
                let ms = v["pingInterval"]
                    .as_u64()
                    .ok_or_else(|| Error("open packet without pingInterval".into()))?;
                Ok(Duration::from_millis(ms))
            }
            other => Err(Error(format!("expected the open packet, got {other:?}"))),
        }
    }

    /// Waits for the CONNECT reply to `/`, answering pings; returns the Socket.IO sid.
    async fn read_connect_reply(&mut self) -> Result<String, Error> {
        loop {
            let text = match self.next_frame().await? {
                Frame::Message(t) => t,
                Frame::Ping => {
                    self.pong().await?;
                    continue;
                }
                Frame::Other => continue,
            };
            let sio = Str::from_bytes(Bytes::from(text).slice(1..))
                .map_err(|e| Error(format!("CONNECT reply: {e}")))?;
            let p = SioPacket::decode(&sio, Limits::default())
                .map_err(|e| Error(format!("CONNECT reply {:?}: {e}", sio.as_str())))?;
            match p.kind {
                PacketKind::Connect if p.namespace.as_str() == "/" => {
                    return Ok(p
                        .value()
                        .as_ref()
                        .and_then(|d| d["sid"].as_str())
                        .unwrap_or_default()
                        .to_owned());
                }
                PacketKind::ConnectError => {
                    return Err(Error(format!("connection refused: {:?}", p.data)))
                }
                _ => continue,
            }
        }
    }

    /// The next frame from the server. Cancel-safe: no frame is lost if the future is
    /// dropped before it completes.
    pub async fn next_frame(&mut self) -> Result<Frame, Error> {
        match self.ws.next().await {
            Some(Ok(Message::Text(t))) => Ok(match t.as_bytes().first() {
                Some(b'4') => Frame::Message(t),
                Some(b'2') => Frame::Ping,
                Some(b'1') => return Err(Error("the server closed the session".into())),
                _ => Frame::Other,
            }),
            Some(Ok(Message::Close(_))) | None => Err(Error("connection closed".into())),
            Some(Ok(_)) => Ok(Frame::Other),
            Some(Err(e)) => Err(e.into()),
        }
    }

    /// The next Engine.IO message (`4…`), answering pings on the way.
    pub async fn next_message(&mut self) -> Result<Utf8Bytes, Error> {
        loop {
            match self.next_frame().await? {
                Frame::Message(t) => return Ok(t),
                Frame::Ping => self.pong().await?,
                Frame::Other => {}
            }
        }
    }

    /// Answers a ping.
    pub async fn pong(&mut self) -> Result<(), Error> {
        self.send_text("3").await
    }

    /// Sends one text frame and flushes it.
    pub async fn send_text(&mut self, text: impl Into<Utf8Bytes>) -> Result<(), Error> {
        self.ws.send(Message::Text(text.into())).await?;
        Ok(())
    }

    /// Closes the WebSocket (close frame, then waits up to `grace` for the server's close).
    pub async fn close(mut self, grace: Duration) {
        let done = async {
            if self.ws.close(None).await.is_ok() {
                while let Some(Ok(_)) = self.ws.next().await {}
            }
        };
        let _ = tokio::time::timeout(grace, done).await;
    }
}

/// The event frame `42["<event>",<json>]`.
pub fn event_frame(event: &str, json: &str) -> String {
    format!("42[\"{event}\",{json}]")
}

/// The unsigned integer after `"<key>":` in `text`, if any: enough to read the fields the
/// generator itself wrote into a payload, without parsing JSON on the hot path.
pub fn json_u64(text: &str, key: &str) -> Option<u64> {
    let b = text.as_bytes();
    let mut from = 0;
    while let Some(pos) = text[from..].find(key) {
        let at = from + pos;
        let after = at + key.len();
        let quoted = at > 0 && b[at - 1] == b'"' && b.get(after) == Some(&b'"');
        if quoted && b.get(after + 1) == Some(&b':') {
            let digits = &text[after + 2..];
            let end = digits
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(digits.len());
            return digits[..end].parse().ok();
        }
        from = after;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_fields() {
        let f = event_frame("echo", r#"{"pad":"x","seq":7}"#);
        assert_eq!(f, r#"42["echo",{"pad":"x","seq":7}]"#);
        assert_eq!(json_u64(&f, "seq"), Some(7));
        assert_eq!(json_u64(r#"{"seqx":1,"t":42}"#, "t"), Some(42));
        assert_eq!(json_u64(r#"{"pad":"seq","seq":3}"#, "seq"), Some(3));
        assert_eq!(json_u64("{}", "t"), None);
    }

    #[test]
    fn only_loopback_targets() {
        assert!(Target::new("127.0.0.1:1".parse().unwrap(), "/socket.io/").is_ok());
        assert!(Target::new("192.168.1.1:1".parse().unwrap(), "/socket.io/").is_err());
    }
}
