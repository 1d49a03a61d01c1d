//! Rollup upkeep on SQLite, inside the ingest transaction: the facts
//! [`super::rollups::plan`] needs, and its upserts.

use std::collections::HashMap;

use rusqlite::{params, Transaction};
use uuid::Uuid;

use super::rollups::{self, RatingKey, RollupFacts, StoredRating};
use super::rules::Plan;
use super::sqlite::parse_uuid;
use super::{DeviceRecord, StorageError};

pub(super) fn ids_json(ids: impl Iterator<Item = Uuid>) -> String {
    serde_json::Value::from(ids.map(|i| i.to_string()).collect::<Vec<_>>()).to_string()
}

fn pairs(tx: &Transaction<'_>, ids: &str) -> Result<Vec<(Uuid, String)>, StorageError> {
    let mut stmt = tx.prepare_cached(
        "SELECT rating_id, reason FROM rating_reasons \
         WHERE rating_id IN (SELECT value FROM json_each(?1)) ORDER BY rating_id, reason",
    )?;
    let rows = stmt.query_map([ids], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))?;
    rows.map(|row| {
        let (id, reason) = row?;
        Ok((parse_uuid(&id)?, reason))
    })
    .collect()
}

/// Reasons stored before the batch's new ratings arrived, for the new ratings that
/// details reached first (`hits`): call after the ratings went in and before the batch's
/// reasons do.
pub(super) fn orphans<'a>(
    tx: &Transaction<'_>,
    hits: &[Uuid],
) -> Result<RollupFacts<'a>, StorageError> {
    let mut facts = RollupFacts::default();
    if !hits.is_empty() {
        facts.orphans = pairs(tx, &ids_json(hits.iter().copied()))?;
    }
    Ok(facts)
}

/// Read the stored ratings the batch's pairs and answers name, plan, and upsert. Call
/// after the batch's reasons went in and before its NPS answers apply.
pub(super) fn keep(
    tx: &Transaction<'_>,
    device: &DeviceRecord,
    plan: &Plan<'_>,
    mut facts: RollupFacts<'_>,
) -> Result<(), StorageError> {
    let own: std::collections::HashSet<Uuid> = plan.ratings.iter().map(|(id, _)| *id).collect();
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
        facts.stored = stored(tx, &ids_json(named.into_iter()))?;
    }
    if !plan.nps.is_empty() {
        facts.reasons_of_nps = pairs(tx, &ids_json(plan.nps.iter().map(|(id, _)| *id)))?;
    }
    write(tx, &rollups::plan(device.store_id, plan, &facts))
}

fn stored(tx: &Transaction<'_>, ids: &str) -> Result<HashMap<Uuid, StoredRating>, StorageError> {
    let mut stmt = tx.prepare_cached(
        "SELECT id, store_id, local_date, local_hour, touchpoint, scale, score, \
         suspected_repeat, nps FROM ratings WHERE id IN (SELECT value FROM json_each(?1))",
    )?;
    let rows = stmt.query_map([ids], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, i64>(5)?,
            r.get::<_, i64>(6)?,
            r.get::<_, bool>(7)?,
            r.get::<_, Option<i64>>(8)?,
        ))
    })?;
    let mut out = HashMap::new();
    for row in rows {
        let (id, store, day, hour, touchpoint, scale, score, repeat, nps) = row?;
        out.insert(
            parse_uuid(&id)?,
            StoredRating {
                key: RatingKey {
                    store_id: parse_uuid(&store)?,
                    local_date: super::analytics::parse_day(&day)?,
                    local_hour: hour as u8,
                    touchpoint,
                    scale: scale as u8,
                    score: score as u8,
                    suspected_repeat: repeat,
                },
                nps: nps.map(|n| n as u8),
            },
        );
    }
    Ok(out)
}

fn write(tx: &Transaction<'_>, w: &rollups::RollupWrites) -> Result<(), StorageError> {
    const SUMS: &str = "n = n + excluded.n, nps_n = nps_n + excluded.nps_n, \
                        promoters = promoters + excluded.promoters, \
                        detractors = detractors + excluded.detractors";
    if !w.ratings.is_empty() {
        let mut up = tx.prepare_cached(&format!(
            "INSERT INTO rating_rollup (store_id, local_date, local_hour, touchpoint, scale, \
             score, suspected_repeat, n, nps_n, promoters, detractors) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
             ON CONFLICT (store_id, local_date, local_hour, touchpoint, scale, score, \
             suspected_repeat) DO UPDATE SET {SUMS}"
        ))?;
        for (k, d) in &w.ratings {
            up.execute(params![
                k.store_id.to_string(),
                k.local_date.to_string(),
                k.local_hour,
                k.touchpoint,
                k.scale,
                k.score,
                k.suspected_repeat,
                d.n,
                d.nps_responses,
                d.promoters,
                d.detractors
            ])?;
        }
    }
    if !w.daily.is_empty() {
        let mut up = tx.prepare_cached(&format!(
            "INSERT INTO rating_daily (store_id, local_date, scale, score, suspected_repeat, \
             n, nps_n, promoters, detractors) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
             ON CONFLICT (store_id, local_date, scale, score, suspected_repeat) \
             DO UPDATE SET {SUMS}"
        ))?;
        for (k, d) in &w.daily {
            up.execute(params![
                k.store_id.to_string(),
                k.local_date.to_string(),
                k.scale,
                k.score,
                k.suspected_repeat,
                d.n,
                d.nps_responses,
                d.promoters,
                d.detractors
            ])?;
        }
    }
    if !w.reasons.is_empty() {
        let mut up = tx.prepare_cached(&format!(
            "INSERT INTO reason_rollup (store_id, local_date, reason, scale, score, \
             suspected_repeat, n, nps_n, promoters, detractors) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
             ON CONFLICT (store_id, local_date, reason, scale, score, suspected_repeat) \
             DO UPDATE SET {SUMS}"
        ))?;
        for (k, d) in &w.reasons {
            up.execute(params![
                k.store_id.to_string(),
                k.local_date.to_string(),
                k.reason,
                k.scale,
                k.score,
                k.suspected_repeat,
                d.n,
                d.nps_responses,
                d.promoters,
                d.detractors
            ])?;
        }
    }
    Ok(())
}
