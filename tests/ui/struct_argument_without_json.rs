// A struct sent as an argument without `Json(..)`.
use sockio::{Context, SocketIo};

#[derive(serde::Serialize)]
struct Reply {
    ok: bool,
}

fn main() {
    let io = SocketIo::new();
    io.on("ask", |ctx: Context| ctx.emit("reply", Reply { ok: true }));
}
