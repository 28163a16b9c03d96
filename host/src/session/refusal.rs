//! How a refused command becomes its reply. Handlers return `Err(Refusal)` with `?` from any
//! step (a bad name, a missing right, a plugin's deny, a filesystem error) and
//! `Session::refuse` (in `refuse`) is the one place that logs it, announces it to `file-blocked`
//! subscribers and sends the reply; [`Refusal::reply`] is the pure mapping, unit-tested below.
//! `dispatch` ends a pending data plan after any transfer verb, refused or not.

use std::io;

use crate::fs::path::PathError;
use crate::fs::{FsError, VirtualPath};
use crate::protocol::{Code, Reply};

/// What a command handler returns: done (its replies sent), or refused.
pub type Handled = Result<(), Refusal>;

#[derive(Debug)]
pub enum Refusal {
    /// The control connection failed: the session ends, nothing more is sent.
    Link(io::Error),
    /// The client's name for a file cannot be resolved.
    BadName(PathError),
    /// The user's mount does not grant the right `action` needs at `path`.
    Right {
        path: VirtualPath,
        action: &'static str,
    },
    /// The filesystem refused an operation on `path`.
    Fs { path: VirtualPath, error: FsError },
    /// A plugin's deny, with the code it chose (any 4xx/5xx).
    Plugin {
        code: Code,
        message: String,
        by: String,
        command: String,
        path: Option<VirtualPath>,
    },
    /// Any other refusal: wrong sequence, unsupported parameter, policy.
    Reply(Code, String),
}

impl From<io::Error> for Refusal {
    fn from(e: io::Error) -> Self {
        Refusal::Link(e)
    }
}

impl Refusal {
    pub fn new(code: Code, text: impl Into<String>) -> Refusal {
        Refusal::Reply(code, text.into())
    }

    pub fn fs(path: &VirtualPath, error: FsError) -> Refusal {
        Refusal::Fs {
            path: path.clone(),
            error,
        }
    }

    pub fn right(path: &VirtualPath, action: &'static str) -> Refusal {
        Refusal::Right {
            path: path.clone(),
            action,
        }
    }

    /// The reply the client sees; `user` names the account in rights refusals. None for a
    /// failed link (nothing can be sent).
    pub fn reply(&self, user: &str) -> Option<Reply> {
        Some(match self {
            Refusal::Link(_) => return None,
            Refusal::BadName(e) => Reply::new(Code::NAME_NOT_ALLOWED, e.to_string()),
            Refusal::Right { path, action } => Reply::new(
                Code::FILE_UNAVAILABLE,
                format!("{path}: Permission denied ({action} not allowed for user {user})."),
            ),
            Refusal::Fs { path, error } => Reply::new(error.code(), format!("{path}: {error}")),
            Refusal::Plugin { code, message, .. } => Reply::new(*code, one_line(message)),
            Refusal::Reply(code, text) => Reply::new(*code, text.clone()),
        })
    }
}

/// A plugin's message as one safe reply line.
pub fn one_line(s: &str) -> String {
    let line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(300)
        .collect();
    if line.trim().is_empty() {
        "Refused by site policy.".into()
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(s: &str) -> VirtualPath {
        VirtualPath::root().resolve(s).unwrap()
    }

    fn wire(r: Refusal) -> String {
        String::from_utf8(r.reply("alice").unwrap().to_wire()).unwrap()
    }

    #[test]
    fn each_refusal_has_its_reply() {
        assert_eq!(
            wire(Refusal::right(&path("/pub/a"), "deleting")),
            "550 /pub/a: Permission denied (deleting not allowed for user alice).\r\n"
        );
        assert_eq!(
            wire(Refusal::fs(&path("/a"), FsError::NotFound)),
            format!("550 /a: {}\r\n", FsError::NotFound)
        );
        assert!(wire(Refusal::fs(&path("/a"), FsError::NoSpace)).starts_with("452 "));
        assert!(wire(Refusal::fs(&path("/a"), FsError::QuotaFull("x".into()))).starts_with("552 "));
        assert!(wire(Refusal::BadName(PathError::Nul)).starts_with("553 "));
        assert_eq!(
            wire(Refusal::new(Code::BAD_SEQUENCE, "RNFR first.")),
            "503 RNFR first.\r\n"
        );
        assert!(Refusal::Link(io::Error::other("gone")).reply("a").is_none());
    }

    #[test]
    fn plugin_refusals_keep_their_code_on_one_safe_line() {
        let r = Refusal::Plugin {
            code: Code::refusal(451, Code::FILE_UNAVAILABLE),
            message: "try\r\n230 later".into(),
            by: "p".into(),
            command: "DELE".into(),
            path: None,
        };
        assert_eq!(wire(r), "451 try  230 later\r\n");
        let empty = Refusal::Plugin {
            code: Code::FILE_UNAVAILABLE,
            message: " \n".into(),
            by: "p".into(),
            command: "DELE".into(),
            path: None,
        };
        assert_eq!(wire(empty), "550 Refused by site policy.\r\n");
    }
}
