//! PostgreSQL storage for chains, through tokio-postgres and a deadpool pool. HQ keeps
//! no state of its own, so any number of HQ processes can share one database: exactly
//! once comes from the primary key on `events.id` and `ON CONFLICT DO NOTHING`, and each
//! batch is written in a few set-based statements (`UNNEST`) inside one transaction.

use std::collections::{BTreeMap, HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use countertop_protocol::SurveyConfig;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::{
    erased_rejection, report_sql, DeviceRecord, IngestItem, PullEntry, Redeemed, RegularOp,
    RegularsPage, RegularsReportQuery, RegularsScope, RegularsTally, ReportQuery, Storage,
    StorageError, StoreRecord, Stored, Tally, TokenState,
};

/// A constant for `pg_advisory_xact_lock`, so concurrent HQ processes migrate one at a time.
const MIGRATION_LOCK: i64 = 0x0063_6f75_6e74_6572;

const MIGRATIONS: &[&str] = &[
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

    async fn client(&self) -> Result<deadpool_postgres::Object, StorageError> {
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
        let mut out: Vec<Option<Stored>> = vec![None; items.len()];

        // Regulars: take the lock first (see REGULARS_LOCK), then refuse uploads about
        // erased regulars, including those erased earlier in this batch.
        let regular_ids: Vec<Uuid> = items
            .iter()
            .filter_map(|i| i.regular.as_ref().map(RegularOp::regular_id))
            .collect();
        if !regular_ids.is_empty() {
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&REGULARS_LOCK])
                .await?;
            let mut erased: HashSet<Uuid> = tx
                .query(
                    "SELECT regular_id FROM regular_tombstones WHERE regular_id = ANY($1)",
                    &[&regular_ids],
                )
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect();
            for (i, item) in items.iter().enumerate() {
                match &item.regular {
                    Some(RegularOp::Erase { regular_id, .. }) => {
                        erased.insert(*regular_id);
                    }
                    Some(op) if erased.contains(&op.regular_id()) => {
                        out[i] = Some(erased_rejection());
                    }
                    _ => {}
                }
            }
        }

        // A rating_details event may only touch a rating of its own store.
        let detail_targets: Vec<Uuid> = items
            .iter()
            .filter_map(|i| i.details.as_ref().map(|d| d.rating_id))
            .collect();
        if !detail_targets.is_empty() {
            let rows = tx
                .query(
                    "SELECT id, store_id FROM ratings WHERE id = ANY($1)",
                    &[&detail_targets],
                )
                .await?;
            let owners: HashMap<Uuid, Uuid> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
            for (i, item) in items.iter().enumerate() {
                if let Some(d) = &item.details {
                    if owners
                        .get(&d.rating_id)
                        .is_some_and(|s| *s != device.store_id)
                    {
                        out[i] = Some(Stored::Rejected {
                            code: "rating_of_another_store".into(),
                            reason: "rating_id names a rating recorded in another store".into(),
                        });
                    }
                }
            }
        }

        // Rows in id order, so concurrent batches take row locks in the same order.
        let mut order: Vec<usize> = (0..items.len()).filter(|i| out[*i].is_none()).collect();
        order.sort_by_key(|i| items[*i].id);
        let ids: Vec<Uuid> = order.iter().map(|i| items[*i].id).collect();
        let seqs: Vec<i64> = order.iter().map(|i| items[*i].seq).collect();
        let kinds: Vec<&str> = order.iter().map(|i| items[*i].kind.as_str()).collect();
        let device_times: Vec<DateTime<Utc>> =
            order.iter().map(|i| items[*i].device_time).collect();
        let offsets: Vec<i16> = order.iter().map(|i| items[*i].utc_offset_minutes).collect();
        let received: Vec<DateTime<Utc>> = order.iter().map(|i| items[*i].received_at).collect();
        let flags: Vec<&str> = order.iter().map(|i| items[*i].flags.as_str()).collect();
        let bodies: Vec<Option<&str>> = order.iter().map(|i| items[*i].body.as_deref()).collect();
        let inserted: HashSet<Uuid> = tx
            .query(
                &tx.prepare_cached(
                    "INSERT INTO events (id, device_id, store_id, seq, kind, device_time, \
                 utc_offset_minutes, received_at, flags, body) \
                 SELECT u.id, $2, $3, u.seq, u.kind, u.device_time, u.off, u.received, u.flags, \
                 u.body::jsonb \
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
            .collect();

        let fresh: Vec<usize> = order
            .iter()
            .copied()
            .filter(|i| inserted.contains(&items[*i].id))
            .collect();
        let ratings: Vec<(Uuid, &super::RatingRow)> = fresh
            .iter()
            .filter_map(|i| items[*i].rating.as_ref().map(|r| (items[*i].id, r)))
            .collect();
        if !ratings.is_empty() {
            let col = |f: fn(&super::RatingRow) -> i32| -> Vec<i32> {
                ratings.iter().map(|(_, r)| f(r)).collect()
            };
            let r_ids: Vec<Uuid> = ratings.iter().map(|(id, _)| *id).collect();
            let occurred: Vec<DateTime<Utc>> = ratings.iter().map(|(_, r)| r.occurred_at).collect();
            let dates: Vec<String> = ratings
                .iter()
                .map(|(_, r)| r.local_date.to_string())
                .collect();
            let hours = col(|r| r.local_hour as i32);
            let touchpoints: Vec<&str> =
                ratings.iter().map(|(_, r)| r.touchpoint.as_str()).collect();
            let versions: Vec<i64> = ratings
                .iter()
                .map(|(_, r)| i64::from(r.survey_version))
                .collect();
            let scales = col(|r| i32::from(r.scale));
            let scores = col(|r| i32::from(r.score));
            let satisfied = col(|r| i32::from(r.satisfied));
            let nps: Vec<Option<i32>> = ratings.iter().map(|(_, r)| r.nps.map(i32::from)).collect();
            let repeats: Vec<bool> = ratings.iter().map(|(_, r)| r.suspected_repeat).collect();
            let comments: Vec<Option<&str>> =
                ratings.iter().map(|(_, r)| r.comment.as_deref()).collect();
            tx.execute(
                &tx.prepare_cached(
                    "INSERT INTO ratings (id, store_id, device_id, occurred_at, local_date, \
                 local_hour, touchpoint, survey_version, scale, score, satisfied, nps, \
                 suspected_repeat, comment) \
                 SELECT u.id, $2, $3, u.occurred_at, u.local_date, u.local_hour, u.touchpoint, \
                 u.survey_version, u.scale, u.score, u.satisfied, u.nps, u.repeat, u.comment \
                 FROM UNNEST($1::uuid[], $4::timestamptz[], $5::text[], $6::int4[], $7::text[], \
                 $8::int8[], $9::int4[], $10::int4[], $11::int4[], $12::int4[], $13::bool[], \
                 $14::text[]) AS u(id, occurred_at, local_date, local_hour, touchpoint, \
                 survey_version, scale, score, satisfied, nps, repeat, comment)",
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
        }

        // Reasons from ratings and from details; comments from details (last one wins).
        let mut reasons: Vec<(Uuid, &str)> = Vec::new();
        let mut comments: BTreeMap<Uuid, &str> = BTreeMap::new();
        for i in &fresh {
            let item = &items[*i];
            if let Some(r) = &item.rating {
                reasons.extend(r.reasons.iter().map(|s| (item.id, s.as_str())));
            }
            if let Some(d) = &item.details {
                reasons.extend(d.reasons.iter().map(|s| (d.rating_id, s.as_str())));
                if let Some(c) = &d.comment {
                    comments.insert(d.rating_id, c.as_str());
                }
            }
        }
        if !reasons.is_empty() {
            reasons.sort_unstable();
            reasons.dedup();
            let (rid, rs): (Vec<Uuid>, Vec<&str>) = reasons.into_iter().unzip();
            tx.execute(
                &tx.prepare_cached(
                    "INSERT INTO rating_reasons (rating_id, reason) \
                 SELECT * FROM UNNEST($1::uuid[], $2::text[]) ON CONFLICT DO NOTHING",
                )
                .await?,
                &[&rid, &rs],
            )
            .await?;
        }
        if !comments.is_empty() {
            let (cid, cs): (Vec<Uuid>, Vec<&str>) = comments.into_iter().unzip();
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
        // Regulars rows, in batch order (an erasure undoes the edits before it).
        let mut applied: HashSet<Uuid> = HashSet::new();
        for (i, item) in items.iter().enumerate() {
            if let Some(op) = &item.regular {
                if out[i].is_none() && inserted.contains(&item.id) && applied.insert(item.id) {
                    apply_regular(&tx, device, item.id, op).await?;
                }
            }
        }
        tx.commit().await?;

        // Within one batch the first copy of an id wins; later copies are duplicates.
        let mut seen: HashSet<Uuid> = HashSet::new();
        Ok(items
            .iter()
            .zip(out)
            .map(|(item, o)| {
                o.unwrap_or_else(|| {
                    if inserted.contains(&item.id) && seen.insert(item.id) {
                        Stored::Inserted
                    } else {
                        Stored::Duplicate
                    }
                })
            })
            .collect())
    }
}

async fn next_change_seq(tx: &tokio_postgres::Transaction<'_>) -> Result<i64, StorageError> {
    Ok(tx
        .query_one("SELECT nextval('regulars_change_seq')", &[])
        .await?
        .get(0))
}

/// Apply one regulars event inside the ingest transaction, which holds REGULARS_LOCK.
async fn apply_regular(
    tx: &tokio_postgres::Transaction<'_>,
    device: &DeviceRecord,
    event_id: Uuid,
    op: &RegularOp,
) -> Result<(), StorageError> {
    match op {
        RegularOp::Upsert {
            regular_id,
            hlc,
            profile,
            local_date,
        } => {
            let stored: Option<String> = tx
                .query_opt(
                    "SELECT hlc FROM regular_profiles WHERE regular_id = $1",
                    &[regular_id],
                )
                .await?
                .map(|r| r.get(0));
            match stored {
                None => {
                    let seq = next_change_seq(tx).await?;
                    tx.execute(
                        "INSERT INTO regular_profiles (regular_id, home_store_id, hlc, profile, \
                         first_local_date, change_seq) VALUES ($1, $2, $3, $4, $5, $6)",
                        &[
                            regular_id,
                            &device.store_id,
                            hlc,
                            &profile.0,
                            &local_date.to_string(),
                            &seq,
                        ],
                    )
                    .await?;
                }
                Some(old) if old < *hlc => {
                    let seq = next_change_seq(tx).await?;
                    tx.execute(
                        "UPDATE regular_profiles SET hlc = $1, profile = $2, change_seq = $3 \
                         WHERE regular_id = $4",
                        &[hlc, &profile.0, &seq, regular_id],
                    )
                    .await?;
                }
                // An older (or the same) edit lost the merge: accepted, nothing changes.
                Some(_) => {}
            }
        }
        RegularOp::Visit {
            regular_id,
            occurred_at,
            local_date,
            rating_id,
            unhappy,
        } => {
            let seq = next_change_seq(tx).await?;
            tx.execute(
                "INSERT INTO regular_visits (id, regular_id, store_id, device_id, occurred_at, \
                 local_date, rating_id, unhappy, change_seq) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING",
                &[
                    &event_id,
                    regular_id,
                    &device.store_id,
                    &device.id,
                    occurred_at,
                    &local_date.to_string(),
                    rating_id,
                    unhappy,
                    &seq,
                ],
            )
            .await?;
        }
        RegularOp::Erase {
            regular_id,
            erased_at,
            local_date,
        } => {
            let home: Option<Uuid> = tx
                .query_opt(
                    "SELECT home_store_id FROM regular_profiles WHERE regular_id = $1",
                    &[regular_id],
                )
                .await?
                .map(|r| r.get(0));
            let exists = tx
                .query_opt(
                    "SELECT 1 FROM regular_tombstones WHERE regular_id = $1",
                    &[regular_id],
                )
                .await?
                .is_some();
            if !exists {
                let seq = next_change_seq(tx).await?;
                tx.execute(
                    "INSERT INTO regular_tombstones (regular_id, erased_at, home_store_id, \
                     local_date, change_seq) VALUES ($1, $2, $3, $4, $5)",
                    &[
                        regular_id,
                        erased_at,
                        &home.unwrap_or(device.store_id),
                        &local_date.to_string(),
                        &seq,
                    ],
                )
                .await?;
            }
            tx.execute(
                "DELETE FROM regular_profiles WHERE regular_id = $1",
                &[regular_id],
            )
            .await?;
            tx.execute(
                "DELETE FROM regular_visits WHERE regular_id = $1",
                &[regular_id],
            )
            .await?;
        }
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
        let from = query.from.to_string();
        let to = query.to.to_string();
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
        let Some(row) = tx
            .query_opt(
                "SELECT store_id, expires_at, used_at FROM enroll_codes \
                 WHERE code_hash = $1 FOR UPDATE",
                &[&code_hash],
            )
            .await?
        else {
            return Ok(Redeemed::UnknownCode);
        };
        let store_id: Uuid = row.get(0);
        let expires_at: DateTime<Utc> = row.get(1);
        let used_at: Option<DateTime<Utc>> = row.get(2);
        if used_at.is_some() {
            return Ok(Redeemed::AlreadyUsed);
        }
        if expires_at <= now {
            return Ok(Redeemed::Expired);
        }
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
        let sql = report_sql(query, |n| format!("${n}"), "r.store_id", "false");
        let client = self.client().await?;
        let from = query.from.to_string();
        let to = query.to.to_string();
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&from, &to];
        if let Some(s) = &query.store_id {
            params.push(s);
        }
        let rows = client.query(&sql, &params).await?;
        Ok(rows
            .iter()
            .map(|r| {
                let n = |i: usize| r.get::<_, Option<i64>>(i).unwrap_or(0) as u64;
                Tally {
                    key: r.get(0),
                    count: n(1),
                    satisfied: n(2),
                    score_sum: n(3),
                    distribution: [n(4), n(5), n(6), n(7), n(8)],
                    nps_responses: n(9),
                    promoters: n(10),
                    detractors: n(11),
                }
            })
            .collect())
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
