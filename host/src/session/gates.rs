//! The rules path verbs share, declared once: the right a verb needs at its path and whether
//! it passes the plugins' `command` hook. [`Session::gate`] applies a row in one fixed order —
//! right, then hook — and turns either refusal into its reply in one place. The README's hook
//! table is tested against [`PATH_GATES`].
//!
//! What reads a directory or a file's attributes is gated like LIST: an operator who refuses a
//! listing of a folder with a plugin expects STAT, MLST, SIZE and MDTM of it refused too. CWD
//! and PWD are not gated (entering a folder shows nothing); transfers have hooks of their own
//! (`upload`, `ratio-check`).

use super::refusal::{Handled, Refusal};
use super::state::Session;
use crate::fs::{Rights, VirtualPath};

/// The right a verb needs at its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Read,
    Create,
    Delete,
    Overwrite,
}

impl Need {
    pub fn allowed(self, rights: Rights) -> bool {
        match self {
            Need::Read => rights.can_read(),
            Need::Create => rights.can_create(),
            Need::Delete => rights.can_delete(),
            Need::Overwrite => rights.can_overwrite(),
        }
    }
}

/// One verb's row.
#[derive(Debug)]
pub struct PathGate {
    pub verb: &'static str,
    pub need: Need,
    /// The refused action, as the 550 reply names it.
    pub action: &'static str,
    /// Whether it passes the `command` hook.
    pub hook: bool,
}

const fn row(verb: &'static str, need: Need, action: &'static str, hook: bool) -> PathGate {
    PathGate {
        verb,
        need,
        action,
        hook,
    }
}

/// Every path verb that is not a transfer, in the README's order.
pub const PATH_GATES: &[PathGate] = &[
    row("DELE", Need::Delete, "deleting", true),
    row("RMD", Need::Delete, "removing directories", true),
    row("MKD", Need::Create, "creating directories", true),
    row("RNFR", Need::Delete, "renaming", true),
    row("LIST", Need::Read, "listing", true),
    row("NLST", Need::Read, "listing", true),
    row("MLSD", Need::Read, "listing", true),
    row("MLST", Need::Read, "listing", true),
    row("STAT", Need::Read, "listing", true),
    row("SIZE", Need::Read, "reading", true),
    row("MDTM", Need::Read, "reading", true),
    row("MFMT", Need::Overwrite, "changing modification times", true),
    row(
        "SITE UTIME",
        Need::Overwrite,
        "changing modification times",
        true,
    ),
    row("SITE CHMOD", Need::Overwrite, "changing permissions", true),
    row("HASH", Need::Read, "reading", true),
    row("XCRC", Need::Read, "reading", true),
    row("XMD5", Need::Read, "reading", true),
    row("XSHA1", Need::Read, "reading", true),
    row("XSHA256", Need::Read, "reading", true),
];

/// The row of `verb`; a verb without one needs read access and passes the hook (the
/// strictest default, for a verb added without a row).
pub fn path_gate(verb: &str) -> &'static PathGate {
    const DEFAULT: PathGate = row("", Need::Read, "reading", true);
    PATH_GATES
        .iter()
        .find(|g| g.verb == verb)
        .unwrap_or(&DEFAULT)
}

impl Session {
    /// Applies `verb`'s row to `path`: the right, then the `command` hook.
    pub async fn gate(&mut self, verb: &str, path: &VirtualPath) -> Handled {
        let g = path_gate(verb);
        if !g.need.allowed(self.rights_at(path)) {
            return Err(Refusal::right(path, g.action));
        }
        if g.hook {
            return self.command_hook(verb, Some(path)).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_have_one_row_each_and_unknown_verbs_get_the_strictest() {
        for (i, g) in PATH_GATES.iter().enumerate() {
            assert!(
                PATH_GATES[i + 1..].iter().all(|o| o.verb != g.verb),
                "{} twice",
                g.verb
            );
        }
        let unknown = path_gate("XNEW");
        assert!(unknown.hook && unknown.need == Need::Read);
        assert_eq!(path_gate("MKD").need, Need::Create);
    }

    #[test]
    fn needs_follow_the_rights_letters() {
        let r = |s: &str| Rights::parse(s).unwrap();
        assert!(Need::Read.allowed(r("r")));
        assert!(!Need::Create.allowed(r("r")));
        assert!(Need::Create.allowed(r("w")));
        assert!(!Need::Read.allowed(r("w")));
        assert!(!Need::Delete.allowed(r("rw")));
        assert!(Need::Delete.allowed(r("a")));
        assert!(Need::Overwrite.allowed(r("rw")));
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
        let gated: Vec<String> = PATH_GATES
            .iter()
            .filter(|g| g.hook)
            .map(|g| g.verb.to_string())
            .collect();
        assert_eq!(listed, gated, "README row: {row}");
    }
}
