//! The kiosk's wall clock. A Raspberry Pi has no real-time clock and can boot with a time
//! days off; sync measures that against HQ's clock and corrects event times on the way
//! out. `COUNTERTOP_CLOCK_SKEW_SECS` shifts this clock on purpose, so the fault tests can
//! run a kiosk whose clock is wrong.

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
