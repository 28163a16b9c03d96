//! Users: the users file (TOML), argon2id password hashes, and authentication with the same
//! reply and the same cost for unknown users and wrong passwords.

pub mod auth;
pub mod csv_import;
pub mod edit_lock;
pub mod entry;
pub mod external;
pub mod file;
pub(crate) mod file_checks;
pub mod manage;
pub mod merge;
pub mod password;
pub mod shares;
pub mod verifier;

pub use auth::{Authenticator, LoginError};
pub use file::{UserEntry, UsersFile, UsersFileError};
