//! A loaded plugin: compiled once, instantiated through `InstancePre`, calls served from a pool
//! of instances (no global lock during a call; state lives in the host store, so any instance
//! is as good as another). Every call is bounded — CPU-time deadline (see [`super::budget`]),
//! memory limit, request and reply size, host calls — and any fault discards the instance;
//! faults are charged to the client that caused them (see [`super::faults`]).

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use ftpsd_plugin_sdk::{
    ABI_VERSION, Configured, Description, Hook, MIN_ABI_VERSION, Request, Response,
};
use wasmtime::{
    Instance, InstancePre, Linker, Memory, Module, Store, StoreLimits, StoreLimitsBuilder,
    TypedFunc, UpdateDeadline,
};

use super::budget::CallBudget;
use super::config::PluginSection;
use super::engine::engine;
use super::error::{CallError, PluginError};
use super::faults::{FaultBook, Subject};
use super::store::{StateUsage, StoreData};
use crate::state::SharedStore;

pub use super::budget::{MAX_REPLY, MAX_REQUEST};
use super::module_check::trap;
pub use super::module_check::{MAX_MODULE_BYTES, check_module_bytes, short_reason};
/// Instances kept for reuse per plugin.
const POOL_MAX: usize = 16;

struct Pooled {
    abi: i32,
    store: Store<StoreData>,
    memory: Memory,
    alloc: TypedFunc<i32, i32>,
    dealloc: TypedFunc<(i32, i32), ()>,
    handle: TypedFunc<(i32, i32), i64>,
}

pub struct Loaded {
    pub name: String,
    pub path: PathBuf,
    /// SHA-256 of the .wasm, hex (first 16 characters).
    pub hash: String,
    pub loaded_at: SystemTime,
    pub hooks: HashSet<Hook>,
    /// The ABI version the module declares (1 or 2).
    pub abi: i32,
    /// What the module says it needs granted (`describe`); informative.
    pub wants: Vec<String>,
    pub section: PluginSection,
    pre: InstancePre<StoreData>,
    kv: SharedStore,
    pool: Mutex<Vec<Pooled>>,
    faults: Mutex<FaultBook>,
    usage: Arc<StateUsage>,
    http: Option<Arc<super::http::PluginHttp>>,
    /// Counters and histograms the plugin defines (`/metrics`).
    pub metrics: Arc<super::plugin_metrics::PluginMetrics>,
    /// Where the events it is sent are recorded (`record`), if anywhere.
    pub recorder: Option<super::recorder::Recorder>,
    pub calls: AtomicU64,
    pub fault_count: AtomicU64,
}

