//! Why a data connection could not be used; each case knows its reply.

use crate::protocol::Code;

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("Can't open data connection: {0}")]
    Open(String),
    #[error(
        "Data connection must resume this client's TLS session (session reuse required): the client must offer it (Python ftplib: use the session-reuse subclass), or the server's operator must set require_session_reuse = \"off\" in [explicit] or [implicit]."
    )]
    ReuseRequired,
    #[error("TLS handshake on the data connection failed: {0}")]
    Tls(String),
    #[error("Connection closed; transfer aborted ({0}).")]
    Lost(String),
    #[error("Local error: {0}")]
    Local(String),
    #[error("Transfer aborted: {0}")]
    Refused(String),
    #[error("{0}")]
    Quota(String),
    /// The disk (not a quota) is full: 452, so a client can tell it from a broken server.
    #[error("Insufficient storage space: {0}")]
    NoSpace(String),
}

impl DataError {
    pub fn code(&self) -> Code {
        match self {
            DataError::Open(_) => Code::CANT_OPEN_DATA,
            DataError::ReuseRequired | DataError::Tls(_) => Code::DATA_NEGOTIATION_FAILED,
            DataError::Lost(_) => Code::TRANSFER_ABORTED,
            DataError::Local(_) => Code::LOCAL_ERROR,
            DataError::Refused(_) => Code::FILE_UNAVAILABLE,
            DataError::Quota(_) => Code::STORAGE_EXCEEDED,
            DataError::NoSpace(_) => Code::NO_SPACE,
        }
    }
}
