//! TLS for the control and data channels (rustls with aws-lc-rs).
//!
//! Both channels share one ticketer and one session cache, so a data connection can resume the
//! control connection's session. Each control session sees them through its own
//! `scope::ResumptionScope`, which finds only the sessions and tickets that session made; TLS
//! 1.3 tickets also carry a random token (`set_resumption_data`) that the data connection must
//! present. Together they prove a data connection resumed *this* control session, in TLS 1.2
//! and 1.3 (vsftpd's `require_ssl_reuse`).

pub mod certgen;
pub mod expiry;
pub mod pem;
pub mod scope;
pub mod section;
pub mod shared_tickets;

use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::server::ServerSessionMemoryCache;

pub use certgen::{CertRequest, GeneratedCert, GeneratedRequest, KeyKind, generate, request};
pub use pem::{TlsFileError, fingerprint_sha256, load_certs, load_pair};

/// Session tickets sent after a control handshake. rustls clients use each TLS 1.3 ticket once
/// and keep at most 8 per server; GnuTLS clients (lftp) reuse one.
const CONTROL_TICKETS: usize = 8;
/// Session tickets sent after every data handshake, uploads included. OpenSSL clients (curl,
/// PHP) and rustls clients use each TLS 1.3 ticket once: without a fresh ticket from each
/// data connection, the next one could not resume (curl keeps only the newest ticket; PHP
/// resumes from the one its last data connection received). Clients read them before closing
/// (curl and PHP read at close; the server replies 150 only once an early handshake has
/// finished, so the tickets are there before the client starts sending). Two, so a client that
/// uses one per connection gains one.
const DATA_TICKETS: usize = 2;

/// Which TLS sessions a protected data connection must resume (`require_session_reuse` of a
/// listener; see [`scope`] for what each mode allows). `true` means the default, `"user"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SessionReuse {
    /// Any TLS handshake is accepted on data connections (the address check still applies).
    Off,
    /// A session of this control connection only.
    Connection,
    /// A session of this user from this client address (any of its control connections).
    #[default]
    User,
}

impl<'de> serde::Deserialize<'de> for SessionReuse {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bool(bool),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Bool(true) => Ok(SessionReuse::User),
            Raw::Bool(false) => Ok(SessionReuse::Off),
            Raw::Text(t) => match t.as_str() {
                "user" => Ok(SessionReuse::User),
                "connection" => Ok(SessionReuse::Connection),
                "off" => Ok(SessionReuse::Off),
                other => Err(serde::de::Error::custom(format!(
                    "require_session_reuse = \"{other}\": expected \"user\" (default), \"connection\", \"off\", true or false"
                ))),
            },
        }
    }
}

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
    /// Data connections, both directions: each sends `DATA_TICKETS` fresh tickets.
    pub data: Arc<ServerConfig>,
    /// The leaf certificate's notAfter (Unix seconds), for the expiry metric and warnings.
    pub not_after: Option<i64>,
}

impl TlsConfigs {
    pub fn from_files(
        cert: &Path,
        key: &Path,
        min: MinVersion,
    ) -> Result<TlsConfigs, TlsFileError> {
        Self::from_files_with(cert, key, min, None)
    }

    /// As `from_files`, with the ticket keys of `ticketer` (shared by a cluster's nodes) in
    /// place of keys of this process's own.
    pub fn from_files_with(
        cert: &Path,
        key: &Path,
        min: MinVersion,
        ticketer: Option<Arc<dyn rustls::server::ProducesTickets>>,
    ) -> Result<TlsConfigs, TlsFileError> {
        let mismatch = |e: rustls::Error| TlsFileError::Pair {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            reason: e.to_string(),
        };
        let ticketer = match ticketer {
            Some(t) => t,
            None => rustls::crypto::aws_lc_rs::Ticketer::new().map_err(mismatch)?,
        };
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
        let provider = Arc::new(provider());
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
            cfg.ignore_client_order = true;
            Ok(Arc::new(cfg))
        };
        Ok(TlsConfigs {
            control: build(CONTROL_TICKETS)?,
            data: build(DATA_TICKETS)?,
            not_after: expiry::not_after(&chain[0]),
        })
    }
}

/// aws-lc-rs with AES-128-GCM first, chosen over the client's order: OpenSSL, GnuTLS and Go
/// clients put AES-256-GCM-SHA384 first, whose SHA-384 key schedule runs without CPU help
/// (SHA-256 has it) and whose cipher takes 14 rounds to AES-128's 10, on every handshake and
/// every byte. AES-128-GCM is TLS 1.3's mandatory suite and what browsers choose.
fn provider() -> rustls::crypto::CryptoProvider {
    let mut p = rustls::crypto::aws_lc_rs::default_provider();
    p.cipher_suites.sort_by_key(|s| match s.suite() {
        rustls::CipherSuite::TLS13_AES_128_GCM_SHA256 => 0,
        rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
        | rustls::CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => 1,
        _ => 2,
    });
    p
}
