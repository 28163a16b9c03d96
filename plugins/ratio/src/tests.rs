use ftpsd_plugin_sdk::testing::Harness;
use ftpsd_plugin_sdk::{Counters, RatioCheckEvent, Request};
use serde_json::json;

use super::*;

fn check(ratio: Option<&str>, c: Counters, size: u64, offset: u64) -> Request {
    Request::RatioCheck(RatioCheckEvent {
        ip: "10.0.0.1".into(),
        user: "bob".into(),
        path: "/f".into(),
        size,
        offset,
        counters: c,
        ratio: ratio.map(Into::into),
        anonymous: false,
        query: false,
        ..Default::default()
    })
}

fn c(files_up: u64, files_down: u64, bytes_up: u64, bytes_down: u64) -> Counters {
    Counters {
        files_up,
        files_down,
        bytes_up,
        bytes_down,
    }
}

#[test]
fn by_files() {
    let mut h = Harness::<RatioPlugin>::new(json!({"mode": "files"}));
    assert!(
        !h.call(check(Some("1:2"), c(1, 1, 0, 0), 1 << 30, 0))
            .is_deny()
    );
    let r = h.call(check(Some("1:2"), c(1, 2, 0, 0), 1, 0));
    assert_eq!(
        r,
        Response::deny(
            550,
            "Ratio 1:2 (files): upload 1 more file(s) first to download this file."
        )
    );
}

#[test]
fn by_bytes_with_rest_offset() {
    let mut h = Harness::<RatioPlugin>::new(json!({"mode": "bytes"}));
    // 1000 up at 1:3 = 3000 allowed; 2000 used; a 1500-byte file does not fit...
    let r = h.call(check(Some("1:3"), c(9, 0, 1000, 2000), 1500, 0));
    assert_eq!(
        r,
        Response::deny(
            550,
            "Ratio 1:3 (bytes): upload 167 bytes first to download this file."
        )
    );
    // ...but resuming it from byte 500 does.
    assert!(
        !h.call(check(Some("1:3"), c(9, 0, 1000, 2000), 1500, 500))
            .is_deny()
    );
}

#[test]
fn both_needs_both() {
    let mut h = Harness::<RatioPlugin>::new(json!({"mode": "both"}));
    assert!(
        !h.call(check(Some("1:1"), c(1, 0, 100, 0), 100, 0))
            .is_deny()
    );
    let r = h.call(check(Some("1:1"), c(1, 1, 100, 0), 100, 0));
    assert!(r.is_deny(), "files exhausted");
    let r = h.call(check(Some("1:1"), c(2, 0, 100, 0), 101, 0));
    assert!(r.is_deny(), "bytes exhausted");
    let r = h.call(check(Some("1:1"), c(0, 0, 0, 0), 2048, 0));
    match r.verdict {
        ftpsd_plugin_sdk::Verdict::Deny { message, .. } => {
            assert_eq!(
                message,
                "Ratio 1:1 (files and bytes): upload 1 more file(s) and 2.0 KiB first to download this file."
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn credit_default_anonymous_and_none() {
    let mut h = Harness::<RatioPlugin>::new(
        json!({"mode": "files", "default_ratio": "1:3", "credit_files": 2}),
    );
    assert!(!h.call(check(None, c(0, 1, 0, 0), 1, 0)).is_deny());
    assert!(h.call(check(None, c(0, 2, 0, 0), 1, 0)).is_deny());
    assert!(!h.call(check(Some("none"), c(0, 9, 0, 0), 1, 0)).is_deny());
    let mut anon = check(None, c(0, 99, 0, 0), 1, 0);
    if let Request::RatioCheck(ev) = &mut anon {
        ev.anonymous = true;
    }
    assert!(!h.call(anon).is_deny());
    assert!(
        !h.call(check(Some("1:0"), c(5, 1, 0, 0), 1, 0)).is_deny(),
        "the credit still counts"
    );
    assert_eq!(
        h.call(check(Some("1:0"), c(5, 2, 0, 0), 1, 0)),
        Response::deny(550, "Your ratio 1:0 allows no downloads.")
    );
    // A typo in the users file does not lock the user out; it is logged.
    assert!(!h.call(check(Some("1-3"), c(0, 9, 0, 0), 1, 0)).is_deny());
    assert!(
        h.host
            .logs
            .iter()
            .any(|(l, m)| l == "warn" && m.contains("1-3"))
    );
}

#[test]
fn query_shows_the_standing() {
    let mut h = Harness::<RatioPlugin>::new(json!({"mode": "both", "credit_bytes": 1024}));
    let mut q = check(Some("1:3"), c(1, 1, 1024, 2048), 0, 0);
    if let Request::RatioCheck(ev) = &mut q {
        ev.query = true;
    }
    let r = h.call(q);
    assert!(!r.is_deny());
    assert_eq!(
        r.info.as_deref(),
        Some(
            "Ratio 1:3 by files and bytes: you may download 2 more file(s) and 2.0 KiB before uploading more."
        )
    );
}

#[test]
fn bad_settings() {
    let e = Harness::<RatioPlugin>::configure_error(json!({"default_ratio": "3"}));
    assert!(e.starts_with("default_ratio:"), "{e}");
    let e = Harness::<RatioPlugin>::configure_error(json!({"mode": "money"}));
    assert!(e.starts_with("mode: unknown variant"), "{e}");
}
