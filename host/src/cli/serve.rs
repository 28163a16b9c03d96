use anyhow::Context;

use super::config_arg::{ConfigArg, load_config};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    config: ConfigArg,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    // Before the config: `max_users` defaults to a quarter of the limit.
    let raised = ftpsd::fd_limit::raise();
    let config = load_config(args.config.config.as_deref())?;
    let _log_guards = super::logging::init(&config)?;
    if let Some((before, after)) = raised {
        tracing::info!("open-file limit raised from {before} to {after}");
    }
    let first = ftpsd::bootstrap::prepare(&config).context("preparing the data directory")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let mut server = ftpsd::Server::start(config.clone()).await?;
        print_welcome(&config, &server, &first);
        let mut term = signal(SignalKind::terminate())?;
        let mut hup = signal(SignalKind::hangup())?;
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => { tracing::info!("SIGINT"); break; }
                _ = term.recv() => { tracing::info!("SIGTERM"); break; }
                _ = hup.recv() => reload(&server).await,
            }
        }
        let grace = std::time::Duration::from_secs(config.server.shutdown_grace_secs);
        server.shutdown(grace).await;
        tracing::info!("stopped");
        Ok(())
    })
}

/// SIGHUP: users file, plugins, config and certificates are reloaded; config changes apply to
/// new sessions, and those that cannot apply while running are reported (the config's
/// `[[plugins]]` list is applied whenever it changes).
async fn reload(server: &ftpsd::Server) {
    tracing::info!("SIGHUP: reloading");
    // Each error was logged where it arose, at error level; the summary repeats the rest.
    for l in ftpsd::reconfigure::everything(&server.ctx).await {
        if !l.starts_with("error:") {
            tracing::info!("reload: {l}");
        }
    }
}

/// Prints the newcomer's summary. Write errors are ignored: a server must never die because
/// whoever started it stopped reading its stdout (EPIPE).
fn print_welcome(
    config: &ftpsd::Config,
    server: &ftpsd::Server,
    first: &ftpsd::bootstrap::FirstStart,
) {
    use std::io::Write;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    macro_rules! say {
        ($o:expr) => {{
            let _ = writeln!($o);
        }};
        ($o:expr, $($t:tt)*) => {{
            let _ = writeln!($o, $($t)*);
        }};
    }
    let (cert, _, _) = config.tls_paths();
    say!(out, "ftpsd {} is running.", env!("CARGO_PKG_VERSION"));
    for (kind, a) in &server.listening {
        match kind {
            ftpsd::server::ListenerKind::Explicit => {
                say!(out, "  explicit FTPS (AUTH TLS): ftp://{a}")
            }
            ftpsd::server::ListenerKind::Implicit => {
                say!(out, "  implicit FTPS:            ftps://{a}")
            }
        }
    }
    say!(
        out,
        "  passive ports:            {}-{}",
        config.passive.port_min,
        config.passive.port_max
    );
    if let Some(a) = server.admin {
        say!(
            out,
            "  admin (web page, API):    http://{a}/  (token in {})",
            config
                .admin
                .token_file
                .clone()
                .unwrap_or_else(|| config.data_dir().join("admin.token"))
                .display()
        );
    }
    say!(out, "  certificate:              {}", cert.display());
    if let Some(a) = &config.acme {
        say!(
            out,
            "  (from the ACME CA for {}, {} on {}; a self-signed placeholder until it arrives)",
            a.domains.join(", "),
            a.challenge.as_str(),
            a.listen()
        );
    }
    if let Some(fp) = &first.created_cert {
        say!(out, "  (created now, self-signed; SHA-256 {fp})");
    }
    say!(
        out,
        "  users file:               {}",
        config.users_file().display()
    );
    match &first.created_admin {
        Some((user, pass, home)) => {
            say!(out);
            say!(
                out,
                "  A first user was created. The password is shown only this once:"
            );
            say!(out, "    user:     {user}");
            say!(out, "    password: {pass}");
            say!(out, "    home:     {}", home.display());
            if let Some(a) = server.explicit {
                let host = if a.ip().is_unspecified() {
                    "127.0.0.1".to_string()
                } else {
                    a.ip().to_string()
                };
                say!(out);
                say!(out, "  Try it:");
                match &config.acme {
                    // The CA's certificate names the domain and is trusted as it is.
                    Some(acme) => say!(
                        out,
                        "    curl --ssl-reqd -u '{user}:{pass}' ftp://{}:{}/",
                        acme.domains[0],
                        a.port()
                    ),
                    None => say!(
                        out,
                        "    curl --ssl-reqd --cacert {} -u '{user}:{pass}' ftp://{host}:{}/",
                        cert.display(),
                        a.port()
                    ),
                }
            }
        }
        None => say!(
            out,
            "  Manage users with: ftpsd user add|mod|passwd|del|list, ftpsd group ..."
        ),
    }
    say!(out);
}
