//! The embedded [`KvStore`]: one redb table, keys `namespace\0key`, values `expiry(8 bytes LE,
//! 0 = never) ++ utf-8 value`. Expired entries read as absent and are dropped when touched.
//!
//! Writes are durable when `update` returns, committed in groups: each write commits without
//! syncing, then waits for one flusher thread's durable commit, which covers every write before
//! it. Alone a write costs one fsync, as before; under load one fsync covers all that arrived
//! meanwhile. Unsynced writes (transfer counters) do not wait: the flusher syncs them within a
//! second, or with the next synced write, or when the store closes.

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};

use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};

use super::{Entry, KvStore, StoreError};

const TABLE: TableDefinition<&str, &[u8]> = TableDefinition::new("kv");

pub struct RedbStore {
    db: Arc<Database>,
    group: Arc<GroupCommit>,
    flusher: Option<std::thread::JoinHandle<()>>,
}

/// How far commits and durable commits have got, in commit numbers.
#[derive(Default)]
struct Progress {
    committed: u64,
    durable: u64,
    /// The last durable commit that failed: through which commit number, and why.
    failed: Option<(u64, String)>,
    /// Unsynced commits wait for a durable one.
    unsynced: bool,
    stop: bool,
}

/// How long an unsynced write may wait for its durable commit.
const UNSYNCED_FOR: std::time::Duration = std::time::Duration::from_secs(1);

#[derive(Default)]
struct GroupCommit {
    progress: Mutex<Progress>,
    changed: Condvar,
}

impl GroupCommit {
    fn lock(&self) -> std::sync::MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A non-durable commit just finished: its number, and the flusher told.
    fn committed(&self) -> u64 {
        let mut p = self.lock();
        p.committed += 1;
        self.changed.notify_all();
        p.committed
    }

    /// An unsynced commit just finished: the flusher syncs it within [`UNSYNCED_FOR`].
    fn committed_unsynced(&self) {
        let mut p = self.lock();
        if !p.unsynced {
            p.unsynced = true;
            self.changed.notify_all();
        }
    }

    /// Waits until a durable commit covers commit `n`.
    fn wait_durable(&self, n: u64) -> Result<(), StoreError> {
        let mut p = self.lock();
        while p.durable < n {
            p = self.changed.wait(p).unwrap_or_else(|e| e.into_inner());
        }
        match &p.failed {
            Some((through, why)) if *through >= n && p.durable == *through => {
                Err(StoreError::Backend(format!("state not saved: {why}")))
            }
            _ => Ok(()),
        }
    }

    /// The flusher: a durable (empty) commit whenever commits are waiting, until stopped with
    /// nothing left.
    fn run(&self, db: &Database) {
        loop {
            let target = {
                let mut p = self.lock();
                loop {
                    if p.committed > p.durable || (p.stop && p.unsynced) {
                        break;
                    }
                    if p.stop {
                        return;
                    }
                    if p.unsynced {
                        let (g, waited) = self
                            .changed
                            .wait_timeout(p, UNSYNCED_FOR)
                            .unwrap_or_else(|e| e.into_inner());
                        p = g;
                        if waited.timed_out() {
                            break;
                        }
                    } else {
                        p = self.changed.wait(p).unwrap_or_else(|e| e.into_inner());
                    }
                }
                p.unsynced = false;
                p.committed
            };
            let result = db
                .begin_write()
                .map_err(err)
                .and_then(|tx| tx.commit().map_err(err));
            let mut p = self.lock();
            p.durable = target;
            p.failed = result.err().map(|e| (target, e.to_string()));
            if let Some((_, why)) = &p.failed {
                tracing::error!(error = %why, "cannot save the state store");
            }
            self.changed.notify_all();
        }
    }
}

impl Drop for RedbStore {
    fn drop(&mut self) {
        self.group.lock().stop = true;
        self.group.changed.notify_all();
        if let Some(f) = self.flusher.take() {
            let _ = f.join();
        }
    }
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn full_key(ns: &str, key: &str) -> String {
    format!("{ns}\0{key}")
}

fn encode(value: &str, expires: Option<u64>) -> Vec<u8> {
    let mut v = expires.unwrap_or(0).to_le_bytes().to_vec();
    v.extend_from_slice(value.as_bytes());
    v
}

/// Decodes a stored value; None if expired or malformed.
fn decode(bytes: &[u8], now_ms: u64) -> Option<(String, Option<u64>)> {
    let exp = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
    let expires = (exp != 0).then_some(exp);
    if expires.is_some_and(|e| e <= now_ms) {
        return None;
    }
    Some((String::from_utf8(bytes[8..].to_vec()).ok()?, expires))
}

impl RedbStore {
    pub fn open(path: &Path) -> Result<RedbStore, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        // Bans name addresses and users; plugin state may hold anything: owner only.
        {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            let _ = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(path);
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        }
        let db = Database::create(path)
            .map_err(|e| StoreError::Backend(format!("{}: {e}", path.display())))?;
        let tx = db.begin_write().map_err(err)?;
        tx.open_table(TABLE).map_err(err)?;
        tx.commit().map_err(err)?;
        let db = Arc::new(db);
        let group = Arc::new(GroupCommit::default());
        let flusher = {
            let (db, group) = (db.clone(), group.clone());
            std::thread::Builder::new()
                .name("ftpsd-state-sync".into())
                .spawn(move || group.run(&db))
                .map_err(err)?
        };
        Ok(RedbStore {
            db,
            group,
            flusher: Some(flusher),
        })
    }
}

