//! What every session, admin operation and reload shares: [`ServerContext`]. It sits below
//! the modules that use it (sessions, admin, reloads, the accept loop) and imports none of
//! them, and [`ServerContext::build`] makes one from loaded parts, so tests can have one
//! without starting listeners.

use std::sync::Arc;

use crate::access::ConnectionLimits;
use crate::access::sessions::SessionRegistry;
use crate::config::{Config, ListenerSection};
use crate::fs::quota::QuotaRegistry;
use crate::fs::vfs::VirtualFile;
use crate::tls::TlsConfigs;
use crate::users::Authenticator;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerKind {
    Explicit,
    Implicit,
}

/// Everything sessions share.
pub struct ServerContext {
    /// The config the server started with: listeners, data dir, admin, log, exec, message.
    pub config: Config,
    /// The config in force for new sessions; a reload (SIGHUP) swaps it when the file is
    /// valid. Sessions take a snapshot when they start (`Session::cfg`).
    pub live: arc_swap::ArcSwap<Config>,
    /// Swapped whole by a certificate reload (SIGHUP); sessions take the current one.
    pub tls: arc_swap::ArcSwap<TlsConfigs>,
    pub auth: Authenticator,
    pub limits: ConnectionLimits,
    pub sessions: Arc<SessionRegistry>,
    pub quotas: QuotaRegistry,
    /// Open object-storage mounts (one connection pool per bucket, prefix and settings).
    pub object_mounts: crate::fs::object::ObjectMounts,
    pub share_dirs: crate::fs::share_dirs::ShareDirs,
    pub message: Option<Arc<VirtualFile>>,
    /// Global allow/deny rules, swapped by a reload.
    /// The rules in force: the config's `[access]` lists and the managed ones together.
    pub ip_rules: arc_swap::ArcSwap<crate::access::IpRules>,
    /// The managed lists (`<data_dir>/access.toml`); changed only under this lock, which
    /// also orders their writes to the file.
    pub managed_access: std::sync::Mutex<crate::access::IpRules>,
    /// Why the last users-file reload was rejected (None after a good one).
    pub users_reload_error: std::sync::Mutex<Option<String>>,
    pub plugins: Arc<crate::plugins::PluginHost>,
    /// Outcome of each plugin hot-swap attempt, newest last.
    pub plugin_reloads: crate::plugins::swap::ReloadLog,
    /// This node in its cluster, when the state store is shared.
    pub cluster: Option<Arc<crate::cluster::Node>>,
    /// Session limits over every node, when the state store is shared.
    pub cluster_sessions: Option<Arc<crate::access::cluster_sessions::ClusterSessions>>,
    /// `[proxy_protocol]`, shared by every passive listener.
    pub proxy_protocol: Arc<crate::proxy_protocol::ProxySection>,
    /// Runs the programs of execute actions.
    pub exec: Arc<crate::plugins::exec::Runner>,
    pub started: std::time::Instant,
    /// Becomes true at shutdown: idle sessions close at once, running transfers finish first.
    pub shutdown: tokio::sync::watch::Sender<bool>,
    /// Counters for the metrics endpoint (the same object the plugin host records hooks in).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Open passive listeners per address and user (`[passive] max_listeners_per_*`).
    pub passive_caps: Arc<crate::data::listener_caps::ListenerCaps>,
    /// TLS resumption scopes of logged-in users (`require_session_reuse = "user"`).
    pub tls_scopes: Arc<crate::tls::scope::ScopeRegistry>,
    /// Bandwidth buckets shared by the transfers each limit applies to.
    pub bandwidth: crate::data::bandwidth::Registry,
    /// Uploads whose `upload-complete` actions may still take them away.
    pub held_files: Arc<crate::fs::held_files::HeldFiles>,
    /// Logins an `authenticate` plugin is deciding at once, server-wide: a flood from many
    /// addresses cannot send the user directory more than this many requests together.
    pub plugin_logins: tokio::sync::Semaphore,
}

/// Most logins `authenticate` plugins decide at once (beyond: 421, try again).
pub const MAX_PLUGIN_LOGINS: usize = 64;

