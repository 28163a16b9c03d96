//! `[tls]`: the certificate, the minimum version and how strict uploads are about close_notify.

use std::path::PathBuf;

use serde::Deserialize;

use super::MinVersion;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsSection {
    /// PEM certificate chain; default `<data_dir>/tls/cert.pem`, created on first start if missing.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub min_version: MinVersion,
    /// An upload over TLS counts only when the client ends it with close_notify (vsftpd's
    /// `strict_ssl_write_shutdown`): without it, a cut connection cannot be told from a
    /// complete upload. `false` keeps uploads of clients that just close the socket
    /// (netkit ftp-ssl) — and also truncated ones.
    pub require_close_notify: bool,
    /// Ticket keys shared by the nodes of a cluster (64 hex digits per line, mode 0600), so a
    /// client resumes its TLS session on whichever node it reaches. None: keys of this process.
    pub ticket_key_file: Option<PathBuf>,
}

impl Default for TlsSection {
    fn default() -> Self {
        TlsSection {
            cert: None,
            key: None,
            min_version: MinVersion::Tls12,
            require_close_notify: true,
            ticket_key_file: None,
        }
    }
}
