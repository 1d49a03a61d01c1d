//! Ratings and their outbox events.
//!
//! A tap writes the rating and its `rating` event in one transaction. Reasons and a
//! comment added afterwards update that same rating and queue a `rating_details` event
//! that names it, so head office attaches them to the rating instead of counting a new one.
//!
//! Both events are `countertop_protocol` events, built with the types HQ parses them into:
//! the outbox holds each one's wire `body`, and sync sends them as protocol events.

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use countertop_protocol as wire;
use countertop_protocol::{EventBody, Touchpoint};
use rusqlite::{params, OptionalExtension, Transaction};
use serde::Serialize;
use uuid::Uuid;

use super::{Result, Store, StoreError};
use crate::feedback::{Details, Score};

/// A tap, ready to be stored.
#[derive(Debug, Clone)]
pub struct NewRating {
    pub score: Score,
    pub touchpoint: Touchpoint,
    pub survey_version: u32,
    pub suspected_repeat: bool,
    /// The device's clock at the tap, with the kiosk's local offset.
    pub at: DateTime<FixedOffset>,
}

/// A rating once it is committed to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordedRating {
    pub id: Uuid,
    pub seq: i64,
}

/// A stored rating, as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct RatingRow {
    pub id: Uuid,
    pub seq: i64,
    pub recorded_at: DateTime<Utc>,
    pub utc_offset_minutes: i32,
    pub survey_version: u32,
    pub touchpoint: String,
    pub scale: u8,
    pub score: u8,
    pub reasons: Vec<String>,
    pub comment: Option<String>,
    pub suspected_repeat: bool,
}

/// Counts over a period, with suspected repeats left out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub count: u64,
    /// Ratings per score, index 0 for score 1.
    pub distribution: [u64; 5],
    /// Share of ratings in the top two faces, in percent; `None` with no ratings.
    pub csat_percent: Option<f64>,
    pub average: Option<f64>,
    pub suspected_repeats: u64,
}

const RATING_COLUMNS: &str = "id, seq, recorded_at, utc_offset_minutes, survey_version, \
     touchpoint, scale, score, reasons, comment, suspected_repeat";

/// A ratings row as SQLite holds it, before its text columns are parsed.
struct RawRating {
    id: String,
    seq: i64,
    recorded_at: String,
    utc_offset_minutes: i32,
    survey_version: u32,
    touchpoint: String,
    scale: u8,
    score: u8,
    reasons: String,
    comment: Option<String>,
    suspected_repeat: bool,
}

impl RawRating {
    fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(RawRating {
            id: row.get(0)?,
            seq: row.get(1)?,
            recorded_at: row.get(2)?,
            utc_offset_minutes: row.get(3)?,
            survey_version: row.get(4)?,
            touchpoint: row.get(5)?,
            scale: row.get(6)?,
            score: row.get(7)?,
            reasons: row.get(8)?,
            comment: row.get(9)?,
            suspected_repeat: row.get(10)?,
        })
    }

    fn parse(self) -> Result<RatingRow> {
        let corrupt =
            |what: &str, e: String| StoreError::Corrupt(format!("rating {}: {what}: {e}", self.id));
        Ok(RatingRow {
            id: Uuid::parse_str(&self.id).map_err(|e| corrupt("id", e.to_string()))?,
            seq: self.seq,
            recorded_at: DateTime::parse_from_rfc3339(&self.recorded_at)
                .map_err(|e| corrupt("time", e.to_string()))?
                .with_timezone(&Utc),
            utc_offset_minutes: self.utc_offset_minutes,
            survey_version: self.survey_version,
            touchpoint: self.touchpoint.clone(),
            scale: self.scale,
            score: self.score,
            reasons: serde_json::from_str(&self.reasons)
                .map_err(|e| corrupt("reasons", e.to_string()))?,
            comment: self.comment.clone(),
            suspected_repeat: self.suspected_repeat,
        })
    }
}

