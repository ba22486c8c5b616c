//! HTTP/1.1 on a blocking `TcpStream`: request heads parsed with httparse, bodies read with
//! `Content-Length` or chunked transfer coding (the size limit is checked before anything is
//! buffered), responses written with `Content-Length`.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::{HttpRequest, HttpResponse, Method, TransportConfig};

/// Most headers in one request.
const MAX_HEADERS: usize = 64;
/// Largest chunk-size line or trailer section of a chunked body.
const MAX_CHUNK_META: usize = 8 * 1024;

/// Why a request could not be read. Each maps to the status answered before closing, except
/// [`Io`](Self::Io), after which nothing can be answered.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The connection failed or timed out, or the peer closed it mid-request.
    Io(io::Error),
    /// 400: malformed head or body framing.
    BadRequest,
    /// 413: the body is larger than allowed.
    TooLarge,
    /// 431: the head is larger than allowed.
    HeadTooLarge,
    /// 501: a transfer coding other than chunked.
    NotImplemented,
    /// 408: the head or the body did not arrive in time.
    TooSlow,
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

impl ReadError {
    /// The status to answer with, if the connection can still carry an answer.
    pub(crate) fn status(&self) -> Option<u16> {
        match self {
            ReadError::Io(_) => None,
            ReadError::BadRequest => Some(400),
            ReadError::TooLarge => Some(413),
            ReadError::HeadTooLarge => Some(431),
            ReadError::NotImplemented => Some(501),
            ReadError::TooSlow => Some(408),
        }
    }
}

/// A parsed request head.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: String,
    /// HTTP/1.1 (true) or HTTP/1.0.
    pub(crate) http11: bool,
    /// Lower-case names.
    pub(crate) headers: Vec<(String, String)>,
}

impl Head {
    /// Whether a comma-separated header lists `token` (case-insensitive).
    pub(crate) fn has_token(&self, name: &str, token: &str) -> bool {
        has_token(&self.headers, name, token)
    }

    /// Whether the connection may carry another request after this one.
    pub(crate) fn keep_alive(&self) -> bool {
        if self.http11 {
            !self.has_token("connection", "close")
        } else {
            self.has_token("connection", "keep-alive")
        }
    }

    /// The request as the layer above sees it.
    pub(crate) fn into_request(self, body: Bytes, peer: Option<SocketAddr>) -> HttpRequest {
        HttpRequest {
            method: Method::from_name(&self.method),
            path: self.path,
            query: self.query,
            headers: self.headers,
            body,
            peer,
        }
    }
}

/// Whether a comma-separated header (lower-case `name`) lists `token` (case-insensitive).
fn has_token(headers: &[(String, String)], name: &str, token: &str) -> bool {
    headers
        .iter()
        .filter(|(n, _)| n == name)
        .flat_map(|(_, v)| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// How reads are bounded: the largest head, and the time a head or body may take.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub(crate) max_head: usize,
    /// How long a connection may wait for the first byte of its next request.
    pub(crate) idle_timeout: Duration,
    /// How long a head may take once its first byte arrived.
    pub(crate) header_timeout: Duration,
    /// How bodies must progress ([`TransportConfig::body_deadline`]).
    pub(crate) transport: TransportConfig,
}

impl Default for Limits {
    fn default() -> Self {
        let transport = TransportConfig::default();
        Limits {
            max_head: transport.max_head,
            idle_timeout: Duration::from_secs(60),
            header_timeout: transport.header_timeout,
            transport,
        }
    }
}

/// A connection and the bytes read from it but not consumed yet.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) stream: TcpStream,
    pub(crate) buf: Vec<u8>,
    limits: Limits,
    /// When the current read must have finished, if it is bounded.
    deadline: Option<Instant>,
}

impl Conn {
    pub(crate) fn new(stream: TcpStream, limits: Limits) -> Self {
        Conn {
            stream,
            buf: Vec::new(),
            limits,
            deadline: None,
        }
    }

