//! What the benchmark asks of the operating system (Linux): file descriptor limits, a
//! process's resident memory and CPU time, loopback source addresses.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::Duration;

/// Raises the open-file limit to at least `want` if the system allows (the hard limit too,
/// when privileged), and returns the soft limit in force afterwards.
pub fn raise_nofile(want: u64) -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 0;
    }
    if lim.rlim_cur >= want {
        return lim.rlim_cur;
    }
    if lim.rlim_max < want {
        let raised = libc::rlimit {
            rlim_cur: want,
            rlim_max: want,
        };
        // SAFETY: setrlimit reads the struct we own. Fails unless privileged; then fall back.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            return want;
        }
    }
    let soft = libc::rlimit {
        rlim_cur: want.min(lim.rlim_max),
        rlim_max: lim.rlim_max,
    };
    // SAFETY: as above.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &soft) } == 0 {
        soft.rlim_cur
    } else {
        lim.rlim_cur
    }
}

/// The resident set size of process `pid`, in KiB (`VmRSS` in `/proc/<pid>/status`).
pub fn rss_kib(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no VmRSS line"))
}

/// CPU accounting of a process so far, summed over its threads.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CpuTimes {
    /// Time spent running.
    pub run: Duration,
    /// Time spent runnable but waiting for a CPU (other processes had it).
    pub wait: Duration,
}

/// CPU accounting of process `pid`: the sum of `/proc/<pid>/task/*/schedstat` (nanosecond
/// precision; threads that ended are not counted, which the bench processes rarely do),
/// or, without schedstat, user + system time from `/proc/<pid>/stat` (clock ticks, no wait).
pub fn cpu_times(pid: u32) -> io::Result<CpuTimes> {
    let mut total = CpuTimes::default();
    let mut found = false;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let Ok(task) = task else { continue };
        let Ok(text) = std::fs::read_to_string(task.path().join("schedstat")) else {
            continue;
        };
        let mut f = text
            .split_whitespace()
            .map(|v| v.parse::<u64>().unwrap_or(0));
        total.run += Duration::from_nanos(f.next().unwrap_or(0));
        total.wait += Duration::from_nanos(f.next().unwrap_or(0));
        found = true;
    }
    if found {
        return Ok(total);
    }
    Ok(CpuTimes {
        run: stat_cpu_time(pid)?,
        wait: Duration::ZERO,
    })
}

/// User + system time of process `pid` from `/proc/<pid>/stat`.
fn stat_cpu_time(pid: u32) -> io::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces; the fields after its ')' are fixed.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime and stime are fields 14 and 15.
    let ticks = |i: usize| -> io::Result<u64> {
        fields
            .get(i - 3)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad stat field"))
    };
    let total = ticks(14)? + ticks(15)?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Ok(Duration::from_nanos(
        total.saturating_mul(1_000_000_000) / hz,
    ))
}

/// CPU use of a process over a window.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct CpuUse {
    /// CPU seconds used.
    pub seconds: f64,
    /// Cores used on average (seconds / wall time).
    pub cores: f64,
    /// Cores' worth of time spent runnable but not running: how much other processes held
    /// the CPU it wanted.
    pub waiting: f64,
}

/// CPU use over a measured window: of a server (by pid) and of this process.
#[derive(Debug, Clone, Copy)]
pub struct CpuMeter {
    server: Option<(u32, CpuTimes)>,
    own: CpuTimes,
}

impl CpuMeter {
    /// Starts measuring now.
    pub fn start(server_pid: Option<u32>) -> Self {
        CpuMeter {
            server: server_pid.and_then(|p| Some((p, cpu_times(p).ok()?))),
            own: cpu_times(std::process::id()).unwrap_or_default(),
        }
    }

    /// CPU used since the start by the server and by this process, over `wall`.
    pub fn stop(&self, wall: Duration) -> (Option<CpuUse>, CpuUse) {
        let wall = wall.as_secs_f64().max(1e-9);
        let usage = |before: CpuTimes, after: CpuTimes| {
            let seconds = after.run.saturating_sub(before.run).as_secs_f64();
            CpuUse {
                seconds,
                cores: seconds / wall,
                waiting: after.wait.saturating_sub(before.wait).as_secs_f64() / wall,
            }
        };
        let server = self
            .server
            .and_then(|(pid, before)| Some(usage(before, cpu_times(pid).ok()?)));
        let own = usage(self.own, cpu_times(std::process::id()).unwrap_or_default());
        (server, own)
    }
}

/// Whether `addr` is a loopback address: the only destinations the benchmark uses.
pub fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

/// Source address `i` of `count`: 127.0.0.1, 127.0.0.2, … cycling, so that many
/// connections do not run out of ephemeral ports on one address.
pub fn source_addr(i: usize, count: usize) -> Ipv4Addr {
    let k = (i % count.clamp(1, 250)) as u8;
    Ipv4Addr::new(127, 0, 0, 1 + k)
}

/// Binds `socket` to `ip` with the port chosen at connect time (`IP_BIND_ADDRESS_NO_PORT`),
/// so ports are shared across destinations.
pub fn bind_source(socket: &tokio::net::TcpSocket, ip: Ipv4Addr) -> io::Result<()> {
    let one: libc::c_int = 1;
    // SAFETY: a valid socket descriptor and a pointer to an int of the given length. Failure
    // (old kernels) only means ports are picked at bind time.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
    socket.bind(SocketAddr::new(IpAddr::V4(ip), 0))
}

/// Runs `f` on a thread of its own when the process gets SIGTERM or SIGINT, then exits with
/// status 0. Call it before starting any other thread: the signals are blocked in the calling
/// thread, and threads started later inherit that, so only the waiting thread sees them.
pub fn on_termination(f: impl FnOnce() + Send + 'static) -> io::Result<()> {
    // SAFETY: sigset_t is plain data, initialised by sigemptyset before use; the calls get
    // valid pointers to it.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        set
    };
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut sig: libc::c_int = 0;
            // SAFETY: `set` is initialised, `sig` is ours to write.
            unsafe { libc::sigwait(&set, &mut sig) };
            f();
            std::process::exit(0);
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_memory_and_cpu() {
        let pid = std::process::id();
        assert!(rss_kib(pid).unwrap() > 0);
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(cpu_times(pid).unwrap().run > Duration::ZERO);
        assert!(stat_cpu_time(pid).is_ok());
    }

    #[test]
    fn sources_cycle_over_loopback() {
        assert_eq!(source_addr(0, 4), Ipv4Addr::new(127, 0, 0, 1));
        assert_eq!(source_addr(5, 4), Ipv4Addr::new(127, 0, 0, 2));
        assert_eq!(source_addr(7, 1), Ipv4Addr::new(127, 0, 0, 1));
        assert!(is_loopback(&"127.0.0.9:80".parse().unwrap()));
        assert!(!is_loopback(&"10.0.0.1:80".parse().unwrap()));
    }
}
