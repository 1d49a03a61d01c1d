//! What an alert rule is: its scope, condition, window, thresholds and recipients, checked
//! once when it is made ("parse, don't validate"), and stored as JSON.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A stored rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub id: Uuid,
    pub spec: RuleSpec,
}

/// Everything a rule says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleSpec {
    pub name: String,
    /// The stores it watches; empty for the whole chain.
    #[serde(default)]
    pub stores: Vec<Uuid>,
    /// Only ratings of this touchpoint; all when absent.
    #[serde(default)]
    pub touchpoint: Option<String>,
    pub condition: Condition,
    /// The window rating conditions look back over, in minutes.
    pub window_minutes: u32,
    /// Rating conditions hold only with at least this many answers in the window.
    pub min_answers: u32,
    /// The condition must hold this long before the alert opens, and be clear this long
    /// before it closes by itself.
    pub pending_seconds: u32,
    /// An open, unacknowledged alert is sent again after this long; never when 0.
    pub repeat_seconds: u32,
    pub recipients: Vec<Recipient>,
}

/// When a rule fires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Condition {
    /// The share of the two lowest faces is above `percent`.
    UnhappyShareAbove {
        percent: f64,
    },
    HappyIndexBelow {
        value: f64,
    },
    HappyIndexAbove {
        value: f64,
    },
    /// More than `count` ratings with score `face` (1 the worst).
    FaceCountAbove {
        face: u8,
        count: u64,
    },
    /// The reason chip picked more than `count` times.
    ReasonAbove {
        reason: String,
        count: u64,
    },
    /// A kiosk of the store sent no push and no health report for longer than this,
    /// during opening hours.
    SilentKiosk {
        minutes: u32,
    },
    /// A kiosk reports more than `events` unsent events.
    BacklogAbove {
        events: u64,
    },
    /// A kiosk's oldest unsent event is older than this.
    OldestUnsentAbove {
        minutes: u32,
    },
    /// A kiosk reports more than `events` events in its quarantine (events HQ refused);
    /// 0 for "any". Kiosks that do not report the count never fire it.
    QuarantinedAbove {
        events: u64,
    },
}

impl Condition {
    /// Whether it reads ratings (and so needs the window and the minimum answers).
    pub fn reads_ratings(&self) -> bool {
        !matches!(
            self,
            Condition::SilentKiosk { .. }
                | Condition::BacklogAbove { .. }
                | Condition::OldestUnsentAbove { .. }
                | Condition::QuarantinedAbove { .. }
        )
    }

    /// A short English description, for messages and logs.
    pub fn describe(&self) -> String {
        match self {
            Condition::UnhappyShareAbove { percent } => format!("unhappy share above {percent} %"),
            Condition::HappyIndexBelow { value } => format!("Happy Index below {value}"),
            Condition::HappyIndexAbove { value } => format!("Happy Index above {value}"),
            Condition::FaceCountAbove { face, count } => {
                format!("more than {count} ratings of face {face}")
            }
            Condition::ReasonAbove { reason, count } => {
                format!("reason {reason:?} picked more than {count} times")
            }
            Condition::SilentKiosk { minutes } => {
                format!("a kiosk silent for more than {minutes} min")
            }
            Condition::BacklogAbove { events } => {
                format!("a kiosk with more than {events} unsent events")
            }
            Condition::OldestUnsentAbove { minutes } => {
                format!("a kiosk's oldest unsent event older than {minutes} min")
            }
            Condition::QuarantinedAbove { events } => {
                format!("a kiosk with more than {events} quarantined events")
            }
        }
    }
}

/// Where a rule's alerts go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Recipient {
    /// A signed JSON POST.
    Webhook {
        url: String,
    },
    /// A Slack-compatible incoming webhook (Teams Workflows accept the same `text` body).
    Slack {
        url: String,
    },
    Email {
        address: String,
        lang: Lang,
    },
}

/// A recipient's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    #[default]
    En,
    Vi,
}

/// Why a rule was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("give the rule a name of 1 to 100 characters")]
    Name,
    #[error("{0}")]
    Range(String),
    #[error("{0:?} is not an http:// or https:// address")]
    Url(String),
    #[error("{0:?} is not an email address")]
    Email(String),
    #[error("give at least one recipient, at most 20")]
    Recipients,
}

fn short(s: &str) -> String {
    s.chars().take(64).collect()
}

fn check_url(url: &str) -> Result<(), RuleError> {
    let ok = (url.starts_with("http://") || url.starts_with("https://"))
        && url.len() <= 2000
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(RuleError::Url(short(url)))
    }
}

