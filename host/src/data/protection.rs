//! What protecting a data connection with TLS takes (PROT P).

use std::sync::Arc;
use std::time::Duration;

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
