//! The TLS-ALPN-01 responder (RFC 8737): a TLS listener (port 443) that completes only
//! handshakes offering ALPN `acme-tls/1` for a domain with a pending challenge, showing a
//! self-signed certificate that carries the key authorization's digest in the critical
//! acmeIdentifier extension. No application data is exchanged; like the HTTP-01 responder,
//! connections (in all and per address) and time are bounded, and a handshake for anything
//! else fails before the server signs anything.

use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use super::pending::Pending;
use crate::conn_slots::Slots;

pub const ALPN: &[u8] = b"acme-tls/1";
const DEADLINE: Duration = Duration::from_secs(5);

/// The certificate for `domain` whose acmeIdentifier is `digest` (SHA-256 of the key
/// authorization).
pub fn challenge_cert(domain: &str, digest: &[u8]) -> Result<Arc<CertifiedKey>, String> {
    let mut params =
        rcgen::CertificateParams::new(vec![domain.to_string()]).map_err(|e| e.to_string())?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.custom_extensions = vec![rcgen::CustomExtension::new_acme_identifier(digest)];
    let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
    let key_der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let signer =
        rustls::crypto::aws_lc_rs::sign::any_supported_type(&key_der).map_err(|e| e.to_string())?;
    Ok(Arc::new(CertifiedKey::new(
        vec![cert.der().clone()],
        signer,
    )))
}

#[derive(Debug)]
struct ChallengeCerts(Arc<Pending>);

impl ResolvesServerCert for ChallengeCerts {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let offered = hello.alpn().is_some_and(|mut a| a.any(|p| p == ALPN));
        if !offered {
            return None;
        }
        self.0.alpn_cert(hello.server_name()?)
    }
}

pub fn server_config(pending: Arc<Pending>) -> Result<Arc<ServerConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(ChallengeCerts(pending)));
    cfg.alpn_protocols = vec![ALPN.to_vec()];
    cfg.send_tls13_tickets = 0;
    Ok(Arc::new(cfg))
}

pub async fn serve(listener: TcpListener, config: Arc<ServerConfig>) {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let slots = Slots::new(super::RESPONDER_SLOTS, super::RESPONDER_SLOTS_PER_ADDRESS);
    crate::conn_slots::serve(listener, slots, "ACME TLS-ALPN-01 responder", |sock| {
        let acceptor = acceptor.clone();
        async move {
            let _ = tokio::time::timeout(DEADLINE, async {
                if let Ok(mut tls) = acceptor.accept(sock).await {
                    let name = tls.get_ref().1.server_name().map(str::to_string);
                    tracing::debug!(domain = ?name, "ACME TLS-ALPN-01 challenge answered");
                    let _ = tls.shutdown().await;
                }
            })
            .await;
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_certificate_names_the_domain_and_carries_the_digest() {
        let digest = [7u8; 32];
        let ck = challenge_cert("ftp.example.com", &digest).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(ck.cert[0].as_ref()).unwrap();
        let ext = cert
            .extensions()
            .iter()
            .find(|e| e.oid.to_id_string() == "1.3.6.1.5.5.7.1.31")
            .expect("acmeIdentifier");
        assert!(ext.critical);
        // An OCTET STRING of the 32-byte digest.
        assert_eq!(&ext.value[..2], &[0x04, 32]);
        assert_eq!(&ext.value[2..], &digest);
        let san = cert.subject_alternative_name().unwrap().unwrap();
        assert_eq!(
            format!("{:?}", san.value.general_names),
            "[DNSName(\"ftp.example.com\")]"
        );
    }
}
