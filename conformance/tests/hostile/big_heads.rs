//! Item 8: handshake heads must be capped (16 KB, 431 beyond) and kept once.
//!
//! The attacker makes 2,000 WebSocket handshakes (four threads) each with a 200 KB header,
//! and keeps every one the server accepts alive without ever connecting to a namespace:
//! it answers pings blindly (`3` every 250 ms) and drains what the server sends, so only
//! the Socket.IO connect timeout (45 s) would end them. Before the fix such heads were
//! accepted up to ~500 KB and kept twice: 2,000 of them pinned 787-867 MB.
//!
//! Checked ([`handshakes`]): every handshake is refused (431, or the connection closed while
//! the oversized head was still being written), none accepted; server memory growth under
//! 50 MB; the canary unharmed; open files back to the baseline. And ([`under_cap`]) heads under
//! the cap are accepted and cost one copy each.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::harness::wire::text_frame;
use crate::harness::{hostile, Spec, Ws};

const HANDSHAKES: usize = 2000;
const THREADS: usize = 4;
const HEADER: usize = 200 * 1024;

#[derive(Default, Debug)]
struct Tally {
    refused_431: usize,
    cut: usize,
    accepted: usize,
    other: Vec<String>,
}

pub fn handshakes(rt: &str) {
    let spec = Spec::bounded(&[])
        .time(Duration::from_secs(5))
        .bytes(1 << 30);
    hostile("big_heads::handshakes", rt, spec, |a| {
        let extra = format!("X-Pad: {}\r\n", "h".repeat(HEADER));
        let kept: Mutex<Vec<TcpStream>> = Mutex::new(Vec::new());
        let tally = Mutex::new(Tally::default());
        let done = AtomicBool::new(false);
        std::thread::scope(|s| {
            // Keeps the accepted ones alive: drain, and a blind pong every 250 ms.
            s.spawn(|| {
                let pong = text_frame("3");
                let mut buf = [0u8; 4096];
                while !done.load(Ordering::Relaxed) {
                    for k in kept.lock().unwrap().iter_mut() {
                        while matches!(k.read(&mut buf), Ok(n) if n > 0) {}
                        let _ = k.write(&pong);
                    }
                    std::thread::sleep(Duration::from_millis(250));
                }
            });
            let workers: Vec<_> = (0..THREADS)
                .map(|_| {
                    s.spawn(|| {
                        for _ in 0..HANDSHAKES / THREADS {
                            if !a.go() {
                                return;
                            }
                            a.sent(extra.len());
                            let r = Ws::handshake(a.addr, &extra, Duration::from_secs(2));
                            let mut t = tally.lock().unwrap();
                            match r {
                                Ok((101, Some(ws))) => {
                                    t.accepted += 1;
                                    let _ = ws.stream.set_nonblocking(true);
                                    kept.lock().unwrap().push(ws.stream);
                                }
                                Ok((431, _)) => t.refused_431 += 1,
                                Ok((status, _)) => t.other.push(format!("status {status}")),
                                Err(e)
                                    if matches!(
                                        e.kind(),
                                        ErrorKind::BrokenPipe
                                            | ErrorKind::ConnectionReset
                                            | ErrorKind::UnexpectedEof
                                    ) =>
                                {
                                    t.cut += 1
                                }
                                Err(e) => t.other.push(e.to_string()),
                            }
                        }
                    })
                })
                .collect();
            for w in workers {
                let _ = w.join();
            }
            // Hold what was accepted until the budget runs out (unless memory ran away).
            while a.go() && !kept.lock().unwrap().is_empty() {
                std::thread::sleep(Duration::from_millis(50));
            }
            done.store(true, Ordering::Relaxed);
        });
        let t = tally.into_inner().unwrap();
        let attempts = t.refused_431 + t.cut + t.accepted + t.other.len();
        a.note(format!(
            "{attempts} handshakes with a {} KB header: {} answered 431, {} cut, {} accepted, {} other{}",
            HEADER / 1024,
            t.refused_431,
            t.cut,
            t.accepted,
            t.other.len(),
            t.other.first().map(|o| format!(" (first: {o})")).unwrap_or_default()
        ));
        if t.accepted > 0 {
            a.fail(format!(
                "{} handshakes with a {} KB head were accepted",
                t.accepted,
                HEADER / 1024
            ));
        }
        if !t.other.is_empty() {
            a.fail(format!(
                "{} handshakes neither refused nor accepted: {:?}",
                t.other.len(),
                &t.other[..t.other.len().min(3)]
            ));
        }
        if attempts < HANDSHAKES && !a.aborted() {
            a.fail(format!(
                "only {attempts} of {HANDSHAKES} handshakes within the budget"
            ));
        }
        drop(kept);
    });
}

