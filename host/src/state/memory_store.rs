//! An in-memory [`KvStore`] (for `ftpsd plugin check`, benchmarks and tests): same semantics,
//! no file.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::{Entry, KvStore, StoreError};

#[derive(Default)]
pub struct MemoryStore {
    map: Mutex<BTreeMap<(String, String), Entry>>,
}

fn live(e: &Entry, now_ms: u64) -> bool {
    e.1.is_none_or(|exp| exp > now_ms)
}

impl KvStore for MemoryStore {
    fn get(&self, ns: &str, key: &str, now_ms: u64) -> Result<Option<String>, StoreError> {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        Ok(map
            .get(&(ns.to_string(), key.to_string()))
            .filter(|e| live(e, now_ms))
            .map(|(v, _)| v.clone()))
    }

    fn list(&self, ns: &str, now_ms: u64) -> Result<Vec<(String, String)>, StoreError> {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        Ok(map
            .iter()
            .filter(|((n, _), e)| n == ns && live(e, now_ms))
            .map(|((_, k), (v, _))| (k.clone(), v.clone()))
            .collect())
    }

    fn update(
        &self,
        ns: &str,
        key: &str,
        now_ms: u64,
        f: &mut dyn FnMut(Option<Entry>) -> Result<Option<Entry>, StoreError>,
    ) -> Result<(), StoreError> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let k = (ns.to_string(), key.to_string());
        let current = map.get(&k).filter(|e| live(e, now_ms)).cloned();
        match f(current)? {
            Some(e) => map.insert(k, e),
            None => map.remove(&k),
        };
        Ok(())
    }
}
