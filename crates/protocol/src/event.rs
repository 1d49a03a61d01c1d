//! The append-only facts a kiosk pushes to HQ.
//!
//! On the wire every event is one flat envelope:
//!
//! ```json
//! { "id": "<uuid v7>", "seq": 42, "device_time": "2026-11-23T08:15:00Z",
//!   "utc_offset_minutes": 420, "kind": "rating", "body": { ... } }
//! ```
//!
//! `kind` names the body's shape. A new kind (regulars, visits, erasures) is a new
//! `kind` string and body type: an older HQ rejects just that event with `unknown_kind`
//! and accepts the rest of the batch, so adding kinds is never a breaking change.
//! HQ parses each event on its own with [`Event::from_value`], so one bad event never
//! fails a batch.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::regular::{NewRegular, Regular, RegularErased, Visit};
use crate::values::{
    Comment, Nps, ReasonSlug, Scale, Touchpoint, ValidationError, MAX_COMMENT_CHARS, MAX_REASONS,
};

/// Largest UTC offset in the world is +14:00, smallest −12:00; allow ±14:00.
pub const MAX_UTC_OFFSET_MINUTES: i16 = 14 * 60;
/// Longest app version string.
pub const MAX_APP_VERSION_LEN: usize = 64;

/// Why one event was rejected. `code()` is stable; `Display` explains.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("event is malformed: {0}")]
    Malformed(String),
    #[error("unknown kind {0:?}: this HQ does not know this kind of event yet")]
    UnknownKind(String),
    #[error("utc_offset_minutes {0} is outside -840..=840")]
    BadUtcOffset(i64),
    #[error(transparent)]
    Invalid(#[from] ValidationError),
}

impl EventError {
    pub fn code(&self) -> &'static str {
        match self {
            EventError::Malformed(_) => "malformed_event",
            EventError::UnknownKind(_) => "unknown_kind",
            EventError::BadUtcOffset(_) => "invalid_utc_offset",
            EventError::Invalid(v) => v.code(),
        }
    }
}

/// One event: who, when and what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "WireEvent", into = "WireEvent")]
pub struct Event {
    id: Uuid,
    seq: u64,
    device_time: DateTime<Utc>,
    utc_offset_minutes: i16,
    body: EventBody,
}

/// The kind-specific part of an event.
// A profile (with its code hash) is the largest body; events live only while one batch is
// built or parsed, so boxing it would cost an allocation per event for no gain.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum EventBody {
    Rating(Rating),
    RatingDetails(RatingDetails),
    DeviceHealth(DeviceHealth),
    RegularUpserted(Regular),
    Visit(Visit),
    RegularErased(RegularErased),
}

impl EventBody {
    /// The `kind` string on the wire.
    pub fn kind(&self) -> &'static str {
        match self {
            EventBody::Rating(_) => "rating",
            EventBody::RatingDetails(_) => "rating_details",
            EventBody::DeviceHealth(_) => "device_health",
            EventBody::RegularUpserted(_) => "regular_upserted",
            EventBody::Visit(_) => "visit",
            EventBody::RegularErased(_) => "regular_erased",
        }
    }
}

/// The envelope exactly as it travels.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Event))]
pub(crate) struct WireEvent {
    id: Uuid,
    seq: u64,
    device_time: DateTime<Utc>,
    #[cfg_attr(feature = "openapi", schema(minimum = -840, maximum = 840))]
    utc_offset_minutes: i64,
    /// `rating`, `rating_details`, `device_health`, `regular_upserted`, `visit` or
    /// `regular_erased`; the body is the matching `New*` schema (`NewRating`, ...).
    kind: String,
    body: serde_json::Value,
}

