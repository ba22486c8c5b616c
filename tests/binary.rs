//! Binary data both ways, alone and nested in structures.

use serde::{Deserialize, Serialize};
use sockio::{Binary, Context, Json, SocketIo, SocketIoTestClient};

#[derive(Serialize, Deserialize)]
struct Upload {
    name: String,
    data: Binary,
}

#[test]
fn binary_arguments_round_trip() {
    let io = SocketIo::new();
    io.on("upload", |ctx: Context, up: Upload, extra: Binary| {
        ctx.emit("stored", (up.name.clone(), Binary(up.data.0.clone())))
            .unwrap();
        Json(Upload {
            name: up.name,
            data: Binary(extra.0.slice(..1)),
        })
    });
    let mut c = SocketIoTestClient::new(&io);
    let ack = c
        .emit_with_ack(
            "/",
            "upload",
            (
                Json(Upload {
                    name: "f.bin".into(),
                    data: Binary::from(vec![1u8, 2, 3]),
                }),
                Binary::from(vec![9u8, 8]),
            ),
        )
        .unwrap();
    let back: Upload = ack.get(0).unwrap();
    assert_eq!((back.name.as_str(), &back.data[..]), ("f.bin", &[9u8][..]));
    let got = c.get_received("/");
    assert_eq!(got[0].name, "stored");
    assert_eq!(
        got[0].args,
        vec![sockio::json!("f.bin"), sockio::json!([1, 2, 3])]
    );
}
