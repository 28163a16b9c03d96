//! The `ftpsd_v1.host` import: what a plugin may ask of the host (log, clock, key-value store),
//! each call counted against the current call's budget. Log volume and state writes are
//! capped per call, and the state a plugin keeps is capped by its `state_quota_kb`.

use ftpsd_plugin_sdk::{HostCall, HostReply, MAX_LIST_KEYS};
use wasmtime::Caller;

use super::budget::{MAX_REPLY, MAX_REQUEST, MAX_WRITE_BYTES};
use super::store::StoreData;
use crate::state::{Entry, StoreError};

/// Longest key a plugin may store.
const MAX_KEY: usize = 512;

/// `ftpsd_v1.host(ptr, len) -> packed`: a JSON [`HostCall`] in, a JSON [`HostReply`] written
/// into memory from the guest's own `ftpsd_alloc` out. A call over its budget traps here, so
/// a plugin cannot outlast its deadline inside host calls.
pub fn host_import(mut caller: Caller<'_, StoreData>, ptr: i32, len: i32) -> wasmtime::Result<i64> {
    if let Err(e) = caller.data_mut().budget.host_call() {
        return Err(wasmtime::format_err!("deadline: {e}"));
    }
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
        Ok(call) => host_call(caller.data_mut(), call, crate::state::now_ms())?,
        Err(e) => HostReply::Error {
            error: format!("bad host call: {e}"),
        },
    };
    let out = serde_json::to_vec(&reply).unwrap_or_default();
    if out.len() > MAX_REPLY {
        return Err(wasmtime::format_err!("host reply too large"));
    }
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

/// Logs a plugin's line (host `log` or captured output) within the call's log budget.
pub fn log_line(d: &mut StoreData, level: &str, message: &str) {
    let granted = d.budget.take_log(message.len());
    if granted < message.len() {
        if !d.budget.log_capped {
            d.budget.log_capped = true;
            tracing::warn!(plugin = %d.plugin, cap_bytes = super::budget::MAX_LOG_BYTES, "plugin log output over its per-call cap; the rest of this call's output is dropped");
        }
        if granted == 0 {
            return;
        }
    }
    let mut end = granted;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    let message = one_line(&message[..end]);
    match level {
        "error" => tracing::error!(plugin = %d.plugin, "{message}"),
        "warn" => tracing::warn!(plugin = %d.plugin, "{message}"),
        "debug" => tracing::debug!(plugin = %d.plugin, "{message}"),
        _ => tracing::info!(plugin = %d.plugin, "{message}"),
    }
}

