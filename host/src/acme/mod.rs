//! Certificates from an ACME CA (RFC 8555; Let's Encrypt by default) through `instant-acme`:
//! a self-signed placeholder until the first certificate arrives, then renewal before the end,
//! each new certificate checked, written atomically and put in force for new handshakes
//! without a restart. The CA proves the domains with HTTP-01 (port 80) or TLS-ALPN-01
//! (port 443) against the small responders here.

pub mod files;
pub mod http01;
pub mod http_client;
pub mod issue;
pub mod pending;
pub mod renew;
pub mod section;
pub mod tls_alpn01;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::context::ServerContext;
use pending::Pending;
use section::{AcmeSection, Challenge};

#[derive(Debug, thiserror::Error)]
pub enum AcmeError {
    /// The CA refused or could not be reached.
    #[error("ACME CA: {0}")]
    Ca(String),
    #[error("ACME: {0}")]
    Local(String),
    #[error("ACME: {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Connections the challenge responders hold at once, in all and per address.
pub const RESPONDER_SLOTS: usize = 1024;
pub const RESPONDER_SLOTS_PER_ADDRESS: usize = 8;

/// Where the account, certificate and key live: `<data_dir>/acme`.
pub fn state_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("acme")
}

/// A self-signed certificate for the domains, so the server starts (and clients that accept
/// it can connect) before the CA's certificate arrives.
pub fn ensure_placeholder(
    config: &Config,
    section: &AcmeSection,
) -> Result<(), crate::tls::certgen::CertGenError> {
    let (cert, key, _) = config.tls_paths();
    if cert.exists() && key.exists() {
        if crate::tls::TlsConfigs::from_files(&cert, &key, crate::tls::MinVersion::Tls12).is_ok() {
            return Ok(());
        }
        // Damaged (a disk error, a hand edit): the CA can give a new one, so the server starts
        // with the placeholder and orders, keeping the damaged files for a look.
        for f in [&cert, &key] {
            let mut aside = f.as_os_str().to_owned();
            aside.push(".damaged");
            let _ = std::fs::rename(f, &aside);
        }
        tracing::warn!(cert = %cert.display(), "the ACME certificate or key does not load; kept as .damaged, a new one is ordered");
    }
    let req = crate::tls::CertRequest {
        common_name: section.domains[0].clone(),
        country: None,
        state: None,
        locality: None,
        organization: Some("ftpsd placeholder until the ACME certificate".into()),
        org_unit: None,
        email: None,
        alt_names: section.domains[1..].to_vec(),
        key: crate::tls::KeyKind::EcdsaP256,
        days: 30,
        ca: false,
    };
    let g = crate::tls::generate(&req)?;
    g.write_to(cert.parent().unwrap_or(Path::new(".")))?;
    Ok(())
}

/// The challenge responder's listener, bound at start so a port already taken (or a port
/// below 1024 without the right) stops the start with its reason.
pub enum Responder {
    Http(tokio::net::TcpListener),
    TlsAlpn(tokio::net::TcpListener),
}

pub async fn bind(section: &AcmeSection) -> std::io::Result<Responder> {
    let l = tokio::net::TcpListener::bind(section.listen()).await?;
    Ok(match section.challenge {
        Challenge::Http01 => Responder::Http(l),
        Challenge::TlsAlpn01 => Responder::TlsAlpn(l),
    })
}

/// Runs the responder and the renewal loop, in this task: aborting it (the server stops)
/// ends both and frees the responder's port.
pub async fn run(ctx: Arc<ServerContext>, section: AcmeSection, responder: Responder) {
    let pending = Arc::new(Pending::default());
    let serving: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> = match responder {
        Responder::Http(l) => Box::pin(http01::serve(l, pending.clone())),
        Responder::TlsAlpn(l) => match tls_alpn01::server_config(pending.clone()) {
            Ok(cfg) => Box::pin(tls_alpn01::serve(l, cfg)),
            Err(e) => {
                tracing::error!(error = %e, "ACME TLS-ALPN-01 responder cannot start; no certificates will be ordered");
                return;
            }
        },
    };
    tokio::select! {
        _ = serving => {}
        _ = keep_renewed(&ctx, &section, &pending) => {}
    }
}

