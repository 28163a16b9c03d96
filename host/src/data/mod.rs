//! The data channel: how a transfer's connection is set up (PASV/EPSV listener or PORT/EPRT
//! connect), protected (TLS resuming the control session), and streamed (binary or ASCII).

pub mod active;
pub mod advertise;
pub mod ascii;
pub mod file_read;
pub mod hold;
pub mod listener_caps;
pub mod mapped_send;
pub mod page_cache;
pub mod passive;
pub mod pending;
pub mod stall;
pub mod stream;
pub mod transfer;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::protocol::Code;

pub use pending::{Go, PendingPassive};
pub use stream::DataStream;

/// What the last PASV/EPSV/PORT/EPRT set up; consumed by the next transfer command.
pub enum DataPlan {
    Passive(PendingPassive),
    Active {
        target: SocketAddr,
        source: SocketAddr,
    },
}

/// TLS parameters of a protected data connection.
pub struct DataTls {
    pub config: Arc<rustls::ServerConfig>,
    /// Stamped into the tickets this connection issues (TLS 1.3 resumption data).
    pub token: [u8; 16],
    /// The sessions it may resume; a resumed TLS 1.3 session must carry one of its tokens.
    pub scope: Arc<crate::tls::scope::ResumptionScope>,
    pub require_reuse: bool,
    pub handshake_timeout: Duration,
    /// For an upload: fires when a ticket is created, to hold the tickets (see `hold`).
    pub hold: Option<Arc<crate::tls::scope::TicketSignal>>,
    /// User mode: where a tentative resumption is noted, and the session's user it must
    /// turn out to belong to (see `tls::scope`).
    pub tentative: Option<(crate::tls::scope::Tentative, String)>,
}

/// Why a data connection could not be used; each case knows its reply.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("Can't open data connection: {0}")]
    Open(String),
    #[error(
        "Data connection must resume the TLS session of the control connection (session reuse required)."
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
        }
    }
}

/// A transfer's data connection on its way: the passive one being accepted (and maybe already
/// secured), or the active one still to be made.
pub enum Opening {
    Passive(PendingPassive),
    Active {
        target: SocketAddr,
        source: SocketAddr,
        tls: Option<DataTls>,
        timeout: Duration,
    },
}

/// Commits `plan` to one transfer with its protection; call before the 1xx reply.
pub fn open(plan: DataPlan, tls: Option<DataTls>, timeout: Duration) -> Opening {
    match plan {
        DataPlan::Passive(mut pending) => {
            pending.go(Go { tls, timeout });
            Opening::Passive(pending)
        }
        DataPlan::Active { target, source } => Opening::Active {
            target,
            source,
            tls,
            timeout,
        },
    }
}

impl Opening {
    /// The data connection, from the control peer's address only, protected with TLS if PROT P
    /// is in force.
    pub async fn connected(self) -> Result<DataStream, DataError> {
        match self {
            Opening::Passive(pending) => pending.ready().await,
            Opening::Active {
                target,
                source,
                tls,
                timeout,
            } => {
                let tcp = active::connect(target, source, timeout).await?;
                let _ = tcp.set_nodelay(true);
                match tls {
                    None => Ok(DataStream::Plain(tcp)),
                    Some(t) => stream::accept_tls(tcp, t).await,
                }
            }
        }
    }
}
