//! # sockio-load
//!
//! The load benchmark that runs sockio side by side with node socket.io and a raw WebSocket
//! ceiling in one go. What is here:
//!
//! - a load generator ([`client`], [`scenario`]) speaking Engine.IO v4 / Socket.IO v5 over
//!   WebSocket, with four scenarios (echo, fanout, idle, connect), each printing one JSON line;
//! - the sockio bench server ([`server`]) with the handlers every bench server shares, and an
//!   allocation counter ([`alloc`]) for its `--count-allocs` mode;
//! - the raw WebSocket ceiling ([`ceiling`]): the same work at frame level, no Socket.IO, on
//!   tokio-tungstenite, and again on sockio's own WebSocket layer ([`ceiling_codec`]);
//! - the report ([`report`]): medians and ratios of the JSON lines, as a Markdown table.
//!
//! The node socket.io server is `node/server.js`; the `run` script drives everything. Traffic
//! goes to loopback addresses only, and every loop is bounded in count and in time.

#![warn(missing_docs)]
#![deny(missing_debug_implementations)]

pub mod alloc;
pub mod ceiling;
pub mod ceiling_codec;
pub mod cli;
pub mod client;
pub mod report;
pub mod scenario;
pub mod server;
pub mod stats;
pub mod sys;

/// Interval between the servers' pings, the same on every bench server (node's default):
/// long enough that heartbeats are a small part of the traffic.
pub const PING_INTERVAL_MS: u64 = 25_000;

/// How long the servers wait for a pong (node's default).
pub const PING_TIMEOUT_MS: u64 = 20_000;

/// The event every echo scenario emits and every bench server answers to its sender.
pub const ECHO_EVENT: &str = "echo";

/// The event the fanout emitter sends and every bench server broadcasts to everybody.
pub const BCAST_EVENT: &str = "bcast";
