use super::{ConfigArg, load_config};

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
        ftpsd::tls::TlsConfigs::from_files(&cert, &key, config.tls.min_version)?;
        println!("certificate: {} ok", cert.display());
    }
    let users = ftpsd::users::UsersFile::load(&config.users_file())?;
    println!(
        "users: {} ({} users) ok",
        config.users_file().display(),
        users.users.len()
    );
    for u in &users.users {
        for m in users.mounts_of(u).unwrap_or_default() {
            if !m.real.is_dir() {
                println!(
                    "warning: mount {} of user '{}' ({}) is not a directory",
                    m.name.as_deref().unwrap_or("/"),
                    u.name,
                    m.real.display()
                );
            }
        }
    }
    println!("config ok");
    Ok(())
}
