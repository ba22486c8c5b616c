//! Item 6: a legal JavaScript string must not drop the client.
//!
//! `JSON.stringify` writes a lone UTF-16 surrogate (text cut in the middle of an emoji) as
//! an escape, `"\ud83d"`: legal JSON, which node's socket.io delivers as it is. Before the
//! fix sockio refused it as a parse error and closed the sender's session.
//!
//! Client B listens; client A (WebSocket) sends `broadcast-others` with the JSON texts
//! `"a\ud800b"` and `"\ud83d"`, and client C (polling) with `"x\udc00"`. Checked: B receives
//! each string with exactly the same UTF-16 code units (the packet's JSON is decoded
//! leniently: escapes of lone surrogates are kept as code units), and A and C still get
//! their acknowledgements afterwards. `conformance/node/socketio.test.mjs` checks the same with
//! socket.io-client.

use std::time::{Duration, Instant};

use crate::harness::wire::POLLING_TARGET;
use crate::harness::{hostile, Attack, Http, Spec, Ws};

/// Each wait: a relay takes milliseconds.
const STEP: Duration = Duration::from_millis(1500);

/// The UTF-16 code units of the JSON string literal at the start of `s` (after optional
/// whitespace), and the rest of `s`; escapes of lone surrogates become lone code units.
fn json_string_units(s: &str) -> Option<(Vec<u16>, &str)> {
    let s = s.trim_start().strip_prefix('"')?;
    let mut units = Vec::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((units, &s[i + 1..])),
            '\\' => {
                let (_, e) = chars.next()?;
                let unit = match e {
                    '"' => '"' as u16,
                    '\\' => '\\' as u16,
                    '/' => '/' as u16,
                    'b' => 8,
                    'f' => 12,
                    'n' => 10,
                    'r' => 13,
                    't' => 9,
                    'u' => {
                        let hex: String = (0..4)
                            .filter_map(|_| chars.next().map(|(_, h)| h))
                            .collect();
                        u16::from_str_radix(&hex, 16).ok()?
                    }
                    _ => return None,
                };
                units.push(unit);
            }
            c => {
                let mut buf = [0u16; 2];
                units.extend_from_slice(c.encode_utf16(&mut buf));
            }
        }
    }
    None
}

/// The UTF-16 code units of the second element of the Socket.IO event `packet`
/// (`42["name",<string>]`).
fn second_string(packet: &str) -> Option<Vec<u16>> {
    let rest = packet.strip_prefix("42")?.trim_start().strip_prefix('[')?;
    let (_, rest) = json_string_units(rest)?;
    let rest = rest.trim_start().strip_prefix(',')?;
    json_string_units(rest).map(|(u, _)| u)
}

/// B receives the next `broadcast-message` and its string must be `want`.
fn expect_relayed(a: &Attack, b: &mut Ws, literal: &str, want: &[u16]) {
    let until = Instant::now() + STEP;
    match b.wait_for(until, |t| t.starts_with(r#"42["broadcast-message""#)) {
        Ok(packet) => {
            let got = second_string(&packet);
            if got.as_deref() != Some(want) {
                a.fail(format!(
                    "sent {literal}, the other client received {packet:?}"
                ));
            } else {
                a.note(format!("{literal} relayed as {}", &packet[2..]));
            }
        }
        Err(e) => a.fail(format!(
            "sent {literal}, the other client received nothing: {e}"
        )),
    }
}

pub fn relayed(rt: &str) {
    let spec = Spec::bounded(&[]).time(Duration::from_secs(10));
    hostile("lone_surrogate::relayed", rt, spec, |a| {
        let (mut b, mut sender) = match (Ws::socketio(a.addr, STEP), Ws::socketio(a.addr, STEP)) {
            (Ok(b), Ok(s)) => (b, s),
            (Err(e), _) | (_, Err(e)) => return a.fail(format!("clients could not connect: {e}")),
        };
        // Both connected: let B's `auth` greeting pass.
        std::thread::sleep(Duration::from_millis(50));
        let cases: [(&str, &[u16]); 2] = [
            (r#""a\ud800b""#, &[0x61, 0xd800, 0x62]),
            (r#""\ud83d""#, &[0xd83d]),
        ];
        for (literal, want) in cases {
            if let Err(e) = sender.send_text(&format!(r#"42["broadcast-others",{literal}]"#)) {
                a.fail(format!("sending {literal}: {e}"));
                continue;
            }
            expect_relayed(a, &mut b, literal, want);
        }
        match sender.call(9, r#"["message-with-ack","still here"]"#, STEP) {
            Ok(ack) if ack == r#"["still here"]"# => {}
            Ok(ack) => a.fail(format!("the WebSocket sender got a wrong ack: {ack}")),
            Err(e) => a.fail(format!(
                "the WebSocket sender's session did not live on: {e}"
            )),
        }

        // The same over polling.
        let literal = r#""x\udc00""#;
        let polled = Http::connect(a.addr, STEP).and_then(|mut h| {
            let sid = h.polling_handshake(STEP)?;
            let target = format!("{POLLING_TARGET}&sid={sid}");
            h.request("POST", &target, b"40", STEP)?;
            let (_, connected) = h.request("GET", &target, b"", STEP)?;
            let connected = String::from_utf8_lossy(&connected).into_owned();
            if !connected.contains("40{") {
                return Err(std::io::Error::other(format!(
                    "CONNECT answered {connected}"
                )));
            }
            let body = format!("42[\"broadcast-others\",{literal}]");
            let (status, _) = h.request("POST", &target, body.as_bytes(), STEP)?;
            Ok((h, target, status))
        });
        let (mut h, target) = match polled {
            Ok((h, target, 200)) => (h, target),
            Ok((_, _, status)) => {
                return a.fail(format!(
                    "the polling POST of {literal} was answered {status}"
                ))
            }
            Err(e) => return a.fail(format!("the polling sender failed: {e}")),
        };
        expect_relayed(a, &mut b, literal, &[0x78, 0xdc00]);
        let alive = h
            .request(
                "POST",
                &target,
                br#"427["message-with-ack","still here"]"#,
                STEP,
            )
            .and_then(|(status, _)| {
                let until = Instant::now() + STEP;
                while Instant::now() < until {
                    let (s, body) = h.request("GET", &target, b"", STEP)?;
                    let body = String::from_utf8_lossy(&body).into_owned();
                    if s != 200 {
                        return Ok(format!("POST {status}, GET {s} {body}"));
                    }
                    if body.split('\u{1e}').any(|p| p == r#"437["still here"]"#) {
                        return Ok("ok".into());
                    }
                }
                Ok("no ack".into())
            });
        match alive {
            Ok(s) if s == "ok" => {}
            Ok(s) => a.fail(format!("the polling sender's session did not live on: {s}")),
            Err(e) => a.fail(format!("the polling sender's session did not live on: {e}")),
        }
    });
}
