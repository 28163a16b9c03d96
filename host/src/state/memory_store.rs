//! An in-memory [`KvStore`] (for `ftpsd plugin check` and tests): same semantics, no file.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::{KvStore, StoreError};

#[derive(Default)]
pub struct MemoryStore {
    map: Mutex<BTreeMap<(String, String), (String, Option<u64>)>>,
}

impl MemoryStore {
    fn live(
        map: &BTreeMap<(String, String), (String, Option<u64>)>,
        ns: &str,
        key: &str,
        now: u64,
    ) -> Option<(String, Option<u64>)> {
        map.get(&(ns.to_string(), key.to_string()))
            .filter(|(_, e)| e.is_none_or(|e| e > now))
            .cloned()
    }
}

impl KvStore for MemoryStore {
    fn get(&self, ns: &str, key: &str, now_ms: u64) -> Result<Option<String>, StoreError> {
        Ok(Self::live(
            &self.map.lock().unwrap_or_else(|e| e.into_inner()),
            ns,
            key,
            now_ms,
        )
        .map(|(v, _)| v))
    }
    fn set(
        &self,
        ns: &str,
        key: &str,
        value: &str,
        expires: Option<u64>,
    ) -> Result<(), StoreError> {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((ns.into(), key.into()), (value.into(), expires));
        Ok(())
    }
    fn delete(&self, ns: &str, key: &str) -> Result<(), StoreError> {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(ns.to_string(), key.to_string()));
        Ok(())
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
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if Self::live(&map, ns, key, now_ms).map(|(v, _)| v).as_deref() != expected {
            return Ok(false);
        }
        let k = (ns.to_string(), key.to_string());
        match new {
            Some(v) => map.insert(k, (v.into(), expires)),
            None => map.remove(&k),
        };
        Ok(true)
    }
    fn incr(
        &self,
        ns: &str,
        key: &str,
        delta: i64,
        expires: Option<u64>,
        now_ms: u64,
    ) -> Result<i64, StoreError> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let (n, old) = match Self::live(&map, ns, key, now_ms) {
            Some((v, e)) => (
                v.parse::<i64>()
                    .map_err(|_| StoreError::NotANumber(key.into()))?,
                e,
            ),
            None => (0, None),
        };
        let n = n.saturating_add(delta);
        map.insert((ns.into(), key.into()), (n.to_string(), expires.or(old)));
        Ok(n)
    }
    fn list(&self, ns: &str, now_ms: u64) -> Result<Vec<(String, String)>, StoreError> {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        Ok(map
            .iter()
            .filter(|((n, _), (_, e))| n == ns && e.is_none_or(|e| e > now_ms))
            .map(|((_, k), (v, _))| (k.clone(), v.clone()))
            .collect())
    }
}
