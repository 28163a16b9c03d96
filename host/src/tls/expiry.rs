//! When the certificate in force expires. Read from the leaf whenever the certificate is
//! loaded (start, SIGHUP, the file watcher), shown as the `ftpsd_certificate_expiry_seconds`
//! metric, and said in the log: a warning from [`WARN_DAYS`] days before (repeated daily by the
//! server), an error once it has expired.

/// Days before expiry from which the log warns.
pub const WARN_DAYS: i64 = 14;

/// The leaf certificate's notAfter, in Unix seconds (None if it cannot be parsed).
pub fn not_after(leaf_der: &[u8]) -> Option<i64> {
    let (_, cert) = x509_parser::parse_x509_certificate(leaf_der).ok()?;
    Some(cert.validity().not_after.timestamp())
}

/// A certificate's subject as text (`CN=…, O=…`), for plugins shown a client certificate.
pub fn subject(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(cert.subject().to_string())
}

/// Where a certificate stands at `now` (Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Valid { days_left: i64 },
    ExpiresSoon { days_left: i64 },
    Expired { days_ago: i64 },
}

pub fn standing(not_after: i64, now: i64) -> Standing {
    let left = not_after - now;
    if left <= 0 {
        Standing::Expired {
            days_ago: -left / 86_400,
        }
    } else if left < WARN_DAYS * 86_400 {
        Standing::ExpiresSoon {
            days_left: left / 86_400,
        }
    } else {
        Standing::Valid {
            days_left: left / 86_400,
        }
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Logs where the certificate at `path` stands: a warning or an error when it needs renewal,
/// and (unless `only_when_due`) an info line when it does not.
pub fn log(path: &std::path::Path, not_after: Option<i64>, only_when_due: bool) {
    let Some(t) = not_after else {
        tracing::warn!(cert = %path.display(), "cannot read the certificate's expiry date");
        return;
    };
    let date = time::OffsetDateTime::from_unix_timestamp(t)
        .map(|d| d.date().to_string())
        .unwrap_or_else(|_| t.to_string());
    match standing(t, now()) {
        Standing::Valid { .. } if only_when_due => {}
        Standing::Valid { days_left } => {
            tracing::info!(cert = %path.display(), expires = %date, days_left, "certificate valid")
        }
        Standing::ExpiresSoon { days_left } => tracing::warn!(
            cert = %path.display(),
            expires = %date,
            days_left,
            "certificate expires in {days_left} days: renew it (the new files are picked up without a restart)"
        ),
        Standing::Expired { days_ago } => tracing::error!(
            cert = %path.display(),
            expired = %date,
            days_ago,
            "certificate has expired: clients will refuse it; renew it"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standing_by_days_left() {
        let day = 86_400;
        assert_eq!(standing(100 * day, 0), Standing::Valid { days_left: 100 });
        assert_eq!(standing(14 * day, 0), Standing::Valid { days_left: 14 });
        assert_eq!(
            standing(14 * day - 1, 0),
            Standing::ExpiresSoon { days_left: 13 }
        );
        assert_eq!(standing(0, 0), Standing::Expired { days_ago: 0 });
        assert_eq!(standing(0, 3 * day), Standing::Expired { days_ago: 3 });
    }

    #[test]
    fn reads_not_after_from_a_generated_certificate() {
        let g = crate::tls::generate(&crate::tls::CertRequest::for_names(
            "ftp.example.com",
            &[],
            10,
        ))
        .unwrap();
        use rustls_pki_types::pem::PemObject;
        let der = rustls_pki_types::CertificateDer::from_pem_slice(g.cert_pem.as_bytes()).unwrap();
        let t = not_after(&der).unwrap();
        assert!(matches!(
            standing(t, now()),
            Standing::ExpiresSoon { days_left: 9 | 10 }
        ));
        assert_eq!(not_after(b"not a certificate"), None);
    }
}
