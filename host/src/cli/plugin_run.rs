//! `ftpsd plugin run`: a built module on sample or recorded events, called as the server calls
//! it (the same limits, host calls and capabilities), printing one JSON line per event with the
//! verdict, actions and limits. Plugin authors replay what a server recorded (`record` in a
//! `[[plugins]]` entry) against a new build before they swap it in.

use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use ftpsd_plugin_sdk::Request;
use serde_json::{Value, json};

use super::config_arg::ConfigArg;

#[derive(clap::Args)]
pub struct RunArgs {
    /// The .wasm module.
    file: PathBuf,
    /// Events: one request as JSON (`{"hook":"upload","user":"u","path":"/a",...}`), a file of
    /// them (JSON Lines, as `record` writes), or `-` for standard input.
    #[arg(long, value_name = "JSON|FILE|-")]
    event: String,
    /// Settings as a TOML inline table, e.g. '{ start_hour = 8 }'.
    #[arg(long, default_value = "{}")]
    settings: String,
    /// Take settings, capabilities and limits from this `[[plugins]]` entry of the config
    /// (--settings is then ignored).
    #[arg(long, value_name = "NAME")]
    entry: Option<String>,
    #[command(flatten)]
    config: ConfigArg,
    /// The state store: a redb file, e.g. a copy of <data_dir>/state/kv.redb (the running
    /// server holds the original). Default: an empty in-memory store.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Make the HTTP requests the entry's `http` capability allows. Off by default: a replay
    /// must not post to production services (a recorded `authenticate` holds no password,
    /// so replaying one against a real directory is a failed login there).
    #[arg(long)]
    http: bool,
}

/// `--settings` as a table: the same parse `plugin check` uses.
pub fn settings_table(text: &str) -> anyhow::Result<toml::Table> {
    let bad = || anyhow::anyhow!("--settings must be a TOML inline table like '{{ key = 1 }}'");
    let wrapped: toml::Table = toml::from_str(&format!("s = {text}")).map_err(|_| bad())?;
    match wrapped.get("s") {
        Some(toml::Value::Table(t)) => Ok(t.clone()),
        _ => Err(bad()),
    }
}

pub fn run(a: RunArgs) -> anyhow::Result<()> {
    let (mut section, base, config) = section(&a)?;
    if !a.http && section.capabilities.http.take().is_some() {
        eprintln!(
            "ftpsd: the entry's http capability is off in this run (pass --http to make real requests)"
        );
    }
    let auth = section.capabilities.auth.clone();
    // The entry's users file, for what `auth` answers are held to (group limits).
    let users_path = config
        .as_ref()
        .map(|c| c.users_file())
        .unwrap_or_else(|| PathBuf::from("users.toml"));
    let users = config
        .as_ref()
        .filter(|_| auth.is_some())
        .and_then(|_| ftpsd::users::UsersFile::load(&users_path).ok())
        .unwrap_or_else(|| {
            ftpsd::users::UsersFile::parse("", &users_path).expect("an empty users file parses")
        });
    let kv: ftpsd::state::SharedStore = match &a.state {
        None => Arc::new(ftpsd::state::MemoryStore::default()),
        Some(p) => Arc::new(ftpsd::state::RedbStore::open(p).with_context(|| {
            format!(
                "cannot open the state file {} (a running server holds its own: use a copy)",
                p.display()
            )
        })?),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let _log = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "warn,ftpsd::plugins=info",
        ))
        .try_init();
    let loaded = Arc::new(
        ftpsd::plugins::load_section(&section, &base, kv).map_err(|e| match e {
            ftpsd::plugins::PluginError::Settings { .. } => anyhow::anyhow!(
                "{e}\n(pass the plugin's settings as in its [[plugins]] entry: --settings '{{ key = value, ... }}', or --entry NAME)"
            ),
            e => e.into(),
        })?,
    );
    let lines = event_lines(&a.event)?;
    let (mut ran, mut denied, mut failed, mut skipped) = (0u64, 0u64, 0u64, 0u64);
    let stdout = std::io::stdout();
    for (n, line) in lines.enumerate() {
        let n = n + 1;
        let line = line.with_context(|| format!("reading the events at line {n}"))?;
        let mut out = match line {
            Ok(line) if line.trim().is_empty() => continue,
            Ok(line) => runtime.block_on(one(&loaded, n, &line)),
            Err(why) => json!({"n": n, "error": format!("line {n}: {why}")}),
        };
        held_to_the_grant(&mut out, &section.name, auth.as_ref(), &users);
        ran += 1;
        if out.get("error").is_some() {
            failed += 1;
        } else if out.get("skipped").is_some() {
            skipped += 1;
        } else if out.get("verdict").and_then(Value::as_str) == Some("deny")
            || out.get("account_refused").is_some()
        {
            denied += 1;
        }
        use std::io::Write;
        writeln!(stdout.lock(), "{out}")?;
    }
    eprintln!(
        "ftpsd: {ran} events through {} ({}): {} allowed, {denied} denied, {skipped} skipped, {failed} failed",
        section.name,
        a.file.display(),
        ran - denied - failed - skipped
    );
    if failed > 0 {
        anyhow::bail!("{failed} of {ran} events failed (see their \"error\")");
    }
    Ok(())
}

