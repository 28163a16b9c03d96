//! Persistent state: a key-value store with TTL, compare-and-swap and increment, namespaced per
//! plugin, plus the per-user transfer counters for ratio-check. Behind a small trait so that
//! several nodes can share bans and counters.
//!
//! The embedded backend is redb: pure Rust (no C toolchain), ACID with copy-on-write B-trees,
//! one file in the data directory; bans and counters survive hot swap and restart. The shared
//! backend is Redis (`[state] backend = "redis://..."`), for nodes behind a load balancer.

pub mod conformance;
pub mod memory_store;
pub mod redb_store;
pub mod redis_store;
pub mod section;

use std::sync::Arc;

pub use memory_store::MemoryStore;
pub use redb_store::RedbStore;
pub use redis_store::RedisStore;
pub use section::StateSection;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state store: {0}")]
    Backend(String),
    #[error("value of '{0}' is not an integer")]
    NotANumber(String),
    #[error("state quota: {0}")]
    Quota(String),
    /// The store answered; the operation's own rule refused (a full queue, a value too big).
    #[error("{0}")]
    Refused(String),
}

/// A live entry: the value and its expiry (Unix ms; None = never).
pub type Entry = (String, Option<u64>);

/// A namespaced key-value store. Times are Unix milliseconds; `expires` None = never.
/// A backend provides `get`, `list` and one atomic read-modify-write, `update`; the operations
/// plugins use are written once on top of it.
pub trait KvStore: Send + Sync {
    fn get(&self, ns: &str, key: &str, now_ms: u64) -> Result<Option<String>, StoreError>;
    /// Live entries of a namespace (for admin listings such as bans).
    fn list(&self, ns: &str, now_ms: u64) -> Result<Vec<(String, String)>, StoreError>;
    /// Atomically replaces the live entry of `key` (None if absent or expired) with what `f`
    /// returns; None deletes.
    fn update(
        &self,
        ns: &str,
        key: &str,
        now_ms: u64,
        f: &mut dyn FnMut(Option<Entry>) -> Result<Option<Entry>, StoreError>,
    ) -> Result<(), StoreError>;

    /// As [`KvStore::update`], for figures that may lose their last second to a crash (the
    /// transfer counters, written at the end of every transfer): a store that syncs each write
    /// to disk may leave this one to a sync within a second. Readers see it at once either way.
    fn update_unsynced(
        &self,
        ns: &str,
        key: &str,
        now_ms: u64,
        f: &mut dyn FnMut(Option<Entry>) -> Result<Option<Entry>, StoreError>,
    ) -> Result<(), StoreError> {
        self.update(ns, key, now_ms, f)
    }

    fn set(
        &self,
        ns: &str,
        key: &str,
        value: &str,
        expires: Option<u64>,
    ) -> Result<(), StoreError> {
        self.update(ns, key, 0, &mut |_| Ok(Some((value.to_string(), expires))))
    }

    fn delete(&self, ns: &str, key: &str) -> Result<(), StoreError> {
        self.update(ns, key, 0, &mut |_| Ok(None))
    }

    /// Sets `new` (None deletes) only if the live value equals `expected`; returns whether it did.
    fn cas(
        &self,
        ns: &str,
        key: &str,
        expected: Option<&str>,
        new: Option<&str>,
        expires: Option<u64>,
        now_ms: u64,
    ) -> Result<bool, StoreError> {
        let mut swapped = false;
        self.update(ns, key, now_ms, &mut |cur| {
            // A shared backend may call this again after contention: decide afresh each time.
            swapped = cur.as_ref().map(|(v, _)| v.as_str()) == expected;
            if !swapped {
                return Ok(cur);
            }
            Ok(new.map(|v| (v.to_string(), expires)))
        })?;
        Ok(swapped)
    }

    /// Adds `delta` to an integer (absent = 0); keeps the old expiry unless `expires` is given.
    fn incr(
        &self,
        ns: &str,
        key: &str,
        delta: i64,
        expires: Option<u64>,
        now_ms: u64,
    ) -> Result<i64, StoreError> {
        let mut result = 0;
        self.update(ns, key, now_ms, &mut |cur| {
            added(cur, key, delta, expires, &mut result)
        })?;
        Ok(result)
    }

    /// [`KvStore::incr`] through [`KvStore::update_unsynced`].
    fn incr_unsynced(
        &self,
        ns: &str,
        key: &str,
        delta: i64,
        now_ms: u64,
    ) -> Result<i64, StoreError> {
        let mut result = 0;
        self.update_unsynced(ns, key, now_ms, &mut |cur| {
            added(cur, key, delta, None, &mut result)
        })?;
        Ok(result)
    }
}

/// The entry after adding `delta` to `cur` (absent = 0), its new value in `result`.
fn added(
    cur: Option<Entry>,
    key: &str,
    delta: i64,
    expires: Option<u64>,
    result: &mut i64,
) -> Result<Option<Entry>, StoreError> {
    let (n, old) = match cur {
        Some((v, e)) => (
            v.parse::<i64>()
                .map_err(|_| StoreError::NotANumber(key.into()))?,
            e,
        ),
        None => (0, None),
    };
    *result = n.saturating_add(delta);
    Ok(Some((result.to_string(), expires.or(old))))
}

pub type SharedStore = Arc<dyn KvStore>;

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Namespace of the host's own per-user transfer counters.
pub const COUNTERS_NS: &str = "ftpsd.counters";

/// Counters of completed transfers for a user, as ratio-check sees them. An error (the shared
/// store is down) is an error: a ratio must not be judged on zeros.
pub fn counters(store: &dyn KvStore, user: &str) -> Result<ftpsd_plugin_sdk::Counters, StoreError> {
    let now = now_ms();
    let get = |k: &str| -> Result<u64, StoreError> {
        Ok(store
            .get(
                COUNTERS_NS,
                &format!("{}:{k}", user.to_ascii_lowercase()),
                now,
            )?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    };
    Ok(ftpsd_plugin_sdk::Counters {
        files_up: get("files_up")?,
        files_down: get("files_down")?,
        bytes_up: get("bytes_up")?,
        bytes_down: get("bytes_down")?,
    })
}

/// Takes an upload back out of the counters (a plugin had the host delete or quarantine it),
/// never below zero.
pub fn uncount_upload(store: &dyn KvStore, user: &str, bytes: u64) {
    let now = now_ms();
    let user = user.to_ascii_lowercase();
    for (k, d) in [("files_up", 1i64), ("bytes_up", bytes as i64)] {
        let key = format!("{user}:{k}");
        match store.incr_unsynced(COUNTERS_NS, &key, -d, now) {
            Ok(left) if left < 0 => {
                let _ = store.incr_unsynced(COUNTERS_NS, &key, -left, now);
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "cannot update transfer counters"),
        }
    }
}

/// Records a completed transfer. Unsynced: a crash may lose the last second of counts (the
/// embedded store syncs them within a second), which saves every transfer a disk sync.
pub fn count_transfer(store: &dyn KvStore, user: &str, upload: bool, bytes: u64) {
    let now = now_ms();
    let user = user.to_ascii_lowercase();
    let (files, b) = if upload {
        ("files_up", "bytes_up")
    } else {
        ("files_down", "bytes_down")
    };
    for (k, d) in [(files, 1i64), (b, bytes as i64)] {
        if let Err(e) = store.incr_unsynced(COUNTERS_NS, &format!("{user}:{k}"), d, now) {
            tracing::error!(error = %e, "cannot update transfer counters");
        }
    }
}
