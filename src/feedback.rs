//! The customer's feedback, in the shop's words: a score on a scale of faces, the reasons
//! that stood out, a comment, and the rule that flags a suspected repeat press.
//!
//! Values are checked once, when they are made ("parse, don't validate"); everything past
//! this module can trust them.

use std::fmt;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The longest comment a customer can leave, in characters.
pub const MAX_COMMENT_CHARS: usize = 500;

/// How many faces the kiosk shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum Scale {
    /// Four faces, no neutral one: the customer has to lean one way.
    Four,
    /// Five faces, with a neutral one in the middle.
    Five,
}

impl Scale {
    pub fn faces(self) -> u8 {
        match self {
            Scale::Four => 4,
            Scale::Five => 5,
        }
    }

    /// The face drawn for each score, as a mood from 0 (very unhappy) to 4 (very happy).
    /// Four faces skip the neutral mood 2.
    pub fn moods(self) -> &'static [u8] {
        match self {
            Scale::Four => &[0, 1, 3, 4],
            Scale::Five => &[0, 1, 2, 3, 4],
        }
    }
}

impl TryFrom<u8> for Scale {
    type Error = String;
    fn try_from(faces: u8) -> Result<Self, Self::Error> {
        match faces {
            4 => Ok(Scale::Four),
            5 => Ok(Scale::Five),
            other => Err(format!("the scale must have 4 or 5 faces, not {other}")),
        }
    }
}

impl From<Scale> for u8 {
    fn from(scale: Scale) -> u8 {
        scale.faces()
    }
}

/// Whether a rating asks for praise chips or problem chips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sentiment {
    Happy,
    Unhappy,
}

/// A score on a given scale, 1 (worst) to the number of faces (best).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Score {
    value: u8,
    scale: Scale,
}

/// A score outside its scale.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("score {value} is outside the scale of 1 to {faces}")]
pub struct ScoreOutOfRange {
    pub value: i64,
    pub faces: u8,
}

impl Score {
    pub fn new(value: i64, scale: Scale) -> Result<Self, ScoreOutOfRange> {
        match u8::try_from(value) {
            Ok(v) if (1..=scale.faces()).contains(&v) => Ok(Score { value: v, scale }),
            _ => Err(ScoreOutOfRange {
                value,
                faces: scale.faces(),
            }),
        }
    }

    pub fn value(self) -> u8 {
        self.value
    }

    pub fn scale(self) -> Scale {
        self.scale
    }

    /// The top two faces are happy ("CSAT"); the rest ask what went wrong.
    pub fn sentiment(self) -> Sentiment {
        if self.value + 1 >= self.scale.faces() {
            Sentiment::Happy
        } else {
            Sentiment::Unhappy
        }
    }
}

/// The id of a reason chip, such as `fast_service`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Reason(String);

