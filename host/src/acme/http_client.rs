//! The HTTPS client the ACME account talks through: instant-acme's own has no time limit and
//! reads any body whole, so a CA (or something posing as one) that hangs would stop renewals
//! for good, and one that streams without end would take all memory. Each request here has a
//! deadline and each answer a size limit.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use instant_acme::{BodyWrapper, BytesResponse, Error, HttpClient};

/// One request, answer included.
const DEADLINE: Duration = Duration::from_secs(30);
/// Directory, orders, authorizations and certificate chains are a few KiB.
const MAX_ANSWER: usize = 1 << 20;

type Inner = Client<hyper_rustls::HttpsConnector<HttpConnector>, BodyWrapper<Bytes>>;

pub struct BoundedClient {
    inner: Inner,
    deadline: Duration,
}

impl BoundedClient {
    /// Trusting the system's roots, or only the PEM certificate(s) in `root`.
    pub fn new(root: Option<&Path>) -> Result<BoundedClient, String> {
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = match root {
            Some(path) => {
                let mut roots = rustls::RootCertStore::empty();
                for c in crate::tls::load_certs(path).map_err(|e| format!("acme.ca_root: {e}"))? {
                    roots
                        .add(c)
                        .map_err(|e| format!("acme.ca_root {}: {e}", path.display()))?;
                }
                let tls = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .map_err(|e| e.to_string())?
                    .with_root_certificates(roots)
                    .with_no_client_auth();
                hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls)
            }
            None => hyper_rustls::HttpsConnectorBuilder::new()
                .with_provider_and_platform_verifier(provider)
                .map_err(|e| format!("the system's certificate roots: {e}"))?,
        };
        let connector = builder.https_only().enable_http1().build();
        Ok(BoundedClient {
            inner: Client::builder(TokioExecutor::new()).build(connector),
            deadline: DEADLINE,
        })
    }
}

fn other(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Error {
    Error::Other(e.into())
}

impl HttpClient for BoundedClient {
    fn request(
        &self,
        req: hyper::http::Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, Error>> + Send>> {
        let sent = self.inner.request(req);
        let deadline = self.deadline;
        Box::pin(async move {
            let whole = async {
                let rsp = sent.await.map_err(other)?;
                let (parts, body) = rsp.into_parts();
                let bytes = Limited::new(body, MAX_ANSWER)
                    .collect()
                    .await
                    .map_err(|e| {
                        other(format!(
                            "the CA's answer was cut off ({e}; at most {} KiB is read)",
                            MAX_ANSWER / 1024
                        ))
                    })?
                    .to_bytes();
                Ok(BytesResponse::from(hyper::http::Response::from_parts(
                    parts,
                    Full::new(bytes),
                )))
            };
            tokio::time::timeout(deadline, whole).await.map_err(|_| {
                other(format!(
                    "the CA did not answer within {} s",
                    deadline.as_secs_f32()
                ))
            })?
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A TLS server on loopback that reads one request head, then answers with `answer`
    /// (which may never end, or never come).
    async fn fake_ca(
        dir: &Path,
        answer: &'static str,
    ) -> (std::net::SocketAddr, std::path::PathBuf) {
        let g = crate::tls::generate(&crate::tls::CertRequest::for_names(
            "localhost",
            &["127.0.0.1"],
            2,
        ))
        .unwrap();
        g.write_to(dir).unwrap();
        let tls = crate::tls::TlsConfigs::from_files(
            &dir.join("cert.pem"),
            &dir.join("key.pem"),
            crate::tls::MinVersion::Tls12,
        )
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.control.clone());
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            let (s, _) = l.accept().await.unwrap();
            let mut s = acceptor.accept(s).await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            match answer {
                "endless" => {
                    let _ = s
                        .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                        .await;
                    let chunk = format!("{:x}\r\n{}\r\n", 65536, "x".repeat(65536));
                    while s.write_all(chunk.as_bytes()).await.is_ok() {}
                }
                _ => std::future::pending::<()>().await,
            }
        });
        (addr, dir.join("cert.pem"))
    }

    async fn get(
        client: &BoundedClient,
        addr: std::net::SocketAddr,
    ) -> Result<BytesResponse, Error> {
        let req = hyper::http::Request::builder()
            .uri(format!("https://{addr}/dir"))
            .body(BodyWrapper::default())
            .unwrap();
        client.request(req).await
    }

    #[tokio::test]
    async fn an_endless_answer_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let (addr, root) = fake_ca(dir.path(), "endless").await;
        let client = BoundedClient::new(Some(&root)).unwrap();
        let err = get(&client, addr).await.err().expect("refused").to_string();
        assert!(err.contains("cut off"), "{err}");
    }

    #[tokio::test]
    async fn a_ca_that_never_answers_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let (addr, root) = fake_ca(dir.path(), "hang").await;
        let mut client = BoundedClient::new(Some(&root)).unwrap();
        client.deadline = Duration::from_millis(300);
        let err = get(&client, addr).await.err().expect("refused").to_string();
        assert!(err.contains("did not answer within"), "{err}");
    }
}
