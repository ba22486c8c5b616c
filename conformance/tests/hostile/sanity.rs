//! The harness on behaviours that already hold, so that a failure elsewhere means the server,
//! not the harness: without an attack the canary is fast and the server does not grow; after
//! clients come and go (WebSocket and polling, leaving properly or vanishing), its open files
//! return to the baseline.

use std::time::Duration;

use crate::harness::{hostile, Attack, Http, Spec, Ws, MB};

/// No attack: two seconds of canary round trips; memory flat (10 MB), files unchanged.
pub fn idle(rt: &str) {
    let mut spec = Spec::bounded(&[]).time(Duration::from_secs(2));
    spec.rss_bound = Some(10 * MB);
    hostile("sanity::idle", rt, spec, |a: &Attack| {
        while a.go() {
            std::thread::sleep(Duration::from_millis(50));
        }
    });
}

/// 200 clients, one after the other: WebSocket clients that leave (`41`, close frame) or
/// vanish (TCP closed), polling clients that leave (`1`), vanish (abandoned: reaped by the
/// heartbeat within pingInterval + pingTimeout = 2 s), or vanish with a GET parked. Files
/// back to the baseline, memory growth under 20 MB.
pub fn churn(rt: &str) {
    let mut spec = Spec::bounded(&[]).time(Duration::from_secs(4));
    spec.rss_bound = Some(20 * MB);
    hostile("sanity::churn", rt, spec, |a: &Attack| {
        let step = Duration::from_secs(2);
        let mut done = 0;
        for i in 0..200 {
            if !a.go() {
                break;
            }
            let ok = if i % 2 == 0 {
                Ws::socketio(a.addr, step).and_then(|mut ws| {
                    ws.call(1, r#"["message-with-ack","hi"]"#, step)?;
                    if i % 4 == 0 {
                        ws.send_text("41")?;
                        ws.send(crate::harness::wire::CLOSE, &[])?;
                    }
                    Ok(())
                })
            } else {
                Http::connect(a.addr, step).and_then(|mut h| {
                    let sid = h.polling_handshake(step)?;
                    let target = format!("{}&sid={sid}", crate::harness::wire::POLLING_TARGET);
                    h.request("POST", &target, b"40", step)?;
                    if i % 4 == 1 {
                        h.request("POST", &target, b"1", step)?;
                    }
                    if i % 8 == 3 {
                        // A GET is answered at once while something is queued (the CONNECT
                        // answer); the second one parks, and the client vanishes.
                        h.request("GET", &target, b"", step)?;
                        let get = format!("GET {target} HTTP/1.1\r\nHost: {}\r\n\r\n", a.addr);
                        std::io::Write::write_all(&mut h.stream, get.as_bytes())?;
                    }
                    Ok(())
                })
            };
            match ok {
                Ok(()) => done += 1,
                Err(e) => a.fail(format!("client {i} failed: {e}")),
            }
        }
        a.note(format!("{done} clients came and went"));
    });
}
