//! The log: tracing with the configured level (or `FTPSD_LOG`), to stderr and/or daily files,
//! text or JSON lines. Transfer lines (target `xferlog`) also go to their own daily file, in
//! the log's format or the classic xferlog one.

use std::io::IsTerminal;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::prelude::*;
use tracing_subscriber::{Layer, fmt};

use ftpsd::config::TransferLogFormat;

use super::log_text::EscapeControls;

/// Installs the subscriber; keep the guards alive while the server runs (they flush the files).
pub fn init(config: &ftpsd::Config) -> anyhow::Result<Vec<WorkerGuard>> {
    let directive = std::env::var("FTPSD_LOG").unwrap_or_else(|_| config.server.log_level.clone());
    let directive = with_quiet_defaults(&directive);
    let filter = || EnvFilter::new(&directive);
    let json = config.log.json;
    let mut guards = Vec::new();
    let mut layers: Vec<Box<dyn Layer<_> + Send + Sync>> = Vec::new();
    if config.log.stderr {
        // Colours only for a person at a terminal: journald, files and pipes get plain text.
        let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        let l = fmt::layer().with_ansi(colour);
        layers.push(if json {
            l.json()
                .with_writer(std::io::stderr)
                .with_filter(filter())
                .boxed()
        } else if colour {
            // A person at a terminal: the colours are escape sequences of their own.
            l.with_writer(std::io::stderr).with_filter(filter()).boxed()
        } else {
            l.with_writer(EscapeControls(std::io::stderr))
                .with_filter(filter())
                .boxed()
        });
    }
    if let Some(dir) = config.log_dir() {
        std::fs::create_dir_all(&dir)
            .map_err(|e| anyhow::anyhow!("log dir {}: {e}", dir.display()))?;
        restrict_log_dir(&dir);
        let (main, g) =
            tracing_appender::non_blocking(tracing_appender::rolling::daily(&dir, "ftpsd.log"));
        guards.push(g);
        let l = fmt::layer().with_ansi(false);
        layers.push(if json {
            l.json().with_writer(main).with_filter(filter()).boxed()
        } else {
            l.with_writer(EscapeControls(main))
                .with_filter(filter())
                .boxed()
        });
        let (xfer, g) =
            tracing_appender::non_blocking(tracing_appender::rolling::daily(&dir, "transfers.log"));
        guards.push(g);
        let only_transfers = Targets::new().with_target("xferlog", tracing::Level::INFO);
        let l = fmt::layer().with_ansi(false).with_target(false);
        layers.push(
            if config.log.transfer_format == TransferLogFormat::Xferlog {
                super::xferlog::XferlogLayer::new(xfer)
                    .with_filter(only_transfers)
                    .boxed()
            } else if json {
                l.json()
                    .with_writer(xfer)
                    .with_filter(only_transfers)
                    .boxed()
            } else {
                l.with_writer(EscapeControls(xfer))
                    .with_filter(only_transfers)
                    .boxed()
            },
        );
    }
    tracing_subscriber::registry().with(layers).init();
    Ok(guards)
}

/// Logs hold user names, addresses and paths: the folder is 0750 and its files 0640 (today's
/// are created so before the appender opens them; the folder's mode covers later days too).
fn restrict_log_dir(dir: &std::path::Path) {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o750));
    let today = time::OffsetDateTime::now_utc().date();
    for stem in ["ftpsd.log", "transfers.log"] {
        let name = format!(
            "{stem}.{:04}-{:02}-{:02}",
            today.year(),
            u8::from(today.month()),
            today.day()
        );
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o640)
            .open(dir.join(name));
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("ftpsd.log") || name.starts_with("transfers.log") {
                let _ = std::fs::set_permissions(e.path(), std::fs::Permissions::from_mode(0o640));
            }
        }
    }
}

/// Directives added unless the configured one names the crate itself:
/// - rustls warns at every handshake whose client names an IP address as SNI (Python ftplib,
///   curl with IPv6 literals): lines per transfer about a client quirk the operator cannot fix;
/// - notify traces every inotify event of the watched config directory, which feeds on itself
///   when the log file lives there (each line written is another event to log);
/// - the wasm compiler traces every instruction it compiles: at `trace`, about 1.5 million
///   lines and seconds of CPU per plugin load, which would make every hot swap slow.
const QUIET_DEFAULTS: [(&str, &str); 5] = [
    ("rustls", "rustls::msgs::handshake=error"),
    ("notify", "notify=warn"),
    ("cranelift", "cranelift=info"),
    ("regalloc2", "regalloc2=info"),
    (
        "wasmtime_internal_cranelift",
        "wasmtime_internal_cranelift=info",
    ),
];

fn with_quiet_defaults(directive: &str) -> String {
    let mut parts: Vec<&str> = directive
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    for (krate, quiet) in QUIET_DEFAULTS {
        if !directive.contains(krate) {
            parts.push(quiet);
        }
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::with_quiet_defaults;

    #[test]
    fn client_quirks_and_watcher_chatter_are_quiet_unless_asked_for() {
        const WASM: &str = "cranelift=info,regalloc2=info,wasmtime_internal_cranelift=info";
        assert_eq!(
            with_quiet_defaults("info"),
            format!("info,rustls::msgs::handshake=error,notify=warn,{WASM}")
        );
        assert_eq!(
            with_quiet_defaults("warn, ftpsd=debug"),
            format!("warn,ftpsd=debug,rustls::msgs::handshake=error,notify=warn,{WASM}")
        );
        assert_eq!(
            with_quiet_defaults("trace,rustls=trace,cranelift=trace"),
            "trace,rustls=trace,cranelift=trace,notify=warn,regalloc2=info,wasmtime_internal_cranelift=info"
        );
        assert_eq!(
            with_quiet_defaults(""),
            format!("rustls::msgs::handshake=error,notify=warn,{WASM}")
        );
    }
}
