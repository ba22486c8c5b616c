//! An attacking Socket.IO client over WebSocket that keeps its session alive: a thread reads
//! everything the server sends (answering Engine.IO pings, keeping acknowledgements and
//! disconnects, dropping events), while the test writes whatever it likes.
//!
//! The answer to a ping (`3`) cannot go out in the middle of a frame the test is writing: it
//! goes out first thing once that frame is written (the test's next write sends it before its
//! own frame), or from the reader when nobody is writing, so that a long flood never starves
//! it.

use std::collections::VecDeque;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::wire::{self, is_timeout, write_while, Ws, WsMsg};
use super::Attack;

/// How many of the texts the reader keeps (the latest).
const KEPT: usize = 64;

#[derive(Default)]
struct Seen {
    /// Texts that are not events (`42`...): acks, disconnects, errors.
    texts: VecDeque<String>,
    /// When the server ended the session or the namespace (`1`, `41`, close frame, EOF).
    gone: Option<(Instant, String)>,
}

/// A connected attacker.
pub struct Peer {
    /// The Socket.IO sid in `/`.
    pub sid: Option<String>,
    /// Shared with the reader, which writes its pongs through it: frames never interleave.
    writer: Arc<Mutex<TcpStream>>,
    /// A pong waiting for the writer.
    pong_due: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
    reader: Option<JoinHandle<()>>,
}

impl Peer {
    /// Connects to `/` over WebSocket and starts the reader.
    pub fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<Peer> {
        let ws = Ws::socketio(addr, timeout)?;
        Ok(Peer::from_ws(ws))
    }

    /// Takes over a connected WebSocket.
    pub fn from_ws(mut ws: Ws) -> Peer {
        let sid = ws.sid.clone();
        let writer = ws.stream.try_clone().expect("clone the stream");
        writer
            .set_write_timeout(Some(Duration::from_millis(50)))
            .expect("write timeout");
        let writer = Arc::new(Mutex::new(writer));
        let stop = Arc::new(AtomicBool::new(false));
        let pong_due = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let reader = {
            let (stop, seen, pong_to) = (stop.clone(), seen.clone(), writer.clone());
            let pong_due = pong_due.clone();
            std::thread::spawn(move || {
                let _ = ws.stream.set_read_timeout(Some(Duration::from_millis(20)));
                let gone = |why: String| seen.lock().unwrap().gone = Some((Instant::now(), why));
                while !stop.load(Ordering::Relaxed) {
                    if pong_due.load(Ordering::Relaxed) {
                        if let Ok(mut w) = pong_to.try_lock() {
                            send_pong(&mut w, &pong_due);
                        }
                    }
                    match ws.read() {
                        Ok(WsMsg::Text(t)) if t == "2" => pong_due.store(true, Ordering::Relaxed),
                        Ok(WsMsg::Text(t)) if t.starts_with("42") => {}
                        Ok(WsMsg::Text(t)) => {
                            let is_gone = t == "1" || t.starts_with("41");
                            let mut s = seen.lock().unwrap();
                            if is_gone && s.gone.is_none() {
                                s.gone = Some((Instant::now(), format!("server sent {t:?}")));
                            }
                            if s.texts.len() == KEPT {
                                s.texts.pop_front();
                            }
                            s.texts.push_back(t);
                        }
                        Ok(WsMsg::Close) => {
                            gone("close frame".into());
                            break;
                        }
                        Ok(_) => {}
                        Err(e) if is_timeout(&e) => {}
                        Err(e) => {
                            gone(format!("connection: {e}"));
                            break;
                        }
                    }
                }
            })
        };
        Peer {
            sid,
            writer,
            pong_due,
            stop,
            seen,
            reader: Some(reader),
        }
    }

    /// Writes `bytes` (whole frames) when the attack may go on, and counts them as sent.
    /// `Ok(false)` when nothing was written because the attack is over, or when the write was
    /// cut: a frame once started is finished unless the memory sampler stopped the attack,
    /// the server left, or 1.5 s past the attack's deadline (the stream is then unusable).
    pub fn write(&self, bytes: &[u8], a: &Attack) -> io::Result<bool> {
        if !a.go() {
            return Ok(false);
        }
        let cut = a.deadline + Duration::from_millis(1500);
        let mut w = self.writer.lock().unwrap();
        send_pong(&mut w, &self.pong_due);
        let n = write_while(&mut w, bytes, || {
            !a.aborted() && !self.is_gone() && Instant::now() < cut
        })?;
        a.sent(n);
        Ok(n == bytes.len())
    }

    /// Writes a frame whatever the attack's budget (small control messages), up to 5 s.
    pub fn write_now(&self, bytes: &[u8]) -> io::Result<()> {
        let until = Instant::now() + Duration::from_secs(5);
        let mut w = self.writer.lock().unwrap();
        send_pong(&mut w, &self.pong_due);
        let n = write_while(&mut w, bytes, || Instant::now() < until)?;
        if n < bytes.len() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "write stalled"));
        }
        Ok(())
    }

    /// When and why the server ended the session (or the namespace), if it did.
    pub fn gone(&self) -> Option<(Instant, String)> {
        self.seen.lock().unwrap().gone.clone()
    }

    pub fn is_gone(&self) -> bool {
        self.seen.lock().unwrap().gone.is_some()
    }

    /// Waits up to `timeout` for a kept text that satisfies `pick`.
    pub fn wait_text(&self, timeout: Duration, pick: impl Fn(&str) -> bool) -> Option<String> {
        let until = Instant::now() + timeout;
        loop {
            if let Some(t) = self.seen.lock().unwrap().texts.iter().find(|t| pick(t)) {
                return Some(t.clone());
            }
            if Instant::now() >= until {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Closes the TCP connection (no goodbye) and stops the reader.
    pub fn vanish(mut self) {
        self.shut();
    }

    fn shut(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Ok(w) = self.writer.lock() {
            let _ = w.shutdown(std::net::Shutdown::Both);
        }
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

/// Writes the pong if one is due (a `3` is 7 bytes: it fits, or the connection is stuck).
fn send_pong(w: &mut TcpStream, due: &AtomicBool) {
    if due.swap(false, Ordering::Relaxed) {
        let until = Instant::now() + Duration::from_secs(1);
        let _ = write_while(w, &wire::text_frame("3"), || Instant::now() < until);
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.shut();
    }
}
