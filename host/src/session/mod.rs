//! One control connection: its state machine and main loop. One tokio task per session.
//!
//! - `state`: the session's state and the helpers handlers use;
//! - `main_loop`: reading commands, timeouts, the transfer in progress;
//! - `commands`: one file per verb, and `dispatch`;
//! - `gates`: the rules path verbs share; `hooks`: where the session meets the plugins;
//! - `refusal` (what a refused command returns) and `refuse` (the one place it is answered);
//! - `login`, `transfer` and `running`: the login's view, starting and ending transfers;
//! - `control`: the control connection itself (plain or TLS).

pub mod authenticate;
pub mod commands;
pub mod control;
pub mod gates;
pub mod held;
pub mod hooks;
pub mod login;
pub mod main_loop;
pub mod refusal;
pub mod refuse;
pub mod running;
pub mod state;
pub mod transfer;
pub mod upload_actions;

pub use control::{ControlConn, ControlStream, Line};
pub use refusal::{Handled, Refusal};
pub use running::RunningTransfer;
pub use state::{LoggedIn, Protection, Session};

#[cfg(test)]
mod tests;
