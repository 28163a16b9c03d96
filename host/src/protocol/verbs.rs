//! What each verb needs before its handler runs, declared once, next to the parser: whether
//! it is allowed before login, whether it is refused in clear on a TLS-only listener, what it
//! does with the data plan (sets one, uses it for a listing or a transfer), whether it is
//! refused after EPSV ALL, whether a REST offset survives it, and — for verbs with a path —
//! the right it needs there and whether it passes the plugins' `command` hook.
//!
//! `session::commands::dispatch` applies the columns in one fixed order (login, TLS, EPSV
//! ALL, the state that survives the command, the handler, the data plan consumed);
//! `Session::gate` applies a row's path gate once the handler has resolved its path (a
//! refusal about the path comes before one about the data connection). A verb added to
//! [`Command`] without a row fails the unit test below.
//!
//! What reads a directory or a file's attributes is gated like LIST: an operator who refuses a
//! listing of a folder with a plugin expects STAT, MLST, SIZE and MDTM of it refused too. CWD
//! and PWD are not gated (entering a folder shows nothing); transfers have hooks of their own
//! (`upload`, `ratio-check`) and rights that depend on the file (STOR creates or overwrites).

use super::command::{Command, HashAlgo, SiteCommand};

/// Whether a verb may run before login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    Required,
    Free,
    /// Free without an argument (`STAT` of the server), required with one (`STAT path`).
    FreeWithoutArgument,
}

/// What a verb does with the data plan (PASV/EPSV/PORT/EPRT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Data {
    None,
    /// Sets up the plan for the next data verb.
    Sets,
    /// Uses the plan for a listing.
    Lists,
    /// Uses the plan for a file transfer (and drops a RANG range).
    Transfers,
}

/// The right a verb needs at its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Read,
    Create,
    Delete,
    Overwrite,
}

/// A path verb's gate: the right it needs and whether it passes the `command` hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathGate {
    pub need: Need,
    /// The refused action, as the 550 reply names it.
    pub action: &'static str,
    pub hook: bool,
}

/// One verb's row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerbRules {
    pub verb: &'static str,
    pub login: Login,
    /// Refused in clear when the listener requires TLS (USER: no plaintext logins).
    pub clear_refused: bool,
    pub data: Data,
    /// Refused after EPSV ALL (RFC 2428: only EPSV may set up data connections then).
    pub epsv_all_refused: bool,
    /// A REST offset survives this verb (data setup and transfer parameters may come between
    /// REST and its transfer); any other verb drops it.
    pub keeps_rest: bool,
    pub path: Option<PathGate>,
}

const fn base(verb: &'static str) -> VerbRules {
    VerbRules {
        verb,
        login: Login::Required,
        clear_refused: false,
        data: Data::None,
        epsv_all_refused: false,
        keeps_rest: false,
        path: None,
    }
}

/// Allowed before login.
const fn free(verb: &'static str) -> VerbRules {
    VerbRules {
        login: Login::Free,
        ..base(verb)
    }
}

/// A transfer parameter or data setup: REST survives it.
const fn keeps_rest(r: VerbRules) -> VerbRules {
    VerbRules {
        keeps_rest: true,
        ..r
    }
}

const fn gated(verb: &'static str, need: Need, action: &'static str) -> VerbRules {
    VerbRules {
        path: Some(PathGate {
            need,
            action,
            hook: true,
        }),
        ..base(verb)
    }
}

const fn data(r: VerbRules, data: Data) -> VerbRules {
    VerbRules { data, ..r }
}

const fn classic_setup(verb: &'static str) -> VerbRules {
    VerbRules {
        epsv_all_refused: true,
        ..keeps_rest(data(base(verb), Data::Sets))
    }
}

/// Every verb, in the README's order for the path verbs.
pub const VERBS: &[VerbRules] = &[
    VerbRules {
        clear_refused: true,
        ..free("USER")
    },
    free("PASS"),
    free("QUIT"),
    free("NOOP"),
    free("SYST"),
    free("FEAT"),
    free("OPTS"),
    free("HELP"),
    free("AUTH"),
    keeps_rest(free("PBSZ")),
    keeps_rest(free("PROT")),
    free("CCC"),
    free("ABOR"),
    base("PWD"),
    base("CWD"),
    base("CDUP"),
    gated("DELE", Need::Delete, "deleting"),
    gated("RMD", Need::Delete, "removing directories"),
    gated("MKD", Need::Create, "creating directories"),
    gated("RNFR", Need::Delete, "renaming"),
    base("RNTO"),
    data(gated("LIST", Need::Read, "listing"), Data::Lists),
    data(gated("NLST", Need::Read, "listing"), Data::Lists),
    data(gated("MLSD", Need::Read, "listing"), Data::Lists),
    gated("MLST", Need::Read, "listing"),
    VerbRules {
        login: Login::FreeWithoutArgument,
        ..gated("STAT", Need::Read, "listing")
    },
    gated("SIZE", Need::Read, "reading"),
    gated("MDTM", Need::Read, "reading"),
    gated("MFMT", Need::Overwrite, "changing modification times"),
    gated("SITE UTIME", Need::Overwrite, "changing modification times"),
    gated("SITE CHMOD", Need::Overwrite, "changing permissions"),
    gated("HASH", Need::Read, "reading"),
    gated("XCRC", Need::Read, "reading"),
    gated("XMD5", Need::Read, "reading"),
    gated("XSHA1", Need::Read, "reading"),
    gated("XSHA256", Need::Read, "reading"),
    base("SITE RATIO"),
    base("SITE HELP"),
    base("SITE"),
    base("RANG"),
    base("AVBL"),
    keeps_rest(base("TYPE")),
    keeps_rest(base("MODE")),
    keeps_rest(base("STRU")),
    keeps_rest(base("ALLO")),
    keeps_rest(base("REST")),
    keeps_rest(data(base("RETR"), Data::Transfers)),
    keeps_rest(data(base("STOR"), Data::Transfers)),
    keeps_rest(data(base("APPE"), Data::Transfers)),
    data(base("STOU"), Data::Transfers),
    classic_setup("PASV"),
    keeps_rest(data(base("EPSV"), Data::Sets)),
    classic_setup("PORT"),
    classic_setup("EPRT"),
];

