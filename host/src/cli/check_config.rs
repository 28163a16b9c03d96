use super::config_arg::{ConfigArg, load_config};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    config: ConfigArg,
}

/// Loads everything `serve` would load, without binding ports or creating files.
pub fn run(args: Args) -> anyhow::Result<()> {
    let config = load_config(args.config.config.as_deref())?;
    let (cert, key, generated) = config.tls_paths();
    if generated && !cert.exists() {
        println!(
            "certificate: {} does not exist yet; 'ftpsd serve' will create a self-signed one",
            cert.display()
        );
    } else {
        ftpsd::tls::TlsConfigs::from_files(&cert, &key, config.tls.min_version)
            .map_err(|e| anyhow::anyhow!(config.tls_files_error(&e)))?;
        println!("certificate: {} ok", cert.display());
    }
    if config.state.is_shared() {
        config.state.open(&config.data_dir())?;
        println!(
            "state: {} answers (cluster \"{}\", this node {}; users file {})",
            ftpsd::state::section::redacted(&config.state.backend),
            config.state.cluster,
            config
                .state
                .node
                .as_ref()
                .map(|n| format!("\"{n}\""))
                .unwrap_or_else(|| "named by its host name and process id".into()),
            if config.state.share_users {
                "shared: the cluster's replaces this node's at start"
            } else {
                "this node's own"
            }
        );
    }
    if config.proxy_protocol.enabled() {
        let trusted: Vec<String> = config
            .proxy_protocol
            .trusted
            .iter()
            .map(|n| n.to_string())
            .collect();
        println!(
            "proxy protocol: headers believed from {} (direct connections {})",
            trusted.join(", "),
            if config.proxy_protocol.allow_direct {
                "allowed"
            } else {
                "refused"
            }
        );
    }
    if let Some(f) = config.ticket_key_path() {
        ftpsd::tls::shared_tickets::load(&f)?;
        println!("ticket keys: {} ok", f.display());
    }
    if let Some(a) = &config.acme {
        println!(
            "acme: certificate for {} from {} ({} answered on {}); renewed {} days before its end",
            a.domains.join(", "),
            a.directory,
            a.challenge.as_str(),
            a.listen(),
            a.renew_before_days
        );
        let pem = std::fs::read(&cert).ok();
        let now = (ftpsd::state::now_ms() / 1000) as i64;
        match ftpsd::acme::renew::due(pem.as_deref(), &a.domains, now, a.renew_before_days) {
            ftpsd::acme::renew::Due::Now(reason) => {
                println!("acme: {reason}: 'ftpsd serve' orders a certificate at start")
            }
            ftpsd::acme::renew::Due::At(t) => println!(
                "acme: the CA's certificate is in place; renewal from {}",
                time::OffsetDateTime::from_unix_timestamp(t)
                    .map(|d| d.date().to_string())
                    .unwrap_or_else(|_| t.to_string())
            ),
        }
    }
    let users = ftpsd::users::UsersFile::load(&config.users_file())?;
    println!(
        "users: {} ({} users) ok",
        config.users_file().display(),
        users.users.len()
    );
    for u in &users.users {
        for m in users.mounts_of(u).unwrap_or_default() {
            if m.object.is_none() && !m.real.is_dir() {
                println!(
                    "warning: mount {} of user '{}' ({}) is not a directory",
                    m.name.as_deref().unwrap_or("/"),
                    u.name,
                    m.real.display()
                );
            }
        }
    }
    // Every plugin is read, compiled, instantiated and configured as `serve` would (no last
    // good version to fall back on: a broken plugin is an error here). Its state is not
    // touched: a plugin under check gets an empty in-memory store.
    let mut seen = std::collections::HashSet::new();
    for section in &config.plugins {
        if !seen.insert(section.name.as_str()) {
            return Err(ftpsd::plugins::PluginError::Duplicate(section.name.clone()).into());
        }
        let kv: ftpsd::state::SharedStore =
            std::sync::Arc::new(ftpsd::state::MemoryStore::default());
        let loaded = ftpsd::plugins::load_section(section, &config.base_dir, kv)?;
        let mut hooks: Vec<&str> = loaded.hooks.iter().map(|h| h.name()).collect();
        hooks.sort_unstable();
        println!(
            "plugin '{}': {} ok (hooks: {})",
            section.name,
            loaded.section.path.display(),
            hooks.join(", ")
        );
        for want in ftpsd::plugins::ungranted(&loaded) {
            println!(
                "warning: plugin '{}' needs the '{want}' capability, which its entry does not grant (capabilities = {{ {want} = ... }}): what needs it will be refused{}",
                section.name,
                if want == "auth" {
                    " and its authenticate hook is never called"
                } else {
                    ""
                }
            );
        }
    }
    println!("config ok");
    Ok(())
}
