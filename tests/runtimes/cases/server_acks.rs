//! Server to client acknowledgements: `emit_with_ack` with a callback, `call` that waits for
//! the answer, and `call` with a timeout nobody answers.

use std::time::Duration;

use serde_json::json;
use sockio::{AckError, Context, HandlerError};

use crate::Rt;

pub fn emit_with_ack_and_call(rt: &Rt) {
    let io = rt.io();
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    io.on("ask", move |ctx: Context| {
        let tx = tx.lock().unwrap().clone();
        ctx.emit_with_ack("question", "ready?", move |answer| {
            let _ = tx.send(answer.map(|a| a.to_json()));
        })
    });
    io.on("call", |ctx: Context| async move {
        let answer = ctx.call("q2", 2).await?;
        Ok::<_, HandlerError>(answer.get::<i32>(0)? * 10)
    });
    io.on("impatient", |ctx: Context| async move {
        match ctx
            .call_timeout("ignored", (), Duration::from_millis(200))
            .await
        {
            Err(AckError::Timeout) => "timed out".to_string(),
            other => format!("{other:?}"),
        }
    });
    let served = rt.serve(&io);
    let mut c = rt.client(&served);

    c.emit("/", "ask", json!([]));
    let q = c.event();
    assert_eq!(
        (q.name.as_str(), q.args.clone()),
        ("question", vec![json!("ready?")])
    );
    c.ack("/", q.ack.expect("an ack id"), json!([42, "yes"]));
    let answer = rx.recv_timeout(crate::STEP).unwrap().unwrap();
    assert_eq!(answer, vec![json!(42), json!("yes")]);

    // `call` inside an async handler: the client's answer becomes the handler's result.
    let id = c.emit_asking("/", "call", json!([]), Vec::new());
    let q = c.event();
    assert_eq!(q.name, "q2");
    assert_eq!(q.args, vec![json!(2)]);
    c.ack("/", q.ack.unwrap(), json!([7]));
    assert_eq!(c.wait_ack("/", id).0, vec![json!(70)]);

    // Asked through the server handle, from outside any handler.
    let sid = c.sid("/");
    let (tx2, rx2) = std::sync::mpsc::channel();
    io.to(sid)
        .timeout(Duration::from_secs(5))
        .emit_with_ack("server asks", 1, move |r| {
            drop(tx2.send(r.map(|a| a.to_json())))
        })
        .unwrap();
    let q = c.event();
    assert_eq!(q.name, "server asks");
    c.ack("/", q.ack.unwrap(), json!(["fine"]));
    assert_eq!(
        rx2.recv_timeout(crate::STEP).unwrap().unwrap(),
        vec![json!("fine")]
    );

    assert_eq!(
        c.emit_ack("/", "impatient", json!([])),
        vec![json!("timed out")]
    );
    let ignored = c.event();
    assert_eq!(ignored.name, "ignored");

    // An ack needs exactly one recipient.
    assert!(matches!(
        io.to_all("/").emit_with_ack("x", (), |_| {}),
        Err(sockio::EmitError::AckNeedsOneClient)
    ));
}