/// A plugin's text on one log line: control characters become spaces.
pub fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Runs one call. A store operation that cannot be done — a write past the state quota or the
/// per-call write cap, a store that fails — faults the call instead of answering: a plugin
/// that cannot read a ban or record a failed login would otherwise decide as if there were
/// none (fail open). The fault is charged to the client the call is about, as any other, so
/// the client filling the store is the one quarantined.
pub(super) fn host_call(
    d: &mut StoreData,
    call: HostCall,
    now: u64,
) -> wasmtime::Result<HostReply> {
    let exp = |ttl: Option<u64>| ttl.map(|t| now.saturating_add(t));
    let r = match call {
        HostCall::Log { level, message } => {
            let message: String = message.chars().take(2048).collect();
            log_line(d, &level, &message);
            Ok(HostReply::Done {})
        }
        HostCall::Now => Ok(HostReply::Number { number: now as i64 }),
        HostCall::Http(req) => return Ok(http_call(d, req)),
        HostCall::Count { name, by } => {
            return Ok(done_or_error(d.metrics.count(&name, by)));
        }
        HostCall::Observe { name, value } => {
            return Ok(done_or_error(d.metrics.observe(&name, value)));
        }
        HostCall::KvList { prefix, limit } => d.kv.list(&d.namespace, now).map(|entries| {
            let mut keys: Vec<String> = entries
                .into_iter()
                .map(|(k, _)| k)
                .filter(|k| k.starts_with(&prefix))
                .collect();
            keys.sort_unstable();
            keys.truncate(limit.min(MAX_LIST_KEYS) as usize);
            // The reply must fit in MAX_REPLY: the list stops before the key that would not.
            let mut room = MAX_REPLY - 64;
            let fits = keys
                .iter()
                .take_while(|k| {
                    let need = serde_json::to_string(k).map_or(usize::MAX, |j| j.len() + 1);
                    let fit = need <= room;
                    room = room.saturating_sub(need);
                    fit
                })
                .count();
            keys.truncate(fits);
            HostReply::Keys { keys }
        }),
        HostCall::KvGet { key } => {
            d.kv.get(&d.namespace, &key, now)
                .map(|value| HostReply::Value { value })
        }
        HostCall::KvSet { key, value, ttl_ms } => {
            let new = Some((value, exp(ttl_ms)));
            metered(d, &key, now, &mut |_| Ok(new.clone())).map(|_| HostReply::Done {})
        }
        HostCall::KvDelete { key } => {
            metered(d, &key, now, &mut |_| Ok(None)).map(|_| HostReply::Done {})
        }
        HostCall::KvCas {
            key,
            expected,
            new,
            ttl_ms,
        } => {
            let mut swapped = false;
            metered(d, &key, now, &mut |cur| {
                if cur.as_ref().map(|(v, _)| v.as_str()) != expected.as_deref() {
                    return Ok(cur);
                }
                swapped = true;
                Ok(new.clone().map(|v| (v, exp(ttl_ms))))
            })
            .map(|_| HostReply::Swapped { swapped })
        }
        HostCall::KvIncr { key, delta, ttl_ms } => {
            let mut result = 0;
            metered(d, &key, now, &mut |cur| {
                let (n, old) = match cur {
                    Some((v, e)) => (
                        v.parse::<i64>()
                            .map_err(|_| StoreError::NotANumber(key.clone()))?,
                        e,
                    ),
                    None => (0, None),
                };
                result = n.saturating_add(delta);
                Ok(Some((result.to_string(), exp(ttl_ms).or(old))))
            })
            .map(|_| HostReply::Number { number: result })
        }
    };
    match r {
        Ok(reply) => Ok(reply),
        Err(e @ StoreError::NotANumber(_)) => Ok(HostReply::Error {
            error: e.to_string(),
        }),
        Err(e @ StoreError::Backend(_)) => {
            // The detail (addresses, OS errors) is for the operator's log, not for a plugin
            // that may put its error text in a reply to the client.
            d.store_down = Some(e.to_string());
            Ok(HostReply::Error {
                error: "state store unavailable".into(),
            })
        }
        Err(e) => Err(wasmtime::format_err!("{e}")),
    }
}

fn done_or_error(r: Result<(), String>) -> HostReply {
    match r {
        Ok(()) => HostReply::Done {},
        Err(error) => HostReply::Error { error },
    }
}

/// An HTTP request: refused without the capability or past the per-call count; waited for in
/// a gate when asked, else queued. Errors are the plugin's to handle (not faults): a webhook
/// that is down must not quarantine anyone.
fn http_call(d: &mut StoreData, req: ftpsd_plugin_sdk::HttpRequest) -> HostReply {
    let Some(http) = d.http.clone() else {
        return HostReply::Error {
            error: "the http capability is not granted to this plugin".into(),
        };
    };
    d.budget.http_requests += 1;
    if d.budget.http_requests > super::http::MAX_PER_CALL {
        return HostReply::Error {
            error: format!(
                "more than {} HTTP requests in one call",
                super::http::MAX_PER_CALL
            ),
        };
    }
    let result = if req.wait && d.may_wait {
        http.wait(&req, d.budget.wall_left_to_wait())
    } else {
        http.enqueue(req)
    };
    match result {
        Ok(http) => HostReply::Http { http },
        Err(error) => HostReply::Error { error },
    }
}