/// The row of `verb`. A verb without one gets the strictest row: login required, no data,
/// read access and the hook for a path (a verb added without a row is never laxer).
pub fn rules(verb: &str) -> &'static VerbRules {
    const STRICTEST: VerbRules = gated("", Need::Read, "reading");
    VERBS.iter().find(|r| r.verb == verb).unwrap_or(&STRICTEST)
}

/// Whether a raw control line names a verb that uses the data plan (for lines that do not
/// parse: the plan ends as it would for the verb).
pub fn is_data_verb(line: &[u8]) -> bool {
    let verb = super::parse::strip_telnet(line)
        .split(|b| b.is_ascii_whitespace())
        .next()
        .unwrap_or_default();
    VERBS.iter().any(|r| {
        matches!(r.data, Data::Lists | Data::Transfers)
            && r.verb.as_bytes().eq_ignore_ascii_case(verb)
    })
}

impl Command {
    /// The verb's name as its row in [`VERBS`] has it (SITE subcommands and the X* checksums
    /// by their own names).
    pub fn verb(&self) -> &'static str {
        use Command as C;
        match self {
            C::User(_) => "USER",
            C::Pass(_) => "PASS",
            C::Quit => "QUIT",
            C::Noop => "NOOP",
            C::Syst => "SYST",
            C::Feat => "FEAT",
            C::Opts(_) => "OPTS",
            C::Help(_) => "HELP",
            C::Stat(_) => "STAT",
            C::Pwd => "PWD",
            C::Cwd(_) => "CWD",
            C::Cdup => "CDUP",
            C::Mkd(_) => "MKD",
            C::Rmd(_) => "RMD",
            C::Dele(_) => "DELE",
            C::Rnfr(_) => "RNFR",
            C::Rnto(_) => "RNTO",
            C::Size(_) => "SIZE",
            C::Mdtm(_) => "MDTM",
            C::List(_) => "LIST",
            C::Nlst(_) => "NLST",
            C::Mlsd(_) => "MLSD",
            C::Mlst(_) => "MLST",
            C::Type(_) => "TYPE",
            C::Mode(_) => "MODE",
            C::Stru(_) => "STRU",
            C::Allo(_) => "ALLO",
            C::Rest(_) => "REST",
            C::Retr(_) => "RETR",
            C::Stor(_) => "STOR",
            C::Stou(_) => "STOU",
            C::Appe(_) => "APPE",
            C::Abor => "ABOR",
            C::Pasv => "PASV",
            C::Epsv(_) => "EPSV",
            C::Port(_) => "PORT",
            C::Eprt(_) => "EPRT",
            C::Auth(_) => "AUTH",
            C::Pbsz(_) => "PBSZ",
            C::Prot(_) => "PROT",
            C::Ccc => "CCC",
            C::Site(SiteCommand::Ratio) => "SITE RATIO",
            C::Site(SiteCommand::Help) => "SITE HELP",
            C::Site(SiteCommand::Utime { .. }) => "SITE UTIME",
            C::Site(SiteCommand::Chmod { .. }) => "SITE CHMOD",
            C::Site(SiteCommand::Unsupported(_)) => "SITE",
            C::Mfmt { .. } => "MFMT",
            C::Hash(_) => "HASH",
            C::XHash { algo, .. } => match algo {
                HashAlgo::Crc32 => "XCRC",
                HashAlgo::Md5 => "XMD5",
                HashAlgo::Sha1 => "XSHA1",
                HashAlgo::Sha256 => "XSHA256",
            },
            C::Rang(..) => "RANG",
            C::Avbl(_) => "AVBL",
        }
    }

    pub fn rules(&self) -> &'static VerbRules {
        rules(self.verb())
    }

    /// Whether this command may run before login.
    pub fn allowed_before_login(&self) -> bool {
        match self.rules().login {
            Login::Required => false,
            Login::Free => true,
            Login::FreeWithoutArgument => matches!(self, Command::Stat(None)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::parse_line;

    /// One line per verb the parser knows.
    const LINES: &[&str] = &[
        "USER a",
        "PASS a",
        "QUIT",
        "NOOP",
        "SYST",
        "FEAT",
        "OPTS UTF8 ON",
        "HELP",
        "STAT",
        "STAT a",
        "PWD",
        "CWD a",
        "CDUP",
        "MKD a",
        "RMD a",
        "DELE a",
        "RNFR a",
        "RNTO a",
        "SIZE a",
        "MDTM a",
        "LIST",
        "NLST",
        "MLSD",
        "MLST",
        "TYPE I",
        "MODE S",
        "STRU F",
        "ALLO 5",
        "REST 5",
        "RETR a",
        "STOR a",
        "STOU",
        "APPE a",
        "ABOR",
        "PASV",
        "EPSV",
        "EPSV ALL",
        "PORT 127,0,0,1,4,1",
        "EPRT |1|127.0.0.1|1025|",
        "AUTH TLS",
        "PBSZ 0",
        "PROT P",
        "CCC",
        "SITE RATIO",
        "SITE HELP",
        "SITE UTIME 20240101000000 a",
        "SITE CHMOD 644 a",
        "SITE NOPE",
        "MFMT 20240101000000 a",
        "HASH a",
        "XCRC a",
        "XMD5 a",
        "XSHA1 a",
        "XSHA256 a",
        "RANG 1 2",
        "AVBL",
    ];

    #[test]
    fn every_parsed_verb_has_exactly_one_row() {
        for line in LINES {
            let cmd = parse_line(line.as_bytes()).unwrap_or_else(|e| panic!("{line}: {e}"));
            let verb = cmd.verb();
            assert_eq!(
                VERBS.iter().filter(|r| r.verb == verb).count(),
                1,
                "{line} -> {verb}"
            );
        }
        for r in VERBS {
            assert!(
                LINES
                    .iter()
                    .any(|l| parse_line(l.as_bytes()).unwrap().verb() == r.verb),
                "row {} has no line in the test",
                r.verb
            );
        }
    }

    #[test]
    fn an_unknown_verb_gets_the_strictest_row() {
        let r = rules("XNEW");
        assert_eq!(r.login, Login::Required);
        assert_eq!(r.data, Data::None);
        assert!(r.path.is_some_and(|g| g.hook && g.need == Need::Read));
    }

    #[test]
    fn login_and_tls_columns() {
        let before = |l: &str| parse_line(l.as_bytes()).unwrap().allowed_before_login();
        for l in [
            "USER a", "PASS a", "AUTH TLS", "PBSZ 0", "PROT P", "CCC", "STAT", "FEAT",
        ] {
            assert!(before(l), "{l}");
        }
        for l in [
            "STAT a",
            "LIST",
            "CWD a",
            "TYPE I",
            "PASV",
            "SITE HELP",
            "REST 1",
        ] {
            assert!(!before(l), "{l}");
        }
        let clear: Vec<_> = VERBS
            .iter()
            .filter(|r| r.clear_refused)
            .map(|r| r.verb)
            .collect();
        assert_eq!(clear, ["USER"]);
    }

    #[test]
    fn data_columns() {
        let verbs = |f: fn(&VerbRules) -> bool| -> Vec<&str> {
            VERBS.iter().filter(|r| f(r)).map(|r| r.verb).collect()
        };
        assert_eq!(verbs(|r| r.epsv_all_refused), ["PASV", "PORT", "EPRT"]);
        assert_eq!(verbs(|r| r.data == Data::Lists), ["LIST", "NLST", "MLSD"]);
        assert_eq!(
            verbs(|r| r.data == Data::Transfers),
            ["RETR", "STOR", "APPE", "STOU"]
        );
        // REST survives what may come between it and its transfer, and the transfer itself.
        for v in [
            "TYPE", "PBSZ", "PROT", "PASV", "EPSV", "PORT", "EPRT", "RETR", "STOR", "APPE",
        ] {
            assert!(rules(v).keeps_rest, "{v}");
        }
        for v in ["STOU", "LIST", "SIZE", "NOOP", "CWD", "DELE"] {
            assert!(!rules(v).keeps_rest, "{v}");
        }
    }

    #[test]
    fn data_verbs_are_known_from_the_raw_line() {
        assert!(is_data_verb(b"RETR"));
        assert!(is_data_verb(b"stor \x00bad"));
        assert!(is_data_verb(b"Mlsd\r\n"));
        assert!(is_data_verb(b"\xff\xf4\xff\xf2RETR"));
        assert!(is_data_verb(b"\xf2STOR"));
        assert!(!is_data_verb(b"RETRX a"));
        assert!(!is_data_verb(b"SIZE a"));
        assert!(!is_data_verb(b""));
    }
}
