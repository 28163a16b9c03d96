//! End-to-end tests: the real server on 127.0.0.1 (ephemeral ports), real TLS, real files,
//! driven by a raw Rust FTPS client and by curl, lftp and Python ftplib.

mod cli;
mod files;
mod interop;
mod login;
mod operator;
mod plugins;
mod robustness;
mod security;
mod transfers;
