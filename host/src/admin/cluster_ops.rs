//! The session operations over a whole cluster (shared state store): the listing joins every
//! node's published sessions, a kick for a session on another node is queued for that node
//! and its answer awaited (bounded).

use std::sync::Arc;
use std::time::Duration;

use crate::access::sessions::SessionView;
use crate::cluster::{ClusterError, Node, blocking, board, kicks};
use crate::context::ServerContext;

/// How long a kick waits for the other node's answer (it polls twice a second).
pub const ANSWER_WAIT: Duration = Duration::from_secs(3);

/// Every node's sessions, this node's live and the others' as last published; when the store
/// does not answer, this node's alone (and the log says so).
pub async fn sessions(ctx: &ServerContext, node: &Arc<Node>) -> Vec<SessionView> {
    let mut all = crate::cluster_sync::views(ctx, node);
    let n = node.clone();
    match blocking(move || board::others(&n)).await {
        Ok(boards) => all.extend(boards.into_iter().flat_map(|(_, b)| b.sessions)),
        Err(e) => {
            tracing::warn!(error = %e, "cluster: other nodes' sessions cannot be listed; this node's only")
        }
    }
    all
}

/// The id of the live node named `name`.
async fn node_id(node: &Arc<Node>, name: &str) -> Result<String, ClusterError> {
    let n = node.clone();
    let boards = blocking(move || board::others(&n)).await?;
    // The newest board of that name: a node restarted at once leaves its old one behind for
    // a while (and two nodes sharing a name are logged as a mistake by both).
    if let Some((id, _)) = boards
        .iter()
        .filter(|(_, b)| b.name == name)
        .max_by_key(|(_, b)| b.at_ms)
    {
        return Ok(id.clone());
    }
    let mut known: Vec<String> = boards.into_iter().map(|(_, b)| b.name).collect();
    known.insert(0, node.name.clone());
    Err(ClusterError::NoNode {
        name: name.into(),
        known: known.join(", "),
    })
}

/// Waits for the answer to `order` from node `name`.
async fn answer(node: &Arc<Node>, order: String, name: &str) -> Result<usize, ClusterError> {
    let deadline = tokio::time::Instant::now() + ANSWER_WAIT;
    loop {
        let (n, o) = (node.clone(), order.clone());
        if let Some(ended) = blocking(move || kicks::answer_of(&n, &o)).await? {
            return Ok(ended);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ClusterError::NoAnswer {
                node: name.into(),
                secs: ANSWER_WAIT.as_secs(),
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Ends session `id` on the node named `name` (not this one).
pub async fn kick(node: &Arc<Node>, id: u64, name: &str, reason: &str) -> Result<(), ClusterError> {
    let target = node_id(node, name).await?;
    let (n, r) = (node.clone(), reason.to_string());
    let order = blocking(move || kicks::send(&n, &target, Some(id), &r)).await?;
    match answer(node, order, name).await? {
        0 => Err(ClusterError::NoSession {
            id,
            node: name.into(),
        }),
        _ => Ok(()),
    }
}

/// Ends every session on every other node; returns how many ended, and what went wrong
/// with nodes that did not answer.
pub async fn kick_all_others(node: &Arc<Node>, reason: &str) -> (usize, Vec<ClusterError>) {
    let n = node.clone();
    let boards = match blocking(move || board::others(&n)).await {
        Ok(b) => b,
        Err(e) => return (0, vec![e.into()]),
    };
    let mut sent = Vec::new();
    let mut failed = Vec::new();
    for (id, b) in boards {
        let (n, r) = (node.clone(), reason.to_string());
        match blocking(move || kicks::send(&n, &id, None, &r)).await {
            Ok(order) => sent.push((order, b.name)),
            Err(e) => failed.push(e.into()),
        }
    }
    let mut ended = 0;
    for (order, name) in sent {
        match answer(node, order, &name).await {
            Ok(n) => ended += n,
            Err(e) => failed.push(e),
        }
    }
    (ended, failed)
}

/// The other nodes that list a session `id` (for a kick without `--node` that missed).
pub async fn holders(node: &Arc<Node>, id: u64) -> Vec<String> {
    let n = node.clone();
    let mut names: Vec<String> = blocking(move || board::others(&n))
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, b)| b.sessions.iter().any(|s| s.id == id))
        .map(|(_, b)| b.name)
        .collect();
    names.dedup();
    names
}
