//! FTP reply codes as one type. A reply's meaning is named where it is sent (`Code::NOT_LOGGED_IN`
//! rather than `530`), so the same situation gets the same code everywhere, and a number that is
//! not a reply code cannot reach the wire: plugins supply theirs through [`Code::refusal`].

use std::fmt;

/// An FTP reply code (RFC 959 §4.2, RFC 2228, RFC 2389, RFC 2428, RFC 3659, RFC 4217).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Code(u16);

impl Code {
    pub const OPENING_DATA: Code = Code(150);
    pub const OK: Code = Code(200);
    pub const SUPERFLUOUS: Code = Code(202);
    pub const SYSTEM_STATUS: Code = Code(211);
    pub const DIRECTORY_STATUS: Code = Code(212);
    pub const FILE_STATUS: Code = Code(213);
    pub const HELP: Code = Code(214);
    pub const SYSTEM_TYPE: Code = Code(215);
    pub const READY: Code = Code(220);
    pub const CLOSING: Code = Code(221);
    pub const DATA_OPEN: Code = Code(225);
    pub const TRANSFER_COMPLETE: Code = Code(226);
    pub const PASSIVE: Code = Code(227);
    pub const EXTENDED_PASSIVE: Code = Code(229);
    pub const LOGGED_IN: Code = Code(230);
    pub const SECURITY_EXCHANGE_DONE: Code = Code(234);
    pub const FILE_ACTION_OK: Code = Code(250);
    pub const PATH_CREATED: Code = Code(257);
    pub const NEED_PASSWORD: Code = Code(331);
    pub const PENDING: Code = Code(350);
    /// The session closes after this reply.
    pub const SERVICE_CLOSING: Code = Code(421);
    pub const CANT_OPEN_DATA: Code = Code(425);
    pub const TRANSFER_ABORTED: Code = Code(426);
    pub const FILE_BUSY: Code = Code(450);
    pub const LOCAL_ERROR: Code = Code(451);
    pub const NO_SPACE: Code = Code(452);
    pub const SYNTAX_ERROR: Code = Code(500);
    pub const BAD_ARGUMENTS: Code = Code(501);
    pub const NOT_IMPLEMENTED: Code = Code(502);
    pub const BAD_SEQUENCE: Code = Code(503);
    pub const BAD_PARAMETER: Code = Code(504);
    /// RFC 4217: a data connection cannot be opened with this PROT setting.
    pub const PROTECTION_REQUIRED: Code = Code(521);
    /// RFC 2428 (network protocol not supported); also the TLS failure of a data connection.
    pub const DATA_NEGOTIATION_FAILED: Code = Code(522);
    pub const NOT_LOGGED_IN: Code = Code(530);
    /// RFC 2228: command protection level denied for policy reasons (CCC).
    pub const PROTECTION_DENIED: Code = Code(533);
    /// RFC 2228: request denied for policy reasons.
    pub const POLICY_DENIED: Code = Code(534);
    /// RFC 2228: data protection level not supported.
    pub const PROT_NOT_SUPPORTED: Code = Code(536);
    pub const FILE_UNAVAILABLE: Code = Code(550);
    pub const STORAGE_EXCEEDED: Code = Code(552);
    pub const NAME_NOT_ALLOWED: Code = Code(553);
    /// RFC 3659: invalid REST parameter.
    pub const BAD_RESTART: Code = Code(554);

    /// A refusal supplied from outside (a plugin's verdict): any 4xx or 5xx is kept, anything
    /// else becomes `fallback`, so a plugin can never make a refusal look like a success.
    pub fn refusal(n: u16, fallback: Code) -> Code {
        if (400..600).contains(&n) {
            Code(n)
        } else {
            fallback
        }
    }

    pub const fn get(self) -> u16 {
        self.0
    }

    /// 1 to 5: preliminary, completion, intermediate, transient, permanent.
    pub const fn class(self) -> u16 {
        self.0 / 100
    }

    pub const fn is_positive(self) -> bool {
        self.0 < 400
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_from_outside_stay_refusals() {
        assert_eq!(Code::refusal(451, Code::FILE_UNAVAILABLE), Code(451));
        assert_eq!(Code::refusal(599, Code::FILE_UNAVAILABLE), Code(599));
        for bad in [0, 200, 226, 399, 600, 999, u16::MAX] {
            assert_eq!(
                Code::refusal(bad, Code::FILE_UNAVAILABLE),
                Code::FILE_UNAVAILABLE
            );
        }
    }

    #[test]
    fn classes() {
        assert_eq!(Code::OPENING_DATA.class(), 1);
        assert_eq!(Code::SERVICE_CLOSING.class(), 4);
        assert!(Code::PENDING.is_positive());
        assert!(!Code::NO_SPACE.is_positive());
        assert_eq!(Code::TRANSFER_COMPLETE.to_string(), "226");
    }
}