impl Event {
    /// Build an event, checking the offset (the body is valid by construction).
    pub fn new(
        id: Uuid,
        seq: u64,
        device_time: DateTime<Utc>,
        utc_offset_minutes: i16,
        body: EventBody,
    ) -> Result<Event, EventError> {
        if utc_offset_minutes.abs() > MAX_UTC_OFFSET_MINUTES {
            return Err(EventError::BadUtcOffset(i64::from(utc_offset_minutes)));
        }
        Ok(Event {
            id,
            seq,
            device_time,
            utc_offset_minutes,
            body,
        })
    }

    /// Parse and validate one event from JSON, with a coded reason when it is refused.
    pub fn from_value(value: serde_json::Value) -> Result<Event, EventError> {
        let wire: WireEvent =
            serde_json::from_value(value).map_err(|e| EventError::Malformed(e.to_string()))?;
        Event::try_from(wire)
    }

    /// Parse and validate one event from its JSON text, with a coded reason when it is
    /// refused. Text that no store can keep is refused with `unstorable_text`: a NUL
    /// anywhere in the body, or a lone surrogate escape anywhere in the event (which no
    /// string can hold, so the event cannot even be read).
    pub fn from_json(raw: &str) -> Result<Event, EventError> {
        match serde_json::from_str::<WireEvent>(raw) {
            Ok(wire) => Event::try_from(wire),
            Err(e) => {
                // Well-formed JSON that still cannot be read as a value holds a lone
                // surrogate (the only escape that names no character).
                let surrogate = crate::text::json_may_hold_unstorable_text(raw)
                    && serde_json::from_str::<serde::de::IgnoredAny>(raw).is_ok();
                if surrogate {
                    if let Err(e) = serde_json::from_str::<serde_json::Value>(raw) {
                        return Err(EventError::Invalid(ValidationError::UnstorableText {
                            field: format!("the string at column {}", e.column()),
                            problem: crate::text::TextProblem::LoneSurrogate,
                        }));
                    }
                }
                Err(EventError::Malformed(e.to_string()))
            }
        }
    }

    /// The event id of a JSON event's text, if it has a readable one, even when the rest
    /// of the event is invalid or cannot be read.
    pub fn peek_id_json(raw: &str) -> Option<Uuid> {
        #[derive(Deserialize)]
        struct Id {
            id: Option<Uuid>,
        }
        serde_json::from_str::<Id>(raw).ok()?.id
    }

    /// The event id of a JSON event, if it has a readable one, even when the rest of the
    /// event is invalid, so a rejection can name the event it refers to.
    pub fn peek_id(value: &serde_json::Value) -> Option<Uuid> {
        value.get("id")?.as_str()?.parse().ok()
    }

    pub fn id(&self) -> Uuid {
        self.id
    }
    pub fn seq(&self) -> u64 {
        self.seq
    }
    pub fn device_time(&self) -> DateTime<Utc> {
        self.device_time
    }
    pub fn utc_offset_minutes(&self) -> i16 {
        self.utc_offset_minutes
    }
    pub fn body(&self) -> &EventBody {
        &self.body
    }
    pub fn kind(&self) -> &'static str {
        self.body.kind()
    }
}

fn body_from<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T, EventError> {
    serde_json::from_value(v).map_err(|e| EventError::Malformed(format!("body: {e}")))
}

impl TryFrom<WireEvent> for Event {
    type Error = EventError;

