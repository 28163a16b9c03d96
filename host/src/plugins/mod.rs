//! The plugin runtime: policy plugins as sandboxed WebAssembly, called in configured order at
//! each hook. The first deny wins; notifications go to every subscriber. Effects are data: a
//! plugin returns actions, and the host performs them only within the capabilities the operator
//! granted. Plugins are swapped atomically while the server runs (see [`swap`]).

pub mod budget;
pub mod compiled_dir;
pub mod config;
pub mod engine;
pub mod error;
pub mod exec;
pub mod faults;
pub mod file;
pub mod file_actions;
pub mod host_calls;
pub mod http;
pub mod instance;
pub mod last_good;
pub mod module_cache;
pub mod module_check;
pub mod plugin_metrics;
pub mod recorder;
pub mod store;
pub mod swap;
pub mod wasi;

use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;
use std::ops::ControlFlow;

use ftpsd_plugin_sdk::{Action, Hook, Request, Response, UploadLimits, Verdict};

pub use config::{FailurePolicy, PluginSection};
pub use error::{CallError, PluginError};
pub use file::load_section;
use file::load_with_bytes;
pub use instance::Loaded;

use crate::protocol::Code;
use crate::state::SharedStore;

/// The outcome of a gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny {
        code: crate::protocol::Code,
        message: String,
        by: String,
    },
}

pub struct PluginHost {
    plugins: ArcSwap<Vec<Arc<Loaded>>>,
    /// Where each plugin's last good version is kept (None: not kept, e.g. `plugin check`).
    pub last_good: Option<last_good::LastGood>,
    pub kv: SharedStore,
    /// Hook calls and their latency as sessions see them.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Held by every reload (file watcher, config watcher, SIGHUP, admin API) for its whole
    /// run: two reloads that overlap would otherwise each swap in what they read, and the
    /// slower one would put back settings the other had just replaced.
    pub(crate) reloading: tokio::sync::Mutex<()>,
}

impl PluginHost {
    /// Loads every configured plugin. A plugin whose file is missing or broken starts from
    /// its last good version when one is kept (with a loud warning); otherwise any failure is
    /// a start-up error naming the plugin.
    pub fn load(
        sections: &[PluginSection],
        base: &Path,
        kv: SharedStore,
        last_good: Option<last_good::LastGood>,
    ) -> Result<PluginHost, PluginError> {
        let mut seen = std::collections::HashSet::new();
        let mut loaded = Vec::new();
        let host = PluginHost {
            plugins: ArcSwap::from_pointee(Vec::new()),
            last_good,
            kv: kv.clone(),
            metrics: Default::default(),
            reloading: Default::default(),
        };
        for s in sections {
            if !seen.insert(s.name.clone()) {
                return Err(PluginError::Duplicate(s.name.clone()));
            }
            let p = match host.load_keeping(s, base) {
                Ok(p) => p,
                Err(e) => host.start_from_last_good(s, base, e)?,
            };
            tracing::info!(plugin = %p.name, hash = %p.hash, hooks = ?p.hooks, "plugin loaded");
            warn_ungranted(&p);
            loaded.push(Arc::new(p));
        }
        host.plugins.store(Arc::new(loaded));
        Ok(host)
    }

    /// Loads a section from its file and, when it works, keeps the file as the last good.
    pub fn load_keeping(
        &self,
        section: &PluginSection,
        base: &Path,
    ) -> Result<Loaded, PluginError> {
        let (p, bytes) = load_with_bytes(section, base, self.kv.clone())?;
        if let Some(lg) = &self.last_good {
            lg.save(&p.name, &bytes);
        }
        Ok(p)
    }

