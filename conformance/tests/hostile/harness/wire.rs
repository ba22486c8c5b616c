//! Raw clients for attackers: a WebSocket over a plain `TcpStream` (frames written by hand, so
//! that an attacker controls exactly what goes out and what it reads) and HTTP/1.1 requests.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The engine path with the query of a WebSocket handshake.
pub const WS_TARGET: &str = "/socket.io/?EIO=4&transport=websocket";
/// The engine path with the query of a polling handshake.
pub const POLLING_TARGET: &str = "/socket.io/?EIO=4&transport=polling";

/// WebSocket opcodes.
pub const TEXT: u8 = 0x1;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;

/// A client frame: FIN, `opcode`, masked with the all-zero key (legal, and the payload stays
/// as it is, so a large frame can be built once and written many times).
pub fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(payload.len() + 14);
    f.push(0x80 | opcode);
    let len = payload.len();
    if len < 126 {
        f.push(0x80 | len as u8);
    } else if len <= 0xffff {
        f.push(0x80 | 126);
        f.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        f.push(0x80 | 127);
        f.extend_from_slice(&(len as u64).to_be_bytes());
    }
    f.extend_from_slice(&[0, 0, 0, 0]);
    f.extend_from_slice(payload);
    f
}

/// A text frame.
pub fn text_frame(text: &str) -> Vec<u8> {
    frame(TEXT, text.as_bytes())
}

/// A message from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsMsg {
    Text(String),
    Binary(Vec<u8>),
    Ping,
    Pong,
    Close,
}

/// A WebSocket connection, read and written by hand.
pub struct Ws {
    pub stream: TcpStream,
    /// The Socket.IO sid in `/`, once [`Ws::socketio`] connected.
    pub sid: Option<String>,
    rbuf: Vec<u8>,
    /// A fragmented message being put together: its opcode and data so far.
    partial: Option<(u8, Vec<u8>)>,
}

