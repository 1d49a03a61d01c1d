//! Turns one pushed batch into rows to store: parses each event on its own (one bad
//! event never fails the batch), flags device clocks that run ahead, and works out each
//! rating's local day and hour in the store's time zone.
//!
//! The body is read as a list of raw JSON texts ([`crate::routes::events::IncomingPush`]), one per event, and
//! each event is parsed from its own text. So an event that cannot even be read as JSON
//! values (a lone `\ud800` surrogate escape) is refused by itself, and so is text no
//! backend can store (a NUL): both with `unstorable_text`, by the protocol's checks.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Timelike, Utc};
use chrono_tz::Tz;
use countertop_protocol::{Event, EventBody, EventOutcome};
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::storage::{DetailsRow, IngestItem, ProfileJson, RatingRow, RegularOp};

/// A device clock more than this far ahead of HQ's is flagged, and HQ's receive time is
/// used to place the event in a day.
pub const MAX_CLOCK_LEAD: Duration = Duration::minutes(10);

/// Flag on events whose device time was ahead of HQ's clock.
pub const FLAG_FUTURE: &str = "device_time_in_future";

/// One event of a batch, after parsing: ready to store, or already decided.
#[derive(Debug)]
pub enum Parsed {
    Store(Box<IngestItem>),
    Decided(EventOutcome),
}

/// Parse a batch. Returns, per event, its id (when readable) and what to do with it.
pub fn parse_batch(
    events: Vec<Box<RawValue>>,
    timezone: Tz,
    received_at: DateTime<Utc>,
) -> Vec<(Option<Uuid>, Parsed)> {
    let mut seen = HashSet::new();
    events
        .iter()
        .map(|raw| match Event::from_json(raw.get()) {
            Err(e) => (
                Event::peek_id_json(raw.get()),
                Parsed::Decided(EventOutcome::Rejected {
                    code: e.code().to_owned(),
                    reason: e.to_string(),
                }),
            ),
            Ok(event) if !seen.insert(event.id()) => {
                (Some(event.id()), Parsed::Decided(EventOutcome::Duplicate))
            }
            Ok(event) => (
                Some(event.id()),
                match to_item(&event, timezone, received_at) {
                    Ok(item) => Parsed::Store(Box::new(item)),
                    Err(outcome) => Parsed::Decided(outcome),
                },
            ),
        })
        .collect()
}