impl ServerContext {
    /// Opens where a mount's files live: its local folder, or its bucket with the current
    /// `[s3]` settings. Blocking (a local open); call from the blocking pool.
    pub fn open_storage(
        &self,
        m: &crate::users::file::ResolvedMount,
    ) -> Result<crate::fs::Storage, crate::fs::FsError> {
        use crate::fs::{FsError, Storage};
        match &m.object {
            // One descriptor per folder for all the sessions that have it (10,000 sessions of
            // one account hold one, not 10,000), as for shares.
            None => Ok(Storage::Local(
                self.share_dirs
                    .open(&m.real, &crate::fs::VirtualPath::root())?
                    .0,
            )),
            Some(loc) => {
                let rt = tokio::runtime::Handle::try_current()
                    .map_err(|_| FsError::Store("no runtime".into()))?;
                let live = self.live.load();
                Ok(Storage::Object(self.object_mounts.get(
                    loc,
                    &live.s3,
                    &live.base_dir,
                    &rt,
                )?))
            }
        }
    }

    /// The quota of a mount with `limit`, measured once (a folder walk, or a listing of the
    /// bucket's prefix) and then kept as uploads and deletions change it. A listing that
    /// fails is an error (a usage of 0 would lift the quota), tried again next time.
    pub fn quota_of(
        &self,
        m: &crate::users::file::ResolvedMount,
        storage: &crate::fs::Storage,
        limit: u64,
    ) -> Result<std::sync::Arc<crate::fs::quota::Quota>, crate::fs::FsError> {
        match storage {
            crate::fs::Storage::Object(o) => {
                self.quotas
                    .try_get_with(m.real.clone(), limit, || o.usage())
            }
            crate::fs::Storage::Local(_) => Ok(self.quotas.get(&m.real, limit)),
        }
    }

    /// A listener's options (require_tls, session reuse) as `cfg` has them, or as the server
    /// started when a reload removed that listener (it stays bound until a restart).
    pub fn listener<'a>(&'a self, cfg: &'a Config, kind: ListenerKind) -> &'a ListenerSection {
        let pick = |c: &'a Config| match kind {
            ListenerKind::Explicit => c.explicit.as_ref(),
            ListenerKind::Implicit => c.implicit.as_ref(),
        };
        pick(cfg)
            .or_else(|| pick(&self.config))
            .expect("a session only exists for a configured listener")
    }
}

/// What a context is built from: the config and what had to be loaded from files (the
/// certificate, the users file, the plugins); everything else starts empty.
pub struct ContextParts {
    pub config: Config,
    pub tls: TlsConfigs,
    pub auth: Authenticator,
    pub plugins: Arc<crate::plugins::PluginHost>,
    /// The IP lists managed at run time (`access::managed`).
    pub managed_access: crate::access::IpRules,
}

impl ServerContext {
    pub fn build(parts: ContextParts) -> ServerContext {
        let ContextParts {
            config,
            tls,
            auth,
            plugins,
            managed_access,
        } = parts;
        let message = config.message.as_ref().map(|m| {
            Arc::new(VirtualFile {
                name: m.name.clone(),
                bytes: m.text.as_bytes().into(),
                modified: std::time::SystemTime::now(),
            })
        });
        let cluster = config.state.is_shared().then(|| {
            Arc::new(crate::cluster::Node::new(
                plugins.kv.clone(),
                config.state.node.as_deref(),
            ))
        });
        ServerContext {
            live: arc_swap::ArcSwap::from_pointee(config.clone()),
            tls: arc_swap::ArcSwap::from_pointee(tls),
            auth,
            limits: ConnectionLimits::new(
                config.server.max_users,
                config.server.max_connections_per_ip,
            ),
            sessions: Arc::new(SessionRegistry::default()),
            quotas: QuotaRegistry::default(),
            object_mounts: Default::default(),
            share_dirs: Default::default(),
            message,
            ip_rules: arc_swap::ArcSwap::from_pointee(crate::access::managed::combined(
                &config.access.rules(),
                &managed_access,
            )),
            managed_access: std::sync::Mutex::new(managed_access),
            users_reload_error: std::sync::Mutex::new(None),
            plugin_reloads: Default::default(),
            proxy_protocol: Arc::new(config.proxy_protocol.clone()),
            cluster_sessions: cluster.as_ref().map(|node| {
                Arc::new(crate::access::cluster_sessions::ClusterSessions::new(
                    plugins.kv.clone(),
                    &node.id,
                ))
            }),
            cluster,
            exec: Arc::new(crate::plugins::exec::Runner::new(&config.exec)),
            metrics: plugins.metrics.clone(),
            plugins,
            passive_caps: Default::default(),
            tls_scopes: Default::default(),
            bandwidth: Default::default(),
            held_files: Default::default(),
            plugin_logins: tokio::sync::Semaphore::new(MAX_PLUGIN_LOGINS),
            started: std::time::Instant::now(),
            shutdown: tokio::sync::watch::channel(false).0,
            config,
        }
    }
}
