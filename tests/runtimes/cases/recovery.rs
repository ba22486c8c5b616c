//! Connection state recovery over real sockets: a client whose connection drops and that
//! reconnects with its pid and last offset gets its sid, rooms and session back, the connect
//! handler knows, and every event sent meanwhile arrives first, in order.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sockio::Context;

use crate::{Client, Rt, STEP};

/// The offset the server appended to an event, and the event's own arguments.
fn split_offset(mut args: Vec<Value>) -> (Vec<Value>, String) {
    let offset = args.pop().and_then(|o| o.as_str().map(str::to_owned));
    (args, offset.expect("an offset last"))
}

pub fn lost_connections_recover(rt: &Rt) {
    let io = (rt.builder)()
        .ping_interval(Duration::from_millis(200))
        .ping_timeout(Duration::from_millis(200))
        .connection_state_recovery(Duration::from_secs(30))
        .build();
    io.on_connect(|ctx: Context| {
        if !ctx.recovered() {
            ctx.join_room("red");
            ctx.session_set("visits", 1)?;
        } else {
            let n = ctx.session_get::<i32>("visits").unwrap_or(0);
            ctx.session_set("visits", n + 1)?;
        }
        ctx.emit("hello", json!({"recovered": ctx.recovered()}))?;
        Ok::<_, sockio::EmitError>(())
    });
    io.on("whoami", |ctx: Context| {
        json!({
            "sid": ctx.sid(),
            "rooms": ctx.rooms(),
            "visits": ctx.session_get::<i32>("visits"),
            "recovered": ctx.recovered(),
        })
    });
    let served = rt.serve(&io);

    let mut c = rt.client(&served);
    let sid = c.sid("/");
    let pid = c.pid("/").expect("a pid with recovery on");
    let (hello, offset) = split_offset(c.expect("/", "hello"));
    assert_eq!(hello, vec![json!({"recovered": false})]);

    c.vanish();
    let until = Instant::now() + STEP;
    while io.connected_count() > 0 {
        assert!(Instant::now() < until, "the server never noticed");
        std::thread::sleep(Duration::from_millis(5));
    }
    io.emit("news", 1).unwrap();
    io.to("red").emit("red", 2).unwrap();
    io.to("blue").emit("blue", 3).unwrap();
    io.to(sid.as_str()).emit("direct", 4).unwrap();

    let mut c = Client::open(served.addr, rt.options());
    let auth = json!({"pid": pid, "offset": offset});
    assert_eq!(c.join("/", Some(auth)).unwrap(), sid, "the same sid");
    assert_eq!(c.pid("/").as_deref(), Some(pid.as_str()), "the same pid");
    // What was missed comes first, in order, then what the connect handler emitted.
    let mut got = Vec::new();
    for _ in 0..4 {
        let e = c.event();
        let (args, _) = split_offset(e.args);
        got.push((e.name, args));
    }
    assert_eq!(
        got,
        [
            ("news".to_string(), vec![json!(1)]),
            ("red".to_string(), vec![json!(2)]),
            ("direct".to_string(), vec![json!(4)]),
            ("hello".to_string(), vec![json!({"recovered": true})]),
        ]
    );
    let me = c.emit_ack("/", "whoami", json!([]));
    assert_eq!(
        me,
        vec![json!({"sid": sid, "rooms": [sid, "red"], "visits": 2, "recovered": true})]
    );
    c.no_event(Duration::from_millis(50));
    served.stop();
}
