//! Each node's session list, published in the store so any node can show the whole cluster's
//! sessions (`ftpsd admin sessions`, the web page). A board lives [`TTL`] without a refresh,
//! so a node that died drops out of the listing by itself.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Node;
use crate::access::sessions::SessionView;
use crate::state::StoreError;

pub const NS: &str = "ftpsd.nodes";
/// How long a board outlives its last refresh.
pub const TTL: Duration = Duration::from_secs(15);
/// Sessions a board carries at most (a listing is for people; the count is exact).
pub const MAX_SESSIONS: usize = 5_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Board {
    pub name: String,
    pub at_ms: u64,
    /// Sessions in force on the node when published.
    pub count: usize,
    pub sessions: Vec<SessionView>,
}

/// Publishes this node's sessions.
pub fn publish(node: &Node, mut sessions: Vec<SessionView>) -> Result<(), StoreError> {
    let now = crate::state::now_ms();
    let count = sessions.len();
    sessions.truncate(MAX_SESSIONS);
    let board = Board {
        name: node.name.clone(),
        at_ms: now,
        count,
        sessions,
    };
    let value = serde_json::to_string(&board).map_err(|e| StoreError::Backend(e.to_string()))?;
    node.store
        .set(NS, &node.id, &value, Some(now + TTL.as_millis() as u64))
}

/// Takes this node off the listing (at shutdown).
pub fn withdraw(node: &Node) -> Result<(), StoreError> {
    node.store.delete(NS, &node.id)
}

/// Removes another node's board (an earlier run of this node, found at start).
pub fn remove(node: &Node, id: &str) -> Result<(), StoreError> {
    node.store.delete(NS, id)
}

/// The other live nodes' boards, by node id.
pub fn others(node: &Node) -> Result<Vec<(String, Board)>, StoreError> {
    let now = crate::state::now_ms();
    let mut out: Vec<(String, Board)> = node
        .store
        .list(NS, now)?
        .into_iter()
        .filter(|(id, _)| *id != node.id)
        .filter_map(|(id, v)| serde_json::from_str::<Board>(&v).ok().map(|b| (id, b)))
        .collect();
    out.sort_by(|a, b| a.1.name.cmp(&b.1.name));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(id: u64) -> SessionView {
        SessionView {
            id,
            node: None,
            user: "bob".into(),
            ip: "10.0.0.1".into(),
            since_ms: 1,
            tls: true,
            command: "LIST".into(),
            transfer: None,
        }
    }

    #[test]
    fn a_node_sees_the_others_boards_not_its_own() {
        let store: crate::state::SharedStore =
            std::sync::Arc::new(crate::state::MemoryStore::default());
        let a = Node::new(store.clone(), Some("a"));
        let b = Node::new(store.clone(), Some("b"));
        publish(&a, vec![view(1), view(2)]).unwrap();
        publish(&b, vec![view(1)]).unwrap();
        let seen = others(&a).unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!((seen[0].1.name.as_str(), seen[0].1.count), ("b", 1));
        withdraw(&b).unwrap();
        assert!(others(&a).unwrap().is_empty());
        assert_eq!(others(&b).unwrap()[0].1.sessions.len(), 2);
    }
}
