//! Regulars: customers who asked the shop to remember them, with recorded consent.
//!
//! Three event kinds carry them to HQ, and one pull brings them back to every kiosk that
//! may see them:
//!
//! - `regular_upserted` ([`Regular`]): the whole profile, stamped with a hybrid logical
//!   clock ([`Hlc`]). Concurrent edits merge last-writer-wins on that clock, so every
//!   kiosk and HQ converge on the same profile whatever order edits arrive in.
//! - `visit` ([`Visit`]): one visit by a regular, with the rating it came with, if any.
//!   Visits are facts with their own ids: counting them is a union, never a sum.
//! - `regular_erased` ([`RegularErased`]): "forget me". It carries only the id and the
//!   time. HQ deletes the profile at once and refuses later uploads for that id.
//!
//! Personal fields (name, phone, notes, dietary notes) are never shown by `Debug`, so a
//! stray `{:?}` in a log line cannot leak them.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::values::{ReasonSlug, ValidationError};

/// Longest name or nickname, in characters.
pub const MAX_NAME_CHARS: usize = 40;
/// Fewest and most digits in a phone number.
pub const PHONE_DIGITS: std::ops::RangeInclusive<usize> = 6..=15;
/// Longest free note (on the usual order, or dietary), in characters.
pub const MAX_NOTE_CHARS: usize = 200;
/// Most extras on one usual order.
pub const MAX_EXTRAS: usize = 8;

/// A hybrid logical clock timestamp: wall time in milliseconds, a counter that orders
/// events within one millisecond (or while the wall clock stands still or goes back), and
/// the node (device) id that breaks the last ties. The derived order is the merge order.
///
/// `wall_ms` is within `0..=`[`Hlc::MAX_WALL_MS`] (until the year 33658): the text form
/// that HQ compares holds 15 digits, so only there do text order and clock order agree.
/// [`Regular::new`] refuses a profile stamped outside that range, [`Hlc::from_sortable`]
/// never reads one and [`Hlc::tick`] never makes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Hlc {
    pub wall_ms: i64,
    pub counter: u32,
    pub node: Uuid,
}

/// Widths of the text form's three fields, and its length with the two dashes.
const WALL_DIGITS: usize = 15;
const COUNTER_DIGITS: usize = 10;
const NODE_HEX: usize = 32;
const SORTABLE_LEN: usize = WALL_DIGITS + 1 + COUNTER_DIGITS + 1 + NODE_HEX;

impl Hlc {
    /// The latest wall time a stamp can carry: the most the 15-digit text form holds.
    pub const MAX_WALL_MS: i64 = 999_999_999_999_999;

    /// Whether `wall_ms` is one the text form holds (`0..=MAX_WALL_MS`).
    pub fn in_range(&self) -> bool {
        (0..=Hlc::MAX_WALL_MS).contains(&self.wall_ms)
    }

    /// The stamp for a local edit: later than `last` (the newest stamp this node has seen)
    /// and than the wall clock. A counter that would overflow moves the wall time on by
    /// one millisecond instead, so the edit still orders after `last`; a wall clock outside
    /// the representable range (before 1970, or after the year 33658) is clamped into it.
    pub fn tick(last: Option<Hlc>, now_ms: i64, node: Uuid) -> Hlc {
        let now_ms = now_ms.clamp(0, Hlc::MAX_WALL_MS);
        match last {
            Some(l) if l.wall_ms >= now_ms => match l.counter.checked_add(1) {
                Some(counter) => Hlc {
                    wall_ms: l.wall_ms,
                    counter,
                    node,
                },
                None if l.wall_ms < Hlc::MAX_WALL_MS => Hlc {
                    wall_ms: l.wall_ms + 1,
                    counter: 0,
                    node,
                },
                // The very last stamp there is: nothing can order after it.
                None => Hlc { node, ..l },
            },
            _ => Hlc {
                wall_ms: now_ms,
                counter: 0,
                node,
            },
        }
    }

    /// The newest stamp a node has seen after receiving `remote`: its clock moves past
    /// every stamp it has observed, so its next edit orders after them.
    pub fn observe(last: Option<Hlc>, remote: Hlc) -> Hlc {
        match last {
            Some(l) if l >= remote => l,
            _ => remote,
        }
    }