    fn try_from(w: WireEvent) -> Result<Self, Self::Error> {
        // Before the kind's own checks: text no store can keep is refused the same way
        // in every kind, known or not yet known.
        crate::text::check_json_text(&w.body).map_err(|e| match e {
            ValidationError::UnstorableText { field, problem } => ValidationError::UnstorableText {
                field: if field.is_empty() {
                    "body".to_owned()
                } else {
                    format!("body.{field}")
                },
                problem,
            },
            other => other,
        })?;
        let body = match w.kind.as_str() {
            "rating" => EventBody::Rating(Rating::new(body_from::<NewRating>(w.body)?)?),
            "rating_details" => {
                EventBody::RatingDetails(RatingDetails::new(body_from::<NewRatingDetails>(
                    w.body,
                )?)?)
            }
            "device_health" => {
                EventBody::DeviceHealth(DeviceHealth::new(body_from::<NewDeviceHealth>(w.body)?)?)
            }
            "regular_upserted" => {
                EventBody::RegularUpserted(Regular::new(body_from::<NewRegular>(w.body)?)?)
            }
            "visit" => EventBody::Visit(body_from::<Visit>(w.body)?),
            "regular_erased" => EventBody::RegularErased(body_from::<RegularErased>(w.body)?),
            other => {
                return Err(EventError::UnknownKind(other.chars().take(64).collect()));
            }
        };
        let offset = i16::try_from(w.utc_offset_minutes)
            .map_err(|_| EventError::BadUtcOffset(w.utc_offset_minutes))?;
        Event::new(w.id, w.seq, w.device_time, offset, body)
    }
}

impl From<Event> for WireEvent {
    fn from(e: Event) -> WireEvent {
        let kind = e.body.kind().to_owned();
        let body = match e.body {
            EventBody::Rating(r) => serde_json::to_value(NewRating::from(r)),
            EventBody::RatingDetails(d) => serde_json::to_value(NewRatingDetails::from(d)),
            EventBody::DeviceHealth(h) => serde_json::to_value(NewDeviceHealth::from(h)),
            EventBody::RegularUpserted(r) => serde_json::to_value(NewRegular::from(r)),
            EventBody::Visit(v) => serde_json::to_value(v),
            EventBody::RegularErased(e) => serde_json::to_value(e),
        }
        // Serializing plain structs of strings and numbers to a Value cannot fail.
        .unwrap_or(serde_json::Value::Null);
        WireEvent {
            id: e.id,
            seq: e.seq,
            device_time: e.device_time,
            utc_offset_minutes: i64::from(e.utc_offset_minutes),
            kind,
            body,
        }
    }
}

fn check_reasons(reasons: Vec<String>) -> Result<Vec<ReasonSlug>, ValidationError> {
    if reasons.len() > MAX_REASONS {
        return Err(ValidationError::TooManyReasons {
            count: reasons.len(),
            max: MAX_REASONS,
        });
    }
    reasons.into_iter().map(ReasonSlug::new).collect()
}

/// The unchecked fields of a rating, as the kiosk fills them in and as they travel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewRating {
    pub survey_version: u32,
    pub touchpoint: String,
    pub scale: u8,
    pub score: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nps: Option<i64>,
    #[serde(default)]
    pub reasons: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default)]
    pub suspected_repeat: bool,
}

/// A customer's rating: one tap on a face, with optional reasons, comment and NPS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "NewRating", into = "NewRating")]
pub struct Rating {
    survey_version: u32,
    touchpoint: Touchpoint,
    scale: Scale,
    score: u8,
    nps: Option<Nps>,
    reasons: Vec<ReasonSlug>,
    comment: Option<Comment>,
    suspected_repeat: bool,
}

impl Rating {
    pub fn new(n: NewRating) -> Result<Rating, ValidationError> {
        let scale = Scale::new(n.scale)?;
        Ok(Rating {
            survey_version: n.survey_version,
            touchpoint: Touchpoint::new(n.touchpoint)?,
            score: scale.check_score(n.score)?,
            scale,
            nps: n.nps.map(Nps::new).transpose()?,
            reasons: check_reasons(n.reasons)?,
            comment: n.comment.map(Comment::new).transpose()?,
            suspected_repeat: n.suspected_repeat,
        })
    }
    pub fn survey_version(&self) -> u32 {
        self.survey_version
    }
    pub fn touchpoint(&self) -> &Touchpoint {
        &self.touchpoint
    }
    pub fn scale(&self) -> Scale {
        self.scale
    }
    pub fn score(&self) -> u8 {
        self.score
    }
    pub fn nps(&self) -> Option<Nps> {
        self.nps
    }
    pub fn reasons(&self) -> &[ReasonSlug] {
        &self.reasons
    }
    pub fn comment(&self) -> Option<&Comment> {
        self.comment.as_ref()
    }
    pub fn suspected_repeat(&self) -> bool {
        self.suspected_repeat
    }
    /// CSAT: is this score one of the scale's top two faces?
    pub fn is_satisfied(&self) -> bool {
        self.scale.is_satisfied(self.score)
    }
    /// Is this score one of the scale's two lowest faces?
    pub fn is_unhappy(&self) -> bool {
        self.scale.is_unhappy(self.score)
    }
}

