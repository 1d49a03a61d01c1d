//! HQ's metrics, recorded through the `metrics` facade into a Prometheus recorder
//! (`metrics-exporter-prometheus`) whose handle renders `/metrics`. Each server owns its
//! recorder (installed locally around each update, not globally), so several servers in
//! one process, as in the tests, keep separate counts.
//!
//! Names: `countertop_events_total{outcome}`, `countertop_events_rejected_total{code}`,
//! `countertop_events_flagged_total`, `countertop_http_requests_total{method,route,status}`,
//! and the histograms `countertop_push_duration_seconds` and
//! `countertop_http_request_duration_seconds`.

use std::time::Duration;

use metrics::{counter, describe_counter, describe_histogram, histogram, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

const EVENTS: &str = "countertop_events_total";
const REJECTED: &str = "countertop_events_rejected_total";
const FLAGGED: &str = "countertop_events_flagged_total";
const REQUESTS: &str = "countertop_http_requests_total";
const PUSH_SECONDS: &str = "countertop_push_duration_seconds";
const REQUEST_SECONDS: &str = "countertop_http_request_duration_seconds";

/// What one push did, for the counters.
#[derive(Debug, Default)]
pub struct PushTally<'a> {
    pub accepted: u64,
    pub duplicates: u64,
    pub flagged: u64,
    /// One code per rejected event.
    pub rejected: Vec<&'a str>,
}

/// All of HQ's metrics.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let builder = PrometheusBuilder::new();
        // The buckets are constants and valid; without them histograms render as summaries.
        let builder = match builder.set_buckets(&BUCKETS) {
            Ok(b) => b,
            Err(_) => PrometheusBuilder::new(),
        };
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        let m = Metrics { recorder, handle };
        m.record(|| {
            describe_counter!(EVENTS, "Pushed events by outcome.");
            describe_counter!(REJECTED, "Rejected events by reason code.");
            describe_counter!(FLAGGED, "Accepted events with a flag (clock ahead).");
            describe_counter!(REQUESTS, "HTTP requests by route and status.");
            describe_histogram!(
                PUSH_SECONDS,
                Unit::Seconds,
                "Time to handle one push, body to response."
            );
            describe_histogram!(
                REQUEST_SECONDS,
                Unit::Seconds,
                "Time to handle any request."
            );
            // Present from the start, at zero, so dashboards see them before any push.
            for outcome in ["accepted", "duplicate", "rejected"] {
                counter!(EVENTS, "outcome" => outcome).absolute(0);
            }
            counter!(FLAGGED).absolute(0);
        });
        m
    }

    fn record(&self, f: impl FnOnce()) {
        metrics::with_local_recorder(&self.recorder, f);
    }

    /// Count the outcomes of one push and how long it took.
    pub fn push(&self, tally: &PushTally<'_>, took: Duration) {
        self.record(|| {
            counter!(EVENTS, "outcome" => "accepted").increment(tally.accepted);
            counter!(EVENTS, "outcome" => "duplicate").increment(tally.duplicates);
            counter!(EVENTS, "outcome" => "rejected").increment(tally.rejected.len() as u64);
            counter!(FLAGGED).increment(tally.flagged);
            for code in &tally.rejected {
                counter!(REJECTED, "code" => code.to_string()).increment(1);
            }
            histogram!(PUSH_SECONDS).record(took.as_secs_f64());
        });
    }

    /// Count one HTTP request.
    pub fn request(&self, method: &str, route: &str, status: u16, took: Duration) {
        self.record(|| {
            counter!(
                REQUESTS,
                "method" => method.to_owned(),
                "route" => route.to_owned(),
                "status" => status.to_string()
            )
            .increment(1);
            histogram!(REQUEST_SECONDS).record(took.as_secs_f64());
        });
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        self.handle.render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::new();
        m.push(&PushTally::default(), Duration::from_millis(3));
        m.push(&PushTally::default(), Duration::from_millis(30));
        let text = m.render();
        assert!(
            text.contains("countertop_push_duration_seconds_bucket{le=\"0.005\"} 1"),
            "{text}"
        );
        assert!(text.contains("countertop_push_duration_seconds_bucket{le=\"0.05\"} 2"));
        assert!(text.contains("countertop_push_duration_seconds_count 2"));
    }

    #[test]
    fn rejections_are_counted_by_code_and_in_the_total() {
        let m = Metrics::new();
        let tally = PushTally {
            rejected: vec!["score_out_of_range", "score_out_of_range"],
            ..PushTally::default()
        };
        m.push(&tally, Duration::from_millis(1));
        let text = m.render();
        assert!(
            text.contains("countertop_events_rejected_total{code=\"score_out_of_range\"} 2"),
            "{text}"
        );
        assert!(text.contains("countertop_events_total{outcome=\"rejected\"} 2"));
        assert!(text.contains("countertop_events_total{outcome=\"accepted\"} 0"));
    }

    #[test]
    fn two_servers_in_one_process_keep_their_own_counts() {
        let (a, b) = (Metrics::new(), Metrics::new());
        a.request("GET", "/healthz", 200, Duration::from_millis(1));
        assert!(a.render().contains(
            "countertop_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1"
        ));
        assert!(!b.render().contains("/healthz"));
    }
}
