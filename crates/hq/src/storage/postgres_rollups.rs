//! Rollup upkeep on PostgreSQL, inside the ingest transaction: the facts
//! [`super::rollups::plan`] needs, and its upserts, one set-based statement per table.
//!
//! Concurrency: the stored ratings a batch's details name are read `FOR UPDATE` (in id
//! order) before their reasons are, so two batches touching one rating's answer or
//! reasons take turns, and the second sees what the first wrote. Rollup rows are upserted
//! in key order, so concurrent batches lock them in the same order.
//!
//! One race is left: details inserted while the rating they name is still uncommitted in
//! another transaction. Neither sees the other, so that pair is not counted. Kiosks send a
//! rating before its details and only after the rating's push was acknowledged, so it
//! takes a retried rating racing its own later details on two HQ processes.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use tokio_postgres::Row;
use uuid::Uuid;

use super::rollups::{self, RatingKey, RollupFacts, StoredRating};
use super::rules::Plan;
use super::{DeviceRecord, StorageError};

type Tx<'a> = deadpool_postgres::Transaction<'a>;

async fn pairs(tx: &Tx<'_>, ids: &[Uuid]) -> Result<Vec<(Uuid, String)>, StorageError> {
    let rows = tx
        .query(
            &tx.prepare_cached(
                "SELECT rating_id, reason FROM rating_reasons WHERE rating_id = ANY($1) \
                 ORDER BY rating_id, reason",
            )
            .await?,
            &[&ids],
        )
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// The pairs the reasons insert returned, borrowed from the plan.
pub(super) fn new_pairs<'a>(
    plan: &Plan<'a>,
    went_in: &[Row],
) -> Result<Vec<(Uuid, &'a str)>, StorageError> {
    let mut inserted: HashSet<(Uuid, String)> = HashSet::with_capacity(went_in.len());
    for r in went_in {
        inserted.insert((r.try_get(0)?, r.try_get(1)?));
    }
    Ok(plan
        .reasons
        .iter()
        .filter(|(id, reason)| inserted.contains(&(*id, (*reason).to_owned())))
        .copied()
        .collect())
}

/// Read (and lock) the stored ratings the batch's pairs and answers name, plan, and
/// upsert. Call after the batch's reasons went in and before its NPS answers apply.
pub(super) async fn keep(
    tx: &Tx<'_>,
    device: &DeviceRecord,
    plan: &Plan<'_>,
    mut facts: RollupFacts<'_>,
) -> Result<(), StorageError> {
    let own: HashSet<Uuid> = plan.ratings.iter().map(|(id, _)| *id).collect();
    let mut named: Vec<Uuid> = facts
        .new_pairs
        .iter()
        .map(|(id, _)| *id)
        .chain(plan.nps.iter().map(|(id, _)| *id))
        .filter(|id| !own.contains(id))
        .collect();
    named.sort_unstable();
    named.dedup();
    if !named.is_empty() {
        facts.stored = stored(tx, &named).await?;
    }
    if !plan.nps.is_empty() {
        let ids: Vec<Uuid> = plan.nps.iter().map(|(id, _)| *id).collect();
        facts.reasons_of_nps = pairs(tx, &ids).await?;
    }
    write(tx, &rollups::plan(device.store_id, plan, &facts)).await
}

async fn stored(tx: &Tx<'_>, ids: &[Uuid]) -> Result<HashMap<Uuid, StoredRating>, StorageError> {
    let rows = tx
        .query(
            &tx.prepare_cached(
                "SELECT id, store_id, local_date, local_hour, touchpoint, scale, score, \
                 suspected_repeat, nps FROM ratings WHERE id = ANY($1) ORDER BY id FOR UPDATE",
            )
            .await?,
            &[&ids],
        )
        .await?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in &rows {
        out.insert(
            r.try_get(0)?,
            StoredRating {
                key: RatingKey {
                    store_id: r.try_get(1)?,
                    local_date: r.try_get(2)?,
                    local_hour: r.try_get::<_, i32>(3)? as u8,
                    touchpoint: r.try_get(4)?,
                    scale: r.try_get::<_, i32>(5)? as u8,
                    score: r.try_get::<_, i32>(6)? as u8,
                    suspected_repeat: r.try_get(7)?,
                },
                nps: r.try_get::<_, Option<i32>>(8)?.map(|n| n as u8),
            },
        );
    }
    Ok(out)
}

/// The delta columns of a list of rollup writes.
struct Deltas {
    n: Vec<i64>,
    nps_n: Vec<i64>,
    promoters: Vec<i64>,
    detractors: Vec<i64>,
}

fn deltas<'a, K: 'a>(w: impl Iterator<Item = &'a (K, rollups::Delta)>) -> Deltas {
    let mut d = Deltas {
        n: Vec::new(),
        nps_n: Vec::new(),
        promoters: Vec::new(),
        detractors: Vec::new(),
    };
    for (_, x) in w {
        d.n.push(x.n);
        d.nps_n.push(x.nps_responses);
        d.promoters.push(x.promoters);
        d.detractors.push(x.detractors);
    }
    d
}

