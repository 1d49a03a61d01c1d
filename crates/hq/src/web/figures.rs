//! A [`crate::reports::Summary`] as the pages show it: each figure formatted for the
//! language, "–" where there is none, and changes against the previous period with an
//! arrow and a word as well as a colour. Shared by the overview and the store page.

use chrono::NaiveDate;
use chrono_tz::Tz;

use super::format;
use super::i18n::{Lang, Tr};
use crate::reports::{self, Summary};
use crate::storage::analytics::Sums;

/// A local date and its ratings' sums.
pub type TrendDay = (NaiveDate, Sums);

/// Shown for a figure that does not exist (no ratings, NPS not asked).
pub const NONE: &str = "–";

/// One summary's figures, formatted.
#[derive(Debug, Clone)]
pub struct Figures {
    pub count: String,
    pub csat: String,
    pub index: String,
    pub average: String,
    pub nps: String,
    pub has_data: bool,
    pub has_nps: bool,
}

impl Figures {
    pub fn new(lang: Lang, s: &Summary) -> Figures {
        let opt = |v: Option<f64>, places: usize, unit: &str| {
            v.map(|v| format!("{}{unit}", format::decimal(lang, v, places)))
                .unwrap_or_else(|| NONE.to_owned())
        };
        Figures {
            count: format::integer(lang, s.count),
            csat: opt(s.csat_percent, 1, "%"),
            index: opt(s.happy_index, 1, ""),
            average: opt(s.average, 2, ""),
            nps: opt(s.nps, 0, ""),
            has_data: s.count > 0,
            has_nps: s.nps.is_some(),
        }
    }
}

/// A change against the previous period of the same length.
#[derive(Debug, Clone)]
pub struct Change {
    /// `+3.2`, `−1.0`, `±0.0`, or "–" when either period has no figure.
    pub text: String,
    /// `up`, `down`, `same` or `none`: the class, and the arrow below.
    pub dir: &'static str,
    pub arrow: &'static str,
    /// Translated words for screen readers and the tooltip ("up 3.2 on the previous period").
    pub words: String,
}

impl Change {
    pub fn new(tr: Tr, current: Option<f64>, previous: Option<f64>, places: usize) -> Change {
        let lang = tr.lang();
        match reports::change(current, previous) {
            None => Change {
                text: NONE.to_owned(),
                dir: "none",
                arrow: "",
                words: tr.t("No figure to compare with").to_owned(),
            },
            Some(d) => {
                let text = format::signed(lang, d, places);
                let zero = format::decimal(lang, d.abs(), places)
                    .chars()
                    .all(|c| !c.is_ascii_digit() || c == '0');
                let (dir, arrow, msgid) = if zero {
                    ("same", "=", "unchanged from the previous period")
                } else if d > 0.0 {
                    ("up", "▲", "up {n} from the previous period")
                } else {
                    ("down", "▼", "down {n} from the previous period")
                };
                let n = format::decimal(lang, d.abs(), places);
                Change {
                    words: tr.f(msgid, &[("n", &n)]),
                    text,
                    dir,
                    arrow,
                }
            }
        }
    }

    /// The change in a count, in percent of the previous one.
    pub fn of_count(tr: Tr, current: u64, previous: u64) -> Change {
        let pct = |n: u64| n as f64;
        if previous == 0 {
            return Change::new(tr, None, None, 0);
        }
        let mut c = Change::new(
            tr,
            Some(100.0 * pct(current) / pct(previous)),
            Some(100.0),
            0,
        );
        if c.dir != "none" {
            c.text.push('%');
        }
        c
    }
}

/// A store's time zone; UTC for one HQ cannot read (it was checked when the store was
/// added, so this is a corrupt row, shown rather than failing the page).
pub fn tz_of(name: &str) -> Tz {
    name.parse().unwrap_or(chrono_tz::UTC)
}

/// Days from `from` to `to` inclusive, with the sums of those that have ratings.
pub fn fill_days(from: NaiveDate, to: NaiveDate, days: &[(NaiveDate, Sums)]) -> Vec<TrendDay> {
    let mut out = Vec::new();
    let mut d = from;
    let mut it = days.iter().peekable();
    while d <= to && out.len() <= super::period::MAX_CUSTOM_DAYS as usize + 1 {
        while it.peek().is_some_and(|(day, _)| *day < d) {
            it.next();
        }
        let sums = match it.peek() {
            Some((day, s)) if *day == d => *s,
            _ => Sums::default(),
        };
        out.push((d, sums));
        match d.succ_opt() {
            Some(n) => d = n,
            None => break,
        }
    }
    out
}

/// Trend points for a chart from filled days.
pub fn trend_points(tr: Tr, days: &[TrendDay]) -> Vec<super::charts::TrendPoint> {
    let lang = tr.lang();
    days.iter()
        .map(|(d, s)| {
            let summary = Summary::from(s);
            let index = summary
                .happy_index
                .map(|v| format::decimal(lang, v, 1))
                .unwrap_or_else(|| NONE.to_owned());
            super::charts::TrendPoint {
                axis_label: format::short_date(lang, *d),
                text: tr.f(
                    "{date}: Happy Index {index}, {count} ratings",
                    &[
                        ("date", &format::date(lang, *d)),
                        ("index", &index),
                        ("count", &format::integer(lang, summary.count)),
                    ],
                ),
                count: summary.count,
                index: reports::happy_index(s),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_say_their_direction_in_words_and_arrows() {
        let tr = Tr(Lang::En);
        let up = Change::new(tr, Some(80.0), Some(72.5), 1);
        assert_eq!((up.text.as_str(), up.dir, up.arrow), ("+7.5", "up", "▲"));
        assert!(up.words.contains("up 7.5"));
        let down = Change::new(tr, Some(70.0), Some(72.5), 1);
        assert_eq!((down.dir, down.arrow), ("down", "▼"));
        assert_eq!(Change::new(tr, Some(70.0), Some(70.0), 1).dir, "same");
        assert_eq!(Change::new(tr, Some(70.0), None, 1).dir, "none");
        assert_eq!(Change::of_count(tr, 15, 10).text, "+50%");
        assert_eq!(Change::of_count(tr, 5, 0).dir, "none");
    }

    #[test]
    fn missing_days_are_filled_with_empty_sums() {
        let d = |s: &str| s.parse::<NaiveDate>().expect("date");
        let mut s = Sums::default();
        s.five[4] = 2;
        let filled = fill_days(d("2026-12-01"), d("2026-12-03"), &[(d("2026-12-02"), s)]);
        assert_eq!(filled.len(), 3);
        assert_eq!(filled[0].1.count(), 0);
        assert_eq!(filled[1].1.count(), 2);
    }
}
