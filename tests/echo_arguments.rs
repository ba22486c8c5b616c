//! Received arguments go back out unchanged, binary attachments (top level and nested)
//! included, as an emit and as an acknowledgement.

use sockio::{json, Args, Binary, Context, Json, SocketIo, SocketIoTestClient};

#[test]
fn arguments_echo_back_with_their_attachments() {
    let io = SocketIo::new();
    io.on("echo", |ctx: Context| {
        ctx.emit("echoed", ctx.arguments().clone()).unwrap();
        ctx.arguments().clone()
    });
    let mut c = SocketIoTestClient::new(&io);
    let nested = json!({"name": "n", "list": [1, null]});
    let ack: Args = c
        .emit_with_ack(
            "/",
            "echo",
            (
                "text",
                Binary::from(vec![1u8, 2]),
                Json(json!({"data": {"_placeholder": true, "num": 0}, "n": 1.5})),
                nested.clone(),
            ),
        )
        .unwrap();
    let expected = vec![
        json!("text"),
        json!([1, 2]),
        // A client's literal placeholder-looking object refers to attachment 0 too: the
        // protocol cannot tell them apart, so it comes back as that attachment.
        json!({"data": [1, 2], "n": 1.5}),
        nested,
    ];
    assert_eq!(ack.to_json(), expected);
    assert_eq!(ack.get::<Binary>(1).unwrap().0.as_ref(), &[1u8, 2]);
    let got = c.get_received("/");
    assert_eq!(got[0].name, "echoed");
    assert_eq!(got[0].args, expected);
}

#[test]
fn nested_binary_stays_binary() {
    let io = SocketIo::new();
    io.on("echo", |ctx: Context| ctx.arguments().clone());
    let mut c = SocketIoTestClient::new(&io);
    #[derive(serde::Serialize)]
    struct Up {
        files: Vec<Binary>,
    }
    let up = Up {
        files: vec![Binary::from(vec![7u8]), Binary::from(vec![8u8, 9])],
    };
    let ack = c.emit_with_ack("/", "echo", Json(up)).unwrap();
    assert_eq!(ack.attachments().len(), 2);
    assert_eq!(ack.to_json(), vec![json!({"files": [[7], [8, 9]]})]);
}

#[test]
fn the_tail_of_the_arguments_keeps_its_attachments() {
    let io = SocketIo::new();
    io.on("tail", |ctx: Context| ctx.arguments().skip(1));
    let mut c = SocketIoTestClient::new(&io);
    let ack = c
        .emit_with_ack(
            "/",
            "tail",
            (Binary::from(vec![1u8]), "b", Binary::from(vec![2u8, 3])),
        )
        .unwrap();
    assert_eq!(ack.to_json(), vec![json!("b"), json!([2, 3])]);
    assert_eq!(ack.attachments().len(), 1);
}
