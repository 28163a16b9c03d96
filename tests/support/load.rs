//! A steady load for "nothing fails while X happens" tests and benchmarks: sessions doing
//! STOR+RETR of a small file in a loop until stopped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::task::JoinHandle;

use crate::TestServer;

pub struct RoundTripLoad {
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<Vec<bool>>>,
}

/// `sessions` logged-in clients (alice), each uploading and downloading back a 1-byte file.
pub async fn round_trips(srv: &TestServer, sessions: usize) -> RoundTripLoad {
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..sessions {
        let mut c = srv.alice().await;
        let stop = stop.clone();
        workers.push(tokio::spawn(async move {
            let mut results = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let name = format!("w{w}-{i}.txt");
                let up = c.upload(&format!("STOR {name}"), b"x").await.code;
                // Downloads keep a rustls client supplied with session tickets.
                let down = c.download(&format!("RETR {name}")).await;
                results.push(
                    matches!((up, down), (226, Ok((ref d, ref r))) if r.code == 226 && d == b"x"),
                );
                i += 1;
            }
            results
        }));
    }
    RoundTripLoad { stop, workers }
}

impl RoundTripLoad {
    /// Stops the workers; one entry per round trip, true if both directions succeeded.
    pub async fn finish(self) -> Vec<bool> {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = Vec::new();
        for w in self.workers {
            all.extend(w.await.expect("worker"));
        }
        all
    }
}

/// Deploys a new version of plugin `name` `times` times, each time waiting until the server
/// has handled it (its reload log grew). Each version is a distinct build (a custom section
/// numbers it): the server does not reload a file that holds the build already loaded.
pub async fn swap_repeatedly(
    srv: &TestServer,
    name: &str,
    times: usize,
    wasm: impl Fn() -> Vec<u8>,
) {
    let path = srv.plugin_path(name);
    let reloads = srv.server.ctx.plugin_reloads.clone();
    let start = reloads.lock().unwrap().len();
    for k in 1..=times {
        crate::deploy(&path, &numbered(wasm(), k));
        crate::until("swap", || reloads.lock().unwrap().len() >= start + k).await;
    }
}

/// `wasm` with a custom section naming version `k`: the same code, a different build.
pub fn numbered(mut wasm: Vec<u8>, k: usize) -> Vec<u8> {
    let name = b"ftpsd-test-version";
    let body = format!("{k}");
    let size = 1 + name.len() + body.len();
    assert!(size < 128, "one-byte LEB128 sizes");
    wasm.extend([0u8, size as u8, name.len() as u8]);
    wasm.extend(name);
    wasm.extend(body.as_bytes());
    wasm
}
