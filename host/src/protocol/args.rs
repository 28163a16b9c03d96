//! Arguments of the extension commands sync clients send (MFMT, SITE UTIME, SITE CHMOD, the
//! X* checksums, RANG). Pure: a line's argument in, a [`Command`] or a 501 out.

use super::command::{Command, HashAlgo, ParseError, SiteCommand};
use super::timestamp;

fn bad(verb: &'static str, reason: impl Into<String>) -> ParseError {
    ParseError::BadArgument {
        verb,
        reason: reason.into(),
    }
}

/// `MFMT YYYYMMDDHHMMSS[.sss] path`.
pub fn mfmt(arg: &str) -> Result<Command, ParseError> {
    let Some((time, path)) = arg.split_once(' ') else {
        return Err(ParseError::MissingArgument("MFMT"));
    };
    if !timestamp::is_time(time) || path.is_empty() {
        return Err(bad("MFMT", "expects YYYYMMDDHHMMSS and a path"));
    }
    Ok(Command::Mfmt {
        time: time.into(),
        path: path.into(),
    })
}

/// `SITE UTIME time path` (ProFTPD's two-argument form) or
/// `SITE UTIME path atime mtime ctime UTC` (lftp, ProFTPD's five-argument form; the path may
/// hold spaces, so the times are taken from the end).
pub fn site_utime(rest: &str) -> Result<SiteCommand, ParseError> {
    let words: Vec<&str> = rest.split(' ').collect();
    if words.len() >= 5
        && words[words.len() - 1].eq_ignore_ascii_case("UTC")
        && words[words.len() - 4..words.len() - 1]
            .iter()
            .all(|w| timestamp::is_time(w))
    {
        let path = words[..words.len() - 4].join(" ");
        if !path.is_empty() {
            return Ok(SiteCommand::Utime {
                time: words[words.len() - 3].into(),
                path,
            });
        }
    }
    if let Some((time, path)) = rest.split_once(' ')
        && timestamp::is_time(time)
        && !path.is_empty()
    {
        return Ok(SiteCommand::Utime {
            time: time.into(),
            path: path.into(),
        });
    }
    Err(bad(
        "SITE UTIME",
        "expects YYYYMMDDHHMMSS path, or path atime mtime ctime UTC",
    ))
}

/// `SITE CHMOD mode path`, mode in octal (at most 0777: no set-id or sticky bits).
pub fn site_chmod(rest: &str) -> Result<SiteCommand, ParseError> {
    let Some((mode, path)) = rest.split_once(' ') else {
        return Err(ParseError::MissingArgument("SITE CHMOD"));
    };
    let m = u32::from_str_radix(mode, 8)
        .ok()
        .filter(|m| *m <= 0o777 && !mode.is_empty() && mode.len() <= 4);
    match (m, path.is_empty()) {
        (Some(mode), false) => Ok(SiteCommand::Chmod {
            mode,
            path: path.into(),
        }),
        _ => Err(bad(
            "SITE CHMOD",
            "expects an octal mode up to 777 and a path",
        )),
    }
}

/// `XCRC path [start [end]]` and its siblings. A quoted path (`"my file"`) may hold spaces;
/// an unquoted one ends where the numbers begin.
pub fn xhash(algo: HashAlgo, verb: &'static str, arg: &str) -> Result<Command, ParseError> {
    let arg = arg.trim();
    if arg.is_empty() {
        return Err(ParseError::MissingArgument(verb));
    }
    let (path, rest) = if let Some(q) = arg.strip_prefix('"') {
        match q.split_once('"') {
            Some((p, r)) => (p.to_string(), r.trim().to_string()),
            None => return Err(bad(verb, "unterminated quote")),
        }
    } else {
        let words: Vec<&str> = arg.split(' ').collect();
        let numbers = words
            .iter()
            .rev()
            .take(2)
            .take_while(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()))
            .count()
            .min(words.len() - 1);
        (
            words[..words.len() - numbers].join(" "),
            words[words.len() - numbers..].join(" "),
        )
    };
    let nums: Result<Vec<u64>, _> = rest.split_whitespace().map(str::parse::<u64>).collect();
    let range = match nums.map_err(|_| bad(verb, "start and end must be numbers"))?[..] {
        [] => None,
        [s] => Some((s, None)),
        [s, e] if e >= s => Some((s, Some(e))),
        _ => return Err(bad(verb, "expects path [start [end]] with start <= end")),
    };
    if path.is_empty() {
        return Err(ParseError::MissingArgument(verb));
    }
    Ok(Command::XHash { algo, path, range })
}

