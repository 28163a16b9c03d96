//! The server under test, started in-process from the same library the binary uses.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use ftpsd::Config;
use ftpsd::fs::Rights;
use ftpsd::users::file::{UserEntry, UsersFile};

pub struct TestServer {
    pub server: ftpsd::Server,
    pub dir: tempfile::TempDir,
    pub cert: PathBuf,
    pub config: Config,
}

pub struct TestServerBuilder {
    plugins: Vec<(String, Vec<u8>, String)>,
    users: Vec<(String, String, Rights)>,
    tweak: Vec<Box<dyn FnOnce(&mut Config)>>,
    extra_toml: String,
}

impl Default for TestServerBuilder {
    fn default() -> Self {
        TestServerBuilder {
            plugins: Vec::new(),
            users: vec![("alice".into(), "alice-pass".into(), Rights::All)],
            tweak: Vec::new(),
            extra_toml: String::new(),
        }
    }
}

impl TestServerBuilder {
    pub fn user(mut self, name: &str, pass: &str, rights: Rights) -> Self {
        self.users.push((name.into(), pass.into(), rights));
        self
    }

    /// Raw TOML appended to the users file (groups, users with mounts, `[anonymous]`).
    /// `{DIR}` is replaced by the server's temporary directory.
    pub fn users_toml(mut self, toml: &str) -> Self {
        self.extra_toml.push_str(toml);
        self
    }

    /// A plugin (in call order): the .wasm bytes go to `<dir>/plugins/<name>.wasm`; `extra` is
    /// TOML for the rest of its `[[plugins]]` entry (settings, limits, capabilities).
    pub fn plugin(mut self, name: &str, wasm: Vec<u8>, extra: &str) -> Self {
        self.plugins.push((name.into(), wasm, extra.into()));
        self
    }

    pub fn config(mut self, f: impl FnOnce(&mut Config) + 'static) -> Self {
        self.tweak.push(Box::new(f));
        self
    }

    pub async fn start(self) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config::embedded_default();
        config.base_dir = dir.path().to_path_buf();
        config.server.data_dir = dir.path().join("data");
        config.explicit.as_mut().unwrap().listen = "127.0.0.1:0".parse().unwrap();
        config.implicit.as_mut().unwrap().listen = "127.0.0.1:0".parse().unwrap();
        config.passive.port_min = 40000;
        config.passive.port_max = 44999;
        config.server.login_failure_delay_ms = 100;
        config.server.data_timeout_secs = 10;
        for t in self.tweak {
            t(&mut config);
        }
        std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
        for (name, wasm, extra) in &self.plugins {
            let path = dir.path().join(format!("plugins/{name}.wasm"));
            std::fs::write(&path, wasm).unwrap();
            let section = format!(
                "name = \"{name}\"\npath = \"{}\"\n{extra}\n",
                path.display()
            );
            config.plugins.push(
                toml::from_str(&section)
                    .unwrap_or_else(|e| panic!("plugin section: {e}\n{section}")),
            );
        }
        ftpsd::bootstrap::prepare(&config).ok();
        let mut users = UsersFile::load(&config.users_file()).unwrap();
        users.users.clear();
        for (name, pass, rights) in self.users {
            let home = PathBuf::from(format!("homes/{name}"));
            std::fs::create_dir_all(dir.path().join("data").join(&home)).unwrap();
            users.users.push(UserEntry::new(
                &name,
                ftpsd::users::password::hash(&pass),
                home,
                rights,
            ));
        }
        users.save().unwrap();
        if !self.extra_toml.is_empty() {
            let mut text = std::fs::read_to_string(config.users_file()).unwrap();
            text.push('\n');
            text.push_str(
                &self
                    .extra_toml
                    .replace("{DIR}", &dir.path().display().to_string()),
            );
            std::fs::write(config.users_file(), text).unwrap();
            UsersFile::load(&config.users_file()).expect("test users file is valid");
        }
        let (cert, _, _) = config.tls_paths();
        let server = ftpsd::Server::start(config.clone())
            .await
            .expect("server starts");
        TestServer {
            server,
            dir,
            cert,
            config,
        }
    }
}

/// A test server that was stopped; its files are still there.
pub struct StoppedServer {
    pub dir: tempfile::TempDir,
    pub cert: PathBuf,
    pub config: Config,
}

impl StoppedServer {
    pub async fn start(self) -> TestServer {
        let server = ftpsd::Server::start(self.config.clone())
            .await
            .expect("restart");
        TestServer {
            server,
            dir: self.dir,
            cert: self.cert,
            config: self.config,
        }
    }
}

