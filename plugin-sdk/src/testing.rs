//! A native test harness: run a plugin's hooks in `cargo test` with an in-memory key-value
//! store and a settable clock, through the same dispatch code the wasm export uses. The
//! in-memory store behaves like the server's (the [`conformance`] test runs against both), so
//! a plugin that passes here decides the same way in the server.

use std::collections::BTreeMap;

use crate::{
    Configured, Host, HostError, HttpRequest, HttpResponse, MAX_LIST_KEYS, Plugin, Request,
    Response, dispatch,
};

/// In-memory host: KV with TTL against a fake clock, captured log lines.
#[derive(Default)]
pub struct TestHost {
    pub now_ms: u64,
    pub kv: BTreeMap<String, (String, Option<u64>)>,
    pub logs: Vec<(String, String)>,
    /// When set, every store call fails (as a broken or full store would): test that the
    /// plugin's gates refuse instead of deciding as if the store were empty.
    pub fail_store: Option<String>,
    /// Every HTTP request the plugin made, in order.
    pub http_sent: Vec<HttpRequest>,
    /// Answers for requests made with `wait`, in order (none left: an error, as an
    /// unreachable server would be). Requests without `wait` are answered `queued`.
    pub http_answers: std::collections::VecDeque<Result<HttpResponse, String>>,
    /// Counter totals by name.
    pub counters: BTreeMap<String, u64>,
    /// Histogram values by name, in order.
    pub observed: BTreeMap<String, Vec<f64>>,
}

impl TestHost {
    pub fn advance(&mut self, ms: u64) {
        self.now_ms += ms;
    }

