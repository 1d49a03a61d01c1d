//! Small values that must be valid wherever they appear: the number of faces, slugs for
//! touchpoints and reasons, the free-text comment and the NPS score. Each validates once,
//! when it is built or deserialized ("parse, don't validate").

use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest comment a customer may leave, in characters.
pub const MAX_COMMENT_CHARS: usize = 500;
/// Longest slug (touchpoint or reason), in bytes.
pub const MAX_SLUG_LEN: usize = 64;
/// Most reasons one rating may carry.
pub const MAX_REASONS: usize = 16;

/// Why a value was refused. `code()` is a stable machine-readable name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error("scale must be 4 or 5 faces, not {0}")]
    UnsupportedScale(u8),
    #[error("score {score} is out of range 1..={scale} for a {scale}-face scale")]
    ScoreOutOfRange { score: i64, scale: u8 },
    #[error("NPS score {0} is out of range 0..=10")]
    NpsOutOfRange(i64),
    #[error("comment is {chars} characters long; the limit is {max}")]
    CommentTooLong { chars: usize, max: usize },
    #[error(
        "{what} {value:?} is not a slug: use 1 to {max} lowercase letters, digits or '_'",
        max = MAX_SLUG_LEN
    )]
    InvalidSlug { what: &'static str, value: String },
    #[error("{count} reasons given; the limit is {max}")]
    TooManyReasons { count: usize, max: usize },
    #[error("{field} is too long: {len} characters, the limit is {max}")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{0}")]
    InvalidConfig(String),
    #[error("{0}")]
    InvalidRegular(String),
    #[error("{}", problem.explain(field))]
    UnstorableText {
        field: String,
        problem: crate::text::TextProblem,
    },
}

impl ValidationError {
    /// A stable name for this kind of error, for programs to match on.
    pub fn code(&self) -> &'static str {
        match self {
            ValidationError::UnsupportedScale(_) => "unsupported_scale",
            ValidationError::ScoreOutOfRange { .. } => "score_out_of_range",
            ValidationError::NpsOutOfRange(_) => "nps_out_of_range",
            ValidationError::CommentTooLong { .. } => "comment_too_long",
            ValidationError::InvalidSlug { .. } => "invalid_slug",
            ValidationError::TooManyReasons { .. } => "too_many_reasons",
            ValidationError::TooLong { .. } => "field_too_long",
            ValidationError::InvalidConfig(_) => "invalid_config",
            ValidationError::InvalidRegular(_) => "invalid_regular",
            ValidationError::UnstorableText { .. } => "unstorable_text",
        }
    }
}

/// How many faces the survey shows: 4 or 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Scale(u8);

impl Scale {
    pub const FOUR: Scale = Scale(4);
    pub const FIVE: Scale = Scale(5);

    pub fn new(faces: u8) -> Result<Scale, ValidationError> {
        match faces {
            4 | 5 => Ok(Scale(faces)),
            other => Err(ValidationError::UnsupportedScale(other)),
        }
    }

    pub fn faces(self) -> u8 {
        self.0
    }

    /// Check that `score` is one of this scale's faces (1 is the worst).
    pub fn check_score(self, score: i64) -> Result<u8, ValidationError> {
        if (1..=i64::from(self.0)).contains(&score) {
            Ok(score as u8)
        } else {
            Err(ValidationError::ScoreOutOfRange {
                score,
                scale: self.0,
            })
        }
    }

    /// CSAT counts the top two faces as satisfied. The one place this rule lives: the
    /// kiosk's chips and counts and HQ's ingest all ask here.
    pub fn is_satisfied(self, score: u8) -> bool {
        score + 1 >= self.0
    }

    /// The two lowest faces are unhappy: the visit a barista should make amends for, and
    /// the rating after which the kiosk apologises instead of asking to remember anyone.
    /// (On five faces the neutral middle face is neither satisfied nor unhappy.)
    pub fn is_unhappy(self, score: u8) -> bool {
        score <= 2
    }

