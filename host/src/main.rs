//! The `ftpsd` command line. Library errors become readable messages here (anyhow).

mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    no_group_or_world_writes();
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ftpsd: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The data folder, users file, TLS key, state store, last-good plugins and uploads are never
/// writable by group or others, even when started under `umask 000`: whatever the inherited
/// mask, group and world write bits are masked off (a stricter mask is kept).
fn no_group_or_world_writes() {
    // SAFETY: umask only changes this process's file-creation mask; no memory is involved.
    unsafe {
        let inherited = libc::umask(0o022);
        libc::umask(inherited | 0o022);
    }
}
