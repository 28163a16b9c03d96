use ftpsd_plugin_sdk::testing::Harness;
use ftpsd_plugin_sdk::{ConnectEvent, LoginEvent, Request};
use serde_json::json;

use super::*;

fn login(ip: &str, user: &str, success: bool) -> Request {
    Request::Login(LoginEvent {
        ip: ip.into(),
        user: user.into(),
        success,
        anonymous: false,
        ..Default::default()
    })
}

fn connect(ip: &str) -> Request {
    Request::Connect(ConnectEvent {
        ip: ip.into(),
        listener: "explicit".into(),
        ..Default::default()
    })
}

const MIN: u64 = 60_000;

#[test]
fn third_failure_bans_and_a_correct_password_is_refused_like_a_wrong_one() {
    let mut h = Harness::<Bfp>::new(json!({}));
    h.host.now_ms = 1_000_000;
    assert!(!h.call(login("10.0.0.9", "bob", false)).is_deny());
    assert!(!h.call(connect("10.0.0.9")).is_deny());
    assert!(!h.call(login("10.0.0.9", "bob", false)).is_deny());
    assert!(!h.call(login("10.0.0.9", "alice", false)).is_deny());
    let r = h.call(connect("10.0.0.9"));
    assert_eq!(
        r,
        Response::deny(
            421,
            "Too many failed logins from your address; try again later."
        )
    );
    assert_eq!(
        h.call(login("10.0.0.9", "bob", true)),
        Response::deny(530, LOGIN_INCORRECT)
    );
    // Others are not affected.
    assert!(!h.call(connect("10.0.0.10")).is_deny());
    // The ban record follows the convention.
    let rec: BanRecord =
        serde_json::from_str(&h.host.kv_get("ban:10.0.0.9").unwrap().unwrap()).unwrap();
    assert_eq!(
        (rec.failures, rec.strikes, rec.until_ms - rec.since_ms),
        (3, 0, 15 * MIN)
    );
    // 15 minutes later it is over.
    h.host.advance(15 * MIN);
    assert!(!h.call(connect("10.0.0.9")).is_deny());
    assert!(!h.call(login("10.0.0.9", "bob", true)).is_deny());
}

#[test]
fn failures_outside_the_window_do_not_add_up_and_success_resets() {
    let mut h = Harness::<Bfp>::new(json!({"window_secs": 60}));
    h.call(login("1.2.3.4", "u", false));
    h.call(login("1.2.3.4", "u", false));
    h.host.advance(61_000);
    h.call(login("1.2.3.4", "u", false));
    assert!(!h.call(connect("1.2.3.4")).is_deny());
    h.call(login("1.2.3.4", "u", false));
    h.call(login("1.2.3.4", "u", true));
    h.call(login("1.2.3.4", "u", false));
    assert!(
        !h.call(connect("1.2.3.4")).is_deny(),
        "a success starts over"
    );
    h.call(login("1.2.3.4", "u", false));
    h.call(login("1.2.3.4", "u", false));
    assert!(h.call(connect("1.2.3.4")).is_deny());
}

#[test]
fn repeat_offenders_are_banned_longer_up_to_the_cap() {
    let mut h = Harness::<Bfp>::new(
        json!({"max_failures": 1, "ban_secs": 60, "escalation": 3.0, "max_ban_secs": 500}),
    );
    let ban_len = |h: &mut Harness<Bfp>| {
        h.call(login("5.5.5.5", "u", false));
        let rec: BanRecord =
            serde_json::from_str(&h.host.kv_get("ban:5.5.5.5").unwrap().unwrap()).unwrap();
        h.host.advance(rec.until_ms - rec.since_ms);
        (rec.until_ms - rec.since_ms) / 1000
    };
    assert_eq!(ban_len(&mut h), 60);
    assert_eq!(ban_len(&mut h), 180);
    assert_eq!(ban_len(&mut h), 500);
}

#[test]
fn safe_list_and_anonymous_are_never_banned() {
    let mut h = Harness::<Bfp>::new(json!({"max_failures": 1, "safe_list": ["10.0.0.0/8", "::1"]}));
    h.call(login("10.1.2.3", "u", false));
    h.call(login("::1", "u", false));
    assert!(!h.call(connect("10.1.2.3")).is_deny());
    assert!(!h.call(connect("::1")).is_deny());
    assert!(!h.call(login("10.1.2.3", "u", true)).is_deny());
    h.call(Request::Login(LoginEvent {
        ip: "9.9.9.9".into(),
        user: "anonymous".into(),
        success: false,
        anonymous: true,
        ..Default::default()
    }));
    assert!(!h.call(connect("9.9.9.9")).is_deny());
}

