//! The MessagePack parser (`parser(Parser::MsgPack)`, python-socketio's `serializer='msgpack'`,
//! node's `socket.io-msgpack-parser`): handlers see the same arguments as with the default
//! parser, binary data as `Binary`; acknowledgements, broadcasts, rooms, namespaces and
//! refusals work the same. The test client speaks the server's parser.

use serde::{Deserialize, Serialize};
use sockio::{json, Binary, ConnectError, Context, Json, Parser, SocketIo, SocketIoTestClient};

#[derive(Serialize, Deserialize)]
struct Upload {
    name: String,
    data: Binary,
}

fn server() -> SocketIo {
    let io = SocketIo::builder().parser(Parser::MsgPack).build();
    assert_eq!(io.parser(), Parser::MsgPack);
    io.on("upload", |ctx: Context, up: Upload, extra: Binary| {
        ctx.emit("stored", (up.name.clone(), Binary(up.data.0.clone())))?;
        Ok::<_, sockio::EmitError>(Json(Upload {
            name: up.name,
            data: Binary(extra.0.slice(..1)),
        }))
    });
    io.on("shout", |ctx: Context, text: String| {
        ctx.broadcast()
            .emit("heard", (text, 1.5, json!({"b": 1, "a": [true, null]})))
    });
    io.on("join", |ctx: Context, room: String| ctx.join_room(room));
    io.of("/private")
        .on_connect(|_: Context, auth: Option<sockio::Value>| match auth {
            Some(a) if a["token"] == "s" => Ok(()),
            _ => Err(ConnectError::new("no").with_data(json!({"why": "token"}))),
        });
    io
}

#[test]
fn binary_arguments_acks_and_emits() {
    let io = server();
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
    assert_eq!(got[0].args, vec![json!("f.bin"), json!([1, 2, 3])]);
}

#[test]
fn broadcasts_rooms_and_refusals() {
    let io = server();
    let mut a = SocketIoTestClient::new(&io);
    let mut b = SocketIoTestClient::new(&io);
    a.emit("join", "lobby");
    a.emit("shout", "hi");
    for c in [&mut a, &mut b] {
        let got = c.get_received("/");
        assert_eq!(got.len(), 1);
        assert_eq!(
            got[0].args,
            vec![json!("hi"), json!(1.5), json!({"b": 1, "a": [true, null]})]
        );
    }
    io.to("lobby")
        .emit("news", Binary::from(vec![7u8]))
        .unwrap();
    assert_eq!(a.get_received("/")[0].args, vec![json!([7])]);
    assert!(b.get_received("/").is_empty());

    assert!(!a.connect("/private", Some(json!({"token": "x"}))));
    let refused = a.connect_error("/private").unwrap();
    assert_eq!(refused.message, "no");
    assert_eq!(refused.data, Some(json!({"why": "token"})));
    assert!(a.connect("/private", Some(json!({"token": "s"}))));
    a.disconnect("/private");
    assert!(a.is_connected("/"));
}
