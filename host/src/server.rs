//! Starting the server (context, watchers, listeners) and the accept loop: each connection
//! passes admission (`crate::admission`: rules, limits, the connect hook, implicit TLS) before
//! the banner, then gets its own session task.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::config::Config;
pub use crate::context::{ContextParts, ListenerKind, ServerContext};
use crate::session::Session;
use crate::tls::TlsConfigs;
use crate::users::{Authenticator, UsersFile, UsersFileError};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The certificate or key, told as the config's error when the config names them.
    #[error("{0}")]
    Tls(String),
    #[error(transparent)]
    Users(#[from] UsersFileError),
    #[error(transparent)]
    Plugin(#[from] crate::plugins::PluginError),
    #[error(transparent)]
    Admin(#[from] crate::admin::AdminError),
    #[error(transparent)]
    Store(#[from] crate::state::StoreError),
    #[error(transparent)]
    Access(#[from] crate::access::managed::AccessFileError),
    #[error(transparent)]
    Cert(#[from] crate::tls::certgen::CertGenError),
    #[error(transparent)]
    TicketKeys(#[from] crate::tls::shared_tickets::TicketKeyError),
    #[error("cannot listen on {addr} ({kind}): {source}")]
    Bind {
        addr: SocketAddr,
        kind: &'static str,
        source: std::io::Error,
    },
}

/// Pending connections the kernel queues for each listener before the accept loop takes them.
/// A burst (a login storm, a client opening many connections) must not overflow it: a
/// connection dropped from a full queue looks established to its client, which then waits for
/// a banner that never comes.
const LISTEN_BACKLOG: u32 = 1024;

/// Binds one control listener (address reuse on, so a restart does not wait for old
/// connections in TIME_WAIT). An IPv6 address listed next to IPv4 ones takes only IPv6
/// (`["0.0.0.0:21", "[::]:21"]` is then two sockets that do not collide); alone, `[::]:21`
/// stays dual-stack.
fn bind_control(addr: SocketAddr, with_ipv4: bool) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    if addr.is_ipv6() {
        socket.set_only_v6(with_ipv4)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG as i32)?;
    TcpListener::from_std(socket.into())
}

/// A started server: its bound addresses (useful with port 0) and its tasks.
pub struct Server {
    /// The first explicit / implicit address bound (`listening` has them all).
    pub explicit: Option<SocketAddr>,
    pub implicit: Option<SocketAddr>,
    /// Every control address bound, in config order.
    pub listening: Vec<(ListenerKind, SocketAddr)>,
    /// The HTTP admin listener, when enabled.
    pub admin: Option<SocketAddr>,
    pub ctx: Arc<ServerContext>,
    tasks: JoinSet<()>,
    _users_watcher: Option<crate::reconfigure::watch::FileWatcher>,
    _plugin_watcher: Option<crate::reconfigure::watch::FileWatcher>,
    _cert_watcher: Option<crate::reconfigure::watch::FileWatcher>,
}

impl Server {
    /// Loads certificate and users, binds the listeners and starts accepting.
    pub async fn start(config: Config) -> Result<Server, StartError> {
        let acme = match &config.acme {
            Some(section) => {
                crate::acme::ensure_placeholder(&config, section)?;
                let responder =
                    crate::acme::bind(section)
                        .await
                        .map_err(|source| StartError::Bind {
                            addr: section.listen(),
                            kind: "ACME challenge responder",
                            source,
                        })?;
                Some((section.clone(), responder))
            }
            None => None,
        };
        let (cert, key, _) = config.tls_paths();
        let ticketer = config
            .ticket_key_path()
            .map(|f| crate::tls::shared_tickets::load(&f))
            .transpose()?;
        let tls = TlsConfigs::from_files_with(&cert, &key, config.tls.min_version, ticketer)
            .map_err(|e| StartError::Tls(config.tls_files_error(&e)))?;
        let users = UsersFile::load(&config.users_file())?;
        crate::housekeeping::clean_upload_leftovers(&users).await;
        let auth = Authenticator::new(
            users,
            std::time::Duration::from_millis(config.server.login_failure_delay_ms),
            &config.login,
        );
        let users_path = config.users_file();
        let mut bound = Vec::new();
        for (kind, section, name) in [
            (ListenerKind::Explicit, &config.explicit, "explicit FTPS"),
            (ListenerKind::Implicit, &config.implicit, "implicit FTPS"),
        ] {
            let addrs = section.iter().flat_map(|l| l.listen.addrs());
            let with_ipv4 = addrs.clone().any(|a| a.is_ipv4());
            for &addr in addrs {
                let listener =
                    bind_control(addr, with_ipv4).map_err(|source| StartError::Bind {
                        addr,
                        kind: name,
                        source,
                    })?;
                bound.push((kind, listener));
            }
        }
        let kv = config.state.open(&config.data_dir())?;
        let sections = config.plugins.clone();
        let base = config.base_dir.clone();
        let kv2 = kv.clone();
        let last_good = crate::plugins::last_good::LastGood::new(&config.data_dir());
        crate::plugins::module_cache::keep_on_disk(crate::plugins::compiled_dir::CompiledDir::new(
            &config.data_dir(),
        ));
        let plugins = tokio::task::spawn_blocking(move || {
            crate::plugins::PluginHost::load(&sections, &base, kv2, Some(last_good))
        })
        .await
        .map_err(|e| crate::plugins::PluginError::Instantiate {
            plugin: "?".into(),
            reason: e.to_string(),
        })??;
        let managed_access =
            crate::access::managed::load(&crate::access::managed::path(&config.data_dir()))?;
        let ctx = Arc::new(ServerContext::build(ContextParts {
            config,
            tls,
            auth,
            plugins: Arc::new(plugins),
            managed_access,
        }));
        let plugin_watcher = match crate::reconfigure::watch::plugins(ctx.clone()) {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch plugin files; plugin changes need a restart");
                None
            }
        };
        crate::housekeeping::scan_quotas_in_background(ctx.clone());
        crate::memory_trim::spawn(&ctx);
        let users_watcher = match crate::reconfigure::watch::users(ctx.clone(), users_path.clone())
        {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(file = %users_path.display(), error = %e, "cannot watch the users file; changes need a restart");
                None
            }
        };
        let cert_watcher = match crate::reconfigure::watch::certificates(ctx.clone()) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch the certificate files; a renewal needs SIGHUP");
                None
            }
        };
        let mut server = Server {
            explicit: None,
            admin: None,
            implicit: None,
            listening: Vec::new(),
            ctx: ctx.clone(),
            tasks: JoinSet::new(),
            _users_watcher: users_watcher,
            _plugin_watcher: plugin_watcher,
            _cert_watcher: cert_watcher,
        };
        crate::tls::expiry::log(&cert, ctx.tls.load().not_after, false);
        server.tasks.spawn(remind_of_expiry(ctx.clone()));
        if let Some(cluster) = ctx.cluster_sessions.clone() {
            server.tasks.spawn(renew_leases(ctx.clone(), cluster));
        }
        if let Some(node) = ctx.cluster.clone() {
            tracing::info!(node = %node.name, "cluster node");
            server
                .tasks
                .spawn(crate::cluster_sync::run(ctx.clone(), node));
        }
        if let Some((section, responder)) = acme {
            server
                .tasks
                .spawn(crate::acme::run(ctx.clone(), section, responder));
        }
        if ctx.config.admin.enabled {
            let section = &ctx.config.admin;
            let token_path = section
                .token_file
                .clone()
                .unwrap_or_else(|| ctx.config.data_dir().join("admin.token"));
            let token = crate::admin::http::token(&token_path)?;
            let listener = crate::admin::http::bind(section.listen)
                .await
                .map_err(|source| StartError::Bind {
                    addr: section.listen,
                    kind: "admin HTTP",
                    source,
                })?;
            let addr = listener.local_addr().ok();
            server.admin = addr;
            tracing::info!(addr = ?addr, token_file = %token_path.display(), "admin listener");
            server.tasks.spawn(crate::admin::http::serve(
                listener,
                crate::admin::http::router(ctx.clone(), token),
            ));
        }
        let admin_path = crate::admin::socket_path(&ctx.config);
        match crate::admin::socket::bind(&admin_path) {
            Ok(l) => {
                server
                    .tasks
                    .spawn(crate::admin::socket::serve(ctx.clone(), l));
            }
            Err(e) => {
                tracing::warn!(error = %e, "no admin socket; `ftpsd bans` works only while the server is stopped")
            }
        }
        for (kind, listener) in bound {
            let addr = listener.local_addr().map_err(|source| StartError::Bind {
                addr: ([0, 0, 0, 0], 0).into(),
                kind: "listener",
                source,
            })?;
            match kind {
                ListenerKind::Explicit => server.explicit = server.explicit.or(Some(addr)),
                ListenerKind::Implicit => server.implicit = server.implicit.or(Some(addr)),
            }
            server.listening.push((kind, addr));
            tracing::info!(%addr, ?kind, "listening");
            server.tasks.spawn(accept_loop(ctx.clone(), kind, listener));
        }
        Ok(server)
    }

    /// Runs until the listeners fail (they do not, short of a fatal error).
    pub async fn wait(mut self) {
        while self.tasks.join_next().await.is_some() {}
    }

    /// Stops accepting. Sessions already running end on their own.
    pub fn stop(&mut self) {
        self.tasks.abort_all();
    }

    /// Graceful shutdown: stop accepting, close idle sessions (421), let running transfers
    /// finish, and wait for every connection to end, at most `grace`. Returns how many
    /// connections were still open when the grace period ran out.
    pub async fn shutdown(&mut self, grace: std::time::Duration) -> usize {
        self.stop();
        // send_replace: the value must stick even while no session happens to be listening.
        self.ctx.shutdown.send_replace(true);
        tracing::info!(
            connections = self.ctx.limits.current(),
            grace_secs = grace.as_secs(),
            "shutting down: transfers may finish"
        );
        let deadline = tokio::time::Instant::now() + grace;
        while self.ctx.limits.current() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let left = self.ctx.limits.current();
        if left > 0 {
            tracing::warn!(
                connections = left,
                "grace period over; closing what is left"
            );
        }
        if let Some(node) = self.ctx.cluster.clone() {
            // Off the cluster's session list at once, not when the list lapses.
            let _ =
                tokio::task::spawn_blocking(move || crate::cluster::board::withdraw(&node)).await;
        }
        left
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.tasks.abort_all();
    }
}

async fn accept_loop(ctx: Arc<ServerContext>, kind: ListenerKind, listener: TcpListener) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // EMFILE and friends: back off briefly instead of spinning (and log once a
                // minute, not at every retry).
                if let Some(left_out) =
                    crate::access::refusal_log::admit_subject("listener", "accept failed")
                {
                    tracing::error!(error = %e, left_out, "accept failed");
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        // An IPv4 client of a dual-stack listener arrives as ::ffff:a.b.c.d; logs, IP rules,
        // limits, bans and plugins all see it as the IPv4 address it is.
        let peer = SocketAddr::new(crate::config::network::canonical(peer.ip()), peer.port());
        let ctx = ctx.clone();
        ctx.metrics
            .sessions_total
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tokio::spawn(async move { connection(ctx, kind, tcp, peer).await });
    }
}

