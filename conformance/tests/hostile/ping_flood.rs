//! Item 4: WebSocket pings from a peer that does not read must not queue pongs without limit.
//!
//! The attacker connects to `/` over WebSocket, then writes WebSocket ping frames (125-byte
//! payloads, 512 to a write) and never reads; every 200 ms it slips in an Engine.IO pong
//! (`3`, unasked: the server takes it as the answer to its pending ping), so that the
//! heartbeat does not end its session. Before the fix every pong queued in an unlimited
//! write buffer (1.6 GB on tokio; async-std and smol kept growing).
//!
//! Checked: server memory growth under 50 MB, the canary unharmed, open files back to the
//! baseline once the attacker leaves.

use std::time::{Duration, Instant};

use crate::harness::wire::{frame, text_frame, write_while, PING};
use crate::harness::{hostile, Spec, Ws};

pub fn websocket(rt: &str) {
    hostile("ping_flood::websocket", rt, Spec::bounded(&[]), |a| {
        let mut ws = match Ws::socketio(a.addr, Duration::from_secs(5)) {
            Ok(ws) => ws,
            Err(e) => return a.fail(format!("the attacker could not connect: {e}")),
        };
        let one = frame(PING, &[b'p'; 125]);
        let batch: Vec<u8> = one.iter().copied().cycle().take(one.len() * 512).collect();
        let pong = text_frame("3");
        let s = &mut ws.stream;
        let _ = s.set_write_timeout(Some(Duration::from_millis(50)));
        let mut last_pong = Instant::now();
        let mut pings = 0u64;
        while a.go() {
            match write_while(s, &batch, || a.go()) {
                Ok(n) => {
                    a.sent(n);
                    pings += (n / one.len()) as u64;
                    if n < batch.len() {
                        break;
                    }
                }
                Err(e) => {
                    a.note(format!("the server closed at {:.2} s: {e}", a.t()));
                    break;
                }
            }
            if last_pong.elapsed() >= Duration::from_millis(200) {
                last_pong = Instant::now();
                if write_while(s, &pong, || a.go()).is_err() {
                    break;
                }
            }
        }
        a.note(format!("{pings} pings written, none read"));
    });
}