    fn check(&self) -> Result<(), HostError> {
        match &self.fail_store {
            Some(e) => Err(HostError(e.clone())),
            None => Ok(()),
        }
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

    fn expiry(&self, ttl_ms: Option<u64>) -> Option<u64> {
        ttl_ms.map(|t| self.now_ms.saturating_add(t))
    }
}

impl Host for TestHost {
    fn log(&mut self, level: &str, message: &str) {
        self.logs.push((level.into(), message.into()));
    }
    fn now_ms(&mut self) -> u64 {
        self.now_ms
    }
    fn kv_get(&mut self, key: &str) -> Result<Option<String>, HostError> {
        self.check()?;
        Ok(self.live(key))
    }
    fn kv_set(&mut self, key: &str, value: &str, ttl_ms: Option<u64>) -> Result<(), HostError> {
        self.check()?;
        let exp = self.expiry(ttl_ms);
        self.kv.insert(key.into(), (value.into(), exp));
        Ok(())
    }
    fn kv_delete(&mut self, key: &str) -> Result<(), HostError> {
        self.check()?;
        self.kv.remove(key);
        Ok(())
    }
    fn kv_cas(
        &mut self,
        key: &str,
        expected: Option<&str>,
        new: Option<&str>,
        ttl_ms: Option<u64>,
    ) -> Result<bool, HostError> {
        self.check()?;
        if self.live(key).as_deref() != expected {
            return Ok(false);
        }
        match new {
            Some(v) => self.kv_set(key, v, ttl_ms)?,
            None => self.kv_delete(key)?,
        }
        Ok(true)
    }
    fn kv_incr(&mut self, key: &str, delta: i64, ttl_ms: Option<u64>) -> Result<i64, HostError> {
        self.check()?;
        let (n, old_exp) = match self.live(key) {
            Some(v) => {
                let n = v
                    .parse::<i64>()
                    .map_err(|_| HostError(format!("value of {key} is not a number")))?;
                (n, self.kv.get(key).and_then(|(_, e)| *e))
            }
            None => (0, None),
        };
        let n = n.saturating_add(delta);
        let exp = self.expiry(ttl_ms).or(old_exp);
        self.kv.insert(key.into(), (n.to_string(), exp));
        Ok(n)
    }
    fn kv_list(&mut self, prefix: &str, limit: u32) -> Result<Vec<String>, HostError> {
        self.check()?;
        let now = self.now_ms;
        Ok(self
            .kv
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter(|(_, (_, exp))| exp.is_none_or(|e| e > now))
            .map(|(k, _)| k.clone())
            .take(limit.min(MAX_LIST_KEYS) as usize)
            .collect())
    }
    fn http(&mut self, req: &HttpRequest) -> Result<HttpResponse, HostError> {
        self.http_sent.push(req.clone());
        if !req.wait {
            return Ok(HttpResponse {
                queued: true,
                ..HttpResponse::default()
            });
        }
        match self.http_answers.pop_front() {
            Some(a) => a.map_err(HostError),
            None => Err(HostError("no answer (connection refused)".into())),
        }
    }
    fn count(&mut self, name: &str, by: u64) -> Result<(), HostError> {
        let n = self.counters.entry(name.into()).or_default();
        *n = n.saturating_add(by);
        Ok(())
    }
    fn observe(&mut self, name: &str, value: f64) -> Result<(), HostError> {
        self.observed.entry(name.into()).or_default().push(value);
        Ok(())
    }
}

/// A host whose clock a test can move: what [`conformance`] needs.
pub trait ClockedHost: Host {
    fn advance_ms(&mut self, ms: u64);
}

impl ClockedHost for TestHost {
    fn advance_ms(&mut self, ms: u64) {
        self.advance(ms);
    }
}

/// The store's contract, asserted step by step; panics at the first difference. Run by the
/// SDK against [`TestHost`] and by the server's tests against its real store, so the two
/// cannot drift apart. Expects an empty namespace.
pub fn conformance(h: &mut dyn ClockedHost) {
    assert_eq!(h.kv_get("absent"), Ok(None), "absent key");
    h.kv_set("a", "1", None).unwrap();
    assert_eq!(h.kv_get("a"), Ok(Some("1".into())));
    assert_eq!(h.kv_incr("a", 2, None), Ok(3), "incr of a number");
    assert_eq!(
        h.kv_incr("fresh", -2, None),
        Ok(-2),
        "incr of an absent key"
    );
    h.kv_set("word", "x", None).unwrap();
    assert!(h.kv_incr("word", 1, None).is_err(), "incr of a non-number");
    assert_eq!(h.kv_get("word"), Ok(Some("x".into())), "left as it was");
    assert_eq!(h.kv_incr("a", i64::MAX, None), Ok(i64::MAX), "saturates");
    // compare-and-swap
    assert_eq!(h.kv_cas("c", None, Some("v1"), None), Ok(true), "create");
    assert_eq!(h.kv_cas("c", None, Some("v2"), None), Ok(false), "exists");
    assert_eq!(h.kv_cas("c", Some("v0"), Some("v2"), None), Ok(false));
    assert_eq!(h.kv_cas("c", Some("v1"), Some("v2"), None), Ok(true));
    assert_eq!(h.kv_get("c"), Ok(Some("v2".into())));
    assert_eq!(h.kv_cas("c", Some("v2"), None, None), Ok(true), "delete");
    assert_eq!(h.kv_get("c"), Ok(None));
    // TTL: live until the deadline, gone at it; incr keeps the old expiry unless given one
    h.kv_set("t", "5", Some(1000)).unwrap();
    h.advance_ms(999);
    assert_eq!(h.kv_get("t"), Ok(Some("5".into())), "before its TTL");
    assert_eq!(h.kv_incr("t", 1, None), Ok(6));
    h.advance_ms(1);
    assert_eq!(h.kv_get("t"), Ok(None), "at its TTL (incr kept the expiry)");
    assert_eq!(
        h.kv_incr("t", 1, Some(10)),
        Ok(1),
        "expired counts as absent"
    );
    assert_eq!(
        h.kv_cas("t", Some("1"), Some("2"), None),
        Ok(true),
        "cas sees the live value"
    );
    h.advance_ms(10);
    assert_eq!(
        h.kv_get("t"),
        Ok(Some("2".into())),
        "cas without a TTL: none"
    );
    // delete, list
    h.kv_delete("word").unwrap();
    h.kv_delete("never-was").unwrap();
    for k in ["p/2", "p/1", "p/3", "q/1"] {
        h.kv_set(k, "v", None).unwrap();
    }
    h.kv_set("p/old", "v", Some(5)).unwrap();
    h.advance_ms(5);
    assert_eq!(
        h.kv_list("p/", 100),
        Ok(vec!["p/1".into(), "p/2".into(), "p/3".into()]),
        "sorted, live only, prefix only"
    );
    assert_eq!(h.kv_list("p/", 2), Ok(vec!["p/1".into(), "p/2".into()]));
    assert_eq!(h.kv_list("zz", 10), Ok(vec![]));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_host_keeps_the_store_contract() {
        conformance(&mut TestHost::default());
    }

    #[test]
    fn a_failing_store_is_an_error_for_every_store_call() {
        let mut h = TestHost {
            fail_store: Some("disk full".into()),
            ..TestHost::default()
        };
        assert!(h.kv_get("a").is_err());
        assert!(h.kv_incr("a", 1, None).is_err());
        assert!(h.kv_cas("a", None, Some("x"), None).is_err());
        assert!(h.kv_list("", 1).is_err());
        let r: Response = h.kv_set("a", "b", None).unwrap_err().into();
        assert!(r.is_deny());
    }
}
