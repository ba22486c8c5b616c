// A handler returning a struct (its acknowledgement) without `Json(..)`.
use sockio::{Context, SocketIo};

#[derive(serde::Serialize)]
struct Reply {
    ok: bool,
}

fn main() {
    let io = SocketIo::new();
    io.on("ask", |_: Context| Reply { ok: true });
}
