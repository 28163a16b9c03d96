//! Access rules applied before the banner: connection limits (max users, per IP).

pub mod limits;

pub use limits::{ConnectionGuard, ConnectionLimits, LimitError};