    /// The face drawn for each score, worst first, as a mood from 0 (very unhappy) to 4
    /// (very happy). Four faces skip the neutral mood 2.
    pub fn moods(self) -> &'static [u8] {
        if self.0 == 4 {
            &[0, 1, 3, 4]
        } else {
            &[0, 1, 2, 3, 4]
        }
    }
}

/// One face of a scale, checked against it: 1 (the worst) to the number of faces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Score {
    scale: Scale,
    value: u8,
}

impl Score {
    pub fn new(value: i64, scale: Scale) -> Result<Score, ValidationError> {
        Ok(Score {
            value: scale.check_score(value)?,
            scale,
        })
    }
    pub fn value(self) -> u8 {
        self.value
    }
    pub fn scale(self) -> Scale {
        self.scale
    }
    /// One of the top two faces ([`Scale::is_satisfied`]).
    pub fn is_satisfied(self) -> bool {
        self.scale.is_satisfied(self.value)
    }
    /// One of the two lowest faces ([`Scale::is_unhappy`]).
    pub fn is_unhappy(self) -> bool {
        self.scale.is_unhappy(self.value)
    }
}

impl TryFrom<u8> for Scale {
    type Error = ValidationError;
    fn try_from(v: u8) -> Result<Self, Self::Error> {
        Scale::new(v)
    }
}

impl From<Scale> for u8 {
    fn from(s: Scale) -> u8 {
        s.0
    }
}

/// An optional 0..=10 "how likely are you to recommend us" answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u8")]
pub struct Nps(u8);

impl Nps {
    pub fn new(v: i64) -> Result<Nps, ValidationError> {
        if (0..=10).contains(&v) {
            Ok(Nps(v as u8))
        } else {
            Err(ValidationError::NpsOutOfRange(v))
        }
    }
    pub fn value(self) -> u8 {
        self.0
    }
}

impl TryFrom<i64> for Nps {
    type Error = ValidationError;
    fn try_from(v: i64) -> Result<Self, Self::Error> {
        Nps::new(v)
    }
}

impl From<Nps> for u8 {
    fn from(n: Nps) -> u8 {
        n.0
    }
}

fn check_slug(what: &'static str, value: &str) -> Result<(), ValidationError> {
    let ok = !value.is_empty()
        && value.len() <= MAX_SLUG_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ValidationError::InvalidSlug {
            what,
            value: value.chars().take(MAX_SLUG_LEN + 8).collect(),
        })
    }
}

