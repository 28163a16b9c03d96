//! What a control line means: [`Command`] and its argument types, and [`ParseError`] with its
//! reply code. Parsing lives in `parse` (and `args` for the longer arguments).

use std::net::SocketAddr;

/// Longest control line accepted, CRLF included. Longer lines are answered with 500.
pub const MAX_LINE: usize = 4096;

/// One parsed control command. Path arguments are kept verbatim (spaces and UTF-8 included);
/// resolving them against the user's mounts is the filesystem view's job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    User(String),
    Pass(String),
    Quit,
    Noop,
    Syst,
    Feat,
    Opts(String),
    Help(Option<String>),
    Stat(Option<String>),
    Pwd,
    Cwd(String),
    Cdup,
    Mkd(String),
    Rmd(String),
    Dele(String),
    Rnfr(String),
    Rnto(String),
    Size(String),
    Mdtm(String),
    List(Option<String>),
    Nlst(Option<String>),
    Mlsd(Option<String>),
    Mlst(Option<String>),
    Type(TransferType),
    Mode(char),
    Stru(char),
    /// ALLO with the size the client announces (None: no usable number).
    Allo(Option<u64>),
    Rest(u64),
    Retr(String),
    Stor(String),
    Stou(Option<String>),
    Appe(String),
    Abor,
    Pasv,
    Epsv(EpsvArg),
    Port(SocketAddr),
    Eprt(SocketAddr),
    Auth(AuthMechanism),
    Pbsz(u64),
    Prot(ProtectionLevel),
    Ccc,
    Site(SiteCommand),
    /// MFMT time path: set a file's modification time (draft-somers-ftp-mfxx).
    Mfmt {
        time: String,
        path: String,
    },
    /// HASH path (draft-bryan-ftpext-hash), with the algorithm chosen by OPTS HASH.
    Hash(String),
    /// XCRC/XMD5/XSHA1/XSHA256 path [start [end]]: the older, server-specific checksums.
    XHash {
        algo: HashAlgo,
        path: String,
        range: Option<(u64, Option<u64>)>,
    },
    /// RANG start end: the byte range of the next HASH (draft-bryan-ftp-range).
    Rang(u64, u64),
    /// AVBL [path]: bytes the user may still store there (draft-peterson-streamlined-ftp).
    Avbl(Option<String>),
}

/// Checksums HASH and the X* commands compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgo {
    Sha256,
    Sha1,
    Md5,
    Crc32,
}

impl HashAlgo {
    pub const ALL: [HashAlgo; 4] = [
        HashAlgo::Sha256,
        HashAlgo::Sha1,
        HashAlgo::Md5,
        HashAlgo::Crc32,
    ];

    /// The name HASH, FEAT and OPTS HASH use.
    pub fn name(self) -> &'static str {
        match self {
            HashAlgo::Sha256 => "SHA-256",
            HashAlgo::Sha1 => "SHA-1",
            HashAlgo::Md5 => "MD5",
            HashAlgo::Crc32 => "CRC32",
        }
    }

    pub fn from_name(s: &str) -> Option<HashAlgo> {
        HashAlgo::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(s.trim()))
    }
}

/// `SITE` subcommands (RFC 959 leaves them to the server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiteCommand {
    /// The user's upload/download standing.
    Ratio,
    Help,
    /// SITE UTIME: set a modification time; both forms clients send are accepted:
    /// `SITE UTIME time path` and `SITE UTIME path atime mtime ctime UTC` (lftp).
    Utime {
        time: String,
        path: String,
    },
    /// SITE CHMOD mode path (octal permission bits).
    Chmod {
        mode: u32,
        path: String,
    },
    /// Anything else: answered 502 naming it.
    Unsupported(String),
}

/// TYPE argument. `L 8` is the same as image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferType {
    Ascii,
    Image,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpsvArg {
    Any,
    /// `EPSV 1` / `EPSV 2`: the network protocol the client wants.
    Protocol(u8),
    /// `EPSV ALL`: from now on only EPSV may set up data connections.
    All,
}

/// AUTH mechanisms. TLS-C is TLS; TLS-P and SSL additionally imply PROT P (historic drafts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMechanism {
    Tls,
    Ssl,
    TlsC,
    TlsP,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtectionLevel {
    Clear,
    Private,
    /// S and E exist in RFC 2228 but have no meaning with TLS (RFC 4217 answers 536).
    Unsupported(char),
}

/// Why a line is not a command. Each case knows its reply code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("Empty command line.")]
    Empty,
    #[error("Command line too long (limit {MAX_LINE} bytes).")]
    TooLong,
    #[error("Command line is not valid UTF-8.")]
    NotUtf8,
    #[error("Unknown command '{0}'.")]
    Unknown(String),
    #[error("Command '{0}' is not implemented.")]
    NotImplemented(&'static str),
    #[error("{0} needs an argument.")]
    MissingArgument(&'static str),
    #[error("{verb}: {reason}")]
    BadArgument { verb: &'static str, reason: String },
    #[error("{0} parameter not supported.")]
    UnsupportedParameter(&'static str),
}

impl ParseError {
    /// The FTP reply code for this error (RFC 959 §4.2).
    pub fn code(&self) -> super::code::Code {
        match self {
            ParseError::Empty
            | ParseError::TooLong
            | ParseError::NotUtf8
            | ParseError::Unknown(_) => super::code::Code::SYNTAX_ERROR,
            ParseError::NotImplemented(_) => super::code::Code::NOT_IMPLEMENTED,
            ParseError::MissingArgument(_) | ParseError::BadArgument { .. } => {
                super::code::Code::BAD_ARGUMENTS
            }
            ParseError::UnsupportedParameter(_) => super::code::Code::BAD_PARAMETER,
        }
    }
}