impl Loaded {
    /// Compiles and validates a plugin: exports, ABI version, its hooks, its settings.
    pub fn load(
        bytes: &[u8],
        section: PluginSection,
        kv: SharedStore,
    ) -> Result<Loaded, PluginError> {
        let name = section.name.clone();
        check_module_bytes(&name, bytes)?;
        let module =
            super::module_cache::get_or_compile(&name, bytes, || Module::new(engine(), bytes))
                .map_err(|e| PluginError::Compile {
                    plugin: name.clone(),
                    reason: short_reason(&format!("{e:#}")),
                })?;
        for export in [
            "memory",
            "ftpsd_abi_version",
            "ftpsd_alloc",
            "ftpsd_dealloc",
            "ftpsd_handle",
        ] {
            if module.get_export(export).is_none() {
                return Err(PluginError::MissingExport {
                    plugin: name,
                    export,
                });
            }
        }
        let mut linker: Linker<StoreData> = Linker::new(engine());
        let link = |e: wasmtime::Error| PluginError::Compile {
            plugin: name.clone(),
            reason: short_reason(&format!("{e:#}")),
        };
        linker
            .func_wrap("ftpsd_v1", "host", super::host_calls::host_import)
            .map_err(link)?;
        super::wasi::add_to_linker(&mut linker).map_err(link)?;
        linker
            .define_unknown_imports_as_traps(&module)
            .map_err(link)?;
        let pre = linker.instantiate_pre(&module).map_err(link)?;
        let hash = module_hash(bytes);
        let faults = FaultBook::new(
            section.max_faults,
            Duration::from_secs(section.fault_window_secs),
        );
        let usage = Arc::new(StateUsage::new(section.state_quota_kb.saturating_mul(1024)));
        if let Some(dir) = &section.capabilities.quarantine {
            super::file_actions::prepare_quarantine(dir).map_err(|reason| PluginError::Entry {
                plugin: name.clone(),
                reason,
            })?;
        }
        if let Some(grant) = &section.capabilities.auth {
            grant.check().map_err(|reason| PluginError::Entry {
                plugin: name.clone(),
                reason,
            })?;
        }
        let recorder = match &section.record {
            Some(path) => Some(
                super::recorder::Recorder::open(path, section.record_max_mb).map_err(|reason| {
                    PluginError::Entry {
                        plugin: name.clone(),
                        reason,
                    }
                })?,
            ),
            None => None,
        };
        let http = match &section.capabilities.http {
            Some(grant) => {
                let settings = |reason: String| PluginError::Entry {
                    plugin: name.clone(),
                    reason,
                };
                grant.check().map_err(settings)?;
                Some(Arc::new(
                    super::http::PluginHttp::new(&name, grant.clone()).map_err(settings)?,
                ))
            }
            None => None,
        };
        let mut loaded = Loaded {
            name: name.clone(),
            path: section.path.clone(),
            hash,
            loaded_at: SystemTime::now(),
            hooks: HashSet::new(),
            abi: 0,
            wants: Vec::new(),
            section,
            pre,
            kv,
            pool: Mutex::new(Vec::new()),
            faults: Mutex::new(faults),
            usage,
            http,
            metrics: Default::default(),
            recorder,
            calls: AtomicU64::new(0),
            fault_count: AtomicU64::new(0),
        };
        let mut inst = loaded.instantiate()?;
        let describe: Description = loaded
            .raw_call(&mut inst, &Request::Describe)
            .and_then(|bytes| {
                serde_json::from_slice(&bytes).map_err(|e| CallError::Garbage(e.to_string()))
            })
            .map_err(|e| PluginError::Instantiate {
                plugin: name.clone(),
                reason: format!("describe: {e}"),
            })?;
        loaded.hooks = describe.hooks.into_iter().collect();
        loaded.wants = describe.capabilities;
        loaded.abi = inst.abi;
        loaded
            .pool
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(inst);
        Ok(loaded)
    }

    fn limits(&self) -> StoreLimits {
        StoreLimitsBuilder::new()
            .memory_size((self.section.memory_mb as usize).saturating_mul(1 << 20))
            .instances(1)
            .build()
    }

