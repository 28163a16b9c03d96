//! The HTTP admin listener (off by default; 127.0.0.1 by default when on): the JSON API, the
//! Prometheus endpoint and the web admin page. Every route but the page needs
//! `Authorization: Bearer <token>`; the token lives in a file created with mode 0600 and is
//! compared in constant time, before anything of the request body is read. Connections are
//! capped (in all and per address), a request's head must arrive within 10 s, a body is at
//! most 64 KiB, and a connection lives at most 5 minutes.

use super::plugin_state::{KvRequest, KvTarget};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response as HttpResponse};
use axum::routing::{get, post};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::AdminError;
use super::ops::{self, Request};
use crate::context::ServerContext;

/// Reads the token file, creating it with a fresh random token (mode 0600) if missing.
pub fn token(path: &Path) -> Result<String, AdminError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let err = |source| AdminError::Socket {
        path: path.to_path_buf(),
        source,
    };
    if !path.exists() {
        let token: String = (0..32)
            .map(|_| format!("{:02x}", rand::random::<u8>()))
            .collect();
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d).map_err(err)?;
        }
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(err)?;
        writeln!(f, "{token}").map_err(err)?;
    }
    let t = std::fs::read_to_string(path)
        .map_err(err)?
        .trim()
        .to_string();
    if t.len() < 16 {
        return Err(AdminError::Protocol(format!(
            "{}: the token must be at least 16 characters",
            path.display()
        )));
    }
    Ok(t)
}

#[derive(Clone)]
struct AppState {
    ctx: Arc<ServerContext>,
    token: Arc<String>,
}

fn authorized(state: &AppState, headers: &HeaderMap) -> bool {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    given.len() == state.token.len() && bool::from(given.as_bytes().ct_eq(state.token.as_bytes()))
}

fn unauthorized() -> HttpResponse {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        "missing or wrong token (Authorization: Bearer <token from the token file>)\n",
    )
        .into_response()
}

async fn api(state: &AppState, headers: &HeaderMap, req: Request) -> HttpResponse {
    if !authorized(state, headers) {
        return unauthorized();
    }
    let resp = ops::handle_live(&state.ctx, req).await;
    let status = StatusCode::from_u16(resp.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match resp {
        ops::Response::Failed { error, .. } => refused(status, &error),
        resp => (status, axum::Json(resp)).into_response(),
    }
}

/// `{"error": ...}` with its status: what every refusal looks like to a client.
fn refused(status: StatusCode, error: &str) -> HttpResponse {
    (status, axum::Json(serde_json::json!({ "error": error }))).into_response()
}

/// A JSON request body, or why it is not one (a 400 naming the field, not axum's text).
type Body<T> = Result<axum::Json<T>, axum::extract::rejection::JsonRejection>;

async fn with_body<T>(
    state: &AppState,
    headers: &HeaderMap,
    body: Body<T>,
    req: impl FnOnce(T) -> Request,
) -> HttpResponse {
    if !authorized(state, headers) {
        return unauthorized();
    }
    match body {
        Ok(axum::Json(b)) => api(state, headers, req(b)).await,
        // 413 for a body over the limit; every other bad body is a 400 naming the field.
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            refused(e.status(), &e.body_text())
        }
        Err(e) => refused(StatusCode::BAD_REQUEST, &e.body_text()),
    }
}

#[derive(Debug, Deserialize)]
struct PrefixQuery {
    prefix: Option<String>,
}

