//! The `ftpsd` command line. Library errors become readable messages here (anyhow).

mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ftpsd: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