/// An `authenticate` answer with an account, held to the entry's `auth` grant as the server
/// holds it: `account_refused` says why the server would answer 530 instead.
fn held_to_the_grant(
    out: &mut Value,
    plugin: &str,
    auth: Option<&ftpsd::plugins::config::AuthGrant>,
    users: &ftpsd::users::UsersFile,
) {
    let Some(account) = out.get("account").cloned() else {
        return;
    };
    let refused = match (
        auth,
        serde_json::from_value::<ftpsd_plugin_sdk::Account>(account),
    ) {
        (None, _) => "no auth capability: the server would not ask this plugin (run with --entry NAME of an entry that grants auth)".to_string(),
        (_, Err(e)) => format!("malformed account: {e}"),
        (Some(grant), Ok(account)) => {
            let user = out["user"].as_str().unwrap_or_default().to_string();
            let g = ftpsd::users::external::Grant {
                roots: &grant.roots,
                create_folders: grant.create_folders,
            };
            match ftpsd::users::external::check_account(plugin, &user, &account, &g, users) {
                Ok(()) => return,
                Err(e) => e,
            }
        }
    };
    out["account_refused"] = json!(format!("530: {refused}"));
}

/// The `[[plugins]]` entry to run with, the folder its relative paths start from, and the
/// config it came from (with `--entry`).
fn section(
    a: &RunArgs,
) -> anyhow::Result<(
    ftpsd::plugins::PluginSection,
    PathBuf,
    Option<ftpsd::Config>,
)> {
    if let Some(entry) = &a.entry {
        let config = super::config_arg::load_config(a.config.config.as_deref())?;
        let mut s = config
            .plugins
            .iter()
            .find(|p| &p.name == entry)
            .cloned()
            .with_context(|| {
                let names: Vec<&str> = config.plugins.iter().map(|p| p.name.as_str()).collect();
                format!(
                    "the config has no [[plugins]] entry named '{entry}' (it has: {})",
                    if names.is_empty() {
                        "none".into()
                    } else {
                        names.join(", ")
                    }
                )
            })?;
        s.path = std::path::absolute(&a.file)?;
        let base = config.base_dir.clone();
        return Ok((s, base, Some(config)));
    }
    Ok((
        file_section(&a.file, &a.settings)?,
        PathBuf::from("."),
        None,
    ))
}

/// An entry for a module given on the command line (`plugin check`, `plugin run` without
/// `--entry`): named after the file, with `--settings`, nothing granted.
pub fn file_section(file: &Path, settings: &str) -> anyhow::Result<ftpsd::plugins::PluginSection> {
    let name = file
        .file_stem()
        .map(|s| s.to_string_lossy().replace('_', "-"))
        .filter(|n| ftpsd::plugins::config::check_name(n).is_ok())
        .unwrap_or_else(|| "plugin".into());
    let mut s: ftpsd::plugins::PluginSection = toml::from_str(&format!(
        "name = {name:?}\npath = {:?}\n",
        file.display().to_string()
    ))?;
    s.settings = settings_table(settings)?;
    Ok(s)
}

