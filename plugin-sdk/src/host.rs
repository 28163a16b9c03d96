//! What a plugin can ask of the host: log, clock, key-value store. In a wasm plugin these go
//! through the `ftpsd_v1.host` import; in native tests, through [`crate::testing::TestHost`].

use serde::{Deserialize, Serialize};

/// A call to the `ftpsd_v1.host` import.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum HostCall {
    Log {
        level: String,
        message: String,
    },
    Now,
    KvGet {
        key: String,
    },
    /// `ttl_ms`: the value expires after that many milliseconds (None: never).
    KvSet {
        key: String,
        value: String,
        ttl_ms: Option<u64>,
    },
    KvDelete {
        key: String,
    },
    /// Sets `new` (None deletes) only if the current value equals `expected` (None: absent).
    KvCas {
        key: String,
        expected: Option<String>,
        new: Option<String>,
        ttl_ms: Option<u64>,
    },
    /// Adds `delta` to an integer value (absent = 0) and returns the result.
    KvIncr {
        key: String,
        delta: i64,
        ttl_ms: Option<u64>,
    },
    /// The plugin's live keys starting with `prefix`, sorted, at most `limit` (capped at
    /// [`MAX_LIST_KEYS`]).
    KvList {
        prefix: String,
        limit: u32,
    },
    /// An HTTP request (ABI 2), under the operator's `http` capability.
    Http(HttpRequest),
    /// Adds to a counter the plugin defines (ABI 2): `ftpsd_plugin_<name>` on `/metrics`.
    Count {
        name: String,
        by: u64,
    },
    /// Records a value in a histogram the plugin defines (ABI 2).
    Observe {
        name: String,
        value: f64,
    },
}

/// An HTTP request a plugin asks the host to make. The URL must start with one of the
/// prefixes the operator granted (`capabilities.http.allowed_hosts`); redirects are not
/// followed. With `wait`, the call blocks until the answer (within the call's deadline) —
/// only in gates (connect, login, upload, ratio-check, command) and upload-complete;
/// otherwise, and always in the other notification hooks, the host queues the request, retries it on a connection error, 429
/// or 5xx, and answers at once with `queued: true`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct HttpRequest {
    /// GET, POST, PUT, PATCH, DELETE or HEAD.
    pub method: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default)]
    pub wait: bool,
}

/// The answer to an [`HttpRequest`]: the status and body of a request made while waiting,
/// or `queued` (status 0) when the host took it for delivery later.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct HttpResponse {
    pub status: u16,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub queued: bool,
}

/// The host's answer. Untagged, so the order matters: a missing `Option` field reads as None,
/// hence `Value` comes after the variants with required fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(untagged)]
pub enum HostReply {
    Error { error: String },
    Number { number: i64 },
    Swapped { swapped: bool },
    Keys { keys: Vec<String> },
    Http { http: HttpResponse },
    Value { value: Option<String> },
    Done {},
}

/// Most keys one `kv_list` returns.
pub const MAX_LIST_KEYS: u32 = 1000;

/// A host call that did not do what was asked: the store refused it (a value that is not a
/// number for `kv_incr`), or the reply could not be read. A plugin decides what that means for
/// its verdict — a gate usually refuses (`Response::from(err)` gives 451): deciding as if the
/// store had answered "nothing here" is how limiters fail open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostError(pub String);

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HostError {}

impl From<HostError> for crate::Response {
    /// A gate that cannot read or write its state refuses, and says so: 451, try again later.
    fn from(e: HostError) -> crate::Response {
        crate::Response::deny(
            451,
            format!("Policy state unavailable ({e}); try again later."),
        )
    }
}

/// The host functions, as plugin code sees them. Logging and the clock cannot fail; every
/// store operation returns `Result`.
pub trait Host {
    fn log(&mut self, level: &str, message: &str);
    /// Milliseconds since the Unix epoch (settable in tests).
    fn now_ms(&mut self) -> u64;
    fn kv_get(&mut self, key: &str) -> Result<Option<String>, HostError>;
    fn kv_set(&mut self, key: &str, value: &str, ttl_ms: Option<u64>) -> Result<(), HostError>;
    fn kv_delete(&mut self, key: &str) -> Result<(), HostError>;
    /// Compare-and-swap; returns whether it swapped.
    fn kv_cas(
        &mut self,
        key: &str,
        expected: Option<&str>,
        new: Option<&str>,
        ttl_ms: Option<u64>,
    ) -> Result<bool, HostError>;
    /// Adds `delta` to an integer value (absent = 0) and returns the result; a value that is
    /// not an integer is an error (and is left as it is).
    fn kv_incr(&mut self, key: &str, delta: i64, ttl_ms: Option<u64>) -> Result<i64, HostError>;
    /// The plugin's live keys that start with `prefix`, sorted, at most `limit` (and at most
    /// [`MAX_LIST_KEYS`]).
    fn kv_list(&mut self, prefix: &str, limit: u32) -> Result<Vec<String>, HostError>;
    /// An HTTP request under the `http` capability (see [`HttpRequest`]). An error: not
    /// granted, a URL outside the allow-list, a timeout, an answer over the size limit.
    fn http(&mut self, req: &HttpRequest) -> Result<HttpResponse, HostError>;
    /// Adds `by` to the counter `name` (a-z 0-9 _; at most 32 metrics per plugin), exported on
    /// `/metrics` as `ftpsd_plugin_<name>{plugin="..."}`.
    fn count(&mut self, name: &str, by: u64) -> Result<(), HostError>;
    /// Records `value` (e.g. seconds) in the histogram `name`.
    fn observe(&mut self, name: &str, value: f64) -> Result<(), HostError>;
}