    /// Reads more bytes; false at end of stream. A read that would end after the current
    /// deadline fails with [`ReadError::TooSlow`].
    fn fill(&mut self) -> Result<bool, ReadError> {
        let mut chunk = [0u8; 8192];
        let n = loop {
            if let Some(deadline) = self.deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(ReadError::TooSlow);
                }
                self.stream.set_read_timeout(Some(left))?;
            }
            match self.stream.read(&mut chunk) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e)
                    if self.deadline.is_some()
                        && matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                        ) =>
                {
                    continue; // the deadline check above decides
                }
                r => break r?,
            }
        };
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n > 0)
    }

    /// Reads the next request head; `None` when the peer closed the connection between
    /// requests. The wait for its first byte is bounded by the idle timeout, the rest by the
    /// header timeout.
    pub(crate) fn read_head(&mut self) -> Result<Option<Head>, ReadError> {
        let head = self.read_head_bounded();
        self.deadline = None;
        head
    }

    fn read_head_bounded(&mut self) -> Result<Option<Head>, ReadError> {
        let idle_until = Instant::now() + self.limits.idle_timeout;
        self.deadline = Some(idle_until);
        if !self.buf.is_empty() {
            self.deadline = Some(Instant::now() + self.limits.header_timeout);
        }
        loop {
            if !self.buf.is_empty() {
                let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
                let mut req = httparse::Request::new(&mut headers);
                match req.parse(&self.buf) {
                    Ok(httparse::Status::Complete(n)) => {
                        let head = to_head(&req);
                        self.buf.drain(..n);
                        return head.map(Some);
                    }
                    Ok(httparse::Status::Partial) if self.buf.len() >= self.limits.max_head => {
                        return Err(ReadError::HeadTooLarge)
                    }
                    Ok(httparse::Status::Partial) => {}
                    Err(httparse::Error::TooManyHeaders) => return Err(ReadError::HeadTooLarge),
                    Err(_) => return Err(ReadError::BadRequest),
                }
            }
            let was_empty = self.buf.is_empty();
            let more = match self.fill() {
                // Idle, with nothing of a request: the connection just ends.
                Err(ReadError::TooSlow) if was_empty => return Ok(None),
                r => r?,
            };
            if !more {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(io::Error::from(io::ErrorKind::UnexpectedEof).into())
                };
            }
            if was_empty {
                // The head started: it has the header timeout to arrive whole.
                self.deadline = Some(Instant::now() + self.limits.header_timeout);
            }
        }
    }

    /// Reads the body that `head` announces, up to `max` bytes. A longer one is refused
    /// before it is buffered ([`ReadError::TooLarge`]), or with `cut` read only up to
    /// `max + 1` bytes and returned so (the rest stays unread: the connection must close).
    /// Answers `Expect: 100-continue` when the body will be read.
    pub(crate) fn read_body(
        &mut self,
        head: &HttpRequest,
        max: usize,
        cut: bool,
    ) -> Result<Bytes, ReadError> {
        let lengths: Vec<&str> = head
            .headers
            .iter()
            .filter(|(n, _)| n == "content-length")
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .collect();
        let chunked = match head.header("transfer-encoding") {
            None => false,
            // Both framings at once is how requests get smuggled.
            Some(_) if !lengths.is_empty() => return Err(ReadError::BadRequest),
            Some(te) if te.trim().eq_ignore_ascii_case("chunked") => true,
            Some(_) => return Err(ReadError::NotImplemented),
        };
        let length = match lengths.split_first() {
            None => 0,
            Some((first, rest)) => {
                if rest.iter().any(|l| l != first) || !first.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(ReadError::BadRequest);
                }
                first.parse::<u64>().map_err(|_| ReadError::BadRequest)?
            }
        };
        if length > max as u64 && !cut {
            return Err(ReadError::TooLarge);
        }
        if (chunked || length > 0) && has_token(&head.headers, "expect", "100-continue") {
            self.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        let body = self.read_body_bounded(chunked, length, max, cut);
        self.deadline = None;
        body
    }

    fn read_body_bounded(
        &mut self,
        chunked: bool,
        length: u64,
        max: usize,
        cut: bool,
    ) -> Result<Bytes, ReadError> {
        let start = Instant::now();
        self.body_progress(start, start, 0);
        if chunked {
            return self.read_chunked(max, cut, start);
        }
        let length = length.min(max as u64 + 1) as usize;
        while self.buf.len() < length {
            let before = self.buf.len();
            if !self.fill()? {
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
            }
            if self.buf.len() > before {
                self.body_progress(start, Instant::now(), self.buf.len());
            }
        }
        let rest = self.buf.split_off(length);
        Ok(Bytes::from(std::mem::replace(&mut self.buf, rest)))
    }

    /// Moves the read deadline of a body that has `received` bytes at `progress`.
    fn body_progress(&mut self, start: Instant, progress: Instant, received: usize) {
        self.deadline = Some(
            self.limits
                .transport
                .body_deadline(start, progress, received),
        );
    }

    fn read_chunked(&mut self, max: usize, cut: bool, start: Instant) -> Result<Bytes, ReadError> {
        let mut body = Vec::new();
        loop {
            self.body_progress(start, Instant::now(), body.len());
            let (used, size) = loop {
                match httparse::parse_chunk_size(&self.buf) {
                    Ok(httparse::Status::Complete(done)) => break done,
                    Ok(httparse::Status::Partial) if self.buf.len() < MAX_CHUNK_META => {
                        self.need_more()?
                    }
                    _ => return Err(ReadError::BadRequest),
                }
            };
            self.buf.drain(..used);
            if size == 0 {
                self.skip_trailers()?;
                return Ok(Bytes::from(body));
            }
            let room = max - body.len();
            if size > room as u64 {
                if !cut {
                    return Err(ReadError::TooLarge);
                }
                // One byte over the limit is all the engine needs to see.
                while self.buf.len() < room + 1 {
                    self.need_more()?;
                }
                body.extend_from_slice(&self.buf[..room + 1]);
                return Ok(Bytes::from(body));
            }
            let size = size as usize;
            while self.buf.len() < size + 2 {
                self.need_more()?;
            }
            if &self.buf[size..size + 2] != b"\r\n" {
                return Err(ReadError::BadRequest);
            }
            body.extend_from_slice(&self.buf[..size]);
            self.buf.drain(..size + 2);
        }
    }

    /// Consumes the trailer section after the last chunk, up to its empty line.
    fn skip_trailers(&mut self) -> Result<(), ReadError> {
        loop {
            match self.buf.windows(2).position(|w| w == b"\r\n") {
                Some(0) => {
                    self.buf.drain(..2);
                    return Ok(());
                }
                Some(i) => drop(self.buf.drain(..i + 2)),
                None if self.buf.len() < MAX_CHUNK_META => self.need_more()?,
                None => return Err(ReadError::BadRequest),
            }
        }
    }

    fn need_more(&mut self) -> Result<(), ReadError> {
        if self.fill()? {
            Ok(())
        } else {
            Err(io::Error::from(io::ErrorKind::UnexpectedEof).into())
        }
    }
}

