//! A store's opening hours: when a silent kiosk is worth flagging as offline (the devices
//! page) and when alerts may fire (issue 11). The one place they are parsed and checked;
//! stored per store as the text form below.
//!
//! One span per local weekday, Monday first: `"07:30-19:00"`, `"closed"`, or
//! `"00:00-24:00"` (all day, the default: a store is always open until told otherwise).

use chrono::{NaiveTime, Timelike, Weekday};

/// Minutes after local midnight, 0..=1440.
type Minute = u16;

const DAY: Minute = 24 * 60;

/// One weekday's hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayHours {
    Closed,
    /// Open from `open` (inclusive) to `close` (exclusive), minutes after midnight,
    /// `open < close <= 1440`.
    Open {
        open: Minute,
        close: Minute,
    },
}

impl DayHours {
    pub const ALL_DAY: DayHours = DayHours::Open {
        open: 0,
        close: DAY,
    };

    fn contains(self, minute: Minute) -> bool {
        match self {
            DayHours::Closed => false,
            DayHours::Open { open, close } => open <= minute && minute < close,
        }
    }
}

fn hhmm(m: Minute) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

impl std::fmt::Display for DayHours {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DayHours::Closed => f.write_str("closed"),
            DayHours::Open { open, close } => write!(f, "{}-{}", hhmm(*open), hhmm(*close)),
        }
    }
}

/// Why a text is not a day's hours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoursError {
    #[error("{0:?} is not a time: use HH:MM, 00:00 to 24:00")]
    BadTime(String),
    #[error("{0:?} is not a day's hours: use HH:MM-HH:MM or closed")]
    BadSpan(String),
    #[error("{0:?} closes before it opens; a day's hours end by 24:00")]
    Backwards(String),
    #[error("give 7 days, Monday first; got {0}")]
    WrongDays(usize),
}

fn shown(s: &str) -> String {
    s.chars().take(32).collect()
}

fn parse_minute(s: &str) -> Result<Minute, HoursError> {
    let bad = || HoursError::BadTime(shown(s));
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let (h, m): (Minute, Minute) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

impl std::str::FromStr for DayHours {
    type Err = HoursError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("closed") {
            return Ok(DayHours::Closed);
        }
        let (a, b) = t
            .split_once('-')
            .ok_or_else(|| HoursError::BadSpan(shown(s)))?;
        let (open, close) = (parse_minute(a)?, parse_minute(b)?);
        if open >= close {
            return Err(HoursError::Backwards(shown(s)));
        }
        Ok(DayHours::Open { open, close })
    }
}

/// A week of opening hours, Monday first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpeningHours {
    pub days: [DayHours; 7],
}

impl Default for OpeningHours {
    fn default() -> Self {
        OpeningHours {
            days: [DayHours::ALL_DAY; 7],
        }
    }
}

impl OpeningHours {
    /// From seven day texts, Monday first.
    pub fn parse_days<S: AsRef<str>>(days: &[S]) -> Result<OpeningHours, HoursError> {
        if days.len() != 7 {
            return Err(HoursError::WrongDays(days.len()));
        }
        let mut out = [DayHours::Closed; 7];
        for (slot, s) in out.iter_mut().zip(days) {
            *slot = s.as_ref().parse()?;
        }
        Ok(OpeningHours { days: out })
    }

    /// Whether the store is open at this local weekday and time.
    pub fn is_open_at(&self, weekday: Weekday, time: NaiveTime) -> bool {
        let minute = (time.hour() * 60 + time.minute()) as Minute;
        self.days[weekday.num_days_from_monday() as usize].contains(minute)
    }

    /// Open every minute of every day (the default).
    pub fn always_open(&self) -> bool {
        *self == OpeningHours::default()
    }

    /// The stored text form: a JSON list of seven day texts.
    pub fn to_stored(&self) -> String {
        let days: Vec<String> = self.days.iter().map(ToString::to_string).collect();
        serde_json::Value::from(days).to_string()
    }

    /// The inverse of [`OpeningHours::to_stored`].
    pub fn from_stored(s: &str) -> Result<OpeningHours, HoursError> {
        let days: Vec<String> =
            serde_json::from_str(s).map_err(|_| HoursError::BadSpan(shown(s)))?;
        OpeningHours::parse_days(&days)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveTime {
        NaiveTime::parse_from_str(s, "%H:%M").expect("time")
    }

    #[test]
    fn a_store_is_always_open_until_told_otherwise() {
        let h = OpeningHours::default();
        assert!(h.always_open());
        assert!(h.is_open_at(Weekday::Sun, t("03:00")));
        assert!(h.is_open_at(Weekday::Mon, t("23:59")));
    }

    #[test]
    fn hours_parse_check_and_round_trip() {
        let h = OpeningHours::parse_days(&[
            "07:30-19:00",
            "07:30-19:00",
            "07:30-19:00",
            "07:30-19:00",
            "07:30-22:00",
            "09:00-24:00",
            "closed",
        ])
        .expect("valid");
        assert!(h.is_open_at(Weekday::Mon, t("07:30")));
        assert!(!h.is_open_at(Weekday::Mon, t("07:29")));
        assert!(
            !h.is_open_at(Weekday::Mon, t("19:00")),
            "closing time is exclusive"
        );
        assert!(h.is_open_at(Weekday::Sat, t("23:59")));
        assert!(!h.is_open_at(Weekday::Sun, t("12:00")));
        assert_eq!(OpeningHours::from_stored(&h.to_stored()), Ok(h));
        assert!(!h.always_open());
    }

    #[test]
    fn bad_hours_are_refused_with_a_reason() {
        for (bad, want) in [
            ("19:00-07:00", "closes before"),
            ("08:00-08:00", "closes before"),
            ("8:00-19:00", "not a time"),
            ("24:30-25:00", "not a time"),
            ("08:60-19:00", "not a time"),
            ("open", "not a day"),
            ("<script>-x", "not a time"),
        ] {
            let e = bad.parse::<DayHours>().expect_err(bad).to_string();
            assert!(e.contains(want), "{bad}: {e}");
        }
        assert_eq!(
            OpeningHours::parse_days(&["closed"; 6]),
            Err(HoursError::WrongDays(6))
        );
        assert!(OpeningHours::from_stored("not json").is_err());
    }
}
