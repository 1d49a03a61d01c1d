//! The kiosk's wall clock. A Raspberry Pi has no real-time clock and can boot with a time
//! days off; sync measures that against HQ's clock and corrects event times on the way
//! out. `COUNTERTOP_CLOCK_SKEW_SECS` shifts this clock on purpose, so the fault tests can
//! run a kiosk whose clock is wrong.
//!
//! Beside the wall clock, a monotonic one ([`tick`]) for gaps between events on this
//! kiosk, which tests can mock.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, Utc};

fn skew() -> chrono::Duration {
    std::env::var("COUNTERTOP_CLOCK_SKEW_SECS")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .map(chrono::Duration::seconds)
        .unwrap_or_default()
}

/// The device's local time now, with its UTC offset.
pub fn local_now() -> DateTime<FixedOffset> {
    chrono::Local::now().fixed_offset() + skew()
}

/// The device's clock now, in UTC.
pub fn utc_now() -> DateTime<Utc> {
    Utc::now() + skew()
}

/// A point on the kiosk's monotonic clock: how long since the clock started. It measures
/// the gap between two things on this kiosk (the repeat filter's window), never jumps
/// with the wall clock, and tests drive it by hand ([`mock_monotonic`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Tick(Duration);

impl Tick {
    /// The tick `elapsed` after the clock started.
    pub fn at(elapsed: Duration) -> Tick {
        Tick(elapsed)
    }

    /// How long after `earlier` this tick is; zero if it is not after it.
    pub fn since(self, earlier: Tick) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

static MOCKED: AtomicBool = AtomicBool::new(false);
static MOCKED_MICROS: AtomicU64 = AtomicU64::new(0);

/// The monotonic clock now.
pub fn tick() -> Tick {
    if MOCKED.load(Ordering::SeqCst) {
        return Tick(Duration::from_micros(MOCKED_MICROS.load(Ordering::SeqCst)));
    }
    static START: OnceLock<Instant> = OnceLock::new();
    Tick(START.get_or_init(Instant::now).elapsed())
}

/// For tests: from now on, in this whole process, the monotonic clock moves only when
/// [`advance_mocked`] moves it (as Slint's mocked time moves only when a test says so).
pub fn mock_monotonic() {
    MOCKED.store(true, Ordering::SeqCst);
}

/// For tests: moves the mocked monotonic clock on by `by`.
pub fn advance_mocked(by: Duration) {
    let micros = u64::try_from(by.as_micros()).unwrap_or(u64::MAX);
    MOCKED_MICROS.fetch_add(micros, Ordering::SeqCst);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_measure_gaps_and_never_run_backwards() {
        let a = Tick::at(Duration::from_millis(1_500));
        let b = Tick::at(Duration::from_millis(4_000));
        assert_eq!(b.since(a), Duration::from_millis(2_500));
        assert_eq!(a.since(b), Duration::ZERO);
        let (first, second) = (tick(), tick());
        assert!(second >= first);
    }
}
