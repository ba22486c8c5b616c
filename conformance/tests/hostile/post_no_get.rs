//! Item 3: a polling client that POSTs and never GETs must not grow the server.
//!
//! The attacker connects to `/` over polling and then POSTs ~1 MB bodies of events whose
//! handlers answer: `message-with-ack` with an ack id (acknowledged with its 10 KB argument),
//! `message` (answered with a `message-back` event) and `binary` (a binary event, base64 over
//! polling). It never GETs, so every answer stays queued in its session: 2.5 GB before the
//! fix. When the server ends the session the attacker opens another.
//!
//! Checked: server memory growth under 50 MB (outbound caps: 16 MiB per session by default),
//! the canary unharmed, open files back to the baseline.

use crate::harness::polling::post_flood;
use crate::harness::{filler, hostile, Spec};

const BODY: usize = 990_000;

/// A body of events that the server answers.
fn events(post: u32) -> Vec<u8> {
    let arg = filler(10_000);
    let mut body = Vec::with_capacity(BODY + 12_000);
    let mut i = 0u32;
    while body.len() + 10_100 < BODY {
        if i > 0 {
            body.push(0x1e);
        }
        let packet = match i % 10 {
            9 => r#"42["binary"]"#.to_string(),
            n if n % 2 == 0 => format!(r#"42{}["message-with-ack","{arg}"]"#, post * 1000 + i + 1),
            _ => format!(r#"42["message","{arg}"]"#),
        };
        body.extend_from_slice(packet.as_bytes());
        i += 1;
    }
    body
}

pub fn polling_flood(rt: &str) {
    hostile("post_no_get::polling_flood", rt, Spec::bounded(&[]), |a| {
        post_flood(a, Some(b"40"), events);
    });
}