/// One atomic read-modify-write of a key, within the call's write budget and the plugin's
/// state quota.
fn metered(
    d: &mut StoreData,
    key: &str,
    now: u64,
    f: &mut dyn FnMut(Option<Entry>) -> Result<Option<Entry>, StoreError>,
) -> Result<(), StoreError> {
    if key.len() > MAX_KEY {
        return Err(StoreError::Quota(format!(
            "key of {} bytes (at most {MAX_KEY})",
            key.len()
        )));
    }
    d.usage.refresh(&d.kv, &d.namespace);
    let usage = d.usage.clone();
    let spent = d.budget.write_bytes;
    let mut written = 0usize;
    d.kv.update(&d.namespace, key, now, &mut |cur| {
        let size = |e: &Option<Entry>| e.as_ref().map(|(v, _)| key.len() + v.len()).unwrap_or(0);
        let before = size(&cur);
        let next = f(cur)?;
        let after = size(&next);
        written = after;
        if spent + after > MAX_WRITE_BYTES {
            return Err(StoreError::Quota(format!(
                "more than {MAX_WRITE_BYTES} bytes written in one call"
            )));
        }
        let delta = after as i64 - before as i64;
        if !usage.change(delta) {
            return Err(StoreError::Quota(format!(
                "the plugin's state would pass its quota of {} KiB",
                usage.limit / 1024
            )));
        }
        Ok(next)
    })?;
    d.budget.write_bytes += written;
    Ok(())
}

/// The host calls without wasm: the same code on a [`StoreData`] for a plugin namespace, with
/// a clock the caller sets. The server's tests run the SDK's store conformance test through
/// it, so the native harness and the real store cannot drift apart.
pub struct NativeHost {
    data: StoreData,
    pub now_ms: u64,
}

impl NativeHost {
    pub fn new(kv: crate::state::SharedStore, plugin: &str, quota_bytes: u64) -> NativeHost {
        NativeHost {
            data: StoreData {
                limits: Default::default(),
                kv,
                namespace: format!("plugin.{plugin}"),
                plugin: plugin.into(),
                output: Vec::new(),
                budget: super::budget::CallBudget::start(std::time::Duration::from_secs(3600)),
                usage: std::sync::Arc::new(super::store::StateUsage::new(quota_bytes)),
                http: None,
                may_wait: false,
                metrics: Default::default(),
                store_down: None,
            },
            now_ms: 1_000_000,
        }
    }
}

impl ftpsd_plugin_sdk::HostTransport for NativeHost {
    fn call(&mut self, c: &HostCall) -> HostReply {
        // Each call is a fresh budget, as if it were its own plugin call.
        self.data.budget = super::budget::CallBudget::start(std::time::Duration::from_secs(3600));
        match host_call(&mut self.data, c.clone(), self.now_ms) {
            Ok(r) => r,
            Err(e) => HostReply::Error {
                error: format!("{e:#}"),
            },
        }
    }
}

impl ftpsd_plugin_sdk::testing::ClockedHost for NativeHost {
    fn advance_ms(&mut self, ms: u64) {
        self.now_ms += ms;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_real_store_keeps_the_contract_the_sdk_harness_keeps() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::state::redb_store::RedbStore::open(&dir.path().join("s.redb")).unwrap();
        let mut h = NativeHost::new(std::sync::Arc::new(store), "conf", 1 << 20);
        ftpsd_plugin_sdk::testing::conformance(&mut h);
    }

    #[test]
    fn a_list_stops_before_the_reply_would_pass_its_cap() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::state::redb_store::RedbStore::open(&dir.path().join("s.redb")).unwrap();
        let mut h = NativeHost::new(std::sync::Arc::new(store), "big", 8 << 20);
        use ftpsd_plugin_sdk::Host;
        for i in 0..300 {
            h.kv_set(&format!("{i:03}{}", "k".repeat(400)), "v", None)
                .unwrap();
        }
        let keys = h.kv_list("", 1000).unwrap();
        assert!(keys.len() > 100 && keys.len() < 300, "{}", keys.len());
        assert!(
            keys.windows(2).all(|w| w[0] < w[1]),
            "sorted, a prefix of the whole list"
        );
        assert_eq!(h.kv_list("299", 10).unwrap().len(), 1);
    }
}
