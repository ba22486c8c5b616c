//! Shared by the integration tests over real sockets: a blocking Socket.IO client and a way to
//! serve a [`sockio::SocketIo`] on each runtime in the background.

#![allow(dead_code)]

pub mod client;
pub mod serve;