impl Reason {
    pub fn new(id: impl Into<String>) -> Self {
        Reason(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A customer's free-text comment: trimmed, never empty, at most [`MAX_COMMENT_CHARS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment(String);

impl Comment {
    /// `None` for a blank comment; a longer one is cut at the limit, as the keyboard does.
    pub fn new(text: &str) -> Option<Self> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return None;
        }
        Some(Comment(trimmed.chars().take(MAX_COMMENT_CHARS).collect()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What the customer added after the tap: the reasons picked and a comment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Details {
    pub reasons: Vec<Reason>,
    pub comment: Option<Comment>,
}

impl Details {
    pub fn is_empty(&self) -> bool {
        self.reasons.is_empty() && self.comment.is_none()
    }
}

/// Flags a rating that comes too soon after the previous one: a child pressing every face,
/// or a customer hammering the same one. Flagged ratings are kept, but left out of the
/// statistics by default.
#[derive(Debug)]
pub struct RepeatFilter {
    window: Duration,
    last: Option<Instant>,
}

impl RepeatFilter {
    pub fn new(window: Duration) -> Self {
        RepeatFilter { window, last: None }
    }

    /// Records a rating made at `at`; true if it is a suspected repeat.
    pub fn is_repeat(&mut self, at: Instant) -> bool {
        let repeat = self
            .last
            .is_some_and(|last| at.saturating_duration_since(last) < self.window);
        self.last = Some(at);
        repeat
    }

    pub fn set_window(&mut self, window: Duration) {
        self.window = window;
    }
}

/// Adds `key` to a comment being typed, composing Vietnamese letters as
/// [`crate::telex`] does (Telex when `telex` is on, tone keys always). A key that would take
/// the comment past [`MAX_COMMENT_CHARS`] is dropped; a tone on a full comment still lands.
pub fn type_into_comment(comment: &str, key: &str, telex: bool) -> String {
    key.chars().fold(comment.to_owned(), |comment, c| {
        let typed = crate::telex::type_char(&comment, c, telex);
        if typed.chars().count() <= MAX_COMMENT_CHARS {
            typed
        } else {
            comment
        }
    })
}

/// Removes the last letter of a comment being typed ("tuyệt" → "tuyệ").
pub fn backspace_comment(comment: &str) -> String {
    crate::telex::backspace(comment)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_outside_the_scale_are_refused() {
        assert!(Score::new(5, Scale::Five).is_ok());
        assert_eq!(
            Score::new(5, Scale::Four).unwrap_err().to_string(),
            "score 5 is outside the scale of 1 to 4"
        );
        assert!(Score::new(0, Scale::Five).is_err());
        assert!(Score::new(-1, Scale::Five).is_err());
        assert!(Score::new(300, Scale::Five).is_err());
    }

    #[test]
    fn only_the_top_two_faces_are_happy() {
        let sentiments: Vec<_> = (1..=5)
            .map(|v| Score::new(v, Scale::Five).unwrap().sentiment())
            .collect();
        use Sentiment::*;
        assert_eq!(sentiments, [Unhappy, Unhappy, Unhappy, Happy, Happy]);
        let four: Vec<_> = (1..=4)
            .map(|v| Score::new(v, Scale::Four).unwrap().sentiment())
            .collect();
        assert_eq!(four, [Unhappy, Unhappy, Happy, Happy]);
    }

    #[test]
    fn four_faces_have_no_neutral_mood() {
        assert_eq!(Scale::Four.moods(), [0, 1, 3, 4]);
        assert_eq!(Scale::Five.moods().len(), 5);
    }

    #[test]
    fn a_rating_inside_the_window_is_a_suspected_repeat() {
        let mut filter = RepeatFilter::new(Duration::from_secs(4));
        let t0 = Instant::now();
        assert!(!filter.is_repeat(t0));
        assert!(filter.is_repeat(t0 + Duration::from_millis(3_999)));
        // The window runs from the latest press, so hammering keeps being flagged.
        assert!(filter.is_repeat(t0 + Duration::from_millis(7_000)));
        assert!(!filter.is_repeat(t0 + Duration::from_millis(11_001)));
    }

    #[test]
    fn comments_are_trimmed_and_capped() {
        assert_eq!(Comment::new("   "), None);
        assert_eq!(Comment::new(" hi ").unwrap().as_str(), "hi");
        let long = "é".repeat(600);
        assert_eq!(Comment::new(&long).unwrap().as_str().chars().count(), 500);
    }

    #[test]
    fn typing_stops_at_the_limit_and_backspace_removes_one_character() {
        let full = "a".repeat(MAX_COMMENT_CHARS - 1);
        let typed = type_into_comment(&full, "bc", false);
        assert_eq!(typed.chars().count(), MAX_COMMENT_CHARS);
        assert!(typed.ends_with('b'));
        assert_eq!(type_into_comment(&typed, "x", true), typed);
        assert_eq!(backspace_comment("cà phê"), "cà ph");
        assert_eq!(backspace_comment(""), "");
    }

    #[test]
    fn telex_composes_in_a_comment_and_a_full_comment_still_takes_a_tone() {
        assert_eq!(
            type_into_comment("", "phucj vuj chaamj", true),
            "phục vụ chậm"
        );
        assert_eq!(type_into_comment("", "phucj", false), "phucj");
        let full = format!("{}cham", "a ".repeat((MAX_COMMENT_CHARS - 4) / 2));
        assert_eq!(full.chars().count(), MAX_COMMENT_CHARS);
        let toned = type_into_comment(&full, "j", true);
        assert!(toned.ends_with("chạm"), "{toned}");
        assert_eq!(toned.chars().count(), MAX_COMMENT_CHARS);
        // Undoing the tone would need one more character than the limit: dropped.
        assert_eq!(type_into_comment(&toned, "j", true), toned);
        assert_eq!(backspace_comment("tuyệt"), "tuyệ");
    }
}