impl RuleSpec {
    /// Check every field; the engine and the stores trust a spec that passed.
    pub fn validate(&self) -> Result<(), RuleError> {
        let n = self.name.trim().chars().count();
        if n == 0 || n > 100 {
            return Err(RuleError::Name);
        }
        let range = |ok: bool, what: &str| {
            if ok {
                Ok(())
            } else {
                Err(RuleError::Range(what.to_owned()))
            }
        };
        range(
            (1..=7 * 24 * 60).contains(&self.window_minutes),
            "the window is 1 minute to 7 days",
        )?;
        range(
            self.min_answers <= 100_000,
            "the minimum answers is at most 100000",
        )?;
        range(
            self.pending_seconds <= 86_400,
            "the pending period is at most a day",
        )?;
        range(
            self.repeat_seconds <= 7 * 86_400,
            "the repeat interval is at most a week",
        )?;
        range(self.stores.len() <= 10_000, "too many stores")?;
        if let Some(t) = &self.touchpoint {
            range(
                !t.is_empty() && t.len() <= 64,
                "a touchpoint is 1 to 64 characters",
            )?;
        }
        match &self.condition {
            Condition::UnhappyShareAbove { percent } => range(
                percent.is_finite() && (0.0..100.0).contains(percent),
                "the unhappy share is 0 to 99.9 %",
            )?,
            Condition::HappyIndexBelow { value } | Condition::HappyIndexAbove { value } => range(
                value.is_finite() && (0.0..=100.0).contains(value),
                "the Happy Index is 0 to 100",
            )?,
            Condition::FaceCountAbove { face, .. } => {
                range((1..=5).contains(face), "a face is 1 to 5")?
            }
            Condition::ReasonAbove { reason, .. } => range(
                !reason.is_empty() && reason.len() <= 64,
                "a reason is 1 to 64 characters",
            )?,
            Condition::SilentKiosk { minutes } | Condition::OldestUnsentAbove { minutes } => {
                range((1..=10_080).contains(minutes), "minutes are 1 to 10080")?
            }
            Condition::BacklogAbove { events } | Condition::QuarantinedAbove { events } => range(
                *events <= 1_000_000_000,
                "a number of events is at most 1000000000",
            )?,
        }
        if self.recipients.is_empty() || self.recipients.len() > 20 {
            return Err(RuleError::Recipients);
        }
        for r in &self.recipients {
            match r {
                Recipient::Webhook { url } | Recipient::Slack { url } => check_url(url)?,
                Recipient::Email { address, .. } => {
                    let ok =
                        address.len() <= 254 && address.parse::<lettre_free::Address>().is_ok();
                    if !ok {
                        return Err(RuleError::Email(short(address)));
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether the rule watches this store.
    pub fn covers(&self, store_id: Uuid) -> bool {
        self.stores.is_empty() || self.stores.contains(&store_id)
    }
}

/// A minimal address check (one `@`, something either side, no spaces or angle
/// brackets), enough to refuse junk before SMTP sees it.
mod lettre_free {
    pub struct Address;
    impl std::str::FromStr for Address {
        type Err = ();
        fn from_str(s: &str) -> Result<Self, ()> {
            let (user, host) = s.split_once('@').ok_or(())?;
            let bad = |p: &str| {
                p.is_empty()
                    || p.contains('@')
                    || p.chars()
                        .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"".contains(c))
            };
            if bad(user) || bad(host) || !host.contains('.') {
                return Err(());
            }
            Ok(Address)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn spec() -> RuleSpec {
        RuleSpec {
            name: "Bad hour".into(),
            stores: vec![],
            touchpoint: None,
            condition: Condition::UnhappyShareAbove { percent: 50.0 },
            window_minutes: 15,
            min_answers: 4,
            pending_seconds: 0,
            repeat_seconds: 0,
            recipients: vec![Recipient::Webhook {
                url: "https://example.org/hook".into(),
            }],
        }
    }

    #[test]
    fn a_sound_rule_passes_and_round_trips_as_json() {
        let s = spec();
        assert_eq!(s.validate(), Ok(()));
        let json = serde_json::to_string(&s).expect("json");
        assert_eq!(serde_json::from_str::<RuleSpec>(&json).expect("back"), s);
    }

    #[test]
    fn bad_rules_are_refused_with_a_reason() {
        let mut s = spec();
        s.name = " ".into();
        assert_eq!(s.validate(), Err(RuleError::Name));
        let mut s = spec();
        s.recipients = vec![Recipient::Webhook {
            url: "javascript:alert(1)".into(),
        }];
        assert!(matches!(s.validate(), Err(RuleError::Url(_))));
        let mut s = spec();
        s.recipients = vec![Recipient::Email {
            address: "a b@x".into(),
            lang: Lang::Vi,
        }];
        assert!(matches!(s.validate(), Err(RuleError::Email(_))));
        let mut s = spec();
        s.condition = Condition::UnhappyShareAbove { percent: f64::NAN };
        assert!(matches!(s.validate(), Err(RuleError::Range(_))));
        let mut s = spec();
        s.window_minutes = 0;
        assert!(matches!(s.validate(), Err(RuleError::Range(_))));
        let mut s = spec();
        s.recipients.clear();
        assert_eq!(s.validate(), Err(RuleError::Recipients));
        let mut s = spec();
        s.condition = Condition::QuarantinedAbove { events: u64::MAX };
        assert!(matches!(s.validate(), Err(RuleError::Range(_))));
    }

    #[test]
    fn the_quarantined_condition_is_a_kiosk_condition_stored_by_its_kind() {
        let mut s = spec();
        s.condition = Condition::QuarantinedAbove { events: 0 };
        assert_eq!(s.validate(), Ok(()));
        assert!(!s.condition.reads_ratings());
        let json = serde_json::to_value(&s).expect("json");
        assert_eq!(
            json["condition"],
            serde_json::json!({"kind": "quarantined_above", "events": 0})
        );
    }
}
