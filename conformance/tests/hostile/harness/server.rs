//! The server under attack: the conformance server binary as a child process, and what
//! /proc tells about it (resident memory, open files, TCP connections).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long the server may take to print its `listening on` line.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A conformance server started for one test, killed (by its PID) when dropped.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub pid: u32,
    /// Kept open: the server wrote its one line, and it must not get EPIPE later.
    _stdout: BufReader<ChildStdout>,
}

impl Server {
    /// Starts `sockio-conformance-server --port 0 --runtime <runtime> <args>`; with `nofile`,
    /// under that open-file limit (`ulimit -n`, through `sh`, which then `exec`s the server,
    /// so the PID is the server's).
    pub fn start(runtime: &str, args: &[String], nofile: Option<u32>) -> Server {
        let bin = env!("CARGO_BIN_EXE_sockio-conformance-server");
        let mut cmd = match nofile {
            Some(n) => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(format!("ulimit -n {n} && exec \"$0\" \"$@\""))
                    .arg(bin);
                c
            }
            None => Command::new(bin),
        };
        cmd.args(["--port", "0", "--runtime", runtime])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("start the conformance server");
        let pid = child.id();
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let r = reader.read_line(&mut line).map(|_| line);
            let _ = tx.send((r, reader));
        });
        let (line, reader) = match rx.recv_timeout(START_TIMEOUT) {
            Ok((Ok(line), reader)) => (line, reader),
            other => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the server did not announce itself: {:?}",
                    other.map(|o| o.0)
                );
            }
        };
        // `listening on 127.0.0.1:<port> runtime=<name> mode=socketio`
        let addr = line
            .split_whitespace()
            .nth(2)
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"));
        assert!(
            line.contains(&format!("runtime={runtime} ")),
            "unexpected first line: {line:?}"
        );
        Server {
            child,
            addr,
            pid,
            _stdout: reader,
        }
    }

    /// Resident memory in bytes (`VmRSS`), 0 once the process is gone.
    pub fn rss(&self) -> u64 {
        rss_of(self.pid)
    }

    /// Open file descriptors.
    pub fn fds(&self) -> usize {
        fds_of(self.pid)
    }

    /// Waits up to `within` for the open files to come down to `at_most`; returns the last
    /// count and how long it took.
    pub fn settle_fds(&self, at_most: usize, within: Duration) -> (usize, Duration) {
        let start = Instant::now();
        loop {
            let n = self.fds();
            if n <= at_most || start.elapsed() >= within {
                return (n, start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `Some(status)` once the server has exited.
    pub fn exited(&mut self) -> Option<String> {
        self.child.try_wait().ok().flatten().map(|s| format!("{s}"))
    }

    /// The server's TCP connections (IPv4: it listens on 127.0.0.1), from
    /// `/proc/<pid>/net/tcp` (the table of its network namespace: both ends of local
    /// connections, other processes' too).
    pub fn tcp(&self) -> Vec<TcpEntry> {
        let table =
            std::fs::read_to_string(format!("/proc/{}/net/tcp", self.pid)).unwrap_or_default();
        table.lines().skip(1).filter_map(TcpEntry::parse).collect()
    }

    /// Whether one of the server's file descriptors is the socket with inode `inode`.
    pub fn holds_socket(&self, inode: u64) -> bool {
        let target = format!("socket:[{inode}]");
        std::fs::read_dir(format!("/proc/{}/fd", self.pid))
            .map(|dir| {
                dir.flatten().any(|e| {
                    std::fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy() == target)
                })
            })
            .unwrap_or(false)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGKILL to this PID only: a server under attack may take long to shut down.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rss_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn fds_of(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// One line of `/proc/net/tcp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpEntry {
    pub local_port: u16,
    pub remote_port: u16,
    /// 0x01 ESTABLISHED, 0x04 FIN_WAIT1, 0x0A LISTEN, ...
    pub state: u8,
    /// Bytes in the send queue (written by the application, not yet acknowledged by the peer).
    pub tx_queue: u64,
    /// Bytes in the receive queue (arrived, not yet read by the application).
    pub rx_queue: u64,
    pub inode: u64,
}

/// The ESTABLISHED state in `/proc/net/tcp`.
pub const ESTABLISHED: u8 = 0x01;

impl TcpEntry {
    fn parse(line: &str) -> Option<TcpEntry> {
        let f: Vec<&str> = line.split_whitespace().collect();
        let port = |s: &str| u16::from_str_radix(s.rsplit(':').next()?, 16).ok();
        let (tx, rx) = f.get(4)?.split_once(':')?;
        Some(TcpEntry {
            local_port: port(f.get(1)?)?,
            remote_port: port(f.get(2)?)?,
            state: u8::from_str_radix(f.get(3)?, 16).ok()?,
            tx_queue: u64::from_str_radix(tx, 16).ok()?,
            rx_queue: u64::from_str_radix(rx, 16).ok()?,
            inode: f.get(9)?.parse().ok()?,
        })
    }
}

/// Samples the server's resident memory every 10 ms in a thread of its own, keeping the
/// peak; past `abort_at` bytes it raises `abort`, which every attack loop watches, so that a
/// server that does grow without bound is stopped long before the machine runs out of
/// memory.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Sampler {
    pub fn start(pid: u32, abort_at: u64, abort: Arc<AtomicBool>) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(rss_of(pid)));
        let thread = {
            let (stop, peak) = (stop.clone(), peak.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let rss = rss_of(pid);
                    peak.fetch_max(rss, Ordering::Relaxed);
                    if rss > abort_at {
                        abort.store(true, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
        };
        Sampler {
            stop,
            peak,
            thread: Some(thread),
        }
    }

    /// The peak so far.
    pub fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }

    /// Stops sampling; the peak.
    pub fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.peak()
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