    /// A fixed-width text form whose byte order is the clock's order, for databases:
    /// `WWWWWWWWWWWWWWW-CCCCCCCCCC-<node, 32 lowercase hex digits>`. A `wall_ms` outside
    /// `0..=MAX_WALL_MS` (which no parsed or ticked stamp has) is clamped into it.
    pub fn to_sortable(&self) -> String {
        format!(
            "{:015}-{:010}-{}",
            self.wall_ms.clamp(0, Hlc::MAX_WALL_MS),
            self.counter,
            self.node.simple()
        )
    }

    /// Parse [`Hlc::to_sortable`]'s output, and nothing else: any other spelling of a
    /// clock (no padding, a sign, a hyphenated or uppercase node) would sort differently
    /// from the clock it names.
    pub fn from_sortable(s: &str) -> Option<Hlc> {
        let b = s.as_bytes();
        if b.len() != SORTABLE_LEN
            || b[WALL_DIGITS] != b'-'
            || b[WALL_DIGITS + 1 + COUNTER_DIGITS] != b'-'
        {
            return None;
        }
        let (wall, rest) = b.split_at(WALL_DIGITS);
        let (counter, node) = rest[1..].split_at(COUNTER_DIGITS);
        let node = &node[1..];
        let digits = |part: &[u8]| part.iter().all(u8::is_ascii_digit);
        let lower_hex = |part: &[u8]| part.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
        if !digits(wall) || !digits(counter) || !lower_hex(node) {
            return None;
        }
        // Every byte is ASCII now, so these slices are whole strings.
        Some(Hlc {
            wall_ms: std::str::from_utf8(wall).ok()?.parse().ok()?,
            counter: std::str::from_utf8(counter).ok()?.parse().ok()?,
            node: Uuid::try_parse_ascii(node).ok()?,
        })
    }
}

/// What the customer agreed to, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Consent {
    /// The version of the consent text that was shown (`RememberMe::consent_version`).
    pub version: u32,
    pub given_at: DateTime<Utc>,
    /// The separate, explicit consent to keep dietary or allergy notes. Without it, no
    /// dietary note may be stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dietary_given_at: Option<DateTime<Utc>>,
}

/// The usual order, built from the shop's menu (slugs from [`crate::config::Menu`]) plus
/// a free note.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsualOrder {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<ReasonSlug>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<ReasonSlug>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub milk: Option<ReasonSlug>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extras: Vec<ReasonSlug>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl fmt::Debug for UsualOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UsualOrder")
            .field("item", &self.item)
            .field("size", &self.size)
            .field("milk", &self.milk)
            .field("extras", &self.extras)
            .field("note", &self.note.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The unchecked fields of a regular's profile, as a kiosk fills them in and as they
/// travel in a `regular_upserted` event and in a pull.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewRegular {
    pub regular_id: Uuid,
    pub hlc: Hlc,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default)]
    pub usual: UsualOrder,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dietary: Option<String>,
    pub consent: Consent,
    /// The argon2id hash (a PHC string, salted) of the personal code the regular chose, which
    /// proves it is them before their record opens on a kiosk. Synced with the profile so
    /// the code works at every store that sees it. `None` for regulars who joined before
    /// codes existed: only staff can open their record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_hash: Option<String>,
}

/// Longest stored code hash, in characters (an argon2id PHC string is about 97).
pub const MAX_CODE_HASH_CHARS: usize = 200;

/// A regular's profile, valid by construction: a name, digits-only phone, notes within
/// their limits, and dietary notes only with their own consent.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "NewRegular", into = "NewRegular")]
pub struct Regular(NewRegular);

