//! `--hostile` and the limit flags: settings for the hostile-peer tests
//! (`conformance/tests/hostile/`), on top of the contract's. None of them is on by default, so
//! the contract the other suites test is unchanged.

use std::time::Duration;

use sockio::{EventBacklog, SocketIoBuilder};

/// pingInterval and pingTimeout under `--hostile`: long enough for a debug build under attack
/// to keep a well-behaved client alive, short enough that abandoned sessions are reaped within
/// about two seconds.
const HOSTILE_PING: Duration = Duration::from_millis(1000);

/// The settings of `--hostile` and of the limit flags; `None` leaves the builder's default.
#[derive(Clone, Debug, Default)]
pub struct Tuning {
    /// `--hostile`: [`HOSTILE_PING`] and the handlers of [`crate::app::hostile`].
    pub hostile: bool,
    ping_interval: Option<Duration>,
    ping_timeout: Option<Duration>,
    /// `--ordered`: `async_handlers(false)`.
    ordered: bool,
    event_backlog: Option<EventBacklog>,
    max_pending_events: Option<usize>,
    max_pending_event_bytes: Option<usize>,
    write_timeout: Option<Duration>,
    http_header_timeout: Option<Duration>,
    http_body_timeout: Option<Duration>,
    http_min_body_rate: Option<usize>,
    max_http_head: Option<usize>,
    max_http_connections: Option<usize>,
    max_rooms_per_socket: Option<usize>,
}

impl Tuning {
    /// Takes `flag` (and its value from `rest`) when it is one of ours: `Ok(false)` when it is
    /// not.
    pub fn parse(
        &mut self,
        flag: &str,
        rest: &mut impl Iterator<Item = String>,
    ) -> Result<bool, String> {
        let mut value = || rest.next().ok_or(format!("{flag} needs a value"));
        match flag {
            "--hostile" => self.hostile = true,
            "--ordered" => self.ordered = true,
            "--event-backlog" => {
                self.event_backlog = Some(match value()?.as_str() {
                    "pause" => EventBacklog::Pause,
                    "disconnect" => EventBacklog::Disconnect,
                    other => {
                        return Err(format!("--event-backlog: pause or disconnect, not {other}"))
                    }
                })
            }
            "--ping-interval-ms" => self.ping_interval = Some(millis(flag, &value()?)?),
            "--ping-timeout-ms" => self.ping_timeout = Some(millis(flag, &value()?)?),
            "--write-timeout-ms" => self.write_timeout = Some(millis(flag, &value()?)?),
            "--http-header-timeout-ms" => self.http_header_timeout = Some(millis(flag, &value()?)?),
            "--http-body-timeout-ms" => self.http_body_timeout = Some(millis(flag, &value()?)?),
            "--max-pending-events" => self.max_pending_events = Some(number(flag, &value()?)?),
            "--max-pending-event-bytes" => {
                self.max_pending_event_bytes = Some(number(flag, &value()?)?)
            }
            "--http-min-body-rate" => self.http_min_body_rate = Some(number(flag, &value()?)?),
            "--max-http-head" => self.max_http_head = Some(number(flag, &value()?)?),
            "--max-http-connections" => self.max_http_connections = Some(number(flag, &value()?)?),
            "--max-rooms-per-socket" => self.max_rooms_per_socket = Some(number(flag, &value()?)?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The builder with these settings on top of the contract's.
    pub fn apply(&self, mut b: SocketIoBuilder) -> SocketIoBuilder {
        if self.hostile {
            b = b.ping_interval(HOSTILE_PING).ping_timeout(HOSTILE_PING);
        }
        if let Some(d) = self.ping_interval {
            b = b.ping_interval(d);
        }
        if let Some(d) = self.ping_timeout {
            b = b.ping_timeout(d);
        }
        if self.ordered {
            b = b.async_handlers(false);
        }
        if let Some(p) = self.event_backlog {
            b = b.event_backlog(p);
        }
        if let Some(n) = self.max_pending_events {
            b = b.max_pending_events(n);
        }
        if let Some(n) = self.max_pending_event_bytes {
            b = b.max_pending_event_bytes(n);
        }
        if let Some(d) = self.write_timeout {
            b = b.write_timeout(d);
        }
        if let Some(d) = self.http_header_timeout {
            b = b.http_header_timeout(d);
        }
        if let Some(d) = self.http_body_timeout {
            b = b.http_body_timeout(d);
        }
        if let Some(n) = self.http_min_body_rate {
            b = b.http_min_body_rate(n);
        }
        if let Some(n) = self.max_http_head {
            b = b.max_http_head(n);
        }
        if let Some(n) = self.max_http_connections {
            b = b.max_http_connections(n);
        }
        if let Some(n) = self.max_rooms_per_socket {
            b = b.max_rooms_per_socket(n);
        }
        b
    }
}

fn number(flag: &str, v: &str) -> Result<usize, String> {
    v.parse().map_err(|_| format!("{flag}: not a number: {v}"))
}

fn millis(flag: &str, v: &str) -> Result<Duration, String> {
    number(flag, v).map(|ms| Duration::from_millis(ms as u64))
}