const SUMS: &str = "n = t.n + EXCLUDED.n, nps_n = t.nps_n + EXCLUDED.nps_n, \
                    promoters = t.promoters + EXCLUDED.promoters, \
                    detractors = t.detractors + EXCLUDED.detractors";

/// The three upserts in one statement (one round trip), each table's rows in key order.
/// Every batch sends the same statement, whose plan runs the three in one fixed order, so
/// concurrent batches still lock rollup rows in the same order (and a deadlock, were there
/// one, aborts a batch that is then retried like any other conflict).
async fn write(tx: &Tx<'_>, w: &rollups::RollupWrites) -> Result<(), StorageError> {
    if w.ratings.is_empty() && w.daily.is_empty() && w.reasons.is_empty() {
        return Ok(());
    }
    let k = &w.ratings;
    let r_stores: Vec<Uuid> = k.iter().map(|(k, _)| k.store_id).collect();
    let r_days: Vec<NaiveDate> = k.iter().map(|(k, _)| k.local_date).collect();
    let r_hours: Vec<i32> = k.iter().map(|(k, _)| i32::from(k.local_hour)).collect();
    let r_tps: Vec<&str> = k.iter().map(|(k, _)| k.touchpoint.as_str()).collect();
    let r_scales: Vec<i32> = k.iter().map(|(k, _)| i32::from(k.scale)).collect();
    let r_scores: Vec<i32> = k.iter().map(|(k, _)| i32::from(k.score)).collect();
    let r_repeats: Vec<bool> = k.iter().map(|(k, _)| k.suspected_repeat).collect();
    let r = deltas(k.iter());
    let k = &w.daily;
    let d_stores: Vec<Uuid> = k.iter().map(|(k, _)| k.store_id).collect();
    let d_days: Vec<NaiveDate> = k.iter().map(|(k, _)| k.local_date).collect();
    let d_scales: Vec<i32> = k.iter().map(|(k, _)| i32::from(k.scale)).collect();
    let d_scores: Vec<i32> = k.iter().map(|(k, _)| i32::from(k.score)).collect();
    let d_repeats: Vec<bool> = k.iter().map(|(k, _)| k.suspected_repeat).collect();
    let d = deltas(k.iter());
    let k = &w.reasons;
    let e_stores: Vec<Uuid> = k.iter().map(|(k, _)| k.store_id).collect();
    let e_days: Vec<NaiveDate> = k.iter().map(|(k, _)| k.local_date).collect();
    let e_reasons: Vec<&str> = k.iter().map(|(k, _)| k.reason.as_str()).collect();
    let e_scales: Vec<i32> = k.iter().map(|(k, _)| i32::from(k.scale)).collect();
    let e_scores: Vec<i32> = k.iter().map(|(k, _)| i32::from(k.score)).collect();
    let e_repeats: Vec<bool> = k.iter().map(|(k, _)| k.suspected_repeat).collect();
    let e = deltas(k.iter());
    tx.execute(
        &tx.prepare_cached(&format!(
            "WITH hourly AS (\
             INSERT INTO rating_rollup AS t (store_id, local_date, local_hour, touchpoint, \
             scale, score, suspected_repeat, n, nps_n, promoters, detractors) \
             SELECT * FROM UNNEST($1::uuid[], $2::date[], $3::int4[], $4::text[], \
             $5::int4[], $6::int4[], $7::bool[], $8::int8[], $9::int8[], $10::int8[], \
             $11::int8[]) \
             ON CONFLICT (store_id, local_date, local_hour, touchpoint, scale, score, \
             suspected_repeat) DO UPDATE SET {SUMS}), \
             daily AS (\
             INSERT INTO rating_daily AS t (store_id, local_date, scale, score, \
             suspected_repeat, n, nps_n, promoters, detractors) \
             SELECT * FROM UNNEST($12::uuid[], $13::date[], $14::int4[], $15::int4[], \
             $16::bool[], $17::int8[], $18::int8[], $19::int8[], $20::int8[]) \
             ON CONFLICT (store_id, local_date, scale, score, suspected_repeat) \
             DO UPDATE SET {SUMS}) \
             INSERT INTO reason_rollup AS t (store_id, local_date, reason, scale, score, \
             suspected_repeat, n, nps_n, promoters, detractors) \
             SELECT * FROM UNNEST($21::uuid[], $22::date[], $23::text[], $24::int4[], \
             $25::int4[], $26::bool[], $27::int8[], $28::int8[], $29::int8[], $30::int8[]) \
             ON CONFLICT (store_id, local_date, reason, scale, score, suspected_repeat) \
             DO UPDATE SET {SUMS}"
        ))
        .await?,
        &[
            &r_stores,
            &r_days,
            &r_hours,
            &r_tps,
            &r_scales,
            &r_scores,
            &r_repeats,
            &r.n,
            &r.nps_n,
            &r.promoters,
            &r.detractors,
            &d_stores,
            &d_days,
            &d_scales,
            &d_scores,
            &d_repeats,
            &d.n,
            &d.nps_n,
            &d.promoters,
            &d.detractors,
            &e_stores,
            &e_days,
            &e_reasons,
            &e_scales,
            &e_scores,
            &e_repeats,
            &e.n,
            &e.nps_n,
            &e.promoters,
            &e.detractors,
        ],
    )
    .await?;
    Ok(())
}
