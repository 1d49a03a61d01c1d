//! Whether a rule's condition holds for one store now, from the facts storage gives:
//! rating conditions over the rule's window (with its minimum answers), kiosk conditions
//! from each kiosk's last push and health report (a silent kiosk is the dashboard's
//! offline rule, `DeviceHealth::is_offline`, with the alert rule's threshold). Opening hours mute every rule outside
//! them (`storage::hours` is the one rule for when a store is open).

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use super::rule::{Condition, Rule};
use crate::reports::{happy_index, unhappy_percent};
use crate::storage::alerts::WindowFacts;
use crate::storage::analytics::DeviceHealth;
use crate::storage::hours::OpeningHours;

/// Whether the store is open now, in its own time zone.
pub fn is_open(hours: &OpeningHours, tz: Tz, now: DateTime<Utc>) -> bool {
    use chrono::Datelike;
    let local = now.with_timezone(&tz);
    hours.is_open_at(local.weekday(), local.time())
}

/// What a rating condition finds: whether it holds, and what was measured.
pub fn rating_condition(rule: &Rule, facts: &WindowFacts) -> (bool, String) {
    let spec = &rule.spec;
    let n = facts.sums.count();
    let answers = format!("{n} answers in {} min", spec.window_minutes);
    if n < u64::from(spec.min_answers) || n == 0 {
        return (false, answers);
    }
    let d = facts.sums.distribution();
    match &spec.condition {
        Condition::UnhappyShareAbove { percent } => {
            let share = unhappy_percent(&facts.sums).unwrap_or(0.0);
            (share > *percent, format!("{share:.0} % unhappy, {answers}"))
        }
        Condition::HappyIndexBelow { value } => {
            let hi = happy_index(&facts.sums).unwrap_or(0.0);
            (hi < *value, format!("Happy Index {hi:.1}, {answers}"))
        }
        Condition::HappyIndexAbove { value } => {
            let hi = happy_index(&facts.sums).unwrap_or(0.0);
            (hi > *value, format!("Happy Index {hi:.1}, {answers}"))
        }
        Condition::FaceCountAbove { face, count } => {
            let got = d
                .get(usize::from(*face).wrapping_sub(1))
                .copied()
                .unwrap_or(0);
            (
                got > *count,
                format!("{got} ratings of face {face}, {answers}"),
            )
        }
        Condition::ReasonAbove { reason, count } => {
            let got = facts
                .reasons
                .iter()
                .find(|(r, _)| r == reason)
                .map_or(0, |(_, c)| *c);
            (
                got > *count,
                format!("{reason:?} picked {got} times, {answers}"),
            )
        }
        _ => (false, answers),
    }
}

/// What a kiosk condition finds over the store's kiosks (revoked ones left out). A silent
/// kiosk is the dashboard's offline kiosk with the rule's own threshold: one rule
/// ([`DeviceHealth::is_offline`]) decides "last heard" and counts only the store's opening
/// time, so a kiosk switched off overnight is not silent at opening.
pub fn kiosk_condition(
    rule: &Rule,
    kiosks: &[DeviceHealth],
    hours: &OpeningHours,
    tz: Tz,
    now: DateTime<Utc>,
) -> (bool, String) {
    let live = kiosks.iter().filter(|k| !k.revoked);
    match &rule.spec.condition {
        Condition::SilentKiosk { minutes } => {
            let limit = Duration::minutes(i64::from(*minutes));
            let silent = live.filter(|k| k.is_offline(hours, tz, now, limit)).count();
            (
                silent > 0,
                format!("{silent} kiosk(s) silent for more than {minutes} min of opening time"),
            )
        }
        Condition::BacklogAbove { events } => {
            let worst = live.filter_map(|k| k.queue_depth).max().unwrap_or(0);
            (worst > *events, format!("{worst} unsent events on a kiosk"))
        }
        Condition::OldestUnsentAbove { minutes } => {
            let worst = live
                .filter_map(|k| k.oldest_unsent_age_seconds)
                .max()
                .unwrap_or(0);
            (
                worst > u64::from(*minutes) * 60,
                format!("oldest unsent event {} min old", worst / 60),
            )
        }
        Condition::QuarantinedAbove { events } => {
            let worst = live.filter_map(|k| k.quarantined).max().unwrap_or(0);
            (
                worst > *events,
                format!("{worst} quarantined events on a kiosk"),
            )
        }
        _ => (false, String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::rule::{Recipient, RuleSpec};
    use uuid::Uuid;

    fn rule(condition: Condition) -> Rule {
        Rule {
            id: Uuid::from_u128(9),
            spec: RuleSpec {
                name: "r".into(),
                stores: vec![],
                touchpoint: None,
                condition,
                window_minutes: 15,
                min_answers: 0,
                pending_seconds: 0,
                repeat_seconds: 0,
                recipients: vec![Recipient::Webhook {
                    url: "https://example.org/h".into(),
                }],
            },
        }
    }

    fn kiosk(last_seen: &str) -> DeviceHealth {
        DeviceHealth {
            device_id: Uuid::from_u128(1),
            store_id: Uuid::from_u128(2),
            name: None,
            enrolled_at: at("2026-11-01T00:00:00Z"),
            revoked: false,
            last_seen: Some(at(last_seen)),
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

    #[test]
    fn a_silent_kiosk_counts_only_opening_time_as_the_offline_flag_does() {
        let hours = OpeningHours::parse_days(&["07:00-22:00"; 7]).expect("hours");
        let silent = rule(Condition::SilentKiosk { minutes: 60 });
        // Last heard at 21:30: half an hour of opening time before closing.
        let k = [kiosk("2026-11-24T21:30:00Z")];
        let holds = |now: &str| kiosk_condition(&silent, &k, &hours, chrono_tz::UTC, at(now)).0;
        assert!(!holds("2026-11-25T07:20:00Z"), "50 min of opening time");
        assert!(holds("2026-11-25T07:31:00Z"), "61 min of opening time");
        let offline_after = Duration::minutes(60);
        for now in ["2026-11-25T07:20:00Z", "2026-11-25T07:31:00Z"] {
            assert_eq!(
                holds(now),
                k[0].is_offline(&hours, chrono_tz::UTC, at(now), offline_after),
                "the alert and the dashboard's flag agree at {now}"
            );
        }
    }

    #[test]
    fn quarantined_events_hold_only_above_the_threshold_and_unknown_counts_never() {
        let hours = OpeningHours::default();
        let now = at("2026-11-25T10:00:00Z");
        let any = rule(Condition::QuarantinedAbove { events: 0 });
        let mut k = kiosk("2026-11-25T09:59:00Z");
        assert!(!kiosk_condition(&any, &[k.clone()], &hours, chrono_tz::UTC, now).0);
        k.quarantined = Some(0);
        assert!(!kiosk_condition(&any, &[k.clone()], &hours, chrono_tz::UTC, now).0);
        k.quarantined = Some(3);
        let (holds, detail) = kiosk_condition(&any, &[k.clone()], &hours, chrono_tz::UTC, now);
        assert!(holds && detail.contains("3 quarantined"), "{detail}");
        let five = rule(Condition::QuarantinedAbove { events: 5 });
        assert!(!kiosk_condition(&five, &[k.clone()], &hours, chrono_tz::UTC, now).0);
        k.revoked = true;
        assert!(
            !kiosk_condition(&any, &[k], &hours, chrono_tz::UTC, now).0,
            "a revoked kiosk is left out"
        );
    }
}
