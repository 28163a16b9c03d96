//! The users file as the cluster's one document (`[state] share_users`): a node whose users
//! file changed (an `ftpsd user` command, the admin API, an edit) publishes its text with a
//! version; every other node sees the new version on its next poll, writes the text to its
//! own users file and reloads. The last change published wins: make concurrent changes on
//! one node.

use serde::{Deserialize, Serialize};

use std::path::Path;

use super::Node;
use crate::state::StoreError;
use crate::users::UsersFile;

pub const NS: &str = "ftpsd.users";
pub const KEY: &str = "file";
/// The SHA-256 of the file in [`KEY`]: what nodes poll (the text only when it changed).
pub const SHA_KEY: &str = "sha";
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
    StoreError::Refused(format!(
        "the users file is over {} MiB; it is not shared",
        MAX_TEXT >> 20
    ))
}

/// The cluster's users file, if one was published.
pub fn current(node: &Node) -> Result<Option<UsersDoc>, StoreError> {
    let now = crate::state::now_ms();
    let Some(v) = node.store.get(NS, KEY, now)? else {
        return Ok(None);
    };
    let doc: UsersDoc = serde_json::from_str(&v)
        .map_err(|e| StoreError::Refused(format!("the shared users file is damaged: {e}")))?;
    if doc.text.len() > MAX_TEXT {
        return Err(too_big());
    }
    Ok(Some(doc))
}

/// The SHA-256 of the cluster's users file, as last published.
pub fn current_sha(node: &Node) -> Result<Option<String>, StoreError> {
    node.store.get(NS, SHA_KEY, crate::state::now_ms())
}

/// Records `sha` as the cluster's users file's (after publishing, or when found missing).
pub fn mark(node: &Node, sha: &str) -> Result<(), StoreError> {
    node.store.set(NS, SHA_KEY, sha, None)
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
    if existing.is_none() {
        mark(node, &digest(text))?;
    }
    Ok(existing)
}

/// Publishes this node's users file `ours` (its path: `path`) as the cluster's, unless it
/// already is. When the cluster moved on since the version this node's file derives from
/// ([`Node::users_base`]), what is published is the cluster's with this node's changes merged
/// in ([`crate::users::merge`]), so no node's change is lost. Returns what was published.
pub fn publish_change(
    node: &Node,
    ours: &str,
    path: &Path,
) -> Result<Option<UsersDoc>, StoreError> {
    if ours.len() > MAX_TEXT {
        return Err(too_big());
    }
    let base = node
        .users_base
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let sha = digest(ours);
    let now = crate::state::now_ms();
    let mut published = None;
    node.store.update(NS, KEY, now, &mut |cur| {
        published = None;
        let old: Option<UsersDoc> = cur.as_ref().and_then(|(v, _)| serde_json::from_str(v).ok());
        if old.as_ref().is_some_and(|d| d.sha256 == sha) {
            return Ok(cur);
        }
        let text = match (&old, &base) {
            (Some(d), Some((v, base_text))) if d.version != *v => {
                merged(base_text, ours, &d.text, path).unwrap_or_else(|| {
                    tracing::warn!(
                        "cluster: this node's users file could not be merged with the cluster's; this node's wins"
                    );
                    ours.to_string()
                })
            }
            _ => ours.to_string(),
        };
        let doc = UsersDoc {
            version: old.map(|d| d.version).unwrap_or(0) + 1,
            sha256: digest(&text),
            from: node.name.clone(),
            text,
        };
        let v = serde_json::to_string(&doc).map_err(|e| StoreError::Backend(e.to_string()))?;
        published = Some(doc);
        Ok(Some((v, None)))
    })?;
    if let Some(d) = &published {
        *node.users_base.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((d.version, d.text.clone()));
        mark(node, &d.sha256)?;
    }
    Ok(published)
}

/// `theirs` with the changes `ours` made to `base`, as a users file's text; None when one of
/// them does not parse or the result is not a valid file.
fn merged(base: &str, ours: &str, theirs: &str, path: &Path) -> Option<String> {
    let parse = |t: &str| UsersFile::parse(t, path).ok();
    let m = crate::users::merge::three_way(&parse(base)?, &parse(ours)?, &parse(theirs)?);
    let text = format!(
        "# ftpsd users, shared by the cluster. Edit with 'ftpsd user ...' and 'ftpsd group ...'.\n{}",
        toml::to_string(&m).ok()?
    );
    parse(&text)?;
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_rise_only_when_the_text_changes_and_a_stale_change_is_merged() {
        let store: crate::state::SharedStore =
            std::sync::Arc::new(crate::state::MemoryStore::default());
        let a = Node::new(store.clone(), Some("a"));
        let b = Node::new(store.clone(), Some("b"));
        let path = Path::new("/etc/ftpsd/users.toml");
        let hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
        let user = |n: &str| {
            format!("[[user]]\nname = \"{n}\"\npassword = \"{hash}\"\nhome = \"/srv/{n}\"\n")
        };
        let v1 = user("alice");
        assert_eq!(current(&a).unwrap(), None);
        assert_eq!(
            publish_first(&a, &v1).unwrap(),
            None,
            "the first is published"
        );
        let first = publish_first(&b, "")
            .unwrap()
            .expect("a joining node gets the cluster's");
        assert_eq!((first.version, first.text.as_str()), (1, v1.as_str()));
        for n in [&a, &b] {
            *n.users_base.lock().unwrap() = Some((1, v1.clone()));
        }
        assert_eq!(
            publish_change(&b, &v1, path).unwrap(),
            None,
            "same text, no new version"
        );
        // a adds x, then b (still on version 1) adds y: both stay.
        let with_x = format!("{v1}{}", user("x"));
        let d2 = publish_change(&a, &with_x, path).unwrap().unwrap();
        assert_eq!(
            (d2.version, d2.text.as_str(), d2.from.as_str()),
            (2, with_x.as_str(), "a")
        );
        let d3 = publish_change(&b, &format!("{v1}{}", user("y")), path)
            .unwrap()
            .unwrap();
        let merged = UsersFile::parse(&d3.text, path).unwrap();
        let names: Vec<&str> = merged.users.iter().map(|u| u.name.as_str()).collect();
        assert_eq!((d3.version, names), (3, vec!["alice", "x", "y"]));
        assert_eq!(current(&a).unwrap().unwrap().sha256, digest(&d3.text));
        assert_eq!(
            current_sha(&a).unwrap(),
            Some(digest(&d3.text)),
            "the polled key follows"
        );
        assert_eq!(b.users_base.lock().unwrap().as_ref().map(|b| b.0), Some(3));
        assert!(publish_change(&a, &"z".repeat(MAX_TEXT + 1), path).is_err());
        store.set(NS, KEY, "not json", None).unwrap();
        assert!(
            current(&a).is_err(),
            "a damaged document is an error, not 'none'"
        );
    }
}
