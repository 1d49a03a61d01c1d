//! What a batch adds to the rollup tables, written once for both backends.
//!
//! The dashboard and the report API read three tables kept at ingest, in the batch's own
//! transaction, instead of scanning ratings:
//! - `rating_rollup`: ratings per store × local day × local hour × touchpoint × scale ×
//!   score × repeat flag, with their NPS sums (heatmap, touchpoints, hours);
//! - `rating_daily`: the same without hour and touchpoint (summaries, daily trend), small
//!   enough that a quarter of a hundred stores sums in milliseconds;
//! - `reason_rollup`: (rating, reason) pairs per store × local day × reason × scale ×
//!   score × repeat flag, with the rating's NPS sums.
//!
//! The invariant: every rollup row equals the same `GROUP BY` over the raw rows
//! (`ratings`, and `rating_reasons JOIN ratings`). A batch keeps it with [`plan`]:
//! - a stored rating adds itself, with its own NPS answer;
//! - a (rating, reason) pair adds itself once both exist: when the pair is inserted
//!   after its rating (inline reasons, late details), or when the rating arrives after
//!   details that named it (the pair was an orphan until then);
//! - a late NPS answer moves the rating's NPS sums, and those of every reason it carries,
//!   from the old answer to the new one.
//!
//! Duplicates and refused events write no raw rows, so they add nothing here either.
//! Each backend gathers the facts ([`StoredRating`]s, orphan and new pairs), calls
//! [`plan`], and upserts `n = n + delta`, in key order.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use uuid::Uuid;

use super::rules::Plan;

/// A rating's place in the rollups.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RatingKey {
    pub store_id: Uuid,
    pub local_date: NaiveDate,
    pub local_hour: u8,
    pub touchpoint: String,
    pub scale: u8,
    pub score: u8,
    pub suspected_repeat: bool,
}

impl RatingKey {
    /// The key of `rating_daily`.
    pub fn daily(&self) -> DailyKey {
        DailyKey {
            store_id: self.store_id,
            local_date: self.local_date,
            scale: self.scale,
            score: self.score,
            suspected_repeat: self.suspected_repeat,
        }
    }

