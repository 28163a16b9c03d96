//! A native test harness: run a plugin's hooks in `cargo test` with an in-memory key-value
//! store and a settable clock, through the same dispatch code the wasm export uses.

use std::collections::HashMap;

use crate::{Configured, Host, Plugin, Request, Response, dispatch};

/// In-memory host: KV with TTL against a fake clock, captured log lines.
#[derive(Default)]
pub struct TestHost {
    pub now_ms: u64,
    pub kv: HashMap<String, (String, Option<u64>)>,
    pub logs: Vec<(String, String)>,
}

impl TestHost {
    pub fn advance(&mut self, ms: u64) {
        self.now_ms += ms;
    }

    fn live(&mut self, key: &str) -> Option<String> {
        match self.kv.get(key) {
            Some((_, Some(exp))) if *exp <= self.now_ms => {
                self.kv.remove(key);
                None
            }
            Some((v, _)) => Some(v.clone()),
            None => None,
        }
    }
}

impl Host for TestHost {
    fn log(&mut self, level: &str, message: &str) {
        self.logs.push((level.into(), message.into()));
    }
    fn now_ms(&mut self) -> u64 {
        self.now_ms
    }
    fn kv_get(&mut self, key: &str) -> Option<String> {
        self.live(key)
    }
    fn kv_set(&mut self, key: &str, value: &str, ttl_ms: Option<u64>) {
        let exp = ttl_ms.map(|t| self.now_ms + t);
        self.kv.insert(key.into(), (value.into(), exp));
    }
    fn kv_delete(&mut self, key: &str) {
        self.kv.remove(key);
    }
    fn kv_cas(
        &mut self,
        key: &str,
        expected: Option<&str>,
        new: Option<&str>,
        ttl_ms: Option<u64>,
    ) -> bool {
        if self.live(key).as_deref() != expected {
            return false;
        }
        match new {
            Some(v) => self.kv_set(key, v, ttl_ms),
            None => self.kv_delete(key),
        }
        true
    }
    fn kv_incr(&mut self, key: &str, delta: i64, ttl_ms: Option<u64>) -> i64 {
        let n = self
            .live(key)
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0)
            + delta;
        let exp = match self.kv.get(key) {
            Some((_, e)) if ttl_ms.is_none() => *e,
            _ => ttl_ms.map(|t| self.now_ms + t),
        };
        self.kv.insert(key.into(), (n.to_string(), exp));
        n
    }
}

/// A plugin plus its test host.
pub struct Harness<P: Plugin> {
    pub plugin: P,
    pub host: TestHost,
}

impl<P: Plugin> Harness<P> {
    /// Configures the plugin with settings given as JSON; panics with the plugin's error.
    pub fn new(settings: serde_json::Value) -> Harness<P> {
        let mut h = Harness {
            plugin: P::default(),
            host: TestHost::default(),
        };
        let req = serde_json::to_vec(&Request::Configure { settings }).expect("serialisable");
        match serde_json::from_slice(&dispatch(&mut h.plugin, &req, &mut h.host)) {
            Ok(Configured::Ok { .. }) => h,
            Ok(Configured::Error { error }) => panic!("configure failed: {error}"),
            Err(e) => panic!("configure reply: {e}"),
        }
    }

    /// Configuration that is expected to fail; returns the error text.
    pub fn configure_error(settings: serde_json::Value) -> String {
        let mut p = P::default();
        let req = serde_json::to_vec(&Request::Configure { settings }).expect("serialisable");
        match serde_json::from_slice(&dispatch(&mut p, &req, &mut TestHost::default())) {
            Ok(Configured::Error { error }) => error,
            other => panic!("expected a configuration error, got {other:?}"),
        }
    }

    /// Sends a request through the wire format and returns the decoded response.
    pub fn call(&mut self, req: Request) -> Response {
        let bytes = serde_json::to_vec(&req).expect("serialisable");
        let out = dispatch(&mut self.plugin, &bytes, &mut self.host);
        serde_json::from_slice(&out).expect("plugin replied with a Response")
    }
}
