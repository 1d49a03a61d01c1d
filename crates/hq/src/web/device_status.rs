//! Whether a kiosk needs someone's attention, for the overview's Attention block and the
//! devices page alike: the ONE place the backlog rule lives. The offline rule is
//! [`DeviceHealth::is_offline`], beside the health it reads: a kiosk HQ has not heard from
//! for [`super::WebSettings::offline_after`] of the store's opening hours (a kiosk in a
//! closed shop is not missed). A backlog is a last health report showing a queue that is
//! not draining.

use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::storage::analytics::DeviceHealth;
use crate::storage::hours::OpeningHours;

/// A queue this deep is a backlog.
pub const BACKLOG_QUEUE: u64 = 20;
/// Or an unsent rating this old (seconds).
pub const BACKLOG_AGE_SECONDS: u64 = 15 * 60;

/// What a kiosk's health says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceStatus {
    pub offline: bool,
    pub backlog: bool,
}

impl DeviceStatus {
    pub fn needs_attention(&self) -> bool {
        self.offline || self.backlog
    }
}

/// The kiosk's status at `now`. Revoked kiosks need nobody's attention. A kiosk that
/// never pushed counts from its enrollment.
pub fn status(
    d: &DeviceHealth,
    hours: &OpeningHours,
    tz: Tz,
    now: DateTime<Utc>,
    offline_after: Duration,
) -> DeviceStatus {
    if d.revoked {
        return DeviceStatus {
            offline: false,
            backlog: false,
        };
    }
    let after = chrono::Duration::from_std(offline_after).unwrap_or(chrono::Duration::MAX);
    let offline = d.is_offline(hours, tz, now, after);
    let backlog = d.queue_depth.is_some_and(|q| q >= BACKLOG_QUEUE)
        || d.oldest_unsent_age_seconds
            .is_some_and(|a| a >= BACKLOG_AGE_SECONDS);
    DeviceStatus { offline, backlog }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn device(last_seen: Option<&str>) -> DeviceHealth {
        DeviceHealth {
            device_id: Uuid::from_u128(1),
            store_id: Uuid::from_u128(2),
            name: None,
            enrolled_at: "2026-11-01T00:00:00Z".parse().expect("time"),
            revoked: false,
            last_seen: last_seen.map(|s| s.parse().expect("time")),
            health_at: None,
            app_version: None,
            queue_depth: None,
            oldest_unsent_age_seconds: None,
            last_error: None,
            quarantined: None,
            clock_offset_seconds: None,
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("time")
    }

    const FIFTEEN: Duration = Duration::from_secs(15 * 60);

    #[test]
    fn an_always_open_store_flags_a_kiosk_silent_for_the_configured_time() {
        let h = OpeningHours::default();
        let d = device(Some("2026-12-01T10:00:00Z"));
        let tz = chrono_tz::UTC;
        assert!(!status(&d, &h, tz, at("2026-12-01T10:14:00Z"), FIFTEEN).offline);
        assert!(status(&d, &h, tz, at("2026-12-01T10:15:00Z"), FIFTEEN).offline);
    }

    #[test]
    fn silence_while_the_store_is_closed_does_not_count() {
        // Open 07:00–19:00 local every day, Ho Chi Minh City (UTC+7).
        let h = OpeningHours::parse_days(&["07:00-19:00"; 7]).expect("hours");
        let tz = chrono_tz::Asia::Ho_Chi_Minh;
        // Last heard 18:55 local (11:55Z); at 06:00 local next day (23:00Z) only 5 open
        // minutes have passed.
        let d = device(Some("2026-12-01T11:55:00Z"));
        assert!(!status(&d, &h, tz, at("2026-12-01T23:00:00Z"), FIFTEEN).offline);
        // 07:10 local: 5 + 10 open minutes.
        assert!(status(&d, &h, tz, at("2026-12-02T00:10:00Z"), FIFTEEN).offline);
        assert!(!status(&d, &h, tz, at("2026-12-02T00:09:00Z"), FIFTEEN).offline);
    }

    #[test]
    fn a_kiosk_silent_for_months_is_offline_and_revoked_ones_never_are() {
        let h = OpeningHours::parse_days(&["09:00-10:00"; 7]).expect("hours");
        let d = device(None);
        assert!(status(&d, &h, chrono_tz::UTC, at("2027-03-01T09:30:00Z"), FIFTEEN).offline);
        let mut r = device(None);
        r.revoked = true;
        r.queue_depth = Some(1000);
        assert!(
            !status(&r, &h, chrono_tz::UTC, at("2027-03-01T09:30:00Z"), FIFTEEN).needs_attention()
        );
    }

    #[test]
    fn a_deep_or_stale_queue_is_a_backlog() {
        let h = OpeningHours::default();
        let now = at("2026-12-01T10:01:00Z");
        let mut d = device(Some("2026-12-01T10:00:00Z"));
        assert!(!status(&d, &h, chrono_tz::UTC, now, FIFTEEN).needs_attention());
        d.queue_depth = Some(BACKLOG_QUEUE - 1);
        assert!(!status(&d, &h, chrono_tz::UTC, now, FIFTEEN).backlog);
        d.queue_depth = Some(BACKLOG_QUEUE);
        assert!(status(&d, &h, chrono_tz::UTC, now, FIFTEEN).backlog);
        d.queue_depth = Some(1);
        d.oldest_unsent_age_seconds = Some(BACKLOG_AGE_SECONDS);
        assert!(status(&d, &h, chrono_tz::UTC, now, FIFTEEN).backlog);
    }
}
