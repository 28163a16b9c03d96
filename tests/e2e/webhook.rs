//! The bundled webhook plugin and the `http` capability end to end: a real HTTP server on
//! loopback (tests/web/hook_sink.py) receives login, upload-complete, upload-failed and
//! file-blocked events as signed JSON; a 500 is retried with the same body; a burst of uploads
//! arrives whole while the server runs.

use std::process::{Child, Command};

use ftpsd_e2e::{TestServer, bounded, built_plugin, until};

const SECRET: &str = "0123456789abcdef-webhook";

struct Sink {
    child: Child,
    port: u16,
    log: std::path::PathBuf,
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sink {
    async fn start(dir: &std::path::Path, fail_first: u32) -> Sink {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web/hook_sink.py");
        let port_file = dir.join("sink.port");
        let log = dir.join("sink.jsonl");
        let child = Command::new("python3")
            .arg(script)
            .arg(&port_file)
            .arg(&log)
            .arg(fail_first.to_string())
            .spawn()
            .expect("python3 runs the webhook sink");
        let mut sink = Sink {
            child,
            port: 0,
            log,
        };
        until("the sink listens", || port_file.exists()).await;
        sink.port = std::fs::read_to_string(&port_file)
            .unwrap()
            .parse()
            .unwrap();
        sink
    }

    fn received(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Bodies answered 200, as parsed JSON.
    fn delivered(&self) -> Vec<serde_json::Value> {
        self.received()
            .into_iter()
            .filter(|r| r["status"] == 200)
            .map(|r| {
                let body = r["body"].as_str().unwrap();
                let sig = r["headers"]["x-ftpsd-signature"].as_str().unwrap();
                assert_eq!(
                    sig,
                    format!("sha256={}", hmac_sha256(SECRET.as_bytes(), body.as_bytes()))
                );
                assert_eq!(r["headers"]["content-type"], "application/json");
                serde_json::from_str(body).unwrap()
            })
            .collect()
    }
}

/// RFC 2104 over SHA-256, written out so the receiver side shares no code with the plugin.
fn hmac_sha256(key: &[u8], msg: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut k = [0u8; 64];
    k[..key.len()].copy_from_slice(key);
    let pad = |b: u8| k.iter().map(|x| x ^ b).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(msg)
        .finalize();
    let outer = Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize();
    outer.iter().map(|b| format!("{b:02x}")).collect()
}

async fn server(sink: &Sink) -> TestServer {
    let url = format!("http://127.0.0.1:{}/ftp/events", sink.port);
    TestServer::builder()
        .plugin(
            "block-ext",
            built_plugin("block_ext.wasm"),
            "settings = { patterns = [\"*.exe\"] }",
        )
        .plugin(
            "webhook",
            built_plugin("webhook.wasm"),
            &format!(
                "on_error = \"allow\"\nsettings = {{ url = \"{url}\", secret = \"{SECRET}\" }}\ncapabilities = {{ http = {{ allowed_hosts = [\"http://127.0.0.1:{}/ftp/\"] }} }}",
                sink.port
            ),
        )
        .start()
        .await
}

#[tokio::test]
async fn the_webhook_delivers_signed_events_and_retries_after_a_500() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start(dir.path(), 1).await;
    let srv = server(&sink).await;
    let mut c = srv.alice().await;
    c.stor("report.pdf", b"%PDF").await;
    assert_eq!(c.upload("STOR setup.exe", b"MZ").await.code, 553);
    // An upload cut without TLS close_notify is not kept: upload-failed.
    let (_, mut conn) = c.open_transfer("STOR cut.bin").await.unwrap();
    conn.write_all(b"partial").await.unwrap();
    conn.flush().await.unwrap();
    conn.close_without_notify();
    let r = bounded("reply to the cut upload", c.read_reply()).await;
    assert_eq!(r.code, 426, "{r:?}");

    let wanted = ["login", "upload-complete", "file-blocked", "upload-failed"];
    until("all four events delivered", || {
        let got = sink.delivered();
        wanted.iter().all(|w| got.iter().any(|e| e["event"] == *w))
    })
    .await;
    let got = sink.delivered();
    let event = |name: &str| got.iter().find(|e| e["event"] == name).unwrap().clone();
    assert_eq!(event("login")["data"]["user"], "alice");
    assert_eq!(event("upload-complete")["data"]["path"], "/report.pdf");
    assert_eq!(
        event("upload-complete")["data"]["real_path"],
        "",
        "the server's own paths stay inside"
    );
    assert_eq!(event("file-blocked")["data"]["by"], "block-ext");
    assert_eq!(event("upload-failed")["data"]["code"], 426);
    assert!(event("login")["data"].get("password").is_none());
    // The first request got a 500 and came again, the same bytes.
    let all = sink.received();
    assert_eq!(all[0]["status"], 500);
    assert_eq!(all[1]["body"], all[0]["body"], "retried as it was");
    assert_eq!(
        all.iter().filter(|r| r["status"] == 200).count(),
        4,
        "each once"
    );
}

#[tokio::test]
async fn a_burst_of_uploads_arrives_whole() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start(dir.path(), 0).await;
    let srv = server(&sink).await;
    // Five uploads per session: the test client reads no tickets from upload connections,
    // so one session has only the few its control handshake gave.
    for round in 0..8 {
        let mut c = srv.alice().await;
        for i in 0..5 {
            c.stor(&format!("f{round}-{i}.txt"), b"x").await;
        }
    }
    until("40 upload-complete deliveries", || {
        sink.delivered()
            .iter()
            .filter(|e| e["event"] == "upload-complete")
            .count()
            == 40
    })
    .await;
    let mut paths: Vec<String> = sink
        .delivered()
        .iter()
        .filter(|e| e["event"] == "upload-complete")
        .map(|e| e["data"]["path"].as_str().unwrap().to_string())
        .collect();
    paths.sort();
    paths.dedup();
    assert_eq!(paths.len(), 40, "none lost, none twice");
}