/// `RANG start end` (end inclusive; `RANG 1 0` resets).
pub fn rang(arg: &str) -> Result<Command, ParseError> {
    let nums: Vec<&str> = arg.split_whitespace().collect();
    let parse = |s: &str| {
        s.parse::<u64>()
            .map_err(|_| bad("RANG", "expects two numbers"))
    };
    match nums[..] {
        [s, e] => Ok(Command::Rang(parse(s)?, parse(e)?)),
        _ => Err(bad("RANG", "expects start and end")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse::parse_line;
    use super::*;

    #[test]
    fn mfmt_and_both_site_utime_forms() {
        assert_eq!(
            parse_line(b"MFMT 20200101120000 my file.txt"),
            Ok(Command::Mfmt {
                time: "20200101120000".into(),
                path: "my file.txt".into()
            })
        );
        assert_eq!(parse_line(b"MFMT 2020 x").unwrap_err().code().get(), 501);
        assert_eq!(parse_line(b"MFMT").unwrap_err().code().get(), 501);
        assert_eq!(
            parse_line(b"SITE UTIME 20200101120000 a b.txt"),
            Ok(Command::Site(SiteCommand::Utime {
                time: "20200101120000".into(),
                path: "a b.txt".into()
            }))
        );
        assert_eq!(
            parse_line(b"SITE UTIME a b.txt 20200101000000 20200102000000 20200103000000 UTC"),
            Ok(Command::Site(SiteCommand::Utime {
                time: "20200102000000".into(),
                path: "a b.txt".into()
            }))
        );
        assert_eq!(
            parse_line(b"SITE UTIME x.txt").unwrap_err().code().get(),
            501
        );
    }

    #[test]
    fn chmod_modes_are_octal_and_plain() {
        assert_eq!(
            parse_line(b"SITE CHMOD 0644 dir/f"),
            Ok(Command::Site(SiteCommand::Chmod {
                mode: 0o644,
                path: "dir/f".into()
            }))
        );
        for bad in [
            "SITE CHMOD 4755 f",
            "SITE CHMOD 999 f",
            "SITE CHMOD 644",
            "SITE CHMOD x f",
        ] {
            assert_eq!(
                parse_line(bad.as_bytes()).unwrap_err().code().get(),
                501,
                "{bad}"
            );
        }
    }

    #[test]
    fn checksum_commands_take_paths_with_spaces_and_ranges() {
        assert_eq!(
            parse_line(b"XCRC \"my file 2\" 10 20"),
            Ok(Command::XHash {
                algo: HashAlgo::Crc32,
                path: "my file 2".into(),
                range: Some((10, Some(20)))
            })
        );
        assert_eq!(
            parse_line(b"XSHA256 my file.bin"),
            Ok(Command::XHash {
                algo: HashAlgo::Sha256,
                path: "my file.bin".into(),
                range: None
            })
        );
        assert_eq!(
            parse_line(b"XMD5 f 5"),
            Ok(Command::XHash {
                algo: HashAlgo::Md5,
                path: "f".into(),
                range: Some((5, None))
            })
        );
        assert_eq!(
            parse_line(b"XSHA1 2024"),
            Ok(Command::XHash {
                algo: HashAlgo::Sha1,
                path: "2024".into(),
                range: None
            })
        );
        assert_eq!(parse_line(b"XCRC f 9 3").unwrap_err().code().get(), 501);
        assert_eq!(parse_line(b"HASH a b"), Ok(Command::Hash("a b".into())));
        assert_eq!(parse_line(b"RANG 0 99"), Ok(Command::Rang(0, 99)));
        assert_eq!(parse_line(b"RANG x").unwrap_err().code().get(), 501);
        assert_eq!(HashAlgo::from_name("sha-256"), Some(HashAlgo::Sha256));
        assert_eq!(HashAlgo::from_name("SHA-512"), None);
    }
}
