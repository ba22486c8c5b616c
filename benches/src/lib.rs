//! Shared helpers for the sockio benchmarks: a [`Server`] full of WebSocket sessions, driven
//! through the sans-IO [`Input`]/[`Output`] API with deterministic entropy and a virtual clock.

use std::time::{Duration, Instant};

use sockio_protocol::fuzzing::TestEntropy;
use sockio_protocol::http::{Frame, HttpRequest};
use sockio_protocol::{
    Bytes, Config, Event, Input, Output, Server, SocketId, Transmit, TransportHandle,
};

/// What one drain of [`Server::poll_output`] produced.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    /// WebSocket frames transmitted.
    pub frames: usize,
    /// Bytes in those frames.
    pub bytes: usize,
    /// Other outputs (HTTP responses, closes, events).
    pub other: usize,
}

/// Drains `server` until [`Output::Timeout`], accepting every namespace connection and pushing
/// the accepted sockets onto `accepted`.
pub fn drain_into(server: &mut Server, accepted: &mut Vec<SocketId>) -> Drained {
    let mut d = Drained::default();
    loop {
        match server.poll_output() {
            Output::Timeout(_) => return d,
            Output::Transmit(Transmit::WebSocket { frame, .. }) => {
                d.frames += 1;
                d.bytes += frame.len();
            }
            Output::Event(Event::Connect { socket, .. }) => {
                d.other += 1;
                if let Some(s) = server.socket(socket) {
                    s.accept();
                    accepted.push(socket);
                }
            }
            Output::Transmit(_) | Output::Event(_) => d.other += 1,
        }
    }
}

/// Drains `server` until [`Output::Timeout`], accepting every namespace connection.
pub fn drain(server: &mut Server) -> Drained {
    drain_into(server, &mut Vec::new())
}

/// A server with `n` WebSocket sessions, each connected to `/`.
#[derive(Debug)]
pub struct Fleet {
    /// The server.
    pub server: Server,
    /// The virtual clock.
    pub now: Instant,
    /// The socket of session `i` in namespace `/`.
    pub sockets: Vec<SocketId>,
    /// The WebSocket of session `i`.
    pub transports: Vec<TransportHandle>,
}

impl Fleet {
    /// Opens `sessions` WebSocket sessions on a server with `config`, connects each to `/` and
    /// joins session `i` to room `r{i % rooms}` (no rooms when `rooms` is 0).
    pub fn new(config: Config, sessions: usize, rooms: usize) -> Self {
        let now = Instant::now();
        let mut fleet = Fleet {
            server: Server::new(config, Box::new(TestEntropy(0x5EED_5EED)), now),
            now,
            sockets: Vec::with_capacity(sessions),
            transports: Vec::with_capacity(sessions),
        };
        for i in 0..sessions {
            let transport = TransportHandle(i as u64 + 1);
            fleet.transports.push(transport);
            let request = HttpRequest {
                path: "/socket.io/".into(),
                query: "EIO=4&transport=websocket".into(),
                ..Default::default()
            };
            fleet.input(Input::WebSocketOpen {
                now,
                transport,
                request,
            });
            fleet.text(transport, "40");
            let socket = *fleet.sockets.last().expect("the connection was accepted");
            assert_eq!(fleet.sockets.len(), i + 1, "one socket per session");
            if rooms > 0 {
                let mut s = fleet.server.socket(socket).expect("live socket");
                s.join(format!("r{}", i % rooms));
                drain(&mut fleet.server);
            }
        }
        fleet
    }

    /// Feeds one input and drains.
    pub fn input(&mut self, input: Input) -> Drained {
        self.server.handle_input(input);
        drain_into(&mut self.server, &mut self.sockets)
    }

    /// A text frame from the client on `transport`, then a drain.
    pub fn text(&mut self, transport: TransportHandle, text: &'static str) -> Drained {
        self.input(Input::WebSocketMessage {
            now: self.now,
            transport,
            frame: Frame::Text(Bytes::from_static(text.as_bytes())),
        })
    }

    /// Moves the clock by `d` and delivers the timeout.
    pub fn advance(&mut self, d: Duration) -> Drained {
        self.now += d;
        self.input(Input::Timeout(self.now))
    }

    /// Every session answers its ping.
    pub fn pong_all(&mut self) {
        for i in 0..self.transports.len() {
            self.text(self.transports[i], "3");
        }
    }
}