impl TryFrom<NewRating> for Rating {
    type Error = ValidationError;
    fn try_from(n: NewRating) -> Result<Self, Self::Error> {
        Rating::new(n)
    }
}

impl From<Rating> for NewRating {
    fn from(r: Rating) -> NewRating {
        NewRating {
            survey_version: r.survey_version,
            touchpoint: r.touchpoint.into(),
            scale: r.scale.faces(),
            score: i64::from(r.score),
            nps: r.nps.map(|n| i64::from(n.value())),
            reasons: r.reasons.into_iter().map(String::from).collect(),
            comment: r.comment.map(String::from),
            suspected_repeat: r.suspected_repeat,
        }
    }
}

/// Unchecked fields of a `rating_details` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewRatingDetails {
    pub rating_id: Uuid,
    #[serde(default)]
    pub reasons: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The 0..=10 recommend answer, asked on the follow-up screen after the tap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nps: Option<i64>,
}

/// Reasons, a comment and an NPS answer the customer added after the tap, attached at HQ
/// to the earlier rating `rating_id` (from the same store).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "NewRatingDetails", into = "NewRatingDetails")]
pub struct RatingDetails {
    rating_id: Uuid,
    reasons: Vec<ReasonSlug>,
    comment: Option<Comment>,
    nps: Option<Nps>,
}

impl RatingDetails {
    pub fn new(n: NewRatingDetails) -> Result<RatingDetails, ValidationError> {
        Ok(RatingDetails {
            rating_id: n.rating_id,
            reasons: check_reasons(n.reasons)?,
            comment: n.comment.map(Comment::new).transpose()?,
            nps: n.nps.map(Nps::new).transpose()?,
        })
    }
    /// Details from values already checked one by one; only the number of reasons is
    /// left to check.
    pub fn from_parts(
        rating_id: Uuid,
        reasons: Vec<ReasonSlug>,
        comment: Option<Comment>,
        nps: Option<Nps>,
    ) -> Result<RatingDetails, ValidationError> {
        if reasons.len() > MAX_REASONS {
            return Err(ValidationError::TooManyReasons {
                count: reasons.len(),
                max: MAX_REASONS,
            });
        }
        Ok(RatingDetails {
            rating_id,
            reasons,
            comment,
            nps,
        })
    }
    pub fn nps(&self) -> Option<Nps> {
        self.nps
    }
    pub fn rating_id(&self) -> Uuid {
        self.rating_id
    }
    pub fn reasons(&self) -> &[ReasonSlug] {
        &self.reasons
    }
    pub fn comment(&self) -> Option<&Comment> {
        self.comment.as_ref()
    }
}

impl TryFrom<NewRatingDetails> for RatingDetails {
    type Error = ValidationError;
    fn try_from(n: NewRatingDetails) -> Result<Self, Self::Error> {
        RatingDetails::new(n)
    }
}

impl From<RatingDetails> for NewRatingDetails {
    fn from(d: RatingDetails) -> NewRatingDetails {
        NewRatingDetails {
            rating_id: d.rating_id,
            reasons: d.reasons.into_iter().map(String::from).collect(),
            comment: d.comment.map(String::from),
            nps: d.nps.map(|n| i64::from(n.value())),
        }
    }
}