impl fmt::Debug for Regular {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Regular")
            .field("regular_id", &self.0.regular_id)
            .field("hlc", &self.0.hlc)
            .field("name", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for NewRegular {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewRegular")
            .field("regular_id", &self.regular_id)
            .field("hlc", &self.hlc)
            .finish_non_exhaustive()
    }
}

/// Keep only the digits of a phone number as typed ("+84 90-123 4567" → "84901234567").
pub fn phone_digits(typed: &str) -> String {
    typed.chars().filter(char::is_ascii_digit).collect()
}

fn check_len(field: &'static str, value: &str, max: usize) -> Result<(), ValidationError> {
    let len = value.chars().count();
    if len > max {
        return Err(ValidationError::TooLong { field, len, max });
    }
    Ok(())
}

impl Regular {
    pub fn new(mut n: NewRegular) -> Result<Regular, ValidationError> {
        let invalid = |m: &str| Err(ValidationError::InvalidRegular(m.to_owned()));
        n.name = n.name.trim().to_owned();
        if n.name.is_empty() {
            return invalid("a regular needs a name or nickname");
        }
        check_len("name", &n.name, MAX_NAME_CHARS)?;
        if !n.hlc.in_range() {
            return invalid("the clock stamp's wall_ms must be within 0..=999999999999999");
        }
        if let Some(p) = &n.phone {
            let digits = phone_digits(p);
            if !PHONE_DIGITS.contains(&digits.len()) {
                return invalid("a phone number has 6 to 15 digits");
            }
            n.phone = Some(digits);
        }
        if n.usual.extras.len() > MAX_EXTRAS {
            return invalid("a usual order has at most 8 extras");
        }
        for note in [&mut n.usual.note, &mut n.dietary] {
            if let Some(s) = note {
                *s = s.trim().to_owned();
                if s.is_empty() {
                    *note = None;
                }
            }
        }
        if let Some(note) = &n.usual.note {
            check_len("note", note, MAX_NOTE_CHARS)?;
        }
        if let Some(d) = &n.dietary {
            check_len("dietary", d, MAX_NOTE_CHARS)?;
            if n.consent.dietary_given_at.is_none() {
                return invalid("dietary notes need their own consent");
            }
        }
        if let Some(hash) = &n.code_hash {
            check_len("code_hash", hash, MAX_CODE_HASH_CHARS)?;
            if !hash.starts_with("$argon2id$") {
                return invalid("a personal code is kept only as an argon2id hash");
            }
        }
        Ok(Regular(n))
    }

    pub fn id(&self) -> Uuid {
        self.0.regular_id
    }
    pub fn hlc(&self) -> Hlc {
        self.0.hlc
    }
    pub fn name(&self) -> &str {
        &self.0.name
    }
    pub fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }
    pub fn usual(&self) -> &UsualOrder {
        &self.0.usual
    }
    pub fn dietary(&self) -> Option<&str> {
        self.0.dietary.as_deref()
    }
    pub fn consent(&self) -> &Consent {
        &self.0.consent
    }
    /// The hash of the regular's personal code, if they chose one.
    pub fn code_hash(&self) -> Option<&str> {
        self.0.code_hash.as_deref()
    }
    /// The unchecked fields, to edit and build again.
    pub fn to_new(&self) -> NewRegular {
        self.0.clone()
    }
}

impl TryFrom<NewRegular> for Regular {
    type Error = ValidationError;
    fn try_from(n: NewRegular) -> Result<Self, Self::Error> {
        Regular::new(n)
    }
}

impl From<Regular> for NewRegular {
    fn from(r: Regular) -> NewRegular {
        r.0
    }
}

/// A visit by a regular: "served the usual" at the counter, or a rating given by a
/// customer who then identified as that regular.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Visit {
    pub regular_id: Uuid,
    /// The rating given on this visit, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating_id: Option<Uuid>,
    /// Whether that rating was unhappy (one of the two lowest faces). `None` without a
    /// rating.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unhappy: Option<bool>,
}

/// "Forget me": only the id and the time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegularErased {
    pub regular_id: Uuid,
    pub erased_at: DateTime<Utc>,
}

