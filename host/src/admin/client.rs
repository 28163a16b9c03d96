//! The CLI's way to a server's HTTP admin API (`ftpsd admin --url ... --token-file ...`): one
//! request per connection over HTTP/1.1 (hyper), the same JSON answers as the admin socket.

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

use super::AdminError;
use super::ops::{Request, Response};

/// Method and path of an operation in the HTTP API.
pub fn route(req: &Request) -> (&'static str, String) {
    match req {
        Request::Sessions => ("GET", "/api/sessions".into()),
        Request::Kick { id } => ("POST", format!("/api/sessions/{id}/kick")),
        Request::KickAll => ("POST", "/api/sessions/kick-all".into()),
        Request::Bans => ("GET", "/api/bans".into()),
        Request::Unban { ip: Some(ip) } => ("DELETE", format!("/api/bans/{ip}")),
        Request::Unban { ip: None } => ("DELETE", "/api/bans".into()),
        Request::Plugins => ("GET", "/api/plugins".into()),
        Request::ReloadPlugins => ("POST", "/api/plugins/reload".into()),
        Request::ReloadUsers => ("POST", "/api/users/reload".into()),
        Request::Reload => ("POST", "/api/reload".into()),
        Request::Stats => ("GET", "/api/stats".into()),
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
    let (method, path) = route(req);
    let http_req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Empty::<Bytes>::new())
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
