//! The alert lifecycle, the one place it is decided: pending → open → (acknowledged) →
//! closed, with the pending period on the way in, hysteresis on the way out, and repeats.
//! Pure: the backends read the current row, call [`step`] inside their transaction, and
//! write what it says.

use chrono::{DateTime, Duration, Utc};

/// Where an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertState {
    /// The condition holds, for less than the pending period: nobody is told yet.
    Pending,
    Open,
    Acknowledged,
    Closed,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Pending => "pending",
            AlertState::Open => "open",
            AlertState::Acknowledged => "acknowledged",
            AlertState::Closed => "closed",
        }
    }
}

impl std::str::FromStr for AlertState {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Ok(match s {
            "pending" => AlertState::Pending,
            "open" => AlertState::Open,
            "acknowledged" => AlertState::Acknowledged,
            "closed" => AlertState::Closed,
            _ => return Err(()),
        })
    }
}

/// The one not-closed alert of a rule and store, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Current {
    pub state: AlertState,
    /// When the condition started holding.
    pub since: DateTime<Utc>,
    pub opened_at: Option<DateTime<Utc>>,
    pub last_sent_at: Option<DateTime<Utc>>,
    /// When the condition stopped holding, while open.
    pub clear_since: Option<DateTime<Utc>>,
}

/// What one evaluation does to the alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Nothing,
    /// The condition began to hold; wait for the pending period.
    StartPending,
    /// It cleared before the pending period ended.
    DropPending,
    /// Open it, and tell the recipients.
    Open,
    /// Tell the recipients again.
    Repeat,
    /// It cleared while open; wait for the pending period before closing.
    StartClearing,
    /// It holds again before closing.
    StopClearing,
    /// Close it, and tell the recipients.
    Close,
}

/// The rule's timing, as durations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub pending: Duration,
    /// `None`: never repeat.
    pub repeat: Option<Duration>,
}

impl Timing {
    pub fn of(spec: &super::rule::RuleSpec) -> Timing {
        Timing {
            pending: Duration::seconds(i64::from(spec.pending_seconds)),
            repeat: (spec.repeat_seconds > 0)
                .then(|| Duration::seconds(i64::from(spec.repeat_seconds))),
        }
    }
}

/// Decide one step from the current alert (if any) and whether the condition holds now.
pub fn step(cur: Option<&Current>, holds: bool, t: Timing, now: DateTime<Utc>) -> Step {
    let Some(cur) = cur else {
        return match (holds, t.pending <= Duration::zero()) {
            (false, _) => Step::Nothing,
            (true, true) => Step::Open,
            (true, false) => Step::StartPending,
        };
    };
    match (cur.state, holds) {
        (AlertState::Closed, _) => Step::Nothing,
        (AlertState::Pending, false) => Step::DropPending,
        (AlertState::Pending, true) if now - cur.since >= t.pending => Step::Open,
        (AlertState::Pending, true) => Step::Nothing,
        (_, true) if cur.clear_since.is_some() => Step::StopClearing,
        (AlertState::Open, true) => match (t.repeat, cur.last_sent_at) {
            (Some(every), Some(last)) if now - last >= every => Step::Repeat,
            _ => Step::Nothing,
        },
        (_, true) => Step::Nothing,
        (_, false) => match cur.clear_since {
            None if t.pending <= Duration::zero() => Step::Close,
            None => Step::StartClearing,
            Some(c) if now - c >= t.pending => Step::Close,
            Some(_) => Step::Nothing,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(min: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + min * 60, 0).expect("time")
    }

    const T: Timing = Timing {
        pending: Duration::minutes(5),
        repeat: Some(Duration::minutes(30)),
    };

    fn open(state: AlertState) -> Current {
        Current {
            state,
            since: at(0),
            opened_at: Some(at(5)),
            last_sent_at: Some(at(5)),
            clear_since: None,
        }
    }

    #[test]
    fn an_alert_opens_only_after_the_condition_held_for_the_pending_period() {
        assert_eq!(step(None, false, T, at(0)), Step::Nothing);
        assert_eq!(step(None, true, T, at(0)), Step::StartPending);
        let pending = Current {
            state: AlertState::Pending,
            since: at(0),
            opened_at: None,
            last_sent_at: None,
            clear_since: None,
        };
        assert_eq!(step(Some(&pending), true, T, at(4)), Step::Nothing);
        assert_eq!(step(Some(&pending), true, T, at(5)), Step::Open);
        assert_eq!(step(Some(&pending), false, T, at(4)), Step::DropPending);
        let now = Timing {
            pending: Duration::zero(),
            repeat: None,
        };
        assert_eq!(step(None, true, now, at(0)), Step::Open);
    }

    #[test]
    fn an_open_alert_repeats_after_the_interval_unless_acknowledged() {
        let o = open(AlertState::Open);
        assert_eq!(step(Some(&o), true, T, at(34)), Step::Nothing);
        assert_eq!(step(Some(&o), true, T, at(35)), Step::Repeat);
        let a = open(AlertState::Acknowledged);
        assert_eq!(step(Some(&a), true, T, at(90)), Step::Nothing);
        let never = Timing { repeat: None, ..T };
        assert_eq!(step(Some(&o), true, never, at(900)), Step::Nothing);
    }

    #[test]
    fn an_alert_closes_only_after_the_condition_stayed_clear_for_the_pending_period() {
        let mut o = open(AlertState::Acknowledged);
        assert_eq!(step(Some(&o), false, T, at(10)), Step::StartClearing);
        o.clear_since = Some(at(10));
        assert_eq!(step(Some(&o), false, T, at(14)), Step::Nothing);
        assert_eq!(step(Some(&o), true, T, at(14)), Step::StopClearing);
        assert_eq!(step(Some(&o), false, T, at(15)), Step::Close);
    }
}
