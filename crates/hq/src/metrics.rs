//! Counters and latency histograms for `/metrics`, in the Prometheus text format. Kept
//! in-process and dependency-free: a few atomics and one small mutex-guarded map.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// A cumulative latency histogram.
#[derive(Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, bound) in BUCKETS.iter().enumerate() {
            let n = self.buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {n}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let braces = |s: &str| {
            if s.is_empty() {
                String::new()
            } else {
                format!("{{{s}}}")
            }
        };
        let _ = writeln!(out, "{name}_sum{} {sum}", braces(labels));
        let _ = writeln!(out, "{name}_count{} {count}", braces(labels));
    }
}

/// All of HQ's metrics.
#[derive(Default)]
pub struct Metrics {
    pub events_accepted: AtomicU64,
    pub events_duplicate: AtomicU64,
    pub events_flagged: AtomicU64,
    rejected: Mutex<BTreeMap<String, u64>>,
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    pub push_latency: Histogram,
    pub request_latency: Histogram,
    pub push_batch_size: AtomicU64,
}

impl Metrics {
    pub fn reject(&self, code: &str) {
        if let Ok(mut m) = self.rejected.lock() {
            *m.entry(code.to_owned()).or_default() += 1;
        }
    }

    pub fn request(&self, method: &str, route: &str, status: u16, took: Duration) {
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((method.to_owned(), route.to_owned(), status))
                .or_default() += 1;
        }
        self.request_latency.observe(took);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let c = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "# HELP countertop_events_total Pushed events by outcome.\n\
             # TYPE countertop_events_total counter\n\
             countertop_events_total{{outcome=\"accepted\"}} {}\n\
             countertop_events_total{{outcome=\"duplicate\"}} {}",
            c(&self.events_accepted),
            c(&self.events_duplicate)
        );
        if let Ok(m) = self.rejected.lock() {
            let total: u64 = m.values().sum();
            let _ = writeln!(
                out,
                "countertop_events_total{{outcome=\"rejected\"}} {total}"
            );
            let _ = writeln!(
                out,
                "# HELP countertop_events_rejected_total Rejected events by reason code.\n\
                 # TYPE countertop_events_rejected_total counter"
            );
            for (code, n) in m.iter() {
                let _ = writeln!(
                    out,
                    "countertop_events_rejected_total{{code=\"{code}\"}} {n}"
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP countertop_events_flagged_total Accepted events with a flag (clock ahead).\n\
             # TYPE countertop_events_flagged_total counter\n\
             countertop_events_flagged_total {}",
            c(&self.events_flagged)
        );
        let _ = writeln!(
            out,
            "# HELP countertop_http_requests_total HTTP requests by route and status.\n\
             # TYPE countertop_http_requests_total counter"
        );
        if let Ok(m) = self.requests.lock() {
            for ((method, route, status), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "countertop_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP countertop_push_duration_seconds Time to handle one push, body to response.\n\
             # TYPE countertop_push_duration_seconds histogram"
        );
        self.push_latency
            .render(&mut out, "countertop_push_duration_seconds", "");
        let _ = writeln!(
            out,
            "# HELP countertop_http_request_duration_seconds Time to handle any request.\n\
             # TYPE countertop_http_request_duration_seconds histogram"
        );
        self.request_latency
            .render(&mut out, "countertop_http_request_duration_seconds", "");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.push_latency.observe(Duration::from_millis(3));
        m.push_latency.observe(Duration::from_millis(30));
        let text = m.render();
        assert!(text.contains("countertop_push_duration_seconds_bucket{le=\"0.005\"} 1"));
        assert!(text.contains("countertop_push_duration_seconds_bucket{le=\"0.05\"} 2"));
        assert!(text.contains("countertop_push_duration_seconds_count 2"));
    }

    #[test]
    fn rejections_are_counted_by_code() {
        let m = Metrics::default();
        m.reject("score_out_of_range");
        m.reject("score_out_of_range");
        assert!(m
            .render()
            .contains("countertop_events_rejected_total{code=\"score_out_of_range\"} 2"));
    }
}