fn to_head(req: &httparse::Request<'_, '_>) -> Result<Head, ReadError> {
    let (Some(method), Some(target), Some(version)) = (req.method, req.path, req.version) else {
        return Err(ReadError::BadRequest);
    };
    // Origin form (`/path?query`) or absolute form (`http://host/path?query`).
    let target = match target.find("://") {
        Some(i) => target[i + 3..]
            .find('/')
            .map_or("/", |j| &target[i + 3 + j..]),
        None => target,
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let headers = req
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    Ok(Head {
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        http11: version >= 1,
        headers,
    })
}

/// Writes `resp` with a `Content-Length` and a `Connection` header of our own (the
/// response's own framing headers are dropped). For `HEAD` requests the body is left out.
pub(crate) fn write_response(
    stream: &mut TcpStream,
    resp: &HttpResponse,
    keep_alive: bool,
    head_only: bool,
) -> io::Result<()> {
    let mut out = Vec::with_capacity(256 + resp.body.len());
    out.extend_from_slice(
        format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status)).as_bytes(),
    );
    for (name, value) in &resp.headers {
        let framing = ["content-length", "transfer-encoding", "connection"]
            .iter()
            .any(|f| name.eq_ignore_ascii_case(f));
        if framing || value.contains(['\r', '\n']) {
            continue;
        }
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    let connection = if keep_alive { "keep-alive" } else { "close" };
    out.extend_from_slice(
        format!(
            "Content-Length: {}\r\nConnection: {connection}\r\n\r\n",
            resp.body.len()
        )
        .as_bytes(),
    );
    if !head_only {
        out.extend_from_slice(&resp.body);
    }
    stream.write_all(&out)?;
    stream.flush()
}