fn device_time(at: &DateTime<FixedOffset>) -> String {
    at.with_timezone(&Utc)
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Takes the next per-device sequence number inside `tx`.
pub(super) fn next_seq(tx: &Transaction<'_>) -> Result<i64> {
    Ok(tx.query_row(
        "UPDATE device SET next_seq = next_seq + 1 WHERE id = 1 RETURNING next_seq - 1",
        [],
        |row| row.get(0),
    )?)
}

/// Queues the protocol event `event_id` with `body`: its wire body is what the outbox
/// keeps, so what sync sends is exactly what [`wire::Event`] serializes.
pub(super) fn queue_protocol_event(
    tx: &Transaction<'_>,
    seq: i64,
    event_id: Uuid,
    at: &DateTime<FixedOffset>,
    body: EventBody,
    rating_id: Option<Uuid>,
) -> Result<()> {
    let invalid = |e: String| StoreError::Invalid(format!("event {event_id}: {e}"));
    let offset =
        i16::try_from(at.offset().local_minus_utc() / 60).map_err(|e| invalid(e.to_string()))?;
    let event = wire::Event::new(
        event_id,
        u64::try_from(seq).map_err(|e| invalid(e.to_string()))?,
        at.with_timezone(&Utc),
        offset,
        body,
    )
    .map_err(|e| invalid(e.to_string()))?;
    let kind = event.kind();
    let mut envelope = serde_json::to_value(&event).map_err(|e| invalid(e.to_string()))?;
    let body = envelope
        .get_mut("body")
        .map(serde_json::Value::take)
        .unwrap_or_default();
    queue_event(tx, seq, event_id, kind, at, &body, rating_id)
}

pub(super) fn queue_event(
    tx: &Transaction<'_>,
    seq: i64,
    event_id: Uuid,
    kind: &str,
    at: &DateTime<FixedOffset>,
    body: &impl Serialize,
    rating_id: Option<Uuid>,
) -> Result<()> {
    let body = serde_json::to_string(body).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    tx.execute(
        "INSERT INTO outbox (seq, event_id, kind, device_time, utc_offset_minutes, body, rating_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            seq,
            event_id.to_string(),
            kind,
            device_time(at),
            at.offset().local_minus_utc() / 60,
            body,
            rating_id.map(|id| id.to_string()),
        ],
    )?;
    Ok(())
}

impl NewRating {
    /// A rating of `score` on five faces, now; for tests and benchmarks.
    pub fn now_for_test(score: i64) -> Self {
        NewRating {
            score: Score::new(score, crate::feedback::Scale::FIVE).expect("score in 1..=5"),
            touchpoint: Touchpoint::new("visit").expect("a valid slug"),
            survey_version: 1,
            suspected_repeat: false,
            at: chrono::Local::now().fixed_offset(),
        }
    }
}