/// Unchecked fields of a `device_health` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewDeviceHealth {
    pub queue_depth: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_unsent_age_seconds: Option<u64>,
    pub app_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Events HQ refused that the kiosk keeps aside (its quarantine). Optional on the
    /// wire: kiosks older than this field omit it, and HQ then shows it as unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantined: Option<u64>,
}

/// How a kiosk is doing: its outbox depth, the age of its oldest unsent event, its
/// version, its last error and how many events it holds in quarantine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "NewDeviceHealth", into = "NewDeviceHealth")]
pub struct DeviceHealth {
    queue_depth: u64,
    oldest_unsent_age_seconds: Option<u64>,
    app_version: String,
    last_error: Option<String>,
    quarantined: Option<u64>,
}

impl DeviceHealth {
    pub fn new(n: NewDeviceHealth) -> Result<DeviceHealth, ValidationError> {
        let len = n.app_version.chars().count();
        if len > MAX_APP_VERSION_LEN {
            return Err(ValidationError::TooLong {
                field: "app_version",
                len,
                max: MAX_APP_VERSION_LEN,
            });
        }
        if let Some(e) = &n.last_error {
            let len = e.chars().count();
            if len > MAX_COMMENT_CHARS {
                return Err(ValidationError::TooLong {
                    field: "last_error",
                    len,
                    max: MAX_COMMENT_CHARS,
                });
            }
        }
        Ok(DeviceHealth {
            queue_depth: n.queue_depth,
            oldest_unsent_age_seconds: n.oldest_unsent_age_seconds,
            app_version: n.app_version,
            last_error: n.last_error,
            quarantined: n.quarantined,
        })
    }
    pub fn queue_depth(&self) -> u64 {
        self.queue_depth
    }
    pub fn oldest_unsent_age_seconds(&self) -> Option<u64> {
        self.oldest_unsent_age_seconds
    }
    pub fn app_version(&self) -> &str {
        &self.app_version
    }
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }
    /// `None` from a kiosk that does not report it.
    pub fn quarantined(&self) -> Option<u64> {
        self.quarantined
    }
}

impl TryFrom<NewDeviceHealth> for DeviceHealth {
    type Error = ValidationError;
    fn try_from(n: NewDeviceHealth) -> Result<Self, Self::Error> {
        DeviceHealth::new(n)
    }
}