impl RedbStore {
    /// One read-modify-write of `key`; with `synced`, on disk when it returns.
    fn write(
        &self,
        ns: &str,
        key: &str,
        now_ms: u64,
        f: &mut dyn FnMut(Option<Entry>) -> Result<Option<Entry>, StoreError>,
        synced: bool,
    ) -> Result<(), StoreError> {
        let k = full_key(ns, key);
        let mut tx = self.db.begin_write().map_err(err)?;
        tx.set_durability(Durability::None).map_err(err)?;
        {
            let mut table = tx.open_table(TABLE).map_err(err)?;
            let current = table
                .get(k.as_str())
                .map_err(err)?
                .and_then(|v| decode(v.value(), now_ms));
            match f(current)? {
                Some((value, expires)) => {
                    table
                        .insert(k.as_str(), encode(&value, expires).as_slice())
                        .map_err(err)?;
                }
                None => {
                    table.remove(k.as_str()).map_err(err)?;
                }
            }
        }
        tx.commit().map_err(err)?;
        if !synced {
            self.group.committed_unsynced();
            return Ok(());
        }
        let n = self.group.committed();
        self.group.wait_durable(n)
    }
}

impl KvStore for RedbStore {
    fn get(&self, ns: &str, key: &str, now_ms: u64) -> Result<Option<String>, StoreError> {
        let tx = self.db.begin_read().map_err(err)?;
        let table = tx.open_table(TABLE).map_err(err)?;
        Ok(table
            .get(full_key(ns, key).as_str())
            .map_err(err)?
            .and_then(|v| decode(v.value(), now_ms))
            .map(|(v, _)| v))
    }

    fn update(
        &self,
        ns: &str,
        key: &str,
        now_ms: u64,
        f: &mut dyn FnMut(Option<Entry>) -> Result<Option<Entry>, StoreError>,
    ) -> Result<(), StoreError> {
        self.write(ns, key, now_ms, f, true)
    }

    fn update_unsynced(
        &self,
        ns: &str,
        key: &str,
        now_ms: u64,
        f: &mut dyn FnMut(Option<Entry>) -> Result<Option<Entry>, StoreError>,
    ) -> Result<(), StoreError> {
        self.write(ns, key, now_ms, f, false)
    }

    fn list(&self, ns: &str, now_ms: u64) -> Result<Vec<(String, String)>, StoreError> {
        let tx = self.db.begin_read().map_err(err)?;
        let table = tx.open_table(TABLE).map_err(err)?;
        let prefix = format!("{ns}\0");
        let mut out = Vec::new();
        for item in table.range(prefix.as_str()..).map_err(err)? {
            let (k, v) = item.map_err(err)?;
            let Some(key) = k.value().strip_prefix(&prefix) else {
                break;
            };
            if let Some((value, _)) = decode(v.value(), now_ms) {
                out.push((key.to_string(), value));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A write confirmed by `update` is on disk: a process killed right after it (no drop, no
    /// last flush) loses nothing. The child is this test binary, run again for this test.
    #[test]
    fn a_confirmed_write_survives_a_crash() {
        const CHILD: &str = "FTPSD_REDB_CRASH_CHILD";
        if let Ok(path) = std::env::var(CHILD) {
            let s = RedbStore::open(Path::new(&path)).unwrap();
            s.incr_unsynced("c", "before", 5, 0).unwrap();
            for i in 0..20 {
                s.set("a", &format!("k{i}"), "kept", None).unwrap();
            }
            std::process::abort();
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "state::redb_store::tests::a_confirmed_write_survives_a_crash",
            ])
            .env(CHILD, &path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(!status.success(), "the child aborted");
        let s = RedbStore::open(&path).unwrap();
        for i in 0..20 {
            assert_eq!(
                s.get("a", &format!("k{i}"), 0).unwrap().as_deref(),
                Some("kept"),
                "k{i}"
            );
        }
        // An unsynced write is made durable by the next synced one.
        assert_eq!(s.get("c", "before", 0).unwrap().as_deref(), Some("5"));
    }

    /// Unsynced writes are seen at once, and are on disk once the store is closed.
    #[test]
    fn unsynced_writes_are_read_at_once_and_kept_at_close() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        {
            let s = RedbStore::open(&path).unwrap();
            assert_eq!(s.incr_unsynced("c", "n", 2, 0).unwrap(), 2);
            assert_eq!(s.incr_unsynced("c", "n", 3, 0).unwrap(), 5);
            assert_eq!(s.get("c", "n", 0).unwrap().as_deref(), Some("5"));
        }
        let s = RedbStore::open(&path).unwrap();
        assert_eq!(s.get("c", "n", 0).unwrap().as_deref(), Some("5"));
    }

    /// Many writers at once: each sees its own write, and a reopen sees them all.
    #[test]
    fn concurrent_writers_share_durable_commits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        {
            let s = Arc::new(RedbStore::open(&path).unwrap());
            let threads: Vec<_> = (0..8)
                .map(|t| {
                    let s = s.clone();
                    std::thread::spawn(move || {
                        for i in 0..50 {
                            s.incr("n", "count", 1, None, 0).unwrap();
                            s.set("t", &format!("{t}-{i}"), "x", None).unwrap();
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
        }
        let s = RedbStore::open(&path).unwrap();
        assert_eq!(s.get("n", "count", 0).unwrap().as_deref(), Some("400"));
        assert_eq!(s.list("t", 0).unwrap().len(), 400);
    }

    #[test]
    fn survives_reopen() {
        let dir = std::env::temp_dir().join(format!("ftpsd-redb-{}", std::process::id()));
        let path = dir.join("state.redb");
        {
            let s = RedbStore::open(&path).unwrap();
            crate::state::conformance::exercise(&s);
        }
        let s = RedbStore::open(&path).unwrap();
        assert_eq!(
            s.get("a", "n", 0).unwrap().as_deref(),
            Some("3"),
            "survives reopen"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
