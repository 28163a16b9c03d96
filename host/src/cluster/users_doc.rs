//! The users file as the cluster's one document (`[state] share_users`): a node whose users
//! file changed (an `ftpsd user` command, the admin API, an edit) publishes its text with a
//! version; every other node sees the new version on its next poll, writes the text to its
//! own users file and reloads. The last change published wins: make concurrent changes on
//! one node.

use serde::{Deserialize, Serialize};

use super::Node;
use crate::state::StoreError;

pub const NS: &str = "ftpsd.users";
pub const KEY: &str = "file";
/// The largest users file shared (a million users' lines would be ~200 MB; that is a
/// directory service's job, not a file's).
pub const MAX_TEXT: usize = 32 << 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsersDoc {
    pub version: u64,
    pub sha256: String,
    /// The node that published it.
    pub from: String,
    pub text: String,
}

/// The hex SHA-256 of a users file's text.
pub fn digest(text: &str) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn too_big() -> StoreError {
    StoreError::Backend(format!(
        "the users file is over {} MiB; it is not shared",
        MAX_TEXT >> 20
    ))
}

/// The cluster's users file, if one was published.
pub fn current(node: &Node) -> Result<Option<UsersDoc>, StoreError> {
    let now = crate::state::now_ms();
    match node.store.get(NS, KEY, now)? {
        None => Ok(None),
        Some(v) => serde_json::from_str(&v)
            .map(Some)
            .map_err(|e| StoreError::Backend(format!("the shared users file is damaged: {e}"))),
    }
}

/// Publishes `text` as the cluster's first users file, unless one is published already:
/// then returns that one (a node that joins takes the cluster's).
pub fn publish_first(node: &Node, text: &str) -> Result<Option<UsersDoc>, StoreError> {
    if text.len() > MAX_TEXT {
        return Err(too_big());
    }
    let mut existing = None;
    node.store
        .update(NS, KEY, crate::state::now_ms(), &mut |cur| {
            if let Some((v, _)) = &cur
                && let Ok(doc) = serde_json::from_str::<UsersDoc>(v)
            {
                existing = Some(doc);
                return Ok(cur);
            }
            existing = None;
            let doc = UsersDoc {
                version: 1,
                sha256: digest(text),
                from: node.name.clone(),
                text: text.to_string(),
            };
            let v = serde_json::to_string(&doc).map_err(|e| StoreError::Backend(e.to_string()))?;
            Ok(Some((v, None)))
        })?;
    Ok(existing)
}

/// Publishes `text` as the cluster's users file, unless it already is; returns the new
/// version, or None when nothing changed.
pub fn publish(node: &Node, text: &str) -> Result<Option<u64>, StoreError> {
    if text.len() > MAX_TEXT {
        return Err(too_big());
    }
    let sha = digest(text);
    let now = crate::state::now_ms();
    let mut published = None;
    node.store.update(NS, KEY, now, &mut |cur| {
        let old: Option<UsersDoc> = cur.as_ref().and_then(|(v, _)| serde_json::from_str(v).ok());
        if old.as_ref().is_some_and(|d| d.sha256 == sha) {
            published = None;
            return Ok(cur);
        }
        let version = old.map(|d| d.version).unwrap_or(0) + 1;
        published = Some(version);
        let doc = UsersDoc {
            version,
            sha256: sha.clone(),
            from: node.name.clone(),
            text: text.to_string(),
        };
        let v = serde_json::to_string(&doc).map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(Some((v, None)))
    })?;
    Ok(published)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_rise_only_when_the_text_changes() {
        let store: crate::state::SharedStore =
            std::sync::Arc::new(crate::state::MemoryStore::default());
        let a = Node::new(store.clone(), Some("a"));
        let b = Node::new(store.clone(), Some("b"));
        assert_eq!(current(&a).unwrap(), None);
        assert_eq!(
            publish_first(&a, "x").unwrap(),
            None,
            "the first is published"
        );
        let first = publish_first(&b, "w")
            .unwrap()
            .expect("a joining node gets the cluster's");
        assert_eq!((first.version, first.text.as_str()), (1, "x"));
        assert_eq!(publish(&b, "x").unwrap(), None, "same text, no new version");
        assert_eq!(publish(&b, "y").unwrap(), Some(2));
        let doc = current(&a).unwrap().unwrap();
        assert_eq!(
            (doc.version, doc.from.as_str(), doc.text.as_str()),
            (2, "b", "y")
        );
        assert_eq!(doc.sha256, digest("y"));
        assert!(publish(&a, &"z".repeat(MAX_TEXT + 1)).is_err());
        store.set(NS, KEY, "not json", None).unwrap();
        assert!(
            current(&a).is_err(),
            "a damaged document is an error, not 'none'"
        );
    }
}
