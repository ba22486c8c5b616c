//! Item 9: a frozen peer must be released by `write_timeout`.
//!
//! The server runs with `--write-timeout-ms 2000`, and a heartbeat of 10 s (so that the
//! ping timeout cannot be what ends the frozen client within the test). Client F joins room
//! `r` and then stops reading. Client P floods the room with 64 KB messages (`to-room`),
//! paced at about 8 MB/s until the server's writes to F block or 8 MB went out (the kernel's
//! buffers towards F hold about 4 MB), then one message every 200 ms, so that the server
//! always has more for F without ever reaching its 16 MiB queue cap (which would end F as a
//! slow consumer and prove nothing about the write timeout). Before the fix frozen peers
//! lived 33 s (tokio), ~64 s (async-std, smol), ~94 s (threaded).
//!
//! How the times are measured, from the server's side, in `/proc/<server pid>/net/tcp` (the
//! TCP table of its network namespace, both ends of loopback connections), every 10 ms:
//!
//! - the writes to F are blocked once the server's end of F's connection has bytes in its
//!   send queue (`tx_queue` > 0) and F's end has unread bytes (`rx_queue` > 0), and neither
//!   has changed for 100 ms while P still sends (the server has megabytes more for F): no
//!   byte moves towards F any more and nothing more fits into the server's send buffer. The
//!   clock starts at the last change of either queue before that, the server's last write
//!   that made progress (the kernel may still grow the send buffer a little later: a
//!   further change moves the start, so a timeout counted from the last progress is fair);
//!   (When the queues never stay still for 100 ms, the clock still starts at the last change.)
//! - F is released when the server's end of the connection leaves ESTABLISHED (closed or
//!   shut down; with unsent data it goes to FIN_WAIT1), disappears, or is no longer among the
//!   server's file descriptors (`/proc/<pid>/fd`).
//!
//! Checked: F released within write_timeout + 1 s = 3 s of the server's last write to it;
//! the canary unharmed; the server's open files back to the baseline.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use crate::harness::server::{TcpEntry, ESTABLISHED};
use crate::harness::wire::text_frame;
use crate::harness::{filler, hostile, Peer, Spec, Ws};

const WRITE_TIMEOUT: Duration = Duration::from_secs(2);
const SLACK: Duration = Duration::from_secs(1);
const STEP: Duration = Duration::from_secs(5);
/// Phases of the flooder.
const FAST: u8 = 0;
const TRICKLE: u8 = 1;
const STOP: u8 = 2;

