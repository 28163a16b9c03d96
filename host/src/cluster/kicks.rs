//! Orders to end sessions on another node: a queue per node in the store, which the node takes
//! and answers on its next poll (`cluster_sync`). The queue is bounded and lives a minute, so
//! orders for a node that died do not pile up.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Node;
use crate::state::StoreError;

pub const QUEUE: &str = "ftpsd.kicks";
pub const ANSWERS: &str = "ftpsd.kicked";
/// How long an order or an answer is kept.
pub const KEEP: Duration = Duration::from_secs(60);
/// Orders waiting for one node, at most.
pub const MAX_QUEUED: usize = 256;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KickOrder {
    /// Names the answer.
    pub order: String,
    /// One session, or every session (None).
    pub session: Option<u64>,
    pub reason: String,
}

fn backend(e: serde_json::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Queues an order for the node `target` (its id); returns the order's name.
pub fn send(
    node: &Node,
    target: &str,
    session: Option<u64>,
    reason: &str,
) -> Result<String, StoreError> {
    let now = crate::state::now_ms();
    let order = format!("{}-{:x}", node.id, rand::random::<u64>());
    let new = KickOrder {
        order: order.clone(),
        session,
        reason: reason.to_string(),
    };
    node.store.update(QUEUE, target, now, &mut |cur| {
        let mut queue: Vec<KickOrder> = cur
            .and_then(|(v, _)| serde_json::from_str(&v).ok())
            .unwrap_or_default();
        if queue.len() >= MAX_QUEUED {
            return Err(StoreError::Refused(format!(
                "{MAX_QUEUED} orders already wait for that node"
            )));
        }
        queue.push(new.clone());
        let value = serde_json::to_string(&queue).map_err(backend)?;
        Ok(Some((value, Some(now + KEEP.as_millis() as u64))))
    })?;
    Ok(order)
}

/// Takes every order waiting for this node.
pub fn take(node: &Node) -> Result<Vec<KickOrder>, StoreError> {
    let now = crate::state::now_ms();
    let mut taken = Vec::new();
    node.store.update(QUEUE, &node.id, now, &mut |cur| {
        taken = cur
            .and_then(|(v, _)| serde_json::from_str(&v).ok())
            .unwrap_or_default();
        Ok(None)
    })?;
    Ok(taken)
}

/// Says how many sessions an order ended.
pub fn answer(node: &Node, order: &str, ended: usize) -> Result<(), StoreError> {
    let now = crate::state::now_ms();
    node.store.set(
        ANSWERS,
        order,
        &ended.to_string(),
        Some(now + KEEP.as_millis() as u64),
    )
}

/// The answer to an order, once given.
pub fn answer_of(node: &Node, order: &str) -> Result<Option<usize>, StoreError> {
    let now = crate::state::now_ms();
    Ok(node
        .store
        .get(ANSWERS, order, now)?
        .and_then(|v| v.parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_reach_their_node_once_and_are_answered() {
        let store: crate::state::SharedStore =
            std::sync::Arc::new(crate::state::MemoryStore::default());
        let a = Node::new(store.clone(), Some("a"));
        let b = Node::new(store.clone(), Some("b"));
        let o1 = send(&a, &b.id, Some(7), "bye").unwrap();
        let o2 = send(&a, &b.id, None, "all").unwrap();
        assert!(take(&a).unwrap().is_empty(), "orders go to their node only");
        let got = take(&b).unwrap();
        assert_eq!(
            got.iter()
                .map(|o| (o.order.clone(), o.session))
                .collect::<Vec<_>>(),
            vec![(o1.clone(), Some(7)), (o2, None)]
        );
        assert!(take(&b).unwrap().is_empty(), "taken once");
        assert_eq!(answer_of(&a, &o1).unwrap(), None);
        answer(&b, &o1, 1).unwrap();
        assert_eq!(answer_of(&a, &o1).unwrap(), Some(1));
        for _ in 0..MAX_QUEUED {
            send(&a, &b.id, Some(1), "x").unwrap();
        }
        assert!(
            send(&a, &b.id, Some(1), "x").is_err(),
            "the queue is bounded"
        );
    }
}
