//! Server configuration (TOML). Unknown keys are rejected; every error names file, line and key.
//! Without a file, [`Config::embedded_default`] gives the newcomer's setup on 127.0.0.1.

mod changes;
pub mod error;

/// A year, in seconds: the most any duration setting may be.
const YEAR_SECS: u64 = 365 * 24 * 3600;
/// `[login] max_concurrent_checks` at most.
const MAX_CONCURRENT_CHECKS: usize = 256;
pub mod greeting;
pub mod listen;
pub mod network;
pub mod value_diff;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use crate::access::section::AccessSection;
pub use crate::data::section::{ActiveSection, PassiveOverride, PassiveSection};
pub use crate::fs::listing_section::ListingSection;
pub use crate::tls::section::TlsSection;
pub use error::ConfigError;
pub use listen::Listen;
pub use network::{IpNetwork, PassiveAddress};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerSection,
    #[serde(default)]
    pub tls: TlsSection,
    /// Explicit FTPS (AUTH TLS on a plain connection). Absent = no such listener.
    pub explicit: Option<ListenerSection>,
    /// Implicit FTPS (TLS from the first byte). Absent = no such listener.
    pub implicit: Option<ListenerSection>,
    #[serde(default)]
    pub passive: PassiveSection,
    /// Load balancers whose PROXY protocol header names the client (off by default).
    #[serde(default)]
    pub proxy_protocol: crate::proxy_protocol::ProxySection,
    /// Where bans, counters and plugin state live (embedded, or a Redis nodes share).
    #[serde(default)]
    pub state: crate::state::StateSection,
    #[serde(default)]
    pub active: ActiveSection,
    #[serde(default)]
    pub listing: ListingSection,
    #[serde(default)]
    pub access: AccessSection,
    /// Bounds of the password-check path (argon2 workers, queue, per-address rate).
    #[serde(default)]
    pub login: crate::access::login_throttle::LoginLimits,
    /// A virtual file in every root listing (e.g. WELCOME.txt): downloadable, never writable.
    pub message: Option<MessageSection>,
    /// Server-wide bandwidth limits (all transfers together), in KiB/s; 0 = none.
    #[serde(default)]
    pub bandwidth: crate::data::bandwidth::Limits,
    /// Policy plugins, called in this order.
    #[serde(default)]
    pub plugins: Vec<crate::plugins::PluginSection>,
    /// How programs from execute actions run (concurrency, queue, unprivileged user).
    #[serde(default)]
    pub exec: crate::plugins::exec::ExecSection,
    /// Where the log goes: stderr and/or daily files, text or JSON lines.
    #[serde(default)]
    pub log: LogSection,
    /// The HTTP admin listener (API, metrics, web page); off by default.
    #[serde(default)]
    pub admin: crate::admin::section::AdminSection,
    /// The S3-compatible store that `s3://bucket/prefix` mounts use.
    #[serde(default)]
    pub s3: crate::fs::object::S3Section,
    /// Certificates from an ACME CA (Let's Encrypt) instead of `tls.cert`/`tls.key`.
    pub acme: Option<crate::acme::section::AcmeSection>,
    /// Directory of the config file; relative paths in the config are relative to it.
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// The file this config came from (watched for `[[plugins]]` changes); None if embedded.
    #[serde(skip)]
    pub source: Option<PathBuf>,
    /// The file's values as written, for telling the operator what a reload changed.
    #[serde(skip)]
    pub values: Option<std::sync::Arc<toml::Table>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSection {
    /// Where the certificate, users file and default home live when not configured otherwise.
    pub data_dir: PathBuf,
    /// Users file; default `<data_dir>/users.toml`.
    pub users_file: Option<PathBuf>,
    /// The 220 greeting; may span lines.
    pub banner: String,
    /// A file whose text replaces `banner` (relative to the config file).
    pub banner_file: Option<PathBuf>,
    /// Text shown above "User ... logged in." in the 230 reply (empty: none); may span lines.
    pub login_message: String,
    /// A file whose text replaces `login_message` (relative to the config file).
    pub login_message_file: Option<PathBuf>,
    pub idle_timeout_secs: u64,
    pub login_timeout_secs: u64,
    pub tls_handshake_timeout_secs: u64,
    /// How long a data connection may take to arrive, and may stall.
    pub data_timeout_secs: u64,
    /// Extra delay after a failed login, the same for unknown users and wrong passwords.
    pub login_failure_delay_ms: u64,
    /// At SIGTERM/SIGINT: how long running transfers may take to finish.
    pub shutdown_grace_secs: u64,
    /// Connections at once; 0 = unlimited. Default: a quarter of the process's open-file limit
    /// (a session can hold a control, a data and a passive-listener descriptor), so a flood
    /// from many addresses is refused with 421 before the server runs out of descriptors.
    pub max_users: usize,
    /// 0 = unlimited.
    pub max_connections_per_ip: usize,
    pub log_level: String,
    /// Upload data reaches the disk (written back while it arrives, fsynced) before 226. Off,
    /// 226 comes once the kernel has the data, as most FTP servers do: faster on slow disks,
    /// and a crash or power cut can lose an upload the client was told is complete.
    pub sync_uploads: bool,
}

