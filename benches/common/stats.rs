//! What the benchmarks share: their settings from the environment, percentiles, and one
//! printed line per measure.

use std::time::Duration;

/// The `p` quantile (0..=1) of already sorted samples, by nearest rank.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

/// Prints `name: n=… p50=… p99=… max=…` in milliseconds.
pub fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name}: n={} p50={:.3} ms p99={:.3} ms max={:.3} ms",
        samples.len(),
        ms(percentile(&samples, 0.50)),
        ms(percentile(&samples, 0.99)),
        ms(samples.last().copied().unwrap_or_default()),
    );
}

/// A numeric setting from the environment variable `name`, or `default` when it is unset
/// or not a number.
pub fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Where a benchmark makes its temp dir: `BENCH_DIR`, or the current directory.
pub fn bench_dir() -> String {
    std::env::var("BENCH_DIR").unwrap_or_else(|_| ".".into())
}

/// The process's peak resident memory so far (`VmHWM`), in megabytes; 0 where unknown.
#[allow(dead_code)] // only the regulars bench reports it
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}
