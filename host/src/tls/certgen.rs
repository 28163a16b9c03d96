//! The certificate wizard: a self-signed certificate (or a small CA) with the classic
//! distinguished-name fields, written as cert.pem + key.pem (key mode 0600).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KeyKind {
    #[value(name = "ecdsa-p256")]
    EcdsaP256,
    #[value(name = "rsa2048")]
    Rsa2048,
    #[value(name = "rsa4096")]
    Rsa4096,
}

#[derive(Debug, Clone)]
pub struct CertRequest {
    pub common_name: String,
    pub country: Option<String>,
    pub state: Option<String>,
    pub locality: Option<String>,
    pub organization: Option<String>,
    pub org_unit: Option<String>,
    pub email: Option<String>,
    /// Extra subject alternative names (DNS names or IP addresses); the CN is always included.
    pub alt_names: Vec<String>,
    pub key: KeyKind,
    pub days: u32,
    pub ca: bool,
}

impl CertRequest {
    /// A plain server certificate (ECDSA P-256, no subject fields beyond the CN): what a
    /// placeholder, a test CA endpoint or a quick self-signed setup needs.
    pub fn for_names(common_name: &str, alt_names: &[&str], days: u32) -> CertRequest {
        CertRequest {
            common_name: common_name.into(),
            country: None,
            state: None,
            locality: None,
            organization: None,
            org_unit: None,
            email: None,
            alt_names: alt_names.iter().map(|s| s.to_string()).collect(),
            key: KeyKind::EcdsaP256,
            days,
            ca: false,
        }
    }
}