/// `?node=NAME`: the cluster node a session is on.
#[derive(Debug, Deserialize)]
struct NodeQuery {
    node: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ForceQuery {
    #[serde(default)]
    force: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PatternBody {
    pattern: String,
    /// For a removal: only from this list (default both).
    #[serde(default)]
    list: Option<crate::access::managed::List>,
}

/// A handler for a route whose operation needs nothing from the URL.
fn fixed(
    req: Request,
) -> impl Fn(State<AppState>, HeaderMap) -> std::pin::Pin<Box<dyn Future<Output = HttpResponse> + Send>>
+ Clone
+ Send
+ Sync
+ 'static {
    move |State(s): State<AppState>, h: HeaderMap| {
        let req = req.clone();
        Box::pin(async move { api(&s, &h, req).await })
    }
}

pub fn router(ctx: Arc<ServerContext>, token: String) -> Router {
    let state = AppState {
        ctx,
        token: Arc::new(token),
    };
    Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route("/api/sessions", get(fixed(Request::Sessions)))
        .route("/api/sessions/kick-all", post(fixed(Request::KickAll)))
        .route(
            "/api/sessions/{id}/kick",
            post(
                |State(s): State<AppState>,
                 h: HeaderMap,
                 UrlPath(id): UrlPath<u64>,
                 Query(q): Query<NodeQuery>| async move {
                    api(&s, &h, Request::Kick { id, node: q.node }).await
                },
            ),
        )
        .route(
            "/api/bans",
            get(fixed(Request::Bans)).delete(fixed(Request::Unban { ip: None })),
        )
        .route(
            "/api/bans/{ip}",
            axum::routing::delete(
                |State(s): State<AppState>, h: HeaderMap, UrlPath(ip): UrlPath<String>| async move {
                    api(&s, &h, Request::Unban { ip: Some(ip) }).await
                },
            ),
        )
        .route("/api/plugins", get(fixed(Request::Plugins)))
        .route("/api/plugins/reload", post(fixed(Request::ReloadPlugins)))
        .route("/api/users/reload", post(fixed(Request::ReloadUsers)))
        .route("/api/reload", post(fixed(Request::Reload)))
        .route("/api/stats", get(fixed(Request::Stats)))
        .route(
            "/api/users",
            get(fixed(Request::Users)).post(
                |State(s): State<AppState>, h: HeaderMap, body: Body<crate::users::manage::NewUser>| async move {
                    with_body(&s, &h, body, Request::AddUser).await
                },
            ),
        )
        .route(
            "/api/users/{name}",
            axum::routing::patch(
                |State(s): State<AppState>,
                 h: HeaderMap,
                 UrlPath(name): UrlPath<String>,
                 body: Body<crate::users::manage::UserUpdate>| async move {
                    with_body(&s, &h, body, |change| Request::UpdateUser { name, change }).await
                },
            )
            .delete(
                |State(s): State<AppState>, h: HeaderMap, UrlPath(name): UrlPath<String>| async move {
                    api(&s, &h, Request::DeleteUser { name }).await
                },
            ),
        )
        .route(
            "/api/groups",
            get(fixed(Request::Groups)).post(
                |State(s): State<AppState>, h: HeaderMap, body: Body<crate::users::manage::NewGroup>| async move {
                    with_body(&s, &h, body, Request::AddGroup).await
                },
            ),
        )
        .route(
            "/api/groups/{name}",
            axum::routing::delete(
                |State(s): State<AppState>,
                 h: HeaderMap,
                 UrlPath(name): UrlPath<String>,
                 Query(q): Query<ForceQuery>| async move {
                    api(&s, &h, Request::DeleteGroup { name, force: q.force }).await
                },
            ),
        )
        .route("/api/access", get(fixed(Request::Access)))
        .route(
            "/api/kv/{plugin}",
            get(
                |State(s): State<AppState>,
                 h: HeaderMap,
                 UrlPath(plugin): UrlPath<String>,
                 Query(q): Query<PrefixQuery>| async move {
                    let prefix = q.prefix.unwrap_or_default();
                    api(&s, &h, Request::Kv(KvRequest::List { plugin, prefix })).await
                },
            )
            .delete(
                |State(s): State<AppState>,
                 h: HeaderMap,
                 UrlPath(plugin): UrlPath<String>,
                 Query(q): Query<PrefixQuery>| async move {
                    // Deleting a whole namespace takes an explicit `?prefix=` (empty: all).
                    let Some(prefix) = q.prefix else {
                        if !authorized(&s, &h) {
                            return unauthorized();
                        }
                        return refused(
                            StatusCode::BAD_REQUEST,
                            "say which keys: ?prefix=P (an empty prefix deletes them all)",
                        );
                    };
                    let target = KvTarget::Prefix(prefix);
                    api(&s, &h, Request::Kv(KvRequest::Delete { plugin, target })).await
                },
            ),
        )
        .route(
            "/api/kv/{plugin}/{key}",
            get(
                |State(s): State<AppState>,
                 h: HeaderMap,
                 UrlPath((plugin, key)): UrlPath<(String, String)>| async move {
                    api(&s, &h, Request::Kv(KvRequest::Get { plugin, key })).await
                },
            )
            .delete(
                |State(s): State<AppState>,
                 h: HeaderMap,
                 UrlPath((plugin, key)): UrlPath<(String, String)>| async move {
                    let target = KvTarget::Key(key);
                    api(&s, &h, Request::Kv(KvRequest::Delete { plugin, target })).await
                },
            ),
        )
        .route(
            "/api/access/{which}",
            post(
                |State(s): State<AppState>,
                 h: HeaderMap,
                 UrlPath(which): UrlPath<String>,
                 body: Body<PatternBody>| async move {
                    use crate::access::managed::{Change, List};
                    // allow / deny add to that list; remove takes the list from the body.
                    let add = match which.as_str() {
                        "remove" => None,
                        w => match w.parse::<List>() {
                            Ok(l) => Some(l),
                            Err(_) => return refused(StatusCode::NOT_FOUND, "use /api/access/allow, /deny or /remove"),
                        },
                    };
                    with_body(&s, &h, body, |b| Request::ListIp {
                        change: add.map_or(Change::Remove(b.list), Change::Add),
                        pattern: b.pattern,
                    })
                    .await
                },
            ),
        )
        .route(
            "/metrics",
            get(|State(s): State<AppState>, h: HeaderMap| async move {
                if !s.ctx.live.load().admin.metrics_public && !authorized(&s, &h) {
                    return unauthorized();
                }
                (
                    [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                    ops::metrics(&s.ctx).await,
                )
                    .into_response()
            }),
        )
        .route(
            "/api/logs",
            get(
                |State(s): State<AppState>, h: HeaderMap, Query(q): Query<LogQuery>| async move {
                    logs(&s, &h, q, false).await
                },
            ),
        )
        .route(
            "/api/logs/export",
            get(
                |State(s): State<AppState>, h: HeaderMap, Query(q): Query<LogQuery>| async move {
                    logs(&s, &h, q, true).await
                },
            ),
        )
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(state.clone(), token_first))
        .with_state(state)
        .layer(axum::middleware::map_response(security_headers))
}

/// A request body larger than this is refused (413): users, groups and patterns are small.
const MAX_BODY: usize = 64 * 1024;

/// The token is checked before any handler runs, so nothing of a body is read for a caller
/// without it (the page itself and a public `/metrics` excepted).
async fn token_first(
    State(s): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> HttpResponse {
    let path = req.uri().path();
    let open = path == "/" || (path == "/metrics" && s.ctx.live.load().admin.metrics_public);
    if !open && !authorized(&s, req.headers()) {
        return unauthorized();
    }
    next.run(req).await
}

/// Every response: not framable, no MIME sniffing, no referrer, not cached; the page may run
/// only its own inline script and style and talk only to this origin.
async fn security_headers(mut r: HttpResponse) -> HttpResponse {
    use axum::http::HeaderValue;
    let h = r.headers_mut();
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
    );
    r
}

#[derive(Debug, Deserialize)]
struct LogQuery {
    /// YYYY-MM-DD; default the newest day.
    day: Option<String>,
    /// Minimum level (error, warn, info, debug, trace).
    level: Option<String>,
    /// Text to search for.
    q: Option<String>,
    /// Byte offset to continue from (live tail).
    after: Option<u64>,
    /// Instead of `after`: the lines in the last this-many bytes (at most 1 MiB), for a
    /// viewer that opens at the newest lines.
    tail: Option<u64>,
}

/// The log viewer: days, a filtered chunk of one day, or the whole day as a download.
async fn logs(state: &AppState, headers: &HeaderMap, q: LogQuery, export: bool) -> HttpResponse {
    if !authorized(state, headers) {
        return unauthorized();
    }
    let Some(dir) = state.ctx.config.log_dir() else {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(serde_json::json!({"error": "no log files: set [log] dir in the config"})),
        )
            .into_response();
    };
    if export {
        return export_log(dir, q.day).await;
    }
    let result = tokio::task::spawn_blocking(move || {
        let days = super::logs::days(&dir);
        let Some(day) = q.day.or_else(|| days.first().cloned()) else {
            return Ok(serde_json::json!({"days": days, "lines": [], "next": 0}).to_string());
        };
        match super::logs::read(&dir, &day, q.level.as_deref(), q.q.as_deref(), match (q.tail, q.after) {
            (Some(bytes), None) => super::logs::Start::Tail(bytes),
            (_, after) => super::logs::Start::After(after.unwrap_or(0)),
        }) {
            Ok(chunk) => Ok(serde_json::json!({"days": days, "day": chunk.day, "lines": chunk.lines, "next": chunk.next}).to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => Err((StatusCode::BAD_REQUEST, e.to_string())),
            Err(e) => Err((StatusCode::NOT_FOUND, no_log(&day, &days, &e))),
        }
    })
    .await
    .unwrap_or_else(|e| Err((StatusCode::INTERNAL_SERVER_ERROR, e.to_string())));
    match result {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err((status, e)) => (status, axum::Json(serde_json::json!({"error": e}))).into_response(),
    }
}

/// A whole day's log as a download, streamed from the file (a day can be large; it is never
/// held in memory).
async fn export_log(dir: std::path::PathBuf, day: Option<String>) -> HttpResponse {
    let opened = tokio::task::spawn_blocking(move || {
        let days = super::logs::days(&dir);
        let Some(day) = day.or_else(|| days.first().cloned()) else {
            return Err((StatusCode::NOT_FOUND, "no log files yet".to_string()));
        };
        if !super::logs::valid_day(&day) {
            return Err((
                StatusCode::BAD_REQUEST,
                "day must be YYYY-MM-DD".to_string(),
            ));
        }
        std::fs::File::open(dir.join(format!("ftpsd.log.{day}")))
            .map_err(|e| (StatusCode::NOT_FOUND, no_log(&day, &days, &e)))
    })
    .await
    .unwrap_or_else(|e| Err((StatusCode::INTERNAL_SERVER_ERROR, e.to_string())));
    match opened {
        Ok(f) => {
            let stream = tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(f));
            (
                [
                    (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"ftpsd.log\"",
                    ),
                ],
                axum::body::Body::from_stream(stream),
            )
                .into_response()
        }
        Err((status, e)) => (status, axum::Json(serde_json::json!({"error": e}))).into_response(),
    }
}

