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

impl TlsFileError {
    /// The file at fault (for a pair that does not match: the key).
    pub fn path(&self) -> &Path {
        match self {
            TlsFileError::Read { path, .. }
            | TlsFileError::NoCertificate { path }
            | TlsFileError::NoKey { path }
            | TlsFileError::Broken { path, .. } => path,
            TlsFileError::Pair { key, .. } => key,
        }
    }
}

pub fn load_pair(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsFileError> {
    let chain = load_certs(cert)?;
    let key_bytes = read_capped(key)?;
    let key_der = match PrivateKeyDer::from_pem_slice(&key_bytes) {
        Ok(k) => k,
        Err(rustls_pki_types::pem::Error::NoItemsFound) => {
            return Err(TlsFileError::NoKey { path: key.into() });
        }
        Err(e) => return Err(broken(key, e)),
    };
    Ok((chain, key_der))
}

/// The certificates of a PEM file (a chain, or trust roots): at least one.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsFileError> {
    let bytes = read_capped(path)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| broken(path, e))?;
    if certs.is_empty() {
        return Err(TlsFileError::NoCertificate { path: path.into() });
    }
    Ok(certs)
}

/// Largest certificate or key file read (a long chain is a few tens of KiB).
const MAX_PEM: u64 = 1 << 20;

/// Reads a PEM file: a regular file (a FIFO or device in its place is refused, never waited
/// on), at most [`MAX_PEM`] bytes.
fn read_capped(path: &Path) -> Result<Vec<u8>, TlsFileError> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let err = |source| TlsFileError::Read {
        path: path.into(),
        source,
    };
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(err)?;
    let meta = f.metadata().map_err(err)?;
    if !meta.is_file() {
        return Err(err(std::io::Error::other("not a regular file")));
    }
    if meta.len() > MAX_PEM {
        return Err(err(std::io::Error::other(format!(
            "{} bytes; a certificate or key file is at most {} KiB",
            meta.len(),
            MAX_PEM >> 10
        ))));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    f.take(MAX_PEM + 1).read_to_end(&mut bytes).map_err(err)?;
    Ok(bytes)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_or_a_huge_file_in_place_of_a_certificate_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("cert.pem");
        let c = std::ffi::CString::new(fifo.display().to_string()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = load_pair(&fifo, &fifo).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        let big = dir.path().join("big.pem");
        std::fs::File::create(&big)
            .unwrap()
            .set_len(MAX_PEM + 1)
            .unwrap();
        let e = load_pair(&big, &big).unwrap_err().to_string();
        assert!(e.contains("at most 1024 KiB"), "{e}");
    }
}