    /// The configured file failed at start-up with `err`: the last good version, if one is
    /// kept and loads with these settings; else `err`.
    fn start_from_last_good(
        &self,
        section: &PluginSection,
        base: &Path,
        err: PluginError,
    ) -> Result<Loaded, PluginError> {
        // Bad settings or a duplicate are the config's fault: no file would help.
        if matches!(
            err,
            PluginError::Settings { .. } | PluginError::Entry { .. } | PluginError::Duplicate(_)
        ) {
            return Err(err);
        }
        let Some(lg) = &self.last_good else {
            return Err(err);
        };
        let Some(bytes) = lg.read(&section.name) else {
            return Err(err);
        };
        match Loaded::load(&bytes, section.with_base(base), self.kv.clone()) {
            Ok(p) => {
                tracing::error!(
                    plugin = %section.name,
                    error = %err,
                    fallback = %lg.path(&section.name).display(),
                    hash = %p.hash,
                    "PLUGIN FILE UNUSABLE: started from its last good version; replace the file to load a new one"
                );
                Ok(p)
            }
            Err(_) => Err(err),
        }
    }

    pub fn empty(kv: SharedStore) -> PluginHost {
        PluginHost {
            plugins: ArcSwap::from_pointee(Vec::new()),
            last_good: None,
            kv,
            metrics: Default::default(),
            reloading: Default::default(),
        }
    }

    pub fn list(&self) -> Arc<Vec<Arc<Loaded>>> {
        self.plugins.load_full()
    }

    /// Replaces (or adds) the plugin named like `new`, atomically; calls in flight finish on
    /// the old version.
    pub fn swap_in(&self, new: Loaded) {
        let new = Arc::new(new);
        self.plugins.rcu(|cur| {
            let mut v: Vec<Arc<Loaded>> = cur.iter().cloned().collect();
            match v.iter().position(|p| p.name == new.name) {
                Some(i) => v[i] = new.clone(),
                None => v.push(new.clone()),
            }
            v
        });
    }

    /// Installs a whole new plugin list (a changed config), atomically.
    pub fn replace_all(&self, plugins: Vec<Arc<Loaded>>) {
        self.plugins.store(Arc::new(plugins));
    }

    pub fn remove(&self, name: &str) {
        self.plugins.rcu(|cur| {
            cur.iter()
                .filter(|p| p.name != name)
                .cloned()
                .collect::<Vec<_>>()
        });
    }

    fn subscribers(&self, hook: Hook) -> Vec<Arc<Loaded>> {
        self.plugins
            .load()
            .iter()
            .filter(|p| p.hooks.contains(&hook))
            .cloned()
            .collect()
    }

    pub fn has(&self, hook: Hook) -> bool {
        self.plugins.load().iter().any(|p| p.hooks.contains(&hook))
    }

    /// One call of one plugin on the blocking pool, timed for the hook metrics. Every hook
    /// goes through here.
    async fn ask(
        &self,
        p: &Arc<Loaded>,
        req: &Arc<Request>,
    ) -> Result<ftpsd_plugin_sdk::Response, CallError> {
        let (pp, rr) = (p.clone(), req.clone());
        let started = std::time::Instant::now();
        let result = tokio::task::spawn_blocking(move || {
            if let Some(r) = &pp.recorder {
                r.record(&rr);
            }
            pp.call(&rr)
        })
        .await
        .unwrap_or_else(|e| Err(CallError::Trap(e.to_string())));
        self.metrics.hook(started.elapsed());
        result
    }

    /// The one loop over a hook's subscribers: each is asked in order through [`Self::ask`]
    /// and `each` sees its answer; `Break` ends the loop with a value.
    async fn for_each_subscriber<T>(
        &self,
        req: Request,
        mut each: impl FnMut(
            &Arc<Loaded>,
            Hook,
            &Request,
            Result<Response, CallError>,
        ) -> ControlFlow<T>,
    ) -> Option<T> {
        let hook = req.hook()?;
        let subs = self.subscribers(hook);
        if subs.is_empty() {
            return None;
        }
        let req = Arc::new(req);
        for p in subs {
            let answer = self.ask(&p, &req).await;
            if let ControlFlow::Break(v) = each(&p, hook, &req, answer) {
                return Some(v);
            }
        }
        None
    }

    /// Asks every plugin subscribed to the request's hook, in order; the first deny wins.
    ///
    /// A failed call follows the plugin's `on_error` (deny: 421 at connect and login, 451
    /// elsewhere; allow: as if allowed), except for a client the plugin quarantined for its
    /// own repeated faults: that client is refused whatever `on_error` says, so `on_error =
    /// "allow"` is never a switch a client can pull. At connect, a plugin that also gates
    /// login does not refuse on failure: nothing can happen before login, where it decides.
    /// The client sees which plugin failed, never why; the log has the reason on one line.
    pub async fn gate(&self, req: Request) -> Decision {
        self.gate_with_limits(req).await.0
    }

