//! The regulars domain: what the counter sees of a regular, what staff edit, how a search
//! query is read, and the manager's day report and local settings.
//!
//! Profiles themselves (`Regular`, `UsualOrder`, `Consent`, `Hlc`) are the wire protocol's
//! types, validated by construction; this module adds the kiosk's views of them. Nothing
//! here touches the database or the network.

use std::fmt;

use chrono::{DateTime, FixedOffset, Utc};
use countertop_protocol::{Regular, UsualOrder};
use unicode_normalization::{char::is_combining_mark, UnicodeNormalization};
use uuid::Uuid;

use crate::store::Summary;

/// A regular as the counter shows them: the profile, and how their visits have gone.
#[derive(Clone)]
pub struct RegularCard {
    pub regular: Regular,
    pub visit_count: u64,
    pub last_visit: Option<DateTime<Utc>>,
    /// Whether the rating of their latest rated visit was unhappy, so staff can make amends.
    pub last_rating_unhappy: bool,
}

/// Ids and counts only: a stray `{:?}` in a log line must not leak a name or phone.
impl fmt::Debug for RegularCard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegularCard")
            .field("regular", &self.regular)
            .field("visit_count", &self.visit_count)
            .field("last_visit", &self.last_visit)
            .field("last_rating_unhappy", &self.last_rating_unhappy)
            .finish()
    }
}

/// A profile as staff or the customer fill it in: a new one (`id: None`) or an edit.
/// The core stamps it (id, clock, consent times) and validates it.
#[derive(Clone)]
pub struct RegularEdit {
    pub id: Option<Uuid>,
    pub name: String,
    pub phone: Option<String>,
    pub usual: UsualOrder,
    pub dietary: Option<String>,
    /// The version of the consent text the customer was shown and agreed to.
    pub consent_version: u32,
    /// The separate consent to keep dietary or allergy notes.
    pub dietary_consent: bool,
    /// A new personal code (4 digits) to prove it is them next time; `None` keeps the
    /// code chosen before, if any. Only its salted argon2id hash is stored.
    pub code: Option<String>,
}

/// Only the id and the flags, for the same reason as [`RegularCard`].
impl fmt::Debug for RegularEdit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegularEdit")
            .field("id", &self.id)
            .field("consent_version", &self.consent_version)
            .field("dietary_consent", &self.dietary_consent)
            .finish_non_exhaustive()
    }
}

/// The manager's view of a period (usually today).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DayReport {
    pub summary: Summary,
    /// Ratings per hour of the day, by each rating's own local hour.
    pub by_hour: [u64; 24],
    /// The five reasons chosen most often, most first.
    pub top_reasons: Vec<(String, u64)>,
    /// The five latest non-empty comments, newest first.
    pub latest_comments: Vec<LatestComment>,
}

/// One comment in the day report, at the local time it was given.
#[derive(Debug, Clone, PartialEq)]
pub struct LatestComment {
    pub at: DateTime<FixedOffset>,
    pub score: u8,
    pub text: String,
}

/// Settings the manager changes on the kiosk itself. Each one, when set, wins over both
/// `kiosk.toml` and head office's survey.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct LocalSettings {
    pub default_language: Option<String>,
    pub idle_secs: Option<f64>,
    /// Whether "remember me" is offered on this kiosk.
    pub remember_me: Option<bool>,
}

/// What a search box's text asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// Nothing typed: the most recently seen regulars.
    Recent,
    /// Digits: phones ending with them first, then phones containing them.
    Phone(String),
    /// Folded words, each of which must start a word of the name.
    Words(Vec<String>),
}

impl Query {
    /// Reads a search box. Digits (with the usual phone punctuation) are a phone search;
    /// anything else is a name search, folded the way names are indexed.
    pub fn parse(text: &str) -> Query {
        let text = text.trim();
        let phoneish = |c: char| c.is_ascii_digit() || " +-().".contains(c);
        if text.chars().any(|c| c.is_ascii_digit()) && text.chars().all(phoneish) {
            return Query::Phone(countertop_protocol::phone_digits(text));
        }
        let words = words(text);
        if words.is_empty() {
            Query::Recent
        } else {
            Query::Words(words)
        }
    }
}

/// Folds text for matching: lower case, without diacritics, `đ` as `d`, so "Nguyễn",
/// "NGUYEN" and "nguyen" all match as customers and staff type them on any keyboard.
pub fn fold(text: &str) -> String {
    text.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'đ' | 'ð' => 'd',
            'ø' => 'o',
            'ł' => 'l',
            'ß' => 's',
            other => other,
        })
        .collect()
}

