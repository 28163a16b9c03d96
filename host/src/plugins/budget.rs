//! What one plugin call may spend. The deadline (`timeout_ms`) is measured in CPU time of the
//! calling thread — the guest's own execution and the host work it asks for — not in
//! wall-clock time, so a saturated machine (a login storm) does not make a healthy plugin
//! "time out" and fault. A wall-clock cap of 20x the deadline (at least one second) still
//! bounds how long a session can wait. Host calls are counted and capped per call, as are
//! the log bytes and the state bytes a call may write.

use std::time::{Duration, Instant};

/// Largest request the host sends and largest reply it reads.
pub const MAX_REQUEST: usize = 64 * 1024;
pub const MAX_REPLY: usize = 64 * 1024;
/// Host calls one plugin call may make.
pub const MAX_HOST_CALLS: u32 = 256;
/// Log bytes (host `log` and captured stdout/stderr) one call may produce; the rest is dropped
/// with one notice.
pub const MAX_LOG_BYTES: usize = 16 * 1024;
/// State bytes (keys and values) one call may write.
pub const MAX_WRITE_BYTES: usize = 64 * 1024;
/// Wall-clock cap as a multiple of the CPU deadline, and its floor.
const WALL_FACTOR: u32 = 20;
const WALL_FLOOR: Duration = Duration::from_secs(1);

/// CPU time this thread has used.
pub fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we pass and reads nothing else.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

/// Why a call was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exceeded {
    Cpu,
    Wall,
    HostCalls,
}

#[derive(Debug, Clone)]
pub struct CallBudget {
    /// The thread's CPU time at the call's start, read at the first check (most calls end
    /// before one: a CPU clock read is a system call, the wall clock is not). The time before
    /// that first check counts as CPU time in full.
    cpu_start: Option<Duration>,
    wall_start: Instant,
    cpu_limit: Duration,
    wall_limit: Duration,
    pub host_calls: u32,
    pub log_bytes: usize,
    pub write_bytes: usize,
    /// HTTP requests made (waiting or queued).
    pub http_requests: u32,
    /// Set once the log cap was hit, so the notice is logged once per call.
    pub log_capped: bool,
}

impl CallBudget {
    pub fn start(cpu_limit: Duration) -> CallBudget {
        CallBudget {
            cpu_start: None,
            wall_start: Instant::now(),
            cpu_limit,
            wall_limit: (cpu_limit * WALL_FACTOR).max(WALL_FLOOR),
            host_calls: 0,
            log_bytes: 0,
            write_bytes: 0,
            http_requests: 0,
            log_capped: false,
        }
    }

    pub fn cpu_used(&mut self) -> Duration {
        let now = thread_cpu();
        let start = *self
            .cpu_start
            .get_or_insert_with(|| now.saturating_sub(self.wall_start.elapsed()));
        now.saturating_sub(start)
    }

    /// Wall-clock time the call may still take.
    pub fn wall_left(&self) -> Duration {
        self.wall_limit.saturating_sub(self.wall_start.elapsed())
    }

    /// What a host call may block for (an HTTP answer): the wall-clock time left less an
    /// eighth of the cap, so a plugin whose request timed out still has time to answer with
    /// its own verdict instead of the call faulting (and the client being charged for a slow
    /// service).
    pub fn wall_left_to_wait(&self) -> Duration {
        self.wall_left().saturating_sub(self.wall_limit / 8)
    }

    /// Whether the call must stop now.
    pub fn check(&mut self) -> Result<(), Exceeded> {
        if self.cpu_used() > self.cpu_limit {
            return Err(Exceeded::Cpu);
        }
        if self.wall_start.elapsed() > self.wall_limit {
            return Err(Exceeded::Wall);
        }
        Ok(())
    }

    /// Counts a host call; refuses it when the call is over any budget. The CPU clock is
    /// read every 16th host call (a system call each time); the wall clock every time.
    pub fn host_call(&mut self) -> Result<(), Exceeded> {
        self.host_calls += 1;
        if self.host_calls > MAX_HOST_CALLS {
            return Err(Exceeded::HostCalls);
        }
        if self.host_calls % 16 == 0 {
            return self.check();
        }
        if self.wall_start.elapsed() > self.wall_limit {
            return Err(Exceeded::Wall);
        }
        Ok(())
    }

    /// How many of `n` log bytes may still be written in this call.
    pub fn take_log(&mut self, n: usize) -> usize {
        let room = MAX_LOG_BYTES.saturating_sub(self.log_bytes);
        let granted = n.min(room);
        self.log_bytes += granted;
        granted
    }
}

impl std::fmt::Display for Exceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Exceeded::Cpu => "CPU time budget exceeded",
            Exceeded::Wall => "wall-clock cap exceeded",
            Exceeded::HostCalls => "too many host calls in one call",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_counts_work_not_sleep() {
        let mut b = CallBudget::start(Duration::from_millis(20));
        assert!(b.check().is_ok());
        std::thread::sleep(Duration::from_millis(50));
        assert!(b.check().is_ok(), "sleeping is not CPU time");
        let start = Instant::now();
        let mut x = 0u64;
        while b.check().is_ok() && start.elapsed() < Duration::from_secs(5) {
            x = x.wrapping_mul(31).wrapping_add(1);
            std::hint::black_box(x);
        }
        assert_eq!(b.check(), Err(Exceeded::Cpu));
    }

    #[test]
    fn host_calls_and_log_bytes_are_capped() {
        let mut b = CallBudget::start(Duration::from_secs(10));
        for _ in 0..MAX_HOST_CALLS {
            assert!(b.host_call().is_ok());
        }
        assert_eq!(b.host_call(), Err(Exceeded::HostCalls));
        assert_eq!(b.take_log(MAX_LOG_BYTES - 10), MAX_LOG_BYTES - 10);
        assert_eq!(b.take_log(100), 10);
        assert_eq!(b.take_log(1), 0);
    }
}