/// Opens `n` WebSocket sessions with `extra` in their heads (never connecting a namespace),
/// pushing their streams to `kept`; returns how many were accepted.
fn open_sessions(
    a: &crate::harness::Attack,
    n: usize,
    extra: &str,
    kept: &Mutex<Vec<TcpStream>>,
) -> usize {
    let accepted = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for _ in 0..n / THREADS {
                    if !a.go() {
                        return;
                    }
                    if let Ok((101, Some(ws))) =
                        Ws::handshake(a.addr, extra, Duration::from_secs(2))
                    {
                        accepted.fetch_add(1, Ordering::Relaxed);
                        let _ = ws.stream.set_nonblocking(true);
                        kept.lock().unwrap().push(ws.stream);
                    }
                }
            });
        }
    });
    accepted.into_inner()
}

/// Heads under the cap are accepted and kept once: 1,000 sessions with 15 KB heads cost at
/// most 1.5 × 15 KB each more than 1,000 sessions with small heads (measured on the same
/// server, the small ones first, every session kept open to the end).
pub fn under_cap(rt: &str) {
    let spec = Spec::bounded(&[])
        .unbounded_rss()
        .time(Duration::from_secs(8));
    hostile("big_heads::under_cap", rt, spec, |a| {
        const N: usize = 1000;
        let kept: Mutex<Vec<TcpStream>> = Mutex::new(Vec::new());
        let done = AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                let pong = text_frame("3");
                let mut buf = [0u8; 4096];
                while !done.load(Ordering::Relaxed) {
                    for k in kept.lock().unwrap().iter_mut() {
                        while matches!(k.read(&mut buf), Ok(n) if n > 0) {}
                        let _ = k.write(&pong);
                    }
                    std::thread::sleep(Duration::from_millis(250));
                }
            });
            let settle = || std::thread::sleep(Duration::from_millis(400));
            let rss0 = a.server.rss();
            let small = open_sessions(a, N, "X-Pad: small\r\n", &kept);
            settle();
            let rss1 = a.server.rss();
            let head = 15 * 1024;
            let big = open_sessions(a, N, &format!("X-Pad: {}\r\n", "h".repeat(head)), &kept);
            settle();
            let rss2 = a.server.rss();
            done.store(true, Ordering::Relaxed);
            let per_small = rss1.saturating_sub(rss0) as f64 / small.max(1) as f64;
            let per_big = rss2.saturating_sub(rss1) as f64 / big.max(1) as f64;
            let cost = per_big - per_small;
            a.note(format!(
                "{small} sessions with small heads: {:.1} KB each; {big} with 15 KB heads: {:.1} KB each; head cost {:.1} KB",
                per_small / 1024.0,
                per_big / 1024.0,
                cost / 1024.0
            ));
            if small < N || big < N {
                a.fail(format!(
                    "{small} and {big} of {N} sessions accepted: heads under 16 KB must be"
                ));
            } else if cost > 1.5 * head as f64 {
                a.fail(format!(
                    "a 15 KB head costs {:.1} KB per session: kept more than once",
                    cost / 1024.0
                ));
            }
        });
    });
}
