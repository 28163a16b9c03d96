//! `[state]`: where bans, counters and plugin state live: the embedded redb file (one node),
//! or a Redis that several nodes share.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::{RedbStore, RedisStore, SharedStore, StoreError};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StateSection {
    /// `redb` (the embedded file `<data_dir>/state/kv.redb`) or a `redis://` URL.
    pub backend: String,
    /// Names this cluster's keys (`ftpsd:<cluster>:...`): clusters may share one Redis.
    pub cluster: String,
    /// Connect and I/O timeout of each Redis call, in milliseconds.
    pub timeout_ms: u64,
    /// This node's name in the cluster's session list and in `ftpsd admin kick --node`
    /// (default: the host name and the process id).
    pub node: Option<String>,
    /// Whether the users file is the cluster's: a change on any node is published through
    /// the store and every node writes it to its own users file and reloads.
    pub share_users: bool,
}

impl Default for StateSection {
    fn default() -> Self {
        StateSection {
            backend: "redb".into(),
            cluster: "default".into(),
            timeout_ms: 1000,
            node: None,
            share_users: false,
        }
    }
}

/// `url` with its password replaced by `***` (for messages and logs).
pub fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let auth = &url[scheme + 3..at];
            match auth.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl StateSection {
    pub fn is_shared(&self) -> bool {
        self.backend.starts_with("redis://")
    }

    /// A configuration mistake: the key and what to do (checked at config load).
    pub fn problem(&self) -> Option<(&'static str, String)> {
        if self.backend.starts_with("rediss://") {
            return Some((
                "backend",
                "state.backend: rediss:// (Redis over TLS) is not built in; use redis:// on a private network or through a TLS tunnel (stunnel, spiped)".into(),
            ));
        }
        if self.is_shared()
            && let Err(e) = redis::Client::open(self.backend.as_str())
        {
            return Some((
                "backend",
                format!(
                    "state.backend = \"{}\" is not a Redis URL ({e}); write redis://[:password@]host:port/db",
                    redacted(&self.backend)
                ),
            ));
        }
        if self.backend != "redb" && !self.is_shared() {
            return Some((
                "backend",
                format!(
                    "state.backend = \"{}\": use \"redb\" or a redis://host:port/db URL",
                    redacted(&self.backend)
                ),
            ));
        }
        if self.cluster.is_empty()
            || !self
                .cluster
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Some((
                "cluster",
                format!(
                    "state.cluster = \"{}\": use letters, digits, '-', '_' and '.'",
                    self.cluster
                ),
            ));
        }
        if self.timeout_ms == 0 || self.timeout_ms > 60_000 {
            return Some((
                "timeout_ms",
                "state.timeout_ms must be from 1 to 60000".into(),
            ));
        }
        if let Some(node) = &self.node
            && !crate::cluster::valid_node_name(node)
        {
            return Some((
                "node",
                format!(
                    "state.node = \"{node}\": use 1 to 64 letters, digits, '-', '_', '.' and ':'"
                ),
            ));
        }
        if self.share_users && !self.is_shared() {
            return Some((
                "share_users",
                "state.share_users needs a shared backend (state.backend = \"redis://...\"); one node's users file is already its own".into(),
            ));
        }
        None
    }

    /// Opens the store this section names (`data_dir` holds the embedded one).
    pub fn open(&self, data_dir: &Path) -> Result<SharedStore, StoreError> {
        if self.is_shared() {
            let timeout = Duration::from_millis(self.timeout_ms);
            return Ok(Arc::new(RedisStore::open(
                &self.backend,
                &self.cluster,
                timeout,
            )?));
        }
        Ok(Arc::new(RedbStore::open(&data_dir.join("state/kv.redb"))?))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            super::redacted("redis://:s3cret@10.0.0.9:6379/0"),
            "redis://:***@10.0.0.9:6379/0"
        );
        assert_eq!(
            super::redacted("redis://app:s3cret@h/0"),
            "redis://app:***@h/0"
        );
        assert_eq!(super::redacted("redis://h:1/0"), "redis://h:1/0");
    }
}