    /// A fresh instance: `_initialize`, ABI check, `configure` with the settings.
    fn instantiate(&self) -> Result<Pooled, PluginError> {
        let plugin = self.name.clone();
        let data = StoreData {
            limits: self.limits(),
            kv: self.kv.clone(),
            namespace: format!("plugin.{}", self.name),
            plugin: plugin.clone(),
            output: Vec::new(),
            budget: CallBudget::start(self.cpu_limit()),
            usage: self.usage.clone(),
            http: self.http.clone(),
            may_wait: false,
            metrics: self.metrics.clone(),
            store_down: None,
        };
        let mut store = Store::new(engine(), data);
        store.limiter(|d| &mut d.limits);
        // The epoch ticks every millisecond; at each tick during guest code, the call's CPU
        // time (not the wall clock) decides whether it goes on.
        store.epoch_deadline_callback(|mut ctx| {
            Ok(match ctx.data_mut().budget.check() {
                Ok(()) => UpdateDeadline::Continue(1),
                Err(_) => UpdateDeadline::Interrupt,
            })
        });
        store.set_epoch_deadline(1);
        let fail = |reason: String| PluginError::Instantiate {
            plugin: plugin.clone(),
            reason: short_reason(&reason),
        };
        let instance: Instance = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| fail(format!("{e:#}")))?;
        if let Ok(init) = instance.get_typed_func::<(), ()>(&mut store, "_initialize") {
            init.call(&mut store, ())
                .map_err(|e| fail(format!("_initialize: {e:#}")))?;
        }
        let version = instance
            .get_typed_func::<(), i32>(&mut store, "ftpsd_abi_version")
            .and_then(|f| f.call(&mut store, ()))
            .map_err(|e| fail(format!("ftpsd_abi_version: {e:#}")))?;
        if !(MIN_ABI_VERSION..=ABI_VERSION).contains(&version) {
            return Err(PluginError::AbiVersion {
                plugin,
                found: version,
                min: MIN_ABI_VERSION,
                expected: ABI_VERSION,
            });
        }
        let typed = |e: wasmtime::Error| fail(format!("{e:#}"));
        let mut p = Pooled {
            abi: version,
            memory: instance
                .get_memory(&mut store, "memory")
                .ok_or_else(|| fail("no memory export".into()))?,
            alloc: instance
                .get_typed_func(&mut store, "ftpsd_alloc")
                .map_err(typed)?,
            dealloc: instance
                .get_typed_func(&mut store, "ftpsd_dealloc")
                .map_err(typed)?,
            handle: instance
                .get_typed_func(&mut store, "ftpsd_handle")
                .map_err(typed)?,
            store,
        };
        let req = Request::Configure {
            settings: self.section.settings_json(),
        };
        let reply = self
            .raw_call(&mut p, &req)
            .map_err(|e| fail(format!("configure: {e}")))?;
        match serde_json::from_slice::<Configured>(&reply) {
            Ok(Configured::Ok { .. }) => Ok(p),
            Ok(Configured::Error { error }) => Err(PluginError::Settings {
                plugin,
                reason: error,
            }),
            Err(e) => Err(fail(format!("configure reply: {e}"))),
        }
    }

    fn cpu_limit(&self) -> Duration {
        Duration::from_millis(self.section.timeout_ms.max(1))
    }

    /// One request/reply through guest memory, with bounds checks on everything the guest says.
    fn raw_call(&self, p: &mut Pooled, req: &Request) -> Result<Vec<u8>, CallError> {
        let bytes = serde_json::to_vec(req).map_err(|e| CallError::Garbage(e.to_string()))?;
        if bytes.len() > MAX_REQUEST {
            return Err(CallError::Oversized(bytes.len()));
        }
        p.store.data_mut().budget = CallBudget::start(self.cpu_limit());
        // Gates wait for their HTTP answers, and so does upload-complete (it runs after the
        // 226, off the session's path; a virus-scan service decides a quarantine there).
        p.store.data_mut().may_wait = req
            .hook()
            .is_some_and(|h| h.is_gate() || h == Hook::UploadComplete);
        p.store.set_epoch_deadline(1);
        p.store.data_mut().output.clear();
        p.store.data_mut().store_down = None;
        let result = (|| {
            let ptr = p
                .alloc
                .call(&mut p.store, bytes.len() as i32)
                .map_err(trap)?;
            p.memory
                .write(&mut p.store, ptr as u32 as usize, &bytes)
                .map_err(|_| {
                    CallError::Garbage("ftpsd_alloc returned memory out of bounds".into())
                })?;
            let packed = p
                .handle
                .call(&mut p.store, (ptr, bytes.len() as i32))
                .map_err(trap)?;
            let _ = p.dealloc.call(&mut p.store, (ptr, bytes.len() as i32));
            let (rptr, rlen) = (
                (packed as u64 >> 32) as usize,
                (packed as u64 & 0xffff_ffff) as usize,
            );
            if rlen > MAX_REPLY {
                return Err(CallError::Oversized(rlen));
            }
            let reply = p
                .memory
                .data(&p.store)
                .get(rptr..rptr.saturating_add(rlen))
                .ok_or_else(|| CallError::Garbage("reply out of bounds".into()))?
                .to_vec();
            let _ = p.dealloc.call(&mut p.store, (rptr as i32, rlen as i32));
            Ok(reply)
        })();
        let output = std::mem::take(&mut p.store.data_mut().output);
        if !output.is_empty() {
            for line in String::from_utf8_lossy(&output).lines() {
                super::host_calls::log_line(p.store.data_mut(), "info", line);
            }
        }
        result
    }

    /// Whether the plugin as a whole is quarantined now (its own faults, not a client's).
    pub fn is_quarantined(&self) -> bool {
        self.book().plugin_quarantined(Instant::now())
    }

    /// Clients this plugin refuses now because they made it fail, with the time left.
    pub fn quarantined_clients(&self) -> Vec<(Subject, Duration)> {
        self.book().quarantined_clients(Instant::now())
    }

    /// Ends every quarantine (an operator's reload).
    pub fn clear_faults(&self) {
        self.book().clear();
    }

    /// Bytes this plugin keeps in the state store, and its quota.
    pub fn state_usage(&self) -> (u64, u64) {
        (self.usage.used(), self.usage.limit)
    }

    fn book(&self) -> std::sync::MutexGuard<'_, FaultBook> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Calls a hook. Blocking (run it on the blocking pool).
    pub fn call(&self, req: &Request) -> Result<Response, CallError> {
        {
            let book = self.book();
            let now = Instant::now();
            if book.plugin_quarantined(now) {
                return Err(CallError::Quarantined);
            }
            // Whom the call is about matters only once some client is quarantined.
            if book.any_client_quarantined(now) {
                let subjects = super::faults::subjects_of(req);
                if let Some(s) = book.quarantined_client(&subjects, now) {
                    return Err(CallError::ClientQuarantined(s.to_string()));
                }
            }
        }
        self.calls.fetch_add(1, Ordering::Relaxed);
        let pooled = self.pool.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut inst = match pooled {
            Some(p) => p,
            None => match self.instantiate() {
                Ok(p) => p,
                Err(e) => {
                    // No client caused this: it is the plugin's own fault.
                    self.fault(&[], &e.to_string());
                    return Err(CallError::Instantiate(short_reason(&e.to_string())));
                }
            },
        };
        let result = self.raw_call(&mut inst, req).and_then(|bytes| {
            serde_json::from_slice::<Response>(&bytes)
                .map_err(|e| CallError::Garbage(short_reason(&e.to_string())))
        });
        match &result {
            Ok(_) => {
                self.book().success();
                let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
                if pool.len() < POOL_MAX {
                    pool.push(inst);
                }
            }
            // The instance may be in any state after a fault: it is dropped, never reused.
            Err(e) => {
                if let Some(why) = inst.store.data_mut().store_down.take() {
                    // Nobody's fault: the gate follows on_error, no one is quarantined.
                    tracing::warn!(plugin = %self.name, error = %why, "plugin call failed: the state store is unavailable");
                    return Err(CallError::StoreUnavailable(why));
                }
                self.fault(&super::faults::subjects_of(req), &e.to_string())
            }
        }
        result
    }

    fn fault(&self, subjects: &[Subject], why: &str) {
        self.fault_count.fetch_add(1, Ordering::Relaxed);
        let verdict = self.book().fault(subjects, Instant::now());
        let why = short_reason(why);
        tracing::warn!(plugin = %self.name, fault = %why, charged_to = ?subjects, "plugin call failed");
        match verdict {
            super::faults::Verdict::Counted => {}
            super::faults::Verdict::ClientQuarantined(who, d) => {
                tracing::warn!(plugin = %self.name, clients = ?who, secs = d.as_secs(), "clients quarantined for this plugin after repeated faults; others keep it");
            }
            super::faults::Verdict::PluginQuarantined(d) => {
                tracing::error!(plugin = %self.name, secs = d.as_secs(), "plugin quarantined after repeated faults of its own; retried after the backoff");
            }
        }
    }
}

/// The short name of a build in logs and the reload log: the first 16 hex digits of its
/// SHA-256, so two deploys of the same bytes are recognisably the same version.
pub fn module_hash(bytes: &[u8]) -> String {
    crate::tls::fingerprint_sha256(bytes)
        .replace(':', "")
        .to_ascii_lowercase()[..16]
        .to_string()
}
