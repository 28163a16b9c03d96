//! The `http` capability: HTTP requests a plugin asks the host to make, only to the URL
//! prefixes the operator granted. A gate may wait for the answer within its call's deadline;
//! everything else goes into the plugin's bounded delivery queue, which one task per plugin
//! works through, retrying a connection error, 429 or 5xx with a growing pause. A full queue
//! drops the request with a log line (never blocks a session); the queue ends with the plugin
//! version that filled it.

use std::sync::Mutex;
use std::time::Duration;

use ftpsd_plugin_sdk::{HttpRequest, HttpResponse};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use tokio::sync::mpsc;

/// `capabilities.http` of a `[[plugins]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpGrant {
    /// URL prefixes, e.g. `"https://hooks.example.com/ftp/"`: scheme, host and port must be
    /// equal, and the path must start with the prefix's path at a `/` boundary.
    pub allowed_hosts: Vec<String>,
    /// Per request (a waiting gate gets less if its call's deadline is nearer).
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    /// Largest answer body read (at most 48 KiB: it travels back in the host call's reply).
    #[serde(default = "default_response_kb")]
    pub max_response_kb: u64,
    /// Requests waiting for delivery; beyond this they are dropped with a log line.
    #[serde(default = "default_queue")]
    pub queue: usize,
    /// Further attempts of a queued request after a connection error, 429 or 5xx.
    #[serde(default = "default_retries")]
    pub retries: u32,
}

fn default_timeout() -> u64 {
    2000
}
fn default_response_kb() -> u64 {
    32
}
fn default_queue() -> usize {
    256
}
fn default_retries() -> u32 {
    3
}

/// Requests one plugin call may make (waiting or queued).
pub const MAX_PER_CALL: u32 = 4;
const MAX_RESPONSE_KB: u64 = 48;
const MAX_QUEUE: usize = 10_000;
const MAX_HEADERS: usize = 32;

impl HttpGrant {
    /// The config check: every prefix a URL, limits in range.
    pub fn check(&self) -> Result<(), String> {
        if self.allowed_hosts.is_empty() {
            return Err("capabilities.http.allowed_hosts: name at least one URL prefix".into());
        }
        for p in &self.allowed_hosts {
            Target::parse(p).map_err(|e| format!("capabilities.http.allowed_hosts: {p}: {e}"))?;
        }
        if !(1..=60_000).contains(&self.timeout_ms) {
            return Err("capabilities.http.timeout_ms: 1 to 60000".into());
        }
        if !(1..=MAX_RESPONSE_KB).contains(&self.max_response_kb) {
            return Err(format!(
                "capabilities.http.max_response_kb: 1 to {MAX_RESPONSE_KB}"
            ));
        }
        if !(1..=MAX_QUEUE).contains(&self.queue) {
            return Err(format!("capabilities.http.queue: 1 to {MAX_QUEUE}"));
        }
        if self.retries > 10 {
            return Err("capabilities.http.retries: at most 10".into());
        }
        Ok(())
    }

    /// Whether `url` is inside one of the granted prefixes.
    pub fn allows(&self, url: &str) -> Result<(), String> {
        inside(&self.prefixes(), url)
    }

    /// The granted prefixes, taken apart (those that do not parse match nothing; `check`
    /// refuses them at load).
    fn prefixes(&self) -> Vec<Target> {
        self.allowed_hosts
            .iter()
            .filter_map(|p| Target::parse(p).ok())
            .collect()
    }
}

/// Whether `url` is inside one of `prefixes`.
fn inside(prefixes: &[Target], url: &str) -> Result<(), String> {
    let t = Target::parse(url)?;
    let within = prefixes.iter().any(|p| {
        p.scheme == t.scheme
            && p.host == t.host
            && p.port == t.port
            && (p.path == t.path
                || (t.path.starts_with(&p.path)
                    && (p.path.ends_with('/')
                        || t.path.as_bytes().get(p.path.len()) == Some(&b'/'))))
    });
    if within {
        Ok(())
    } else {
        Err(format!(
            "{url} is not within capabilities.http.allowed_hosts"
        ))
    }
}

/// A URL taken apart for the allow-list (no user info, http or https only).
#[derive(Debug, PartialEq, Eq)]
struct Target {
    scheme: String,
    host: String,
    port: u16,
    path: String,
}

