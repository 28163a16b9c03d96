use std::path::PathBuf;

use ftpsd::tls::{CertRequest, KeyKind};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Create a self-signed certificate (or CA) as cert.pem + key.pem (key mode 0600) in --out,
    /// and print its SHA-256 fingerprint. Point `tls.cert`/`tls.key` in the config at them.
    Generate(GenerateArgs),
    /// Create a certificate signing request for a CA: request.csr + a new key.pem (mode 0600)
    /// in --out. Send request.csr to the CA; put the certificate it returns and key.pem in the
    /// config (a running server picks up changed files by itself).
    Csr(CsrArgs),
}

/// The subject and names a certificate or request is for.
#[derive(clap::Args)]
pub struct Subject {
    /// Common name: the host name clients connect to (also added as subject alternative name).
    #[arg(long)]
    cn: String,
    /// Two-letter country code, e.g. DE.
    #[arg(long)]
    country: Option<String>,
    #[arg(long)]
    state: Option<String>,
    #[arg(long)]
    locality: Option<String>,
    #[arg(long)]
    org: Option<String>,
    #[arg(long = "org-unit")]
    org_unit: Option<String>,
    #[arg(long)]
    email: Option<String>,
    /// Extra subject alternative name (DNS name or IP); repeatable.
    #[arg(long = "san")]
    san: Vec<String>,
    #[arg(long, value_enum, default_value = "ecdsa-p256")]
    key: KeyKind,
    /// Output directory (created if missing).
    #[arg(long)]
    out: PathBuf,
}

#[derive(clap::Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    subject: Subject,
    /// Validity in days.
    #[arg(long, default_value_t = 3650)]
    days: u32,
    /// Make a CA certificate (can sign other certificates).
    #[arg(long)]
    ca: bool,
}

#[derive(clap::Args)]
pub struct CsrArgs {
    #[command(flatten)]
    subject: Subject,
}

fn cert_request(s: Subject, days: u32, ca: bool) -> (CertRequest, PathBuf) {
    (
        CertRequest {
            common_name: s.cn,
            country: s.country,
            state: s.state,
            locality: s.locality,
            organization: s.org,
            org_unit: s.org_unit,
            email: s.email,
            alt_names: s.san,
            key: s.key,
            days,
            ca,
        },
        s.out,
    )
}

pub fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Generate(a) => {
            let (req, out) = cert_request(a.subject, a.days, a.ca);
            let g = ftpsd::tls::generate(&req)?;
            let (cert, key) = g.write_to(&out)?;
            println!("certificate: {}", cert.display());
            println!("private key: {} (mode 0600)", key.display());
            println!("SHA-256 fingerprint: {}", g.fingerprint);
        }
        Command::Csr(a) => {
            let (req, out) = cert_request(a.subject, 1, false);
            let r = ftpsd::tls::request(&req)?;
            let (csr, key) = r.write_to(&out)?;
            println!("signing request: {} (send it to your CA)", csr.display());
            println!(
                "private key:     {} (mode 0600; keep it, it belongs to the certificate the CA returns)",
                key.display()
            );
        }
    }
    Ok(())
}