/// Connects a TCP stream, with a timeout and TCP_NODELAY.
pub fn tcp(addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// The head of a WebSocket handshake request on the engine path, with `extra` header lines
/// (each ending in `\r\n`).
pub fn ws_request(addr: SocketAddr, extra: &str) -> String {
    format!(
        "GET {WS_TARGET} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

impl Ws {
    /// Opens a WebSocket on the engine path; `extra` header lines go into the handshake.
    /// Fails unless the answer is 101.
    pub fn connect(addr: SocketAddr, extra: &str, timeout: Duration) -> io::Result<Ws> {
        match Ws::handshake(addr, extra, timeout)? {
            (101, Some(ws)) => Ok(ws),
            (status, _) => Err(io::Error::other(format!("handshake answered {status}"))),
        }
    }

    /// Sends a WebSocket handshake and returns the status of the answer, and the WebSocket
    /// when it is 101. Writing the head stops at `timeout` too (a server that refuses a large
    /// head may stop reading it).
    pub fn handshake(
        addr: SocketAddr,
        extra: &str,
        timeout: Duration,
    ) -> io::Result<(u16, Option<Ws>)> {
        let until = Instant::now() + timeout;
        let mut stream = tcp(addr, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        let head = ws_request(addr, extra);
        if let Err(e) = stream.write_all(head.as_bytes()) {
            // The server may answer (431) and close before the head is all written.
            if let Ok(status) = read_status_only(&mut stream, until) {
                return Ok((status, None));
            }
            return Err(e);
        }
        let mut rbuf = Vec::new();
        let end = read_head(&mut stream, &mut rbuf, until)?;
        let status = status_of(&rbuf[..end])?;
        if status != 101 {
            return Ok((status, None));
        }
        rbuf.drain(..end);
        Ok((
            status,
            Some(Ws {
                stream,
                sid: None,
                rbuf,
                partial: None,
            }),
        ))
    }

    /// Writes one frame.
    pub fn send(&mut self, opcode: u8, payload: &[u8]) -> io::Result<()> {
        self.stream.write_all(&frame(opcode, payload))
    }

    /// Writes one text frame.
    pub fn send_text(&mut self, text: &str) -> io::Result<()> {
        self.send(TEXT, text.as_bytes())
    }

    /// Reads the next message (blocking up to the stream's read timeout; a timeout leaves
    /// whatever was read buffered, so calling again resumes).
    pub fn read(&mut self) -> io::Result<WsMsg> {
        loop {
            if let Some(m) = self.parse()? {
                return Ok(m);
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(io::Error::new(
                    ErrorKind::UnexpectedEof,
                    "connection closed",
                ));
            }
            self.rbuf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Reads until `until`: the next text message, answering Engine.IO pings (`2` with `3`)
    /// on the way. `Ok(None)` at the deadline.
    pub fn next_text(&mut self, until: Instant) -> io::Result<Option<String>> {
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.stream.set_read_timeout(Some(left))?;
            match self.read() {
                Ok(WsMsg::Text(t)) if t == "2" => self.send_text("3")?,
                Ok(WsMsg::Text(t)) => return Ok(Some(t)),
                Ok(WsMsg::Close) => {
                    return Err(io::Error::new(ErrorKind::ConnectionAborted, "close frame"))
                }
                Ok(_) => {}
                Err(e) if is_timeout(&e) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads text messages until one satisfies `pick`, answering pings; fails at `until`.
    pub fn wait_for(
        &mut self,
        until: Instant,
        mut pick: impl FnMut(&str) -> bool,
    ) -> io::Result<String> {
        loop {
            match self.next_text(until)? {
                Some(t) if pick(&t) => return Ok(t),
                Some(_) => {}
                None => return Err(io::Error::new(ErrorKind::TimedOut, "nothing in time")),
            }
        }
    }

    /// A Socket.IO client on `/`: the WebSocket, the open packet, `40` and the CONNECT answer.
    pub fn socketio(addr: SocketAddr, timeout: Duration) -> io::Result<Ws> {
        let until = Instant::now() + timeout;
        let mut ws = Ws::connect(addr, "", timeout)?;
        ws.wait_for(until, |t| t.starts_with('0'))?;
        ws.send_text("40")?;
        let answer = ws.wait_for(until, |t| t.starts_with("40") || t.starts_with("44"))?;
        if !answer.starts_with("40{") {
            return Err(io::Error::other(format!("CONNECT answered {answer}")));
        }
        ws.sid = serde_json::from_str::<serde_json::Value>(&answer[2..])
            .ok()
            .and_then(|v| v["sid"].as_str().map(str::to_string));
        Ok(ws)
    }

    /// Emits `args` (a JSON array text, event name first) with ack id `id` and returns the
    /// acknowledgement's JSON array text.
    pub fn call(&mut self, id: u64, args: &str, timeout: Duration) -> io::Result<String> {
        let until = Instant::now() + timeout;
        self.send_text(&format!("42{id}{args}"))?;
        let prefix = format!("43{id}[");
        let ack = self.wait_for(until, |t| t.starts_with(&prefix))?;
        Ok(ack[prefix.len() - 1..].to_string())
    }

    fn parse(&mut self) -> io::Result<Option<WsMsg>> {
        loop {
            let b = &self.rbuf;
            if b.len() < 2 {
                return Ok(None);
            }
            let fin = b[0] & 0x80 != 0;
            let opcode = b[0] & 0x0f;
            let masked = b[1] & 0x80 != 0;
            let (len, mut at) = match b[1] & 0x7f {
                126 if b.len() >= 4 => (u16::from_be_bytes([b[2], b[3]]) as usize, 4),
                127 if b.len() >= 10 => {
                    let mut l = [0u8; 8];
                    l.copy_from_slice(&b[2..10]);
                    (u64::from_be_bytes(l) as usize, 10)
                }
                126 | 127 => return Ok(None),
                n => (n as usize, 2),
            };
            let mask = if masked {
                if b.len() < at + 4 {
                    return Ok(None);
                }
                let m = [b[at], b[at + 1], b[at + 2], b[at + 3]];
                at += 4;
                Some(m)
            } else {
                None
            };
            if b.len() < at + len {
                return Ok(None);
            }
            let mut payload: Vec<u8> = self.rbuf[at..at + len].to_vec();
            if let Some(m) = mask {
                for (i, x) in payload.iter_mut().enumerate() {
                    *x ^= m[i % 4];
                }
            }
            self.rbuf.drain(..at + len);
            let whole = match opcode {
                0x0 => {
                    let Some((op, mut data)) = self.partial.take() else {
                        return Err(io::Error::other("continuation without a start"));
                    };
                    data.extend_from_slice(&payload);
                    if !fin {
                        self.partial = Some((op, data));
                        continue;
                    }
                    (op, data)
                }
                0x1 | 0x2 if !fin => {
                    self.partial = Some((opcode, payload));
                    continue;
                }
                _ => (opcode, payload),
            };
            return Ok(Some(match whole {
                (0x1, d) => WsMsg::Text(String::from_utf8_lossy(&d).into_owned()),
                (0x2, d) => WsMsg::Binary(d),
                (0x8, _) => WsMsg::Close,
                (0x9, _) => WsMsg::Ping,
                (0xA, _) => WsMsg::Pong,
                (op, _) => return Err(io::Error::other(format!("unknown opcode {op}"))),
            }));
        }
    }
}

/// Whether `e` is a read or write timeout of a blocking socket.
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// Reads until the end of an HTTP head (`\r\n\r\n`); returns the length of the head.
fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>, until: Instant) -> io::Result<usize> {
    loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Ok(i + 4);
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(ErrorKind::TimedOut, "no HTTP head in time"));
        }
        stream.set_read_timeout(Some(left))?;
        let mut chunk = [0u8; 8192];
        let n = match stream.read(&mut chunk) {
            Err(e) if is_timeout(&e) => {
                return Err(io::Error::new(
                    ErrorKind::TimedOut,
                    "no HTTP answer in time",
                ))
            }
            r => r?,
        };
        if n == 0 {
            return Err(io::Error::new(
                ErrorKind::UnexpectedEof,
                "connection closed before an HTTP answer",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn read_status_only(stream: &mut TcpStream, until: Instant) -> io::Result<u16> {
    let mut buf = Vec::new();
    let end = read_head(stream, &mut buf, until)?;
    status_of(&buf[..end])
}

fn status_of(head: &[u8]) -> io::Result<u16> {
    let line = head.split(|&c| c == b'\r').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    line.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other(format!("bad status line {line:?}")))
}

/// An HTTP/1.1 keep-alive connection.
pub struct Http {
    pub stream: TcpStream,
    addr: SocketAddr,
    buf: Vec<u8>,
}

impl Http {
    pub fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<Http> {
        let stream = tcp(addr, timeout)?;
        Ok(Http {
            stream,
            addr,
            buf: Vec::new(),
        })
    }

    /// Sends a request and reads its answer (status and body), within `timeout`.
    pub fn request(
        &mut self,
        method: &str,
        target: &str,
        body: &[u8],
        timeout: Duration,
    ) -> io::Result<(u16, Vec<u8>)> {
        let until = Instant::now() + timeout;
        let head = format!(
            "{method} {target} HTTP/1.1\r\nHost: {}\r\nContent-Type: text/plain;charset=UTF-8\r\n\
             Content-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        );
        self.stream.set_write_timeout(Some(timeout))?;
        self.stream.write_all(head.as_bytes())?;
        self.stream.write_all(body)?;
        let end = read_head(&mut self.stream, &mut self.buf, until)?;
        let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        let status = status_of(head.as_bytes())?;
        self.buf.drain(..end);
        let header = |name: &str| {
            head.lines().find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_string())
            })
        };
        let body = if let Some(len) = header("content-length") {
            let len: usize = len.parse().map_err(io::Error::other)?;
            self.fill(len, until)?;
            self.buf.drain(..len).collect()
        } else if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            let mut body = Vec::new();
            loop {
                let line_end = loop {
                    if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                        break i;
                    }
                    let have = self.buf.len();
                    self.fill(have + 1, until)?;
                };
                let size = String::from_utf8_lossy(&self.buf[..line_end]).into_owned();
                let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
                    .map_err(io::Error::other)?;
                self.fill(line_end + 2 + size + 2, until)?;
                body.extend_from_slice(&self.buf[line_end + 2..line_end + 2 + size]);
                self.buf.drain(..line_end + 2 + size + 2);
                if size == 0 {
                    break body;
                }
            }
        } else {
            Vec::new()
        };
        Ok((status, body))
    }

    fn fill(&mut self, len: usize, until: Instant) -> io::Result<()> {
        while self.buf.len() < len {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(ErrorKind::TimedOut, "HTTP body not in time"));
            }
            self.stream.set_read_timeout(Some(left))?;
            let mut chunk = [0u8; 16 * 1024];
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(io::Error::new(
                    ErrorKind::UnexpectedEof,
                    "connection closed",
                ));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
        Ok(())
    }

    /// A polling handshake: the Engine.IO sid.
    pub fn polling_handshake(&mut self, timeout: Duration) -> io::Result<String> {
        let (status, body) = self.request("GET", POLLING_TARGET, b"", timeout)?;
        if status != 200 || body.first() != Some(&b'0') {
            return Err(io::Error::other(format!(
                "handshake answered {status} {}",
                String::from_utf8_lossy(&body)
            )));
        }
        let open: serde_json::Value =
            serde_json::from_slice(&body[1..]).map_err(io::Error::other)?;
        open["sid"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| io::Error::other("no sid in the open packet"))
    }
}

/// Writes all of `buf` unless `go` turns false first (checked whenever the write timeout of
/// `stream` passes without progress). Returns the bytes written.
pub fn write_while(stream: &mut TcpStream, buf: &[u8], go: impl Fn() -> bool) -> io::Result<usize> {
    let mut at = 0;
    while at < buf.len() {
        match stream.write(&buf[at..]) {
            Ok(0) => return Err(io::Error::new(ErrorKind::WriteZero, "wrote nothing")),
            Ok(n) => at += n,
            Err(e) if is_timeout(&e) || e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        if at < buf.len() && !go() {
            break;
        }
    }
    Ok(at)
}