pub struct GeneratedCert {
    pub cert_pem: String,
    pub key_pem: String,
    pub fingerprint: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CertGenError {
    #[error("invalid certificate request: {0}")]
    Invalid(String),
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Whether a name can be a subject alternative name: an IP address, or a DNS name
/// (labels of letters, digits and hyphens, optionally a leading `*.`).
fn san_worthy(name: &str) -> bool {
    if name.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    let host = name.strip_prefix("*.").unwrap_or(name);
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// The certificate parameters and a fresh key for `req`, validated.
fn params_and_key(req: &CertRequest) -> Result<(CertificateParams, KeyPair), CertGenError> {
    if req.common_name.trim().is_empty() {
        return Err(CertGenError::Invalid("--cn must not be empty".into()));
    }
    if let Some(c) = &req.country
        && (c.len() != 2 || !c.chars().all(|ch| ch.is_ascii_alphabetic()))
    {
        return Err(CertGenError::Invalid(format!(
            "--country must be a two-letter code like DE, not '{c}'"
        )));
    }
    if req.days == 0 || req.days > 36_500 {
        return Err(CertGenError::Invalid(
            "--days must be between 1 and 36500".into(),
        ));
    }
    // The CN names the host when it is a host name or an address ("ftp.example.com"); a CN
    // such as "Audit CA" is a label, not a DNS name, and gets no SAN.
    let mut names = Vec::new();
    if san_worthy(&req.common_name) {
        names.push(req.common_name.clone());
    }
    for n in &req.alt_names {
        if !san_worthy(n) {
            return Err(CertGenError::Invalid(format!(
                "'{n}' is not a host name (like ftp.example.com or *.example.com) or an IP address"
            )));
        }
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
    let mut params = CertificateParams::new(names)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, req.common_name.as_str());
    let fields = [
        (DnType::CountryName, &req.country),
        (DnType::StateOrProvinceName, &req.state),
        (DnType::LocalityName, &req.locality),
        (DnType::OrganizationName, &req.organization),
        (DnType::OrganizationalUnitName, &req.org_unit),
    ];
    for (kind, value) in fields {
        if let Some(v) = value {
            dn.push(kind, v.as_str());
        }
    }
    if let Some(email) = &req.email {
        // PKCS #9 emailAddress, as classic wizards put it in the subject.
        dn.push(
            DnType::CustomDnType(vec![1, 2, 840, 113_549, 1, 9, 1]),
            rcgen::DnValue::Ia5String(email.as_str().try_into()?),
        );
    }
    params.distinguished_name = dn;
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(i64::from(req.days));
    if req.ca {
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
    }
    let key = match req.key {
        KeyKind::EcdsaP256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?,
        KeyKind::Rsa2048 => {
            KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)?
        }
        KeyKind::Rsa4096 => {
            KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_4096)?
        }
    };
    Ok((params, key))
}

pub fn generate(req: &CertRequest) -> Result<GeneratedCert, CertGenError> {
    let (params, key) = params_and_key(req)?;
    let cert = params.self_signed(&key)?;
    Ok(GeneratedCert {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        fingerprint: super::fingerprint_sha256(cert.der()),
    })
}

/// A certificate signing request (PKCS #10) for a CA, with its new private key.
pub struct GeneratedRequest {
    pub csr_pem: String,
    pub key_pem: String,
}

/// A CSR with the same subject and alternative names `generate` would certify (`days` and
/// `ca` are the CA's to decide and are not part of a request).
pub fn request(req: &CertRequest) -> Result<GeneratedRequest, CertGenError> {
    let (params, key) = params_and_key(req)?;
    let csr = params.serialize_request(&key)?;
    Ok(GeneratedRequest {
        csr_pem: csr.pem()?,
        key_pem: key.serialize_pem(),
    })
}

impl GeneratedRequest {
    /// Writes `request.csr` and `key.pem` (mode 0600) into `dir`; an existing `key.pem` is
    /// never replaced (it may be the key of the certificate in use).
    pub fn write_to(&self, dir: &Path) -> Result<(PathBuf, PathBuf), CertGenError> {
        std::fs::create_dir_all(dir).map_err(|source| CertGenError::Write {
            path: dir.into(),
            source,
        })?;
        let csr_path = dir.join("request.csr");
        let key_path = dir.join("key.pem");
        if key_path.exists() {
            return Err(CertGenError::Invalid(format!(
                "{} exists (perhaps the key of the certificate in use); choose another --out folder",
                key_path.display()
            )));
        }
        write_file(&key_path, self.key_pem.as_bytes(), 0o600)?;
        write_file(&csr_path, self.csr_pem.as_bytes(), 0o644)?;
        Ok((csr_path, key_path))
    }
}

impl GeneratedCert {
    /// Writes `cert.pem` and `key.pem` into `dir` (created if missing); the key is mode 0600.
    pub fn write_to(&self, dir: &Path) -> Result<(PathBuf, PathBuf), CertGenError> {
        std::fs::create_dir_all(dir).map_err(|source| CertGenError::Write {
            path: dir.into(),
            source,
        })?;
        let cert_path = dir.join("cert.pem");
        let key_path = dir.join("key.pem");
        write_file(&key_path, self.key_pem.as_bytes(), 0o600)?;
        write_file(&cert_path, self.cert_pem.as_bytes(), 0o644)?;
        Ok((cert_path, key_path))
    }
}

fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), CertGenError> {
    let err = |source| CertGenError::Write {
        path: path.into(),
        source,
    };
    let tmp = path.with_extension("pem.tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(err)?;
    f.write_all(bytes).map_err(err)?;
    f.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> CertRequest {
        CertRequest {
            common_name: "ftp.example.test".into(),
            country: Some("DE".into()),
            state: None,
            locality: None,
            organization: Some("Example".into()),
            org_unit: None,
            email: Some("ops@example.test".into()),
            alt_names: vec!["127.0.0.1".into()],
            key: KeyKind::EcdsaP256,
            days: 30,
            ca: false,
        }
    }

    #[test]
    fn generated_pair_loads_into_rustls() {
        let dir = std::env::temp_dir().join(format!("ftpsd-certgen-{}", std::process::id()));
        let g = generate(&req()).unwrap();
        let (c, k) = g.write_to(&dir).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&k).unwrap().permissions().mode() & 0o777,
            0o600
        );
        crate::tls::TlsConfigs::from_files(&c, &k, crate::tls::MinVersion::Tls12).unwrap();
        assert_eq!(g.fingerprint.len(), 32 * 3 - 1);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_requests_are_refused() {
        assert!(
            generate(&CertRequest {
                country: Some("Germany".into()),
                ..req()
            })
            .is_err()
        );
        assert!(
            generate(&CertRequest {
                common_name: " ".into(),
                ..req()
            })
            .is_err()
        );
        assert!(generate(&CertRequest { days: 0, ..req() }).is_err());
        assert!(
            generate(&CertRequest {
                alt_names: vec!["bad name".into()],
                ..req()
            })
            .is_err()
        );
    }

    /// The DER of a generated certificate.
    fn der(g: &GeneratedCert) -> Vec<u8> {
        use rustls::pki_types::pem::PemObject;
        rustls::pki_types::CertificateDer::from_pem_slice(g.cert_pem.as_bytes())
            .unwrap()
            .to_vec()
    }

    /// Whether the DER holds `name` as a dNSName (context tag 2) of a SAN.
    fn has_dns_san(der: &[u8], name: &str) -> bool {
        let mut pattern = vec![0x82, name.len() as u8];
        pattern.extend_from_slice(name.as_bytes());
        der.windows(pattern.len()).any(|w| w == pattern)
    }

    #[test]
    fn only_host_names_become_dns_names() {
        let host = generate(&req()).unwrap();
        assert!(has_dns_san(&der(&host), "ftp.example.test"));
        let ca = generate(&CertRequest {
            common_name: "Audit CA".into(),
            alt_names: Vec::new(),
            ca: true,
            ..req()
        })
        .unwrap();
        assert!(!has_dns_san(&der(&ca), "Audit CA"));
        for (name, ok) in [
            ("ftp.example.com", true),
            ("*.example.com", true),
            ("localhost", true),
            ("::1", true),
            ("10.0.0.1", true),
            ("Audit CA", false),
            ("-bad.example", false),
            ("a..b", false),
            ("", false),
        ] {
            assert_eq!(san_worthy(name), ok, "{name}");
        }
    }
}
