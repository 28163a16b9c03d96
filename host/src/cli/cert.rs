use std::path::PathBuf;

use ftpsd::tls::{CertRequest, KeyKind};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Create a self-signed certificate (or CA) as cert.pem + key.pem (key mode 0600) in --out,
    /// and print its SHA-256 fingerprint. Point `tls.cert`/`tls.key` in the config at them.
    Generate(GenerateArgs),
}

#[derive(clap::Args)]
pub struct GenerateArgs {
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
    /// Validity in days.
    #[arg(long, default_value_t = 3650)]
    days: u32,
    /// Make a CA certificate (can sign other certificates).
    #[arg(long)]
    ca: bool,
    /// Output directory (created if missing).
    #[arg(long)]
    out: PathBuf,
}

pub fn run(cmd: Command) -> anyhow::Result<()> {
    let Command::Generate(a) = cmd;
    let req = CertRequest {
        common_name: a.cn,
        country: a.country,
        state: a.state,
        locality: a.locality,
        organization: a.org,
        org_unit: a.org_unit,
        email: a.email,
        alt_names: a.san,
        key: a.key,
        days: a.days,
        ca: a.ca,
    };
    let g = ftpsd::tls::generate(&req)?;
    let (cert, key) = g.write_to(&a.out)?;
    println!("certificate: {}", cert.display());
    println!("private key: {} (mode 0600)", key.display());
    println!("SHA-256 fingerprint: {}", g.fingerprint);
    Ok(())
}
