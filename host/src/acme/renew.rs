//! When the certificate needs an order: pure over the certificate's bytes and the clock.

use x509_parser::extensions::GeneralName;

/// What to do about the certificate now.
#[derive(Debug, PartialEq, Eq)]
pub enum Due {
    /// Order one now, for this reason.
    Now(String),
    /// It is good until this Unix time; look again then.
    At(i64),
}

/// Whether the PEM certificate `pem` serves `domains` until `renew_before_days` before its end.
/// A CA whose certificates live shorter than three times `renew_before_days` gets renewed at
/// two thirds of the lifetime instead, so a long setting never renews in a loop.
pub fn due(pem: Option<&[u8]>, domains: &[String], now: i64, renew_before_days: u32) -> Due {
    let Some(pem) = pem else {
        return Due::Now("no certificate yet".into());
    };
    let Some(der) = rustls_pki_types::pem::PemObject::pem_slice_iter(pem)
        .filter_map(|c: Result<rustls_pki_types::CertificateDer<'static>, _>| c.ok())
        .next()
    else {
        return Due::Now("the certificate file holds no certificate".into());
    };
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der.as_ref()) else {
        return Due::Now("the certificate cannot be read".into());
    };
    if cert.issuer() == cert.subject() {
        return Due::Now(
            "the certificate is self-signed (the placeholder until the CA's arrives)".into(),
        );
    }
    let names: Vec<String> = match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                GeneralName::DNSName(d) => Some(d.to_ascii_lowercase()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    if let Some(missing) = domains
        .iter()
        .find(|d| !names.contains(&d.to_ascii_lowercase()))
    {
        return Due::Now(format!("the certificate does not name {missing}"));
    }
    let not_before = cert.validity().not_before.timestamp();
    let not_after = cert.validity().not_after.timestamp();
    let lifetime = (not_after - not_before).max(0);
    let before = (i64::from(renew_before_days) * 86_400).min(lifetime / 3);
    let renew_at = not_after - before;
    if now >= renew_at {
        Due::Now(format!(
            "the certificate ends in {} days",
            (not_after - now).max(0) / 86_400
        ))
    } else {
        Due::At(renew_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A certificate for `names`, valid `days` from `start`, signed by a CA (or self-signed).
    fn cert(names: &[&str], start: i64, days: i64, self_signed: bool) -> String {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
        p.not_before = time::OffsetDateTime::from_unix_timestamp(start).unwrap();
        p.not_after = time::OffsetDateTime::from_unix_timestamp(start + days * 86_400).unwrap();
        if self_signed {
            return p.self_signed(&key).unwrap().pem();
        }
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "Test CA");
        let issuer = rcgen::Issuer::new(ca, KeyPair::generate().unwrap());
        p.signed_by(&key, &issuer).unwrap().pem()
    }

    const DAY: i64 = 86_400;
    const T0: i64 = 1_780_000_000;

    #[test]
    fn renews_when_missing_placeholder_short_or_wrong_names() {
        let d = vec!["ftp.example.com".to_string()];
        assert!(matches!(due(None, &d, T0, 30), Due::Now(_)));
        assert!(matches!(due(Some(b"junk"), &d, T0, 30), Due::Now(_)));
        let placeholder = cert(&["ftp.example.com"], T0, 3650, true);
        assert!(
            matches!(due(Some(placeholder.as_bytes()), &d, T0, 30), Due::Now(r) if r.contains("self-signed"))
        );
        let good = cert(&["ftp.example.com"], T0, 90, false);
        assert_eq!(
            due(Some(good.as_bytes()), &d, T0 + DAY, 30),
            Due::At(T0 + 60 * DAY)
        );
        assert!(
            matches!(due(Some(good.as_bytes()), &d, T0 + 61 * DAY, 30), Due::Now(r) if r.contains("29 days"))
        );
        let other = cert(&["other.example.com"], T0, 90, false);
        assert!(
            matches!(due(Some(other.as_bytes()), &d, T0, 30), Due::Now(r) if r.contains("does not name ftp.example.com"))
        );
        // Names compare without case.
        let upper = vec!["FTP.Example.com".to_string()];
        assert!(matches!(
            due(Some(good.as_bytes()), &upper, T0, 30),
            Due::At(_)
        ));
    }

    #[test]
    fn a_long_renewal_window_never_loops() {
        let d = vec!["ftp.example.com".to_string()];
        let good = cert(&["ftp.example.com"], T0, 90, false);
        // 365 days before a 90-day certificate's end is before it began: renew at 2/3.
        assert_eq!(
            due(Some(good.as_bytes()), &d, T0, 365),
            Due::At(T0 + 60 * DAY)
        );
    }
}
