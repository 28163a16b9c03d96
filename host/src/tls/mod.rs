//! TLS for the control and data channels (rustls with aws-lc-rs).
//!
//! Both channels share one ticketer and one session cache, so a data connection can resume the
//! control connection's session. Each control session sees them through its own
//! `scope::ResumptionScope`, which finds only the sessions and tickets that session made; TLS
//! 1.3 tickets also carry a random token (`set_resumption_data`) that the data connection must
//! present. Together they prove a data connection resumed *this* control session, in TLS 1.2
//! and 1.3 (vsftpd's `require_ssl_reuse`).

pub mod certgen;
pub mod pem;
pub mod scope;

use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::server::ServerSessionMemoryCache;

pub use certgen::{CertRequest, GeneratedCert, KeyKind, generate};
pub use pem::{TlsFileError, fingerprint_sha256, load_pair};

/// Session tickets sent after a control handshake. rustls clients use each TLS 1.3 ticket once
/// and keep at most 8 per server; OpenSSL and GnuTLS clients reuse one. Upload data connections
/// send none (see `data_upload`), download ones send two, so a rustls client can make 8
/// protected uploads in a row before a download or listing must replenish its tickets.
const CONTROL_TICKETS: usize = 8;

/// Minimum protocol version accepted (config `tls.min_version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub enum MinVersion {
    #[serde(rename = "1.2")]
    Tls12,
    #[serde(rename = "1.3")]
    Tls13,
}

/// The two server configurations a listener needs.
#[derive(Clone)]
pub struct TlsConfigs {
    pub control: Arc<ServerConfig>,
    /// Upload data connections send no session tickets: clients never read an upload
    /// connection, would close it with unread ticket bytes, and the RST can eat the upload's tail.
    pub data_upload: Arc<ServerConfig>,
    /// Download data connections send two fresh tickets (stamped with the same control token):
    /// a client that uses each TLS 1.3 ticket once (rustls) gains one per download, so uploads
    /// interleaved with any download never run it dry; and clients read downloads anyway.
    /// Handshakes a client starts before its transfer command (curl) use it too.
    pub data_download: Arc<ServerConfig>,
}

impl TlsConfigs {
    pub fn from_files(
        cert: &Path,
        key: &Path,
        min: MinVersion,
    ) -> Result<TlsConfigs, TlsFileError> {
        let mismatch = |e: rustls::Error| TlsFileError::Pair {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            reason: e.to_string(),
        };
        let ticketer = rustls::crypto::aws_lc_rs::Ticketer::new().map_err(mismatch)?;
        let cache: Arc<dyn rustls::server::StoresServerSessions> =
            ServerSessionMemoryCache::new(4096);
        Self::build(cert, key, min, ticketer, cache)
    }

    /// New configs from (possibly new) certificate files that keep this one's ticket keys and
    /// session cache: sessions that began before a certificate reload still resume on their
    /// data connections.
    pub fn reloaded(
        &self,
        cert: &Path,
        key: &Path,
        min: MinVersion,
    ) -> Result<TlsConfigs, TlsFileError> {
        Self::build(
            cert,
            key,
            min,
            self.control.ticketer.clone(),
            self.control.session_storage.clone(),
        )
    }

    fn build(
        cert: &Path,
        key: &Path,
        min: MinVersion,
        ticketer: Arc<dyn rustls::server::ProducesTickets>,
        cache: Arc<dyn rustls::server::StoresServerSessions>,
    ) -> Result<TlsConfigs, TlsFileError> {
        let (chain, key_der) = load_pair(cert, key)?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let versions: &[&rustls::SupportedProtocolVersion] = match min {
            MinVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
            MinVersion::Tls13 => &[&rustls::version::TLS13],
        };
        let mismatch = |e: rustls::Error| TlsFileError::Pair {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            reason: match e {
                rustls::Error::InconsistentKeys(_) => {
                    "the private key does not belong to the certificate".into()
                }
                other => other.to_string(),
            },
        };
        let build = |tickets: usize| -> Result<Arc<ServerConfig>, TlsFileError> {
            let mut cfg = ServerConfig::builder_with_provider(provider.clone())
                .with_protocol_versions(versions)
                .map_err(mismatch)?
                .with_no_client_auth()
                .with_single_cert(chain.clone(), key_der.clone_key())
                .map_err(mismatch)?;
            cfg.ticketer = ticketer.clone();
            cfg.session_storage = cache.clone();
            cfg.send_tls13_tickets = tickets;
            Ok(Arc::new(cfg))
        };
        Ok(TlsConfigs {
            control: build(CONTROL_TICKETS)?,
            data_upload: build(0)?,
            data_download: build(2)?,
        })
    }
}
