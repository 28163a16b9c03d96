//! Control-line parser: bytes in, [`Command`] out. Pure, total (never panics), fuzzed in tests.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::command::{
    AuthMechanism, Command, EpsvArg, HashAlgo, MAX_LINE, ParseError, ProtectionLevel, SiteCommand,
    TransferType,
};

/// Parses one control line, with or without its trailing CR LF.
pub fn parse_line(raw: &[u8]) -> Result<Command, ParseError> {
    if raw.len() > MAX_LINE {
        return Err(ParseError::TooLong);
    }
    let raw = strip_telnet(raw);
    let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    let line = std::str::from_utf8(raw).map_err(|_| ParseError::NotUtf8)?;
    if line.trim().is_empty() {
        return Err(ParseError::Empty);
    }
    let (verb, arg) = match line.find(' ') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, ""),
    };
    let verb_upper = verb.to_ascii_uppercase();
    parse_verb(&verb_upper, arg, verb)
}

/// Removes Telnet IAC sequences (clients send `IAC IP IAC DM` before ABOR).
pub fn strip_telnet(mut raw: &[u8]) -> &[u8] {
    while raw.len() >= 2 && raw[0] == 0xFF {
        raw = &raw[2..];
    }
    // Some clients send a lone DM (0xF2) after the urgent data.
    if raw.first() == Some(&0xF2) {
        raw = &raw[1..];
    }
    raw
}

fn required(verb: &'static str, arg: &str) -> Result<String, ParseError> {
    if arg.is_empty() {
        Err(ParseError::MissingArgument(verb))
    } else {
        Ok(arg.to_string())
    }
}

fn optional(arg: &str) -> Option<String> {
    if arg.trim().is_empty() {
        None
    } else {
        Some(arg.to_string())
    }
}

/// LIST/NLST/STAT accept `ls`-style options (`-la`) that many clients send; they are ignored.
fn listing_arg(arg: &str) -> Option<String> {
    let mut rest = arg.trim_start();
    while rest.starts_with('-') {
        match rest.find(' ') {
            Some(i) => rest = rest[i + 1..].trim_start(),
            None => rest = "",
        }
    }
    optional(rest)
}

fn no_arg(verb: &'static str, arg: &str, cmd: Command) -> Result<Command, ParseError> {
    if arg.trim().is_empty() {
        Ok(cmd)
    } else {
        Err(ParseError::BadArgument {
            verb,
            reason: "takes no argument".into(),
        })
    }
}