impl Target {
    fn parse(url: &str) -> Result<Target, String> {
        let uri: hyper::Uri = url.parse().map_err(|e| format!("not a URL ({e})"))?;
        let scheme = uri.scheme_str().unwrap_or("").to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return Err("only http:// and https:// URLs".into()),
        };
        let authority = uri.authority().ok_or("no host in the URL")?;
        if authority.as_str().contains('@') {
            return Err("user information in a URL is not allowed".into());
        }
        let path = uri.path().to_string();
        if path.split('/').any(|seg| seg == ".." || seg == ".") {
            return Err("dot segments in a URL path are not allowed".into());
        }
        Ok(Target {
            scheme,
            host: authority.host().to_ascii_lowercase(),
            port: authority.port_u16().unwrap_or(default_port),
            path: if path.is_empty() { "/".into() } else { path },
        })
    }
}

type Inner = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// One plugin's HTTP: its grant, a client, and its delivery queue (started on first use).
pub struct PluginHttp {
    plugin: String,
    pub grant: HttpGrant,
    /// The grant's prefixes, parsed once.
    prefixes: Vec<Target>,
    client: Inner,
    queue: Mutex<Option<mpsc::Sender<HttpRequest>>>,
}

impl PluginHttp {
    pub fn new(plugin: &str, grant: HttpGrant) -> Result<PluginHttp, String> {
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_platform_verifier(provider)
            .map_err(|e| format!("the system's certificate roots: {e}"))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(PluginHttp {
            plugin: plugin.into(),
            prefixes: grant.prefixes(),
            grant,
            client: Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(30))
                .pool_max_idle_per_host(4)
                .build(connector),
            queue: Mutex::new(None),
        })
    }

    /// Checks a request against the grant and the protocol's limits.
    fn vet(&self, req: &HttpRequest) -> Result<hyper::Request<Full<Bytes>>, String> {
        inside(&self.prefixes, &req.url)?;
        let method: hyper::Method = match req.method.to_ascii_uppercase().as_str() {
            m @ ("GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD") => {
                m.parse().map_err(|_| "bad method".to_string())?
            }
            other => return Err(format!("method {other:?} is not allowed")),
        };
        if req.headers.len() > MAX_HEADERS {
            return Err(format!("more than {MAX_HEADERS} headers"));
        }
        let mut b = hyper::Request::builder().method(method).uri(&req.url);
        for (k, v) in &req.headers {
            let lower = k.to_ascii_lowercase();
            if matches!(
                lower.as_str(),
                "host" | "content-length" | "transfer-encoding" | "connection" | "upgrade" | "te"
            ) {
                return Err(format!("header {k} is set by the host"));
            }
            b = b.header(k.as_str(), v.as_str());
        }
        let body = Bytes::from(req.body.clone().unwrap_or_default());
        b.body(Full::new(body))
            .map_err(|e| format!("bad request: {e}"))
    }

    /// One attempt, bounded by `deadline`; the answer's body is read up to the grant's limit.
    async fn send(&self, req: &HttpRequest, deadline: Duration) -> Result<HttpResponse, String> {
        let request = self.vet(req)?;
        let limit = (self.grant.max_response_kb.min(MAX_RESPONSE_KB) * 1024) as usize;
        let whole = async {
            let rsp = self
                .client
                .request(request)
                .await
                .map_err(|e| format!("{}: {e}", req.url))?;
            let status = rsp.status().as_u16();
            let body = Limited::new(rsp.into_body(), limit)
                .collect()
                .await
                .map_err(|e| {
                    format!(
                        "{}: the answer was cut off ({e}; at most {} KiB)",
                        req.url,
                        limit / 1024
                    )
                })?
                .to_bytes();
            Ok(HttpResponse {
                status,
                body: String::from_utf8_lossy(&body).into_owned(),
                queued: false,
            })
        };
        tokio::time::timeout(deadline, whole)
            .await
            .map_err(|_| format!("{}: no answer within {} ms", req.url, deadline.as_millis()))?
    }

    /// A request made while the plugin's call waits: on the blocking thread the call runs on,
    /// within `left` (the call's remaining wall-clock time) and the grant's timeout.
    pub fn wait(&self, req: &HttpRequest, left: Duration) -> Result<HttpResponse, String> {
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| "HTTP is not available here (no server runtime)".to_string())?;
        let deadline = left.min(Duration::from_millis(self.grant.timeout_ms));
        handle.block_on(self.send(req, deadline))
    }

    /// Queues a request for delivery; refused when the queue is full.
    pub fn enqueue(self: &std::sync::Arc<Self>, req: HttpRequest) -> Result<HttpResponse, String> {
        self.vet(&req)?;
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if q.is_none() {
            let handle = tokio::runtime::Handle::try_current()
                .map_err(|_| "HTTP is not available here (no server runtime)".to_string())?;
            let (tx, rx) = mpsc::channel(self.grant.queue.min(MAX_QUEUE));
            handle.spawn(deliver(std::sync::Arc::downgrade(self), rx));
            *q = Some(tx);
        }
        let tx = q.as_ref().expect("queue just set");
        match tx.try_send(req) {
            Ok(()) => Ok(HttpResponse {
                queued: true,
                ..HttpResponse::default()
            }),
            Err(mpsc::error::TrySendError::Full(r)) => {
                tracing::warn!(plugin = %self.plugin, url = %r.url, queue = self.grant.queue, "plugin HTTP queue full; request dropped");
                Err(format!(
                    "the HTTP queue is full ({} requests)",
                    self.grant.queue
                ))
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err("the HTTP queue is closed".into()),
        }
    }
}

