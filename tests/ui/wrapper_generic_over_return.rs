// A wrapper generic over the handler's return type, without `R: HandlerOutput`.
use sockio::{Context, SocketIo};

fn on_logged<R: 'static>(io: &SocketIo, event: &str, f: impl Fn(Context) -> R + Send + Sync + 'static) {
    io.on(event, move |ctx: Context| {
        println!("{:?}", ctx.event());
        f(ctx)
    });
}

fn main() {
    let io = SocketIo::new();
    on_logged(&io, "ask", |_: Context| 1);
}
