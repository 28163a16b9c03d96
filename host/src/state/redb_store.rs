//! The embedded [`KvStore`]: one redb table, keys `namespace\0key`, values `expiry(8 bytes LE,
//! 0 = never) ++ utf-8 value`. Expired entries read as absent and are dropped when touched.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::{KvStore, StoreError};

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
        let db = Database::create(path)
            .map_err(|e| StoreError::Backend(format!("{}: {e}", path.display())))?;
        let tx = db.begin_write().map_err(err)?;
        tx.open_table(TABLE).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(RedbStore { db })
    }

    /// Runs `f` on the current live value inside one write transaction and stores its result.
    fn update<T>(
        &self,
        ns: &str,
        key: &str,
        now_ms: u64,
        f: impl FnOnce(Option<(String, Option<u64>)>) -> Result<(Option<Vec<u8>>, T), StoreError>,
    ) -> Result<T, StoreError> {
        let k = full_key(ns, key);
        let tx = self.db.begin_write().map_err(err)?;
        let out = {
            let mut table = tx.open_table(TABLE).map_err(err)?;
            let current = table
                .get(k.as_str())
                .map_err(err)?
                .and_then(|v| decode(v.value(), now_ms));
            let (new, out) = f(current)?;
            match new {
                Some(bytes) => {
                    table.insert(k.as_str(), bytes.as_slice()).map_err(err)?;
                }
                None => {
                    table.remove(k.as_str()).map_err(err)?;
                }
            }
            out
        };
        tx.commit().map_err(err)?;
        Ok(out)
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

    fn set(
        &self,
        ns: &str,
        key: &str,
        value: &str,
        expires: Option<u64>,
    ) -> Result<(), StoreError> {
        self.update(ns, key, 0, |_| Ok((Some(encode(value, expires)), ())))
    }

    fn delete(&self, ns: &str, key: &str) -> Result<(), StoreError> {
        self.update(ns, key, 0, |_| Ok((None, ())))
    }

    fn cas(
        &self,
        ns: &str,
        key: &str,
        expected: Option<&str>,
        new: Option<&str>,
        expires: Option<u64>,
        now_ms: u64,
    ) -> Result<bool, StoreError> {
        self.update(ns, key, now_ms, |cur| {
            let cur_value = cur.as_ref().map(|(v, _)| v.as_str());
            if cur_value != expected {
                let keep = cur.map(|(v, e)| encode(&v, e));
                return Ok((keep, false));
            }
            Ok((new.map(|v| encode(v, expires)), true))
        })
    }

    fn incr(
        &self,
        ns: &str,
        key: &str,
        delta: i64,
        expires: Option<u64>,
        now_ms: u64,
    ) -> Result<i64, StoreError> {
        self.update(ns, key, now_ms, |cur| {
            let (n, old_exp) = match cur {
                Some((v, e)) => (
                    v.parse::<i64>()
                        .map_err(|_| StoreError::NotANumber(key.into()))?,
                    e,
                ),
                None => (0, None),
            };
            let n = n.saturating_add(delta);
            Ok((Some(encode(&n.to_string(), expires.or(old_exp))), n))
        })
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
    fn ttl_cas_incr_and_persistence() {
        let dir = std::env::temp_dir().join(format!("ftpsd-redb-{}", std::process::id()));
        let path = dir.join("state.redb");
        {
            let s = RedbStore::open(&path).unwrap();
            s.set("a", "k", "v", Some(1000)).unwrap();
            assert_eq!(s.get("a", "k", 999).unwrap().as_deref(), Some("v"));
            assert_eq!(s.get("a", "k", 1000).unwrap(), None, "expired");
            assert_eq!(s.get("b", "k", 0).unwrap(), None, "namespaces are separate");
            assert!(s.cas("a", "c", None, Some("1"), None, 0).unwrap());
            assert!(!s.cas("a", "c", None, Some("2"), None, 0).unwrap());
            assert!(s.cas("a", "c", Some("1"), None, None, 0).unwrap());
            assert_eq!(s.get("a", "c", 0).unwrap(), None);
            assert_eq!(s.incr("a", "n", 5, None, 0).unwrap(), 5);
            assert_eq!(s.incr("a", "n", -2, None, 0).unwrap(), 3);
            s.set("a", "s", "x", None).unwrap();
            assert!(matches!(
                s.incr("a", "s", 1, None, 0),
                Err(StoreError::NotANumber(_))
            ));
            s.set("bans", "10.0.0.1", "until", None).unwrap();
            s.set("bans2", "z", "z", None).unwrap();
            assert_eq!(
                s.list("bans", 0).unwrap(),
                vec![("10.0.0.1".to_string(), "until".to_string())]
            );
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
