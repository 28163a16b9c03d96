//! A plugin's stored state as the operator sees it (`ftpsd kv`, `/api/kv`): list, read and
//! delete the keys of one plugin's namespace, so an author can see what a rule keeps and an
//! operator can reset it (a counter that went wrong, a test's leftovers) without a restart.

use serde::{Deserialize, Serialize};

use crate::state::{KvStore, StoreError};

/// Most entries one listing returns (a plugin's state is bounded by its quota; this keeps an
/// answer readable and bounded whatever the quota).
pub const MAX_LISTED: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kv", rename_all = "kebab-case")]
pub enum KvRequest {
    /// Live keys (and values) starting with `prefix`, sorted.
    List {
        plugin: String,
        #[serde(default)]
        prefix: String,
    },
    Get {
        plugin: String,
        key: String,
    },
    /// One key, or every key starting with `prefix` (`""`: the plugin's whole state).
    Delete {
        plugin: String,
        target: KvTarget,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KvTarget {
    Key(String),
    Prefix(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvEntry {
    pub key: String,
    pub value: String,
}

#[derive(Debug, thiserror::Error)]
pub enum KvOpError {
    #[error("no plugin '{0}' is configured (known: {1})")]
    UnknownPlugin(String, String),
    #[error("plugin '{plugin}' has no key '{key}'")]
    NoKey { plugin: String, key: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl KvOpError {
    pub fn status(&self) -> u16 {
        match self {
            KvOpError::UnknownPlugin(..) | KvOpError::NoKey { .. } => 404,
            KvOpError::Store(_) => 500,
        }
    }
}

/// What a request answers: entries (list, get) or how many keys went (delete).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvAnswer {
    Entries(Vec<KvEntry>),
    Deleted(usize),
}

pub fn namespace(plugin: &str) -> String {
    format!("plugin.{plugin}")
}

pub fn handle(
    store: &dyn KvStore,
    plugins: &[String],
    req: KvRequest,
    now: u64,
) -> Result<KvAnswer, KvOpError> {
    let plugin = match &req {
        KvRequest::List { plugin, .. }
        | KvRequest::Get { plugin, .. }
        | KvRequest::Delete { plugin, .. } => plugin.clone(),
    };
    if !plugins.contains(&plugin) {
        let known = if plugins.is_empty() {
            "none".to_string()
        } else {
            plugins.join(", ")
        };
        return Err(KvOpError::UnknownPlugin(plugin, known));
    }
    let ns = namespace(&plugin);
    let listed = |prefix: &str, cap: usize| -> Result<Vec<KvEntry>, StoreError> {
        let mut entries: Vec<KvEntry> = store
            .list(&ns, now)?
            .into_iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(key, value)| KvEntry { key, value })
            .collect();
        entries.sort_by(|a, b| a.key.cmp(&b.key));
        entries.truncate(cap);
        Ok(entries)
    };
    match req {
        KvRequest::List { prefix, .. } => Ok(KvAnswer::Entries(listed(&prefix, MAX_LISTED)?)),
        KvRequest::Get { key, .. } => match store.get(&ns, &key, now)? {
            Some(value) => Ok(KvAnswer::Entries(vec![KvEntry { key, value }])),
            None => Err(KvOpError::NoKey { plugin, key }),
        },
        KvRequest::Delete { target, .. } => {
            let keys: Vec<String> = match target {
                KvTarget::Key(key) => {
                    if store.get(&ns, &key, now)?.is_none() {
                        return Err(KvOpError::NoKey { plugin, key });
                    }
                    vec![key]
                }
                // Every matching key, however many: a reset that stops at a cap is no reset.
                KvTarget::Prefix(p) => listed(&p, usize::MAX)?.into_iter().map(|e| e.key).collect(),
            };
            for k in &keys {
                store.delete(&ns, k)?;
            }
            tracing::info!(plugin = %plugin, keys = keys.len(), "plugin state deleted by the operator");
            Ok(KvAnswer::Deleted(keys.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_get_and_delete_one_plugins_keys_only() {
        let s = crate::state::MemoryStore::default();
        s.set("plugin.a", "hour:bob", "3", None).unwrap();
        s.set("plugin.a", "hour:eve", "1", None).unwrap();
        s.set("plugin.a", "other", "x", None).unwrap();
        s.set("plugin.b", "hour:bob", "9", None).unwrap();
        let names = vec!["a".to_string(), "b".to_string()];
        let list = |prefix: &str| {
            handle(
                &s,
                &names,
                KvRequest::List {
                    plugin: "a".into(),
                    prefix: prefix.into(),
                },
                0,
            )
            .unwrap()
        };
        let KvAnswer::Entries(e) = list("hour:") else {
            panic!()
        };
        assert_eq!(
            e.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(),
            ["hour:bob", "hour:eve"]
        );
        let got = handle(
            &s,
            &names,
            KvRequest::Get {
                plugin: "b".into(),
                key: "hour:bob".into(),
            },
            0,
        );
        assert_eq!(
            got.unwrap(),
            KvAnswer::Entries(vec![KvEntry {
                key: "hour:bob".into(),
                value: "9".into()
            }])
        );
        let del = KvRequest::Delete {
            plugin: "a".into(),
            target: KvTarget::Prefix("hour:".into()),
        };
        assert_eq!(handle(&s, &names, del, 0).unwrap(), KvAnswer::Deleted(2));
        let KvAnswer::Entries(e) = list("") else {
            panic!()
        };
        assert_eq!(e.len(), 1, "the rest stays");
        assert_eq!(
            s.get("plugin.b", "hour:bob", 0).unwrap().as_deref(),
            Some("9"),
            "other plugins untouched"
        );
        let missing = KvRequest::Delete {
            plugin: "a".into(),
            target: KvTarget::Key("nope".into()),
        };
        assert_eq!(handle(&s, &names, missing, 0).unwrap_err().status(), 404);
        let unknown = KvRequest::Get {
            plugin: "zz".into(),
            key: "k".into(),
        };
        let e = handle(&s, &names, unknown, 0).unwrap_err();
        assert!(e.to_string().contains("known: a, b"), "{e}");
    }
}
