//! ftpsd: an FTPS server (RFC 959/2228/2389/2428/2640/3659/4217) whose site policy will run in
//! sandboxed WebAssembly plugins. This library is the whole server; `main.rs` is its CLI.

pub mod access;
pub mod acme;
pub mod admin;
pub mod admission;
pub mod bootstrap;
pub mod cluster;
pub mod cluster_sync;
pub mod config;
pub mod conn_slots;
pub mod context;
pub mod data;
pub mod fd_limit;
pub mod fs;
pub mod housekeeping;
pub mod memory_trim;
pub mod metrics;
pub mod plugins;
pub mod protocol;
pub mod proxy_protocol;
pub mod reconfigure;
pub mod server;
pub mod session;
pub mod state;
pub mod tls;
pub mod users;

pub use config::Config;
pub use server::Server;
