//! End-to-end tests: the real server on 127.0.0.1 (ephemeral ports), real TLS, real files,
//! driven by a raw Rust FTPS client and by curl, lftp and Python ftplib.

mod acme;
mod admin;
mod admin_manage;
mod bandwidth;
mod bfp;
mod block_ext;
mod certificates;
mod cli;
mod compiled_plugins;
mod data_limits;
mod events_v2;
mod exec_folder;
mod files;
mod gates;
mod interop;
mod invisible;
mod ipv6;
mod login;
mod login_storm;
mod operator;
mod plugin_hardening;
mod plugins;
mod ratio;
mod robustness;
mod security;
mod session_reuse;
mod shares;
mod sync_clients;
mod sync_commands;
mod transfers;
mod upload_endings;
mod upload_races;
mod web;
mod webhook;
mod xferlog;