/// Longest event line read (a server's event is a few KiB; the host refuses requests far
/// smaller than this anyway): a longer line is skipped, never held whole.
const MAX_LINE: usize = 1 << 20;

/// One line of the events: its text, or why it cannot be an event.
type Line = Result<String, String>;
type Lines = Box<dyn Iterator<Item = std::io::Result<Line>>>;

/// Lines of `r`, each at most [`MAX_LINE`] bytes; bad UTF-8 or an overlong line is an error
/// for that line only.
fn bounded_lines(mut r: impl BufRead + 'static) -> Lines {
    Box::new(std::iter::from_fn(move || {
        let mut buf = Vec::new();
        let n = match r
            .by_ref()
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)
        {
            Ok(0) => return None,
            Ok(n) => n,
            Err(e) => return Some(Err(e)),
        };
        if n > MAX_LINE && buf.last() != Some(&b'\n') {
            // Skip the rest of the line without keeping it.
            loop {
                let (done, used) = match r.fill_buf() {
                    Ok([]) => (true, 0),
                    Ok(b) => match b.iter().position(|&c| c == b'\n') {
                        Some(i) => (true, i + 1),
                        None => (false, b.len()),
                    },
                    Err(e) => return Some(Err(e)),
                };
                r.consume(used);
                if done {
                    break;
                }
            }
            return Some(Ok(Err(format!("longer than {MAX_LINE} bytes"))));
        }
        Some(Ok(String::from_utf8(buf)
            .map(|l| l.trim_end_matches(['\n', '\r']).to_string())
            .map_err(|_| "not UTF-8".to_string())))
    }))
}

fn event_lines(arg: &str) -> anyhow::Result<Lines> {
    if arg == "-" {
        return Ok(bounded_lines(std::io::BufReader::new(std::io::stdin())));
    }
    if arg.trim_start().starts_with('{') {
        return Ok(Box::new(std::iter::once(Ok(Ok(arg.to_string())))));
    }
    let f = std::fs::File::open(Path::new(arg)).with_context(|| {
        format!("--event {arg}: cannot read this file (an event given inline is JSON starting with '{{')")
    })?;
    if !f.metadata().map(|m| m.is_file()).unwrap_or(false) {
        anyhow::bail!("--event {arg}: not a regular file (use `--event -` for a stream)");
    }
    Ok(bounded_lines(std::io::BufReader::new(f)))
}

/// One event through the plugin: its answer as a JSON object with `n` and `hook`, or `error`.
async fn one(p: &Arc<ftpsd::plugins::Loaded>, n: usize, line: &str) -> Value {
    let req: Request = match serde_json::from_str(line) {
        Ok(r) => r,
        Err(e) => return json!({"n": n, "error": format!("line {n}: not an event: {e}")}),
    };
    let Some(hook) = req.hook() else {
        return json!({"n": n, "error": format!("line {n}: describe and configure are not events")});
    };
    if !p.hooks.contains(&hook) {
        return json!({"n": n, "hook": hook.name(), "skipped": "the plugin does not subscribe to this hook"});
    }
    let started = Instant::now();
    let (pp, rr) = (p.clone(), req);
    let answer = tokio::task::spawn_blocking(move || pp.call(&rr))
        .await
        .unwrap_or_else(|e| Err(ftpsd::plugins::CallError::Trap(e.to_string())));
    let micros = started.elapsed().as_micros() as u64;
    let mut out = json!({"n": n, "hook": hook.name()});
    match answer {
        Ok(resp) => {
            if let (Value::Object(o), Ok(Value::Object(r))) =
                (&mut out, serde_json::to_value(&resp))
            {
                o.extend(r);
            }
        }
        Err(e) => {
            out["error"] = json!(e.to_string());
        }
    }
    out["us"] = json!(micros);
    out
}