fn to_item(event: &Event, tz: Tz, received_at: DateTime<Utc>) -> Result<IngestItem, EventOutcome> {
    let seq = i64::try_from(event.seq()).map_err(|_| EventOutcome::Rejected {
        code: "seq_out_of_range".into(),
        reason: format!("seq {} is larger than {}", event.seq(), i64::MAX),
    })?;
    let in_future = event.device_time() > received_at + MAX_CLOCK_LEAD;
    let occurred_at = if in_future {
        received_at
    } else {
        event.device_time()
    };
    let local_date = occurred_at.with_timezone(&tz).date_naive();
    // Only device health keeps its body in the events table. Regulars events never do:
    // a profile is personal data and lives only in the profiles table, where an erasure
    // can delete it.
    let body = match event.body() {
        EventBody::DeviceHealth(_) => serde_json::to_value(event)
            .ok()
            .and_then(|mut v| v.get_mut("body").map(serde_json::Value::take))
            .map(|b| b.to_string()),
        _ => None,
    };
    let mut item = IngestItem {
        id: event.id(),
        seq,
        kind: event.kind().to_owned(),
        device_time: event.device_time(),
        utc_offset_minutes: event.utc_offset_minutes(),
        received_at,
        flags: if in_future {
            FLAG_FUTURE.to_owned()
        } else {
            String::new()
        },
        body,
        rating: None,
        details: None,
        regular: None,
    };
    match event.body() {
        EventBody::Rating(r) => {
            let local = occurred_at.with_timezone(&tz);
            item.rating = Some(RatingRow {
                occurred_at,
                local_date: local.date_naive(),
                local_hour: local.hour(),
                touchpoint: r.touchpoint().to_string(),
                survey_version: r.survey_version(),
                scale: r.scale().faces(),
                score: r.score(),
                satisfied: r.is_satisfied(),
                nps: r.nps().map(|n| n.value()),
                suspected_repeat: r.suspected_repeat(),
                comment: r.comment().map(|c| c.as_str().to_owned()),
                reasons: r.reasons().iter().map(|s| s.to_string()).collect(),
            });
        }
        EventBody::RatingDetails(d) => {
            item.details = Some(DetailsRow {
                rating_id: d.rating_id(),
                reasons: d.reasons().iter().map(|s| s.to_string()).collect(),
                comment: d.comment().map(|c| c.as_str().to_owned()),
                nps: d.nps().map(|n| n.value()),
            });
        }
        EventBody::RegularUpserted(r) => {
            let profile = serde_json::to_string(r).map_err(|_| EventOutcome::Rejected {
                code: "invalid_regular".into(),
                reason: "the profile could not be encoded".into(),
            })?;
            item.regular = Some(RegularOp::Upsert {
                regular_id: r.id(),
                hlc: r.hlc().to_sortable(),
                profile: ProfileJson(profile),
                local_date,
            });
        }
        EventBody::Visit(v) => {
            item.regular = Some(RegularOp::Visit {
                regular_id: v.regular_id,
                occurred_at,
                local_date,
                rating_id: v.rating_id,
                unhappy: v.unhappy,
            });
        }
        EventBody::RegularErased(e) => {
            item.regular = Some(RegularOp::Erase {
                regular_id: e.regular_id,
                erased_at: e.erased_at,
                local_date,
            });
        }
        _ => {}
    }
    Ok(item)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn raw(values: Vec<serde_json::Value>) -> Vec<Box<RawValue>> {
        values
            .iter()
            .map(|v| serde_json::value::to_raw_value(v).expect("raw"))
            .collect()
    }

    fn rating(id: &str, device_time: &str) -> serde_json::Value {
        json!({
            "id": id, "seq": 1, "device_time": device_time, "utc_offset_minutes": 0,
            "kind": "rating",
            "body": {"survey_version": 1, "touchpoint": "visit", "scale": 5, "score": 4}
        })
    }

    #[test]
    fn local_day_follows_the_store_time_zone() {
        let received: DateTime<Utc> = "2026-11-23T20:00:00Z".parse().expect("time");
        let out = parse_batch(
            raw(vec![rating(
                "01936b2e-7c4a-7000-8000-000000000001",
                "2026-11-23T18:30:00Z",
            )]),
            chrono_tz::Asia::Ho_Chi_Minh,
            received,
        );
        let Parsed::Store(item) = &out[0].1 else {
            panic!("expected a storable item, got {:?}", out[0].1)
        };
        let r = item.rating.as_ref().expect("rating row");
        // 18:30 UTC is 01:30 the next day in Ho Chi Minh City (UTC+7).
        assert_eq!(r.local_date.to_string(), "2026-11-24");
        assert_eq!(r.local_hour, 1);
    }

    #[test]
    fn far_future_device_time_is_flagged_and_placed_at_receipt() {
        let received: DateTime<Utc> = "2026-11-23T20:00:00Z".parse().expect("time");
        let out = parse_batch(
            raw(vec![rating(
                "01936b2e-7c4a-7000-8000-000000000001",
                "2030-01-01T00:00:00Z",
            )]),
            chrono_tz::UTC,
            received,
        );
        let Parsed::Store(item) = &out[0].1 else {
            panic!("expected a storable item")
        };
        assert_eq!(item.flags, FLAG_FUTURE);
        let r = item.rating.as_ref().expect("rating row");
        assert_eq!(r.occurred_at, received);
        assert_eq!(item.device_time.to_rfc3339(), "2030-01-01T00:00:00+00:00");
    }

    #[test]
    fn repeated_id_within_a_batch_is_a_duplicate() {
        let received = Utc::now();
        let e = rating(
            "01936b2e-7c4a-7000-8000-000000000001",
            "2026-11-23T18:30:00Z",
        );
        let out = parse_batch(raw(vec![e.clone(), e]), chrono_tz::UTC, received);
        assert!(matches!(out[0].1, Parsed::Store(_)));
        assert!(matches!(out[1].1, Parsed::Decided(EventOutcome::Duplicate)));
    }

    #[test]
    fn a_profile_keeps_no_body_and_never_shows_in_debug() {
        let event = json!({
            "id": "01936b2e-7c4a-7000-8000-000000000002", "seq": 1,
            "device_time": "2026-11-23T18:30:00Z", "utc_offset_minutes": 0,
            "kind": "regular_upserted",
            "body": {
                "regular_id": "01936b2e-7c4a-7000-8000-0000000000aa",
                "hlc": {"wall_ms": 5, "counter": 1, "node": "01936b2e-7c4a-7000-8000-0000000000bb"},
                "name": "Quillon", "phone": "0901234567",
                "consent": {"version": 1, "given_at": "2026-11-23T18:00:00Z"}
            }
        });
        let out = parse_batch(raw(vec![event]), chrono_tz::UTC, Utc::now());
        let Parsed::Store(item) = &out[0].1 else {
            panic!("expected a storable item")
        };
        assert_eq!(item.body, None, "the events table never holds a profile");
        let Some(RegularOp::Upsert { hlc, profile, .. }) = &item.regular else {
            panic!("expected an upsert")
        };
        assert!(hlc.starts_with("000000000000005-0000000001-"));
        assert!(profile.0.contains("Quillon"));
        let shown = format!("{out:?}");
        assert!(
            !shown.contains("Quillon") && !shown.contains("0901234567"),
            "{shown}"
        );
    }

    #[test]
    fn a_lone_surrogate_refuses_its_event_alone_and_keeps_its_id() {
        let body = r#"{"protocol": "1.0", "events": [
            {"id": "01936b2e-7c4a-7000-8000-000000000001", "seq": 1,
             "device_time": "2026-11-23T18:30:00Z", "utc_offset_minutes": 0, "kind": "rating",
             "body": {"survey_version": 1, "touchpoint": "visit", "scale": 5, "score": 4}},
            {"id": "01936b2e-7c4a-7000-8000-000000000002", "seq": 2,
             "device_time": "2026-11-23T18:30:00Z", "utc_offset_minutes": 0, "kind": "rating",
             "body": {"survey_version": 1, "touchpoint": "visit", "scale": 5, "score": 4,
                      "comment": "bad \ud800 half"}}
        ]}"#;
        assert!(
            serde_json::from_str::<serde_json::Value>(body).is_err(),
            "the whole body is not readable as values"
        );
        let push: crate::routes::events::IncomingPush =
            serde_json::from_str(body).expect("the envelope reads");
        let out = parse_batch(push.events, chrono_tz::UTC, Utc::now());
        assert!(matches!(out[0].1, Parsed::Store(_)));
        let Parsed::Decided(EventOutcome::Rejected { code, reason }) = &out[1].1 else {
            panic!("expected a rejection, got {:?}", out[1].1)
        };
        assert_eq!(code, "unstorable_text");
        assert!(reason.contains("surrogate"), "{reason}");
        assert_eq!(
            out[1].0,
            Some(
                "01936b2e-7c4a-7000-8000-000000000002"
                    .parse()
                    .expect("uuid")
            )
        );
    }

    #[test]
    fn a_nul_in_any_text_field_refuses_the_event_naming_the_field() {
        let mut comment = rating(
            "01936b2e-7c4a-7000-8000-000000000001",
            "2026-11-23T18:30:00Z",
        );
        comment["body"]["comment"] = json!("a\u{0}b");
        let mut touchpoint = rating(
            "01936b2e-7c4a-7000-8000-000000000002",
            "2026-11-23T18:30:00Z",
        );
        touchpoint["body"]["touchpoint"] = json!("vi\u{0}sit");
        let health = json!({
            "id": "01936b2e-7c4a-7000-8000-000000000003", "seq": 3,
            "device_time": "2026-11-23T18:30:00Z", "utc_offset_minutes": 0,
            "kind": "device_health",
            "body": {"queue_depth": 1, "app_version": "1.0", "last_error": "disk\u{0}full"}
        });
        let out = parse_batch(
            raw(vec![comment, touchpoint, health]),
            chrono_tz::UTC,
            Utc::now(),
        );
        for ((_, p), field) in
            out.iter()
                .zip(["body.comment", "body.touchpoint", "body.last_error"])
        {
            let Parsed::Decided(EventOutcome::Rejected { code, reason }) = p else {
                panic!("expected a rejection for {field}, got {p:?}")
            };
            assert_eq!(code, "unstorable_text");
            assert!(reason.contains(field), "{reason} should name {field}");
        }
    }
}
