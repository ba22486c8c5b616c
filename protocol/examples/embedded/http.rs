//! HTTP/1.1 as the example needs it, on byte buffers only (the event loop in `main.rs` owns
//! the sockets): request heads parsed with httparse and bounded before they are parsed, bodies
//! framed by `Content-Length`, responses written with `Content-Length`.
//!
//! Chunked request bodies are refused with 501: Engine.IO clients (browsers, node, python)
//! send `Content-Length`. A server whose clients chunk adds a decoder here
//! (`httparse::parse_chunk_size`) and keeps the same limits.

use std::net::SocketAddr;

use sockio_protocol::http::{HttpRequest, HttpResponse, Method};
use sockio_protocol::Bytes;

/// Most headers one request may have (more is answered 431).
const MAX_HEADERS: usize = 64;

/// A request head, parsed.
#[derive(Debug)]
pub struct Head {
    /// Method, path, query, headers and peer; the body is filled in once read.
    pub request: HttpRequest,
    /// Whether the connection may carry another request after this one.
    pub keep_alive: bool,
    /// The body's length (`Content-Length`, 0 without one).
    pub body_len: u64,
    /// `Expect: 100-continue`: the client waits for a `100 Continue` before its body.
    pub expect_continue: bool,
}

/// Why a request head was refused; each is answered with its status, then the connection is
/// closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadError {
    /// 400: not HTTP/1.x, or conflicting or malformed framing.
    BadRequest,
    /// 431: the head is longer than the limit, or has too many headers.
    TooLarge,
    /// 501: a `Transfer-Encoding` (chunked bodies are not decoded here).
    NotImplemented,
}

impl HeadError {
    /// The status to answer with.
    pub fn status(self) -> u16 {
        match self {
            HeadError::BadRequest => 400,
            HeadError::TooLarge => 431,
            HeadError::NotImplemented => 501,
        }
    }
}

