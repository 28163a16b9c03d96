//! Session churn with 50 concurrent clients, login latency, and memory per idle TLS session.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use ftpsd_e2e::FtpClient;

use crate::server::BenchServer;

pub struct Churn {
    pub sessions: usize,
    pub errors: usize,
    pub per_second: f64,
    pub server_cpu_ms_per_session: f64,
}

/// Each session gets its own resumption store, as separate client processes have: with a
/// shared store a data connection could resume another session's ticket, which ftpsd refuses.
fn own_store(base: &Arc<rustls::ClientConfig>) -> Arc<rustls::ClientConfig> {
    let mut cfg = (**base).clone();
    cfg.resumption = rustls::client::Resumption::in_memory_sessions(8);
    Arc::new(cfg)
}

/// One session of the churn workload (its own TLS session cache); whether it went through.
pub async fn one_session(addr: std::net::SocketAddr, tls: Arc<rustls::ClientConfig>) -> bool {
    session_with(addr, own_store(&tls)).await
}

/// Counts the TLS 1.3 tickets a client receives: what the server issued to its session.
#[derive(Debug)]
struct CountingStore {
    inner: rustls::client::ClientSessionMemoryCache,
    tickets: AtomicUsize,
}

impl rustls::client::ClientSessionStore for CountingStore {
    fn set_kx_hint(&self, n: rustls::pki_types::ServerName<'static>, g: rustls::NamedGroup) {
        self.inner.set_kx_hint(n, g)
    }
    fn kx_hint(&self, n: &rustls::pki_types::ServerName<'_>) -> Option<rustls::NamedGroup> {
        self.inner.kx_hint(n)
    }
    fn set_tls12_session(
        &self,
        n: rustls::pki_types::ServerName<'static>,
        v: rustls::client::Tls12ClientSessionValue,
    ) {
        self.inner.set_tls12_session(n, v)
    }
    fn tls12_session(
        &self,
        n: &rustls::pki_types::ServerName<'_>,
    ) -> Option<rustls::client::Tls12ClientSessionValue> {
        self.inner.tls12_session(n)
    }
    fn remove_tls12_session(&self, n: &rustls::pki_types::ServerName<'static>) {
        self.inner.remove_tls12_session(n)
    }
    fn insert_tls13_ticket(
        &self,
        n: rustls::pki_types::ServerName<'static>,
        v: rustls::client::Tls13ClientSessionValue,
    ) {
        self.tickets.fetch_add(1, Ordering::Relaxed);
        self.inner.insert_tls13_ticket(n, v)
    }
    fn take_tls13_ticket(
        &self,
        n: &rustls::pki_types::ServerName<'static>,
    ) -> Option<rustls::client::Tls13ClientSessionValue> {
        self.inner.take_tls13_ticket(n)
    }
}

/// Tickets the server issues in one session of the churn workload (counted by the client),
/// and what sealing one costs (rustls' ticketer, µs, median of 10,000 in this process).
pub async fn tickets_per_session(srv: &BenchServer) -> (usize, f64) {
    let store = Arc::new(CountingStore {
        inner: rustls::client::ClientSessionMemoryCache::new(64),
        tickets: AtomicUsize::new(0),
    });
    let mut cfg = (*ftpsd_e2e::client::tls_config(&srv.cert)).clone();
    cfg.resumption = rustls::client::Resumption::store(store.clone());
    assert!(
        session_with(srv.explicit, Arc::new(cfg)).await,
        "counted session"
    );
    let ticketer = rustls::crypto::aws_lc_rs::Ticketer::new().expect("ticketer");
    let plain = [7u8; 180];
    let t = Instant::now();
    for _ in 0..10_000 {
        std::hint::black_box(ticketer.encrypt(&plain));
    }
    let seal_us = t.elapsed().as_secs_f64() * 1e6 / 10_000.0;
    (store.tickets.load(Ordering::Relaxed), seal_us)
}

async fn session_with(addr: std::net::SocketAddr, tls: Arc<rustls::ClientConfig>) -> bool {
    let work = async move {
        let mut c = FtpClient::connect_explicit_with(addr, tls).await;
        c.login("bench", "bench-pass").await;
        c.protect().await;
        c.cmd_ok("TYPE I", 200).await;
        let list = c.download("LIST").await.ok()?;
        let retr = c.download("RETR small.bin").await.ok()?;
        c.cmd_ok("QUIT", 221).await;
        Some(list.1.code == 226 && retr.1.code == 226 && retr.0.len() == 64 * 1024)
    };
    // The test client panics on unexpected replies; count those as errors.
    tokio::spawn(work).await.ok().flatten().unwrap_or(false)
}

pub async fn churn(srv: &BenchServer, total: usize, concurrency: usize) -> Churn {
    std::fs::write(srv.home.join("small.bin"), ftpsd_e2e::pattern(64 * 1024, 7)).unwrap();
    let tls = ftpsd_e2e::client::tls_config(&srv.cert);
    // Warm-up: the first login pays argon2 once, later ones hit the verified-password cache.
    one_session(srv.explicit, tls.clone()).await;
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let cpu0 = srv.cpu_ms();
    let t = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (next, errors, tls, addr) = (next.clone(), errors.clone(), tls.clone(), srv.explicit);
        workers.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < total {
                if !one_session(addr, tls.clone()).await {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let elapsed = t.elapsed().as_secs_f64();
    let cpu = srv.cpu_ms() - cpu0;
    Churn {
        sessions: total,
        errors: errors.load(Ordering::Relaxed),
        per_second: total as f64 / elapsed,
        server_cpu_ms_per_session: cpu / total as f64,
    }
}

pub async fn login_latency(srv: &BenchServer, n: usize) -> (f64, f64) {
    let tls = ftpsd_e2e::client::tls_config(&srv.cert);
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let mut c = FtpClient::connect_explicit_with(srv.explicit, tls.clone()).await;
        c.login("bench", "bench-pass").await;
        samples.push(t.elapsed().as_secs_f64() * 1000.0);
        c.cmd_ok("QUIT", 221).await;
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    (samples[n / 2], samples[(n * 99 / 100).min(n - 1)])
}

pub async fn idle_rss(srv: &BenchServer, n: usize) -> f64 {
    let tls = ftpsd_e2e::client::tls_config(&srv.cert);
    // Let allocator caches settle with one logged-in session first: the first login's
    // password check (argon2, ~19 MiB that its thread keeps) is not a cost per session.
    let mut warm = FtpClient::connect_explicit_with(srv.explicit, tls.clone()).await;
    warm.login("bench", "bench-pass").await;
    drop(warm);
    let before = srv.rss_kib();
    let mut clients = Vec::with_capacity(n);
    for _ in 0..n {
        let mut c = FtpClient::connect_explicit_with(srv.explicit, tls.clone()).await;
        c.login("bench", "bench-pass").await;
        clients.push(c);
    }
    let after = srv.rss_kib();
    drop(clients);
    // The server gives free heap back once the crowd has gone (sampled every 5 s).
    let ended = std::time::Instant::now();
    let mut left = srv.rss_kib();
    while left - before > (after - before) / 4.0 && ended.elapsed().as_secs() < 20 {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        left = srv.rss_kib();
    }
    println!(
        "  RSS after they ended          {:>8.1} MB above before ({:.1} MB at the peak; {:.0} s later)",
        (left - before) / 1024.0,
        (after - before) / 1024.0,
        ended.elapsed().as_secs_f64()
    );
    (after - before) / n as f64
}