    /// [`Self::gate`], with the strictest of the upload limits the allowing plugins set
    /// (events v2; only the upload gate's are used).
    pub async fn gate_with_limits(&self, req: Request) -> (Decision, UploadLimits) {
        let mut limits = UploadLimits::default();
        let decision = self
            .for_each_subscriber(req, |p, hook, req, answer| match answer {
                Ok(resp) => match resp.verdict {
                    Verdict::Deny { code, message } => ControlFlow::Break(Decision::Deny {
                        code: Code::refusal(code, Code::FILE_UNAVAILABLE),
                        message,
                        by: p.name.clone(),
                    }),
                    _ => {
                        limits = limits.strictest(resp.limits);
                        ControlFlow::Continue(())
                    }
                },
                Err(e) => match failed_gate(p, hook, req, &e) {
                    Some(d) => ControlFlow::Break(d),
                    None => ControlFlow::Continue(()),
                },
            })
            .await
            .unwrap_or(Decision::Allow);
        (decision, limits)
    }

    /// Asks every subscriber and collects the `info` texts of their replies (failed calls are
    /// skipped): for questions such as `SITE RATIO` that inform rather than decide.
    pub async fn info(&self, req: Request) -> Vec<String> {
        let mut texts = Vec::new();
        self.for_each_subscriber::<()>(req, |_, _, _, answer| {
            if let Ok(Response { info: Some(t), .. }) = answer {
                texts.push(t);
            }
            ControlFlow::Continue(())
        })
        .await;
        texts
    }

    /// Sends a notification to every subscriber, without waiting.
    pub fn notify(self: &Arc<Self>, req: Request) {
        let Some(hook) = req.hook() else { return };
        if !self.has(hook) {
            return;
        }
        let host = self.clone();
        tokio::spawn(async move {
            host.for_each_subscriber::<()>(req, |_, _, _, _| ControlFlow::Continue(()))
                .await;
        });
    }

    /// upload-complete: asks every subscriber and returns the actions with who asked for them.
    pub async fn upload_complete(&self, req: Request) -> Vec<(Arc<Loaded>, Action)> {
        let mut actions = Vec::new();
        self.for_each_subscriber::<()>(req, |p, _, _, answer| {
            if let Ok(resp) = answer {
                actions.extend(resp.actions.into_iter().map(|a| (p.clone(), a)));
            }
            ControlFlow::Continue(())
        })
        .await;
        actions
    }
}

/// What the `authenticate` plugins said about a password.
pub enum AuthAnswer {
    /// A plugin vouched for the user with this account (not yet held to its grant: see
    /// `users::external`).
    Accepted {
        plugin: Arc<Loaded>,
        account: ftpsd_plugin_sdk::Account,
    },
    /// A plugin refused the password, or failed and fails closed.
    Refused(Decision),
    /// No plugin has an answer: the users file decides.
    NoAnswer,
}

impl PluginHost {
    /// The plugins asked about a login: subscribed to `authenticate`, granted `auth`, and for
    /// a user the users file has (`known`), granted `users = "all"`.
    fn authenticators(&self, known: bool) -> Vec<Arc<Loaded>> {
        self.subscribers(Hook::Authenticate)
            .into_iter()
            .filter(|p| match &p.section.capabilities.auth {
                Some(g) => !known || g.users == config::AuthUsers::All,
                None => false,
            })
            .collect()
    }

    /// Whether some plugin would be asked about this login.
    /// Whether an `upload-complete` subscriber may delete or quarantine the upload (then the
    /// file is held until they have answered).
    pub fn may_take_files(&self) -> bool {
        self.list().iter().any(|p| {
            p.hooks.contains(&Hook::UploadComplete)
                && (p.section.capabilities.delete || p.section.capabilities.quarantine.is_some())
        })
    }