/// Longest sleep between looks at the certificate (a clock jump or a replaced file is seen
/// within this).
const LOOK_AGAIN: Duration = Duration::from_secs(12 * 3600);
/// Longest time one order may take, from account to chain.
const ORDER_DEADLINE: Duration = Duration::from_secs(600);
/// Longest wait after failures.
const MAX_RETRY: Duration = Duration::from_secs(24 * 3600);

async fn keep_renewed(ctx: &Arc<ServerContext>, section: &AcmeSection, pending: &Pending) {
    let dir = state_dir(&ctx.config.data_dir());
    let mut failures: u32 = 0;
    loop {
        let (cert, key, _) = ctx.config.tls_paths();
        let pem = std::fs::read(&cert).ok();
        let now = crate::state::now_ms() / 1000;
        let wait = match renew::due(
            pem.as_deref(),
            &section.domains,
            now as i64,
            section.renew_before_days,
        ) {
            renew::Due::At(t) => {
                Duration::from_secs((t - now as i64).max(1) as u64).min(LOOK_AGAIN)
            }
            renew::Due::Now(reason) => {
                tracing::info!(%reason, domains = ?section.domains, directory = %section.directory, challenge = section.challenge.as_str(), "ordering a certificate from the ACME CA");
                let ordered =
                    tokio::time::timeout(ORDER_DEADLINE, issue::issue(section, &dir, pending));
                let outcome = match ordered.await {
                    Ok(Ok(issued)) => install(ctx, &cert, &key, &issued, section),
                    Ok(Err(e)) => Err(e),
                    Err(_) => Err(AcmeError::Ca(format!(
                        "the order took longer than {} minutes",
                        ORDER_DEADLINE.as_secs() / 60
                    ))),
                };
                match outcome {
                    Ok(()) => {
                        failures = 0;
                        continue;
                    }
                    Err(e) => {
                        failures = failures.saturating_add(1);
                        let wait = Duration::from_secs(section.retry_secs)
                            .saturating_mul(1 << (failures - 1).min(16))
                            .min(MAX_RETRY);
                        tracing::error!(error = %e, retry_in_secs = wait.as_secs(), "no certificate from the ACME CA; the current one stays (a restart tries again at once)");
                        wait
                    }
                }
            }
        };
        tokio::time::sleep(wait).await;
    }
}

/// The notBefore of the first certificate in `pem`.
fn not_before(pem: &[u8]) -> Option<i64> {
    use rustls_pki_types::pem::PemObject;
    let der = rustls_pki_types::CertificateDer::pem_slice_iter(pem)
        .next()?
        .ok()?;
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
    Some(cert.validity().not_before.timestamp())
}

/// Checks the new chain and key as a server configuration, puts the files in place (key
/// first, both atomic) and the certificate in force for new handshakes.
fn install(
    ctx: &ServerContext,
    cert: &Path,
    key: &Path,
    issued: &issue::Issued,
    section: &AcmeSection,
) -> Result<(), AcmeError> {
    // A chain that is already due (expired, not yet valid, too short, without a domain) would
    // replace a working certificate and be ordered again at once: refused, the old one stays.
    let now = (crate::state::now_ms() / 1000) as i64;
    if let renew::Due::Now(reason) = renew::due(
        Some(issued.chain_pem.as_bytes()),
        &section.domains,
        now,
        section.renew_before_days,
    ) {
        return Err(AcmeError::Ca(format!(
            "the CA issued a certificate that is not usable: {reason}"
        )));
    }
    if not_before(issued.chain_pem.as_bytes()).is_some_and(|nb| nb > now + 3600) {
        return Err(AcmeError::Ca(
            "the CA issued a certificate that is not valid yet".into(),
        ));
    }
    let key_tmp = files::write_temp(key, issued.key_pem.as_bytes(), true)?;
    let cert_tmp = files::write_temp(cert, issued.chain_pem.as_bytes(), false)?;
    let min = ctx.live.load().tls.min_version;
    let configs = ctx
        .tls
        .load()
        .reloaded(&cert_tmp, &key_tmp, min)
        .map_err(|e| AcmeError::Local(format!("the CA's certificate does not load: {e}")))?;
    let not_after = configs.not_after;
    files::commit(&key_tmp, key)?;
    files::commit(&cert_tmp, cert)?;
    ctx.tls.store(Arc::new(configs));
    tracing::info!(cert = %cert.display(), "certificate from the ACME CA in force");
    crate::tls::expiry::log(cert, not_after, false);
    Ok(())
}
