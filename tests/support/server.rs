//! The server under test, started in-process from the same library the binary uses.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use ftpsd::Config;
use ftpsd::fs::Rights;
use ftpsd::users::file::{UserEntry, UsersFile};

use crate::s3::S3Server;

pub struct TestServer {
    pub server: ftpsd::Server,
    pub dir: tempfile::TempDir,
    pub cert: PathBuf,
    pub config: Config,
    /// The S3 server the homes live in, for [`Storage::S3`].
    pub store: Option<S3Server>,
}

/// Where the users' homes (and `{STORE}` mounts) live: the same tests run on both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    /// Local directories under the test's temporary directory (cap-std sandbox).
    Local,
    /// Prefixes in a bucket of a real S3 server (moto) started for the test.
    S3,
}

/// A file or folder as [`TestServer::stat`] sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub is_dir: bool,
    pub len: u64,
    pub modify: String,
}

/// The bucket [`Storage::S3`] homes live in: `s3://ftp/homes/<user>`.
pub const BUCKET: &str = "ftp";

pub struct TestServerBuilder {
    plugins: Vec<(String, Vec<u8>, String)>,
    users: Vec<(String, String, Rights)>,
    tweak: Vec<Box<dyn FnOnce(&mut Config)>>,
    extra_toml: String,
    storage: Storage,
}

impl Default for TestServerBuilder {
    fn default() -> Self {
        TestServerBuilder {
            plugins: Vec::new(),
            users: vec![("alice".into(), "alice-pass".into(), Rights::All)],
            tweak: Vec::new(),
            extra_toml: String::new(),
            storage: Storage::Local,
        }
    }
}

impl TestServerBuilder {
    pub fn user(mut self, name: &str, pass: &str, rights: Rights) -> Self {
        self.users.push((name.into(), pass.into(), rights));
        self
    }

    /// Where homes live; with [`Storage::S3`] a moto server is started and `[s3]` names it.
    pub fn storage(mut self, storage: Storage) -> Self {
        self.storage = storage;
        self
    }

    /// Raw TOML appended to the users file (groups, users with mounts, `[anonymous]`).
    /// `{DIR}` is replaced by the server's temporary directory; `{STORE}` by the same for
    /// [`Storage::Local`] and by `s3://ftp` for [`Storage::S3`].
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
        let store = match self.storage {
            Storage::Local => None,
            Storage::S3 => {
                let s3 = S3Server::start(BUCKET).await;
                config.s3.endpoint = Some(s3.endpoint());
                config.s3.access_key_id = Some("test-key".into());
                config.s3.secret_access_key = Some("test-secret".into());
                Some(s3)
            }
        };
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
            let home = if store.is_some() {
                PathBuf::from(format!("s3://{BUCKET}/homes/{name}"))
            } else {
                let home = PathBuf::from(format!("homes/{name}"));
                std::fs::create_dir_all(dir.path().join("data").join(&home)).unwrap();
                home
            };
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
            let local = dir.path().display().to_string();
            let root = match store {
                Some(_) => format!("s3://{BUCKET}"),
                None => local.clone(),
            };
            text.push_str(
                &self
                    .extra_toml
                    .replace("{STORE}", &root)
                    .replace("{DIR}", &local),
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
            store,
        }
    }
}

/// A test server that was stopped; its files are still there.
pub struct StoppedServer {
    pub dir: tempfile::TempDir,
    pub cert: PathBuf,
    pub config: Config,
    pub store: Option<S3Server>,
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
            store: self.store,
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

    /// The default server with its homes in `storage`.
    pub async fn start_on(storage: Storage) -> TestServer {
        Self::builder().storage(storage).start().await
    }

    /// A server whose explicit listener does not require TLS: plaintext sessions and PROT C.
    pub async fn start_tls_optional() -> TestServer {
        Self::start_tls_optional_on(Storage::Local).await
    }

    /// As [`TestServer::start_tls_optional`], with the homes in `storage`.
    pub async fn start_tls_optional_on(storage: Storage) -> TestServer {
        Self::builder()
            .storage(storage)
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
            store,
        } = self;
        let ctx = server.ctx.clone();
        drop(server);
        crate::until("old server released", || {
            std::sync::Arc::strong_count(&ctx) == 1
        })
        .await;
        drop(ctx);
        StoppedServer {
            dir,
            cert,
            config,
            store,
        }
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

