//! Item 10: rooms per socket are capped (`max_rooms_per_socket`, default 1024, the socket's
//! own sid's room included); joins past the cap are refused and the client stays connected.
//!
//! The client pipelines `join` for rooms `room-1`, `room-2`, ... with an ack id each (the
//! ack is the client's rooms after the join), reads every ack, then checks its rooms and
//! that it still gets an acknowledgement. (The cookie's `Secure` flag and CORS credentials,
//! the rest of the finding, are covered by `tests/options.rs`.)

use std::time::{Duration, Instant};

use crate::harness::{hostile, Attack, Spec, Ws};

const STEP: Duration = Duration::from_secs(5);

/// Joins `joins` rooms; checks the rooms end at `cap` (the first `cap - 1` joins kept).
fn join_many(a: &Attack, joins: usize, cap: usize) {
    let mut ws = match Ws::socketio(a.addr, STEP) {
        Ok(ws) => ws,
        Err(e) => return a.fail(format!("the client could not connect: {e}")),
    };
    let mut batch = Vec::new();
    for i in 1..=joins {
        batch.extend(crate::harness::wire::text_frame(&format!(
            r#"42{i}["join","room-{i}"]"#
        )));
    }
    if let Err(e) = std::io::Write::write_all(&mut ws.stream, &batch) {
        return a.fail(format!("writing the joins: {e}"));
    }
    a.sent(batch.len());
    let last = format!("43{joins}[");
    let until = Instant::now() + Duration::from_secs(10);
    let rooms = match ws.wait_for(until, |t| t.starts_with(&last)) {
        Ok(ack) => serde_json::from_str::<(Vec<String>,)>(&ack[last.len() - 1..]).map(|r| r.0),
        Err(e) => return a.fail(format!("no ack for the last join: {e}")),
    };
    let rooms = match rooms {
        Ok(r) => r,
        Err(e) => return a.fail(format!("the last join's ack does not parse: {e}")),
    };
    a.note(format!(
        "{joins} joins: in {} rooms (cap {cap})",
        rooms.len()
    ));
    if rooms.len() > cap {
        a.fail(format!(
            "{joins} joins left the client in {} rooms, over the cap of {cap}",
            rooms.len()
        ));
    }
    for i in 1..cap {
        if !rooms.contains(&format!("room-{i}")) {
            a.fail(format!("room-{i}, joined before the cap, is missing"));
            break;
        }
    }
    match ws.call(
        joins as u64 + 1,
        r#"["message-with-ack","still here"]"#,
        STEP,
    ) {
        Ok(_) => {}
        Err(e) => a.fail(format!("the client did not stay connected: {e}")),
    }
}

/// The default cap: 1,100 joins, at most 1,024 rooms.
pub fn default_cap(rt: &str) {
    let spec = Spec::bounded(&[]).time(Duration::from_secs(12));
    hostile("rooms_cap::default_cap", rt, spec, |a| {
        join_many(a, 1100, 1024)
    });
}

/// `--max-rooms-per-socket 4`: 10 joins, at most 4 rooms (its own and the first 3).
pub fn flag(rt: &str) {
    let spec = Spec::bounded(&["--max-rooms-per-socket", "4"]).time(Duration::from_secs(8));
    hostile("rooms_cap::flag", rt, spec, |a| join_many(a, 10, 4));
}
