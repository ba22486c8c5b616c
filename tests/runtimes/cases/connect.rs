//! Connect handlers see the auth payload and may accept or refuse, with a message and data
//! the client sees; sync, async and `bool` forms.

use serde::Deserialize;
use serde_json::json;
use sockio::{ConnectError, Context};

use crate::{Client, Rt};

#[derive(Deserialize)]
struct Auth {
    token: String,
}

pub fn connect_handler_accepts_or_refuses(rt: &Rt) {
    let io = rt.io();
    io.on_connect(|ctx: Context, auth: Option<Auth>| match auth {
        Some(a) if a.token == "secret" => {
            ctx.session_set("user", "ada")?;
            ctx.emit("welcome", ctx.sid().to_string())?;
            Ok(())
        }
        Some(_) => Err(ConnectError::new("invalid token").with_data(json!({"retry": false}))),
        None => Err(ConnectError::new("missing token")),
    });
    io.on("whoami", |ctx: Context| ctx.session_get::<String>("user"));
    io.of("/async").on_connect(|ctx: Context| async move {
        ctx.io().sleep(std::time::Duration::from_millis(5)).await;
        ctx.request().query("pass").as_deref() == Some("1")
    });
    let served = rt.serve(&io);

    let mut ok = rt.client_to(&served, "/", Some(json!({"token": "secret"})));
    assert_eq!(ok.expect("/", "welcome"), vec![json!(ok.sid("/"))]);
    assert_eq!(ok.emit_ack("/", "whoami", json!([])), vec![json!("ada")]);
    assert_eq!(io.connected_count(), 1);

    let mut bad = Client::open(served.addr, rt.options());
    let refused = bad.join("/", Some(json!({"token": "guess"}))).unwrap_err();
    assert_eq!(
        refused,
        json!({"message": "invalid token", "data": {"retry": false}})
    );
    let refused = bad.join("/", None).unwrap_err();
    assert_eq!(refused["message"], "missing token");
    // The same session may try again.
    assert!(bad.join("/", Some(json!({"token": "secret"}))).is_ok());

    let refused = bad.join("/async", None).unwrap_err();
    assert_eq!(refused["message"], "Connection rejected by server");
    let mut opts = rt.options();
    opts.query = "pass=1".into();
    let mut yes = Client::open(served.addr, opts);
    assert!(yes.join("/async", None).is_ok());
}