/// Parses the request head at the start of `buf`: `Ok(None)` while it is incomplete, or the
/// head and the number of bytes it took. At most `max_head` bytes are looked at: a head that
/// does not end within them is refused, however much more the peer sends.
pub fn parse_head(
    buf: &[u8],
    max_head: usize,
    peer: SocketAddr,
) -> Result<Option<(Head, usize)>, HeadError> {
    let window = &buf[..buf.len().min(max_head)];
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let used = match req.parse(window) {
        Ok(httparse::Status::Complete(used)) => used,
        Ok(httparse::Status::Partial) if window.len() >= max_head => {
            return Err(HeadError::TooLarge)
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooLarge),
        Err(_) => return Err(HeadError::BadRequest),
    };
    let (Some(method), Some(target), Some(version)) = (req.method, req.path, req.version) else {
        return Err(HeadError::BadRequest);
    };
    // Origin form (`/path?query`) or absolute form (`http://host/path?query`).
    let target = match target.find("://") {
        Some(i) => target[i + 3..]
            .find('/')
            .map_or("/", |j| &target[i + 3 + j..]),
        None => target,
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|h| {
            let value = String::from_utf8_lossy(h.value).into_owned();
            (h.name.to_ascii_lowercase(), value)
        })
        .collect();
    let has = |name: &str, token: &str| {
        headers
            .iter()
            .filter(|(n, _)| n == name)
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    let keep_alive = if version >= 1 {
        !has("connection", "close")
    } else {
        has("connection", "keep-alive")
    };
    let expect_continue = has("expect", "100-continue");
    let lengths: Vec<&str> = headers
        .iter()
        .filter(|(n, _)| n == "content-length")
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .collect();
    if headers.iter().any(|(n, _)| n == "transfer-encoding") {
        // Both framings at once is how requests get smuggled.
        return Err(if lengths.is_empty() {
            HeadError::NotImplemented
        } else {
            HeadError::BadRequest
        });
    }
    let body_len = match lengths.split_first() {
        None => 0,
        Some((first, rest)) => {
            let digits = !first.is_empty() && first.bytes().all(|b| b.is_ascii_digit());
            if !digits || rest.iter().any(|l| l != first) {
                return Err(HeadError::BadRequest);
            }
            first.parse().map_err(|_| HeadError::BadRequest)?
        }
    };
    let request = HttpRequest {
        method: Method::from_name(method),
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
        body: Bytes::new(),
        peer: Some(peer),
    };
    let head = Head {
        request,
        keep_alive,
        body_len,
        expect_continue,
    };
    Ok(Some((head, used)))
}

/// Appends `response` to `out` with a `Content-Length` and a `Connection` header of our own
/// (framing headers in the response are dropped, and so is any header value that would break
/// the head).
pub fn write_response(out: &mut Vec<u8>, response: &HttpResponse, keep_alive: bool) {
    let status = response.status;
    out.extend_from_slice(format!("HTTP/1.1 {status} {}\r\n", reason(status)).as_bytes());
    for (name, value) in &response.headers {
        let framing = ["content-length", "transfer-encoding", "connection"]
            .iter()
            .any(|f| name.eq_ignore_ascii_case(f));
        if framing || value.contains(['\r', '\n']) {
            continue;
        }
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    let connection = if keep_alive { "keep-alive" } else { "close" };
    let length = response.body.len();
    out.extend_from_slice(
        format!("Content-Length: {length}\r\nConnection: {connection}\r\n\r\n").as_bytes(),
    );
    out.extend_from_slice(&response.body);
}

/// An empty response with this status.
pub fn status(code: u16) -> HttpResponse {
    HttpResponse {
        status: code,
        headers: Vec::new(),
        body: Bytes::new(),
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 16 * 1024;

    fn peer() -> SocketAddr {
        "127.0.0.1:9".parse().unwrap()
    }

    fn parse(raw: &[u8]) -> Result<Option<(Head, usize)>, HeadError> {
        parse_head(raw, MAX, peer())
    }

    #[test]
    fn a_polling_post_head() {
        let raw = b"POST /socket.io/?EIO=4&transport=polling&sid=x HTTP/1.1\r\n\
                    Host: a\r\nContent-Length: 5\r\nX-Up: B\r\n\r\nhello";
        let (head, used) = parse(raw).unwrap().unwrap();
        assert_eq!(&raw[used..], b"hello");
        assert_eq!(head.request.method, Method::Post);
        assert_eq!(head.request.path, "/socket.io/");
        assert_eq!(head.request.query_param("sid").as_deref(), Some("x"));
        assert_eq!(head.request.header("x-up"), Some("B"));
        assert!(head.keep_alive);
        assert_eq!(head.body_len, 5);
        assert!(parse(&raw[..20]).unwrap().is_none(), "incomplete");
    }

    #[test]
    fn keep_alive_by_version_and_header() {
        let head = |raw: &[u8]| parse(raw).unwrap().unwrap().0;
        assert!(!head(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keep_alive);
        assert!(!head(b"GET / HTTP/1.0\r\n\r\n").keep_alive);
        assert!(head(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
        let absolute = head(b"GET http://h:1/socket.io/?EIO=4 HTTP/1.1\r\n\r\n");
        assert_eq!(
            (
                absolute.request.path.as_str(),
                absolute.request.query.as_str()
            ),
            ("/socket.io/", "EIO=4")
        );
    }

    #[test]
    fn bad_heads_are_refused_with_their_status() {
        let err = |raw: &[u8]| parse(raw).unwrap_err().status();
        assert_eq!(err(b"GET / HTTP/1.1\r\nBad Header\r\n\r\n"), 400);
        assert_eq!(err(b"POST / HTTP/1.1\r\nContent-Length: 1, 2\r\n\r\n"), 400);
        assert_eq!(err(b"POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n"), 400);
        assert_eq!(err(b"POST / HTTP/1.1\r\nContent-Length: \r\n\r\n"), 400);
        assert_eq!(
            err(b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
            400
        );
        assert_eq!(
            err(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            501
        );
        assert_eq!(
            err(b"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            400
        );
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..100 {
            many.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(err(&many), 431, "too many headers");
        let mut long = b"GET / HTTP/1.1\r\nX-Long: ".to_vec();
        long.resize(MAX + 10, b'a');
        assert_eq!(err(&long), 431, "a head that never ends within the limit");
    }

    #[test]
    fn no_input_panics() {
        // Every prefix of a few heads, and a few thousand mutations of them.
        let seeds: [&[u8]; 3] = [
            b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: a\r\n\r\n",
            b"POST http://x/socket.io/?sid=a HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc",
            b"GET / HTTP/1.1\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\n\r\n",
        ];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for seed in seeds {
            for end in 0..=seed.len() {
                let _ = parse_head(&seed[..end], 32, peer());
                let _ = parse(&seed[..end]);
            }
            for _ in 0..2000 {
                let mut raw = seed.to_vec();
                for _ in 0..(next() % 4 + 1) {
                    let i = (next() as usize) % raw.len();
                    raw[i] = next() as u8;
                }
                let _ = parse(&raw);
            }
        }
    }

    #[test]
    fn responses_carry_their_own_framing_only() {
        let mut out = Vec::new();
        let response = HttpResponse {
            status: 200,
            headers: vec![
                ("Content-Type", "text/plain".into()),
                ("Content-Length", "99".into()),
                ("X-Evil", "a\r\nSet-Cookie: b".into()),
            ],
            body: Bytes::from_static(b"ok"),
        };
        write_response(&mut out, &response, false);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\
             Connection: close\r\n\r\nok"
        );
    }
}
