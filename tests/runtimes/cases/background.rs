//! Background tasks and sleeps run on the server's runtime and emit to clients.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::Rt;

pub fn background_tasks_sleep_and_emit(rt: &Rt) {
    let io = rt.io();
    let served = rt.serve(&io);
    let mut c = rt.client(&served);
    let io2 = io.clone();
    let started = Instant::now();
    io.start_background_task(async move {
        for i in 0..3 {
            io2.sleep(Duration::from_millis(30)).await;
            io2.emit("tick", i).unwrap();
        }
    });
    for i in 0..3 {
        assert_eq!(c.expect("/", "tick"), vec![json!(i)]);
    }
    assert!(started.elapsed() >= Duration::from_millis(90));
    assert_eq!(io.async_mode(), rt.async_mode);
}
