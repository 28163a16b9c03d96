//! Memory given back after a crowd leaves. glibc keeps the heap a burst of sessions grew (each
//! TLS session's buffers are freed, but the pages stay with the process), so a server that once
//! held 10,000 sessions would keep that RSS for good. Every few seconds the connection count is
//! sampled; once it has fallen below half of the most seen since the last trim, free heap
//! pages are returned to the system (`malloc_trim`, on the blocking pool: it walks the heap).

use std::sync::Arc;
use std::time::Duration;

use crate::context::ServerContext;

/// Peaks smaller than this leave too little heap behind to be worth a walk.
const MIN_PEAK: usize = 256;
const SAMPLE: Duration = Duration::from_secs(5);

/// Whether to give memory back now, with `peak` the most connections seen since the last
/// trim and `now` the current count.
pub fn due(peak: usize, now: usize) -> bool {
    peak >= MIN_PEAK && now.saturating_mul(2) < peak
}

/// Samples the connection count for the server's life. It holds the context weakly, so a
/// stopped server is released (its state store, listeners) even while this task still runs.
pub fn spawn(ctx: &Arc<ServerContext>) {
    let ctx = Arc::downgrade(ctx);
    tokio::spawn(async move {
        let mut peak = 0;
        let mut tick = tokio::time::interval(SAMPLE);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(ctx) = ctx.upgrade() else { return };
            if *ctx.shutdown.borrow() {
                return;
            }
            let now = ctx.limits.current();
            drop(ctx);
            peak = peak.max(now);
            if due(peak, now) {
                let _ = tokio::task::spawn_blocking(give_back).await;
                tracing::debug!(peak, now, "free heap memory given back");
                peak = now;
            }
        }
    });
}

fn give_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks and trims the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_once_the_crowd_has_halved() {
        assert!(!due(100, 0), "a small peak is not worth a walk");
        assert!(!due(10_000, 5_000), "half is still there");
        assert!(due(10_000, 4_999));
        assert!(due(256, 0));
        assert!(!due(0, 0));
    }
}