fn parse_verb(verb: &str, arg: &str, original: &str) -> Result<Command, ParseError> {
    use Command as C;
    Ok(match verb {
        "USER" => C::User(required("USER", arg.trim())?),
        "PASS" => C::Pass(arg.to_string()),
        "QUIT" => C::Quit,
        "NOOP" => C::Noop,
        "SYST" => C::Syst,
        "FEAT" => no_arg("FEAT", arg, C::Feat)?,
        "OPTS" => C::Opts(required("OPTS", arg.trim())?),
        "HELP" => C::Help(optional(arg.trim())),
        "STAT" => C::Stat(listing_arg(arg)),
        "PWD" | "XPWD" => C::Pwd,
        "CWD" | "XCWD" => C::Cwd(required("CWD", arg)?),
        "CDUP" | "XCUP" => C::Cdup,
        "MKD" | "XMKD" => C::Mkd(required("MKD", arg)?),
        "RMD" | "XRMD" => C::Rmd(required("RMD", arg)?),
        "DELE" => C::Dele(required("DELE", arg)?),
        "RNFR" => C::Rnfr(required("RNFR", arg)?),
        "RNTO" => C::Rnto(required("RNTO", arg)?),
        "SIZE" => C::Size(required("SIZE", arg)?),
        "MDTM" => C::Mdtm(required("MDTM", arg)?),
        "LIST" => C::List(listing_arg(arg)),
        "NLST" => C::Nlst(listing_arg(arg)),
        "MLSD" => C::Mlsd(optional(arg)),
        "MLST" => C::Mlst(optional(arg)),
        "TYPE" => C::Type(parse_type(arg)?),
        "MODE" => C::Mode(parse_single_letter("MODE", arg, &['S'])?),
        "STRU" => C::Stru(parse_single_letter("STRU", arg, &['F'])?),
        "ALLO" => C::Allo(arg.split_whitespace().next().and_then(|n| n.parse().ok())),
        "REST" => C::Rest(parse_number("REST", arg)?),
        "RETR" => C::Retr(required("RETR", arg)?),
        "STOR" => C::Stor(required("STOR", arg)?),
        "STOU" => C::Stou(optional(arg)),
        "APPE" => C::Appe(required("APPE", arg)?),
        "ABOR" => C::Abor,
        "PASV" => C::Pasv,
        "EPSV" => C::Epsv(parse_epsv(arg)?),
        "PORT" => C::Port(parse_port(arg)?),
        "EPRT" => C::Eprt(parse_eprt(arg)?),
        "AUTH" => C::Auth(parse_auth(arg)?),
        "PBSZ" => C::Pbsz(parse_number("PBSZ", arg)?),
        "PROT" => C::Prot(parse_prot(arg)?),
        "CCC" => C::Ccc,
        "ACCT" => return Err(ParseError::NotImplemented("ACCT")),
        "SMNT" => return Err(ParseError::NotImplemented("SMNT")),
        "REIN" => return Err(ParseError::NotImplemented("REIN")),
        "SITE" => C::Site(parse_site(arg)?),
        "MFMT" => super::args::mfmt(arg)?,
        "HASH" => C::Hash(required("HASH", arg)?),
        "XCRC" => super::args::xhash(HashAlgo::Crc32, "XCRC", arg)?,
        "XMD5" => super::args::xhash(HashAlgo::Md5, "XMD5", arg)?,
        "XSHA1" => super::args::xhash(HashAlgo::Sha1, "XSHA1", arg)?,
        "XSHA256" => super::args::xhash(HashAlgo::Sha256, "XSHA256", arg)?,
        "RANG" => super::args::rang(arg)?,
        "AVBL" => C::Avbl(optional(arg)),
        "MIC" | "CONF" | "ENC" | "ADAT" => {
            return Err(ParseError::NotImplemented("RFC 2228 security data"));
        }
        _ => return Err(ParseError::Unknown(printable(original))),
    })
}

/// A verb echoed back in a reply: bounded and free of control characters.
fn printable(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(32).collect()
}

fn parse_site(arg: &str) -> Result<SiteCommand, ParseError> {
    let arg = arg.trim_start();
    let (sub, rest) = match arg.find(' ') {
        Some(i) => (&arg[..i], &arg[i + 1..]),
        None => (arg, ""),
    };
    let sub = sub.to_ascii_uppercase();
    Ok(match sub.as_str() {
        "" => return Err(ParseError::MissingArgument("SITE")),
        "RATIO" => SiteCommand::Ratio,
        "HELP" => SiteCommand::Help,
        "UTIME" => super::args::site_utime(rest)?,
        "CHMOD" => super::args::site_chmod(rest)?,
        _ => SiteCommand::Unsupported(printable(&sub)),
    })
}

fn parse_number(verb: &'static str, arg: &str) -> Result<u64, ParseError> {
    let arg = arg.trim();
    if arg.is_empty() {
        return Err(ParseError::MissingArgument(verb));
    }
    arg.parse::<u64>().map_err(|_| ParseError::BadArgument {
        verb,
        reason: format!("'{}' is not a non-negative number", printable(arg)),
    })
}