impl From<DeviceHealth> for NewDeviceHealth {
    fn from(h: DeviceHealth) -> NewDeviceHealth {
        NewDeviceHealth {
            queue_depth: h.queue_depth,
            oldest_unsent_age_seconds: h.oldest_unsent_age_seconds,
            app_version: h.app_version,
            last_error: h.last_error,
            quarantined: h.quarantined,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rating_json(score: i64, scale: i64) -> serde_json::Value {
        json!({
            "id": "01936b2e-7c4a-7000-8000-000000000001",
            "seq": 7,
            "device_time": "2026-11-23T08:15:00Z",
            "utc_offset_minutes": 420,
            "kind": "rating",
            "body": {
                "survey_version": 3, "touchpoint": "visit", "scale": scale, "score": score,
                "reasons": ["fast_service"], "comment": "lovely", "suspected_repeat": false
            }
        })
    }

    #[test]
    fn rating_round_trips_through_json() {
        let event = Event::from_value(rating_json(5, 5)).expect("valid rating");
        assert_eq!(event.kind(), "rating");
        let again = serde_json::to_value(&event).expect("serializes");
        assert_eq!(again, rating_json(5, 5));
        let back: Event = serde_json::from_value(again).expect("deserializes");
        assert_eq!(back, event);
    }

    #[test]
    fn details_carry_an_optional_nps_answer_checked_like_the_rating_s() {
        let details = |nps: serde_json::Value| {
            json!({
                "id": "01936b2e-7c4a-7000-8000-000000000002", "seq": 8,
                "device_time": "2026-11-23T08:15:10Z", "utc_offset_minutes": 420,
                "kind": "rating_details",
                "body": {"rating_id": "01936b2e-7c4a-7000-8000-000000000001",
                         "reasons": [], "nps": nps}
            })
        };
        let event = Event::from_value(details(json!(9))).expect("valid details");
        let EventBody::RatingDetails(d) = event.body() else {
            panic!("details expected")
        };
        assert_eq!(d.nps().map(Nps::value), Some(9));
        assert_eq!(
            serde_json::to_value(&event).expect("serializes"),
            details(json!(9))
        );
        assert_eq!(
            Event::from_value(details(json!(11)))
                .expect_err("11")
                .code(),
            "nps_out_of_range"
        );
        // Details written before NPS existed still read, with no answer.
        let mut old = details(json!(null));
        old["body"].as_object_mut().expect("body").remove("nps");
        let event = Event::from_value(old).expect("old details");
        let EventBody::RatingDetails(d) = event.body() else {
            panic!("details expected")
        };
        assert_eq!(d.nps(), None);
    }

    #[test]
    fn score_out_of_range_for_the_scale_is_coded() {
        let err = Event::from_value(rating_json(5, 4)).expect_err("5 on a 4-face scale");
        assert_eq!(err.code(), "score_out_of_range");
        let err = Event::from_value(rating_json(0, 5)).expect_err("0 is no face");
        assert_eq!(err.code(), "score_out_of_range");
    }

    #[test]
    fn unknown_kind_is_rejected_by_itself() {
        let mut v = rating_json(5, 5);
        v["kind"] = json!("loyalty_stamp");
        let err = Event::from_value(v.clone()).expect_err("unknown kind");
        assert_eq!(err.code(), "unknown_kind");
        assert_eq!(
            Event::peek_id(&v).map(|u| u.to_string()).as_deref(),
            Some("01936b2e-7c4a-7000-8000-000000000001")
        );
    }

    #[test]
    fn rating_details_and_device_health_parse() {
        let details = json!({
            "id": "01936b2e-7c4a-7000-8000-000000000002", "seq": 8,
            "device_time": "2026-11-23T08:15:09Z", "utc_offset_minutes": 420,
            "kind": "rating_details",
            "body": { "rating_id": "01936b2e-7c4a-7000-8000-000000000001",
                      "reasons": ["slow_service"], "comment": "queue" }
        });
        let e = Event::from_value(details).expect("valid details");
        assert!(matches!(e.body(), EventBody::RatingDetails(d) if d.reasons().len() == 1));
        let health = json!({
            "id": "01936b2e-7c4a-7000-8000-000000000003", "seq": 9,
            "device_time": "2026-11-23T08:16:00Z", "utc_offset_minutes": 0,
            "kind": "device_health",
            "body": { "queue_depth": 3, "oldest_unsent_age_seconds": 60, "app_version": "0.1.0" }
        });
        let e = Event::from_value(health).expect("valid");
        assert_eq!(e.kind(), "device_health");
        assert!(
            matches!(e.body(), EventBody::DeviceHealth(h) if h.quarantined().is_none()),
            "a kiosk that omits the quarantined count still validates, as unknown"
        );
    }

    #[test]
    fn device_health_carries_the_quarantined_count_both_ways() {
        let health = json!({
            "id": "01936b2e-7c4a-7000-8000-000000000004", "seq": 10,
            "device_time": "2026-11-23T08:16:00Z", "utc_offset_minutes": 0,
            "kind": "device_health",
            "body": { "queue_depth": 0, "app_version": "0.2.0", "quarantined": 2 }
        });
        let e = Event::from_value(health).expect("valid");
        assert!(matches!(e.body(), EventBody::DeviceHealth(h) if h.quarantined() == Some(2)));
        let back = serde_json::to_value(&e).expect("serialises");
        assert_eq!(back["body"]["quarantined"], json!(2));
        let mut bad = back.clone();
        bad["body"]["quarantined"] = json!(-1);
        assert!(
            Event::from_value(bad).is_err(),
            "a negative count is refused"
        );
    }

    #[test]
    fn oversized_comment_and_bad_offset_are_refused() {
        let mut v = rating_json(4, 5);
        v["body"]["comment"] = json!("x".repeat(MAX_COMMENT_CHARS + 1));
        assert_eq!(
            Event::from_value(v).expect_err("long").code(),
            "comment_too_long"
        );
        let mut v = rating_json(4, 5);
        v["utc_offset_minutes"] = json!(5000);
        assert_eq!(
            Event::from_value(v).expect_err("offset").code(),
            "invalid_utc_offset"
        );
    }

    // Regression (fuzz/regressions/event/invalid-utf8-in-an-ignored-field): serde_json skips
    // an unknown field without checking its text is UTF-8, so `Event` read straight from
    // bytes accepts this, though it is not JSON. HQ reads every event through a `Value`
    // (and the kiosk reads its outbox as text), which refuses it; this pins that.
    #[test]
    fn event_bytes_that_are_not_utf8_never_reach_the_decoder() {
        let bytes =
            include_bytes!("../../../fuzz/regressions/event/invalid-utf8-in-an-ignored-field");
        assert!(std::str::from_utf8(std::hint::black_box(bytes)).is_err());
        assert!(serde_json::from_slice::<serde_json::Value>(bytes).is_err());
        let lossy = String::from_utf8_lossy(bytes);
        let value: serde_json::Value = serde_json::from_str(&lossy).expect("JSON once valid");
        let event = Event::from_value(value).expect("the event itself is valid");
        assert_eq!(event.kind(), "rating");
    }

    #[test]
    fn missing_field_is_malformed() {
        let mut v = rating_json(4, 5);
        if let Some(o) = v.as_object_mut() {
            o.remove("seq");
        }
        assert_eq!(
            Event::from_value(v).expect_err("no seq").code(),
            "malformed_event"
        );
    }

    #[test]
    fn from_json_and_from_value_refuse_a_nul_alike() {
        let mut v = rating_json(4, 5);
        v["body"]["comment"] = json!("a\u{0}b");
        let text = v.to_string();
        assert!(text.contains("\\u0000"));
        for err in [
            Event::from_json(&text).expect_err("nul"),
            Event::from_value(v).expect_err("nul"),
        ] {
            assert_eq!(err.code(), "unstorable_text");
            assert!(err.to_string().contains("body.comment"), "{err}");
        }
    }

    #[test]
    fn from_json_reads_what_from_value_reads() {
        let v = rating_json(4, 5);
        let a = Event::from_json(&v.to_string()).expect("valid");
        assert_eq!(a, Event::from_value(v).expect("valid"));
        // Broken JSON that is not about surrogates stays malformed.
        assert_eq!(
            Event::from_json(r#"{"id": "x", "body": "\u0000"#)
                .expect_err("broken")
                .code(),
            "malformed_event"
        );
    }

    #[test]
    fn a_lone_surrogate_is_unstorable_and_the_id_still_reads() {
        let text = r#"{"id": "01936b2e-7c4a-7000-8000-000000000001", "seq": 7,
            "device_time": "2026-11-23T08:15:00Z", "utc_offset_minutes": 0, "kind": "rating",
            "body": {"survey_version": 3, "touchpoint": "visit", "scale": 5, "score": 4,
                     "comment": "\udc00"}}"#;
        assert_eq!(
            Event::from_json(text).expect_err("surrogate").code(),
            "unstorable_text"
        );
        assert_eq!(
            Event::peek_id_json(text),
            Some(
                "01936b2e-7c4a-7000-8000-000000000001"
                    .parse()
                    .expect("uuid")
            )
        );
    }
}
