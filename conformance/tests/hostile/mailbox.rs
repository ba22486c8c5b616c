//! Item 1: a socket's event mailbox must be bounded.
//!
//! The attacker, over WebSocket (answering pings, so that only the server's limits end its
//! session), emits `emit-with-ack` (its handler awaits an acknowledgement the attacker never
//! sends, for the 60 s ack timeout) and then streams ~900 KB events. Before the fix every
//! event behind the waiting handler was queued: 1.4 GB from one client.
//!
//! Every case: server memory growth under 50 MB (the default caps are 1024 events and 4 MiB of
//! pending events per client, plus the one message being read), the canary unharmed, the
//! server's open files back to the baseline.

use std::time::Duration;

use crate::harness::wire::text_frame;
use crate::harness::{disconnect_reasons, disconnects, filler, hostile, Attack, Peer, Spec};

/// The size of each event's string argument.
const EVENT_BYTES: usize = 900_000;
const STEP: Duration = Duration::from_secs(5);

/// What a flood did.
struct Flood {
    connections: u32,
    /// The sid of each connection, and whether the attacker saw the server end it.
    sids: Vec<(String, bool)>,
    /// Disconnects by the server, with when they happened (seconds into the attack).
    disconnects: Vec<(f64, String)>,
}

/// Connects, sends `first` (a Socket.IO text packet), then writes `event` (a whole frame)
/// over and over while the attack may go on. When the server disconnects the attacker it
/// connects again if `reconnect`, else stops.
fn flood(a: &Attack, first: &str, event: &[u8], reconnect: bool) -> Flood {
    let mut f = Flood {
        connections: 0,
        sids: Vec::new(),
        disconnects: Vec::new(),
    };
    while a.go() {
        let peer = match Peer::connect(a.addr, STEP) {
            Ok(p) => p,
            Err(e) => {
                a.fail(format!("the attacker could not connect: {e}"));
                break;
            }
        };
        f.connections += 1;
        if let Err(e) = peer.write_now(&text_frame(first)) {
            a.note(format!("writing {first}: {e}"));
        }
        while a.go() && !peer.is_gone() {
            if let Err(e) = peer.write(event, a) {
                // The server closed the connection under the writer.
                std::thread::sleep(Duration::from_millis(50));
                if !peer.is_gone() {
                    f.disconnects.push((a.t(), format!("write failed: {e}")));
                }
                break;
            }
        }
        if !a.go() && !peer.is_gone() {
            // A disconnect the server decided on at the very end is still on its way.
            let until = std::time::Instant::now() + Duration::from_secs(1);
            while !peer.is_gone() && std::time::Instant::now() < until {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        if let Some((at, why)) = peer.gone() {
            f.disconnects.push(((at - a.start).as_secs_f64(), why));
        }
        if let Some(sid) = &peer.sid {
            f.sids.push((sid.clone(), peer.is_gone()));
        }
        peer.vanish();
        if !reconnect {
            break;
        }
    }
    a.note(format!(
        "{} attacker connection(s), {} disconnected by the server{}",
        f.connections,
        f.disconnects.len(),
        f.disconnects
            .first()
            .map(|(t, w)| format!(" (first at {t:.2} s: {w})"))
            .unwrap_or_default()
    ));
    f
}

fn ignore_event() -> Vec<u8> {
    text_frame(&format!(r#"42["ignore","{}"]"#, filler(EVENT_BYTES)))
}

/// Default (concurrent) handlers: the events behind the waiting handler run at once; the
/// attacker may be disconnected for too many events, and reconnects.
pub fn concurrent(rt: &str) {
    hostile("mailbox::concurrent", rt, Spec::bounded(&[]), |a| {
        flood(a, r#"42["emit-with-ack","x"]"#, &ignore_event(), true);
    });
}

/// `--ordered` (`async_handlers(false)`): every event waits behind the handler that waits for
/// its ack. The attacker must be disconnected, with the reason `too many events` on the
/// server's side, and it must notice (a DISCONNECT packet, or its connection closed); it
/// reconnects and is disconnected again.
pub fn ordered(rt: &str) {
    hostile("mailbox::ordered", rt, Spec::bounded(&["--ordered"]), |a| {
        let f = flood(a, r#"42["emit-with-ack","x"]"#, &ignore_event(), true);
        a.finished();
        let log = disconnects(a.addr);
        let too_many: Vec<&String> = log
            .iter()
            .filter(|(_, r)| r == "too many events")
            .map(|(sid, _)| sid)
            .collect();
        a.note(format!(
            "{} disconnects for too many events in the server's log",
            too_many.len()
        ));
        if too_many.is_empty() {
            let reasons: Vec<&String> = log.iter().map(|(_, r)| r).collect();
            a.fail(format!(
                "no disconnect with the reason \"too many events\" (reasons seen: {reasons:?})"
            ));
        }
        // Each of them must reach the client: a DISCONNECT packet (41) or the connection
        // closed, as the client would otherwise go on sending into a void.
        let unseen: Vec<&(String, bool)> = f
            .sids
            .iter()
            .filter(|(sid, seen)| !seen && too_many.contains(&sid))
            .collect();
        if !unseen.is_empty() {
            a.fail(format!(
                "the server disconnected {} of {} attacker connections (too many events) \
                 without telling them: no DISCONNECT packet (41), no close",
                unseen.len(),
                f.sids.len()
            ));
        }
    });
}

/// `--event-backlog pause`: the attacker streams events whose handlers each hold their 900 KB
/// for 300 ms (`ack-after`); past the caps the server must stop reading from it, not
/// disconnect it. Checked: never disconnected, and after the flood its connection still
/// answers (`message-with-ack` acknowledged within 5 s); no `too many events`.
pub fn pause(rt: &str) {
    hostile(
        "mailbox::pause",
        rt,
        Spec::bounded(&["--event-backlog", "pause"]),
        |a| {
            let peer = match Peer::connect(a.addr, STEP) {
                Ok(p) => p,
                Err(e) => return a.fail(format!("the attacker could not connect: {e}")),
            };
            let event = text_frame(&format!(r#"42["ack-after",300,"{}"]"#, filler(EVENT_BYTES)));
            if let Err(e) = peer.write_now(&text_frame(r#"42["emit-with-ack","x"]"#)) {
                a.fail(format!("writing emit-with-ack: {e}"));
            }
            let mut events = 0u32;
            while a.go() && !peer.is_gone() {
                match peer.write(&event, a) {
                    Ok(true) => events += 1,
                    Ok(false) => break,
                    Err(e) => {
                        a.fail(format!("writing failed at {:.2} s: {e}", a.t()));
                        break;
                    }
                }
            }
            a.note(format!("{events} events written in {:.2} s", a.t()));
            a.finished();
            if let Some((at, why)) = peer.gone() {
                return a.fail(format!(
                    "the paused attacker was disconnected at {:.2} s: {why} (reasons the server \
                     saw: {:?})",
                    (at - a.start).as_secs_f64(),
                    disconnect_reasons(a.addr)
                ));
            }
            let asked = std::time::Instant::now();
            let alive = peer
                .write_now(&text_frame(r#"4277["message-with-ack","alive"]"#))
                .ok()
                .and_then(|()| peer.wait_text(STEP, |t| t.starts_with("4377[")));
            match alive {
                Some(_) => a.note(format!(
                    "attacker acknowledged {:.2} s after the flood",
                    asked.elapsed().as_secs_f64()
                )),
                None => a.fail(format!(
                    "after the flood the paused attacker got no acknowledgement within 5 s{}",
                    peer.gone()
                        .map(|(_, w)| format!(" ({w})"))
                        .unwrap_or_default()
                )),
            }
            peer.vanish();
            let reasons = disconnect_reasons(a.addr);
            if reasons.iter().any(|r| r == "too many events") {
                a.fail(format!(
                    "pause policy, yet disconnects for too many events: {reasons:?}"
                ));
            }
        },
    );
}

/// A handler that never finishes (`hang`), `--ordered`: clients one after the other send
/// `hang`, then up to 8 MB of events queued behind it, then leave (TCP closed). Whatever each
/// one queued must be freed once it is gone (or refused), though its handler never ends:
/// 24 clients leaking even the 4 MiB cap each would pass the 50 MB bound.
pub fn hung_handler(rt: &str) {
    let spec = Spec::bounded(&["--ordered"]).time(Duration::from_secs(6));
    hostile("mailbox::hung_handler", rt, spec, |a| {
        let event = ignore_event();
        let per_client = 8 << 20;
        let mut clients = 0;
        let mut disconnected = 0;
        for _ in 0..24 {
            if !a.go() {
                break;
            }
            let peer = match Peer::connect(a.addr, STEP) {
                Ok(p) => p,
                Err(e) => {
                    a.fail(format!("client {clients} could not connect: {e}"));
                    break;
                }
            };
            clients += 1;
            let _ = peer.write_now(&text_frame(r#"42["hang"]"#));
            let mut written = 0;
            while written < per_client && a.go() && !peer.is_gone() {
                match peer.write(&event, a) {
                    Ok(true) => written += event.len(),
                    _ => break,
                }
            }
            if peer.is_gone() {
                disconnected += 1;
            }
            peer.vanish();
        }
        a.note(format!(
            "{clients} clients sent hang + up to 8 MB each, {disconnected} disconnected by the \
             server"
        ));
        if clients < 24 && !a.aborted() {
            a.fail(format!(
                "only {clients} of 24 clients ran within the time budget"
            ));
        }
        // Give the server a moment to let go of the last ones before the peak is read.
        std::thread::sleep(Duration::from_millis(300));
    });
}
