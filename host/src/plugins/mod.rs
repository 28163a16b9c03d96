//! The plugin runtime: policy plugins as sandboxed WebAssembly, called in configured order at
//! each hook. The first deny wins; notifications go to every subscriber. Effects are data: a
//! plugin returns actions, and the host performs them only within the capabilities the operator
//! granted. Plugins are swapped atomically while the server runs (see [`watch`]).

pub mod config;
pub mod engine;
pub mod exec;
pub mod instance;
pub mod wasi;
pub mod watch;

use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;
use ftpsd_plugin_sdk::{Action, Hook, Request, Verdict};

pub use config::{FailurePolicy, PluginSection};
pub use instance::Loaded;

use crate::state::SharedStore;

#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("plugin '{plugin}': cannot read {path}: {source}")]
    Read {
        plugin: String,
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("plugin '{plugin}': not a valid WebAssembly module: {reason}")]
    Compile { plugin: String, reason: String },
    #[error("plugin '{plugin}': missing export '{export}' (see the ABI in the plugin SDK docs)")]
    MissingExport {
        plugin: String,
        export: &'static str,
    },
    #[error(
        "plugin '{plugin}': ABI version {found}, this server speaks {expected}; rebuild it with a matching ftpsd-plugin-sdk"
    )]
    AbiVersion {
        plugin: String,
        found: i32,
        expected: i32,
    },
    #[error("plugin '{plugin}': bad settings: {reason}")]
    Settings { plugin: String, reason: String },
    #[error("plugin '{plugin}': cannot start: {reason}")]
    Instantiate { plugin: String, reason: String },
    #[error("plugin names must be unique: '{0}' appears twice in [[plugins]]")]
    Duplicate(String),
}

/// Why a call failed; the hook's failure policy decides what the client sees.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    #[error("deadline exceeded")]
    Timeout,
    #[error("trap: {0}")]
    Trap(String),
    #[error("malformed reply: {0}")]
    Garbage(String),
    #[error("reply or request too large ({0} bytes)")]
    Oversized(usize),
    #[error("cannot instantiate: {0}")]
    Instantiate(String),
    #[error("quarantined after repeated faults")]
    Quarantined,
}

/// The outcome of a gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny {
        code: u16,
        message: String,
        by: String,
    },
}

pub struct PluginHost {
    plugins: ArcSwap<Vec<Arc<Loaded>>>,
    pub kv: SharedStore,
    /// Hook calls and their latency as sessions see them.
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// Reads and loads one plugin section (relative paths against `base`).
pub fn load_section(
    section: &PluginSection,
    base: &Path,
    kv: SharedStore,
) -> Result<Loaded, PluginError> {
    let path = if section.path.is_absolute() {
        section.path.clone()
    } else {
        base.join(&section.path)
    };
    let bytes = std::fs::read(&path).map_err(|source| PluginError::Read {
        plugin: section.name.clone(),
        path: path.clone(),
        source,
    })?;
    let mut s = section.clone();
    s.path = path;
    Loaded::load(&bytes, s, kv)
}

impl PluginHost {
    /// Loads every configured plugin; any failure is a start-up error naming the plugin.
    pub fn load(
        sections: &[PluginSection],
        base: &Path,
        kv: SharedStore,
    ) -> Result<PluginHost, PluginError> {
        let mut seen = std::collections::HashSet::new();
        let mut loaded = Vec::new();
        for s in sections {
            if !seen.insert(s.name.clone()) {
                return Err(PluginError::Duplicate(s.name.clone()));
            }
            let p = load_section(s, base, kv.clone())?;
            tracing::info!(plugin = %p.name, hash = %p.hash, hooks = ?p.hooks, "plugin loaded");
            loaded.push(Arc::new(p));
        }
        Ok(PluginHost {
            plugins: ArcSwap::from_pointee(loaded),
            kv,
            metrics: Default::default(),
        })
    }

    pub fn empty(kv: SharedStore) -> PluginHost {
        PluginHost {
            plugins: ArcSwap::from_pointee(Vec::new()),
            kv,
            metrics: Default::default(),
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

    /// Asks every plugin subscribed to the request's hook, in order; the first deny wins.
    /// A failed call follows the plugin's policy: fail closed (default) denies with 421 at
    /// connect and login, 451 elsewhere.
    pub async fn gate(&self, req: Request) -> Decision {
        let Some(hook) = req.hook() else {
            return Decision::Allow;
        };
        let subs = self.subscribers(hook);
        if subs.is_empty() {
            return Decision::Allow;
        }
        let req = Arc::new(req);
        for p in subs {
            let (pp, rr) = (p.clone(), req.clone());
            let started = std::time::Instant::now();
            let result = tokio::task::spawn_blocking(move || pp.call(&rr))
                .await
                .unwrap_or_else(|e| Err(CallError::Trap(e.to_string())));
            self.metrics.hook(started.elapsed());
            match result {
                Ok(resp) => {
                    if let Verdict::Deny { code, message } = resp.verdict {
                        let code = if (400..600).contains(&code) {
                            code
                        } else {
                            550
                        };
                        return Decision::Deny {
                            code,
                            message,
                            by: p.name.clone(),
                        };
                    }
                }
                Err(e) if p.section.on_error == FailurePolicy::Deny => {
                    let code = if matches!(hook, Hook::Connect | Hook::Login) {
                        421
                    } else {
                        451
                    };
                    return Decision::Deny {
                        code,
                        message: format!(
                            "Policy check unavailable ({}: {e}); try again later.",
                            p.name
                        ),
                        by: p.name.clone(),
                    };
                }
                Err(_) => {}
            }
        }
        Decision::Allow
    }

    /// Asks every subscriber and collects the `info` texts of their replies (failed calls are
    /// skipped): for questions such as `SITE RATIO` that inform rather than decide.
    pub async fn info(&self, req: Request) -> Vec<String> {
        let Some(hook) = req.hook() else {
            return Vec::new();
        };
        let req = Arc::new(req);
        let mut texts = Vec::new();
        for p in self.subscribers(hook) {
            let (pp, rr) = (p.clone(), req.clone());
            if let Ok(Ok(resp)) = tokio::task::spawn_blocking(move || pp.call(&rr)).await
                && let Some(text) = resp.info
            {
                texts.push(text);
            }
        }
        texts
    }

    /// Sends a notification to every subscriber, without waiting.
    pub fn notify(self: &Arc<Self>, req: Request) {
        let Some(hook) = req.hook() else { return };
        let subs = self.subscribers(hook);
        if subs.is_empty() {
            return;
        }
        tokio::task::spawn_blocking(move || {
            for p in subs {
                let _ = p.call(&req);
            }
        });
    }

    /// upload-complete: asks every subscriber and returns the actions with who asked for them.
    pub async fn upload_complete(&self, req: Request) -> Vec<(Arc<Loaded>, Action)> {
        let subs = self.subscribers(Hook::UploadComplete);
        let req = Arc::new(req);
        let mut actions = Vec::new();
        for p in subs {
            let (pp, rr) = (p.clone(), req.clone());
            let started = std::time::Instant::now();
            let result = tokio::task::spawn_blocking(move || pp.call(&rr)).await;
            self.metrics.hook(started.elapsed());
            if let Ok(Ok(resp)) = result {
                actions.extend(resp.actions.into_iter().map(|a| (p.clone(), a)));
            }
        }
        actions
    }
}