fn parse_single_letter(
    verb: &'static str,
    arg: &str,
    supported: &[char],
) -> Result<char, ParseError> {
    let arg = arg.trim().to_ascii_uppercase();
    let mut chars = arg.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if supported.contains(&c) => Ok(c),
        (Some(c), None) if c.is_ascii_alphabetic() => Err(ParseError::UnsupportedParameter(verb)),
        (None, _) => Err(ParseError::MissingArgument(verb)),
        _ => Err(ParseError::BadArgument {
            verb,
            reason: "expects a single letter".into(),
        }),
    }
}

fn parse_type(arg: &str) -> Result<TransferType, ParseError> {
    let upper = arg.trim().to_ascii_uppercase();
    let mut parts = upper.split_whitespace();
    match (parts.next(), parts.next(), parts.next()) {
        (None, _, _) => Err(ParseError::MissingArgument("TYPE")),
        (Some("A"), None | Some("N"), None) => Ok(TransferType::Ascii),
        (Some("I"), None, None) | (Some("L"), Some("8"), None) => Ok(TransferType::Image),
        (Some("A" | "E" | "L"), _, _) => Err(ParseError::UnsupportedParameter("TYPE")),
        _ => Err(ParseError::BadArgument {
            verb: "TYPE",
            reason: "expects A or I".into(),
        }),
    }
}

fn parse_epsv(arg: &str) -> Result<EpsvArg, ParseError> {
    let arg = arg.trim();
    if arg.is_empty() {
        return Ok(EpsvArg::Any);
    }
    if arg.eq_ignore_ascii_case("ALL") {
        return Ok(EpsvArg::All);
    }
    match arg {
        "1" => Ok(EpsvArg::Protocol(1)),
        "2" => Ok(EpsvArg::Protocol(2)),
        _ => Err(ParseError::BadArgument {
            verb: "EPSV",
            reason: "expects ALL, 1 or 2".into(),
        }),
    }
}

/// `PORT h1,h2,h3,h4,p1,p2` (RFC 959).
fn parse_port(arg: &str) -> Result<SocketAddr, ParseError> {
    let bad = |reason: &str| ParseError::BadArgument {
        verb: "PORT",
        reason: reason.into(),
    };
    let arg = arg.trim();
    if arg.is_empty() {
        return Err(ParseError::MissingArgument("PORT"));
    }
    let mut nums = [0u8; 6];
    let mut count = 0;
    for part in arg.split(',') {
        if count == 6 {
            return Err(bad("expects six comma-separated numbers"));
        }
        nums[count] = part
            .trim()
            .parse::<u8>()
            .map_err(|_| bad("each number must be 0-255"))?;
        count += 1;
    }
    if count != 6 {
        return Err(bad("expects six comma-separated numbers"));
    }
    let ip = Ipv4Addr::new(nums[0], nums[1], nums[2], nums[3]);
    let port = u16::from(nums[4]) << 8 | u16::from(nums[5]);
    Ok(SocketAddr::new(IpAddr::V4(ip), port))
}

/// `EPRT |proto|addr|port|` (RFC 2428); the delimiter is the first character.
fn parse_eprt(arg: &str) -> Result<SocketAddr, ParseError> {
    let bad = |reason: &str| ParseError::BadArgument {
        verb: "EPRT",
        reason: reason.into(),
    };
    let arg = arg.trim();
    let delim = arg
        .chars()
        .next()
        .ok_or(ParseError::MissingArgument("EPRT"))?;
    if !(33..=126).contains(&(delim as u32)) || delim.is_ascii_alphanumeric() {
        return Err(bad("invalid delimiter"));
    }
    let fields: Vec<&str> = arg.split(delim).collect();
    if fields.len() != 5 || !fields[0].is_empty() || !fields[4].is_empty() {
        return Err(bad("expects |proto|address|port|"));
    }
    let ip: IpAddr = match fields[1] {
        "1" => IpAddr::V4(fields[2].parse().map_err(|_| bad("invalid IPv4 address"))?),
        "2" => IpAddr::V6(fields[2].parse().map_err(|_| bad("invalid IPv6 address"))?),
        _ => {
            return Err(ParseError::BadArgument {
                verb: "EPRT",
                reason: "network protocol must be 1 or 2 (522)".into(),
            });
        }
    };
    let port: u16 = fields[3].parse().map_err(|_| bad("invalid port"))?;
    Ok(SocketAddr::new(ip, port))
}