    /// The home directory of a user created with `user()` (or alice), on [`Storage::Local`].
    pub fn home(&self, user: &str) -> PathBuf {
        assert!(self.store.is_none(), "home() is a local directory");
        self.dir.path().join("data/homes").join(user)
    }

    /// The key of `rel` in the home of `user` on [`Storage::S3`].
    fn key(user: &str, rel: &str) -> String {
        format!("homes/{user}/{rel}")
    }

    /// Puts a file in a user's home, as another program would (on disk or in the bucket);
    /// returns its local path (only meaningful on [`Storage::Local`]).
    pub fn write(&self, user: &str, rel: &str, data: &[u8]) -> PathBuf {
        if let Some(s3) = &self.store {
            s3.put(BUCKET, &Self::key(user, rel), data);
            return PathBuf::from(format!("s3://{BUCKET}/{}", Self::key(user, rel)));
        }
        let p = self.home(user).join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, data).unwrap();
        p
    }

    /// Makes a folder in a user's home (an empty-folder marker in a bucket).
    pub fn mkdir(&self, user: &str, rel: &str) {
        match &self.store {
            Some(s3) => s3.put(BUCKET, &format!("{}/", Self::key(user, rel)), b""),
            None => std::fs::create_dir_all(self.home(user).join(rel)).unwrap(),
        }
    }

    pub fn read(&self, user: &str, rel: &str) -> Vec<u8> {
        match &self.store {
            Some(s3) => s3.get(BUCKET, &Self::key(user, rel)),
            None => std::fs::read(self.home(user).join(rel))
                .unwrap_or_else(|e| panic!("read {rel}: {e}")),
        }
    }

    /// Whether a file or folder `rel` is in a user's home.
    pub fn exists(&self, user: &str, rel: &str) -> bool {
        match &self.store {
            Some(s3) => {
                let key = Self::key(user, rel);
                s3.keys(BUCKET, &key)
                    .iter()
                    .any(|k| *k == key || k.starts_with(&format!("{key}/")))
            }
            None => self.home(user).join(rel).exists(),
        }
    }

    /// What another program sees of `rel` in a user's home: whether it is a folder, its size,
    /// and its modification time as MDTM gives it (`YYYYMMDDHHMMSS`, UTC).
    pub fn stat(&self, user: &str, rel: &str) -> Option<Entry> {
        match &self.store {
            Some(s3) => {
                let key = Self::key(user, rel);
                let objects = s3.objects(BUCKET, &key);
                let folder = format!("{key}/");
                if let Some((_, len, modify)) = objects.iter().find(|o| o.0 == key) {
                    return Some(Entry {
                        is_dir: false,
                        len: *len,
                        modify: modify.clone(),
                    });
                }
                let marker = objects.iter().find(|o| o.0 == folder);
                objects
                    .iter()
                    .any(|o| o.0.starts_with(&folder))
                    .then(|| Entry {
                        is_dir: true,
                        len: 0,
                        modify: marker.map(|m| m.2.clone()).unwrap_or_default(),
                    })
            }
            None => {
                let md = std::fs::metadata(self.home(user).join(rel)).ok()?;
                Some(Entry {
                    is_dir: md.is_dir(),
                    len: md.len(),
                    modify: ftpsd::fs::listing::mdtm(md.modified().unwrap()),
                })
            }
        }
    }

    /// The names directly in a user's folder `rel` ("" for the home), sorted; what another
    /// program listing the disk or the bucket sees.
    pub fn names(&self, user: &str, rel: &str) -> Vec<String> {
        let mut names: Vec<String> = match &self.store {
            Some(s3) => {
                let prefix = if rel.is_empty() {
                    format!("homes/{user}/")
                } else {
                    format!("{}/", Self::key(user, rel))
                };
                let mut names: Vec<String> = s3
                    .keys(BUCKET, &prefix)
                    .iter()
                    .filter_map(|k| k.strip_prefix(&prefix))
                    .filter_map(|rest| rest.split('/').next())
                    .filter(|n| !n.is_empty())
                    .map(str::to_string)
                    .collect();
                names.dedup();
                names
            }
            None => std::fs::read_dir(self.home(user).join(rel))
                .unwrap()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect(),
        };
        names.sort();
        names.dedup();
        names
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