/// Whether an answer is worth another attempt.
fn retryable(r: &Result<HttpResponse, String>) -> bool {
    match r {
        Err(_) => true,
        Ok(a) => a.status == 429 || a.status >= 500,
    }
}

/// The delivery task of one plugin version: one request at a time, each tried up to
/// `1 + retries` times with pauses of 0.5 s, 1 s, 2 s... (at most 30 s). It ends when the
/// plugin version is gone and its queue is empty.
async fn deliver(http: std::sync::Weak<PluginHttp>, mut rx: mpsc::Receiver<HttpRequest>) {
    while let Some(req) = rx.recv().await {
        let Some(h) = http.upgrade() else { return };
        let timeout = Duration::from_millis(h.grant.timeout_ms);
        let mut pause = Duration::from_millis(500);
        let mut attempt = 0;
        loop {
            let result = h.send(&req, timeout).await;
            if !retryable(&result) {
                tracing::debug!(plugin = %h.plugin, url = %req.url, attempt, "plugin HTTP request delivered");
                break;
            }
            if attempt >= h.grant.retries {
                let why = match &result {
                    Ok(a) => format!("status {}", a.status),
                    Err(e) => e.clone(),
                };
                tracing::warn!(plugin = %h.plugin, url = %req.url, attempts = attempt + 1, error = %why, "plugin HTTP request not delivered; dropped");
                break;
            }
            attempt += 1;
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(30));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(prefixes: &[&str]) -> HttpGrant {
        HttpGrant {
            allowed_hosts: prefixes.iter().map(|p| p.to_string()).collect(),
            timeout_ms: 1000,
            max_response_kb: 32,
            queue: 8,
            retries: 1,
        }
    }

    #[test]
    fn only_urls_inside_a_granted_prefix_pass() {
        let g = grant(&[
            "http://127.0.0.1:8080/hooks",
            "https://dir.example.com/api/",
        ]);
        for ok in [
            "http://127.0.0.1:8080/hooks",
            "http://127.0.0.1:8080/hooks/a?x=1",
            "HTTP://127.0.0.1:8080/hooks/",
            "https://dir.example.com/api/users",
            "https://DIR.example.com:443/api/x",
        ] {
            assert!(g.allows(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://127.0.0.1:8080/hooksX",
            "http://127.0.0.1:8081/hooks",
            "http://127.0.0.1/hooks",
            "https://127.0.0.1:8080/hooks",
            "http://127.0.0.1:8080@evil.com/hooks",
            "http://evil.com/?http://127.0.0.1:8080/hooks",
            "http://127.0.0.1:8080/hooks/../admin",
            "https://dir.example.com/api",
            "https://dir.example.com.evil.org/api/x",
            "ftp://127.0.0.1:8080/hooks",
            "file:///etc/passwd",
            "not a url",
        ] {
            assert!(g.allows(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_grant_is_checked_at_load() {
        assert!(grant(&[]).check().is_err());
        assert!(grant(&["ftp://x/"]).check().is_err());
        assert!(grant(&["http://x/"]).check().is_ok());
        let mut g = grant(&["http://x/"]);
        g.max_response_kb = 49;
        assert!(g.check().is_err());
    }

    #[test]
    fn headers_the_host_owns_are_refused() {
        let h = PluginHttp::new("p", grant(&["http://127.0.0.1:1/"])).unwrap();
        let req = |k: &str| HttpRequest {
            method: "POST".into(),
            url: "http://127.0.0.1:1/x".into(),
            headers: vec![(k.into(), "v".into())],
            ..Default::default()
        };
        assert!(h.vet(&req("X-Sig")).is_ok());
        for k in ["Host", "content-length", "Transfer-Encoding", "Connection"] {
            assert!(h.vet(&req(k)).is_err(), "{k}");
        }
        let mut r = req("X-A");
        r.method = "CONNECT".into();
        assert!(h.vet(&r).is_err());
    }
}
