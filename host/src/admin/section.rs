//! `[admin]`: the HTTP admin listener's settings. Kept apart from the listener so the config
//! can hold them without depending on the admin code.

use std::net::SocketAddr;

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminSection {
    pub enabled: bool,
    pub listen: SocketAddr,
    /// Default `<data_dir>/admin.token`, created (mode 0600) with a random token if missing.
    pub token_file: Option<std::path::PathBuf>,
    /// `/metrics` without the token, as Prometheus scrapers expect (counters only: no names,
    /// addresses or paths are in it). Applied at reload.
    pub metrics_public: bool,
}

impl Default for AdminSection {
    fn default() -> Self {
        AdminSection {
            enabled: false,
            listen: ([127, 0, 0, 1], 8021).into(),
            token_file: None,
            metrics_public: false,
        }
    }
}
