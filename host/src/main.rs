//! The `ftpsd` command line. Library errors become readable messages here (anyhow).

mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    no_group_or_world_writes();
    let args = cli::Cli::parse();
    if !args.is_server() {
        // `ftpsd admin stats | head -1`: the reader leaving ends the command quietly, as
        // for any Unix tool, instead of a panic in println! on the broken pipe.
        // SAFETY: setting a signal's disposition to its default before any thread starts.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    match cli::run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ftpsd: error: {}", error_text(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// The error and its causes, each cause once (many errors already quote their source), with
/// control characters escaped: a name typed with an escape sequence cannot repaint the
/// operator's terminal.
fn error_text(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !text.contains(&c) {
            text.push_str(": ");
            text.push_str(&c);
        }
    }
    text.chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() && c != '\n' && c != '\t' {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
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
