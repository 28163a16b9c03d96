//! Rights per user: r (list, download), w (drop box: upload new files, mkdir), rw (r + w +
//! overwrite/append/resume), a (rw + delete, rename, rmdir). Pure: the session asks, this answers.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rights {
    #[serde(rename = "r")]
    Read,
    #[serde(rename = "w")]
    Write,
    #[serde(rename = "rw")]
    ReadWrite,
    #[serde(rename = "a")]
    All,
}

impl Rights {
    pub fn parse(s: &str) -> Option<Rights> {
        match s {
            "r" => Some(Rights::Read),
            "w" => Some(Rights::Write),
            "rw" => Some(Rights::ReadWrite),
            "a" => Some(Rights::All),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Rights::Read => "r",
            Rights::Write => "w",
            Rights::ReadWrite => "rw",
            Rights::All => "a",
        }
    }

    /// Whether everything these rights allow, `outer` allows too (a share never grants more
    /// than its owner has).
    pub fn within(self, outer: Rights) -> bool {
        (!self.can_read() || outer.can_read())
            && (!self.can_create() || outer.can_create())
            && (!self.can_overwrite() || outer.can_overwrite())
            && (!self.can_delete() || outer.can_delete())
    }

    /// The most of `self` that `outer` also allows: a share granting more than its owner has
    /// now (the owner's rights were lowered) gives only what they share; `None` when nothing
    /// is left (r shared, only w owned).
    pub fn meet(self, outer: Rights) -> Option<Rights> {
        if self.within(outer) {
            Some(self)
        } else if outer.within(self) {
            Some(outer)
        } else {
            None
        }
    }

    /// LIST, NLST, MLSD, MLST, SIZE, MDTM, RETR.
    pub fn can_read(self) -> bool {
        !matches!(self, Rights::Write)
    }

    /// STOR of a new name, STOU, MKD.
    pub fn can_create(self) -> bool {
        !matches!(self, Rights::Read)
    }

    /// STOR over an existing file, APPE, REST+STOR.
    pub fn can_overwrite(self) -> bool {
        matches!(self, Rights::ReadWrite | Rights::All)
    }

    /// DELE, RMD, RNFR/RNTO.
    pub fn can_delete(self) -> bool {
        matches!(self, Rights::All)
    }

    /// RFC 3659 `perm` fact for a file.
    pub fn file_perm(self) -> String {
        let mut p = String::new();
        if self.can_read() {
            p.push('r');
        }
        if self.can_overwrite() {
            p.push_str("aw");
        }
        if self.can_delete() {
            p.push_str("df");
        }
        p
    }

    /// RFC 3659 `perm` fact for a directory.
    pub fn dir_perm(self) -> String {
        let mut p = String::from("e");
        if self.can_read() {
            p.push('l');
        }
        if self.can_create() {
            p.push_str("cm");
        }
        if self.can_delete() {
            p.push_str("dfp");
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix() {
        use Rights::*;
        let row = |r: Rights| {
            (
                r.can_read(),
                r.can_create(),
                r.can_overwrite(),
                r.can_delete(),
            )
        };
        assert_eq!(row(Read), (true, false, false, false));
        assert_eq!(row(Write), (false, true, false, false));
        assert_eq!(row(ReadWrite), (true, true, true, false));
        assert_eq!(row(All), (true, true, true, true));
    }

    #[test]
    fn perm_facts() {
        assert_eq!(Rights::Read.file_perm(), "r");
        assert!(Rights::Read.within(Rights::ReadWrite) && Rights::Write.within(Rights::All));
        assert!(!Rights::Read.within(Rights::Write) && !Rights::Write.within(Rights::Read));
        assert!(
            !Rights::All.within(Rights::ReadWrite) && Rights::ReadWrite.within(Rights::ReadWrite)
        );
        assert_eq!(Rights::All.file_perm(), "rawdf");
        assert_eq!(Rights::Write.dir_perm(), "ecm");
        assert_eq!(Rights::All.dir_perm(), "elcmdfp");
    }
}
