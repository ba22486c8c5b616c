//! Sans-IO core of sockio: Engine.IO v4 and Socket.IO v5 for servers.
//!
//! This crate holds no sockets, no async runtime, no threads, no locks, no callbacks; it never
//! reads the clock and never draws random numbers itself. Time comes in as `now: Instant`
//! arguments, randomness through the [`Entropy`] the caller supplies, bytes as owned [`Bytes`].
//! The same inputs always give the same outputs, which is what makes the whole protocol testable
//! with a virtual clock and fuzzable as a single state machine.
//!
//! What is here: the Engine.IO packet and polling-payload codecs ([`engineio`]), the Socket.IO
//! packet codec with binary attachment reassembly ([`socketio`]), the session state machine
//! (handshake, long-polling with one parked request, WebSocket, the upgrade probe, heartbeats,
//! close), namespace connections with accept/reject, acknowledgements with deadlines, the rooms
//! index and broadcast with encode-once, and connection state recovery (opt-in, see
//! [`RecoveryConfig`]: offsets on events, a log per namespace, sockets kept after their transport
//! dropped, replay on reconnection). What is not: HTTP parsing, WebSocket framing, timers,
//! handler dispatch; those belong to the runtime drivers and to the `sockio` crate.
//!
//! # Run loop
//!
//! A driver owns one [`Server`], feeds it [`Input`]s and drains [`Output`]s until the
//! `Timeout` that always ends them:
//!
//! ```no_run
//! use std::time::Instant;
//! use sockio_protocol::{Config, Entropy, Event, Input, Output, Server, Transmit};
//!
//! struct Os;
//! impl Entropy for Os {
//!     fn fill(&mut self, buf: &mut [u8]) {
//!         // a CSPRNG in a real driver (for instance getrandom)
//!         buf.fill(4);
//!     }
//! }
//!
//! # fn next_input(deadline: Instant) -> Input { Input::Timeout(deadline) }
//! let mut server = Server::new(Config::default(), Box::new(Os), Instant::now());
//! let mut deadline = Instant::now();
//! loop {
//!     // wait for I/O or the deadline, whichever comes first
//!     let input = next_input(deadline);
//!     server.handle_input(input);
//!     loop {
//!         match server.poll_output() {
//!             Output::Transmit(Transmit::Http { transport, response }) => { /* write it */ }
//!             Output::Transmit(Transmit::WebSocket { transport, frame }) => { /* send it */ }
//!             Output::Transmit(Transmit::CloseWebSocket { transport }) => { /* close it */ }
//!             Output::Event(Event::Connect { socket, .. }) => {
//!                 server.socket(socket).unwrap().accept();
//!             }
//!             Output::Event(_) => { /* hand to the application */ }
//!             Output::Timeout(at) => {
//!                 deadline = at;
//!                 break;
//!             }
//!             _ => {}
//!         }
//!     }
//! }
//! ```
//!
//! # The drain contract
//!
//! After every [`Server::handle_input`] and every command (emit, join, broadcast, …), call
//! [`Server::poll_output`] until it returns [`Output::Timeout`] before the next input. Commands
//! made while draining are fine. Debug builds assert this.
//!
//! # Time
//!
//! Only `now` arguments move time, and it never moves backwards (earlier instants are clamped).
//! [`Input::Timeout`] may be delivered early, late or twice: timers fire only once their deadline
//! has passed. With no deadline pending, the `Timeout` is a far-future instant.
//!
//! # Errors and bugs
//!
//! A peer fault (bad packet, oversized payload, missing pong) never becomes an `Err`: it closes
//! that peer's session and shows up as [`Event::Disconnect`]/[`Event::SessionClosed`] with a
//! [`DisconnectReason`]. Local misuse returns a typed error that hands the payload back
//! ([`EmitError`]). A panic is a bug in this crate; no input may cause one.

#![warn(missing_docs, unreachable_pub)]
#![deny(missing_debug_implementations)]

pub mod admission;

pub mod config;
pub use config::{Config, Cookie, Cors, Parser, RecoveryConfig, SlowConsumer};

pub mod decode;
pub use decode::{DecodeLimits, Decoded, DecodedBody};

pub mod engineio;

pub mod error;
pub use error::DecodeError;

pub mod hash;

pub mod http;
pub use http::{
    Frame, HttpRequest, HttpResponse, Method, ReadBudget, Route, StopSignal, TransportConfig,
    WsOut, WsOutbox,
};

pub mod id;
pub use id::{AckId, Entropy, Namespace, Room, SessionHandle, Sid, SocketId, TransportHandle};

mod server;
pub use server::{DisconnectReason, Event, Input, Output, Payload, Server, SocketInfo, Transmit};

mod slab;

pub mod socketio;
pub use socketio::{
    Broadcast, BroadcastReport, EmitError, RecoveryData, RecoveryStats, RecoveryTransfer, SocketMut,
};

mod str;
pub use crate::str::Str;

pub mod time;

pub mod websocket;

pub use bytes::Bytes;
pub use serde_json;

#[doc(hidden)]
pub mod fuzzing;
