//! Server counters for the Prometheus endpoint: plain atomics, updated where things happen
//! (session replies, logins, transfers, plugin calls), rendered as the text exposition format.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the hook latency histogram.
const HOOK_BUCKETS: [f64; 10] = [
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.005, 0.025, 0.1,
];

#[derive(Default)]
pub struct Metrics {
    pub sessions_total: AtomicU64,
    pub logins_ok: AtomicU64,
    pub logins_failed: AtomicU64,
    /// Logins refused before any password check (rate limit, check queue full).
    pub logins_unchecked: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub transfers_ok: AtomicU64,
    pub transfers_failed: AtomicU64,
    /// Replies by class: index 1..=5 for 1xx..5xx.
    replies: [AtomicU64; 6],
    pub hook_calls: AtomicU64,
    hook_buckets: [AtomicU64; HOOK_BUCKETS.len()],
    hook_sum_ns: AtomicU64,
}

fn inc(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl Metrics {
    pub fn reply(&self, code: crate::protocol::Code) {
        if let Some(c) = self.replies.get(code.class() as usize) {
            inc(c);
        }
    }

    pub fn login(&self, ok: bool) {
        inc(if ok {
            &self.logins_ok
        } else {
            &self.logins_failed
        });
    }

    pub fn login_refused_unchecked(&self) {
        inc(&self.logins_unchecked);
    }

    pub fn transfer(&self, upload: bool, bytes: Option<u64>) {
        match bytes {
            Some(b) => {
                inc(&self.transfers_ok);
                let c = if upload {
                    &self.bytes_in
                } else {
                    &self.bytes_out
                };
                c.fetch_add(b, Ordering::Relaxed);
            }
            None => inc(&self.transfers_failed),
        }
    }

    pub fn hook(&self, took: Duration) {
        inc(&self.hook_calls);
        let secs = took.as_secs_f64();
        for (i, bound) in HOOK_BUCKETS.iter().enumerate() {
            if secs <= *bound {
                inc(&self.hook_buckets[i]);
            }
        }
        self.hook_sum_ns
            .fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
    }

    /// The exposition text; `gauges` are values read at scrape time (current sessions, bans,
    /// per-plugin faults).
    pub fn render(
        &self,
        current_sessions: usize,
        active_bans: usize,
        plugins: &[(String, u64, u64, bool)],
        cert_not_after: Option<i64>,
    ) -> String {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, lines: Vec<(String, String)>| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in lines {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        let one = |v: u64| vec![(String::new(), v.to_string())];
        metric(
            "ftpsd_sessions",
            "gauge",
            "Control connections open now.",
            one(current_sessions as u64),
        );
        if let Some(t) = cert_not_after {
            metric(
                "ftpsd_certificate_expiry_seconds",
                "gauge",
                "When the certificate in force expires (Unix time).",
                vec![(String::new(), t.to_string())],
            );
        }
        metric(
            "ftpsd_sessions_total",
            "counter",
            "Control connections accepted.",
            one(g(&self.sessions_total)),
        );
        metric(
            "ftpsd_logins_total",
            "counter",
            "Login attempts by result.",
            vec![
                ("{result=\"ok\"}".into(), g(&self.logins_ok).to_string()),
                (
                    "{result=\"failed\"}".into(),
                    g(&self.logins_failed).to_string(),
                ),
                (
                    "{result=\"unchecked\"}".into(),
                    g(&self.logins_unchecked).to_string(),
                ),
            ],
        );
        metric(
            "ftpsd_bytes_received_total",
            "counter",
            "Bytes of completed uploads.",
            one(g(&self.bytes_in)),
        );
        metric(
            "ftpsd_bytes_sent_total",
            "counter",
            "Bytes of completed downloads and listings.",
            one(g(&self.bytes_out)),
        );
        metric(
            "ftpsd_transfers_total",
            "counter",
            "Data transfers by result.",
            vec![
                ("{result=\"ok\"}".into(), g(&self.transfers_ok).to_string()),
                (
                    "{result=\"failed\"}".into(),
                    g(&self.transfers_failed).to_string(),
                ),
            ],
        );
        metric(
            "ftpsd_replies_total",
            "counter",
            "Control replies by code class.",
            (1..=5)
                .map(|c| {
                    (
                        format!("{{class=\"{c}xx\"}}"),
                        g(&self.replies[c]).to_string(),
                    )
                })
                .collect(),
        );
        let mut hist: Vec<(String, String)> = HOOK_BUCKETS
            .iter()
            .zip(&self.hook_buckets)
            .map(|(b, c)| (format!("_bucket{{le=\"{b}\"}}"), g(c).to_string()))
            .collect();
        hist.push((
            "_bucket{le=\"+Inf\"}".into(),
            g(&self.hook_calls).to_string(),
        ));
        hist.push((
            "_sum".into(),
            format!("{:.9}", g(&self.hook_sum_ns) as f64 / 1e9),
        ));
        hist.push(("_count".into(), g(&self.hook_calls).to_string()));
        metric(
            "ftpsd_hook_duration_seconds",
            "histogram",
            "Plugin hook calls as the session waits for them.",
            hist,
        );
        metric(
            "ftpsd_plugin_calls_total",
            "counter",
            "Calls per plugin.",
            plugins
                .iter()
                .map(|(n, calls, _, _)| (format!("{{plugin=\"{n}\"}}"), calls.to_string()))
                .collect(),
        );
        metric(
            "ftpsd_plugin_faults_total",
            "counter",
            "Faults (trap, timeout, bad reply) per plugin.",
            plugins
                .iter()
                .map(|(n, _, faults, _)| (format!("{{plugin=\"{n}\"}}"), faults.to_string()))
                .collect(),
        );
        metric(
            "ftpsd_plugin_quarantined",
            "gauge",
            "1 if the plugin is quarantined.",
            plugins
                .iter()
                .map(|(n, _, _, q)| (format!("{{plugin=\"{n}\"}}"), u64::from(*q).to_string()))
                .collect(),
        );
        metric(
            "ftpsd_bans_active",
            "gauge",
            "Active bans of all plugins.",
            one(active_bans as u64),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Code;

    #[test]
    fn renders_counters_and_a_cumulative_histogram() {
        let m = Metrics::default();
        m.reply(Code::TRANSFER_COMPLETE);
        m.reply(Code::NOT_LOGGED_IN);
        m.login(false);
        m.transfer(true, Some(10));
        m.transfer(false, None);
        m.hook(Duration::from_micros(30));
        let text = m.render(2, 1, &[("bfp".into(), 5, 1, false)], Some(1_900_000_000));
        for line in [
            "ftpsd_sessions 2",
            "ftpsd_replies_total{class=\"2xx\"} 1",
            "ftpsd_replies_total{class=\"5xx\"} 1",
            "ftpsd_logins_total{result=\"failed\"} 1",
            "ftpsd_bytes_received_total 10",
            "ftpsd_transfers_total{result=\"failed\"} 1",
            "ftpsd_hook_duration_seconds_bucket{le=\"0.000025\"} 0",
            "ftpsd_hook_duration_seconds_bucket{le=\"0.00005\"} 1",
            "ftpsd_hook_duration_seconds_bucket{le=\"+Inf\"} 1",
            "ftpsd_plugin_faults_total{plugin=\"bfp\"} 1",
            "ftpsd_bans_active 1",
            "ftpsd_certificate_expiry_seconds 1900000000",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
    }
}
