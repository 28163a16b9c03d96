//! The shared [`KvStore`]: Redis, so that several nodes behind a load balancer see the same
//! bans, failure counts, ratio counters and plugin state. Keys are `<prefix>kv\0<ns>\0<key>`
//! (the prefix names the cluster, so clusters can share a Redis), values `<expiry ms>:<value>`
//! like the embedded store's; a key also gets a Redis expiry a second after its own, so expired
//! entries do not pile up. Every read-modify-write is optimistic (WATCH / MULTI / EXEC, retried
//! on contention), so increments and compare-and-swap stay atomic across nodes.
//!
//! Connections are pooled (bounded), and every call has a connect and I/O timeout: an
//! unreachable Redis turns into a [`StoreError::Backend`] within the timeout, never a hang.

use std::sync::Mutex;
use std::time::Duration;

use super::{Entry, KvStore, StoreError};

/// Idle connections kept for reuse; more are opened under load and closed after use.
const POOL: usize = 16;
/// Tries of one read-modify-write before contention is an error.
const TRIES: usize = 64;

pub struct RedisStore {
    client: redis::Client,
    prefix: String,
    timeout: Duration,
    idle: Mutex<Vec<redis::Connection>>,
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("redis: {e}"))
}

fn encode(value: &str, expires: Option<u64>) -> String {
    format!("{}:{value}", expires.unwrap_or(0))
}

/// A stored value; None if expired or not ours.
fn decode(raw: &str, now_ms: u64) -> Option<Entry> {
    let (exp, value) = raw.split_once(':')?;
    let exp: u64 = exp.parse().ok()?;
    let expires = (exp != 0).then_some(exp);
    if expires.is_some_and(|e| e <= now_ms) {
        return None;
    }
    Some((value.to_string(), expires))
}

/// `s` with the glob characters of SCAN's MATCH escaped.
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl RedisStore {
    /// Checks the URL and that Redis answers (a node should not start on a typo).
    pub fn open(url: &str, cluster: &str, timeout: Duration) -> Result<RedisStore, StoreError> {
        let shown = super::section::redacted(url);
        let client = redis::Client::open(url).map_err(|e| {
            StoreError::Backend(format!(
                "state.backend = \"{shown}\" is not a Redis URL: {e}"
            ))
        })?;
        let store = RedisStore {
            client,
            prefix: format!("ftpsd:{cluster}:"),
            timeout,
            idle: Mutex::new(Vec::new()),
        };
        store
            .with(|c| redis::cmd("PING").query::<String>(c).map_err(err))
            .map_err(|e| {
                StoreError::Backend(format!(
                    "state.backend = \"{shown}\": {e} (is Redis running there, and the password and database right?)"
                ))
            })?;
        Ok(store)
    }

    fn key(&self, ns: &str, key: &str) -> String {
        format!("{}kv\0{ns}\0{key}", self.prefix)
    }

    fn connect(&self) -> Result<redis::Connection, StoreError> {
        let c = self
            .client
            .get_connection_with_timeout(self.timeout)
            .map_err(err)?;
        c.set_read_timeout(Some(self.timeout)).map_err(err)?;
        c.set_write_timeout(Some(self.timeout)).map_err(err)?;
        Ok(c)
    }

    /// Runs `f` on a pooled connection; a connection that saw an error is not reused. A pooled
    /// connection that fails (Redis restarted: its peers are dead too) empties the pool, and `f`
    /// runs once more on a new connection: a dead connection fails on its first command,
    /// before anything was written.
    fn with<T>(
        &self,
        mut f: impl FnMut(&mut redis::Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let pooled = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let (mut con, was_pooled) = match pooled {
            Some(c) => (c, true),
            None => (self.connect()?, false),
        };
        let mut r = f(&mut con);
        if was_pooled && matches!(r, Err(StoreError::Backend(_))) {
            self.idle.lock().unwrap_or_else(|e| e.into_inner()).clear();
            con = self.connect()?;
            r = f(&mut con);
        }
        if r.is_ok()
            || matches!(
                r,
                Err(StoreError::NotANumber(_) | StoreError::Quota(_) | StoreError::Refused(_))
            )
        {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < POOL {
                idle.push(con);
            }
        }
        r
    }
}

impl KvStore for RedisStore {
    fn get(&self, ns: &str, key: &str, now_ms: u64) -> Result<Option<String>, StoreError> {
        let k = self.key(ns, key);
        self.with(|c| {
            let raw: Option<String> = redis::cmd("GET").arg(&k).query(c).map_err(err)?;
            Ok(raw.and_then(|r| decode(&r, now_ms)).map(|(v, _)| v))
        })
    }

    fn list(&self, ns: &str, now_ms: u64) -> Result<Vec<(String, String)>, StoreError> {
        let start = self.key(ns, "");
        let pattern = format!("{}*", glob_escape(&start));
        self.with(|c| {
            let mut keys: Vec<String> = Vec::new();
            let mut cursor: u64 = 0;
            loop {
                let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(1000)
                    .query(c)
                    .map_err(err)?;
                keys.extend(batch);
                cursor = next;
                if cursor == 0 {
                    break;
                }
            }
            keys.sort();
            keys.dedup();
            let mut out = Vec::new();
            for chunk in keys.chunks(500) {
                let values: Vec<Option<String>> =
                    redis::cmd("MGET").arg(chunk).query(c).map_err(err)?;
                for (k, v) in chunk.iter().zip(values) {
                    if let Some((value, _)) = v.and_then(|r| decode(&r, now_ms)) {
                        out.push((k[start.len()..].to_string(), value));
                    }
                }
            }
            Ok(out)
        })
    }

    fn update(
        &self,
        ns: &str,
        key: &str,
        now_ms: u64,
        f: &mut dyn FnMut(Option<Entry>) -> Result<Option<Entry>, StoreError>,
    ) -> Result<(), StoreError> {
        let k = self.key(ns, key);
        self.with(|c| {
            for _ in 0..TRIES {
                redis::cmd("WATCH").arg(&k).query::<()>(c).map_err(err)?;
                let raw: Option<String> = redis::cmd("GET").arg(&k).query(c).map_err(err)?;
                let next = match f(raw.and_then(|r| decode(&r, now_ms))) {
                    Ok(n) => n,
                    Err(e) => {
                        redis::cmd("UNWATCH").query::<()>(c).map_err(err)?;
                        return Err(e);
                    }
                };
                let mut tx = redis::pipe();
                tx.atomic();
                match next {
                    Some((value, expires)) => {
                        tx.cmd("SET").arg(&k).arg(encode(&value, expires)).ignore();
                        // Only a future expiry becomes Redis's; a past one (a clock far
                        // behind, tests with fixed times) is left to the read check.
                        if let Some(e) = expires.filter(|&e| e > super::now_ms()) {
                            tx.cmd("PEXPIREAT").arg(&k).arg(e + 1000).ignore();
                        }
                    }
                    None => {
                        tx.cmd("DEL").arg(&k).ignore();
                    }
                }
                let done: Option<()> = tx.query(c).map_err(err)?;
                if done.is_some() {
                    return Ok(());
                }
            }
            Err(StoreError::Backend(format!(
                "redis: '{key}' changed by others {TRIES} times in a row"
            )))
        })
    }
}
