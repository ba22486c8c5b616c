//! Binary attachments in both directions: in events, nested in objects, and in acks.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sockio::protocol::socketio::binary::placeholder;
use sockio::{Binary, Context, Json};

use crate::Rt;

#[derive(Serialize, Deserialize)]
struct Upload {
    name: String,
    data: Binary,
}

pub fn binary_attachments_both_ways(rt: &Rt) {
    let io = rt.io();
    io.on("upload", |ctx: Context, up: Upload, extra: Binary| {
        let mut reversed = up.data.to_vec();
        reversed.reverse();
        ctx.emit(
            "thumbnail",
            (
                Json(Upload {
                    name: up.name.clone(),
                    data: Binary::from(reversed),
                }),
                extra,
            ),
        )?;
        Ok::<_, sockio::EmitError>((up.data.len(), Binary(Bytes::from_static(b"ok"))))
    });
    let served = rt.serve(&io);
    let mut c = rt.client(&served);

    let big: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    let args = json!([{"name": "pic", "data": placeholder(0)}, placeholder(1)]);
    let id = c.emit_asking(
        "/",
        "upload",
        args,
        vec![Bytes::from(big.clone()), Bytes::from_static(&[0, 1, 2])],
    );
    let (ack, ack_att) = c.wait_ack("/", id);
    assert_eq!(ack, vec![json!(100_000), placeholder(0)]);
    assert_eq!(ack_att, vec![Bytes::from_static(b"ok")]);
    let e = c.event();
    assert_eq!(e.name, "thumbnail");
    assert_eq!(
        e.args,
        vec![
            json!({"name": "pic", "data": placeholder(0)}),
            placeholder(1)
        ]
    );
    let mut reversed = big;
    reversed.reverse();
    assert_eq!(
        e.attachments,
        vec![Bytes::from(reversed), Bytes::from_static(&[0, 1, 2])]
    );
}
