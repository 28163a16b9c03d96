//! block-ext (blocked file types), the real .wasm in the real server: STOR, APPE, STOU and RNTO
//! into a blocked name are refused with 553 naming the rule, nothing reaches the disk, and the
//! file-blocked notification reaches another plugin with user, IP, path and rule.

use ftpsd_e2e::{Storage, TestServer, built_plugin, on_both_storages, until};
use ftpsd_plugin_sdk::FileBlockedEvent;

fn kv(srv: &TestServer, plugin: &str, key: &str) -> Option<String> {
    srv.server
        .ctx
        .plugins
        .kv
        .get(&format!("plugin.{plugin}"), key, ftpsd::state::now_ms())
        .unwrap()
}

on_both_storages!(blocked_types_are_refused_every_way_in_and_never_reach_the_disk);

async fn blocked_types_are_refused_every_way_in_and_never_reach_the_disk(storage: Storage) {
    let srv = TestServer::builder()
        .storage(storage)
        .user("bob", "bob-pass", ftpsd::fs::Rights::All)
        .plugin(
            "block-ext",
            built_plugin("block_ext.wasm"),
            "settings = { patterns = [\"*.mp3\"], users = { bob = [\"*.iso\"] } }",
        )
        .plugin("blocked-alert", built_plugin("blocked_alert.wasm"), "")
        .start()
        .await;
    let mut c = srv.alice().await;
    let rule = "(rule '*.mp3', global).";
    for (line, name) in [
        ("STOR song.mp3", "song.mp3"),
        ("APPE Loud.MP3", "Loud.MP3"),
        ("STOU tune.mp3", "tune.mp3"),
    ] {
        let r = c.upload(line, b"ID3 not welcome").await;
        assert_eq!(r.code, 553, "{line}: {r:?}");
        assert_eq!(
            r.text,
            format!("'{name}' is a blocked file type here {rule}")
        );
    }
    c.stor("notes.txt", b"fine").await;
    c.cmd_ok("RNFR notes.txt", 350).await;
    let r = c.cmd_ok("RNTO notes.mp3", 553).await;
    assert!(r.text.contains("'*.mp3'"), "{r:?}");
    // Nothing with .mp3 on disk, no temporary files either; the renamed file kept its name.
    assert_eq!(srv.names("alice", ""), ["notes.txt"]);
    // file-blocked reached the alert plugin (notifications are asynchronous).
    until("four refusals announced", || {
        kv(&srv, "blocked-alert", "count").as_deref() == Some("4")
    })
    .await;
    // The session goes on; other types and other users' rules are unaffected.
    c.stor("image.iso", b"alice may").await;
    let mut b = srv.login_as("bob", "bob-pass").await;
    assert_eq!(b.upload("STOR image.iso", b"bob may not").await.code, 553);

    until("five refusals announced", || {
        kv(&srv, "blocked-alert", "count").as_deref() == Some("5")
    })
    .await;
    let last: FileBlockedEvent =
        serde_json::from_str(&kv(&srv, "blocked-alert", "last").unwrap()).unwrap();
    assert_eq!(
        (
            last.user.as_str(),
            last.ip.as_str(),
            last.path.as_str(),
            last.command.as_str(),
            last.by.as_str()
        ),
        ("bob", "127.0.0.1", "/image.iso", "STOR", "block-ext")
    );
    assert!(last.reason.contains("rule '*.iso', user bob"), "{last:?}");
}