/// A host reached through [`HostCall`]s (the wasm import, or a host's native adapter): the
/// typed [`Host`] functions come from this one method, so every route reads replies alike.
pub trait HostTransport {
    fn call(&mut self, c: &HostCall) -> HostReply;
}

/// A reply that only says "done": `{}`, which reads as `Value { value: None }` (see
/// `HostReply`).
fn done(r: HostReply) -> Result<(), HostError> {
    match r {
        HostReply::Done {} | HostReply::Value { value: None } => Ok(()),
        r => Err(unexpected(r)),
    }
}

fn unexpected(r: HostReply) -> HostError {
    match r {
        HostReply::Error { error } => HostError(error),
        other => HostError(format!("unexpected host reply {other:?}")),
    }
}

impl<T: HostTransport> Host for T {
    fn log(&mut self, level: &str, message: &str) {
        self.call(&HostCall::Log {
            level: level.into(),
            message: message.into(),
        });
    }
    fn now_ms(&mut self) -> u64 {
        match self.call(&HostCall::Now) {
            HostReply::Number { number } => number as u64,
            _ => 0,
        }
    }
    fn kv_get(&mut self, key: &str) -> Result<Option<String>, HostError> {
        match self.call(&HostCall::KvGet { key: key.into() }) {
            HostReply::Value { value } => Ok(value),
            r => Err(unexpected(r)),
        }
    }
    fn kv_set(&mut self, key: &str, value: &str, ttl_ms: Option<u64>) -> Result<(), HostError> {
        done(self.call(&HostCall::KvSet {
            key: key.into(),
            value: value.into(),
            ttl_ms,
        }))
    }
    fn kv_delete(&mut self, key: &str) -> Result<(), HostError> {
        done(self.call(&HostCall::KvDelete { key: key.into() }))
    }
    fn kv_cas(
        &mut self,
        key: &str,
        expected: Option<&str>,
        new: Option<&str>,
        ttl_ms: Option<u64>,
    ) -> Result<bool, HostError> {
        let c = HostCall::KvCas {
            key: key.into(),
            expected: expected.map(Into::into),
            new: new.map(Into::into),
            ttl_ms,
        };
        match self.call(&c) {
            HostReply::Swapped { swapped } => Ok(swapped),
            r => Err(unexpected(r)),
        }
    }
    fn kv_incr(&mut self, key: &str, delta: i64, ttl_ms: Option<u64>) -> Result<i64, HostError> {
        match self.call(&HostCall::KvIncr {
            key: key.into(),
            delta,
            ttl_ms,
        }) {
            HostReply::Number { number } => Ok(number),
            r => Err(unexpected(r)),
        }
    }
    fn kv_list(&mut self, prefix: &str, limit: u32) -> Result<Vec<String>, HostError> {
        match self.call(&HostCall::KvList {
            prefix: prefix.into(),
            limit,
        }) {
            HostReply::Keys { keys } => Ok(keys),
            r => Err(unexpected(r)),
        }
    }
    fn http(&mut self, req: &HttpRequest) -> Result<HttpResponse, HostError> {
        match self.call(&HostCall::Http(req.clone())) {
            HostReply::Http { http } => Ok(http),
            r => Err(unexpected(r)),
        }
    }
    fn count(&mut self, name: &str, by: u64) -> Result<(), HostError> {
        done(self.call(&HostCall::Count {
            name: name.into(),
            by,
        }))
    }
    fn observe(&mut self, name: &str, value: f64) -> Result<(), HostError> {
        done(self.call(&HostCall::Observe {
            name: name.into(),
            value,
        }))
    }
}

/// The host inside a wasm plugin: every call goes through the `ftpsd_v1.host` import.
#[cfg(target_arch = "wasm32")]
pub struct WasmHost;

#[cfg(target_arch = "wasm32")]
mod wasm {
    use super::*;

    #[link(wasm_import_module = "ftpsd_v1")]
    unsafe extern "C" {
        #[link_name = "host"]
        fn host_import(ptr: i32, len: i32) -> i64;
    }

    impl HostTransport for WasmHost {
        fn call(&mut self, c: &HostCall) -> HostReply {
            let req = serde_json::to_vec(c).unwrap_or_default();
            let packed = unsafe { host_import(req.as_ptr() as i32, req.len() as i32) };
            let (ptr, len) = (
                (packed >> 32) as u32 as usize,
                (packed & 0xffff_ffff) as u32 as usize,
            );
            if ptr == 0 || len == 0 {
                return HostReply::Error {
                    error: "no reply".into(),
                };
            }
            // The host wrote the reply into memory from ftpsd_alloc; take ownership and free it.
            let bytes = unsafe { Vec::from_raw_parts(ptr as *mut u8, len, len) };
            serde_json::from_slice(&bytes).unwrap_or(HostReply::Error {
                error: "bad reply".into(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reply_reads_back_as_itself() {
        for r in [
            HostReply::Error { error: "x".into() },
            HostReply::Number { number: 3 },
            HostReply::Swapped { swapped: true },
            HostReply::Keys {
                keys: vec!["a".into()],
            },
            HostReply::Keys { keys: vec![] },
            HostReply::Http {
                http: HttpResponse {
                    status: 200,
                    body: "ok".into(),
                    queued: false,
                },
            },
            HostReply::Value {
                value: Some("v".into()),
            },
            HostReply::Value { value: None },
        ] {
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(
                serde_json::from_str::<HostReply>(&json).unwrap(),
                r,
                "{json}"
            );
        }
    }
}
