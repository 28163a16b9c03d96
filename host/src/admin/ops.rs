//! The administrative operations, in one place for every way in (Unix socket, CLI offline).

use serde::{Deserialize, Serialize};

use super::bans::{self, Ban};
use crate::state::KvStore;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Request {
    Bans,
    /// Lift the bans of one IP, or all (`ip` absent): "re-initialise BFP".
    Unban {
        ip: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Response {
    Bans(Vec<Ban>),
    Lifted(usize),
    Error(String),
}

/// Runs a request against a store whose plugin namespaces are `plugins`.
pub fn handle(store: &dyn KvStore, plugins: &[String], req: Request) -> Response {
    let now = crate::state::now_ms();
    let result = match req {
        Request::Bans => bans::list(store, plugins, now).map(Response::Bans),
        Request::Unban { ip } => {
            if let Some(ip) = &ip
                && ip.parse::<std::net::IpAddr>().is_err()
            {
                return Response::Error(format!("'{ip}' is not an IP address"));
            }
            bans::lift(store, plugins, ip.as_deref(), now).map(|n| {
                tracing::info!(
                    ip = ip.as_deref().unwrap_or("all"),
                    lifted = n,
                    "bans lifted by the operator"
                );
                Response::Lifted(n)
            })
        }
    };
    result.unwrap_or_else(|e| Response::Error(e.to_string()))
}
