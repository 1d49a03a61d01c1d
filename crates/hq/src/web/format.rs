//! Numbers and dates as each dashboard language writes them: English `1,234.5` and
//! `1 Dec 2026`, Vietnamese `1.234,5` and `01/12/2026`. Pages format figures here, after
//! `crate::reports` has computed them, so no template formats a number itself.

use chrono::{DateTime, NaiveDate};
use chrono_tz::Tz;

use super::i18n::Lang;

fn separators(lang: Lang) -> (char, char) {
    match lang {
        Lang::En => ('.', ','),
        Lang::Vi => (',', '.'),
    }
}

fn group(digits: &str, sep: char) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

/// A whole number with thousands separators.
pub fn integer(lang: Lang, n: u64) -> String {
    group(&n.to_string(), separators(lang).1)
}

/// A number with `places` decimals; a minus sign (U+2212) for negatives.
pub fn decimal(lang: Lang, x: f64, places: usize) -> String {
    let (point, thousands) = separators(lang);
    let x = if x.is_finite() { x } else { 0.0 };
    let text = format!("{:.*}", places, x.abs());
    let (whole, frac) = text.split_once('.').unwrap_or((&text, ""));
    let mut out = String::new();
    if x < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0') {
        out.push('\u{2212}');
    }
    out.push_str(&group(whole, thousands));
    if !frac.is_empty() {
        out.push(point);
        out.push_str(frac);
    }
    out
}

/// A change: `+1.5`, `−2.0`, `±0.0`.
pub fn signed(lang: Lang, x: f64, places: usize) -> String {
    let body = decimal(lang, x.abs(), places);
    let rounded_zero = format!("{:.*}", places, x.abs())
        .chars()
        .all(|c| c == '0' || c == '.');
    if rounded_zero {
        format!("±{body}")
    } else if x > 0.0 {
        format!("+{body}")
    } else {
        format!("\u{2212}{body}")
    }
}

/// A date in full: `1 Dec 2026` / `01/12/2026`.
pub fn date(lang: Lang, d: NaiveDate) -> String {
    match lang {
        Lang::En => d.format("%-d %b %Y").to_string(),
        Lang::Vi => d.format("%d/%m/%Y").to_string(),
    }
}

/// A date on a chart axis: `1 Dec` / `01/12`.
pub fn short_date(lang: Lang, d: NaiveDate) -> String {
    match lang {
        Lang::En => d.format("%-d %b").to_string(),
        Lang::Vi => d.format("%d/%m").to_string(),
    }
}

/// A moment in a store's time zone: `1 Dec 2026 14:05` / `01/12/2026 14:05`.
pub fn local_time(lang: Lang, at: DateTime<chrono::Utc>, tz: Tz) -> String {
    let local = at.with_timezone(&tz);
    format!(
        "{} {}",
        date(lang, local.date_naive()),
        local.format("%H:%M")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_use_each_languages_separators() {
        assert_eq!(integer(Lang::En, 1_234_567), "1,234,567");
        assert_eq!(integer(Lang::Vi, 1_234_567), "1.234.567");
        assert_eq!(integer(Lang::En, 12), "12");
        assert_eq!(decimal(Lang::En, 1234.56, 1), "1,234.6");
        assert_eq!(decimal(Lang::Vi, 1234.56, 1), "1.234,6");
        assert_eq!(decimal(Lang::En, -3.04, 1), "\u{2212}3.0");
        assert_eq!(
            decimal(Lang::En, -0.04, 1),
            "0.0",
            "no minus on a rounded zero"
        );
        assert_eq!(decimal(Lang::En, f64::NAN, 0), "0");
    }

    #[test]
    fn changes_always_carry_a_sign() {
        assert_eq!(signed(Lang::En, 2.26, 1), "+2.3");
        assert_eq!(signed(Lang::Vi, -1.5, 1), "\u{2212}1,5");
        assert_eq!(signed(Lang::En, 0.01, 1), "±0.0");
    }

    #[test]
    fn dates_follow_the_language() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 1).expect("date");
        assert_eq!(date(Lang::En, d), "1 Dec 2026");
        assert_eq!(date(Lang::Vi, d), "01/12/2026");
        assert_eq!(short_date(Lang::Vi, d), "01/12");
        let at = "2026-12-01T20:05:00Z".parse().expect("time");
        assert_eq!(
            local_time(Lang::En, at, chrono_tz::Asia::Ho_Chi_Minh),
            "2 Dec 2026 03:05"
        );
    }
}
