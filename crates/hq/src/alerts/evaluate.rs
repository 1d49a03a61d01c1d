//! Whether a rule's condition holds for one store now, from the facts storage gives:
//! rating conditions over the rule's window (with its minimum answers), kiosk conditions
//! from each kiosk's last push and health report. Opening hours mute every rule outside
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

/// What a kiosk condition finds over the store's kiosks (revoked ones left out).
pub fn kiosk_condition(rule: &Rule, kiosks: &[DeviceHealth], now: DateTime<Utc>) -> (bool, String) {
    let live = kiosks.iter().filter(|k| !k.revoked);
    match &rule.spec.condition {
        Condition::SilentKiosk { minutes } => {
            let limit = Duration::minutes(i64::from(*minutes));
            let silent = live
                .filter(|k| {
                    let heard = [Some(k.enrolled_at), k.last_seen, k.health_at]
                        .into_iter()
                        .flatten()
                        .max()
                        .unwrap_or(k.enrolled_at);
                    now - heard > limit
                })
                .count();
            (
                silent > 0,
                format!("{silent} kiosk(s) silent for more than {minutes} min"),
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
