// A handler returning something that is neither an acknowledgement nor a `Result`.
use sockio::{Context, SocketIo};

fn main() {
    let io = SocketIo::new();
    io.on("ask", |_: Context| std::time::Instant::now());
}