/// The folded words of a name (runs of letters and digits), duplicates removed.
pub fn words(text: &str) -> Vec<String> {
    let mut words: Vec<String> = fold(text)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    let mut seen = std::collections::HashSet::new();
    words.retain(|w| seen.insert(w.clone()));
    words
}

/// The smallest string greater than every string that starts with `prefix`, so that
/// `[prefix, upper)` is an index range. UTF-8 byte order is code-point order, so bumping
/// the last character is enough.
pub fn prefix_upper_bound(prefix: &str) -> String {
    let mut upper: String = prefix.to_owned();
    match upper.pop() {
        Some(last) => {
            let next = (last as u32 + 1..=char::MAX as u32)
                .find_map(char::from_u32)
                .unwrap_or(char::MAX);
            upper.push(next);
            upper
        }
        None => char::MAX.to_string(),
    }
}

/// How many digits a staff PIN has: the one place the PIN pads and the store take it from.
pub const PIN_DIGITS: std::ops::RangeInclusive<usize> = 4..=8;

/// Why a PIN is refused, if it is: [`PIN_DIGITS`] digits.
pub fn check_pin_format(pin: &str) -> Result<(), crate::refusal::Refusal> {
    if PIN_DIGITS.contains(&pin.len()) && pin.chars().all(|c| c.is_ascii_digit()) {
        Ok(())
    } else {
        Err(crate::refusal::Refusal::PinFormat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_removes_case_and_vietnamese_and_latin_diacritics() {
        assert_eq!(fold("Nguyễn Thị Đào"), "nguyen thi dao");
        assert_eq!(fold("ĐẶNG"), "dang");
        assert_eq!(fold("José Müller"), "jose muller");
        assert_eq!(fold("Phạm Hương"), "pham huong");
    }

    #[test]
    fn vietnamese_names_fold_to_what_is_typed_without_marks() {
        assert_eq!(fold("Phượng"), "phuong");
        assert_eq!(fold("Đức"), "duc");
        assert_eq!(fold("đức"), "duc");
        // Every vowel with every tone (and the breve, circumflex and horn), any case.
        for (marked, plain) in [
            ("aàáảãạăằắẳẵặâầấẩẫậ", "a"),
            ("eèéẻẽẹêềếểễệ", "e"),
            ("iìíỉĩị", "i"),
            ("oòóỏõọôồốổỗộơờớởỡợ", "o"),
            ("uùúủũụưừứửữự", "u"),
            ("yỳýỷỹỵ", "y"),
        ] {
            for c in marked.chars().chain(marked.to_uppercase().chars()) {
                assert_eq!(fold(&c.to_string()), plain, "{c}");
            }
        }
        // Text typed as base letters and combining marks (NFD) folds the same.
        let decomposed: String = "Phượng Đức".nfd().collect();
        assert_eq!(fold(&decomposed), "phuong duc");
        assert_eq!(words("TRẦN THỊ PHƯỢNG"), ["tran", "thi", "phuong"]);
    }

    #[test]
    fn names_split_into_unique_folded_words() {
        assert_eq!(words("  Trần  trần-Văn  "), ["tran", "van"]);
        assert!(words(" - ").is_empty());
    }

    #[test]
    fn queries_are_phones_names_or_recent() {
        assert_eq!(Query::parse("  "), Query::Recent);
        assert_eq!(Query::parse("+84 90-12"), Query::Phone("849012".into()));
        assert_eq!(
            Query::parse("Nguyễn t"),
            Query::Words(vec!["nguyen".into(), "t".into()])
        );
        assert_eq!(
            Query::parse("Lan 2"),
            Query::Words(vec!["lan".into(), "2".into()])
        );
    }

    #[test]
    fn the_upper_bound_closes_exactly_the_prefix_range() {
        let upper = prefix_upper_bound("ng");
        assert_eq!(upper, "nh");
        for w in ["ng", "nguyen", "ngzzz"] {
            assert!(w >= "ng" && w < upper.as_str(), "{w}");
        }
        assert!("nh" >= upper.as_str() && "nf" < "ng");
    }

    #[test]
    fn pins_have_four_to_eight_digits() {
        assert!(check_pin_format("1234").is_ok());
        assert!(check_pin_format("12345678").is_ok());
        for bad in ["123", "123456789", "12a4", "", "١٢٣٤"] {
            assert!(check_pin_format(bad).is_err(), "{bad}");
        }
    }
}
