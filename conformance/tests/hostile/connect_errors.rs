//! Item 2: CONNECT_ERROR answers must count against the outbound caps.
//!
//! A polling session that never GETs POSTs ~1 MB bodies full of CONNECTs to namespaces that
//! do not exist (`40/<name>,`, names of 200 characters, all different). Each is answered with
//! a queued `44/<name>,{"message":"Invalid namespace"}`; before the fix these answers went
//! around the session's outbound caps (16 MiB): 1.3-1.9 GB in ~3 s. When the server ends the
//! session the attacker opens another.
//!
//! Checked: server memory growth under 50 MB, the canary unharmed, open files back to the
//! baseline (abandoned sessions hold none).

use crate::harness::polling::post_flood;
use crate::harness::{hostile, Spec};

/// Bytes per POST body, under maxPayload (1,000,000).
const BODY: usize = 990_000;

/// A body of CONNECTs to distinct unknown namespaces.
fn connects(post: u32) -> Vec<u8> {
    let pad = "n".repeat(180);
    let mut body = Vec::with_capacity(BODY + 256);
    let mut i = 0u32;
    while body.len() < BODY {
        if i > 0 {
            body.push(0x1e);
        }
        body.extend_from_slice(format!("40/{pad}-{post}-{i},").as_bytes());
        i += 1;
    }
    body
}

pub fn polling_flood(rt: &str) {
    hostile(
        "connect_errors::polling_flood",
        rt,
        Spec::bounded(&[]),
        |a| {
            post_flood(a, None, connects);
        },
    );
}
