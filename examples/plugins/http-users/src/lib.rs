//! Example `authenticate` plugin: users from an HTTP user directory. For a login the server
//! asks about (by default users its users file does not have), it POSTs
//! `{"user": ..., "password": ..., "ip": ...}` as JSON to `url` and waits for the answer:
//!
//! - `200` with an account (`{"home": "/srv/ftp/ext/carol", "rights": "rw", "quota_mb": 100,
//!   "mounts": [{"path": "/srv/ftp/ext/shared", "at": "/shared", "rights": "r"}],
//!   "groups": ["partners"]}`): the user is in, with that account — which the server still
//!   holds to the folders the operator granted (`capabilities.auth.roots`);
//! - `401` or `403`: wrong password (`530`, counted like any failed login);
//! - `404`: the directory does not know the user: no answer, the users file decides;
//! - anything else, a malformed account, or no answer in time: `421`, the directory is
//!   unavailable (the login is not counted as a wrong password).
//!
//! ```toml
//! [[plugins]]
//! name = "http-users"
//! path = "http_users.wasm"
//! timeout_ms = 100           # CPU; the wall-clock cap (20x, at least 1 s) bounds the wait
//! settings = { url = "https://directory.example.com/ftp/login", token = "..." }
//! capabilities = { http = { allowed_hosts = ["https://directory.example.com/ftp/"] }, auth = { roots = ["/srv/ftp/ext"] } }
//! ```

use ftpsd_plugin_sdk::{
    Account, AuthenticateEvent, Hook, Host, HttpRequest, Plugin, Response, export,
};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The directory's login endpoint.
    pub url: String,
    /// Sent as `Authorization: Bearer <token>` when set.
    #[serde(default)]
    pub token: Option<String>,
}

#[derive(Default)]
pub struct HttpUsers {
    settings: Option<Settings>,
}

fn unavailable(why: &str, host: &mut dyn Host) -> Response {
    host.log("warn", &format!("user directory unavailable: {why}"));
    let _ = host.count("directory_errors_total", 1);
    Response::deny(421, "The user directory is unavailable; try again later.")
}

impl HttpUsers {
    fn ask(&self, ev: &AuthenticateEvent, host: &mut dyn Host) -> Response {
        let Some(s) = &self.settings else {
            return Response::allow();
        };
        let body = serde_json::json!({"user": ev.user, "password": ev.password, "ip": ev.ip});
        let mut headers = vec![("Content-Type".to_string(), "application/json".to_string())];
        if let Some(t) = &s.token {
            headers.push(("Authorization".into(), format!("Bearer {t}")));
        }
        let req = HttpRequest {
            method: "POST".into(),
            url: s.url.clone(),
            headers,
            body: Some(body.to_string()),
            wait: true,
        };
        let answer = match host.http(&req) {
            Ok(a) => a,
            Err(e) => return unavailable(&e.to_string(), host),
        };
        match answer.status {
            200 => match serde_json::from_str::<Account>(&answer.body) {
                Ok(account) => {
                    let _ = host.count("directory_logins_total", 1);
                    Response::accept(account)
                }
                Err(e) => unavailable(&format!("malformed account: {e}"), host),
            },
            401 | 403 => Response::deny(530, "Login incorrect."),
            404 => Response::allow(),
            other => unavailable(&format!("HTTP {other}"), host),
        }
    }
}

impl Plugin for HttpUsers {
    type Settings = Settings;
    const NAME: &'static str = "http-users";
    const HOOKS: &'static [Hook] = &[Hook::Authenticate];
    const CAPABILITIES: &'static [&'static str] = &["http", "auth"];

    fn configure(&mut self, s: Settings) -> Result<(), String> {
        if !(s.url.starts_with("http://") || s.url.starts_with("https://")) {
            return Err("url: an http:// or https:// URL".into());
        }
        self.settings = Some(s);
        Ok(())
    }

    fn authenticate(&mut self, ev: &AuthenticateEvent, host: &mut dyn Host) -> Response {
        self.ask(ev, host)
    }
}

export!(HttpUsers);

#[cfg(test)]
mod tests {
    use super::*;
    use ftpsd_plugin_sdk::testing::Harness;
    use ftpsd_plugin_sdk::{HttpResponse, Request, Verdict};
    use serde_json::json;

    fn login(user: &str) -> Request {
        Request::Authenticate(AuthenticateEvent {
            ip: "192.0.2.1".into(),
            user: user.into(),
            password: "pw".into(),
            ..Default::default()
        })
    }

    fn answer(status: u16, body: &str) -> Result<HttpResponse, String> {
        Ok(HttpResponse {
            status,
            body: body.into(),
            queued: false,
        })
    }

    #[test]
    fn the_directory_decides() {
        let mut h =
            Harness::<HttpUsers>::new(json!({"url": "http://127.0.0.1:9/login", "token": "t"}));
        h.host
            .http_answers
            .push_back(answer(200, r#"{"home": "/srv/ext/carol", "rights": "rw"}"#));
        let r = h.call(login("carol"));
        assert_eq!(r.account.unwrap().home, "/srv/ext/carol");
        let sent = &h.host.http_sent[0];
        assert!(sent.wait);
        assert!(
            sent.body
                .as_deref()
                .unwrap()
                .contains("\"password\":\"pw\"")
        );
        assert!(
            sent.headers
                .contains(&("Authorization".into(), "Bearer t".into()))
        );

        h.host.http_answers.push_back(answer(401, ""));
        assert!(matches!(
            h.call(login("carol")).verdict,
            Verdict::Deny { code: 530, .. }
        ));
        h.host.http_answers.push_back(answer(404, ""));
        let r = h.call(login("nobody"));
        assert!(!r.is_deny() && r.account.is_none(), "no opinion");
        for a in [
            answer(500, ""),
            answer(200, "{not json"),
            Err("refused".into()),
        ] {
            h.host.http_answers.push_back(a);
            assert!(matches!(
                h.call(login("carol")).verdict,
                Verdict::Deny { code: 421, .. }
            ));
        }
        assert_eq!(h.host.counters["directory_errors_total"], 3);
    }

    #[test]
    fn bad_settings_name_the_key() {
        let e = Harness::<HttpUsers>::configure_error(json!({"url": "ftp://x"}));
        assert!(e.contains("url"), "{e}");
    }
}
