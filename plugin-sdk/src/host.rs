//! What a plugin can ask of the host: log, clock, key-value store. In a wasm plugin these go
//! through the `ftpsd_v1.host` import; in native tests, through [`crate::testing::TestHost`].

use serde::{Deserialize, Serialize};

/// A call to the `ftpsd_v1.host` import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
}

/// The host's answer. Untagged, so the order matters: a missing `Option` field reads as None,
/// hence `Value` comes after the variants with required fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum HostReply {
    Error { error: String },
    Number { number: i64 },
    Swapped { swapped: bool },
    Value { value: Option<String> },
    Done {},
}

/// The host functions, as plugin code sees them.
pub trait Host {
    fn log(&mut self, level: &str, message: &str);
    /// Milliseconds since the Unix epoch (settable in tests).
    fn now_ms(&mut self) -> u64;
    fn kv_get(&mut self, key: &str) -> Option<String>;
    fn kv_set(&mut self, key: &str, value: &str, ttl_ms: Option<u64>);
    fn kv_delete(&mut self, key: &str);
    /// Compare-and-swap; returns whether it swapped.
    fn kv_cas(
        &mut self,
        key: &str,
        expected: Option<&str>,
        new: Option<&str>,
        ttl_ms: Option<u64>,
    ) -> bool;
    fn kv_incr(&mut self, key: &str, delta: i64, ttl_ms: Option<u64>) -> i64;
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

    pub(crate) fn call(c: &HostCall) -> HostReply {
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

    impl Host for WasmHost {
        fn log(&mut self, level: &str, message: &str) {
            call(&HostCall::Log {
                level: level.into(),
                message: message.into(),
            });
        }
        fn now_ms(&mut self) -> u64 {
            match call(&HostCall::Now) {
                HostReply::Number { number } => number as u64,
                _ => 0,
            }
        }
        fn kv_get(&mut self, key: &str) -> Option<String> {
            match call(&HostCall::KvGet { key: key.into() }) {
                HostReply::Value { value } => value,
                _ => None,
            }
        }
        fn kv_set(&mut self, key: &str, value: &str, ttl_ms: Option<u64>) {
            call(&HostCall::KvSet {
                key: key.into(),
                value: value.into(),
                ttl_ms,
            });
        }
        fn kv_delete(&mut self, key: &str) {
            call(&HostCall::KvDelete { key: key.into() });
        }
        fn kv_cas(
            &mut self,
            key: &str,
            expected: Option<&str>,
            new: Option<&str>,
            ttl_ms: Option<u64>,
        ) -> bool {
            let c = HostCall::KvCas {
                key: key.into(),
                expected: expected.map(Into::into),
                new: new.map(Into::into),
                ttl_ms,
            };
            matches!(call(&c), HostReply::Swapped { swapped: true })
        }
        fn kv_incr(&mut self, key: &str, delta: i64, ttl_ms: Option<u64>) -> i64 {
            match call(&HostCall::KvIncr {
                key: key.into(),
                delta,
                ttl_ms,
            }) {
                HostReply::Number { number } => number,
                _ => 0,
            }
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
