//! A loaded plugin: compiled once, instantiated through `InstancePre`, calls served from a pool
//! of instances (no global lock during a call; state lives in the host store, so any instance
//! is as good as another). Every call is bounded — epoch deadline, memory limit, request and
//! reply size — and any fault discards the instance; repeated faults quarantine the plugin.

use std::collections::{HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use ftpsd_plugin_sdk::{
    ABI_VERSION, Configured, Description, Hook, HostCall, HostReply, Request, Response,
};
use wasmtime::{
    Caller, Instance, InstancePre, Linker, Memory, Module, Store, StoreLimits, StoreLimitsBuilder,
    TypedFunc,
};

use super::config::PluginSection;
use super::engine::{TICK, engine};
use super::{CallError, PluginError};
use crate::state::SharedStore;

/// Largest request the host sends and largest reply it reads.
pub const MAX_REQUEST: usize = 64 * 1024;
pub const MAX_REPLY: usize = 64 * 1024;
/// Instances kept for reuse per plugin.
const POOL_MAX: usize = 16;

pub struct StoreData {
    limits: StoreLimits,
    kv: SharedStore,
    namespace: String,
    plugin: String,
    /// Captured stdout/stderr of the current call.
    pub(super) output: Vec<u8>,
}

struct Pooled {
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
    pub section: PluginSection,
    pre: InstancePre<StoreData>,
    kv: SharedStore,
    pool: Mutex<Vec<Pooled>>,
    faults: Mutex<VecDeque<Instant>>,
    quarantined: AtomicBool,
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
        let module = Module::new(engine(), bytes).map_err(|e| PluginError::Compile {
            plugin: name.clone(),
            reason: format!("{e:#}"),
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
            reason: format!("{e:#}"),
        };
        linker
            .func_wrap("ftpsd_v1", "host", host_import)
            .map_err(link)?;
        super::wasi::add_to_linker(&mut linker).map_err(link)?;
        linker
            .define_unknown_imports_as_traps(&module)
            .map_err(link)?;
        let pre = linker.instantiate_pre(&module).map_err(link)?;
        let hash = crate::tls::fingerprint_sha256(bytes)
            .replace(':', "")
            .to_ascii_lowercase()[..16]
            .to_string();
        let mut loaded = Loaded {
            name: name.clone(),
            path: section.path.clone(),
            hash,
            loaded_at: SystemTime::now(),
            hooks: HashSet::new(),
            section,
            pre,
            kv,
            pool: Mutex::new(Vec::new()),
            faults: Mutex::new(VecDeque::new()),
            quarantined: AtomicBool::new(false),
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
        };
        let mut store = Store::new(engine(), data);
        store.limiter(|d| &mut d.limits);
        store.set_epoch_deadline(self.deadline_ticks());
        let fail = |reason: String| PluginError::Instantiate {
            plugin: plugin.clone(),
            reason,
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
        if version != ABI_VERSION {
            return Err(PluginError::AbiVersion {
                plugin,
                found: version,
                expected: ABI_VERSION,
            });
        }
        let typed = |e: wasmtime::Error| fail(format!("{e:#}"));
        let mut p = Pooled {
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

    fn deadline_ticks(&self) -> u64 {
        (Duration::from_millis(self.section.timeout_ms).as_micros() / TICK.as_micros()).max(1)
            as u64
    }

    /// One request/reply through guest memory, with bounds checks on everything the guest says.
    fn raw_call(&self, p: &mut Pooled, req: &Request) -> Result<Vec<u8>, CallError> {
        let bytes = serde_json::to_vec(req).map_err(|e| CallError::Garbage(e.to_string()))?;
        if bytes.len() > MAX_REQUEST {
            return Err(CallError::Oversized(bytes.len()));
        }
        p.store.set_epoch_deadline(self.deadline_ticks());
        p.store.data_mut().output.clear();
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
                tracing::info!(plugin = %self.name, "{line}");
            }
        }
        result
    }

    pub fn is_quarantined(&self) -> bool {
        self.quarantined.load(Ordering::Acquire)
    }

    /// Calls a hook. Blocking (run it on the blocking pool).
    pub fn call(&self, req: &Request) -> Result<Response, CallError> {
        if self.is_quarantined() {
            return Err(CallError::Quarantined);
        }
        self.calls.fetch_add(1, Ordering::Relaxed);
        let pooled = self.pool.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut inst = match pooled {
            Some(p) => p,
            None => match self.instantiate() {
                Ok(p) => p,
                Err(e) => {
                    self.fault(&e.to_string());
                    return Err(CallError::Instantiate(e.to_string()));
                }
            },
        };
        let result = self.raw_call(&mut inst, req).and_then(|bytes| {
            serde_json::from_slice::<Response>(&bytes)
                .map_err(|e| CallError::Garbage(e.to_string()))
        });
        match &result {
            Ok(_) => {
                let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
                if pool.len() < POOL_MAX {
                    pool.push(inst);
                }
            }
            // The instance may be in any state after a fault: it is dropped, never reused.
            Err(e) => self.fault(&e.to_string()),
        }
        result
    }

    fn fault(&self, why: &str) {
        self.fault_count.fetch_add(1, Ordering::Relaxed);
        let window = Duration::from_secs(self.section.fault_window_secs);
        let mut faults = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        faults.push_back(now);
        while faults
            .front()
            .is_some_and(|t| now.duration_since(*t) > window)
        {
            faults.pop_front();
        }
        tracing::warn!(plugin = %self.name, fault = %why, recent = faults.len(), "plugin call failed");
        if faults.len() as u32 >= self.section.max_faults
            && !self.quarantined.swap(true, Ordering::AcqRel)
        {
            tracing::error!(plugin = %self.name, faults = faults.len(), window_secs = window.as_secs(), "plugin quarantined until it is replaced or reloaded");
        }
    }
}

fn trap(e: wasmtime::Error) -> CallError {
    let text = format!("{e:#}");
    if text.contains("interrupt") || text.contains("epoch") {
        CallError::Timeout
    } else {
        CallError::Trap(text.lines().next().unwrap_or("trap").to_string())
    }
}

/// `ftpsd_v1.host(ptr, len) -> packed`: a JSON [`HostCall`] in, a JSON [`HostReply`] written
/// into memory from the guest's own `ftpsd_alloc` out.
fn host_import(mut caller: Caller<'_, StoreData>, ptr: i32, len: i32) -> wasmtime::Result<i64> {
    let memory = caller
        .get_export("memory")
        .and_then(|e| e.into_memory())
        .ok_or_else(|| wasmtime::format_err!("no memory"))?;
    let len = len.max(0) as usize;
    if len > MAX_REQUEST {
        return Err(wasmtime::format_err!(
            "host call of {len} bytes is too large"
        ));
    }
    let start = ptr as u32 as usize;
    let req = memory
        .data(&caller)
        .get(start..start.saturating_add(len))
        .ok_or_else(|| wasmtime::format_err!("host call out of bounds"))?
        .to_vec();
    let reply = match serde_json::from_slice::<HostCall>(&req) {
        Ok(call) => host_call(caller.data(), call),
        Err(e) => HostReply::Error {
            error: format!("bad host call: {e}"),
        },
    };
    let out = serde_json::to_vec(&reply).unwrap_or_default();
    let alloc = caller
        .get_export("ftpsd_alloc")
        .and_then(|e| e.into_func())
        .ok_or_else(|| wasmtime::format_err!("no ftpsd_alloc"))?;
    let alloc = alloc.typed::<i32, i32>(&caller)?;
    let dst = alloc.call(&mut caller, out.len() as i32)?;
    memory
        .write(&mut caller, dst as u32 as usize, &out)
        .map_err(|_| wasmtime::format_err!("ftpsd_alloc returned memory out of bounds"))?;
    Ok(((dst as u32 as i64) << 32) | out.len() as i64)
}

fn host_call(d: &StoreData, call: HostCall) -> HostReply {
    let now = crate::state::now_ms();
    let ns = d.namespace.as_str();
    let kv = d.kv.as_ref();
    let exp = |ttl: Option<u64>| ttl.map(|t| now.saturating_add(t));
    let r = match call {
        HostCall::Log { level, message } => {
            let message: String = message.chars().take(2048).collect();
            match level.as_str() {
                "error" => tracing::error!(plugin = %d.plugin, "{message}"),
                "warn" => tracing::warn!(plugin = %d.plugin, "{message}"),
                "debug" => tracing::debug!(plugin = %d.plugin, "{message}"),
                _ => tracing::info!(plugin = %d.plugin, "{message}"),
            }
            Ok(HostReply::Done {})
        }
        HostCall::Now => Ok(HostReply::Number { number: now as i64 }),
        HostCall::KvGet { key } => kv
            .get(ns, &key, now)
            .map(|value| HostReply::Value { value }),
        HostCall::KvSet { key, value, ttl_ms } => kv
            .set(ns, &key, &value, exp(ttl_ms))
            .map(|_| HostReply::Done {}),
        HostCall::KvDelete { key } => kv.delete(ns, &key).map(|_| HostReply::Done {}),
        HostCall::KvCas {
            key,
            expected,
            new,
            ttl_ms,
        } => kv
            .cas(
                ns,
                &key,
                expected.as_deref(),
                new.as_deref(),
                exp(ttl_ms),
                now,
            )
            .map(|swapped| HostReply::Swapped { swapped }),
        HostCall::KvIncr { key, delta, ttl_ms } => kv
            .incr(ns, &key, delta, exp(ttl_ms), now)
            .map(|number| HostReply::Number { number }),
    };
    r.unwrap_or_else(|e| HostReply::Error {
        error: e.to_string(),
    })
}