impl TestServer {
    pub fn builder() -> TestServerBuilder {
        TestServerBuilder::default()
    }

    pub async fn start() -> TestServer {
        Self::builder().start().await
    }

    /// A server whose explicit listener does not require TLS: plaintext sessions and PROT C.
    pub async fn start_tls_optional() -> TestServer {
        Self::builder()
            .config(|c| c.explicit.as_mut().unwrap().require_tls = false)
            .start()
            .await
    }

    /// Stops the server and waits until it has released everything (listeners, state store,
    /// admin socket); the directory and config stay for [`StoppedServer::start`].
    pub async fn stop(self) -> StoppedServer {
        let TestServer {
            server,
            dir,
            cert,
            config,
        } = self;
        let ctx = server.ctx.clone();
        drop(server);
        crate::until("old server released", || {
            std::sync::Arc::strong_count(&ctx) == 1
        })
        .await;
        drop(ctx);
        StoppedServer { dir, cert, config }
    }

    /// Stop and start again on the same directory and config: "survives a restart" tests.
    pub async fn restart(self) -> TestServer {
        self.stop().await.start().await
    }

    /// A config file for the `ftpsd` CLI naming this server's data directory and plugins.
    pub fn config_file(&self) -> PathBuf {
        let path = self.dir.path().join("ftpsd.toml");
        let mut text = format!(
            "[server]\ndata_dir = \"{}\"\n[explicit]\nlisten = \"127.0.0.1:0\"\n",
            self.config.server.data_dir.display()
        );
        for p in &self.config.plugins {
            text.push_str(&format!(
                "[[plugins]]\nname = \"{}\"\npath = \"{}\"\n",
                p.name,
                p.path.display()
            ));
            if !p.settings.is_empty() {
                text.push_str("[plugins.settings]\n");
                text.push_str(&toml::to_string(&p.settings).unwrap());
            }
        }
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Where `plugin(name, …)` put the plugin's .wasm (for hot-swap tests).
    pub fn plugin_path(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("plugins/{name}.wasm"))
    }

    pub fn explicit(&self) -> SocketAddr {
        self.server.explicit.expect("explicit listener")
    }

    pub fn implicit(&self) -> SocketAddr {
        self.server.implicit.expect("implicit listener")
    }

    /// The home directory of a user created with `user()` (or alice).
    pub fn home(&self, user: &str) -> PathBuf {
        self.dir.path().join("data/homes").join(user)
    }

    pub fn write(&self, user: &str, rel: &str, data: &[u8]) -> PathBuf {
        let p = self.home(user).join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, data).unwrap();
        p
    }

    pub fn read(&self, user: &str, rel: &str) -> Vec<u8> {
        std::fs::read(self.home(user).join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    pub fn exists(&self, user: &str, rel: &str) -> bool {
        self.home(user).join(rel).exists()
    }

    /// Password hash for hand-written users-file entries.
    pub fn hash(pass: &str) -> String {
        ftpsd::users::password::hash(pass)
    }

    pub fn users_file(&self) -> PathBuf {
        self.config.users_file()
    }

    pub fn cert_path(&self) -> &Path {
        &self.cert
    }

    /// Bytes (keys and values) a plugin keeps in the state store now.
    pub fn plugin_state_bytes(&self, plugin: &str) -> usize {
        self.server
            .ctx
            .plugins
            .kv
            .list(&format!("plugin.{plugin}"), ftpsd::state::now_ms())
            .unwrap()
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum()
    }

    /// Explicit-TLS client, logged in as alice with PBSZ 0 / PROT P / TYPE I.
    pub async fn alice(&self) -> crate::FtpClient {
        self.login_as("alice", "alice-pass").await
    }

    /// Explicit-TLS client logged in as `user`, with PBSZ 0 / PROT P / TYPE I.
    pub async fn login_as(&self, user: &str, pass: &str) -> crate::FtpClient {
        self.login_from(None, user, pass).await
    }

    /// As [`TestServer::login_as`], with every connection from the local address `source`.
    pub async fn login_from(
        &self,
        source: Option<std::net::IpAddr>,
        user: &str,
        pass: &str,
    ) -> crate::FtpClient {
        let mut c = crate::FtpClient::connect_explicit_from(
            source,
            self.explicit(),
            crate::client::tls_config(&self.cert),
        )
        .await;
        c.login(user, pass).await;
        c.protect().await;
        c.cmd_ok("TYPE I", 200).await;
        c
    }
}
