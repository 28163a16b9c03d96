//! The CLI's way to a server's HTTP admin API (`ftpsd admin --url ... --token-file ...`): one
//! request per connection over HTTP/1.1 (hyper), the same JSON answers as the admin socket.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

use super::AdminError;
use super::ops::{Request, Response};

/// Method, path and JSON body of an operation in the HTTP API.
pub fn route(req: &Request) -> (&'static str, String, Option<serde_json::Value>) {
    let body = |v: &dyn erased::Json| Some(v.value());
    let (method, path) = match req {
        Request::Sessions => ("GET", "/api/sessions".into()),
        Request::Kick { id, node: None } => ("POST", format!("/api/sessions/{id}/kick")),
        Request::Kick { id, node: Some(n) } => (
            "POST",
            format!("/api/sessions/{id}/kick?node={}", encode(n)),
        ),
        Request::KickAll => ("POST", "/api/sessions/kick-all".into()),
        Request::Bans => ("GET", "/api/bans".into()),
        Request::Unban { ip: Some(ip) } => ("DELETE", format!("/api/bans/{ip}")),
        Request::Unban { ip: None } => ("DELETE", "/api/bans".into()),
        Request::Plugins => ("GET", "/api/plugins".into()),
        Request::ReloadPlugins => ("POST", "/api/plugins/reload".into()),
        Request::ReloadUsers => ("POST", "/api/users/reload".into()),
        Request::Reload => ("POST", "/api/reload".into()),
        Request::Stats => ("GET", "/api/stats".into()),
        Request::Users => ("GET", "/api/users".into()),
        Request::Groups => ("GET", "/api/groups".into()),
        Request::AddUser(new) => return ("POST", "/api/users".into(), body(new)),
        Request::UpdateUser { name, change } => {
            return (
                "PATCH",
                format!("/api/users/{}", encode(name)),
                body(change),
            );
        }
        Request::DeleteUser { name } => ("DELETE", format!("/api/users/{}", encode(name))),
        Request::AddGroup(new) => return ("POST", "/api/groups".into(), body(new)),
        Request::DeleteGroup { name, force } => (
            "DELETE",
            format!("/api/groups/{}?force={force}", encode(name)),
        ),
        Request::Access => ("GET", "/api/access".into()),
        Request::ListIp { change, pattern } => {
            use crate::access::managed::Change;
            let (which, body) = match change {
                Change::Add(l) => (l.as_str(), serde_json::json!({ "pattern": pattern })),
                Change::Remove(from) => (
                    "remove",
                    serde_json::json!({ "pattern": pattern, "list": from }),
                ),
            };
            return ("POST", format!("/api/access/{which}"), Some(body));
        }
        Request::Kv(kv) => {
            use super::plugin_state::{KvRequest, KvTarget};
            match kv {
                KvRequest::List { plugin, prefix } => (
                    "GET",
                    format!("/api/kv/{}?prefix={}", encode(plugin), encode(prefix)),
                ),
                KvRequest::Get { plugin, key } => {
                    ("GET", format!("/api/kv/{}/{}", encode(plugin), encode(key)))
                }
                KvRequest::Delete {
                    plugin,
                    target: KvTarget::Key(key),
                } => (
                    "DELETE",
                    format!("/api/kv/{}/{}", encode(plugin), encode(key)),
                ),
                KvRequest::Delete {
                    plugin,
                    target: KvTarget::Prefix(prefix),
                } => (
                    "DELETE",
                    format!("/api/kv/{}?prefix={}", encode(plugin), encode(prefix)),
                ),
            }
        }
    };
    (method, path, None)
}

/// A path segment: everything but unreserved characters percent-encoded.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

mod erased {
    /// Any serialisable request body.
    pub trait Json {
        fn value(&self) -> serde_json::Value;
    }
    impl<T: serde::Serialize> Json for T {
        fn value(&self) -> serde_json::Value {
            serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
        }
    }
}

/// Sends one operation to `base` (e.g. `http://127.0.0.1:8021`).
pub async fn request(base: &str, token: &str, req: &Request) -> Result<Response, AdminError> {
    let proto = |e: &dyn std::fmt::Display| AdminError::Protocol(format!("{base}: {e}"));
    let authority = base
        .strip_prefix("http://")
        .ok_or_else(|| {
            proto(&"only http:// URLs (the admin listener is plain HTTP on a trusted address)")
        })?
        .trim_end_matches('/');
    let stream = tokio::net::TcpStream::connect(authority)
        .await
        .map_err(|e| proto(&e))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| proto(&e))?;
    tokio::spawn(conn);
    let (method, path, body) = route(req);
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let http_req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::AUTHORIZATION, format!("Bearer {token}"))
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| proto(&e))?;
    let resp = sender.send_request(http_req).await.map_err(|e| proto(&e))?;
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| proto(&e))?
        .to_bytes();
    if status == hyper::StatusCode::UNAUTHORIZED {
        return Err(proto(&"401: wrong or missing token (--token-file)"));
    }
    serde_json::from_slice(&body).map_err(|e| proto(&format!("{status}: {e}")))
}