fn parse_auth(arg: &str) -> Result<AuthMechanism, ParseError> {
    match arg.trim().to_ascii_uppercase().as_str() {
        "" => Err(ParseError::MissingArgument("AUTH")),
        "TLS" => Ok(AuthMechanism::Tls),
        "SSL" => Ok(AuthMechanism::Ssl),
        "TLS-C" => Ok(AuthMechanism::TlsC),
        "TLS-P" => Ok(AuthMechanism::TlsP),
        _ => Err(ParseError::UnsupportedParameter("AUTH")),
    }
}

fn parse_prot(arg: &str) -> Result<ProtectionLevel, ParseError> {
    match arg.trim().to_ascii_uppercase().as_str() {
        "" => Err(ParseError::MissingArgument("PROT")),
        "C" => Ok(ProtectionLevel::Clear),
        "P" => Ok(ProtectionLevel::Private),
        "S" => Ok(ProtectionLevel::Unsupported('S')),
        "E" => Ok(ProtectionLevel::Unsupported('E')),
        _ => Err(ParseError::BadArgument {
            verb: "PROT",
            reason: "expects C or P".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_are_case_insensitive_and_crlf_is_stripped() {
        assert_eq!(
            parse_line(b"user alice\r\n"),
            Ok(Command::User("alice".into()))
        );
        assert_eq!(parse_line(b"NoOp\r\n"), Ok(Command::Noop));
        assert_eq!(parse_line(b"XPWD"), Ok(Command::Pwd));
    }

    #[test]
    fn path_arguments_keep_spaces_and_utf8() {
        assert_eq!(
            parse_line("STOR my file ü.txt\r\n".as_bytes()),
            Ok(Command::Stor("my file ü.txt".into()))
        );
        assert_eq!(parse_line(b"CWD  lead"), Ok(Command::Cwd(" lead".into())));
    }

    #[test]
    fn password_is_kept_verbatim() {
        assert_eq!(
            parse_line(b"PASS  two  spaces \r\n"),
            Ok(Command::Pass(" two  spaces ".into()))
        );
        assert_eq!(parse_line(b"PASS\r\n"), Ok(Command::Pass(String::new())));
    }

    #[test]
    fn list_options_are_ignored() {
        assert_eq!(parse_line(b"LIST -la"), Ok(Command::List(None)));
        assert_eq!(
            parse_line(b"LIST -a dir x"),
            Ok(Command::List(Some("dir x".into())))
        );
        assert_eq!(parse_line(b"NLST"), Ok(Command::Nlst(None)));
    }

    #[test]
    fn port_and_eprt() {
        assert_eq!(
            parse_line(b"PORT 127,0,0,1,4,1"),
            Ok(Command::Port("127.0.0.1:1025".parse().unwrap()))
        );
        assert_eq!(
            parse_line(b"EPRT |1|127.0.0.1|2000|"),
            Ok(Command::Eprt("127.0.0.1:2000".parse().unwrap()))
        );
        assert_eq!(
            parse_line(b"EPRT |2|::1|2000|"),
            Ok(Command::Eprt("[::1]:2000".parse().unwrap()))
        );
        assert_eq!(
            parse_line(b"PORT 1,2,3,256,1,1").unwrap_err().code().get(),
            501
        );
        assert_eq!(parse_line(b"PORT 1,2,3,4,5").unwrap_err().code().get(), 501);
        assert_eq!(
            parse_line(b"PORT 1,2,3,4,5,6,7").unwrap_err().code().get(),
            501
        );
        assert_eq!(parse_line(b"EPRT |3|x|1|").unwrap_err().code().get(), 501);
        assert_eq!(
            parse_line(b"EPRT 1|127.0.0.1|2000|")
                .unwrap_err()
                .code()
                .get(),
            501
        );
    }

    #[test]
    fn type_mode_stru() {
        assert_eq!(
            parse_line(b"TYPE A"),
            Ok(Command::Type(TransferType::Ascii))
        );
        assert_eq!(
            parse_line(b"TYPE i"),
            Ok(Command::Type(TransferType::Image))
        );
        assert_eq!(
            parse_line(b"TYPE L 8"),
            Ok(Command::Type(TransferType::Image))
        );
        assert_eq!(parse_line(b"TYPE E").unwrap_err().code().get(), 504);
        assert_eq!(parse_line(b"TYPE Z").unwrap_err().code().get(), 501);
        assert_eq!(parse_line(b"MODE S"), Ok(Command::Mode('S')));
        assert_eq!(parse_line(b"MODE B").unwrap_err().code().get(), 504);
        assert_eq!(parse_line(b"STRU R").unwrap_err().code().get(), 504);
    }

    #[test]
    fn auth_prot_pbsz() {
        assert_eq!(
            parse_line(b"AUTH tls"),
            Ok(Command::Auth(AuthMechanism::Tls))
        );
        assert_eq!(
            parse_line(b"AUTH TLS-P"),
            Ok(Command::Auth(AuthMechanism::TlsP))
        );
        assert_eq!(parse_line(b"AUTH KERBEROS").unwrap_err().code().get(), 504);
        assert_eq!(
            parse_line(b"PROT P"),
            Ok(Command::Prot(ProtectionLevel::Private))
        );
        assert_eq!(parse_line(b"PBSZ 0"), Ok(Command::Pbsz(0)));
        assert_eq!(parse_line(b"PBSZ -1").unwrap_err().code().get(), 501);
    }

    #[test]
    fn errors_have_codes() {
        assert_eq!(parse_line(b"").unwrap_err(), ParseError::Empty);
        assert_eq!(parse_line(b"FOO bar").unwrap_err().code().get(), 500);
        assert_eq!(
            parse_line(b"SITE CHMOD 777 x"),
            Ok(Command::Site(SiteCommand::Chmod {
                mode: 0o777,
                path: "x".into()
            }))
        );
        assert_eq!(
            parse_line(b"site ratio"),
            Ok(Command::Site(SiteCommand::Ratio))
        );
        assert_eq!(parse_line(b"SITE").unwrap_err().code().get(), 501);
        assert_eq!(parse_line(b"RETR").unwrap_err().code().get(), 501);
        assert_eq!(
            parse_line(b"USER \xff\xfe").unwrap_err(),
            ParseError::NotUtf8
        );
        assert_eq!(
            parse_line(&vec![b'A'; MAX_LINE + 1]).unwrap_err(),
            ParseError::TooLong
        );
        assert_eq!(
            parse_line(b"REST 99999999999999999999999")
                .unwrap_err()
                .code()
                .get(),
            501
        );
    }

    #[test]
    fn telnet_interrupt_before_abor() {
        assert_eq!(parse_line(b"\xff\xf4\xff\xf2ABOR\r\n"), Ok(Command::Abor));
        assert_eq!(parse_line(b"\xff\xf4\xf2ABOR\r\n"), Ok(Command::Abor));
    }

    #[test]
    fn unknown_verb_is_sanitised() {
        let err = parse_line(b"X\x01Y\x1b[31m").unwrap_err();
        assert!(matches!(err, ParseError::Unknown(ref v) if !v.chars().any(char::is_control)));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20_000))]
        #[test]
        fn never_panics_on_random_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let _ = parse_line(&bytes);
        }

        #[test]
        fn never_panics_on_verb_like_lines(verb in "(PORT|EPRT|TYPE|REST|PBSZ|PROT|AUTH|EPSV|LIST|MODE|STRU|USER)", arg in "\\PC{0,40}") {
            let _ = parse_line(format!("{verb} {arg}\r\n").as_bytes());
        }
    }
}
