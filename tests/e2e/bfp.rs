//! bfp (brute-force protection), the real .wasm in the real server: bans after the third
//! failure across reconnects, refuses a correct password like a wrong one, expires, survives a
//! restart, and `ftpsd bans list|clear` shows and lifts bans with the server running or not.

use std::process::Command;

use ftpsd_e2e::tools::{ftpsd_bin, run, text};
use ftpsd_e2e::{FtpClient, TestServer, bounded, built_plugin};

async fn server(settings: &str) -> TestServer {
    TestServer::builder()
        .plugin("bfp", built_plugin("bfp.wasm"), settings)
        .start()
        .await
}

/// One failed login on a fresh connection; returns the 530 text.
async fn fail_once(srv: &TestServer) -> String {
    let mut c = FtpClient::connect_explicit(srv.explicit(), srv.cert_path()).await;
    c.cmd_ok("USER alice", 331).await;
    c.cmd_ok("PASS wrong", 530).await.text
}

async fn banner(srv: &TestServer) -> (u16, String) {
    let (_c, first) = FtpClient::connect_raw(srv.explicit(), srv.cert_path()).await;
    (first.code, first.text)
}

async fn bans(srv: &TestServer, args: &[&str]) -> String {
    let mut cmd = Command::new(ftpsd_bin());
    cmd.arg("bans")
        .args(args)
        .arg("--config")
        .arg(srv.config_file());
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn third_failure_bans_across_reconnects_and_a_correct_password_is_no_oracle() {
    let srv = server("").await;
    // A session that got in before the ban: it will try the right password while banned.
    let mut early = FtpClient::connect_explicit(srv.explicit(), srv.cert_path()).await;
    early.cmd_ok("USER alice", 331).await;

    let wrong = fail_once(&srv).await;
    assert_eq!(banner(&srv).await.0, 220, "one failure is no ban");
    fail_once(&srv).await;
    assert_eq!(banner(&srv).await.0, 220, "two failures are no ban");
    fail_once(&srv).await;
    assert_eq!(
        banner(&srv).await,
        (
            421,
            "Too many failed logins from your address; try again later.".into()
        ),
        "the third failure bans, though every try came on a new connection"
    );
    let refused = early.cmd_ok("PASS alice-pass", 530).await;
    assert_eq!(refused.text, wrong, "same reply as a wrong password");
    let listed = bans(&srv, &["list"]).await;
    assert!(
        listed.contains("127.0.0.1") && listed.contains("bfp") && listed.contains("14m"),
        "{listed}"
    );
}

#[tokio::test]
async fn bans_expire() {
    let srv = server("settings = { max_failures = 1, ban_secs = 1 }").await;
    fail_once(&srv).await;
    assert_eq!(banner(&srv).await.0, 421);
    bounded("the ban expires", async {
        while banner(&srv).await.0 != 220 {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await;
    srv.login_as("alice", "alice-pass").await;
}

#[tokio::test]
async fn bans_survive_a_restart_and_the_operator_lifts_them_running_or_stopped() {
    let srv = server("").await;
    for _ in 0..3 {
        fail_once(&srv).await;
    }
    let srv = srv.restart().await;
    assert_eq!(banner(&srv).await.0, 421, "the ban survived the restart");

    // Running server: through its admin socket.
    assert_eq!(
        bans(&srv, &["clear", "10.9.9.9"]).await.trim(),
        "0 ban(s) lifted."
    );
    assert_eq!(banner(&srv).await.0, 421);
    assert_eq!(
        bans(&srv, &["clear", "127.0.0.1"]).await.trim(),
        "1 ban(s) lifted."
    );
    assert_eq!(banner(&srv).await.0, 220);
    assert_eq!(bans(&srv, &["list"]).await.trim(), "No active bans.");
    // The failure history went with the ban: one more failure is not a ban.
    fail_once(&srv).await;
    assert_eq!(banner(&srv).await.0, 220);

    // Stopped server: on the state store directly.
    fail_once(&srv).await;
    fail_once(&srv).await;
    let config = srv.config_file();
    let stopped = srv.stop().await;
    let listed = {
        let mut cmd = Command::new(ftpsd_bin());
        cmd.args(["bans", "list", "--config"]).arg(&config);
        run(cmd).await
    };
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains("127.0.0.1"),
        "{}",
        text(&listed)
    );
    let cleared = {
        let mut cmd = Command::new(ftpsd_bin());
        cmd.args(["bans", "clear", "--config"]).arg(&config);
        run(cmd).await
    };
    assert_eq!(
        String::from_utf8_lossy(&cleared.stdout).trim(),
        "1 ban(s) lifted.",
        "{}",
        text(&cleared)
    );
    let srv = stopped.start().await;
    assert_eq!(banner(&srv).await.0, 220);
    srv.login_as("alice", "alice-pass").await;
}

#[tokio::test]
async fn bans_cli_rejects_bad_input_clearly() {
    let srv = server("").await;
    let mut cmd = Command::new(ftpsd_bin());
    cmd.args(["bans", "clear", "not-an-ip", "--config"])
        .arg(srv.config_file());
    let out = run(cmd).await;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("'not-an-ip' is not an IP address"),
        "{}",
        text(&out)
    );
    let mut cmd = Command::new(ftpsd_bin());
    cmd.args(["bans", "list", "--config", "/nonexistent/ftpsd.toml"]);
    let out = run(cmd).await;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("/nonexistent/ftpsd.toml"),
        "{}",
        text(&out)
    );
}

#[tokio::test]
async fn ipv4_clients_of_a_dual_stack_listener_are_banned_by_their_ipv4_address() {
    // On listen = "[::]:port" an IPv4 client arrives as ::ffff:127.0.0.1; the ban must name
    // 127.0.0.1 so that `bans clear 127.0.0.1`, safe lists and CIDRs apply as written.
    let srv = TestServer::builder()
        .config(|c| c.explicit.as_mut().unwrap().listen = "[::]:0".parse().unwrap())
        .plugin("bfp", built_plugin("bfp.wasm"), "")
        .start()
        .await;
    let v4 = std::net::SocketAddr::from(([127, 0, 0, 1], srv.explicit().port()));
    for _ in 0..3 {
        let mut c = FtpClient::connect_explicit(v4, srv.cert_path()).await;
        c.cmd_ok("USER alice", 331).await;
        c.cmd_ok("PASS wrong", 530).await;
    }
    let (_c, first) = FtpClient::connect_raw(v4, srv.cert_path()).await;
    assert_eq!(first.code, 421, "{first:?}");
    let listed = bans(&srv, &["list"]).await;
    assert!(
        listed.contains("127.0.0.1") && !listed.contains("::ffff"),
        "{listed}"
    );
    bans(&srv, &["clear", "127.0.0.1"]).await;
    let (_c, first) = FtpClient::connect_raw(v4, srv.cert_path()).await;
    assert_eq!(first.code, 220, "lifted by its IPv4 address: {first:?}");
}

#[tokio::test]
async fn a_burst_of_failures_from_one_address_is_one_ban() {
    // Enough workers and queue room that all 12 checks run at once and their login hooks
    // reach the plugin together.
    let srv = TestServer::builder()
        .plugin(
            "bfp",
            built_plugin("bfp.wasm"),
            "settings = { max_failures = 3 }",
        )
        .config(|c| {
            c.login.max_concurrent_checks = 12;
            c.login.max_queued_per_ip = 12;
        })
        .start()
        .await;
    let from: std::net::IpAddr = "127.0.0.77".parse().unwrap();
    let tls = ftpsd_e2e::client::tls_config(srv.cert_path());
    let burst: Vec<_> = (0..12)
        .map(|i| {
            let (addr, tls) = (srv.explicit(), tls.clone());
            tokio::spawn(async move {
                ftpsd_e2e::client::try_login(addr, tls, Some(from), "alice", &format!("no{i}"))
                    .await
            })
        })
        .collect();
    for b in burst {
        bounded("burst", b).await.unwrap();
    }
    let kv = srv.server.ctx.plugins.kv.clone();
    let now = ftpsd::state::now_ms();
    let ban = kv
        .get("plugin.bfp", "ban:127.0.0.77", now)
        .unwrap()
        .expect("banned");
    let ban: ftpsd_plugin_sdk::bans::BanRecord = serde_json::from_str(&ban).unwrap();
    assert_eq!(
        (ban.strikes, (ban.until_ms - ban.since_ms) / 1000),
        (0, 900),
        "a first ban, not an escalated one"
    );
    assert_eq!(
        kv.get("plugin.bfp", "strikes:127.0.0.77", now)
            .unwrap()
            .as_deref(),
        Some("1"),
        "one strike for one burst"
    );
}

#[tokio::test]
async fn a_full_state_store_does_not_switch_brute_force_protection_off() {
    // An attacker spreads failures over ever new user names (`ip+user`: one counter each)
    // until bfp's state is full. From then on bfp cannot record a failure; that must not
    // mean "no failure": the call faults, the fault is the attacker's, and the attacker's
    // address ends up refused — its correct password too — while others still log in.
    let srv = TestServer::builder()
        .plugin(
            "bfp",
            built_plugin("bfp.wasm"),
            "state_quota_kb = 1\nmax_faults = 3\nsettings = { max_failures = 3, key_by = \"ip+user\" }",
        )
        .config(|c| {
            c.login.per_ip_burst = 1000;
            c.login.per_ip_per_minute = 1000;
        })
        .start()
        .await;
    let attacker: std::net::IpAddr = "127.0.0.78".parse().unwrap();
    let tls = ftpsd_e2e::client::tls_config(srv.cert_path());
    // A wrong password for a long name: each counter costs as much as bfp lets a name cost.
    let guess = |name: &str| {
        let (user, tls, addr) = (
            format!("{name}{}", "x".repeat(200)),
            tls.clone(),
            srv.explicit(),
        );
        async move { ftpsd_e2e::client::try_login(addr, tls, Some(attacker), &user, "guess").await }
    };
    let mut refused_at = None;
    for i in 0..300 {
        let code = guess(&format!("{i}")).await;
        if code != Some(530) {
            refused_at = Some((i, code));
            break;
        }
    }
    let (i, code) = refused_at.expect("the attacker is stopped once the store is full");
    assert_eq!(code, Some(421), "refused at the door after {i} failures");
    assert!(
        srv.plugin_state_bytes("bfp") <= 1024,
        "the quota held: {} bytes",
        srv.plugin_state_bytes("bfp")
    );
    // Each further guess is refused (421) and faults the plugin for this address, until the
    // address is quarantined for it: then it is refused at the door.
    let bfp = srv.server.ctx.plugins.list()[0].clone();
    for i in 0..10 {
        if !bfp.quarantined_clients().is_empty() {
            break;
        }
        assert_eq!(guess(&format!("more{i}")).await, Some(421));
    }
    assert!(!bfp.quarantined_clients().is_empty());
    let ok = ftpsd_e2e::client::try_login(
        srv.explicit(),
        tls.clone(),
        Some(attacker),
        "alice",
        "alice-pass",
    )
    .await;
    assert_eq!(ok, Some(421), "the attacker's address stays refused");
    let other: std::net::IpAddr = "127.0.0.79".parse().unwrap();
    let ok =
        ftpsd_e2e::client::try_login(srv.explicit(), tls, Some(other), "alice", "alice-pass").await;
    assert_eq!(ok, Some(230), "everyone else keeps logging in");
}

#[tokio::test]
async fn a_banned_correct_password_costs_what_a_wrong_one_costs() {
    // A correct password is answered from the cache of recent checks (no argon2, no throttle
    // token). Refused by a ban, it must cost what a wrong guess costs — else the banned
    // attacker tells the right guess by its speed, or by it being the one guess not
    // throttled. Here the address has 6 checks; once they are spent, right and wrong guesses
    // alike are turned away unchecked (421).
    let srv = TestServer::builder()
        .plugin(
            "bfp",
            built_plugin("bfp.wasm"),
            "settings = { max_failures = 3, key_by = \"ip+user\" }",
        )
        .config(|c| {
            c.login.per_ip_burst = 6;
            c.login.per_ip_per_minute = 1;
        })
        .start()
        .await;
    let from: std::net::IpAddr = "127.0.0.80".parse().unwrap();
    let tls = ftpsd_e2e::client::tls_config(srv.cert_path());
    let login = |pass: &'static str| {
        let (addr, tls) = (srv.explicit(), tls.clone());
        async move { ftpsd_e2e::client::try_login(addr, tls, Some(from), "alice", pass).await }
    };
    assert_eq!(login("alice-pass").await, Some(230), "check 1; now cached");
    for _ in 0..3 {
        assert_eq!(login("wrong").await, Some(530), "checks 2-4");
    }
    // Banned (per address and user, so the connection gets to PASS): right and wrong
    // guesses get the same reply and each spends a check.
    assert_eq!(
        login("alice-pass").await,
        Some(530),
        "check 5: refused by the ban"
    );
    assert_eq!(login("wrong").await, Some(530), "check 6");
    assert_eq!(
        login("alice-pass").await,
        Some(421),
        "no checks left: as a wrong guess"
    );
    assert_eq!(login("wrong").await, Some(421));
}

#[tokio::test]
async fn per_user_keying_still_bans_an_address_that_guesses_many_names() {
    let srv = server("settings = { key_by = \"ip+user\", max_failures_per_ip = 5 }").await;
    let from: std::net::IpAddr = "127.0.0.81".parse().unwrap();
    let tls = ftpsd_e2e::client::tls_config(srv.cert_path());
    for i in 0..5 {
        let code = ftpsd_e2e::client::try_login(
            srv.explicit(),
            tls.clone(),
            Some(from),
            &format!("name{i}"),
            "guess",
        )
        .await;
        assert_eq!(code, Some(530), "failure {i}");
    }
    let code = ftpsd_e2e::client::try_login(
        srv.explicit(),
        tls.clone(),
        Some(from),
        "alice",
        "alice-pass",
    )
    .await;
    assert_eq!(code, Some(421), "the address is refused at the door");
    let other: std::net::IpAddr = "127.0.0.82".parse().unwrap();
    let code =
        ftpsd_e2e::client::try_login(srv.explicit(), tls, Some(other), "alice", "alice-pass").await;
    assert_eq!(code, Some(230));
}
