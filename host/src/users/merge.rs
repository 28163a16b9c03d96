//! Three-way merge of users files, for a cluster whose nodes change one shared file
//! (`[state] share_users`): a node that changed a file derived from an older version than the
//! cluster's keeps both its changes and the others', entry by entry (users and groups by
//! name, the anonymous account as one entry). Where both changed the same entry, this
//! node's change wins: it is the later one.

use std::collections::HashMap;

use super::file::UsersFile;

fn key(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// Entries of `ours` that differ from `base` win; every other entry is `theirs`'s (added,
/// changed or removed there). `theirs`'s order is kept, entries new here come after.
fn entries<T: Clone + PartialEq>(
    base: &[T],
    ours: &[T],
    theirs: &[T],
    name: impl Fn(&T) -> &str,
) -> Vec<T> {
    let index =
        |v: &[T]| -> HashMap<String, T> { v.iter().map(|e| (key(name(e)), e.clone())).collect() };
    let (b, o) = (index(base), index(ours));
    // What this node did: Some(entry) added or changed, None removed.
    let changed: HashMap<String, Option<T>> = b
        .keys()
        .chain(o.keys())
        .filter(|k| b.get(*k) != o.get(*k))
        .map(|k| (k.clone(), o.get(k).cloned()))
        .collect();
    let mut out: Vec<T> = Vec::new();
    for e in theirs {
        match changed.get(&key(name(e))) {
            Some(Some(mine)) => out.push(mine.clone()),
            Some(None) => {}
            None => out.push(e.clone()),
        }
    }
    for e in ours {
        let k = key(name(e));
        if changed.get(&k).is_some_and(Option::is_some) && !out.iter().any(|x| key(name(x)) == k) {
            out.push(e.clone());
        }
    }
    out
}

/// `theirs` with the changes `ours` made to `base`.
pub fn three_way(base: &UsersFile, ours: &UsersFile, theirs: &UsersFile) -> UsersFile {
    UsersFile {
        users: entries(&base.users, &ours.users, &theirs.users, |u| &u.name),
        groups: entries(&base.groups, &ours.groups, &theirs.groups, |g| &g.name),
        anonymous: if ours.anonymous != base.anonymous {
            ours.anonymous.clone()
        } else {
            theirs.anonymous.clone()
        },
        path: ours.path.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";

    fn file(users: &[(&str, &str)]) -> UsersFile {
        let text: String = users
            .iter()
            .map(|(n, home)| {
                format!("[[user]]\nname = \"{n}\"\npassword = \"{HASH}\"\nhome = \"/srv/{home}\"\n")
            })
            .collect();
        UsersFile::parse(&text, std::path::Path::new("/etc/ftpsd/users.toml")).unwrap()
    }

    fn names(f: &UsersFile) -> Vec<(String, String)> {
        f.users
            .iter()
            .map(|u| (u.name.clone(), format!("{:?}", u.home)))
            .collect()
    }

    #[test]
    fn both_sides_changes_survive_and_ours_wins_on_the_same_entry() {
        let base = file(&[("alice", "a"), ("bob", "b"), ("carol", "c")]);
        // Here: x added, bob changed, carol removed.
        let ours = file(&[("alice", "a"), ("bob", "b2"), ("x", "x")]);
        // There: y added, alice changed, bob changed too, carol kept.
        let theirs = file(&[("alice", "a3"), ("bob", "b3"), ("carol", "c"), ("y", "y")]);
        let merged = three_way(&base, &ours, &theirs);
        assert_eq!(
            names(&merged),
            names(&file(&[
                ("alice", "a3"),
                ("bob", "b2"),
                ("y", "y"),
                ("x", "x")
            ]))
        );
        // Nothing changed here: theirs as it is (their removals too).
        assert_eq!(
            names(&three_way(&base, &base, &file(&[("bob", "b")]))),
            names(&file(&[("bob", "b")]))
        );
        // Names match case-insensitively, as logins do.
        let upper = file(&[("ALICE", "a9"), ("bob", "b"), ("carol", "c")]);
        assert_eq!(
            names(&three_way(&base, &upper, &theirs)),
            names(&file(&[
                ("ALICE", "a9"),
                ("bob", "b3"),
                ("carol", "c"),
                ("y", "y")
            ]))
        );
    }
}
