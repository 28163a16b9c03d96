//! The data channel: how a transfer's connection is set up (PASV/EPSV listener or PORT/EPRT
//! connect), protected (TLS resuming the control session), and streamed (binary or ASCII).

pub mod active;
pub mod advertise;
pub mod ascii;
pub mod bandwidth;
pub mod error;
pub mod file_read;
pub mod hold;
pub mod listener_caps;
pub mod mapped_send;
pub mod page_cache;
pub mod passive;
pub mod pending;
pub mod protection;
pub mod section;
pub mod stall;
pub mod stream;
pub mod transfer;
pub mod upload_writer;

use std::net::SocketAddr;
use std::time::Duration;

pub use error::DataError;
pub use pending::{Go, PendingPassive};
pub use protection::DataTls;
pub use stream::DataStream;

/// What the last PASV/EPSV/PORT/EPRT set up; consumed by the next transfer command.
pub enum DataPlan {
    Passive(PendingPassive),
    Active {
        target: SocketAddr,
        source: SocketAddr,
    },
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
