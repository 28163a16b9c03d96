//! Administration of a running server. The operations (bans now; sessions, plugins and
//! reloads with the admin API) are written once in [`ops`]; they are reached through a Unix
//! socket in the data directory (mode 0600: the file system decides who is an operator), which
//! the `ftpsd` CLI uses while the server runs.

pub mod bans;
pub mod client;
pub mod cluster_ops;
pub mod http;
pub mod logs;
pub mod manage_ops;
pub mod ops;
pub mod plugin_state;
pub mod section;
pub mod socket;

use std::path::PathBuf;

use crate::Config;

/// Where the admin socket of a server with this config lives.
pub fn socket_path(config: &Config) -> PathBuf {
    config.data_dir().join("admin.sock")
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("admin socket {path}: {source}")]
    Socket {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("admin request: {0}")]
    Protocol(String),
    #[error(transparent)]
    Store(#[from] crate::state::StoreError),
}
