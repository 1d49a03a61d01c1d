//! The customer's feedback, in the shop's words: a score on a scale of faces, the reasons
//! that stood out, a comment, and the rule that flags a suspected repeat press.
//!
//! Values are checked once, when they are made ("parse, don't validate"); everything past
//! this module can trust them.

use std::time::Duration;

use crate::clock::Tick;

/// The shop's vocabulary is the wire protocol's, so kiosk and HQ hold the same values and
/// apply the same rules (satisfied, unhappy, the comment limit, reason slugs).
pub use countertop_protocol::{Comment, Nps, ReasonSlug, Scale, Score, MAX_COMMENT_CHARS};

/// Whether a rating asks for praise chips or problem chips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sentiment {
    Happy,
    Unhappy,
}

impl Sentiment {
    /// Praise after one of the top two faces ([`Score::is_satisfied`]), problems otherwise.
    pub fn of(score: Score) -> Sentiment {
        if score.is_satisfied() {
            Sentiment::Happy
        } else {
            Sentiment::Unhappy
        }
    }
}

/// What the customer added after the tap: the reasons picked, a comment, and the answer
/// to the survey's NPS question if it asks one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Details {
    pub reasons: Vec<ReasonSlug>,
    pub comment: Option<Comment>,
    pub nps: Option<Nps>,
}

impl Details {
    pub fn is_empty(&self) -> bool {
        self.reasons.is_empty() && self.comment.is_none() && self.nps.is_none()
    }
}

/// Flags a rating that comes too soon after the previous one: a child pressing every face,
/// or a customer hammering the same one. Flagged ratings are kept, but left out of the
/// statistics by default. Time is the kiosk's monotonic clock ([`crate::clock::tick`]).
#[derive(Debug)]
pub struct RepeatFilter {
    window: Duration,
    last: Option<Tick>,
}

impl RepeatFilter {
    pub fn new(window: Duration) -> Self {
        RepeatFilter { window, last: None }
    }

    /// Records a rating made at `at`; true if it is a suspected repeat.
    pub fn is_repeat(&mut self, at: Tick) -> bool {
        let repeat = self.last.is_some_and(|last| at.since(last) < self.window);
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
    fn only_the_top_two_faces_ask_for_praise() {
        let of = |scale: Scale| -> Vec<Sentiment> {
            (1..=i64::from(scale.faces()))
                .map(|v| Sentiment::of(Score::new(v, scale).unwrap()))
                .collect()
        };
        use Sentiment::*;
        assert_eq!(of(Scale::FIVE), [Unhappy, Unhappy, Unhappy, Happy, Happy]);
        assert_eq!(of(Scale::FOUR), [Unhappy, Unhappy, Happy, Happy]);
    }

    #[test]
    fn a_rating_inside_the_window_is_a_suspected_repeat() {
        let mut filter = RepeatFilter::new(Duration::from_secs(4));
        let t = |ms| Tick::at(Duration::from_millis(ms));
        assert!(!filter.is_repeat(t(10_000)));
        assert!(filter.is_repeat(t(13_999)));
        // The window runs from the latest press, so hammering keeps being flagged.
        assert!(filter.is_repeat(t(17_000)));
        assert!(!filter.is_repeat(t(21_001)));
    }

    #[test]
    fn an_nps_answer_alone_is_details_worth_sending() {
        assert!(Details::default().is_empty());
        let answered = Details {
            nps: Some(Nps::new(0).unwrap()),
            ..Details::default()
        };
        assert!(!answered.is_empty());
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