    /// The key of `reason_rollup` for one of the rating's reasons.
    pub fn reason(&self, reason: &str) -> ReasonKey {
        ReasonKey {
            store_id: self.store_id,
            local_date: self.local_date,
            reason: reason.to_owned(),
            scale: self.scale,
            score: self.score,
            suspected_repeat: self.suspected_repeat,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DailyKey {
    pub store_id: Uuid,
    pub local_date: NaiveDate,
    pub scale: u8,
    pub score: u8,
    pub suspected_repeat: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReasonKey {
    pub store_id: Uuid,
    pub local_date: NaiveDate,
    pub reason: String,
    pub scale: u8,
    pub score: u8,
    pub suspected_repeat: bool,
}

/// What to add to one rollup row (negative to take away).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delta {
    pub n: i64,
    pub nps_responses: i64,
    pub promoters: i64,
    pub detractors: i64,
}

impl Delta {
    /// What one NPS answer (or none) adds to the NPS sums, times `sign`.
    fn nps(nps: Option<u8>, sign: i64) -> Delta {
        match nps {
            None => Delta::default(),
            Some(n) => Delta {
                n: 0,
                nps_responses: sign,
                promoters: if n >= 9 { sign } else { 0 },
                detractors: if n <= 6 { sign } else { 0 },
            },
        }
    }

    fn add(&mut self, o: Delta) {
        self.n += o.n;
        self.nps_responses += o.nps_responses;
        self.promoters += o.promoters;
        self.detractors += o.detractors;
    }

    pub fn is_zero(&self) -> bool {
        *self == Delta::default()
    }

    fn one(nps: Option<u8>) -> Delta {
        let mut d = Delta::nps(nps, 1);
        d.n = 1;
        d
    }
}

/// What the rollups need to know about a stored rating a batch's details name: its key
/// and its NPS answer before this batch's answers apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRating {
    pub key: RatingKey,
    pub nps: Option<u8>,
}

/// Everything a batch adds to the rollups, in key order (so concurrent batches on
/// PostgreSQL lock rollup rows in the same order). Rows whose delta is zero are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RollupWrites {
    pub ratings: Vec<(RatingKey, Delta)>,
    pub daily: Vec<(DailyKey, Delta)>,
    pub reasons: Vec<(ReasonKey, Delta)>,
}

impl RollupWrites {
    pub fn is_empty(&self) -> bool {
        self.ratings.is_empty() && self.daily.is_empty() && self.reasons.is_empty()
    }
}

/// The facts a backend gathers for [`plan`], in the batch's transaction.
#[derive(Debug, Clone, Default)]
pub struct RollupFacts<'a> {
    /// Reasons already stored (from earlier details) for the batch's new ratings, read
    /// after the ratings went in and before the batch's reasons did.
    pub orphans: Vec<(Uuid, String)>,
    /// (rating id, reason) pairs the batch really inserted.
    pub new_pairs: Vec<(Uuid, &'a str)>,
    /// Stored ratings named by the batch's new pairs or NPS answers, read after the
    /// batch's ratings went in and before its NPS answers apply.
    pub stored: HashMap<Uuid, StoredRating>,
    /// Every reason, after the batch's inserts, of the ratings whose NPS answer the batch
    /// sets.
    pub reasons_of_nps: Vec<(Uuid, String)>,
}

/// The rollup writes of a batch, from its plan and the facts above. `store_id` is the
/// device's store: ratings are recorded there, and NPS answers only apply to its ratings.
pub fn plan(store_id: Uuid, batch: &Plan<'_>, facts: &RollupFacts<'_>) -> RollupWrites {
    let mut ratings: BTreeMap<RatingKey, Delta> = BTreeMap::new();
    let mut reasons: BTreeMap<ReasonKey, Delta> = BTreeMap::new();
    // The batch's own ratings, with their initial answers.
    let mut own: HashMap<Uuid, StoredRating> = HashMap::with_capacity(batch.ratings.len());
    for (id, r) in &batch.ratings {
        let key = RatingKey {
            store_id,
            local_date: r.local_date,
            local_hour: r.local_hour as u8,
            touchpoint: r.touchpoint.clone(),
            scale: r.scale,
            score: r.score,
            suspected_repeat: r.suspected_repeat,
        };
        ratings
            .entry(key.clone())
            .or_default()
            .add(Delta::one(r.nps));
        own.insert(*id, StoredRating { key, nps: r.nps });
    }
    let known = |id: &Uuid| own.get(id).or_else(|| facts.stored.get(id));
    // Pairs as they stand before the NPS answers: orphans now joined, and new pairs whose
    // rating exists.
    let pairs = facts
        .orphans
        .iter()
        .map(|(id, r)| (id, r.as_str()))
        .chain(facts.new_pairs.iter().map(|(id, r)| (id, *r)));
    for (id, reason) in pairs {
        if let Some(s) = known(id) {
            reasons
                .entry(s.key.reason(reason))
                .or_default()
                .add(Delta::one(s.nps));
        }
    }
    // Late answers: move the NPS sums from the old answer to the new one.
    for (id, new) in &batch.nps {
        let Some(s) = known(id) else { continue };
        if s.key.store_id != store_id || s.nps == Some(*new) {
            continue;
        }
        let mut d = Delta::nps(s.nps, -1);
        d.add(Delta::nps(Some(*new), 1));
        ratings.entry(s.key.clone()).or_default().add(d);
        for (_, reason) in facts.reasons_of_nps.iter().filter(|(r, _)| r == id) {
            reasons.entry(s.key.reason(reason)).or_default().add(d);
        }
    }
    let mut daily: BTreeMap<DailyKey, Delta> = BTreeMap::new();
    for (k, d) in &ratings {
        daily.entry(k.daily()).or_default().add(*d);
    }
    RollupWrites {
        ratings: ratings.into_iter().filter(|(_, d)| !d.is_zero()).collect(),
        daily: daily.into_iter().filter(|(_, d)| !d.is_zero()).collect(),
        reasons: reasons.into_iter().filter(|(_, d)| !d.is_zero()).collect(),
    }
}

/// Fill the rollups from the raw rows, for the migration that adds them (SQL both
/// backends read alike). A macro so migrations can `concat!` it.
macro_rules! fill_sql {
    () => {
        "
INSERT INTO rating_rollup (store_id, local_date, local_hour, touchpoint, scale, score,
    suspected_repeat, n, nps_n, promoters, detractors)
SELECT store_id, local_date, local_hour, touchpoint, scale, score, suspected_repeat,
    COUNT(*), COUNT(nps), SUM(CASE WHEN nps >= 9 THEN 1 ELSE 0 END),
    SUM(CASE WHEN nps <= 6 THEN 1 ELSE 0 END)
FROM ratings GROUP BY store_id, local_date, local_hour, touchpoint, scale, score,
    suspected_repeat;
INSERT INTO rating_daily (store_id, local_date, scale, score, suspected_repeat, n, nps_n,
    promoters, detractors)
SELECT store_id, local_date, scale, score, suspected_repeat, SUM(n), SUM(nps_n),
    SUM(promoters), SUM(detractors)
FROM rating_rollup GROUP BY store_id, local_date, scale, score, suspected_repeat;
INSERT INTO reason_rollup (store_id, local_date, reason, scale, score, suspected_repeat, n,
    nps_n, promoters, detractors)
SELECT r.store_id, r.local_date, rr.reason, r.scale, r.score, r.suspected_repeat, COUNT(*),
    COUNT(r.nps), SUM(CASE WHEN r.nps >= 9 THEN 1 ELSE 0 END),
    SUM(CASE WHEN r.nps <= 6 THEN 1 ELSE 0 END)
FROM rating_reasons rr JOIN ratings r ON r.id = rr.rating_id
GROUP BY r.store_id, r.local_date, rr.reason, r.scale, r.score, r.suspected_repeat;
"
    };
}
pub(crate) use fill_sql;

/// The fill SQL, for benchmarks that seed raw rows in bulk and then build the rollups the
/// way the migration does.
#[doc(hidden)]
pub fn fill_sql_text() -> &'static str {
    fill_sql!()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{DetailsRow, DeviceRecord, IngestItem, RatingRow, Stored};
    use std::collections::HashSet;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 20).expect("date")
    }

    fn store() -> Uuid {
        Uuid::from_u128(7)
    }

    fn key(score: u8) -> RatingKey {
        RatingKey {
            store_id: store(),
            local_date: day(),
            local_hour: 10,
            touchpoint: "visit".into(),
            scale: 5,
            score,
            suspected_repeat: false,
        }
    }

    fn rating_item(id: u128, score: u8, nps: Option<u8>, reasons: &[&str]) -> IngestItem {
        IngestItem {
            id: Uuid::from_u128(id),
            seq: 1,
            kind: "rating".into(),
            device_time: chrono::Utc::now(),
            utc_offset_minutes: 0,
            received_at: chrono::Utc::now(),
            flags: String::new(),
            body: None,
            rating: Some(RatingRow {
                occurred_at: chrono::Utc::now(),
                local_date: day(),
                local_hour: 10,
                touchpoint: "visit".into(),
                survey_version: 1,
                scale: 5,
                score,
                satisfied: score >= 4,
                nps,
                suspected_repeat: false,
                comment: None,
                reasons: reasons.iter().map(|s| s.to_string()).collect(),
            }),
            details: None,
            regular: None,
        }
    }

    fn details_item(id: u128, rating: u128, nps: Option<u8>, reasons: &[&str]) -> IngestItem {
        IngestItem {
            kind: "rating_details".into(),
            rating: None,
            details: Some(DetailsRow {
                rating_id: Uuid::from_u128(rating),
                reasons: reasons.iter().map(|s| s.to_string()).collect(),
                comment: None,
                nps,
            }),
            ..rating_item(id, 1, None, &[])
        }
    }

    fn batch<'a>(items: &'a [IngestItem], facts: &'a crate::storage::rules::Facts) -> Plan<'a> {
        let device = DeviceRecord {
            id: Uuid::from_u128(99),
            store_id: store(),
            store_timezone: "UTC".into(),
            revoked: false,
        };
        let screened = crate::storage::rules::screen(store(), items, facts);
        let inserted: HashSet<Uuid> = items.iter().map(|i| i.id).collect();
        crate::storage::rules::decide(&device, items, facts, screened, &inserted)
    }

    fn d(n: i64, nps_responses: i64, promoters: i64, detractors: i64) -> Delta {
        Delta {
            n,
            nps_responses,
            promoters,
            detractors,
        }
    }

    #[test]
    fn ratings_add_themselves_with_their_answer_and_same_keys_merge() {
        let items = [
            rating_item(1, 5, Some(10), &[]),
            rating_item(2, 5, Some(3), &[]),
            rating_item(3, 2, None, &[]),
        ];
        let facts = Default::default();
        let p = batch(&items, &facts);
        let w = plan(store(), &p, &RollupFacts::default());
        assert_eq!(
            w.ratings,
            [(key(2), d(1, 0, 0, 0)), (key(5), d(2, 2, 1, 1))]
        );
        assert_eq!(w.daily.len(), 2);
        assert_eq!(w.daily[1], (key(5).daily(), d(2, 2, 1, 1)));
        assert!(w.reasons.is_empty(), "no pairs went in");
    }

    #[test]
    fn pairs_count_once_both_exist_and_a_late_answer_moves_every_sum() {
        // Rating 1 is stored with answer 3 and reason "slow"; this batch answers 9 and
        // adds "cold"; an orphan pair names a rating that is not stored.
        let items = [
            details_item(10, 1, Some(9), &["cold"]),
            details_item(11, 5, None, &["x"]),
        ];
        let facts = Default::default();
        let p = batch(&items, &facts);
        let mut rf = RollupFacts {
            new_pairs: vec![(Uuid::from_u128(1), "cold"), (Uuid::from_u128(5), "x")],
            reasons_of_nps: vec![
                (Uuid::from_u128(1), "cold".into()),
                (Uuid::from_u128(1), "slow".into()),
            ],
            ..RollupFacts::default()
        };
        rf.stored.insert(
            Uuid::from_u128(1),
            StoredRating {
                key: key(4),
                nps: Some(3),
            },
        );
        let w = plan(store(), &p, &rf);
        // The rating: one answer moves from detractor to promoter, no new rating.
        assert_eq!(w.ratings, [(key(4), d(0, 0, 1, -1))]);
        // "cold" is added with the old answer, then moved; "slow" is only moved.
        assert_eq!(
            w.reasons,
            [
                (key(4).reason("cold"), d(1, 1, 1, 0)),
                (key(4).reason("slow"), d(0, 0, 1, -1)),
            ]
        );
    }

    #[test]
    fn an_orphan_pair_joins_when_its_rating_arrives() {
        let items = [rating_item(1, 3, Some(8), &["fast"])];
        let facts = Default::default();
        let p = batch(&items, &facts);
        let rf = RollupFacts {
            orphans: vec![(Uuid::from_u128(1), "early".into())],
            new_pairs: vec![(Uuid::from_u128(1), "fast")],
            ..RollupFacts::default()
        };
        let w = plan(store(), &p, &rf);
        assert_eq!(
            w.reasons,
            [
                (key(3).reason("early"), d(1, 1, 0, 0)),
                (key(3).reason("fast"), d(1, 1, 0, 0)),
            ]
        );
    }

    #[test]
    fn the_same_answer_again_or_another_stores_rating_changes_nothing() {
        let items = [
            details_item(10, 1, Some(9), &[]),
            details_item(11, 2, Some(9), &[]),
        ];
        let facts = Default::default();
        let p = batch(&items, &facts);
        assert!(p.outcomes.iter().all(|o| *o == Stored::Inserted));
        let mut rf = RollupFacts::default();
        rf.stored.insert(
            Uuid::from_u128(1),
            StoredRating {
                key: key(4),
                nps: Some(9),
            },
        );
        let mut elsewhere = key(4);
        elsewhere.store_id = Uuid::from_u128(8);
        rf.stored.insert(
            Uuid::from_u128(2),
            StoredRating {
                key: elsewhere,
                nps: None,
            },
        );
        assert!(plan(store(), &p, &rf).is_empty());
    }
}
