//! Shared helpers for the sockio benchmarks: a [`Server`] full of WebSocket sessions, driven
//! through the sans-IO [`Input`]/[`Output`] API with deterministic entropy and a virtual clock.

use std::time::{Duration, Instant};

use sockio_protocol::fuzzing::TestEntropy;
use sockio_protocol::http::{Frame, HttpRequest, HttpResponse, Method};
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

/// Drains `server` until [`Output::Timeout`] and returns every WebSocket frame and HTTP
/// response, in order (for checks outside the timed loops).
pub fn drain_collect(server: &mut Server) -> (Vec<(TransportHandle, Frame)>, Vec<HttpResponse>) {
    let (mut frames, mut http) = (Vec::new(), Vec::new());
    loop {
        match server.poll_output() {
            Output::Timeout(_) => return (frames, http),
            Output::Transmit(Transmit::WebSocket { transport, frame }) => {
                frames.push((transport, frame))
            }
            Output::Transmit(Transmit::Http { response, .. }) => http.push(response),
            Output::Event(Event::Connect { socket, .. }) => {
                if let Some(s) = server.socket(socket) {
                    s.accept();
                }
            }
            Output::Transmit(_) | Output::Event(_) => {}
        }
    }
}

/// How many distinct buffers the frames' bytes live in: 1 when one encoding is shared by all.
pub fn distinct_buffers(frames: &[(TransportHandle, Frame)]) -> usize {
    let mut ptrs: Vec<*const u8> = frames
        .iter()
        .map(|(_, f)| match f {
            Frame::Text(b) | Frame::Binary(b) => b.as_ptr(),
        })
        .collect();
    ptrs.sort_unstable();
    ptrs.dedup();
    ptrs.len()
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
    /// The last transport handle given out.
    handles: u64,
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
            handles: 0,
        };
        for i in 0..sessions {
            let transport = fleet.next_handle();
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

    /// One HTTP request on the Engine.IO path; returns the responses drained after it.
    pub fn http(
        &mut self,
        method: Method,
        query: String,
        body: &'static [u8],
    ) -> Vec<HttpResponse> {
        let transport = self.next_handle();
        self.server.handle_input(Input::HttpRequest {
            now: self.now,
            transport,
            request: HttpRequest {
                method,
                path: "/socket.io/".into(),
                query,
                body: Bytes::from_static(body),
                ..Default::default()
            },
        });
        drain_collect(&mut self.server).1
    }

    fn next_handle(&mut self) -> TransportHandle {
        self.handles += 1;
        TransportHandle(self.handles)
    }

    /// Opens a long-polling session connected to `/` whose GET is parked, as a client has it
    /// just before it tries to upgrade. Returns the Engine.IO sid.
    pub fn parked_polling_session(&mut self) -> String {
        let open = self.http(Method::Get, "EIO=4&transport=polling".into(), b"");
        let body = &open.first().expect("handshake answered").body;
        let sid = std::str::from_utf8(&body[9..29])
            .expect("ASCII sid")
            .to_string();
        let q = format!("EIO=4&transport=polling&sid={sid}");
        self.http(Method::Post, q.clone(), b"40");
        let connected = self.http(Method::Get, q.clone(), b"");
        assert!(connected[0].body.starts_with(b"40{"), "CONNECT answered");
        assert!(self.http(Method::Get, q, b"").is_empty(), "GET parked");
        sid
    }

    /// The client side of the upgrade of session `sid` to a new WebSocket: open, `2probe`,
    /// `5`. Returns the WebSocket and the number of frames and HTTP responses it produced.
    pub fn upgrade(&mut self, sid: &str) -> (TransportHandle, usize, usize) {
        let ws = self.next_handle();
        self.server.handle_input(Input::WebSocketOpen {
            now: self.now,
            transport: ws,
            request: HttpRequest {
                path: "/socket.io/".into(),
                query: format!("EIO=4&transport=websocket&sid={sid}"),
                ..Default::default()
            },
        });
        let (mut frames, mut http) = (0, 0);
        let mut count = |server: &mut Server| {
            let (f, h) = drain_collect(server);
            frames += f.len();
            http += h.len();
        };
        count(&mut self.server);
        for text in ["2probe", "5"] {
            self.server.handle_input(Input::WebSocketMessage {
                now: self.now,
                transport: ws,
                frame: Frame::Text(Bytes::from_static(text.as_bytes())),
            });
            count(&mut self.server);
        }
        (ws, frames, http)
    }

    /// The client closes WebSocket `ws`.
    pub fn close(&mut self, ws: TransportHandle) {
        self.server.handle_input(Input::TransportClosed {
            now: self.now,
            transport: ws,
        });
        drain(&mut self.server);
    }
}