impl Default for ServerSection {
    fn default() -> Self {
        ServerSection {
            data_dir: PathBuf::from("ftpsd-data"),
            users_file: None,
            banner: "ftpsd ready.".into(),
            banner_file: None,
            login_message: String::new(),
            login_message_file: None,
            idle_timeout_secs: 600,
            login_timeout_secs: 60,
            tls_handshake_timeout_secs: 15,
            data_timeout_secs: 60,
            login_failure_delay_ms: 1000,
            shutdown_grace_secs: 30,
            max_users: default_max_users(),
            max_connections_per_ip: 0,
            log_level: "info".into(),
            sync_uploads: true,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    pub stderr: bool,
    /// Folder for daily files `ftpsd.log.YYYY-MM-DD` (the admin page's log viewer reads them)
    /// and `transfers.log.YYYY-MM-DD` (one line per transfer). Relative to the config file.
    pub dir: Option<PathBuf>,
    /// JSON lines instead of text.
    pub json: bool,
    /// How `transfers.log` is written: `"ftpsd"` (the log's own text or JSON lines) or
    /// `"xferlog"` (the classic wu-ftpd/vsftpd/ProFTPD line that log analysers read).
    pub transfer_format: TransferLogFormat,
}

/// The format of `transfers.log`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransferLogFormat {
    #[default]
    Ftpsd,
    Xferlog,
}

impl Default for LogSection {
    fn default() -> Self {
        LogSection {
            stderr: true,
            dir: None,
            json: false,
            transfer_format: TransferLogFormat::Ftpsd,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerSection {
    /// One address or a list of them.
    pub listen: Listen,
    /// Explicit listener: refuse USER before AUTH TLS and data without PROT P.
    #[serde(default = "yes")]
    pub require_tls: bool,
    /// A protected data connection must resume a TLS session of this user at this address
    /// (`"user"`, default, also `true`), of this control connection (`"connection"`), or
    /// nothing (`"off"`, also `false`). See `tls::scope`.
    #[serde(default)]
    pub require_session_reuse: crate::tls::SessionReuse,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageSection {
    pub name: String,
    pub text: String,
}

impl Config {
    /// The setup `ftpsd serve` uses without a config file.
    pub fn embedded_default() -> Config {
        Config {
            server: ServerSection::default(),
            tls: TlsSection::default(),
            explicit: Some(ListenerSection {
                listen: SocketAddr::from(([127, 0, 0, 1], 2121)).into(),
                require_tls: true,
                require_session_reuse: crate::tls::SessionReuse::User,
            }),
            implicit: Some(ListenerSection {
                listen: SocketAddr::from(([127, 0, 0, 1], 2990)).into(),
                require_tls: true,
                require_session_reuse: crate::tls::SessionReuse::User,
            }),
            passive: PassiveSection::default(),
            proxy_protocol: Default::default(),
            state: Default::default(),
            active: ActiveSection::default(),
            listing: ListingSection::default(),
            access: AccessSection::default(),
            login: Default::default(),
            message: None,
            bandwidth: Default::default(),
            plugins: Vec::new(),
            exec: Default::default(),
            admin: Default::default(),
            s3: Default::default(),
            acme: None,
            log: Default::default(),
            base_dir: PathBuf::from("."),
            source: None,
            values: None,
        }
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        let text = error::utf8_text(bytes).map_err(|(line, column)| ConfigError::Syntax {
            path: path.into(),
            line,
            column,
            message: error::NOT_UTF8.into(),
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates; `path` is used for messages and to resolve relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let mut cfg: Config =
            toml::from_str(text).map_err(|e| ConfigError::from_toml(path, text, &e))?;
        // Absolute from the start: the plugin watcher compares the paths it is told about
        // with the (absolute) paths in file events, and a reload must not depend on the
        // directory it happens to run in.
        let source = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        cfg.base_dir = source.parent().map(Path::to_path_buf).unwrap_or_default();
        if cfg.base_dir.as_os_str().is_empty() {
            cfg.base_dir = PathBuf::from(".");
        }
        cfg.source = Some(source);
        cfg.values = text.parse::<toml::Table>().ok().map(std::sync::Arc::new);
        if cfg.explicit.is_none() && cfg.implicit.is_none() {
            // No listener named: the embedded default's (127.0.0.1:2121 and :2990).
            let d = Config::embedded_default();
            cfg.explicit = d.explicit;
            cfg.implicit = d.implicit;
        }
        cfg.validate(path, text)?;
        cfg.read_greetings(path, text)?;
        cfg.check_acme_files(path, text)?;
        Ok(cfg)
    }

    /// `acme.ca_root` relative to the config file, and readable as a PEM certificate now
    /// rather than at the first order.
    fn check_acme_files(&mut self, path: &Path, text: &str) -> Result<(), ConfigError> {
        let Some(root) = self.acme.as_ref().and_then(|a| a.ca_root.clone()) else {
            return Ok(());
        };
        let root = self.resolve(&root);
        let found = crate::tls::load_certs(&root).map(|_| ());
        if let Err(why) = found {
            return Err(ConfigError::invalid(
                path,
                text,
                "ca_root",
                format!(
                    "acme.ca_root: {why} (the certificate the CA's directory presents over HTTPS, or the CA that signed it)"
                ),
            ));
        }
        if let Some(a) = self.acme.as_mut() {
            a.ca_root = Some(root);
        }
        Ok(())
    }

    /// Puts the text of `banner_file` and `login_message_file` into `banner` and
    /// `login_message`, so sessions never read files for them.
    fn read_greetings(&mut self, path: &Path, text: &str) -> Result<(), ConfigError> {
        if let Some(f) = &self.server.banner_file {
            self.server.banner = greeting::read(&self.resolve(f)).map_err(|m| {
                ConfigError::invalid(
                    path,
                    text,
                    "banner_file",
                    format!("server.banner_file: {m}"),
                )
            })?;
        }
        if let Some(f) = &self.server.login_message_file {
            self.server.login_message = greeting::read(&self.resolve(f)).map_err(|m| {
                let m = format!("server.login_message_file: {m}");
                ConfigError::invalid(path, text, "login_message_file", m)
            })?;
        }
        Ok(())
    }

    fn validate(&self, path: &Path, text: &str) -> Result<(), ConfigError> {
        let invalid = |key: &str, msg: String| ConfigError::invalid(path, text, key, msg);
        if self.passive.port_min == 0 || self.passive.port_min > self.passive.port_max {
            return Err(invalid(
                "port_min",
                format!(
                    "passive.port_min ({}) must be from 1 to passive.port_max ({})",
                    self.passive.port_min, self.passive.port_max
                ),
            ));
        }
        // Each is added to an Instant or made a timer; past a year it is a typo, and near
        // u64::MAX the sum would overflow on the first connection.
        let server = &self.server;
        let durations = [
            ("server", "idle_timeout_secs", server.idle_timeout_secs, 1),
            ("server", "login_timeout_secs", server.login_timeout_secs, 1),
            (
                "server",
                "tls_handshake_timeout_secs",
                server.tls_handshake_timeout_secs,
                1,
            ),
            ("server", "data_timeout_secs", server.data_timeout_secs, 1),
            (
                "server",
                "shutdown_grace_secs",
                server.shutdown_grace_secs,
                1,
            ),
            (
                "server",
                "login_failure_delay_ms",
                server.login_failure_delay_ms,
                1000,
            ),
            ("state", "timeout_ms", self.state.timeout_ms, 1000),
            ("s3", "timeout_secs", self.s3.timeout_secs, 1),
        ];
        let acme = self
            .acme
            .as_ref()
            .map(|a| ("acme", "retry_secs", a.retry_secs, 1));
        for (section, key, value, per_sec) in durations.into_iter().chain(acme) {
            let most = YEAR_SECS * per_sec;
            if value > most {
                return Err(invalid(
                    key,
                    format!("{section}.{key} = {value} is more than a year; at most {most}"),
                ));
            }
        }
        // Each running check is a thread holding argon2's ~19 MiB: thousands would not start.
        if self.login.max_concurrent_checks > MAX_CONCURRENT_CHECKS {
            return Err(invalid(
                "max_concurrent_checks",
                format!(
                    "login.max_concurrent_checks = {} is more than {MAX_CONCURRENT_CHECKS} (each \
                     running password check is a thread holding ~19 MiB); 0 = one per core",
                    self.login.max_concurrent_checks
                ),
            ));
        }
        for (key, text) in [
            ("banner", &self.server.banner),
            ("login_message", &self.server.login_message),
        ] {
            if text.len() > greeting::MAX_BYTES {
                return Err(invalid(
                    key,
                    format!(
                        "server.{key} is {} bytes long; at most {} (clients refuse a longer \
                         greeting)",
                        text.len(),
                        greeting::MAX_BYTES
                    ),
                ));
            }
        }
        if let Some((key, m)) = self.state.problem() {
            return Err(invalid(key, m));
        }
        if let Some((key, m)) = self.s3.problem() {
            return Err(invalid(key, m));
        }
        if let Err(m) = self.s3.resolve(&self.base_dir) {
            return Err(invalid("secret_access_key_file", m));
        }
        if self.proxy_protocol.header_timeout_secs == 0
            || self.proxy_protocol.header_timeout_secs > 300
        {
            return Err(invalid(
                "header_timeout_secs",
                "proxy_protocol.header_timeout_secs must be from 1 to 300".into(),
            ));
        }
        if let (Some(e), Some(i)) = (&self.explicit, &self.implicit)
            && let Some(both) = e.listen.overlaps(&i.listen)
        {
            return Err(invalid(
                "listen",
                format!("explicit and implicit listeners both use {both}"),
            ));
        }
        if let Some(acme) = &self.acme {
            if self.tls.cert.is_some() || self.tls.key.is_some() {
                return Err(invalid(
                    "cert",
                    "with [acme] the certificate comes from the CA: remove tls.cert and tls.key (or the [acme] section)".into(),
                ));
            }
            if let Some((key, message)) = acme.problem() {
                return Err(invalid(key, message));
            }
            let responder = acme.listen();
            let collides = |a: &SocketAddr| {
                a.port() == responder.port()
                    && (a.ip() == responder.ip()
                        || a.ip().is_unspecified()
                        || responder.ip().is_unspecified())
            };
            let taken = [
                ("[explicit] listen", self.explicit.as_ref()),
                ("[implicit] listen", self.implicit.as_ref()),
            ]
            .into_iter()
            .filter_map(|(what, l)| l.map(|l| (what, l.listen.addrs().to_vec())))
            .chain(
                self.admin
                    .enabled
                    .then(|| ("[admin] listen", vec![self.admin.listen])),
            )
            .find(|(_, addrs)| addrs.iter().any(collides));
            if let Some((what, _)) = taken {
                return Err(invalid(
                    "listen",
                    format!(
                        "the ACME {} responder's address {responder} is also {what}: give [acme] listen its own port",
                        acme.challenge.as_str()
                    ),
                ));
            }
        }
        if self.tls.cert.is_some() != self.tls.key.is_some() {
            return Err(invalid(
                "cert",
                "tls.cert and tls.key must be given together".into(),
            ));
        }
        for (key, v) in [
            ("idle_timeout_secs", self.server.idle_timeout_secs),
            ("login_timeout_secs", self.server.login_timeout_secs),
            (
                "tls_handshake_timeout_secs",
                self.server.tls_handshake_timeout_secs,
            ),
            ("data_timeout_secs", self.server.data_timeout_secs),
        ] {
            if v == 0 {
                return Err(invalid(key, format!("server.{key} must be at least 1")));
            }
        }
        if let Some(m) = &self.message
            && (m.name.is_empty()
                || m.name.len() > 255
                || m.name.contains(['/', '\\', '\0'])
                || m.name == "."
                || m.name == "..")
        {
            return Err(invalid(
                "name",
                format!(
                    "message.name '{}' must be a plain file name like WELCOME.txt",
                    m.name
                ),
            ));
        }
        if !valid_log_level(&self.server.log_level) {
            return Err(invalid(
                "log_level",
                format!(
                    "server.log_level: '{}' is not a log level (error, warn, info, debug, trace)",
                    self.server.log_level
                ),
            ));
        }
        for p in &self.plugins {
            if let Err(m) = crate::plugins::config::check_name(&p.name) {
                // The line of this entry's name, not the first `name =` of the file.
                let line = text
                    .lines()
                    .position(|l| l.trim_start().starts_with("name") && l.contains(&p.name))
                    .map_or(1, |i| i + 1);
                return Err(ConfigError::Invalid {
                    path: path.into(),
                    line,
                    message: m,
                });
            }
        }
        self.validate_plugin_paths(&invalid)
    }

    /// Folders and files several `[[plugins]]` entries name: two records in one file would
    /// interleave, and a quarantine inside (or around) the folders an `authenticate` plugin
    /// hands out as homes would show what was taken away to those users.
    fn validate_plugin_paths(
        &self,
        invalid: &dyn Fn(&str, String) -> ConfigError,
    ) -> Result<(), ConfigError> {
        let mut records: Vec<(PathBuf, &str)> = Vec::new();
        for p in &self.plugins {
            if let Some(r) = &p.record {
                let r = self.resolve(r);
                if let Some((_, other)) = records.iter().find(|(o, _)| *o == r) {
                    return Err(invalid(
                        "record",
                        format!(
                            "plugins '{other}' and '{}' both record to {}: give each its own file",
                            p.name,
                            r.display()
                        ),
                    ));
                }
                records.push((r, &p.name));
            }
        }
        let roots: Vec<&PathBuf> = self
            .plugins
            .iter()
            .filter_map(|p| p.capabilities.auth.as_ref())
            .flat_map(|a| a.roots.iter())
            .collect();
        for p in &self.plugins {
            let Some(q) = &p.capabilities.quarantine else {
                continue;
            };
            if let Some(root) = roots.iter().find(|r| q.starts_with(r) || r.starts_with(q)) {
                return Err(invalid(
                    "quarantine",
                    format!(
                        "plugin '{}': quarantine folder {} overlaps auth.roots folder {} (users of an authenticate plugin live there): put it outside",
                        p.name,
                        q.display(),
                        root.display()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// `[tls] ticket_key_file`, resolved against the config's folder.
    pub fn ticket_key_path(&self) -> Option<PathBuf> {
        self.tls.ticket_key_file.as_ref().map(|p| self.resolve(p))
    }

    fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }

    pub fn log_dir(&self) -> Option<PathBuf> {
        self.log.dir.as_ref().map(|d| self.resolve(d))
    }

    pub fn data_dir(&self) -> PathBuf {
        self.resolve(&self.server.data_dir)
    }

    pub fn users_file(&self) -> PathBuf {
        match &self.server.users_file {
            Some(p) => self.resolve(p),
            None => self.data_dir().join("users.toml"),
        }
    }

    /// Certificate and key paths, and whether they are the generated defaults (with `[acme]`,
    /// the CA's, in `<data_dir>/acme`).
    pub fn tls_paths(&self) -> (PathBuf, PathBuf, bool) {
        match (&self.tls.cert, &self.tls.key) {
            (Some(c), Some(k)) => (self.resolve(c), self.resolve(k), false),
            _ if self.acme.is_some() => {
                let dir = crate::acme::state_dir(&self.data_dir());
                (dir.join("cert.pem"), dir.join("key.pem"), true)
            }
            _ => {
                let dir = self.data_dir().join("tls");
                (dir.join("cert.pem"), dir.join("key.pem"), true)
            }
        }
    }

    /// A certificate or key that cannot be used, told as a config error when the config names
    /// the files (`ftpsd.toml:12: tls.key: cannot read …`), so the operator sees which line to
    /// fix; a generated or ACME certificate's error is told as it is.
    pub fn tls_files_error(&self, e: &crate::tls::TlsFileError) -> String {
        let (Some(_), Some(key), Some(source)) = (&self.tls.cert, &self.tls.key, &self.source)
        else {
            return e.to_string();
        };
        let which = if e.path() == self.resolve(key) {
            "key"
        } else {
            "cert"
        };
        let text = std::fs::read_to_string(source).unwrap_or_default();
        let message = format!(
            "tls.{which}: {e} (fix the path in [tls] or the file; without tls.cert and tls.key the server makes a self-signed certificate)"
        );
        ConfigError::invalid(source, &text, which, message).to_string()
    }

    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.server.idle_timeout_secs)
    }
    pub fn login_timeout(&self) -> Duration {
        Duration::from_secs(self.server.login_timeout_secs)
    }
    pub fn tls_handshake_timeout(&self) -> Duration {
        Duration::from_secs(self.server.tls_handshake_timeout_secs)
    }
    pub fn data_timeout(&self) -> Duration {
        Duration::from_secs(self.server.data_timeout_secs)
    }
}

/// A quarter of the soft open-file limit (at least 64); 0 (unlimited) when it is unlimited.
fn default_max_users() -> usize {
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct it is given; nothing else is touched.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) } != 0
        || l.rlim_cur == libc::RLIM_INFINITY
    {
        return 0;
    }
    ((l.rlim_cur / 4) as usize).max(64)
}

/// `info`, or directives like `info,ftpsd::session=debug`.
fn valid_log_level(s: &str) -> bool {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    !s.trim().is_empty()
        && s.split(',').all(|d| {
            let level = d
                .rsplit('=')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            let target_ok = d
                .split_once('=')
                .is_none_or(|(t, _)| !t.trim().is_empty() && !t.contains(char::is_whitespace));
            LEVELS.contains(&level.as_str()) && target_ok
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Config, ConfigError> {
        Config::parse(s, Path::new("/etc/ftpsd/ftpsd.toml"))
    }

    #[test]
    fn greetings_come_from_files_next_to_the_config() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("welcome.txt"), "Hello\nRules apply.\n").unwrap();
        std::fs::write(dir.path().join("banner.txt"), "Site\nPrivate").unwrap();
        let path = dir.path().join("ftpsd.toml");
        let text = "[server]\nbanner_file = \"banner.txt\"\nlogin_message_file = \"welcome.txt\"\n\
                    [explicit]\nlisten = \"127.0.0.1:0\"\n";
        let c = Config::parse(text, &path).unwrap();
        assert_eq!(c.server.banner, "Site\nPrivate");
        assert_eq!(c.server.login_message, "Hello\nRules apply.\n");
        let missing = text.replace("welcome.txt", "gone.txt");
        let e = Config::parse(&missing, &path).unwrap_err().to_string();
        assert!(e.contains(":3:") && e.contains("gone.txt"), "{e}");
    }

    #[test]
    fn durations_past_a_year_are_refused_by_name() {
        let e = parse("[server]\nlogin_timeout_secs = 18446744073709551615\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(":2: server.login_timeout_secs = 18446744073709551615 is more"),
            "{e}"
        );
        let e = parse("[server]\n\nlogin_failure_delay_ms = 31536000001\n").unwrap_err();
        assert!(
            e.to_string().contains(":3: server.login_failure_delay_ms"),
            "{e}"
        );
        assert!(parse("[server]\nidle_timeout_secs = 31536000\n").is_ok());
        let e = parse("[state]\ntimeout_ms = 99999999999999\n").unwrap_err();
        assert!(e.to_string().contains("state.timeout_ms"), "{e}");
    }

    #[test]
    fn password_check_threads_are_bounded() {
        let e = parse("[login]\nmax_concurrent_checks = 3000\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(":2: login.max_concurrent_checks = 3000 is more than 256"),
            "{e}"
        );
        assert!(parse("[login]\nmax_concurrent_checks = 256\n").is_ok());
    }

    #[test]
    fn a_greeting_too_long_for_clients_is_refused() {
        let e = parse(&format!(
            "[server]\nbanner = \"{}\"\n",
            "x".repeat(1_000_000)
        ))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains(":2: server.banner is 1000000 bytes long; at most 8192"),
            "{e}"
        );
        let e = parse(&format!(
            "[server]\n\nlogin_message = \"{}\"\n",
            "x".repeat(9000)
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains(":3: server.login_message is 9000 bytes"), "{e}");
        assert!(parse(&format!("[server]\nbanner = \"{}\"\n", "x".repeat(8192))).is_ok());
    }

    #[test]
    fn a_config_that_is_not_utf8_is_placed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ftpsd.toml");
        std::fs::write(&path, b"[server]\nbanner = \"caf\xe9\"\n").unwrap();
        let e = Config::load(&path).unwrap_err().to_string();
        assert!(
            e.contains("ftpsd.toml:2:14: this byte is not UTF-8 text"),
            "{e}"
        );
    }

    #[test]
    fn minimal_config() {
        let c = parse("[explicit]\nlisten = \"127.0.0.1:21\"\n").unwrap();
        assert!(c.implicit.is_none());
        assert!(c.explicit.as_ref().unwrap().require_tls);
        assert_eq!(
            c.users_file(),
            PathBuf::from("/etc/ftpsd/ftpsd-data/users.toml")
        );
        assert_eq!(c.idle_timeout(), Duration::from_secs(600));
    }

    #[test]
    fn reload_sorts_changes_into_live_and_restart() {
        let old = parse("[explicit]\nlisten = \"127.0.0.1:21\"\n").unwrap();
        let same = parse("[explicit]\nlisten = \"127.0.0.1:21\"\n").unwrap();
        assert!(old.live_changes(&same).is_empty());
        assert!(old.changes_needing_restart(&same).is_empty());
        let newer = parse(
            "[server]\nbanner = \"hi\"\nidle_timeout_secs = 5\nlog_level = \"debug\"\n\
             login_failure_delay_ms = 50\n\
             [explicit]\nlisten = \"127.0.0.1:2121\"\nrequire_tls = false\n\
             [passive]\nport_min = 41000\nport_max = 41010\n",
        )
        .unwrap();
        assert_eq!(
            old.live_changes(&newer),
            [
                "[server] banner",
                "[server] timeouts",
                "[server] login_failure_delay_ms",
                "[explicit] options",
                "[passive]"
            ]
        );
        assert_eq!(
            old.changes_needing_restart(&newer),
            ["[server] log_level", "[explicit] listen"]
        );
        let no_explicit = parse("[implicit]\nlisten = \"127.0.0.1:990\"\n").unwrap();
        assert_eq!(
            old.changes_needing_restart(&no_explicit),
            ["[explicit] listen", "[implicit] listen"]
        );
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let e = parse("[explicit]\nlisten = \"127.0.0.1:21\"\n\n[passive]\nport_mn = 3\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("/etc/ftpsd/ftpsd.toml:5"), "{e}");
        assert!(e.contains("port_mn"), "{e}");
    }

    #[test]
    fn bad_value_names_line() {
        let e = parse("[explicit]\nlisten = \"localhost:x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("ftpsd.toml:2"), "{e}");
    }

    #[test]
    fn semantic_errors_name_the_key_and_line() {
        let e = parse(
            "[explicit]\nlisten = \"127.0.0.1:21\"\n[passive]\nport_min = 6000\nport_max = 5000\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("ftpsd.toml:4") && e.contains("port_min"), "{e}");
        // Without a listener section: the embedded default's listeners.
        let c = parse("[server]\nbanner = \"x\"\n").unwrap();
        assert_eq!(
            (
                c.explicit.unwrap().listen.addrs()[0].port(),
                c.implicit.unwrap().listen.addrs()[0].port()
            ),
            (2121, 2990)
        );
        let e = parse("[explicit]\nlisten = \"127.0.0.1:21\"\n[server]\nlog_level = \"loud\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("ftpsd.toml:4"), "{e}");
    }

    #[test]
    fn overrides_parse() {
        let c = parse(
            "[explicit]\nlisten = \"0.0.0.0:21\"\n[passive]\nadvertise = \"ftp.example.test\"\n[[passive.overrides]]\nclients = \"192.168.0.0/16\"\nadvertise = \"192.168.1.10\"\n",
        )
        .unwrap();
        assert_eq!(c.passive.overrides.len(), 1);
        assert!(
            c.passive.overrides[0]
                .clients
                .contains("192.168.7.7".parse().unwrap())
        );
    }
}
