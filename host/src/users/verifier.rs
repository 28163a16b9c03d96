//! The password-check pool: a fixed number of worker threads, each with its own argon2 memory
//! allocated once and reused, fed from a bounded queue. Whatever arrives, the server holds at
//! most `workers` argon2 memories (~19 MiB each) and `max_queued` waiting checks, so a storm of
//! wrong passwords cannot grow memory; and each free worker takes the waiting check whose
//! address has the fewest recent failures, so clients with a clean record go first.

use std::net::IpAddr;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use argon2::password_hash::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::oneshot;

/// Largest argon2 memory a worker grows to for a stored hash (the default hash needs 19 MiB).
const MAX_MEMORY_KIB: u32 = 256 * 1024;

/// Why a check did not run; the client may retry later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Busy {
    #[error("too many password checks waiting")]
    QueueFull,
    #[error("too many password checks from this address at once")]
    PerIp,
    #[error("the password check waited too long")]
    Waited,
}

/// How a waiting check ranks: lower first. The pool asks when it picks, so a rank reflects
/// what happened while the check waited.
pub type Rank = Arc<dyn Fn(IpAddr) -> u32 + Send + Sync>;

struct Job {
    ip: IpAddr,
    seq: u64,
    password: String,
    phc: String,
    queued: Instant,
    reply: oneshot::Sender<Result<bool, Busy>>,
}

struct Queue {
    jobs: Vec<Job>,
    seq: u64,
    /// Per address: checks waiting or running.
    per_ip: std::collections::HashMap<IpAddr, usize>,
    max_queued: usize,
    max_per_ip: usize,
    max_wait: Duration,
}

struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
    rank: Rank,
}

pub struct Verifier {
    shared: Arc<Shared>,
    workers: usize,
}

impl Verifier {
    pub fn new(
        workers: usize,
        limits: &crate::access::login_throttle::LoginLimits,
        rank: Rank,
    ) -> Verifier {
        let mut v = Verifier::idle(limits, rank);
        v.start_workers(workers.max(1));
        v
    }