/// One visit as a pull returns it: the visit event's id and time, so a kiosk can merge
/// visits from every device by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VisitRecord {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub visit: Visit,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(n: u8) -> Uuid {
        Uuid::from_bytes([n; 16])
    }

    fn sample() -> NewRegular {
        NewRegular {
            regular_id: Uuid::now_v7(),
            hlc: Hlc::tick(None, 1_700_000_000_000, node(1)),
            name: "  Lan ".into(),
            phone: Some("+84 90-123 4567".into()),
            usual: UsualOrder {
                item: Some(ReasonSlug::new("latte").expect("slug")),
                note: Some("   ".into()),
                ..UsualOrder::default()
            },
            dietary: None,
            consent: Consent {
                version: 1,
                given_at: Utc::now(),
                dietary_given_at: None,
            },
            code_hash: None,
        }
    }

    #[test]
    fn hlc_ticks_past_a_clock_that_stands_still_or_goes_back() {
        let a = Hlc::tick(None, 1000, node(1));
        let b = Hlc::tick(Some(a), 1000, node(1));
        let c = Hlc::tick(Some(b), 900, node(1));
        assert!(a < b && b < c, "{a:?} {b:?} {c:?}");
        let d = Hlc::tick(Some(c), 2000, node(1));
        assert_eq!((d.wall_ms, d.counter), (2000, 0));
        // Seeing a later remote stamp moves the local clock past it.
        let remote = Hlc {
            wall_ms: 5000,
            counter: 3,
            node: node(2),
        };
        let seen = Hlc::observe(Some(d), remote);
        assert!(Hlc::tick(Some(seen), 2001, node(1)) > remote);
    }

    #[test]
    fn hlc_sortable_text_orders_like_the_clock() {
        let stamps = [
            Hlc {
                wall_ms: 9,
                counter: 10,
                node: node(9),
            },
            Hlc {
                wall_ms: 10,
                counter: 0,
                node: node(1),
            },
            Hlc {
                wall_ms: 10,
                counter: 0,
                node: node(2),
            },
            Hlc {
                wall_ms: 10,
                counter: 2,
                node: node(1),
            },
        ];
        for w in stamps.windows(2) {
            assert!(w[0] < w[1]);
            assert!(w[0].to_sortable() < w[1].to_sortable());
        }
        for s in stamps {
            assert_eq!(Hlc::from_sortable(&s.to_sortable()), Some(s));
        }
    }

    // Regression (fuzz/regressions/hlc/unpadded-text-accepted): `from_sortable` read a
    // 7-digit wall time, so two texts named one clock and sorted apart from it.
    #[test]
    fn hlc_text_form_accepts_only_its_own_spelling() {
        let h = Hlc {
            wall_ms: 10_980,
            counter: 0,
            node: Uuid::parse_str("0000080002000030000000012c300000").expect("uuid"),
        };
        let canonical = h.to_sortable();
        assert_eq!(
            canonical,
            "000000000010980-0000000000-0000080002000030000000012c300000"
        );
        assert_eq!(Hlc::from_sortable(&canonical), Some(h));
        for other in [
            "0010980-0000000000-0000080002000030000000012c300000",
            "0000000000010980-0000000000-0000080002000030000000012c300000",
            "+00000000010980-0000000000-0000080002000030000000012c300000",
            "000000000010980-0000000000-0000080002000030000000012C300000",
            "000000000010980-0000000000-00000800-0200-0030-0000-00012c300000",
            "000000000010980-9999999999-0000080002000030000000012c300000",
            "000000000010980-0000000000-0000080002000030000000012c30000",
            "000000000010980-0000000000-0000080002000030000000012c30000é",
        ] {
            assert_eq!(Hlc::from_sortable(other), None, "{other}");
        }
    }

    // Regression (fuzz/regressions/hlc/tick-out-of-text-range): a wall clock past what the
    // 15-digit text form holds made a stamp whose text sorted before older ones.
    #[test]
    fn hlc_tick_stays_within_the_text_form() {
        let past = Hlc::tick(None, 1_000_000_000_000_000, node(1));
        assert_eq!(past.wall_ms, Hlc::MAX_WALL_MS);
        assert_eq!(Hlc::from_sortable(&past.to_sortable()), Some(past));
        let before_1970 = Hlc::tick(None, -5, node(1));
        assert_eq!(before_1970.wall_ms, 0);
        let older = Hlc {
            wall_ms: 999_999_999_999_998,
            counter: 0,
            node: node(1),
        };
        assert!(older.to_sortable() < past.to_sortable());
    }

    #[test]
    fn hlc_tick_orders_after_a_stamp_with_a_full_counter() {
        let full = Hlc {
            wall_ms: 5_000,
            counter: u32::MAX,
            node: node(9),
        };
        let next = Hlc::tick(Some(full), 4_000, node(1));
        assert!(next > full, "{next:?} does not follow {full:?}");
        assert!(next.to_sortable() > full.to_sortable());
    }

    #[test]
    fn a_profile_stamped_outside_the_text_form_is_refused() {
        for wall_ms in [Hlc::MAX_WALL_MS + 1, -1, i64::MIN, i64::MAX] {
            let mut n = sample();
            n.hlc.wall_ms = wall_ms;
            let err = Regular::new(n).expect_err("out of range");
            assert_eq!(err.code(), "invalid_regular", "{wall_ms}");
        }
        let mut n = sample();
        n.hlc.wall_ms = Hlc::MAX_WALL_MS;
        assert!(Regular::new(n).is_ok());
    }

    #[test]
    fn profile_is_normalized_and_checked() {
        let r = Regular::new(sample()).expect("valid");
        assert_eq!(r.name(), "Lan");
        assert_eq!(r.phone(), Some("84901234567"));
        assert_eq!(r.usual().note, None);

        let mut n = sample();
        n.name = " ".into();
        assert_eq!(Regular::new(n).unwrap_err().code(), "invalid_regular");
        let mut n = sample();
        n.phone = Some("12-34".into());
        assert!(Regular::new(n).is_err());
        let mut n = sample();
        n.name = "x".repeat(MAX_NAME_CHARS + 1);
        assert_eq!(Regular::new(n).unwrap_err().code(), "field_too_long");
    }

    #[test]
    fn dietary_notes_need_their_own_consent() {
        let mut n = sample();
        n.dietary = Some("nut allergy".into());
        assert!(Regular::new(n.clone()).is_err());
        n.consent.dietary_given_at = Some(Utc::now());
        assert_eq!(
            Regular::new(n).expect("valid").dietary(),
            Some("nut allergy")
        );
    }

    #[test]
    fn debug_output_hides_personal_fields() {
        let mut n = sample();
        n.dietary = Some("peanut".into());
        n.consent.dietary_given_at = Some(Utc::now());
        n.usual.note = Some("extra hot".into());
        let r = Regular::new(n.clone()).expect("valid");
        for shown in [
            format!("{r:?}"),
            format!("{n:?}"),
            format!("{:?}", r.usual()),
        ] {
            for secret in ["Lan", "8490", "peanut", "extra hot"] {
                assert!(!shown.contains(secret), "{shown} shows {secret}");
            }
        }
    }

    #[test]
    fn a_personal_code_travels_only_as_an_argon2id_hash() {
        let mut n = sample();
        n.code_hash = Some("4711".into());
        assert_eq!(
            Regular::new(n.clone()).unwrap_err().code(),
            "invalid_regular"
        );
        n.code_hash = Some(format!(
            "$argon2id$v=19${}",
            "x".repeat(MAX_CODE_HASH_CHARS)
        ));
        assert_eq!(
            Regular::new(n.clone()).unwrap_err().code(),
            "field_too_long"
        );
        n.code_hash = Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into());
        let r = Regular::new(n).expect("valid");
        let v = serde_json::to_value(&r).expect("serializes");
        assert_eq!(
            v["code_hash"],
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"
        );
        // A profile from before codes existed still reads, without one.
        let mut old = v.clone();
        old.as_object_mut().expect("object").remove("code_hash");
        let back: Regular = serde_json::from_value(old).expect("deserializes");
        assert_eq!(back.code_hash(), None);
    }

    #[test]
    fn profile_round_trips_through_json() {
        let r = Regular::new(sample()).expect("valid");
        let v = serde_json::to_value(&r).expect("serializes");
        assert_eq!(v["name"], "Lan");
        let back: Regular = serde_json::from_value(v).expect("deserializes");
        assert_eq!(back, r);
    }
}
