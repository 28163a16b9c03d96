//! Access rules: IP allow/deny lists, connection limits before the banner, and per-user
//! session limits at login.

pub mod cluster_sessions;
pub mod ip_pattern;
pub mod kill_switch;
pub mod limits;
pub mod login_throttle;
pub mod managed;
pub mod refusal_log;
pub mod section;
pub mod sessions;

pub use ip_pattern::{IpPattern, IpRules};
pub use limits::{ConnectionGuard, ConnectionLimits, LimitError};
