//! PostgreSQL storage for chains, through tokio-postgres and a deadpool pool. HQ keeps
//! no state of its own, so any number of HQ processes can share one database: exactly
//! once comes from the primary key on `events.id` and `ON CONFLICT DO NOTHING`, and each
//! batch is written in a few set-based statements (`UNNEST`) inside one transaction.

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use countertop_protocol::SurveyConfig;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::rules::{self, Facts, StoredProfile};
use super::{
    DeviceRecord, IngestItem, PullEntry, RatingRow, Redeemed, RegularsPage, RegularsReportQuery,
    RegularsScope, RegularsTally, ReportQuery, Storage, StorageError, StoreRecord, Stored, Tally,
    TokenState,
};

/// A constant for `pg_advisory_xact_lock`, so concurrent HQ processes migrate one at a time.
const MIGRATION_LOCK: i64 = 0x0063_6f75_6e74_6572;

pub(super) const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE stores (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    timezone text NOT NULL,
    config jsonb NOT NULL,
    config_version int8 NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE enroll_codes (
    code_hash text PRIMARY KEY,
    store_id uuid NOT NULL REFERENCES stores(id),
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE devices (
    id uuid PRIMARY KEY,
    store_id uuid NOT NULL REFERENCES stores(id),
    name text,
    token_hash text NOT NULL UNIQUE,
    enrolled_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE TABLE api_tokens (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    token_hash text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
CREATE TABLE events (
    id uuid PRIMARY KEY,
    device_id uuid NOT NULL,
    store_id uuid NOT NULL,
    seq int8 NOT NULL,
    kind text NOT NULL,
    device_time timestamptz NOT NULL,
    utc_offset_minutes int2 NOT NULL,
    received_at timestamptz NOT NULL,
    flags text NOT NULL,
    body jsonb
);
CREATE TABLE ratings (
    id uuid PRIMARY KEY,
    store_id uuid NOT NULL,
    device_id uuid NOT NULL,
    occurred_at timestamptz NOT NULL,
    local_date text NOT NULL,
    local_hour int4 NOT NULL,
    touchpoint text NOT NULL,
    survey_version int8 NOT NULL,
    scale int4 NOT NULL,
    score int4 NOT NULL,
    satisfied int4 NOT NULL,
    nps int4,
    suspected_repeat boolean NOT NULL,
    comment text
);
CREATE INDEX ratings_store_day ON ratings (store_id, local_date);
CREATE INDEX ratings_day ON ratings (local_date);
CREATE TABLE rating_reasons (
    rating_id uuid NOT NULL,
    reason text NOT NULL,
    PRIMARY KEY (rating_id, reason)
);
CREATE TABLE rating_comments (
    rating_id uuid PRIMARY KEY,
    comment text NOT NULL
);
"#,
    r#"
ALTER TABLE stores ADD COLUMN regulars_scope text NOT NULL DEFAULT 'store';
CREATE SEQUENCE regulars_change_seq;
CREATE TABLE regular_profiles (
    regular_id uuid PRIMARY KEY,
    home_store_id uuid NOT NULL,
    hlc text COLLATE "C" NOT NULL,
    profile text NOT NULL,
    first_local_date text NOT NULL,
    change_seq int8 NOT NULL
);
CREATE INDEX regular_profiles_seq ON regular_profiles (change_seq);
CREATE INDEX regular_profiles_home ON regular_profiles (home_store_id);
CREATE TABLE regular_visits (
    id uuid PRIMARY KEY,
    regular_id uuid NOT NULL,
    store_id uuid NOT NULL,
    device_id uuid NOT NULL,
    occurred_at timestamptz NOT NULL,
    local_date text NOT NULL,
    rating_id uuid,
    unhappy boolean,
    change_seq int8 NOT NULL
);
CREATE INDEX regular_visits_seq ON regular_visits (change_seq);
CREATE INDEX regular_visits_regular ON regular_visits (regular_id);
CREATE INDEX regular_visits_store_day ON regular_visits (store_id, local_date);
CREATE TABLE regular_tombstones (
    regular_id uuid PRIMARY KEY,
    erased_at timestamptz NOT NULL,
    home_store_id uuid NOT NULL,
    local_date text NOT NULL,
    change_seq int8 NOT NULL
);
CREATE INDEX regular_tombstones_seq ON regular_tombstones (change_seq);
"#,
    // 3: real types: local dates are `date`, flags are `boolean` (they were text and
    // int4). Rewrites the tables once; indexes on these columns are rebuilt with them.
    r#"
ALTER TABLE ratings
    ALTER COLUMN local_date TYPE date USING local_date::date,
    ALTER COLUMN satisfied TYPE boolean USING satisfied <> 0;
ALTER TABLE regular_profiles
    ALTER COLUMN first_local_date TYPE date USING first_local_date::date;
ALTER TABLE regular_visits ALTER COLUMN local_date TYPE date USING local_date::date;
ALTER TABLE regular_tombstones ALTER COLUMN local_date TYPE date USING local_date::date;
"#,
    super::postgres_accounts::MIGRATION,
    // 5: the dashboard: opening hours per store (NULL: always open), when each kiosk was
    // last heard from, and its newest health report found without a scan.
    r#"
ALTER TABLE stores ADD COLUMN opening_hours text;
ALTER TABLE devices ADD COLUMN last_seen_at timestamptz;
UPDATE devices SET last_seen_at = (SELECT MAX(received_at) FROM events e WHERE e.device_id = devices.id);
CREATE INDEX events_device_health ON events (device_id, received_at) WHERE kind = 'device_health';
"#,
    // 6: rollups kept at ingest (see storage/rollups.rs), filled from the rows so far.
    concat!(
        r#"
CREATE TABLE rating_rollup (
    store_id uuid NOT NULL,
    local_date date NOT NULL,
    local_hour int4 NOT NULL,
    touchpoint text NOT NULL,
    scale int4 NOT NULL,
    score int4 NOT NULL,
    suspected_repeat boolean NOT NULL,
    n int8 NOT NULL,
    nps_n int8 NOT NULL,
    promoters int8 NOT NULL,
    detractors int8 NOT NULL,
    PRIMARY KEY (store_id, local_date, local_hour, touchpoint, scale, score, suspected_repeat)
);
CREATE TABLE rating_daily (
    store_id uuid NOT NULL,
    local_date date NOT NULL,
    scale int4 NOT NULL,
    score int4 NOT NULL,
    suspected_repeat boolean NOT NULL,
    n int8 NOT NULL,
    nps_n int8 NOT NULL,
    promoters int8 NOT NULL,
    detractors int8 NOT NULL,
    PRIMARY KEY (store_id, local_date, scale, score, suspected_repeat)
);
CREATE TABLE reason_rollup (
    store_id uuid NOT NULL,
    local_date date NOT NULL,
    reason text NOT NULL,
    scale int4 NOT NULL,
    score int4 NOT NULL,
    suspected_repeat boolean NOT NULL,
    n int8 NOT NULL,
    nps_n int8 NOT NULL,
    promoters int8 NOT NULL,
    detractors int8 NOT NULL,
    PRIMARY KEY (store_id, local_date, reason, scale, score, suspected_repeat)
);
-- The comments feed: a store's ratings newest first, read until a page is full.
CREATE INDEX ratings_store_time ON ratings (store_id, occurred_at);
"#,
        super::rollups::fill_sql!()
    ),
    // 7: alerts (issue 11): rules, alerts, the delivery outbox.
    super::postgres_alerts::MIGRATION,
    // 8: digests (issue 11): deliveries without an alert, digest choices and records.
    super::postgres_digests::MIGRATION,
    // 9: the comments feed's narrow table (issue 10), see
    // storage/comment_feed.rs.
    super::comment_feed::POSTGRES_MIGRATION,
    // 10: which ratings details reached first (see storage/early_details.rs).
    super::early_details::POSTGRES_MIGRATION,
];

/// A constant for `pg_advisory_xact_lock`, held by every transaction that writes regulars
/// rows, from before it draws a change sequence until it commits.
///
/// Why: a pull returns rows with `change_seq > cursor` and moves the cursor to the highest
/// one it saw. A sequence hands out numbers in call order, but transactions commit in any
/// order: if seq 8 committed while seq 7 was still open, a pull could see 8, move its
/// cursor past 7, and never return 7. Holding this lock makes regulars writers take
/// numbers and commit one at a time, so numbers become visible in order and a snapshot
/// that holds seq N holds every seq below it. Regulars writes are small and rare next to
/// ratings, which never take the lock.
const REGULARS_LOCK: i64 = 0x0072_6567_756c_6172;

fn pool_err(e: impl std::fmt::Display) -> StorageError {
    StorageError::Pool(e.to_string())
}

/// PostgreSQL storage: see the module documentation.
pub struct PostgresStorage {
    pool: Pool,
}

impl PostgresStorage {
    /// Connect to `url`, and bring the schema up to date.
    pub async fn connect(url: &str) -> Result<PostgresStorage, StorageError> {
        let (config, tls) = super::pg_tls::connect_options(url).await?;
        let manager = Manager::from_config(
            config,
            tls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(32)
            .build()
            .map_err(pool_err)?;
        let storage = PostgresStorage { pool };
        storage.migrate().await?;
        Ok(storage)
    }

    pub(super) async fn client(&self) -> Result<deadpool_postgres::Object, StorageError> {
        self.pool.get().await.map_err(pool_err)
    }

    async fn migrate(&self) -> Result<(), StorageError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_migrations (version int8 PRIMARY KEY)")
            .await?;
        let current: Option<i64> = tx
            .query_one("SELECT MAX(version) FROM schema_migrations", &[])
            .await?
            .get(0);
        let current = current.unwrap_or(0);
        let known = MIGRATIONS.len() as i64;
        if current > known {
            return Err(StorageError::NewerSchema {
                found: current,
                known,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate() {
            let version = i as i64 + 1;
            if version > current {
                tx.batch_execute(sql).await?;
                tx.execute(
                    "INSERT INTO schema_migrations (version) VALUES ($1)",
                    &[&version],
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn ingest_once(
        &self,
        device: &DeviceRecord,
        items: &[IngestItem],
    ) -> Result<Vec<Stored>, StorageError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let wanted = rules::wanted(items);
        // Regulars: take the lock first (see REGULARS_LOCK), so the facts read below
        // stay true until commit.
        if !wanted.regular_ids.is_empty() {
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&REGULARS_LOCK])
                .await?;
        }
        let facts = facts(&tx, &wanted).await?;
        let screened = rules::screen(device.store_id, items, &facts);

        // Events in id order, so concurrent batches take row locks in the same order.
        // What really went in decides accepted against duplicate: a concurrent batch
        // holding the same id makes this insert skip it.
        let order = &screened.candidates;
        let ids: Vec<Uuid> = order.iter().map(|i| items[*i].id).collect();
        let seqs: Vec<i64> = order.iter().map(|i| items[*i].seq).collect();
        let kinds: Vec<&str> = order.iter().map(|i| items[*i].kind.as_str()).collect();
        let device_times: Vec<DateTime<Utc>> =
            order.iter().map(|i| items[*i].device_time).collect();
        let offsets: Vec<i16> = order.iter().map(|i| items[*i].utc_offset_minutes).collect();
        let received: Vec<DateTime<Utc>> = order.iter().map(|i| items[*i].received_at).collect();
        let flags: Vec<&str> = order.iter().map(|i| items[*i].flags.as_str()).collect();
        let bodies: Vec<Option<&str>> = order.iter().map(|i| items[*i].body.as_deref()).collect();
        let inserted: HashSet<Uuid> = if ids.is_empty() {
            HashSet::new()
        } else {
            tx.query(
                &tx.prepare_cached(
                    "INSERT INTO events (id, device_id, store_id, seq, kind, device_time, \
                     utc_offset_minutes, received_at, flags, body) \
                     SELECT u.id, $2, $3, u.seq, u.kind, u.device_time, u.off, u.received, \
                     u.flags, u.body::jsonb \
                     FROM UNNEST($1::uuid[], $4::int8[], $5::text[], $6::timestamptz[], \
                     $7::int2[], $8::timestamptz[], $9::text[], $10::text[]) \
                     AS u(id, seq, kind, device_time, off, received, flags, body) \
                     ON CONFLICT (id) DO NOTHING RETURNING id",
                )
                .await?,
                &[
                    &ids,
                    &device.id,
                    &device.store_id,
                    &seqs,
                    &kinds,
                    &device_times,
                    &offsets,
                    &received,
                    &flags,
                    &bodies,
                ],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect()
        };
        let plan = rules::decide(device, items, &facts, screened, &inserted);
        apply(&tx, device, &plan).await?;
        if let Some(at) = items.iter().map(|i| i.received_at).max() {
            tx.execute(
                &tx.prepare_cached(
                    "UPDATE devices SET last_seen_at = $1 WHERE id = $2 \
                     AND (last_seen_at IS NULL OR last_seen_at < $1)",
                )
                .await?,
                &[&at, &device.id],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(plan.outcomes)
    }
}

/// Read the facts the rules need about a batch: one query for the regulars (tombstone
/// and stored profile together), one for the owners of rated ratings.
async fn facts(
    tx: &deadpool_postgres::Transaction<'_>,
    wanted: &rules::Wanted,
) -> Result<Facts, StorageError> {
    let mut facts = Facts::default();
    if !wanted.regular_ids.is_empty() {
        let rows = tx
            .query(
                &tx.prepare_cached(
                    "SELECT u.id, t.regular_id IS NOT NULL, p.hlc, p.home_store_id \
                     FROM UNNEST($1::uuid[]) AS u(id) \
                     LEFT JOIN regular_tombstones t ON t.regular_id = u.id \
                     LEFT JOIN regular_profiles p ON p.regular_id = u.id",
                )
                .await?,
                &[&wanted.regular_ids],
            )
            .await?;
        for r in rows {
            let id: Uuid = r.get(0);
            if r.get::<_, bool>(1) {
                facts.tombstoned.insert(id);
            }
            if let (Some(hlc), Some(home_store_id)) = (r.get(2), r.get(3)) {
                facts
                    .profiles
                    .insert(id, StoredProfile { hlc, home_store_id });
            }
        }
    }
    if !wanted.rating_ids.is_empty() {
        let rows = tx
            .query(
                &tx.prepare_cached("SELECT id, store_id FROM ratings WHERE id = ANY($1)")
                    .await?,
                &[&wanted.rating_ids],
            )
            .await?;
        facts.rating_owners = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    }
    Ok(facts)
}

/// Write what the rules decided, inside the batch's transaction: one set-based
/// statement per table.
async fn apply(
    tx: &deadpool_postgres::Transaction<'_>,
    device: &DeviceRecord,
    plan: &rules::Plan<'_>,
) -> Result<(), StorageError> {
    let mut rollup = super::rollups::RollupFacts::default();
    let mut hits: Vec<Uuid> = Vec::new();
    if !plan.ratings.is_empty() {
        let rs = &plan.ratings;
        let col = |f: fn(&RatingRow) -> i32| -> Vec<i32> { rs.iter().map(|(_, r)| f(r)).collect() };
        let r_ids: Vec<Uuid> = rs.iter().map(|(id, _)| *id).collect();
        let occurred: Vec<DateTime<Utc>> = rs.iter().map(|(_, r)| r.occurred_at).collect();
        let dates: Vec<NaiveDate> = rs.iter().map(|(_, r)| r.local_date).collect();
        let hours = col(|r| r.local_hour as i32);
        let touchpoints: Vec<&str> = rs.iter().map(|(_, r)| r.touchpoint.as_str()).collect();
        let versions: Vec<i64> = rs
            .iter()
            .map(|(_, r)| i64::from(r.survey_version))
            .collect();
        let scales = col(|r| i32::from(r.scale));
        let scores = col(|r| i32::from(r.score));
        let satisfied: Vec<bool> = rs.iter().map(|(_, r)| r.satisfied).collect();
        let nps: Vec<Option<i32>> = rs.iter().map(|(_, r)| r.nps.map(i32::from)).collect();
        let repeats: Vec<bool> = rs.iter().map(|(_, r)| r.suspected_repeat).collect();
        let comments: Vec<Option<&str>> = rs.iter().map(|(_, r)| r.comment.as_deref()).collect();
        // One round trip: the insert, the markers of the new ratings that details reached
        // first (taken), and for those the reasons stored before them, which the rollups
        // then count: (id, NULL) for a marked rating without such reasons.
        let orphans = tx
            .query(
            &tx.prepare_cached(
                "WITH ins AS (INSERT INTO ratings (id, store_id, device_id, occurred_at, local_date, \
                 local_hour, touchpoint, survey_version, scale, score, satisfied, nps, \
                 suspected_repeat, comment) \
                 SELECT u.id, $2, $3, u.occurred_at, u.local_date, u.local_hour, u.touchpoint, \
                 u.survey_version, u.scale, u.score, u.satisfied, u.nps, u.repeat, u.comment \
                 FROM UNNEST($1::uuid[], $4::timestamptz[], $5::date[], $6::int4[], $7::text[], \
                 $8::int8[], $9::int4[], $10::int4[], $11::bool[], $12::int4[], $13::bool[], \
                 $14::text[]) AS u(id, occurred_at, local_date, local_hour, touchpoint, \
                 survey_version, scale, score, satisfied, nps, repeat, comment) \
                 RETURNING id), \
                 hit AS (DELETE FROM early_details e USING ins WHERE e.rating_id = ins.id \
                 RETURNING e.rating_id) \
                 SELECT hit.rating_id, rr.reason FROM hit \
                 LEFT JOIN rating_reasons rr ON rr.rating_id = hit.rating_id \
                 ORDER BY hit.rating_id, rr.reason",
            )
            .await?,
            &[
                &r_ids,
                &device.store_id,
                &device.id,
                &occurred,
                &dates,
                &hours,
                &touchpoints,
                &versions,
                &scales,
                &scores,
                &satisfied,
                &nps,
                &repeats,
                &comments,
            ],
        )
        .await?;
        for row in &orphans {
            let id: Uuid = row.try_get(0)?;
            if hits.last() != Some(&id) {
                hits.push(id);
            }
            if let Some(reason) = row.try_get::<_, Option<String>>(1)? {
                rollup.orphans.push((id, reason));
            }
        }
    }
    if !plan.reasons.is_empty() {
        let (rid, rs): (Vec<Uuid>, Vec<&str>) = plan.reasons.iter().copied().unzip();
        let went_in = tx
            .query(
                &tx.prepare_cached(
                    "INSERT INTO rating_reasons (rating_id, reason) \
                     SELECT * FROM UNNEST($1::uuid[], $2::text[]) ON CONFLICT DO NOTHING \
                     RETURNING rating_id, reason",
                )
                .await?,
                &[&rid, &rs],
            )
            .await?;
        rollup.new_pairs = super::postgres_rollups::new_pairs(plan, &went_in)?;
    }
    if !plan.comments.is_empty() {
        let (cid, cs): (Vec<Uuid>, Vec<&str>) = plan.comments.iter().copied().unzip();
        tx.execute(
            &tx.prepare_cached(
                "INSERT INTO rating_comments (rating_id, comment) \
                 SELECT * FROM UNNEST($1::uuid[], $2::text[]) \
                 ON CONFLICT (rating_id) DO UPDATE SET comment = EXCLUDED.comment",
            )
            .await?,
            &[&cid, &cs],
        )
        .await?;
    }
    let (named, early) = super::comment_feed::candidates(plan, &hits);
    if !named.is_empty() || !early.is_empty() {
        tx.execute(
            &tx.prepare_cached(super::comment_feed::POSTGRES_KEEP)
                .await?,
            &[&named, &early],
        )
        .await?;
    }
    if !plan.early.is_empty() {
        tx.execute(
            &tx.prepare_cached(super::early_details::POSTGRES_MARK)
                .await?,
            &[&plan.early],
        )
        .await?;
    }
    // Before the NPS answers apply: the rollups move sums from the old answer.
    super::postgres_rollups::keep(tx, device, plan, rollup).await?;
    if !plan.nps.is_empty() {
        // After the ratings above: details may name a rating of this same batch.
        let (nid, ns): (Vec<Uuid>, Vec<i32>) =
            plan.nps.iter().map(|(id, n)| (*id, i32::from(*n))).unzip();
        tx.execute(
            &tx.prepare_cached(
                "UPDATE ratings r SET nps = u.nps                  FROM UNNEST($1::uuid[], $2::int4[]) AS u(id, nps)                  WHERE r.id = u.id AND r.store_id = $3",
            )
            .await?,
            &[&nid, &ns, &device.store_id],
        )
        .await?;
    }
    if !plan.writes_regulars() {
        return Ok(());
    }
    // The batch holds REGULARS_LOCK (taken before its facts), so these numbers commit in
    // order; see REGULARS_LOCK.
    let mut seqs: Vec<i64> = tx
        .query(
            "SELECT nextval('regulars_change_seq') FROM generate_series(1, $1::int8)",
            &[&(plan.change_seqs as i64)],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    seqs.sort_unstable();
    let seq = |k: usize| {
        seqs.get(k).copied().ok_or_else(|| {
            StorageError::Corrupt("the change sequence returned too few numbers".into())
        })
    };
    if !plan.purged.is_empty() {
        tx.execute(
            "DELETE FROM regular_profiles WHERE regular_id = ANY($1)",
            &[&plan.purged],
        )
        .await?;
        tx.execute(
            "DELETE FROM regular_visits WHERE regular_id = ANY($1)",
            &[&plan.purged],
        )
        .await?;
    }
    if !plan.tombstones.is_empty() {
        let t = &plan.tombstones;
        let ids: Vec<Uuid> = t.iter().map(|t| t.regular_id).collect();
        let at: Vec<DateTime<Utc>> = t.iter().map(|t| t.erased_at).collect();
        let homes: Vec<Uuid> = t.iter().map(|t| t.home_store_id).collect();
        let dates: Vec<NaiveDate> = t.iter().map(|t| t.local_date).collect();
        let s = t
            .iter()
            .map(|t| seq(t.seq))
            .collect::<Result<Vec<i64>, _>>()?;
        tx.execute(
            "INSERT INTO regular_tombstones (regular_id, erased_at, home_store_id, local_date, \
             change_seq) SELECT * FROM UNNEST($1::uuid[], $2::timestamptz[], $3::uuid[], \
             $4::date[], $5::int8[]) ON CONFLICT DO NOTHING",
            &[&ids, &at, &homes, &dates, &s],
        )
        .await?;
    }
    if !plan.profiles.is_empty() {
        let p = &plan.profiles;
        let ids: Vec<Uuid> = p.iter().map(|p| p.regular_id).collect();
        let homes: Vec<Uuid> = p.iter().map(|p| p.home_store_id).collect();
        let hlcs: Vec<&str> = p.iter().map(|p| p.hlc).collect();
        let profiles: Vec<&str> = p.iter().map(|p| p.profile.0.as_str()).collect();
        let dates: Vec<NaiveDate> = p.iter().map(|p| p.first_local_date).collect();
        let s = p
            .iter()
            .map(|p| seq(p.seq))
            .collect::<Result<Vec<i64>, _>>()?;
        tx.execute(
            "INSERT INTO regular_profiles (regular_id, home_store_id, hlc, profile, \
             first_local_date, change_seq) SELECT * FROM UNNEST($1::uuid[], $2::uuid[], \
             $3::text[], $4::text[], $5::date[], $6::int8[]) \
             ON CONFLICT (regular_id) DO UPDATE SET hlc = EXCLUDED.hlc, \
             profile = EXCLUDED.profile, change_seq = EXCLUDED.change_seq \
             WHERE regular_profiles.hlc < EXCLUDED.hlc",
            &[&ids, &homes, &hlcs, &profiles, &dates, &s],
        )
        .await?;
    }
    if !plan.visits.is_empty() {
        let v = &plan.visits;
        let ids: Vec<Uuid> = v.iter().map(|v| v.id).collect();
        let regulars: Vec<Uuid> = v.iter().map(|v| v.regular_id).collect();
        let at: Vec<DateTime<Utc>> = v.iter().map(|v| v.occurred_at).collect();
        let dates: Vec<NaiveDate> = v.iter().map(|v| v.local_date).collect();
        let ratings: Vec<Option<Uuid>> = v.iter().map(|v| v.rating_id).collect();
        let unhappy: Vec<Option<bool>> = v.iter().map(|v| v.unhappy).collect();
        let s = v
            .iter()
            .map(|v| seq(v.seq))
            .collect::<Result<Vec<i64>, _>>()?;
        tx.execute(
            "INSERT INTO regular_visits (id, regular_id, store_id, device_id, occurred_at, \
             local_date, rating_id, unhappy, change_seq) \
             SELECT u.id, u.regular_id, $3, $4, u.at, u.local_date, u.rating_id, u.unhappy, \
             u.seq FROM UNNEST($1::uuid[], $2::uuid[], $5::timestamptz[], $6::date[], \
             $7::uuid[], $8::bool[], $9::int8[]) \
             AS u(id, regular_id, at, local_date, rating_id, unhappy, seq) \
             ON CONFLICT (id) DO NOTHING",
            &[
                &ids,
                &regulars,
                &device.store_id,
                &device.id,
                &at,
                &dates,
                &ratings,
                &unhappy,
                &s,
            ],
        )
        .await?;
    }
    Ok(())
}

fn retryable(e: &StorageError) -> bool {
    match e {
        StorageError::Postgres(e) => matches!(
            e.code(),
            Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED
                || *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::UNIQUE_VIOLATION
        ),
        _ => false,
    }
}

/// `Err(NoSuchStore)` unless the store exists, so a report on a mistyped id is an error
/// and not a page of zeros.
pub(super) async fn store_exists(
    client: &deadpool_postgres::Object,
    store: Uuid,
) -> Result<(), StorageError> {
    let stmt = client
        .prepare_cached("SELECT 1 FROM stores WHERE id = $1")
        .await?;
    client
        .query_opt(&stmt, &[&store])
        .await?
        .map(|_| ())
        .ok_or(StorageError::NoSuchStore(store))
}

#[async_trait]
impl Storage for PostgresStorage {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn create_store(&self, name: &str, timezone: &str) -> Result<Uuid, StorageError> {
        let id = Uuid::now_v7();
        let config = serde_json::to_value(super::new_store_survey(name))
            .map_err(|e| StorageError::Corrupt(e.to_string()))?;
        self.client()
            .await?
            .execute(
                "INSERT INTO stores (id, name, timezone, config, config_version) \
                 VALUES ($1, $2, $3, $4, 1)",
                &[&id, &name, &timezone, &config],
            )
            .await?;
        Ok(id)
    }

    async fn store(&self, id: Uuid) -> Result<Option<StoreRecord>, StorageError> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT name, timezone, config_version, config, regulars_scope \
                 FROM stores WHERE id = $1",
                &[&id],
            )
            .await?;
        row.map(|r| {
            let version: i64 = r.get(2);
            let scope: String = r.get(4);
            Ok(StoreRecord {
                regulars_scope: scope.parse().map_err(StorageError::Corrupt)?,
                id,
                name: r.get(0),
                timezone: r.get(1),
                config_version: version as u64,
                config: serde_json::from_value(r.get(3))
                    .map_err(|e| StorageError::Corrupt(format!("store config: {e}")))?,
            })
        })
        .transpose()
    }

    async fn set_regulars_scope(
        &self,
        store_id: Uuid,
        scope: RegularsScope,
    ) -> Result<(), StorageError> {
        let n = self
            .client()
            .await?
            .execute(
                "UPDATE stores SET regulars_scope = $1 WHERE id = $2",
                &[&scope.as_str(), &store_id],
            )
            .await?;
        if n == 0 {
            return Err(StorageError::NoSuchStore(store_id));
        }
        Ok(())
    }

    async fn pull_regulars(
        &self,
        store_id: Uuid,
        cursor: u64,
        limit: usize,
    ) -> Result<RegularsPage, StorageError> {
        let mut client = self.client().await?;
        // One snapshot for every query below (see REGULARS_LOCK for why it is enough).
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let scope: String = tx
            .query_opt(
                "SELECT regulars_scope FROM stores WHERE id = $1",
                &[&store_id],
            )
            .await?
            .ok_or(StorageError::NoSuchStore(store_id))?
            .get(0);
        let after = i64::try_from(cursor).unwrap_or(i64::MAX);
        let take = (limit + 1) as i64;
        let mut rows: Vec<(i64, PullEntry)> = Vec::new();
        let sql = super::regulars_profiles_sql(|n| format!("${n}"));
        for r in tx.query(&sql, &[&store_id, &after, &scope, &take]).await? {
            let json: String = r.get(0);
            rows.push((
                r.get(1),
                PullEntry::Profile(Box::new(
                    serde_json::from_str(&json)
                        .map_err(|e| StorageError::Corrupt(format!("profile: {e}")))?,
                )),
            ));
        }
        let sql = super::regulars_visits_sql(|n| format!("${n}"));
        for r in tx.query(&sql, &[&store_id, &after, &scope, &take]).await? {
            rows.push((
                r.get(5),
                PullEntry::Visit(countertop_protocol::VisitRecord {
                    id: r.get(0),
                    at: r.get(1),
                    visit: countertop_protocol::Visit {
                        regular_id: r.get(2),
                        rating_id: r.get(3),
                        unhappy: r.get(4),
                    },
                }),
            ));
        }
        for r in tx
            .query(
                "SELECT regular_id, erased_at, change_seq FROM regular_tombstones \
                 WHERE change_seq > $1 ORDER BY change_seq LIMIT $2",
                &[&after, &take],
            )
            .await?
        {
            rows.push((
                r.get(2),
                PullEntry::Erased(countertop_protocol::RegularErased {
                    regular_id: r.get(0),
                    erased_at: r.get(1),
                }),
            ));
        }
        let newest: Option<i64> = tx
            .query_one(
                "SELECT GREATEST((SELECT MAX(change_seq) FROM regular_profiles), \
                 (SELECT MAX(change_seq) FROM regular_visits), \
                 (SELECT MAX(change_seq) FROM regular_tombstones))",
                &[],
            )
            .await?
            .get(0);
        tx.commit().await?;
        Ok(super::page_of(rows, cursor, newest.unwrap_or(0), limit))
    }

    async fn regulars_report(
        &self,
        query: &RegularsReportQuery,
    ) -> Result<RegularsTally, StorageError> {
        let sql = super::regulars_report_sql(query, |n| format!("${n}"));
        let client = self.client().await?;
        if let Some(store) = query.store_id {
            store_exists(&client, store).await?;
        }
        let (from, to) = (query.from, query.to);
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&from, &to];
        if let Some(s) = &query.store_id {
            params.push(s);
        }
        let r = client.query_one(&sql, &params).await?;
        let n = |i: usize| r.get::<_, i64>(i) as u64;
        Ok(RegularsTally {
            regulars: n(0),
            new_regulars: n(1),
            visits: n(2),
            unhappy_visits: n(3),
            erasures: n(4),
        })
    }

    async fn set_config(&self, store_id: Uuid, config: &SurveyConfig) -> Result<u64, StorageError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let current: i64 = tx
            .query_opt(
                "SELECT config_version FROM stores WHERE id = $1 FOR UPDATE",
                &[&store_id],
            )
            .await?
            .ok_or(StorageError::NoSuchStore(store_id))?
            .get(0);
        let next = current + 1;
        let mut config = config.clone();
        config.version = next as u32;
        let json =
            serde_json::to_value(&config).map_err(|e| StorageError::Corrupt(e.to_string()))?;
        tx.execute(
            "UPDATE stores SET config = $1, config_version = $2 WHERE id = $3",
            &[&json, &next, &store_id],
        )
        .await?;
        tx.commit().await?;
        Ok(next as u64)
    }

    async fn create_enroll_code(
        &self,
        store_id: Uuid,
        code_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        self.client()
            .await?
            .execute(
                "INSERT INTO enroll_codes (code_hash, store_id, expires_at) VALUES ($1, $2, $3)",
                &[&code_hash, &store_id, &expires_at],
            )
            .await?;
        Ok(())
    }

    async fn redeem_enroll_code(
        &self,
        code_hash: &str,
        now: DateTime<Utc>,
        device_id: Uuid,
        device_name: Option<&str>,
        token_hash: &str,
    ) -> Result<Redeemed, StorageError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let code = tx
            .query_opt(
                "SELECT store_id, expires_at, used_at IS NOT NULL FROM enroll_codes \
                 WHERE code_hash = $1 FOR UPDATE",
                &[&code_hash],
            )
            .await?
            .map(|row| rules::EnrollCode {
                store_id: row.get(0),
                expires_at: row.get(1),
                used: row.get(2),
            });
        let store_id = match rules::redeem(code.as_ref(), now) {
            Ok(store_id) => store_id,
            Err(refused) => return Ok(refused),
        };
        tx.execute(
            "UPDATE enroll_codes SET used_at = $1 WHERE code_hash = $2",
            &[&now, &code_hash],
        )
        .await?;
        tx.execute(
            "INSERT INTO devices (id, store_id, name, token_hash, enrolled_at) \
             VALUES ($1, $2, $3, $4, $5)",
            &[&device_id, &store_id, &device_name, &token_hash, &now],
        )
        .await?;
        tx.commit().await?;
        Ok(Redeemed::Enrolled { store_id })
    }

    async fn device_by_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<DeviceRecord>, StorageError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT d.id, d.store_id, s.timezone, d.revoked_at IS NOT NULL \
                 FROM devices d JOIN stores s ON s.id = d.store_id WHERE d.token_hash = $1",
            )
            .await?;
        let row = client.query_opt(&stmt, &[&token_hash]).await?;
        Ok(row.map(|r| DeviceRecord {
            id: r.get(0),
            store_id: r.get(1),
            store_timezone: r.get(2),
            revoked: r.get(3),
        }))
    }

    async fn revoke_device(&self, device_id: Uuid) -> Result<bool, StorageError> {
        let n = self
            .client()
            .await?
            .execute(
                "UPDATE devices SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1",
                &[&device_id],
            )
            .await?;
        Ok(n > 0)
    }

    async fn create_api_token(&self, name: &str, token_hash: &str) -> Result<Uuid, StorageError> {
        let id = Uuid::now_v7();
        self.client()
            .await?
            .execute(
                "INSERT INTO api_tokens (id, name, token_hash) VALUES ($1, $2, $3)",
                &[&id, &name, &token_hash],
            )
            .await?;
        Ok(id)
    }

    async fn api_token_state(&self, token_hash: &str) -> Result<TokenState, StorageError> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT revoked_at IS NOT NULL FROM api_tokens WHERE token_hash = $1",
                &[&token_hash],
            )
            .await?;
        Ok(match row.map(|r| r.get::<_, bool>(0)) {
            None => TokenState::Unknown,
            Some(true) => TokenState::Revoked,
            Some(false) => TokenState::Valid,
        })
    }

    async fn revoke_api_token(&self, id: Uuid) -> Result<bool, StorageError> {
        let n = self
            .client()
            .await?
            .execute(
                "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1",
                &[&id],
            )
            .await?;
        Ok(n > 0)
    }

    async fn ingest(
        &self,
        device: &DeviceRecord,
        items: Vec<IngestItem>,
    ) -> Result<Vec<Stored>, StorageError> {
        let mut attempt = 0;
        loop {
            match self.ingest_once(device, &items).await {
                Err(e) if retryable(&e) && attempt < 5 => {
                    attempt += 1;
                    tracing::warn!(attempt, "ingest transaction conflicted; retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(5 * attempt)).await;
                }
                other => return other,
            }
        }
    }

    async fn report(&self, query: &ReportQuery) -> Result<Vec<Tally>, StorageError> {
        if let Some(store) = query.store_id {
            store_exists(&self.client().await?, store).await?;
        }
        let sql = super::analytics::report_sql(&super::analytics::POSTGRES, query);
        Ok(super::analytics::tallies(self.cells(sql).await?))
    }

    async fn count_events(&self) -> Result<u64, StorageError> {
        let n: i64 = self
            .client()
            .await?
            .query_one("SELECT COUNT(*) FROM events", &[])
            .await?
            .get(0);
        Ok(n as u64)
    }

    async fn ping(&self) -> Result<(), StorageError> {
        self.client().await?.execute("SELECT 1", &[]).await?;
        Ok(())
    }
}