    /// Every folder an `authenticate` plugin may give its users (their `auth.roots`).
    pub fn auth_roots(&self) -> Vec<std::path::PathBuf> {
        self.list()
            .iter()
            .filter_map(|p| p.section.capabilities.auth.as_ref())
            .flat_map(|a| a.roots.iter().cloned())
            .collect()
    }

    pub fn authenticates(&self, known: bool) -> bool {
        !self.authenticators(known).is_empty()
    }

    /// Asks the authenticate plugins in order: the first account or deny decides; a failed
    /// call follows the plugin's `on_error` (deny: 421).
    pub async fn authenticate(&self, ev: ftpsd_plugin_sdk::AuthenticateEvent) -> AuthAnswer {
        let subs = self.authenticators(ev.known);
        let req = Arc::new(Request::Authenticate(ev));
        for p in subs {
            match self.ask(&p, &req).await {
                Ok(Response {
                    verdict: Verdict::Deny { code, message },
                    ..
                }) => {
                    return AuthAnswer::Refused(Decision::Deny {
                        code: Code::refusal(code, Code::NOT_LOGGED_IN),
                        message,
                        by: p.name.clone(),
                    });
                }
                Ok(Response {
                    account: Some(account),
                    ..
                }) => return AuthAnswer::Accepted { plugin: p, account },
                Ok(_) => {}
                Err(e) => {
                    if let Some(d) = failed_gate(&p, Hook::Authenticate, &req, &e) {
                        return AuthAnswer::Refused(d);
                    }
                }
            }
        }
        AuthAnswer::NoAnswer
    }
}

/// Capabilities the plugin says it needs (`describe`) that its entry does not grant.
pub fn ungranted(p: &Loaded) -> Vec<String> {
    p.wants
        .iter()
        .filter(|w| !granted(&p.section, w))
        .cloned()
        .collect()
}

/// Logs each capability the plugin needs and does not have (at every load and reload: an
/// `authenticate` plugin without `auth` is never asked, which is otherwise silent).
pub fn warn_ungranted(p: &Loaded) {
    for want in ungranted(p) {
        tracing::warn!(plugin = %p.name, capability = %want, "the plugin says it needs a capability its [[plugins]] entry does not grant (capabilities = {{ {want} = ... }}); what needs it will be refused{}", if want == "auth" { " and its authenticate hook is never called" } else { "" });
    }
}

/// Whether a section grants the capability a plugin names in `describe`.
fn granted(section: &PluginSection, capability: &str) -> bool {
    match capability {
        "exec" => !section.capabilities.exec.is_empty(),
        "http" => section.capabilities.http.is_some(),
        "delete" => section.capabilities.delete,
        "quarantine" => section.capabilities.quarantine.is_some(),
        "auth" => section.capabilities.auth.is_some(),
        _ => true,
    }
}

/// What a gate does when a plugin's call failed: refuse (per `on_error`, or always for a
/// client the plugin quarantined), or pass (None).
fn failed_gate(p: &Loaded, hook: Hook, req: &Request, e: &CallError) -> Option<Decision> {
    let client_quarantined = matches!(e, CallError::ClientQuarantined(_));
    let closed = client_quarantined || p.section.on_error == FailurePolicy::Deny;
    let deferred = hook == Hook::Connect && p.hooks.contains(&Hook::Login) && !client_quarantined;
    if !closed || deferred {
        tracing::debug!(plugin = %p.name, ?hook, error = %e, "failed gate passes (on_error or deferred to login)");
        return None;
    }
    let whom = faults::subjects_of(req).join(",");
    if let Some(left_out) =
        crate::access::refusal_log::admit_subject(&format!("{}/{whom}", p.name), "gate refused")
    {
        tracing::info!(plugin = %p.name, ?hook, error = %e, left_out, "gate refused: plugin call failed");
    }
    let code = if matches!(hook, Hook::Connect | Hook::Login | Hook::Authenticate) {
        Code::SERVICE_CLOSING
    } else {
        Code::LOCAL_ERROR
    };
    Some(Decision::Deny {
        code,
        message: format!("Policy check unavailable ({}); try again later.", p.name),
        by: p.name.clone(),
    })
}