/// Binds the admin listener; the caller spawns [`serve`].
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}

/// Connections the admin listener holds at once, in all and per address.
const CONNECTIONS: usize = 256;
const CONNECTIONS_PER_ADDRESS: usize = 32;
const HEAD_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);
const CONNECTION_LIFETIME: std::time::Duration = std::time::Duration::from_secs(300);

pub async fn serve(listener: tokio::net::TcpListener, router: Router) {
    let slots = crate::conn_slots::Slots::new(CONNECTIONS, CONNECTIONS_PER_ADDRESS);
    crate::conn_slots::serve(listener, slots, "admin HTTP", |sock| {
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEAD_DEADLINE)
                .serve_connection(hyper_util::rt::TokioIo::new(sock), service);
            let _ = tokio::time::timeout(CONNECTION_LIFETIME, conn).await;
        }
    })
    .await
}

/// The web admin page: plain HTML and script, no build step.
const PAGE: &str = include_str!("page.html");

/// A missing day's log in words: which days there are, not an OS error number.
fn no_log(day: &str, days: &[String], e: &std::io::Error) -> String {
    if e.kind() != std::io::ErrorKind::NotFound {
        return format!("cannot read the log of {day}: {e}");
    }
    match days.first() {
        Some(newest) => format!(
            "no log for {day}; logs exist for {} days, the newest {newest}",
            days.len()
        ),
        None => format!("no log for {day}; there are no log files yet"),
    }
}
