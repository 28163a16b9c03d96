//! What the nodes of a cluster tell one another through the shared state store (see README,
//! "Running several nodes"): each node's session list ([`board`]), orders to end a session
//! on another node ([`kicks`]) and the users file when it is shared ([`users_doc`]). Nothing
//! here talks to a session or a file: `cluster_sync` applies what the store says.

pub mod board;
pub mod kicks;
pub mod users_doc;

use crate::state::{SharedStore, StoreError};

/// This node as the others see it.
pub struct Node {
    pub store: SharedStore,
    /// Unique to this process: a restarted node is a new node (its old entries lapse).
    pub id: String,
    /// What operators call it (`[state] node`, default host name and process id).
    pub name: String,
    /// SHA-256 of the users file text in force here, once this node is in step with the
    /// cluster's users file (None before: a reload then publishes nothing).
    pub users_in_force: std::sync::Mutex<Option<String>>,
    /// A change of this node's users file could not be published (the store was down): the
    /// next poll publishes it.
    pub users_unpublished: std::sync::atomic::AtomicBool,
    /// The cluster's users file version this node's file derives from, and its text: a change
    /// made here on an older version is merged into the newer one, not published over it.
    pub users_base: std::sync::Mutex<Option<(u64, String)>>,
}

/// Runs a store call off the async runtime (the store's calls block, up to its timeout).
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(StoreError::Backend(e.to_string())))
}

/// A name an operator can type and a listing can show.
pub fn valid_node_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
}

/// The host name and the process id: distinct for nodes sharing a machine.
pub fn default_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| {
            h.trim()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'))
                .take(48)
                .collect::<String>()
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".into());
    format!("{host}-{}", std::process::id())
}

impl Node {
    pub fn new(store: SharedStore, name: Option<&str>) -> Node {
        Node {
            store,
            id: format!(
                "{}-{}-{:x}",
                std::process::id(),
                crate::state::now_ms(),
                rand::random::<u32>()
            ),
            name: name.map(str::to_string).unwrap_or_else(default_name),
            users_in_force: std::sync::Mutex::new(None),
            users_unpublished: Default::default(),
            users_base: std::sync::Mutex::new(None),
        }
    }
}

/// Why an operation on another node did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("no node '{name}' in the cluster (nodes: {known})")]
    NoNode { name: String, known: String },
    #[error("no session {id} on node '{node}'")]
    NoSession { id: u64, node: String },
    #[error("node '{node}' did not answer within {secs} s; the order stays queued for a minute")]
    NoAnswer { node: String, secs: u64 },
}

impl ClusterError {
    /// The HTTP status of the admin API's answer.
    pub fn status(&self) -> u16 {
        match self {
            ClusterError::Store(StoreError::Refused(_)) => 429,
            ClusterError::Store(_) => 503,
            ClusterError::NoNode { .. } | ClusterError::NoSession { .. } => 404,
            ClusterError::NoAnswer { .. } => 504,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn node_names() {
        assert!(super::valid_node_name("ftp-1.example:21"));
        assert!(!super::valid_node_name(""));
        assert!(!super::valid_node_name("a b"));
        assert!(!super::valid_node_name(&"x".repeat(65)));
        assert!(super::valid_node_name(&super::default_name()));
    }
}