macro_rules! slug_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Result<Self, ValidationError> {
                let value = value.into();
                check_slug($what, &value)?;
                Ok($name(value))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = ValidationError;
            fn try_from(v: String) -> Result<Self, Self::Error> {
                $name::new(v)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

slug_type!(
    /// Where in the visit the question is asked, as a slug: `visit`, `wait`, `checkout`.
    Touchpoint,
    "touchpoint"
);
slug_type!(
    /// A reason chip, as a slug: `fast_service`, `slow_service`.
    ReasonSlug,
    "reason"
);

/// A customer's free-text comment, at most [`MAX_COMMENT_CHARS`] characters. Personal
/// data: it is never logged, and `Debug` does not show it.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Comment(String);

impl Comment {
    pub fn new(value: impl Into<String>) -> Result<Comment, ValidationError> {
        let value = value.into();
        let chars = value.chars().count();
        if chars > MAX_COMMENT_CHARS {
            return Err(ValidationError::CommentTooLong {
                chars,
                max: MAX_COMMENT_CHARS,
            });
        }
        Ok(Comment(value))
    }
    /// A comment as a customer typed it: trimmed, `None` when blank, and cut at the limit
    /// (the on-screen keyboard stops there too), so it is always valid.
    pub fn typed(text: &str) -> Option<Comment> {
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

impl fmt::Debug for Comment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Comment(<{} chars>)", self.0.chars().count())
    }
}

impl TryFrom<String> for Comment {
    type Error = ValidationError;
    fn try_from(v: String) -> Result<Self, Self::Error> {
        Comment::new(v)
    }
}

impl From<Comment> for String {
    fn from(c: Comment) -> String {
        c.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_accepts_only_four_or_five_faces() {
        assert!(Scale::new(4).is_ok());
        assert!(Scale::new(5).is_ok());
        assert_eq!(Scale::new(3), Err(ValidationError::UnsupportedScale(3)));
        assert!(serde_json::from_str::<Scale>("7").is_err());
    }

    #[test]
    fn four_face_scale_refuses_a_five() {
        assert_eq!(Scale::FOUR.check_score(4), Ok(4));
        assert!(Scale::FOUR.check_score(5).is_err());
        assert!(Scale::FIVE.check_score(0).is_err());
        assert_eq!(Scale::FIVE.check_score(5), Ok(5));
    }

    #[test]
    fn csat_counts_the_top_two_faces() {
        assert!(Scale::FIVE.is_satisfied(4));
        assert!(!Scale::FIVE.is_satisfied(3));
        assert!(Scale::FOUR.is_satisfied(3));
        assert!(!Scale::FOUR.is_satisfied(2));
    }

    #[test]
    fn only_the_two_lowest_faces_are_unhappy() {
        let unhappy = |scale: Scale| -> Vec<bool> {
            (1..=scale.faces()).map(|s| scale.is_unhappy(s)).collect()
        };
        assert_eq!(unhappy(Scale::FIVE), [true, true, false, false, false]);
        assert_eq!(unhappy(Scale::FOUR), [true, true, false, false]);
        let score = Score::new(3, Scale::FIVE).expect("on the scale");
        assert!(!score.is_unhappy() && !score.is_satisfied());
        assert!(Score::new(3, Scale::FOUR)
            .expect("on the scale")
            .is_satisfied());
        assert_eq!(
            Score::new(5, Scale::FOUR)
                .expect_err("off the scale")
                .code(),
            "score_out_of_range"
        );
    }

    #[test]
    fn four_faces_have_no_neutral_mood() {
        assert_eq!(Scale::FOUR.moods(), [0, 1, 3, 4]);
        assert_eq!(Scale::FIVE.moods(), [0, 1, 2, 3, 4]);
    }

    #[test]
    fn a_typed_comment_is_trimmed_and_cut_at_the_limit() {
        assert_eq!(Comment::typed("   "), None);
        assert_eq!(Comment::typed(" hi ").expect("text").as_str(), "hi");
        let long = "é".repeat(MAX_COMMENT_CHARS + 100);
        let cut = Comment::typed(&long).expect("text");
        assert_eq!(cut.as_str().chars().count(), MAX_COMMENT_CHARS);
        assert!(Comment::new(cut.as_str()).is_ok(), "what is typed is valid");
    }

    #[test]
    fn slugs_are_lowercase_words() {
        assert!(Touchpoint::new("visit").is_ok());
        assert!(ReasonSlug::new("fast_service").is_ok());
        assert!(ReasonSlug::new("Fast Service").is_err());
        assert!(ReasonSlug::new("").is_err());
        assert!(serde_json::from_str::<Touchpoint>("\"a b\"").is_err());
    }

    #[test]
    fn comment_limit_counts_characters_not_bytes() {
        assert!(Comment::new("ẞ".repeat(MAX_COMMENT_CHARS)).is_ok());
        let err = Comment::new("x".repeat(MAX_COMMENT_CHARS + 1)).expect_err("too long");
        assert_eq!(err.code(), "comment_too_long");
    }

    #[test]
    fn comment_debug_hides_the_text() {
        let c = Comment::new("call me on 555").expect("valid");
        assert!(!format!("{c:?}").contains("555"));
    }

    #[test]
    fn nps_is_zero_to_ten() {
        assert!(Nps::new(0).is_ok() && Nps::new(10).is_ok());
        assert!(Nps::new(11).is_err() && Nps::new(-1).is_err());
    }
}
