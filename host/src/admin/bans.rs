//! Bans as the operator sees them: every plugin's `ban:` keys (the SDK's ban convention), and
//! lifting them together with the failure history behind them.

use ftpsd_plugin_sdk::bans::{BanRecord, is_state_of};
use serde::{Deserialize, Serialize};

use crate::state::{KvStore, StoreError};

/// One active ban.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ban {
    pub plugin: String,
    pub subject: String,
    /// None if the plugin stored something that does not follow the convention.
    pub record: Option<BanRecord>,
}

fn namespace(plugin: &str) -> String {
    format!("plugin.{plugin}")
}

/// Active bans of the named plugins, soonest-ending first.
pub fn list(store: &dyn KvStore, plugins: &[String], now_ms: u64) -> Result<Vec<Ban>, StoreError> {
    let mut bans = Vec::new();
    for p in plugins {
        for (key, value) in store.list(&namespace(p), now_ms)? {
            if let Some(subject) = key.strip_prefix("ban:") {
                bans.push(Ban {
                    plugin: p.clone(),
                    subject: subject.to_string(),
                    record: serde_json::from_str(&value).ok(),
                });
            }
        }
    }
    bans.sort_by_key(|b| b.record.as_ref().map(|r| r.until_ms).unwrap_or(u64::MAX));
    Ok(bans)
}

/// Lifts the bans of `ip` (all bans when None) and forgets the failures behind them.
/// Returns how many bans were lifted.
pub fn lift(
    store: &dyn KvStore,
    plugins: &[String],
    ip: Option<&str>,
    now_ms: u64,
) -> Result<usize, StoreError> {
    let mut lifted = 0;
    for p in plugins {
        let ns = namespace(p);
        for (key, _) in store.list(&ns, now_ms)? {
            if is_state_of(&key, ip) {
                if key.starts_with("ban:") {
                    lifted += 1;
                }
                store.delete(&ns, &key)?;
            }
        }
    }
    Ok(lifted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::MemoryStore;

    #[test]
    fn lists_and_lifts_per_ip_or_all() {
        let s = MemoryStore::default();
        let rec = |ip: &str, until| {
            serde_json::to_string(&BanRecord {
                ip: ip.into(),
                user: None,
                since_ms: 0,
                until_ms: until,
                failures: 3,
                strikes: 0,
            })
            .unwrap()
        };
        s.set(
            "plugin.bfp",
            "ban:10.0.0.1",
            &rec("10.0.0.1", 500),
            Some(500),
        )
        .unwrap();
        s.set("plugin.bfp", "fail:10.0.0.1", "3", None).unwrap();
        s.set(
            "plugin.bfp",
            "ban:10.0.0.12",
            &rec("10.0.0.12", 400),
            Some(400),
        )
        .unwrap();
        s.set("plugin.bfp", "ban:10.0.0.2", "not json", Some(50))
            .unwrap();
        s.set("plugin.bfp", "calls", "9", None).unwrap();
        let plugins = vec!["bfp".to_string(), "other".to_string()];
        let bans = list(&s, &plugins, 10).unwrap();
        assert_eq!(
            bans.iter().map(|b| b.subject.as_str()).collect::<Vec<_>>(),
            ["10.0.0.12", "10.0.0.1", "10.0.0.2"]
        );
        assert!(bans[2].record.is_none());
        // Expired bans are not listed.
        assert_eq!(list(&s, &plugins, 450).unwrap().len(), 1);

        assert_eq!(lift(&s, &plugins, Some("10.0.0.1"), 10).unwrap(), 1);
        assert_eq!(s.get("plugin.bfp", "fail:10.0.0.1", 10).unwrap(), None);
        assert!(s.get("plugin.bfp", "ban:10.0.0.12", 10).unwrap().is_some());
        assert_eq!(lift(&s, &plugins, None, 10).unwrap(), 2);
        assert!(list(&s, &plugins, 10).unwrap().is_empty());
        assert_eq!(
            s.get("plugin.bfp", "calls", 10).unwrap().as_deref(),
            Some("9")
        );
    }
}