pub fn room_flood(rt: &str) {
    let spec = Spec::bounded(&[
        "--write-timeout-ms",
        "2000",
        "--ping-interval-ms",
        "10000",
        "--ping-timeout-ms",
        "10000",
    ])
    .unbounded_rss()
    .time(Duration::from_secs(10));
    hostile("frozen_peer::room_flood", rt, spec, |a| {
        let mut f = match Ws::socketio(a.addr, STEP) {
            Ok(ws) => ws,
            Err(e) => return a.fail(format!("F could not connect: {e}")),
        };
        if let Err(e) = f.call(1, r#"["join","r"]"#, STEP) {
            return a.fail(format!("F could not join the room: {e}"));
        }
        let f_port = f.stream.local_addr().expect("local address").port();
        let s_port = a.addr.port();
        // From here on F reads nothing.
        let p = match Peer::connect(a.addr, STEP) {
            Ok(p) => p,
            Err(e) => return a.fail(format!("P could not connect: {e}")),
        };
        let message = text_frame(&format!(r#"42["to-room","r","{}"]"#, filler(64 * 1024)));
        let phase = AtomicU8::new(FAST);
        let server = a.server;
        std::thread::scope(|s| {
            s.spawn(|| {
                // 64 KB every 8 ms: ~8 MB/s (the kernel's buffers towards F fill within about
                // half a second), at most 8 MB; then every 200 ms.
                let mut next = Instant::now();
                let mut fast_bytes = 0;
                loop {
                    if fast_bytes >= 8 << 20 {
                        let _ = phase.compare_exchange(
                            FAST,
                            TRICKLE,
                            Ordering::Relaxed,
                            Ordering::Relaxed,
                        );
                    }
                    let ph = phase.load(Ordering::Relaxed);
                    if ph == STOP || !a.go() || p.is_gone() {
                        break;
                    }
                    let wait = next.saturating_duration_since(Instant::now());
                    std::thread::sleep(wait);
                    if !matches!(p.write(&message, a), Ok(true)) {
                        break;
                    }
                    next += if ph == FAST {
                        fast_bytes += message.len();
                        Duration::from_millis(8)
                    } else {
                        Duration::from_millis(200)
                    };
                }
            });

            let find = |table: &[TcpEntry], local: u16, remote: u16| {
                table
                    .iter()
                    .find(|e| e.local_port == local && e.remote_port == remote)
                    .copied()
            };
            let mut history: Vec<(u64, u64)> = Vec::new();
            // The last moment a byte moved towards F (the server's send queue or F's receive
            // queue changed): the server's writes are blocked from then on.
            let mut last_progress = Instant::now();
            let mut blocked: Option<Instant> = None;
            let mut released: Option<(Instant, String)> = None;
            let mut last_server_end = None;
            while a.go() {
                let table = server.tcp();
                let server_end = find(&table, s_port, f_port);
                let f_end = find(&table, f_port, s_port);
                let gone = match (server_end, blocked) {
                    (None, _) => Some("the connection is gone".to_string()),
                    (Some(e), _) if e.state != ESTABLISHED => {
                        Some(format!("state {:02X} (not ESTABLISHED)", e.state))
                    }
                    (Some(e), Some(_)) if !server.holds_socket(e.inode) => {
                        Some("its socket is closed".to_string())
                    }
                    _ => None,
                };
                if let Some(why) = gone {
                    released = Some((Instant::now(), why));
                    break;
                }
                let (se, fe) = (server_end.expect("checked"), f_end);
                last_server_end = Some(se);
                let sample = (se.tx_queue, fe.map_or(0, |e| e.rx_queue));
                if history.last().is_some_and(|h| *h != sample) {
                    if let Some(b) = blocked {
                        if last_progress <= b {
                            a.note(format!(
                                "the server wrote to F again at {:.2} s ({} KB queued)",
                                a.t(),
                                sample.0 / 1024
                            ));
                        }
                    }
                    last_progress = Instant::now();
                }
                history.push(sample);
                let n = history.len();
                if blocked.is_none() && n >= 11 {
                    let last = history[n - 1];
                    if last.0 > 0 && last.1 > 0 && history[n - 11..].iter().all(|h| *h == last) {
                        blocked = Some(Instant::now());
                        phase.store(TRICKLE, Ordering::Relaxed);
                        a.note(format!(
                            "writes to F blocked at {:.2} s (server send queue {} KB, F's \
                             receive queue {} KB)",
                            a.t(),
                            last.0 / 1024,
                            last.1 / 1024
                        ));
                    }
                }
                // Stalled well past the deadline (blocked or not): the verdict is in.
                if sample.0 > 0
                    && last_progress.elapsed() > WRITE_TIMEOUT + SLACK + Duration::from_millis(500)
                {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            phase.store(STOP, Ordering::Relaxed);
            match (blocked, released) {
                (_, Some((r, why))) => {
                    let after = r.saturating_duration_since(last_progress);
                    a.note(format!(
                        "F released {:.2} s after the server's last write to it ({why}){}",
                        after.as_secs_f64(),
                        if blocked.is_none() {
                            ", its writes never seen stalled for 100 ms"
                        } else {
                            ""
                        }
                    ));
                    if after > WRITE_TIMEOUT + SLACK {
                        a.fail(format!(
                            "F released {:.2} s after the server's last write to it, over \
                             write_timeout + 1 s",
                            after.as_secs_f64()
                        ));
                    }
                }
                (_, None) if last_progress.elapsed() > WRITE_TIMEOUT + SLACK => a.fail(format!(
                    "F still connected {:.2} s after the server's last write to it \
                     (write_timeout {} s){}",
                    last_progress.elapsed().as_secs_f64(),
                    WRITE_TIMEOUT.as_secs(),
                    last_server_end
                        .map(|e| format!("; server send queue {} KB", e.tx_queue / 1024))
                        .unwrap_or_default()
                )),
                (_, None) => a.fail(format!(
                    "the writes to F never stalled long enough within {:.1} s",
                    a.t()
                )),
            }
        });
        a.finished();
        let reasons = crate::harness::disconnect_reasons(a.addr);
        a.note(format!("disconnect reasons {reasons:?}"));
        drop(f);
        p.vanish();
    });
}
