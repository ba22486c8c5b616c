//! Item 5: slow HTTP must not hold the door.
//!
//! The server runs with an open-file limit of 1,024 and header and body timeouts of 2 s
//! (`--http-header-timeout-ms 2000 --http-body-timeout-ms 2000`; `max_http_connections`
//! keeps its default, half the limit). The attacker opens 1,100 connections on the engine
//! path and keeps them slow:
//!
//! - 550 slow heads: a request line and part of a header, then one more byte every 250 ms;
//! - 275 slow bodies: a POST announcing `Content-Length: 500000`, 10 bytes of it, nothing
//!   more;
//! - 275 endless bodies: a chunked POST, one 1-byte chunk every 250 ms.
//!
//! Before the fix these were held forever (tokio, async-std, smol; threaded reset its timer
//! on every byte of a head), and with the server out of file descriptors no new client got
//! in. Checked: once the 1,100 are open, a new client (WebSocket, CONNECT to `/`, an
//! acknowledged round trip) succeeds within the timeouts plus 1 s (3 s); the canary unharmed;
//! once the attacker closes its connections the server's open files return to the baseline.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::harness::{hostile, Spec, Ws};

const CONNECTIONS: usize = 1100;
const TICK: Duration = Duration::from_millis(250);
/// Header and body timeouts given to the server.
const TIMEOUT_MS: u64 = 2000;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Head,
    Body,
    Chunked,
}

struct Slow {
    stream: TcpStream,
    kind: Kind,
    opened: Instant,
    /// When the server closed it (or answered it).
    closed: Option<Instant>,
}

impl Slow {
    /// One more slow byte (or chunk); notices when the server closed or answered.
    fn tick(&mut self) {
        if self.closed.is_some() {
            return;
        }
        let mut buf = [0u8; 512];
        match self.stream.read(&mut buf) {
            Ok(_) => {
                // EOF, or an answer (408, 400, 431, ...): the server let go of it.
                self.closed = Some(Instant::now());
                return;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(_) => {
                self.closed = Some(Instant::now());
                return;
            }
        }
        let more: &[u8] = match self.kind {
            Kind::Head => b"a",
            Kind::Body => return,
            Kind::Chunked => b"1\r\nx\r\n",
        };
        if let Err(e) = self.stream.write(more) {
            if e.kind() != ErrorKind::WouldBlock {
                self.closed = Some(Instant::now());
            }
        }
    }
}

pub fn fd_limit(rt: &str) {
    let timeout = TIMEOUT_MS.to_string();
    let spec = Spec::bounded(&[
        "--http-header-timeout-ms",
        &timeout,
        "--http-body-timeout-ms",
        &timeout,
    ])
    .nofile(1024)
    .time(Duration::from_secs(8))
    .fds_settle(Duration::from_secs(4));
    hostile("slow_http::fd_limit", rt, spec, |a| {
        let addr = a.addr;
        let head =
            format!("GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: {addr}\r\nX-Slow: ");
        let post = |extra: &str| {
            format!(
                "POST /socket.io/?EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA HTTP/1.1\r\n\
                 Host: {addr}\r\nContent-Type: text/plain;charset=UTF-8\r\n{extra}\r\n"
            )
        };
        let body_head = post("Content-Length: 500000\r\n") + "4hello1234";
        let chunked_head = post("Transfer-Encoding: chunked\r\n") + "1\r\n4\r\n";
        let mut slow = Vec::with_capacity(CONNECTIONS);
        let mut refused = 0;
        let open_until = a.start + Duration::from_secs(3);
        for i in 0..CONNECTIONS {
            if Instant::now() >= open_until || a.aborted() {
                break;
            }
            let kind = match i % 4 {
                0 | 1 => Kind::Head,
                2 => Kind::Body,
                _ => Kind::Chunked,
            };
            let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(300))
            else {
                refused += 1;
                continue;
            };
            let first = match kind {
                Kind::Head => head.as_bytes(),
                Kind::Body => body_head.as_bytes(),
                Kind::Chunked => chunked_head.as_bytes(),
            };
            let _ = stream.set_nonblocking(true);
            let _ = stream.write(first);
            a.sent(first.len());
            slow.push(Slow {
                stream,
                kind,
                opened: Instant::now(),
                closed: None,
            });
        }
        let opened = Instant::now();
        a.note(format!(
            "{} slow connections opened in {:.2} s ({refused} connects timed out)",
            slow.len(),
            a.t()
        ));
        if slow.len() + refused < CONNECTIONS {
            a.fail(format!("only {} connections opened within 3 s", slow.len()));
        }

        // Keep them slow while a new client tries its luck.
        let stop = Arc::new(AtomicBool::new(false));
        let trickler = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    for s in slow.iter_mut() {
                        s.tick();
                    }
                    std::thread::sleep(TICK);
                }
                slow
            })
        };
        let budget = Duration::from_millis(TIMEOUT_MS) + Duration::from_secs(1);
        let deadline = opened + budget;
        let mut last_error = String::new();
        let mut ok = None;
        while Instant::now() < deadline {
            let left = deadline - Instant::now();
            match Ws::socketio(addr, left).and_then(|mut ws| {
                let left = deadline.saturating_duration_since(Instant::now());
                ws.call(1, r#"["message-with-ack","new"]"#, left)
            }) {
                Ok(_) => {
                    ok = Some(opened.elapsed());
                    break;
                }
                Err(e) => {
                    last_error = e.to_string();
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
        match ok {
            Some(t) => a.note(format!("a new client got in {:.2} s after the attack opened", t.as_secs_f64())),
            None => a.fail(format!(
                "no new client got in within {:.1} s of the slow connections (last error: {last_error})",
                budget.as_secs_f64()
            )),
        }
        stop.store(true, Ordering::Relaxed);
        let slow = trickler.join().expect("trickler");
        let lifetimes: Vec<f64> = slow
            .iter()
            .filter_map(|s| s.closed.map(|c| (c - s.opened).as_secs_f64()))
            .collect();
        let still_open = slow.len() - lifetimes.len();
        let max_life = lifetimes.iter().copied().fold(0.0, f64::max);
        let by = |k: Kind| {
            slow.iter()
                .filter(|s| s.kind == k && s.closed.is_none())
                .count()
        };
        a.note(format!(
            "{} closed by the server (longest held {max_life:.1} s), {still_open} still open \
             (heads {}, bodies {}, chunked {})",
            lifetimes.len(),
            by(Kind::Head),
            by(Kind::Body),
            by(Kind::Chunked)
        ));
        drop(slow);
    });
}
