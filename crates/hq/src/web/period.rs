//! The period picker shared by the overview and the store page: a GET form (`period`,
//! `from`, `to`), read leniently (a bad custom date falls back to 7 days with a notice,
//! not an error page) and written back into every link so the period is kept.
//!
//! Typing dates is enough: dates the page did not show (`shown_from`/`shown_to`, hidden
//! fields of the form) mean a custom period whatever the select says, so nobody has to
//! pick "Custom dates" first; dates left as shown follow the select, so a custom period
//! is left by picking another one.

use chrono::NaiveDate;
use serde::Deserialize;

use crate::storage::analytics::Period;

/// The longest custom period, in days (two years).
pub const MAX_CUSTOM_DAYS: i64 = 731;

/// The query fields of the picker.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PeriodQuery {
    pub period: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// The dates the form was rendered with (hidden fields).
    pub shown_from: Option<String>,
    pub shown_to: Option<String>,
}

/// One option of the picker.
#[derive(Debug, Clone)]
pub struct PeriodChoice {
    pub key: &'static str,
    /// English msgid.
    pub label: &'static str,
    pub current: bool,
}

/// The period asked for, as the pages use it.
#[derive(Debug, Clone)]
pub struct Chosen {
    pub period: Period,
    pub key: &'static str,
    pub from: String,
    pub to: String,
    /// English msgid of a problem with the custom dates.
    pub notice: Option<&'static str>,
    pub choices: Vec<PeriodChoice>,
}

const CHOICES: [(&str, &str); 5] = [
    ("today", "Today"),
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
    ("quarter", "This quarter"),
    ("custom", "Custom dates"),
];

fn parse_date(s: Option<&str>) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s?.trim(), "%Y-%m-%d").ok()
}

fn filled(s: Option<&str>) -> &str {
    s.map_or("", str::trim)
}

impl PeriodQuery {
    /// Whether the dates ask for a custom period: one is filled in and they are not the
    /// ones the form showed.
    fn dates_typed(&self) -> bool {
        let (from, to) = (filled(self.from.as_deref()), filled(self.to.as_deref()));
        (!from.is_empty() || !to.is_empty())
            && (from != filled(self.shown_from.as_deref())
                || to != filled(self.shown_to.as_deref()))
    }

    pub fn choose(&self) -> Chosen {
        let mut notice = None;
        let asked = if self.dates_typed() {
            "custom"
        } else {
            self.period.as_deref().unwrap_or("7d")
        };
        let (period, key) = match asked {
            "today" => (Period::Today, "today"),
            "30d" => (Period::Days30, "30d"),
            "quarter" => (Period::Quarter, "quarter"),
            "custom" => {
                match (
                    parse_date(self.from.as_deref()),
                    parse_date(self.to.as_deref()),
                ) {
                    (Some(from), Some(to)) if (to - from).num_days().abs() < MAX_CUSTOM_DAYS => {
                        (Period::Custom { from, to }, "custom")
                    }
                    (Some(_), Some(_)) => {
                        notice = Some(
                            "Custom periods are at most two years long. Showing the last 7 days.",
                        );
                        (Period::Days7, "7d")
                    }
                    _ => {
                        notice = Some("Give both dates of a custom period (year-month-day). Showing the last 7 days.");
                        (Period::Days7, "7d")
                    }
                }
            }
            _ => (Period::Days7, "7d"),
        };
        let (from, to) = match period {
            Period::Custom { from, to } => (from.min(to).to_string(), from.max(to).to_string()),
            _ => (String::new(), String::new()),
        };
        Chosen {
            period,
            key,
            from,
            to,
            notice,
            choices: CHOICES
                .iter()
                .map(|&(k, label)| PeriodChoice {
                    key: k,
                    label,
                    current: k == key,
                })
                .collect(),
        }
    }
}

impl Chosen {
    /// `period=…[&from=…&to=…]`, to keep the period in links.
    pub fn query(&self) -> String {
        if self.key == "custom" {
            format!("period=custom&from={}&to={}", self.from, self.to)
        } else {
            format!("period={}", self.key)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(period: &str, from: &str, to: &str) -> PeriodQuery {
        PeriodQuery {
            period: Some(period.into()),
            from: Some(from.into()),
            to: Some(to.into()),
            ..PeriodQuery::default()
        }
    }

    #[test]
    fn named_periods_and_the_default() {
        assert_eq!(PeriodQuery::default().choose().period, Period::Days7);
        assert_eq!(q("today", "", "").choose().period, Period::Today);
        assert_eq!(q("quarter", "", "").choose().query(), "period=quarter");
        assert_eq!(q("<script>", "", "").choose().key, "7d");
    }

    #[test]
    fn custom_dates_are_ordered_kept_in_links_and_bad_ones_explained() {
        let c = q("custom", "2026-03-10", "2026-03-01").choose();
        assert_eq!(c.query(), "period=custom&from=2026-03-01&to=2026-03-10");
        assert!(c.notice.is_none());
        let c = q("custom", "2026-13-01", "2026-03-01").choose();
        assert_eq!(c.period, Period::Days7);
        assert!(c.notice.is_some());
        let c = q("custom", "2020-01-01", "2026-03-01").choose();
        assert_eq!(c.key, "7d");
        assert!(c.notice.expect("notice").contains("two years"));
    }

    #[test]
    fn typed_dates_are_a_custom_period_whatever_the_select_says() {
        let c = q("7d", "2026-03-01", "2026-03-10").choose();
        assert_eq!(c.query(), "period=custom&from=2026-03-01&to=2026-03-10");
        let only_dates = PeriodQuery {
            from: Some("2026-03-01".into()),
            to: Some("2026-03-02".into()),
            ..PeriodQuery::default()
        };
        assert_eq!(only_dates.choose().key, "custom");
        // One date typed: custom, and the notice asks for the other.
        let c = q("30d", "2026-03-01", "").choose();
        assert_eq!(c.key, "7d");
        assert!(c.notice.expect("notice").contains("both dates"));
    }

    #[test]
    fn dates_left_as_shown_follow_the_select() {
        let mut leave = q("30d", "2026-03-01", "2026-03-10");
        leave.shown_from = Some("2026-03-01".into());
        leave.shown_to = Some("2026-03-10".into());
        assert_eq!(leave.choose().key, "30d");
        leave.to = Some("2026-03-12".into());
        assert_eq!(leave.choose().key, "custom", "a changed date is typed");
        assert_eq!(q("30d", "", "").choose().key, "30d");
    }
}
