// A handler parameter whose type does not implement `Deserialize`.
use sockio::{Context, SocketIo};

struct Point {
    x: f64,
}

fn main() {
    let io = SocketIo::new();
    io.on("move", |_: Context, p: Point| println!("{}", p.x));
}