/// One control connection: admission (access rules, limits, connect hook, implicit TLS), then
/// the session. Admission runs boxed, so its larger futures (TLS accept, plugin gate) are gone
/// once the session runs: the connection's task stays as small as an idle session needs.
async fn connection(ctx: Arc<ServerContext>, kind: ListenerKind, tcp: TcpStream, peer: SocketAddr) {
    let Some(admitted) = Box::pin(crate::admission::admit(ctx.clone(), kind, tcp, peer)).await
    else {
        return;
    };
    let peer = admitted.peer;
    tracing::debug!(%peer, ?kind, "session start");
    Box::new(Session::new(
        ctx,
        kind,
        admitted.stream,
        peer,
        admitted.local,
        admitted.keys,
    ))
    .run()
    .await;
    tracing::debug!(%peer, "session end");
    drop(admitted.guard);
}

/// Keeps this node's cluster session leases alive (see `access::cluster_sessions`).
async fn renew_leases(
    ctx: Arc<ServerContext>,
    cluster: Arc<crate::access::cluster_sessions::ClusterSessions>,
) {
    let mut tick = tokio::time::interval(crate::access::cluster_sessions::RENEW);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let live = ctx.sessions.leased();
        let c = cluster.clone();
        let _ = tokio::task::spawn_blocking(move || c.renew(&live)).await;
    }
}

/// Says once a day when the certificate in force needs renewal (nothing while it does not).
async fn remind_of_expiry(ctx: Arc<ServerContext>) {
    let mut day = tokio::time::interval(std::time::Duration::from_secs(86_400));
    day.tick().await;
    loop {
        day.tick().await;
        let (cert, _, _) = ctx.live.load().tls_paths();
        crate::tls::expiry::log(&cert, ctx.tls.load().not_after, true);
    }
}