    /// A pool without workers yet: checks queue up until [`Verifier::start_workers`].
    fn idle(limits: &crate::access::login_throttle::LoginLimits, rank: Rank) -> Verifier {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                jobs: Vec::new(),
                seq: 0,
                per_ip: Default::default(),
                max_queued: limits.max_queued_checks.max(1),
                max_per_ip: limits.max_queued_per_ip.max(1),
                max_wait: Duration::from_millis(limits.max_wait_ms.max(1)),
            }),
            ready: Condvar::new(),
            rank,
        });
        Verifier { shared, workers: 0 }
    }

    fn start_workers(&mut self, n: usize) {
        for _ in 0..n {
            let shared = self.shared.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("ftpsd-argon2-{}", self.workers))
                .spawn(move || worker(shared));
            match spawned {
                Ok(_) => self.workers += 1,
                Err(e) => tracing::error!(error = %e, "cannot start a password-check worker"),
            }
        }
    }

    pub fn workers(&self) -> usize {
        self.workers
    }

    /// New queue bounds (config reload) for the checks that come next.
    pub fn set_limits(&self, limits: &crate::access::login_throttle::LoginLimits) {
        let mut q = lock(&self.shared.queue);
        q.max_queued = limits.max_queued_checks.max(1);
        q.max_per_ip = limits.max_queued_per_ip.max(1);
        q.max_wait = Duration::from_millis(limits.max_wait_ms.max(1));
    }

    /// Checks waiting for a worker now.
    pub fn queued(&self) -> usize {
        lock(&self.shared.queue).jobs.len()
    }

    /// Verifies `password` against the PHC string `phc` on a worker.
    pub async fn verify(&self, ip: IpAddr, password: &str, phc: &str) -> Result<bool, Busy> {
        let rx = self.enqueue(ip, password, phc)?;
        rx.await.unwrap_or(Err(Busy::Waited))
    }

    fn enqueue(
        &self,
        ip: IpAddr,
        password: &str,
        phc: &str,
    ) -> Result<oneshot::Receiver<Result<bool, Busy>>, Busy> {
        let (tx, rx) = oneshot::channel();
        {
            let mut q = lock(&self.shared.queue);
            let from_ip = q.per_ip.get(&ip).copied().unwrap_or(0);
            if from_ip >= q.max_per_ip {
                return Err(Busy::PerIp);
            }
            if q.jobs.len() >= q.max_queued {
                // Full: the waiting check of the worst-ranked address (most recent failures,
                // then most checks waiting) leaves, unless the new one ranks no better.
                let new_rank = standing(&self.shared, &q, ip, 1);
                let worst = q
                    .jobs
                    .iter()
                    .enumerate()
                    .map(|(i, j)| (i, standing(&self.shared, &q, j.ip, 0), j.seq))
                    .max_by_key(|(_, r, seq)| (*r, *seq))
                    .map(|(i, r, _)| (i, r));
                match worst {
                    Some((i, r)) if r > new_rank => {
                        let evicted = q.jobs.swap_remove(i);
                        release(&mut q, evicted.ip);
                        let _ = evicted.reply.send(Err(Busy::QueueFull));
                    }
                    _ => return Err(Busy::QueueFull),
                }
            }
            q.seq += 1;
            let seq = q.seq;
            *q.per_ip.entry(ip).or_insert(0) += 1;
            q.jobs.push(Job {
                ip,
                seq,
                password: password.to_string(),
                phc: phc.to_string(),
                queued: Instant::now(),
                reply: tx,
            });
        }
        self.shared.ready.notify_one();
        Ok(rx)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// How an address ranks in the queue: its recent failures, then how many checks it has
/// waiting or running (`extra` counts one about to be added). Lower goes first.
fn standing(shared: &Shared, q: &Queue, ip: IpAddr, extra: usize) -> (u32, usize) {
    (
        (shared.rank)(ip),
        q.per_ip.get(&ip).copied().unwrap_or(0) + extra,
    )
}

fn release(q: &mut Queue, ip: IpAddr) {
    if let Some(n) = q.per_ip.get_mut(&ip) {
        *n -= 1;
        if *n == 0 {
            q.per_ip.remove(&ip);
        }
    }
}

/// Takes the best waiting job: the lowest rank, then the oldest. Jobs that waited too long or
/// whose client is gone are answered and dropped on the way.
fn next_job(shared: &Shared) -> Job {
    let mut q = lock(&shared.queue);
    loop {
        let max_wait = q.max_wait;
        let mut i = 0;
        while i < q.jobs.len() {
            let j = &q.jobs[i];
            if j.reply.is_closed() || j.queued.elapsed() > max_wait {
                let j = q.jobs.swap_remove(i);
                release(&mut q, j.ip);
                let _ = j.reply.send(Err(Busy::Waited));
            } else {
                i += 1;
            }
        }
        let best = q
            .jobs
            .iter()
            .enumerate()
            .min_by_key(|(_, j)| (standing(shared, &q, j.ip, 0), j.seq))
            .map(|(i, _)| i);
        if let Some(i) = best {
            return q.jobs.swap_remove(i);
        }
        q = shared.ready.wait(q).unwrap_or_else(|e| e.into_inner());
    }
}

fn worker(shared: Arc<Shared>) {
    let mut memory: Vec<Block> = Vec::new();
    loop {
        let job = next_job(&shared);
        let ok = verify_with(&mut memory, &job.password, &job.phc);
        release(&mut lock(&shared.queue), job.ip);
        let _ = job.reply.send(Ok(ok));
    }
}

/// Verifies against a PHC string using (and growing, within bounds) `memory`; a malformed
/// stored hash is simply a failed check.
pub fn verify_with(memory: &mut Vec<Block>, password: &str, phc: &str) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(expected), Some(salt)) = (hash.hash, hash.salt) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(hash.algorithm) else {
        return false;
    };
    let version = hash
        .version
        .map(Version::try_from)
        .unwrap_or(Ok(Version::V0x13));
    let (Ok(version), Ok(params)) = (version, Params::try_from(&hash)) else {
        return false;
    };
    if params.m_cost() > MAX_MEMORY_KIB {
        tracing::error!(
            m_cost_kib = params.m_cost(),
            "stored password hash needs more argon2 memory than allowed; login refused"
        );
        return false;
    }
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    let argon = Argon2::new(algorithm, version, params);
    if argon
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut memory[..blocks])
        .is_err()
    {
        return false;
    }
    aws_lc_rs::constant_time::verify_slices_are_equal(&out, expected.as_bytes()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::login_throttle::LoginLimits;

    #[test]
    fn verifies_like_the_argon2_crate() {
        let h = crate::users::password::hash("s3cret pass");
        let mut mem = Vec::new();
        assert!(verify_with(&mut mem, "s3cret pass", &h));
        assert!(!verify_with(&mut mem, "s3cret pas", &h));
        assert!(!verify_with(&mut mem, "x", "not a hash"));
        assert!(!verify_with(&mut mem, "x", "$argon2id$invalid"));
        let blocks = mem.len();
        assert!(verify_with(&mut mem, "s3cret pass", &h));
        assert_eq!(mem.len(), blocks, "memory is reused, not grown");
    }

    fn limits(queued: usize, per_ip: usize) -> LoginLimits {
        LoginLimits {
            max_queued_checks: queued,
            max_queued_per_ip: per_ip,
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn bounded_per_address_and_in_total() {
        let rank: Rank =
            Arc::new(|ip: IpAddr| u32::from(ip == "10.0.0.9".parse::<IpAddr>().unwrap()));
        let mut v = Verifier::idle(&limits(3, 2), rank);
        let h = crate::users::password::hash("pw");
        let (a, b, bad): (IpAddr, IpAddr, IpAddr) = (
            "10.0.0.1".parse().unwrap(),
            "10.0.0.2".parse().unwrap(),
            "10.0.0.9".parse().unwrap(),
        );
        let first = v.enqueue(a, "pw", &h).unwrap();
        let second = v.enqueue(a, "nope", &h).unwrap();
        assert_eq!(v.enqueue(a, "pw", &h).err(), Some(Busy::PerIp));
        let from_bad = v.enqueue(bad, "pw", &h).unwrap();
        // Full: a cleaner address evicts the worst-ranked waiting check...
        let from_b = v.enqueue(b, "pw", &h).unwrap();
        assert_eq!(from_bad.await.unwrap(), Err(Busy::QueueFull));
        // ...and one that ranks no better than the rest is refused.
        assert_eq!(v.enqueue(bad, "pw", &h).err(), Some(Busy::QueueFull));
        v.start_workers(1);
        assert_eq!(first.await.unwrap(), Ok(true));
        assert_eq!(second.await.unwrap(), Ok(false));
        assert_eq!(from_b.await.unwrap(), Ok(true));
        assert_eq!(v.queued(), 0);
    }

    #[test]
    fn the_cleanest_address_goes_first() {
        let failures: Arc<Mutex<std::collections::HashMap<IpAddr, u32>>> = Arc::default();
        let f = failures.clone();
        let rank: Rank = Arc::new(move |ip| f.lock().unwrap().get(&ip).copied().unwrap_or(0));
        let shared = Shared {
            queue: Mutex::new(Queue {
                jobs: Vec::new(),
                seq: 0,
                per_ip: Default::default(),
                max_queued: 10,
                max_per_ip: 10,
                max_wait: Duration::from_secs(60),
            }),
            ready: Condvar::new(),
            rank,
        };
        let mut keep = Vec::new();
        for (seq, ip) in ["10.0.0.1", "10.0.0.1", "10.0.0.2"].iter().enumerate() {
            let (tx, rx) = oneshot::channel();
            keep.push(rx);
            lock(&shared.queue).jobs.push(Job {
                ip: ip.parse().unwrap(),
                seq: seq as u64,
                password: String::new(),
                phc: String::new(),
                queued: Instant::now(),
                reply: tx,
            });
        }
        failures
            .lock()
            .unwrap()
            .insert("10.0.0.1".parse().unwrap(), 3);
        assert_eq!(next_job(&shared).ip, "10.0.0.2".parse::<IpAddr>().unwrap());
        let next = next_job(&shared);
        assert_eq!((next.ip, next.seq), ("10.0.0.1".parse().unwrap(), 0));
    }
}
