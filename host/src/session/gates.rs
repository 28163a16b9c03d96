//! A path verb's gate from its row in [`crate::protocol::verbs::VERBS`]: the right it needs at
//! the path, then the plugins' `command` hook, in that order, refused through one path.
//! The README's hook table is tested against the rows.

use super::refusal::{Handled, Refusal};
use super::state::Session;
use crate::fs::{Rights, VirtualPath};
use crate::protocol::verbs::{Need, rules};

/// Whether `rights` grant what `need` asks.
pub fn allowed(need: Need, rights: Rights) -> bool {
    match need {
        Need::Read => rights.can_read(),
        Need::Create => rights.can_create(),
        Need::Delete => rights.can_delete(),
        Need::Overwrite => rights.can_overwrite(),
    }
}

impl Session {
    /// Applies the current command's path gate to `path`: the right, then the `command` hook.
    pub async fn gate(&mut self, path: &VirtualPath) -> Handled {
        let verb = self.ftp.verb;
        let Some(g) = rules(verb).path else {
            return Ok(());
        };
        if !allowed(g.need, self.rights_at(path)) {
            return Err(Refusal::right(path, g.action));
        }
        self.refuse_held(path, verb == "RNFR").await?;
        if g.hook {
            return self.command_hook(verb, Some(path)).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::verbs::VERBS;

    #[test]
    fn needs_follow_the_rights_letters() {
        let r = |s: &str| Rights::parse(s).unwrap();
        assert!(allowed(Need::Read, r("r")));
        assert!(!allowed(Need::Create, r("r")));
        assert!(allowed(Need::Create, r("w")));
        assert!(!allowed(Need::Read, r("w")));
        assert!(!allowed(Need::Delete, r("rw")));
        assert!(allowed(Need::Delete, r("a")));
        assert!(allowed(Need::Overwrite, r("rw")));
    }

    #[test]
    fn the_readme_hook_table_names_exactly_the_gated_verbs() {
        let readme = include_str!("../../../README.md");
        let row = readme
            .lines()
            .find(|l| l.starts_with("| `command` |"))
            .expect("README has the command hook row");
        let listed: Vec<String> = row
            .split('|')
            .nth(2)
            .unwrap()
            .split([',', '/'])
            .map(|v| v.trim().to_string())
            .collect();
        let gated: Vec<String> = VERBS
            .iter()
            .filter(|r| r.path.is_some_and(|g| g.hook))
            .map(|r| r.verb.to_string())
            .collect();
        assert_eq!(listed, gated, "README row: {row}");
    }
}
