//! The behaviour every [`KvStore`] backend must have, as one check run against each of them
//! (the embedded ones by unit tests, Redis by the cluster tests against a real redis-server).

use super::{KvStore, StoreError};

/// TTL, namespaces, compare-and-swap, increment, listing. Leaves `a/n` = "3". Panics on the
/// first difference (it is a test).
pub fn exercise(s: &dyn KvStore) {
    s.set("a", "k", "v", Some(1000)).unwrap();
    assert_eq!(s.get("a", "k", 999).unwrap().as_deref(), Some("v"));
    assert_eq!(s.get("a", "k", 1000).unwrap(), None, "expired");
    assert_eq!(s.get("b", "k", 0).unwrap(), None, "namespaces are separate");
    assert!(s.cas("a", "c", None, Some("1"), None, 0).unwrap());
    assert!(!s.cas("a", "c", None, Some("2"), None, 0).unwrap());
    assert!(s.cas("a", "c", Some("1"), None, None, 0).unwrap());
    assert_eq!(s.get("a", "c", 0).unwrap(), None);
    assert!(
        s.cas("a", "k", None, Some("again"), None, 5000).unwrap(),
        "an expired value counts as absent"
    );
    assert_eq!(s.incr("a", "n", 5, None, 0).unwrap(), 5);
    assert_eq!(s.incr("a", "n", -2, None, 0).unwrap(), 3);
    s.set("a", "t", "1", Some(100)).unwrap();
    assert_eq!(s.incr("a", "t", 1, None, 50).unwrap(), 2);
    assert_eq!(
        s.get("a", "t", 100).unwrap(),
        None,
        "incr keeps the old expiry"
    );
    s.set("a", "s", "x", None).unwrap();
    assert!(matches!(
        s.incr("a", "s", 1, None, 0),
        Err(StoreError::NotANumber(_))
    ));
    s.set("bans", "10.0.0.1", "until", None).unwrap();
    s.set("bans2", "z", "z", None).unwrap();
    assert_eq!(
        s.list("bans", 0).unwrap(),
        vec![("10.0.0.1".to_string(), "until".to_string())]
    );
    s.delete("bans", "10.0.0.1").unwrap();
    assert!(s.list("bans", 0).unwrap().is_empty());
}

#[cfg(test)]
#[test]
fn memory_store() {
    exercise(&super::MemoryStore::default());
}