#[test]
fn ip_and_user_keying_bans_only_that_pair_and_not_at_connect() {
    let mut h = Harness::<Bfp>::new(json!({"max_failures": 2, "key_by": "ip+user"}));
    h.call(login("7.7.7.7", "Bob", false));
    h.call(login("7.7.7.7", "bob", false));
    assert!(!h.call(connect("7.7.7.7")).is_deny());
    assert!(h.call(login("7.7.7.7", "bob", true)).is_deny());
    assert!(!h.call(login("7.7.7.7", "alice", true)).is_deny());
    assert!(h.host.kv_get("ban:7.7.7.7|bob").unwrap().is_some());
}

#[test]
fn bad_settings_name_the_key() {
    assert!(
        Harness::<Bfp>::configure_error(json!({"safe_list": ["10.0.0.0/40"]}))
            .starts_with("safe_list:")
    );
    assert!(
        Harness::<Bfp>::configure_error(json!({"max_failures": 0})).starts_with("max_failures")
    );
    assert!(
        Harness::<Bfp>::configure_error(json!({"key_by": "user"}))
            .starts_with("key_by: unknown variant")
    );
    assert!(Harness::<Bfp>::configure_error(json!({"max_fails": 3})).contains("max_fails"));
}

#[test]
fn cidr_matching() {
    let c: Cidr = "192.168.0.0/16".parse().unwrap();
    assert!(c.contains("192.168.200.1".parse().unwrap()));
    assert!(!c.contains("192.169.0.1".parse().unwrap()));
    assert!(c.contains("::ffff:192.168.1.1".parse().unwrap()));
    let any: Cidr = "0.0.0.0/0".parse().unwrap();
    assert!(any.contains("8.8.8.8".parse().unwrap()));
    assert!("nope".parse::<Cidr>().is_err());
}

#[test]
fn failures_of_one_burst_make_one_ban() {
    // Failures that all passed the ban check before any of them banned (a concurrent burst)
    // reach the threshold together: exactly one ban, one strike.
    let mut h = Harness::<Bfp>::new(json!({"max_failures": 3}));
    h.host.now_ms = 1_000_000;
    let bfp = Bfp {
        settings: Settings::default(),
        safe: Vec::new(),
    };
    for _ in 0..6 {
        bfp.record_failure("10.1.1.1", "bob", "10.1.1.1", &mut h.host)
            .unwrap();
    }
    let rec: BanRecord =
        serde_json::from_str(&h.host.kv_get("ban:10.1.1.1").unwrap().unwrap()).unwrap();
    assert_eq!((rec.strikes, rec.until_ms - rec.since_ms), (0, 15 * MIN));
    assert_eq!(
        h.host.kv_get("strikes:10.1.1.1").unwrap().as_deref(),
        Some("1")
    );
}

#[test]
fn ip_user_mode_bans_the_whole_address_after_failures_over_many_names() {
    let mut h = Harness::<Bfp>::new(json!({ "key_by": "ip+user", "max_failures": 3 }));
    h.host.now_ms = 1_000_000;
    // 29 failures over 29 names: no name reaches 3, the address not yet 30.
    for i in 0..29 {
        assert!(!h.call(login("10.0.0.7", &format!("u{i}"), false)).is_deny());
    }
    assert!(!h.call(connect("10.0.0.7")).is_deny());
    // A correct password of another name does not reset the address's count.
    assert!(!h.call(login("10.0.0.7", "carol", true)).is_deny());
    assert!(!h.call(login("10.0.0.7", "u29", false)).is_deny());
    assert!(
        h.call(connect("10.0.0.7")).is_deny(),
        "the address is banned"
    );
    assert_eq!(
        h.call(login("10.0.0.7", "carol", true)),
        Response::deny(530, LOGIN_INCORRECT),
        "for every name"
    );
    let rec: BanRecord =
        serde_json::from_str(&h.host.kv_get("ban:10.0.0.7").unwrap().unwrap()).unwrap();
    assert_eq!((rec.user, rec.failures), (None, 30));
    assert!(!h.call(connect("10.0.0.8")).is_deny(), "others are not");
}

#[test]
fn ip_user_mode_per_ip_limit_is_configurable_and_zero_is_refused() {
    let mut h = Harness::<Bfp>::new(json!({ "key_by": "ip+user", "max_failures_per_ip": 2 }));
    assert!(!h.call(login("10.0.0.5", "a", false)).is_deny());
    assert!(!h.call(login("10.0.0.5", "b", false)).is_deny());
    assert!(h.call(connect("10.0.0.5")).is_deny());
    let mut bad = Bfp::default();
    let settings: Settings = serde_json::from_value(json!({ "max_failures_per_ip": 0 })).unwrap();
    assert!(bad.configure(settings).is_err());
}

#[test]
fn a_store_that_cannot_answer_refuses_instead_of_letting_a_banned_address_in() {
    let mut h = Harness::<Bfp>::new(json!({}));
    h.host.fail_store = Some("store unavailable".into());
    assert!(h.call(connect("10.9.9.9")).is_deny());
    assert!(h.call(login("10.9.9.9", "bob", true)).is_deny());
    assert!(h.call(login("10.9.9.9", "bob", false)).is_deny());
}