#[tokio::test]
async fn http_outside_the_granted_prefix_is_refused_and_a_bad_grant_is_a_load_error() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start(dir.path(), 0).await;
    // The plugin's URL is not inside the grant: nothing leaves the server, logins still work.
    let srv = TestServer::builder()
        .plugin(
            "webhook",
            built_plugin("webhook.wasm"),
            &format!(
                "on_error = \"allow\"\nsettings = {{ url = \"http://127.0.0.1:{}/other\", secret = \"{SECRET}\" }}\ncapabilities = {{ http = {{ allowed_hosts = [\"http://127.0.0.1:{}/ftp/\"] }} }}",
                sink.port, sink.port
            ),
        )
        .start()
        .await;
    let mut c = srv.alice().await;
    c.stor("a.txt", b"x").await;
    c.cmd_ok("NOOP", 200).await;
    let calls = || {
        srv.server.ctx.plugins.list()[0]
            .calls
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    until("the plugin saw login and upload-complete", || calls() >= 2).await;
    assert!(sink.received().is_empty(), "{:?}", sink.received());

    let wasm = dir.path().join("w.wasm");
    std::fs::write(&wasm, built_plugin("webhook.wasm")).unwrap();
    for (grant, why) in [
        ("{ allowed_hosts = [] }", "allowed_hosts"),
        (
            "{ allowed_hosts = [\"ftp://x/\"] }",
            "only http:// and https://",
        ),
        (
            "{ allowed_hosts = [\"http://x/\"], max_response_kb = 4096 }",
            "max_response_kb",
        ),
    ] {
        let section: ftpsd::plugins::PluginSection = toml::from_str(&format!(
            "name = \"w\"\npath = \"{}\"\nsettings = {{ url = \"http://x/\", secret = \"{SECRET}\" }}\ncapabilities = {{ http = {grant} }}\n",
            wasm.display()
        ))
        .unwrap();
        let kv: ftpsd::state::SharedStore =
            std::sync::Arc::new(ftpsd::state::MemoryStore::default());
        let err = match ftpsd::plugins::PluginHost::load(&[section], dir.path(), kv, None) {
            Ok(_) => panic!("loaded with {grant}"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(why), "{grant}: {err}");
    }
}