/// An empty response with this status.
pub(crate) fn status(code: u16) -> HttpResponse {
    HttpResponse {
        status: code,
        headers: Vec::new(),
        body: Bytes::new(),
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;

    /// A connection whose peer sent `raw` and then closed its side.
    fn conn(raw: &[u8]) -> Conn {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        client.write_all(raw).unwrap();
        client.shutdown(std::net::Shutdown::Write).unwrap();
        // Keep the client open for writes (100-continue) by leaking it into a thread.
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = client.read_to_end(&mut sink);
        });
        Conn::new(listener.accept().unwrap().0, Limits::default())
    }

    #[test]
    fn pipelined_requests_with_both_framings() {
        let mut c = conn(
            b"POST /socket.io/?EIO=4 HTTP/1.1\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello\
              POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nT: 1\r\n\r\n\
              GET /y HTTP/1.0\r\n\r\n",
        );
        let head = c.read_head().unwrap().unwrap();
        assert_eq!(
            (head.path.as_str(), head.query.as_str()),
            ("/socket.io/", "EIO=4")
        );
        assert!(head.keep_alive());
        let req = head.into_request(Bytes::new(), None);
        assert_eq!(req.header("x-a"), Some("b"));
        assert_eq!(&c.read_body(&req, 100, false).unwrap()[..], b"hello");
        let head = c.read_head().unwrap().unwrap();
        let req = head.into_request(Bytes::new(), None);
        assert_eq!(&c.read_body(&req, 100, false).unwrap()[..], b"abcde");
        let head = c.read_head().unwrap().unwrap();
        assert_eq!(head.method, "GET");
        assert!(!head.keep_alive());
        let req = head.into_request(Bytes::new(), None);
        assert!(c.read_body(&req, 100, false).unwrap().is_empty());
        assert!(c.read_head().unwrap().is_none());
    }

    #[test]
    fn limits_and_bad_framing() {
        let body_err = |raw: &[u8], max| {
            let mut c = conn(raw);
            let head = c.read_head().unwrap().unwrap();
            let req = head.into_request(Bytes::new(), None);
            c.read_body(&req, max, false).unwrap_err().status()
        };
        assert_eq!(
            body_err(b"POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", 10),
            Some(413)
        );
        assert_eq!(
            body_err(
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n",
                10
            ),
            Some(413)
        );
        assert_eq!(
            body_err(
                b"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
                10
            ),
            Some(400)
        );
        assert_eq!(
            body_err(b"POST / HTTP/1.1\r\nContent-Length: 1, 2\r\n\r\n", 10),
            Some(400)
        );
        assert_eq!(
            body_err(b"POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n", 10),
            Some(400)
        );
        assert_eq!(
            body_err(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 10),
            Some(501)
        );
        assert_eq!(
            body_err(
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                10
            ),
            Some(400)
        );
        let mut big = b"GET / HTTP/1.1\r\n".to_vec();
        big.extend(std::iter::repeat_n(b"X-Long: aaaaaaaaaaaaaaaa\r\n", 1000).flatten());
        assert_eq!(conn(&big).read_head().unwrap_err().status(), Some(431));
        assert_eq!(
            conn(b"GET / HTTP/1.1\r\nBad Header\r\n\r\n")
                .read_head()
                .unwrap_err()
                .status(),
            Some(400)
        );
        assert!(matches!(
            conn(b"GET / HTTP/1.1\r\nHost: x\r\n").read_head(),
            Err(ReadError::Io(_))
        ));
    }

    #[test]
    fn cut_reads_one_byte_over_the_limit() {
        let cut = |raw: &[u8], max| {
            let mut c = conn(raw);
            let head = c.read_head().unwrap().unwrap();
            let req = head.into_request(Bytes::new(), None);
            c.read_body(&req, max, true).unwrap()
        };
        let long = b"POST / HTTP/1.1\r\nContent-Length: 20\r\n\r\n01234567890123456789";
        assert_eq!(&cut(long, 10)[..], b"01234567890");
        let chunked =
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\nabcdefgh\r\n0\r\n\r\n";
        assert_eq!(&cut(chunked, 10)[..], b"12345678abc");
        assert_eq!(&cut(chunked, 16)[..], b"12345678abcdefgh");
    }
}
