//! Reading a PEM certificate chain and private key, with errors that name the file and the fix.

use std::path::{Path, PathBuf};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

#[derive(Debug, thiserror::Error)]
pub enum TlsFileError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}: no PEM certificate found (expected '-----BEGIN CERTIFICATE-----'); create one with 'ftpsd cert generate'"
    )]
    NoCertificate { path: PathBuf },
    #[error(
        "{path}: no PEM private key found (expected '-----BEGIN PRIVATE KEY-----' or an RSA/EC key block)"
    )]
    NoKey { path: PathBuf },
    #[error("{path}: broken PEM: {reason}")]
    Broken { path: PathBuf, reason: String },
    #[error("certificate {cert} and key {key} cannot be used together: {reason}")]
    Pair {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
}

pub fn load_pair(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsFileError> {
    let cert_bytes = std::fs::read(cert).map_err(|source| TlsFileError::Read {
        path: cert.into(),
        source,
    })?;
    let key_bytes = std::fs::read(key).map_err(|source| TlsFileError::Read {
        path: key.into(),
        source,
    })?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| broken(cert, e))?;
    if chain.is_empty() {
        return Err(TlsFileError::NoCertificate { path: cert.into() });
    }
    let key_der = match PrivateKeyDer::from_pem_slice(&key_bytes) {
        Ok(k) => k,
        Err(rustls_pki_types::pem::Error::NoItemsFound) => {
            return Err(TlsFileError::NoKey { path: key.into() });
        }
        Err(e) => return Err(broken(key, e)),
    };
    Ok((chain, key_der))
}

fn broken(path: &Path, e: rustls_pki_types::pem::Error) -> TlsFileError {
    TlsFileError::Broken {
        path: path.into(),
        reason: e.to_string(),
    }
}

/// SHA-256 fingerprint of a DER certificate, as `AB:CD:…` (what browsers and `openssl x509` show).
pub fn fingerprint_sha256(der: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
    digest
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}
