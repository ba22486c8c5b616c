//! Item 7: one busy connection must not take over an executor thread.
//!
//! Two attackers, each on a WebSocket connection of its own (reading everything the server
//! sends and answering its pings), stream as fast as they can for 3 s either WebSocket ping
//! frames (512 to a write, 125-byte payloads; the pongs are read) or legal ~900 KB JSON
//! arrays (`42["ignore",[0,0,...]]`, 450,000 elements each; an attacker disconnected for too
//! many events connects again). Before the fix, on async-std and smol, the canary's round
//! trips took over 2 s or it was disconnected.
//!
//! Checked: the canary has no failure and no round trip over 100 ms; open files back to the
//! baseline. Memory is recorded, not bounded.

use std::time::Duration;

use crate::harness::wire::{frame, text_frame, PING};
use crate::harness::{hostile, Attack, Peer, Spec};

const STEP: Duration = Duration::from_secs(5);

/// Two attackers writing `payload` over and over, reconnecting when disconnected.
fn two_attackers(a: &Attack, payload: &[u8]) {
    std::thread::scope(|s| {
        for n in 0..2 {
            s.spawn(move || {
                let mut connections = 0;
                let mut writes = 0u64;
                let mut ends = Vec::new();
                while a.go() {
                    let peer = match Peer::connect(a.addr, STEP) {
                        Ok(p) => p,
                        Err(e) => {
                            a.fail(format!("attacker {n} could not connect: {e}"));
                            return;
                        }
                    };
                    connections += 1;
                    while a.go() && !peer.is_gone() {
                        match peer.write(payload, a) {
                            Ok(true) => writes += 1,
                            Ok(false) => break,
                            Err(e) => {
                                ends.push(format!("{:.2} s: {e}", a.t()));
                                break;
                            }
                        }
                    }
                    if let Some((at, why)) = peer.gone() {
                        ends.push(format!("{:.2} s: {why}", (at - a.start).as_secs_f64()));
                    }
                }
                a.note(format!(
                    "attacker {n}: {writes} writes, {connections} connection(s){}",
                    if ends.is_empty() {
                        String::new()
                    } else {
                        format!(", ended: {}", ends.join(", "))
                    }
                ));
            });
        }
    });
}

pub fn pings(rt: &str) {
    let spec = Spec::bounded(&[]).unbounded_rss().bytes(4 << 30);
    hostile("fairness::pings", rt, spec, |a| {
        let one = frame(PING, &[b'p'; 125]);
        let batch: Vec<u8> = one.iter().copied().cycle().take(one.len() * 512).collect();
        two_attackers(a, &batch);
    });
}

pub fn arrays(rt: &str) {
    let spec = Spec::bounded(&[]).unbounded_rss().bytes(4 << 30);
    hostile("fairness::arrays", rt, spec, |a| {
        let elements = vec!["0"; 450_000].join(",");
        let event = text_frame(&format!(r#"42["ignore",[{elements}]]"#));
        two_attackers(a, &event);
    });
}
