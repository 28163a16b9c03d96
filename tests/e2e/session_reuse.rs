//! `require_session_reuse` modes: what each accepts on a protected data connection.
//! - "user" (default): keys this server gave to this user at this address, from any of the
//!   user's control connections (clients with one ticket cache: rclone, FileZilla), even one
//!   that logs in just after the data connection offered its keys.
//! - "connection": only this control connection's keys.
//! - "off": any handshake (the address check still applies).

use std::sync::Arc;

use ftpsd::tls::SessionReuse;
use ftpsd_e2e::client::tls_config;
use ftpsd_e2e::{FtpClient, TestServer, bounded};

async fn server(mode: SessionReuse) -> TestServer {
    let srv = TestServer::builder()
        .user("bob", "bob-pass", ftpsd::fs::Rights::All)
        .config(move |c| c.explicit.as_mut().unwrap().require_session_reuse = mode)
        .start()
        .await;
    srv.write("alice", "f.txt", b"alice's data");
    srv
}

async fn logged_in(srv: &TestServer, cfg: Arc<rustls::ClientConfig>, user: &str) -> FtpClient {
    let mut c = FtpClient::connect_explicit_with(srv.explicit(), cfg).await;
    c.login(user, &format!("{user}-pass")).await;
    c.protect().await;
    c.cmd_ok("TYPE I", 200).await;
    c
}

/// A download's bytes and final reply, whether refused before or after the 150.
async fn fetch(c: &mut FtpClient, path: &str) -> (Vec<u8>, u16) {
    match c.download(&format!("RETR {path}")).await {
        Ok((got, r)) => (got, r.code),
        Err(r) => (Vec::new(), r.code),
    }
}

/// A control connection that has done its TLS handshake (its tickets are in `cfg`'s cache)
/// but not logged in.
async fn handshake_only(srv: &TestServer, cfg: Arc<rustls::ClientConfig>) -> FtpClient {
    let mut c = FtpClient::connect_explicit_with(srv.explicit(), cfg).await;
    c.cmd_ok("NOOP", 200).await; // reading delivers the session tickets
    c
}

#[tokio::test]
async fn user_mode_accepts_keys_from_any_of_the_users_sessions() {
    let srv = server(SessionReuse::User).await;
    let (cfg_a, cfg_b) = (tls_config(&srv.cert), tls_config(&srv.cert));
    let mut a = logged_in(&srv, cfg_a, "alice").await;
    // Another session of alice's; a's data connections use its ticket cache (one cache for
    // all connections, as Go's crypto/tls in rclone).
    let _b = logged_in(&srv, cfg_b.clone(), "alice").await;
    a.tls = cfg_b.clone();
    assert_eq!(a.retr("f.txt").await, b"alice's data");
    a.stor("up.txt", b"x").await;
    // A control connection that logs in as alice only after a's data connection offered its
    // keys: the resumption waits for that login, then counts.
    let cfg_c = tls_config(&srv.cert);
    let mut c = handshake_only(&srv, cfg_c.clone()).await;
    a.tls = cfg_c;
    let retr = tokio::spawn(async move {
        let got = a.retr("f.txt").await;
        (a, got)
    });
    c.login("alice", "alice-pass").await;
    let (mut a, got) = bounded("tentative resumption", retr).await.unwrap();
    assert_eq!(got, b"alice's data");
    // Keys of a session of bob's, at the same address, are not alice's.
    let cfg_bob = tls_config(&srv.cert);
    let _bob = logged_in(&srv, cfg_bob.clone(), "bob").await;
    a.tls = cfg_bob;
    assert_eq!(fetch(&mut a, "f.txt").await, (Vec::new(), 522));
}

#[tokio::test]
async fn connection_mode_accepts_only_the_control_connections_keys() {
    let srv = server(SessionReuse::Connection).await;
    let (cfg_a, cfg_b) = (tls_config(&srv.cert), tls_config(&srv.cert));
    let mut a = logged_in(&srv, cfg_a.clone(), "alice").await;
    let _b = logged_in(&srv, cfg_b.clone(), "alice").await;
    assert_eq!(a.retr("f.txt").await, b"alice's data");
    a.tls = cfg_b;
    // The refusal says what to change, on either side.
    let refused = match a.download("RETR f.txt").await {
        Ok((_, r)) | Err(r) => r,
    };
    assert_eq!(refused.code, 522, "{}", refused.text);
    assert!(
        refused.text.contains("session-reuse subclass")
            && refused.text.contains("require_session_reuse"),
        "{}",
        refused.text
    );
    a.tls = cfg_a;
    assert_eq!(a.retr("f.txt").await, b"alice's data");
}

#[tokio::test]
async fn full_handshakes_are_refused_unless_reuse_is_off() {
    for (mode, ok) in [
        (SessionReuse::User, false),
        (SessionReuse::Connection, false),
        (SessionReuse::Off, true),
    ] {
        let srv = server(mode).await;
        let mut c = logged_in(&srv, tls_config(&srv.cert), "alice").await;
        let mut fresh = (*tls_config(&srv.cert)).clone();
        fresh.resumption = rustls::client::Resumption::disabled();
        c.tls = Arc::new(fresh);
        let expected = if ok {
            (b"alice's data".to_vec(), 226)
        } else {
            (Vec::new(), 522)
        };
        assert_eq!(fetch(&mut c, "f.txt").await, expected, "{mode:?}");
    }
}

#[test]
fn the_mode_reads_from_true_false_and_names() {
    let parse = |v: &str| -> Result<ftpsd::config::ListenerSection, String> {
        toml::from_str(&format!(
            "listen = \"127.0.0.1:0\"\nrequire_session_reuse = {v}"
        ))
        .map_err(|e| e.to_string())
    };
    assert_eq!(
        parse("true").unwrap().require_session_reuse,
        SessionReuse::User
    );
    assert_eq!(
        parse("false").unwrap().require_session_reuse,
        SessionReuse::Off
    );
    assert_eq!(
        parse("\"connection\"").unwrap().require_session_reuse,
        SessionReuse::Connection
    );
    assert_eq!(
        parse("\"user\"").unwrap().require_session_reuse,
        SessionReuse::User
    );
    let e = parse("\"sometimes\"").unwrap_err();
    assert!(e.contains("expected \"user\""), "{e}");
}

/// 200 sessions of one user from one address at once (a batch job, or 200 processes of a
/// script): each data connection resumes its own control session, however many tickets the
/// others were given meanwhile. Each client keeps its own tickets, as separate processes do.
#[tokio::test]
async fn two_hundred_concurrent_sessions_of_one_user_at_one_address_all_resume() {
    let srv = server(SessionReuse::User).await;
    let base = tls_config(srv.cert_path());
    let mut clients = Vec::new();
    for _ in 0..200 {
        let mut cfg = (*base).clone();
        cfg.resumption = rustls::client::Resumption::in_memory_sessions(8);
        clients.push(logged_in(&srv, Arc::new(cfg), "alice").await);
    }
    for (i, c) in clients.iter_mut().enumerate() {
        assert_eq!(
            fetch(c, "f.txt").await,
            (b"alice's data".to_vec(), 226),
            "session {i}"
        );
    }
}
