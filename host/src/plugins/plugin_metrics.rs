//! Metrics a plugin defines (counters and histograms), exported on `/metrics` as
//! `ftpsd_plugin_<name>{plugin="<plugin>"}`. Bounded: 32 names per plugin, plain names only,
//! and a name keeps the kind it was first used with. They live with the loaded plugin version,
//! so a reload starts them again (Prometheus reads that as a counter reset).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Names one plugin may define.
pub const MAX_NAMES: usize = 32;
/// Upper bounds of every plugin histogram (the Prometheus client defaults).
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, Clone)]
enum Series {
    Counter(u64),
    Histogram {
        buckets: [u64; BUCKETS.len()],
        count: u64,
        sum: f64,
    },
}

#[derive(Default)]
pub struct PluginMetrics {
    series: Mutex<BTreeMap<String, Series>>,
}

fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "metric name {name:?}: 1 to 64 of a-z 0-9 _, starting with a letter"
        ))
    }
}

impl PluginMetrics {
    fn with(
        &self,
        name: &str,
        f: impl FnOnce(&mut Series) -> Result<(), String>,
        new: Series,
    ) -> Result<(), String> {
        check_name(name)?;
        let mut m = self.series.lock().unwrap_or_else(|e| e.into_inner());
        if !m.contains_key(name) && m.len() >= MAX_NAMES {
            return Err(format!("a plugin defines at most {MAX_NAMES} metrics"));
        }
        f(m.entry(name.to_string()).or_insert(new))
    }

    pub fn count(&self, name: &str, by: u64) -> Result<(), String> {
        self.with(
            name,
            |s| match s {
                Series::Counter(n) => {
                    *n = n.saturating_add(by);
                    Ok(())
                }
                _ => Err(format!("metric {name} is a histogram")),
            },
            Series::Counter(0),
        )
    }

    pub fn observe(&self, name: &str, value: f64) -> Result<(), String> {
        if !value.is_finite() {
            return Err(format!("metric {name}: {value} is not a finite number"));
        }
        self.with(
            name,
            |s| match s {
                Series::Histogram {
                    buckets,
                    count,
                    sum,
                } => {
                    for (b, bound) in buckets.iter_mut().zip(BUCKETS) {
                        if value <= bound {
                            *b += 1;
                        }
                    }
                    *count += 1;
                    *sum += value;
                    Ok(())
                }
                _ => Err(format!("metric {name} is a counter")),
            },
            Series::Histogram {
                buckets: [0; BUCKETS.len()],
                count: 0,
                sum: 0.0,
            },
        )
    }
}

/// The exposition text of every plugin's metrics. A name two plugins use with different
/// kinds is exported for the first plugin only.
pub fn render(plugins: &[(String, &PluginMetrics)]) -> String {
    let mut by_name: BTreeMap<String, Vec<(String, Series)>> = BTreeMap::new();
    for (plugin, m) in plugins {
        let m = m.series.lock().unwrap_or_else(|e| e.into_inner());
        for (name, s) in m.iter() {
            by_name
                .entry(name.clone())
                .or_default()
                .push((plugin.clone(), s.clone()));
        }
    }
    let mut out = String::new();
    for (name, series) in by_name {
        let full = format!("ftpsd_plugin_{name}");
        let counter = matches!(series[0].1, Series::Counter(_));
        let kind = if counter { "counter" } else { "histogram" };
        let _ = writeln!(
            out,
            "# HELP {full} Defined by a plugin.\n# TYPE {full} {kind}"
        );
        for (plugin, s) in series {
            match s {
                Series::Counter(n) if counter => {
                    let _ = writeln!(out, "{full}{{plugin=\"{plugin}\"}} {n}");
                }
                Series::Histogram {
                    buckets,
                    count,
                    sum,
                } if !counter => {
                    for (b, bound) in buckets.iter().zip(BUCKETS) {
                        let _ = writeln!(
                            out,
                            "{full}_bucket{{plugin=\"{plugin}\",le=\"{bound}\"}} {b}"
                        );
                    }
                    let _ = writeln!(
                        out,
                        "{full}_bucket{{plugin=\"{plugin}\",le=\"+Inf\"}} {count}"
                    );
                    let _ = writeln!(out, "{full}_sum{{plugin=\"{plugin}\"}} {sum}");
                    let _ = writeln!(out, "{full}_count{{plugin=\"{plugin}\"}} {count}");
                }
                _ => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_histograms_are_bounded_and_keep_their_kind() {
        let m = PluginMetrics::default();
        m.count("uploads", 2).unwrap();
        m.count("uploads", 1).unwrap();
        m.observe("scan_seconds", 0.2).unwrap();
        assert!(m.observe("uploads", 1.0).is_err(), "kind is kept");
        assert!(m.count("Bad-Name", 1).is_err());
        assert!(m.observe("x", f64::NAN).is_err());
        for i in 0..40 {
            let _ = m.count(&format!("n{i}"), 1);
        }
        assert_eq!(m.series.lock().unwrap().len(), MAX_NAMES);
        let other = PluginMetrics::default();
        other.observe("uploads", 1.0).unwrap();
        let text = render(&[("a".into(), &m), ("b".into(), &other)]);
        assert!(
            text.contains(
                "# TYPE ftpsd_plugin_uploads counter\nftpsd_plugin_uploads{plugin=\"a\"} 3\n"
            ),
            "{text}"
        );
        assert!(
            !text.contains("ftpsd_plugin_uploads_bucket"),
            "a clashing kind is left out: {text}"
        );
        assert!(
            text.contains("ftpsd_plugin_scan_seconds_bucket{plugin=\"a\",le=\"0.25\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("ftpsd_plugin_scan_seconds_count{plugin=\"a\"} 1"),
            "{text}"
        );
    }
}
