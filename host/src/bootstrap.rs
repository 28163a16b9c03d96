//! First start: what `ftpsd serve` creates when it is missing, so a newcomer gets a working
//! server from one command (self-signed certificate, users file, an `admin` account).

use std::path::PathBuf;

use crate::config::Config;
use crate::fs::Rights;
use crate::tls::{CertRequest, KeyKind};
use crate::users::file::{UserEntry, UsersFile};
use crate::users::password;

pub struct FirstStart {
    /// Set when the certificate was created now: its fingerprint.
    pub created_cert: Option<String>,
    /// Set when the admin account was created now: its name, password and home.
    pub created_admin: Option<(String, String, PathBuf)>,
}

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("cannot create {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Cert(#[from] crate::tls::certgen::CertGenError),
    #[error(transparent)]
    Users(#[from] crate::users::UsersFileError),
    #[error(transparent)]
    Lock(#[from] crate::users::edit_lock::EditLockError),
}

pub fn prepare(config: &Config) -> Result<FirstStart, BootstrapError> {
    let data_dir = config.data_dir();
    std::fs::create_dir_all(&data_dir).map_err(|source| BootstrapError::Io {
        path: data_dir.clone(),
        source,
    })?;
    let mut created_cert = None;
    let (cert, key, generated) = config.tls_paths();
    // With [acme], the server makes its own placeholder for the domains at start.
    if generated && config.acme.is_none() && !cert.exists() && !key.exists() {
        let req = CertRequest {
            common_name: "localhost".into(),
            country: None,
            state: None,
            locality: None,
            organization: Some("ftpsd self-signed".into()),
            org_unit: None,
            email: None,
            alt_names: vec!["127.0.0.1".into(), "::1".into()],
            key: KeyKind::EcdsaP256,
            days: 3650,
            ca: false,
        };
        let g = crate::tls::generate(&req)?;
        g.write_to(cert.parent().unwrap_or(&data_dir))?;
        created_cert = Some(g.fingerprint);
    }
    let users_path = config.users_file();
    let _editing = crate::users::edit_lock::EditLock::acquire(&users_path)?;
    let mut users = UsersFile::load(&users_path)?;
    let mut created_admin = None;
    // With a shared users file the cluster's replaces this one: an account made here would
    // be gone at once (add users with `ftpsd user add` on any node).
    if users.users.is_empty() && !config.state.share_users {
        let home = PathBuf::from("files");
        let pass = password::random_password();
        users.add(UserEntry::new(
            "admin",
            password::hash(&pass),
            home,
            Rights::All,
        ))?;
        let home_abs = users.resolve_path(&PathBuf::from("files"));
        std::fs::create_dir_all(&home_abs).map_err(|source| BootstrapError::Io {
            path: home_abs.clone(),
            source,
        })?;
        users.save()?;
        created_admin = Some(("admin".to_string(), pass, home_abs));
    }
    Ok(FirstStart {
        created_cert,
        created_admin,
    })
}
