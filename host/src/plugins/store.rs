//! What a plugin instance's wasmtime `Store` carries: its limits, its slice of the state store,
//! and the budget of the call in progress. Below `instance`, `wasi` and `host_calls`, which
//! all use it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use wasmtime::StoreLimits;

use super::budget::CallBudget;
use crate::state::SharedStore;

pub struct StoreData {
    pub(super) limits: StoreLimits,
    pub(super) kv: SharedStore,
    pub(super) namespace: String,
    pub(super) plugin: String,
    /// Captured stdout/stderr of the current call.
    pub(super) output: Vec<u8>,
    /// What the current call may still spend.
    pub(super) budget: CallBudget,
    pub(super) usage: Arc<StateUsage>,
    /// The `http` capability, when granted.
    pub(super) http: Option<Arc<super::http::PluginHttp>>,
    /// Whether the call in progress is a gate, which may wait for an HTTP answer.
    pub(super) may_wait: bool,
    /// The metrics this plugin version defines.
    pub(super) metrics: Arc<super::plugin_metrics::PluginMetrics>,
    /// Whether the state store failed (unreachable Redis) during the current call: the call's
    /// failure is then the store's, not a fault of the plugin or of its client.
    pub(super) store_down: Option<String>,
}

/// Bytes (keys and values) a plugin keeps in the state store, against its quota. Counted as
/// writes happen and recounted from the store every minute, so expired entries stop counting.
pub struct StateUsage {
    used: AtomicU64,
    pub limit: u64,
    counted: std::sync::Mutex<Option<Instant>>,
}

const RECOUNT: Duration = Duration::from_secs(60);

impl StateUsage {
    pub fn new(limit: u64) -> StateUsage {
        StateUsage {
            used: AtomicU64::new(0),
            limit,
            counted: std::sync::Mutex::new(None),
        }
    }

    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Recounts from the store when the last count is older than a minute (or never was).
    pub fn refresh(&self, kv: &SharedStore, namespace: &str) {
        let mut counted = self.counted.lock().unwrap_or_else(|e| e.into_inner());
        if counted.is_some_and(|t| t.elapsed() < RECOUNT) {
            return;
        }
        if let Ok(entries) = kv.list(namespace, crate::state::now_ms()) {
            let total: u64 = entries
                .iter()
                .map(|(k, v)| (k.len() + v.len()) as u64)
                .sum();
            self.used.store(total, Ordering::Relaxed);
        }
        *counted = Some(Instant::now());
    }

    /// Applies a change of `delta` bytes; refuses growth past the limit.
    pub fn change(&self, delta: i64) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                if delta <= 0 {
                    return Some(u.saturating_sub(delta.unsigned_abs()));
                }
                let next = u.saturating_add(delta as u64);
                (next <= self.limit).then_some(next)
            })
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_stops_at_the_limit_and_shrinking_always_works() {
        let u = StateUsage::new(100);
        assert!(u.change(60));
        assert!(!u.change(41));
        assert!(u.change(40));
        assert!(u.change(-500));
        assert_eq!(u.used(), 0);
    }
}
