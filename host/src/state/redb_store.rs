//! The embedded [`KvStore`]: one redb table, keys `namespace\0key`, values `expiry(8 bytes LE,
//! 0 = never) ++ utf-8 value`. Expired entries read as absent and are dropped when touched.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::{Entry, KvStore, StoreError};

const TABLE: TableDefinition<&str, &[u8]> = TableDefinition::new("kv");

pub struct RedbStore {
    db: Database,
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
        Ok(RedbStore { db })
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
        let k = full_key(ns, key);
        let tx = self.db.begin_write().map_err(err)?;
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
        tx.commit().map_err(err)
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