impl Store {
    /// Commits a tap: the rating and its outbox event, in one durable transaction.
    pub fn record_rating(&mut self, rating: &NewRating) -> Result<RecordedRating> {
        let id = Uuid::now_v7();
        let score = rating.score;
        let body = wire::Rating::new(wire::NewRating {
            survey_version: rating.survey_version,
            touchpoint: rating.touchpoint.to_string(),
            scale: score.scale().faces(),
            score: i64::from(score.value()),
            nps: None,
            reasons: Vec::new(),
            comment: None,
            suspected_repeat: rating.suspected_repeat,
        })
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let tx = self.conn.transaction()?;
        let seq = next_seq(&tx)?;
        tx.execute(
            "INSERT INTO ratings (id, seq, recorded_at, utc_offset_minutes, survey_version,
                                  touchpoint, scale, score, suspected_repeat)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                id.to_string(),
                seq,
                device_time(&rating.at),
                rating.at.offset().local_minus_utc() / 60,
                rating.survey_version,
                rating.touchpoint.as_str(),
                rating.score.scale().faces(),
                rating.score.value(),
                rating.suspected_repeat,
            ],
        )?;
        queue_protocol_event(&tx, seq, id, &rating.at, EventBody::Rating(body), Some(id))?;
        tx.commit()?;
        Ok(RecordedRating { id, seq })
    }

    /// Attaches reasons, a comment and an NPS answer to an earlier rating, replacing any
    /// given before. The NPS answer travels to HQ in the `rating_details` event only: the
    /// kiosk's own reports do not show NPS.
    pub fn attach_details(
        &mut self,
        rating: Uuid,
        details: &Details,
        at: DateTime<FixedOffset>,
    ) -> Result<()> {
        let reasons: Vec<&str> = details.reasons.iter().map(|r| r.as_str()).collect();
        let comment = details.comment.as_ref().map(|c| c.as_str());
        let reasons_json =
            serde_json::to_string(&reasons).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let body = wire::RatingDetails::from_parts(
            rating,
            details.reasons.clone(),
            details.comment.clone(),
            details.nps,
        )
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let tx = self.conn.transaction()?;
        let updated = tx.execute(
            "UPDATE ratings SET reasons = ?2, comment = ?3 WHERE id = ?1",
            params![rating.to_string(), reasons_json, comment],
        )?;
        if updated == 0 {
            return Err(StoreError::UnknownRating(rating));
        }
        let seq = next_seq(&tx)?;
        queue_protocol_event(
            &tx,
            seq,
            Uuid::now_v7(),
            &at,
            EventBody::RatingDetails(body),
            Some(rating),
        )?;
        tx.commit()?;
        Ok(())
    }

    /// One stored rating.
    pub fn rating(&self, id: Uuid) -> Result<RatingRow> {
        let sql = format!("SELECT {RATING_COLUMNS} FROM ratings WHERE id = ?1");
        let raw = self
            .conn
            .query_row(&sql, [id.to_string()], RawRating::from_row)
            .optional()?
            .ok_or(StoreError::UnknownRating(id))?;
        raw.parse()
    }

    /// Every stored rating, oldest first.
    pub fn ratings(&self) -> Result<Vec<RatingRow>> {
        let sql = format!("SELECT {RATING_COLUMNS} FROM ratings ORDER BY seq");
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([], RawRating::from_row)?;
        rows.map(|raw| raw?.parse()).collect()
    }

    /// How many ratings are stored.
    pub fn rating_count(&self) -> Result<u64> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM ratings", [], |r| r.get(0))?)
    }

    /// Whether a rating with this id is stored.
    pub fn has_rating(&self, id: Uuid) -> Result<bool> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM ratings WHERE id = ?1",
                [id.to_string()],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Events waiting to be sent to head office.
    pub fn pending_events(&self) -> Result<u64> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM outbox WHERE state = 'pending'",
            [],
            |r| r.get(0),
        )?)
    }

    /// The outbox, oldest first, as `(seq, kind, body)`; for tests and sync.
    pub fn outbox(&self) -> Result<Vec<(i64, String, serde_json::Value)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq, kind, body FROM outbox ORDER BY seq")?;
        let rows = stmt.query_map([], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get::<_, String>(2)?))
        })?;
        rows.map(|row| {
            let (seq, kind, body) = row?;
            let body = serde_json::from_str(&body)
                .map_err(|e| StoreError::Corrupt(format!("outbox row {seq}: {e}")))?;
            Ok((seq, kind, body))
        })
        .collect()
    }

    /// Counts for ratings made in `[from, to)`, suspected repeats left out.
    pub fn summary(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Summary> {
        let from = from.to_rfc3339_opts(SecondsFormat::Millis, true);
        let to = to.to_rfc3339_opts(SecondsFormat::Millis, true);
        let mut stmt = self.conn.prepare(
            "SELECT score, scale, suspected_repeat, count(*) FROM ratings
             WHERE recorded_at >= ?1 AND recorded_at < ?2
             GROUP BY score, scale, suspected_repeat",
        )?;
        let mut summary = Summary::default();
        let (mut happy, mut total_score) = (0u64, 0u64);
        let rows = stmt.query_map(params![from, to], |row| {
            Ok((
                row.get::<_, u8>(0)?,
                row.get::<_, u8>(1)?,
                row.get::<_, bool>(2)?,
                row.get::<_, u64>(3)?,
            ))
        })?;
        for row in rows {
            let (score, scale, repeat, n) = row?;
            if repeat {
                summary.suspected_repeats += n;
                continue;
            }
            summary.count += n;
            if let Some(slot) = summary.distribution.get_mut(usize::from(score) - 1) {
                *slot += n;
            }
            total_score += u64::from(score) * n;
            let satisfied = wire::Scale::new(scale)
                .and_then(|s| Score::new(i64::from(score), s))
                .is_ok_and(|s| s.is_satisfied());
            if satisfied {
                happy += n;
            }
        }
        if summary.count > 0 {
            summary.csat_percent = Some(100.0 * happy as f64 / summary.count as f64);
            summary.average = Some(total_score as f64 / summary.count as f64);
        }
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feedback::{Comment, ReasonSlug, Scale};
    use crate::store::temp_store as store;
    use chrono::{Duration, TimeZone};

    #[test]
    fn a_rating_and_its_outbox_event_are_written_together() {
        let (_dir, mut store) = store();
        let at = FixedOffset::east_opt(7 * 3600)
            .unwrap()
            .with_ymd_and_hms(2026, 11, 23, 8, 30, 0)
            .unwrap();
        let rating = NewRating {
            score: Score::new(2, Scale::FOUR).unwrap(),
            touchpoint: Touchpoint::new("wait").unwrap(),
            survey_version: 3,
            suspected_repeat: false,
            at,
        };
        let recorded = store.record_rating(&rating).unwrap();
        let row = store.rating(recorded.id).unwrap();
        assert_eq!(row.score, 2);
        assert_eq!(row.scale, 4);
        assert_eq!(row.touchpoint, "wait");
        assert_eq!(row.survey_version, 3);
        assert_eq!(row.utc_offset_minutes, 420);
        assert_eq!(
            row.recorded_at,
            Utc.with_ymd_and_hms(2026, 11, 23, 1, 30, 0).unwrap()
        );
        assert_eq!(recorded.id.get_version_num(), 7);
        let outbox = store.outbox().unwrap();
        assert_eq!(outbox.len(), 1);
        assert_eq!(outbox[0].0, recorded.seq);
        assert_eq!(outbox[0].1, "rating");
        assert_eq!(outbox[0].2["score"], 2);
        assert_eq!(store.pending_events().unwrap(), 1);
    }

    #[test]
    fn sequence_numbers_increase_across_ratings_and_details() {
        let (_dir, mut store) = store();
        let a = store.record_rating(&NewRating::now_for_test(5)).unwrap();
        let details = Details {
            reasons: vec![ReasonSlug::new("tasty").unwrap()],
            ..Details::default()
        };
        store
            .attach_details(a.id, &details, chrono::Local::now().fixed_offset())
            .unwrap();
        let b = store.record_rating(&NewRating::now_for_test(1)).unwrap();
        let seqs: Vec<i64> = store.outbox().unwrap().iter().map(|e| e.0).collect();
        assert_eq!(seqs, [a.seq, a.seq + 1, a.seq + 2]);
        assert_eq!(b.seq, a.seq + 2);
    }

    #[test]
    fn details_attach_to_the_same_rating_and_queue_an_event_naming_it() {
        let (_dir, mut store) = store();
        let rated = store.record_rating(&NewRating::now_for_test(1)).unwrap();
        let details = Details {
            reasons: vec![
                ReasonSlug::new("slow_service").unwrap(),
                ReasonSlug::new("price").unwrap(),
            ],
            comment: Comment::typed("Waited 20 minutes"),
            nps: None,
        };
        store
            .attach_details(rated.id, &details, chrono::Local::now().fixed_offset())
            .unwrap();
        assert_eq!(store.rating_count().unwrap(), 1);
        let row = store.rating(rated.id).unwrap();
        assert_eq!(row.reasons, ["slow_service", "price"]);
        assert_eq!(row.comment.as_deref(), Some("Waited 20 minutes"));
        let outbox = store.outbox().unwrap();
        assert_eq!(outbox[1].1, "rating_details");
        assert_eq!(outbox[1].2["rating_id"], rated.id.to_string());
        assert_eq!(outbox[1].2["reasons"][1], "price");
    }

    #[test]
    fn details_for_an_unknown_rating_are_refused_and_queue_nothing() {
        let (_dir, mut store) = store();
        let err = store
            .attach_details(
                Uuid::now_v7(),
                &Details::default(),
                chrono::Local::now().fixed_offset(),
            )
            .unwrap_err();
        assert!(matches!(err, StoreError::UnknownRating(_)));
        assert!(store.outbox().unwrap().is_empty());
    }

    #[test]
    fn the_summary_leaves_suspected_repeats_out() {
        let (_dir, mut store) = store();
        for score in [5, 4, 2] {
            store
                .record_rating(&NewRating::now_for_test(score))
                .unwrap();
        }
        let mut repeat = NewRating::now_for_test(1);
        repeat.suspected_repeat = true;
        store.record_rating(&repeat).unwrap();
        let now = Utc::now();
        let s = store
            .summary(now - Duration::hours(1), now + Duration::hours(1))
            .unwrap();
        assert_eq!(s.count, 3);
        assert_eq!(s.suspected_repeats, 1);
        assert_eq!(s.distribution, [0, 1, 0, 1, 1]);
        assert!((s.csat_percent.unwrap() - 200.0 / 3.0).abs() < 1e-9);
        assert!((s.average.unwrap() - 11.0 / 3.0).abs() < 1e-9);
    }
}
