//! Sending: to the sender, broadcast with and without it, rooms, sids, skip_sid, and emits
//! from other threads under load (nothing lost, order kept per emitter).

use std::time::Duration;

use serde_json::json;
use sockio::Context;

use crate::Rt;

const QUIET: Duration = Duration::from_millis(150);

pub fn emit_and_send_to_the_sender(rt: &Rt) {
    let io = rt.io();
    io.on("hi", |ctx: Context| {
        ctx.emit("reply", ("a", 1))?;
        ctx.send("text")
    });
    let served = rt.serve(&io);
    let mut a = rt.client(&served);
    let mut b = rt.client(&served);
    a.emit("/", "hi", json!([]));
    assert_eq!(a.expect("/", "reply"), vec![json!("a"), json!(1)]);
    assert_eq!(a.expect("/", "message"), vec![json!("text")]);
    b.no_event(QUIET);
}

pub fn broadcast_rooms_and_skip_sid(rt: &Rt) {
    let io = rt.io();
    io.on("all", |ctx: Context| ctx.broadcast().emit("x", 1));
    io.on("others", |ctx: Context| {
        ctx.broadcast().include_self(false).emit("y", 2)
    });
    io.on("skip", |ctx: Context, sid: String| {
        ctx.broadcast().skip_sid(sid).emit("z", 3)
    });
    io.on("join", |ctx: Context, room: String| ctx.join_room(room));
    let served = rt.serve(&io);
    let mut a = rt.client(&served);
    let mut b = rt.client(&served);
    let mut c = rt.client(&served);
    let sid_b = b.sid("/");

    a.emit("/", "all", json!([]));
    for client in [&mut a, &mut b, &mut c] {
        assert_eq!(client.expect("/", "x"), vec![json!(1)]);
    }
    a.emit("/", "others", json!([]));
    assert_eq!(b.expect("/", "y"), vec![json!(2)]);
    assert_eq!(c.expect("/", "y"), vec![json!(2)]);
    a.emit("/", "skip", json!([sid_b.clone()]));
    assert_eq!(a.expect("/", "z"), vec![json!(3)]);
    assert_eq!(c.expect("/", "z"), vec![json!(3)]);

    // Rooms and sids from outside any handler.
    assert!(a.emit_ack("/", "join", json!(["red"])).is_empty());
    assert!(b.emit_ack("/", "join", json!(["red"])).is_empty());
    io.to("red").emit("room", ()).unwrap();
    io.to("red")
        .skip_sid(sid_b.clone())
        .emit("room but b", ())
        .unwrap();
    io.to(sid_b.clone()).emit("direct", ()).unwrap();
    io.to("red").except(sid_b).emit("except b", ()).unwrap();
    io.emit("everyone", ()).unwrap();
    let names = |c: &mut crate::Client, n: usize| -> Vec<String> {
        (0..n).map(|_| c.event().name).collect()
    };
    assert_eq!(
        names(&mut a, 4),
        ["room", "room but b", "except b", "everyone"]
    );
    assert_eq!(names(&mut b, 3), ["room", "direct", "everyone"]);
    assert_eq!(names(&mut c, 1), ["everyone"]);
    for client in [&mut a, &mut b, &mut c] {
        client.no_event(QUIET);
    }
}

pub fn emits_from_other_threads_under_load(rt: &Rt) {
    const THREADS: usize = 4;
    const EACH: usize = 250;
    let io = rt.io();
    let served = rt.serve(&io);
    let mut a = rt.client(&served);
    let mut b = rt.client(&served);
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let io = io.clone();
            std::thread::spawn(move || {
                for i in 0..EACH {
                    io.emit("n", (t, i, "x".repeat(100))).unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    for client in [&mut a, &mut b] {
        let mut next = [0usize; THREADS];
        for _ in 0..THREADS * EACH {
            let args = client.expect("/", "n");
            let (t, i) = (
                args[0].as_u64().unwrap() as usize,
                args[1].as_u64().unwrap() as usize,
            );
            assert_eq!(i, next[t], "emits of thread {t} out of order or lost");
            next[t] += 1;
        }
        assert_eq!(next, [EACH; THREADS]);
        client.no_event(QUIET);
    }
}
