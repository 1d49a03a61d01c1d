//! The embedded default: one SQLite file in WAL mode, through rusqlite. Blocking calls
//! run on tokio's blocking pool. One writer connection (SQLite allows one writer at a
//! time anyway) and one reader connection, so reports never wait behind an ingest.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use countertop_protocol::SurveyConfig;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use uuid::Uuid;

use super::rules::{self, Facts, StoredProfile};
use super::sqlite_rollups::ids_json;
use super::{
    DeviceRecord, IngestItem, Redeemed, RegularsPage, RegularsReportQuery, RegularsScope,
    RegularsTally, ReportQuery, Storage, StorageError, StoreRecord, Stored, Tally, TokenState,
};

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE stores (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    timezone TEXT NOT NULL,
    config TEXT NOT NULL,
    config_version INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE enroll_codes (
    code_hash TEXT PRIMARY KEY,
    store_id TEXT NOT NULL REFERENCES stores(id),
    expires_at TEXT NOT NULL,
    used_at TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    store_id TEXT NOT NULL REFERENCES stores(id),
    name TEXT,
    token_hash TEXT NOT NULL UNIQUE,
    enrolled_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE events (
    id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    store_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    device_time TEXT NOT NULL,
    utc_offset_minutes INTEGER NOT NULL,
    received_at TEXT NOT NULL,
    flags TEXT NOT NULL,
    body TEXT
);
CREATE TABLE ratings (
    id TEXT PRIMARY KEY,
    store_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    local_date TEXT NOT NULL,
    local_hour INTEGER NOT NULL,
    touchpoint TEXT NOT NULL,
    survey_version INTEGER NOT NULL,
    scale INTEGER NOT NULL,
    score INTEGER NOT NULL,
    satisfied INTEGER NOT NULL,
    nps INTEGER,
    suspected_repeat INTEGER NOT NULL,
    comment TEXT
);
CREATE INDEX ratings_store_day ON ratings (store_id, local_date);
CREATE INDEX ratings_day ON ratings (local_date);
CREATE TABLE rating_reasons (
    rating_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (rating_id, reason)
) WITHOUT ROWID;
CREATE TABLE rating_comments (
    rating_id TEXT PRIMARY KEY,
    comment TEXT NOT NULL
);
"#,
    r#"
ALTER TABLE stores ADD COLUMN regulars_scope TEXT NOT NULL DEFAULT 'store';
CREATE TABLE regular_profiles (
    regular_id TEXT PRIMARY KEY,
    home_store_id TEXT NOT NULL,
    hlc TEXT NOT NULL,
    profile TEXT NOT NULL,
    first_local_date TEXT NOT NULL,
    change_seq INTEGER NOT NULL
);
CREATE INDEX regular_profiles_seq ON regular_profiles (change_seq);
CREATE INDEX regular_profiles_home ON regular_profiles (home_store_id);
CREATE TABLE regular_visits (
    id TEXT PRIMARY KEY,
    regular_id TEXT NOT NULL,
    store_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    local_date TEXT NOT NULL,
    rating_id TEXT,
    unhappy INTEGER,
    change_seq INTEGER NOT NULL
);
CREATE INDEX regular_visits_seq ON regular_visits (change_seq);
CREATE INDEX regular_visits_regular ON regular_visits (regular_id);
CREATE INDEX regular_visits_store_day ON regular_visits (store_id, local_date);
CREATE TABLE regular_tombstones (
    regular_id TEXT PRIMARY KEY,
    erased_at TEXT NOT NULL,
    home_store_id TEXT NOT NULL,
    local_date TEXT NOT NULL,
    change_seq INTEGER NOT NULL
);
CREATE INDEX regular_tombstones_seq ON regular_tombstones (change_seq);
CREATE TABLE regulars_clock (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last INTEGER NOT NULL
);
INSERT INTO regulars_clock (id, last) VALUES (1, 0);
"#,
    super::sqlite_accounts::MIGRATION,
    // 4: the dashboard: opening hours per store (NULL: always open), when each kiosk was
    // last heard from, and its newest health report found without a scan.
    r#"
ALTER TABLE stores ADD COLUMN opening_hours TEXT;
ALTER TABLE devices ADD COLUMN last_seen_at TEXT;
UPDATE devices SET last_seen_at = (SELECT MAX(received_at) FROM events e WHERE e.device_id = devices.id);
CREATE INDEX events_device_health ON events (device_id, received_at) WHERE kind = 'device_health';
"#,
    // 5: rollups kept at ingest (see storage/rollups.rs), filled from the rows so far.
    concat!(
        r#"
CREATE TABLE rating_rollup (
    store_id TEXT NOT NULL,
    local_date TEXT NOT NULL,
    local_hour INTEGER NOT NULL,
    touchpoint TEXT NOT NULL,
    scale INTEGER NOT NULL,
    score INTEGER NOT NULL,
    suspected_repeat INTEGER NOT NULL,
    n INTEGER NOT NULL,
    nps_n INTEGER NOT NULL,
    promoters INTEGER NOT NULL,
    detractors INTEGER NOT NULL,
    PRIMARY KEY (store_id, local_date, local_hour, touchpoint, scale, score, suspected_repeat)
) WITHOUT ROWID;
CREATE TABLE rating_daily (
    store_id TEXT NOT NULL,
    local_date TEXT NOT NULL,
    scale INTEGER NOT NULL,
    score INTEGER NOT NULL,
    suspected_repeat INTEGER NOT NULL,
    n INTEGER NOT NULL,
    nps_n INTEGER NOT NULL,
    promoters INTEGER NOT NULL,
    detractors INTEGER NOT NULL,
    PRIMARY KEY (store_id, local_date, scale, score, suspected_repeat)
) WITHOUT ROWID;
CREATE TABLE reason_rollup (
    store_id TEXT NOT NULL,
    local_date TEXT NOT NULL,
    reason TEXT NOT NULL,
    scale INTEGER NOT NULL,
    score INTEGER NOT NULL,
    suspected_repeat INTEGER NOT NULL,
    n INTEGER NOT NULL,
    nps_n INTEGER NOT NULL,
    promoters INTEGER NOT NULL,
    detractors INTEGER NOT NULL,
    PRIMARY KEY (store_id, local_date, reason, scale, score, suspected_repeat)
) WITHOUT ROWID;
-- The comments feed: a store's ratings newest first, read until a page is full.
CREATE INDEX ratings_store_time ON ratings (store_id, occurred_at);
"#,
        super::rollups::fill_sql!()
    ),
    // 6: alerts (issue 11): rules, alerts, the delivery outbox.
    super::sqlite_alerts::MIGRATION,
    // 7: digests (issue 11): deliveries without an alert, digest choices and records.
    super::sqlite_digests::MIGRATION,
    // 8: the comments feed's narrow table (issue 10), see
    // storage/comment_feed.rs.
    super::comment_feed::SQLITE_MIGRATION,
    // 9: which ratings details reached first (see storage/early_details.rs).
    super::early_details::SQLITE_MIGRATION,
];

pub(super) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn now() -> String {
    ts(Utc::now())
}

pub(super) fn parse_uuid(s: &str) -> Result<Uuid, StorageError> {
    Uuid::parse_str(s).map_err(|e| StorageError::Corrupt(format!("uuid {s:?}: {e}")))
}

/// Create the database file readable by its owner alone (0600) before SQLite opens it;
/// SQLite gives its `-wal` and `-shm` files the same mode.
fn create_private_file(path: &PathBuf) -> Result<(), StorageError> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StorageError::Worker(format!(
            "creating {}: {e}",
            path.display()
        ))),
    }
}

fn open_connection(path: &PathBuf) -> Result<Connection, StorageError> {
    let conn = Connection::open(path)?;
    // Deleted rows (an erased regular) are overwritten with zeros, not left in free pages.
    conn.pragma_update(None, "secure_delete", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // FULL: an event acknowledged as accepted survives a power cut.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<(), StorageError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
    let current: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
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
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", version)?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// SQLite storage: see the module documentation.
pub struct SqliteStorage {
    writer: Arc<Mutex<Connection>>,
    readers: Vec<Arc<Mutex<Connection>>>,
    next_reader: std::sync::atomic::AtomicUsize,
}

/// Reader connections: enough for the two cores of a small box and a report at once.
const READERS: usize = 4;

impl SqliteStorage {
    /// Open or create the file at `path`, and bring its schema up to date.
    pub async fn open(path: PathBuf) -> Result<SqliteStorage, StorageError> {
        tokio::task::spawn_blocking(move || {
            create_private_file(&path)?;
            let mut writer = open_connection(&path)?;
            migrate(&mut writer)?;
            let readers = (0..READERS)
                .map(|_| open_connection(&path).map(|c| Arc::new(Mutex::new(c))))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(SqliteStorage {
                writer: Arc::new(Mutex::new(writer)),
                readers,
                next_reader: std::sync::atomic::AtomicUsize::new(0),
            })
        })
        .await
        .map_err(|e| StorageError::Worker(e.to_string()))?
    }

    async fn with<T, F>(conn: &Arc<Mutex<Connection>>, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StorageError> + Send + 'static,
    {
        let conn = Arc::clone(conn);
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| StorageError::Worker("a database call panicked earlier".into()))?;
            f(&mut guard)
        })
        .await
        .map_err(|e| StorageError::Worker(e.to_string()))?
    }

    pub(super) async fn write<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StorageError> + Send + 'static,
    {
        Self::with(&self.writer, f).await
    }

    pub(super) async fn read<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StorageError> + Send + 'static,
    {
        let i = self
            .next_reader
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            % self.readers.len();
        Self::with(&self.readers[i], f).await
    }
}

/// Read the facts the rules need about a batch, in one query per kind of fact.
fn facts(tx: &rusqlite::Transaction<'_>, wanted: &rules::Wanted) -> Result<Facts, StorageError> {
    let mut facts = Facts::default();
    let as_json = |ids: &[Uuid]| {
        serde_json::to_string(&ids.iter().map(Uuid::to_string).collect::<Vec<_>>())
            .map_err(|e| StorageError::Corrupt(e.to_string()))
    };
    if !wanted.regular_ids.is_empty() {
        let ids = as_json(&wanted.regular_ids)?;
        let mut stmt = tx.prepare_cached(
            "SELECT regular_id FROM regular_tombstones \
             WHERE regular_id IN (SELECT value FROM json_each(?1))",
        )?;
        for id in stmt.query_map([&ids], |r| r.get::<_, String>(0))? {
            facts.tombstoned.insert(parse_uuid(&id?)?);
        }
        let mut stmt = tx.prepare_cached(
            "SELECT regular_id, hlc, home_store_id FROM regular_profiles \
             WHERE regular_id IN (SELECT value FROM json_each(?1))",
        )?;
        let rows = stmt.query_map([&ids], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        for row in rows {
            let (id, hlc, home) = row?;
            facts.profiles.insert(
                parse_uuid(&id)?,
                StoredProfile {
                    hlc,
                    home_store_id: parse_uuid(&home)?,
                },
            );
        }
    }
    if !wanted.rating_ids.is_empty() {
        let ids = as_json(&wanted.rating_ids)?;
        let mut stmt = tx.prepare_cached(
            "SELECT id, store_id FROM ratings WHERE id IN (SELECT value FROM json_each(?1))",
        )?;
        let rows = stmt.query_map([&ids], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        for row in rows {
            let (id, store) = row?;
            facts
                .rating_owners
                .insert(parse_uuid(&id)?, parse_uuid(&store)?);
        }
    }
    Ok(facts)
}

/// One batch in one transaction: the facts, the rules ([`rules`]), the writes.
fn ingest_tx(
    conn: &mut Connection,
    device: &DeviceRecord,
    items: &[IngestItem],
) -> Result<Vec<Stored>, StorageError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let facts = facts(&tx, &rules::wanted(items))?;
    let screened = rules::screen(device.store_id, items, &facts);
    let device_id = device.id.to_string();
    let store_id = device.store_id.to_string();
    let mut inserted = HashSet::with_capacity(screened.candidates.len());
    {
        let mut insert_event = tx.prepare_cached(
            "INSERT INTO events (id, device_id, store_id, seq, kind, device_time, \
             utc_offset_minutes, received_at, flags, body) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (id) DO NOTHING",
        )?;
        for &i in &screened.candidates {
            let item = &items[i];
            let n = insert_event.execute(params![
                item.id.to_string(),
                device_id,
                store_id,
                item.seq,
                item.kind,
                ts(item.device_time),
                item.utc_offset_minutes,
                ts(item.received_at),
                item.flags,
                item.body,
            ])?;
            if n == 1 {
                inserted.insert(item.id);
            }
        }
    }
    let plan = rules::decide(device, items, &facts, screened, &inserted);
    apply(&tx, device, &plan)?;
    if let Some(at) = items.iter().map(|i| i.received_at).max() {
        tx.prepare_cached(
            "UPDATE devices SET last_seen_at = ?1 WHERE id = ?2 \
             AND (last_seen_at IS NULL OR last_seen_at < ?1)",
        )?
        .execute(params![ts(at), device_id])?;
    }
    tx.commit()?;
    if !plan.purged.is_empty() {
        // Move the zeroed pages into the main file and empty the WAL, so the erased
        // profile's old pages do not linger in the -wal file. Best effort: a reader in the
        // middle of a long query can stop the truncation, and the next checkpoint
        // finishes it.
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "checkpoint after an erasure failed");
        }
    }
    Ok(plan.outcomes)
}

/// Write what the rules decided, inside the batch's transaction.
fn apply(
    tx: &rusqlite::Transaction<'_>,
    device: &DeviceRecord,
    plan: &rules::Plan<'_>,
) -> Result<(), StorageError> {
    let device_id = device.id.to_string();
    let store_id = device.store_id.to_string();
    if !plan.ratings.is_empty() {
        let mut insert_rating = tx.prepare_cached(
            "INSERT INTO ratings (id, store_id, device_id, occurred_at, local_date, local_hour, \
             touchpoint, survey_version, scale, score, satisfied, nps, suspected_repeat, comment) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        )?;
        for (id, r) in &plan.ratings {
            insert_rating.execute(params![
                id.to_string(),
                store_id,
                device_id,
                ts(r.occurred_at),
                r.local_date.to_string(),
                r.local_hour,
                r.touchpoint,
                r.survey_version,
                r.scale,
                r.score,
                r.satisfied,
                r.nps,
                r.suspected_repeat,
                r.comment,
            ])?;
        }
    }
    // New ratings that details reached first: their markers are taken, and only for them
    // are the reasons and comment stored before them looked up.
    let mut hits: Vec<Uuid> = Vec::new();
    if !plan.ratings.is_empty() {
        let mut take = tx.prepare_cached(super::early_details::SQLITE_TAKE)?;
        let rows = take.query_map([ids_json(plan.ratings.iter().map(|(id, _)| *id))], |r| {
            r.get::<_, String>(0)
        })?;
        for id in rows {
            hits.push(parse_uuid(&id?)?);
        }
        hits.sort_unstable();
    }
    let mut rollup = super::sqlite_rollups::orphans(tx, &hits)?;
    if !plan.reasons.is_empty() {
        let mut insert_reason = tx.prepare_cached(
            "INSERT INTO rating_reasons (rating_id, reason) VALUES (?1, ?2) \
             ON CONFLICT DO NOTHING",
        )?;
        for (id, reason) in &plan.reasons {
            if insert_reason.execute(params![id.to_string(), reason])? == 1 {
                rollup.new_pairs.push((*id, *reason));
            }
        }
    }
    if !plan.comments.is_empty() {
        let mut upsert_comment = tx.prepare_cached(
            "INSERT INTO rating_comments (rating_id, comment) VALUES (?1, ?2) \
             ON CONFLICT (rating_id) DO UPDATE SET comment = excluded.comment",
        )?;
        for (id, comment) in &plan.comments {
            upsert_comment.execute(params![id.to_string(), comment])?;
        }
    }
    let (named, early) = super::comment_feed::candidates(plan, &hits);
    if !named.is_empty() || !early.is_empty() {
        tx.prepare_cached(super::comment_feed::SQLITE_KEEP)?
            .execute(params![
                ids_json(named.into_iter()),
                ids_json(early.into_iter())
            ])?;
    }
    if !plan.early.is_empty() {
        tx.prepare_cached(super::early_details::SQLITE_MARK)?
            .execute([ids_json(plan.early.iter().copied())])?;
    }
    // Before the NPS answers apply: the rollups move sums from the old answer.
    super::sqlite_rollups::keep(tx, device, plan, rollup)?;
    if !plan.nps.is_empty() {
        // After the ratings above: details may name a rating of this same batch.
        let mut set_nps =
            tx.prepare_cached("UPDATE ratings SET nps = ?2 WHERE id = ?1 AND store_id = ?3")?;
        for (id, nps) in &plan.nps {
            set_nps.execute(params![id.to_string(), nps, store_id])?;
        }
    }
    if !plan.writes_regulars() {
        return Ok(());
    }
    // Draw the batch's change sequences at once. SQLite has one writer at a time, so the
    // sequence commits in order.
    let n = plan.change_seqs as i64;
    let last: i64 = tx
        .prepare_cached("UPDATE regulars_clock SET last = last + ?1 WHERE id = 1 RETURNING last")?
        .query_row([n], |r| r.get(0))?;
    let seq = |k: usize| last - n + 1 + k as i64;
    for id in &plan.purged {
        let id = id.to_string();
        tx.prepare_cached("DELETE FROM regular_profiles WHERE regular_id = ?1")?
            .execute([&id])?;
        tx.prepare_cached("DELETE FROM regular_visits WHERE regular_id = ?1")?
            .execute([&id])?;
    }
    for t in &plan.tombstones {
        tx.prepare_cached(
            "INSERT INTO regular_tombstones (regular_id, erased_at, home_store_id, \
             local_date, change_seq) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
        )?
        .execute(params![
            t.regular_id.to_string(),
            ts(t.erased_at),
            t.home_store_id.to_string(),
            t.local_date.to_string(),
            seq(t.seq)
        ])?;
    }
    for p in &plan.profiles {
        tx.prepare_cached(
            "INSERT INTO regular_profiles (regular_id, home_store_id, hlc, profile, \
             first_local_date, change_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
             ON CONFLICT (regular_id) DO UPDATE SET hlc = excluded.hlc, \
             profile = excluded.profile, change_seq = excluded.change_seq \
             WHERE regular_profiles.hlc < excluded.hlc",
        )?
        .execute(params![
            p.regular_id.to_string(),
            p.home_store_id.to_string(),
            p.hlc,
            p.profile.0,
            p.first_local_date.to_string(),
            seq(p.seq)
        ])?;
    }
    for v in &plan.visits {
        tx.prepare_cached(
            "INSERT INTO regular_visits (id, regular_id, store_id, device_id, occurred_at, \
             local_date, rating_id, unhappy, change_seq) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (id) DO NOTHING",
        )?
        .execute(params![
            v.id.to_string(),
            v.regular_id.to_string(),
            store_id,
            device_id,
            ts(v.occurred_at),
            v.local_date.to_string(),
            v.rating_id.map(|r| r.to_string()),
            v.unhappy,
            seq(v.seq)
        ])?;
    }
    Ok(())
}

fn corrupt(what: &str) -> impl Fn(serde_json::Error) -> StorageError + '_ {
    move |e| StorageError::Corrupt(format!("{what}: {e}"))
}

pub(super) fn parse_time(s: &str) -> Result<DateTime<Utc>, StorageError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StorageError::Corrupt(format!("time {s:?}: {e}")))
}

fn pull_tx(
    conn: &mut Connection,
    store_id: Uuid,
    cursor: u64,
    limit: usize,
) -> Result<RegularsPage, StorageError> {
    // One read transaction: every query below sees the same snapshot.
    let tx = conn.transaction()?;
    let store = store_id.to_string();
    let scope: String = tx
        .query_row(
            "SELECT regulars_scope FROM stores WHERE id = ?1",
            [&store],
            |r| r.get(0),
        )
        .optional()?
        .ok_or(StorageError::NoSuchStore(store_id))?;
    let after = i64::try_from(cursor).unwrap_or(i64::MAX);
    let take = (limit + 1) as i64;
    let mut rows: Vec<(i64, Entry)> = Vec::new();
    {
        let mut stmt = tx.prepare_cached(&super::regulars_profiles_sql(|n| format!("?{n}")))?;
        let found = stmt.query_map(params![store, after, scope, take], |r| {
            Ok((r.get::<_, i64>(1)?, r.get::<_, String>(0)?))
        })?;
        for f in found {
            let (seq, json) = f?;
            rows.push((
                seq,
                Entry::Profile(Box::new(
                    serde_json::from_str(&json).map_err(corrupt("profile"))?,
                )),
            ));
        }
        let mut stmt = tx.prepare_cached(&super::regulars_visits_sql(|n| format!("?{n}")))?;
        let found = stmt.query_map(params![store, after, scope, take], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<bool>>(4)?,
                r.get::<_, i64>(5)?,
            ))
        })?;
        for f in found {
            let (id, at, regular_id, rating_id, unhappy, seq) = f?;
            rows.push((
                seq,
                Entry::Visit(countertop_protocol::VisitRecord {
                    id: parse_uuid(&id)?,
                    at: parse_time(&at)?,
                    visit: countertop_protocol::Visit {
                        regular_id: parse_uuid(&regular_id)?,
                        rating_id: rating_id.as_deref().map(parse_uuid).transpose()?,
                        unhappy,
                    },
                }),
            ));
        }
        let mut stmt = tx.prepare_cached(
            "SELECT regular_id, erased_at, change_seq FROM regular_tombstones \
             WHERE change_seq > ?1 ORDER BY change_seq LIMIT ?2",
        )?;
        let found = stmt.query_map(params![after, take], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        for f in found {
            let (id, at, seq) = f?;
            rows.push((
                seq,
                Entry::Erased(countertop_protocol::RegularErased {
                    regular_id: parse_uuid(&id)?,
                    erased_at: parse_time(&at)?,
                }),
            ));
        }
    }
    let newest: i64 = tx.query_row("SELECT last FROM regulars_clock WHERE id = 1", [], |r| {
        r.get(0)
    })?;
    Ok(super::page_of(rows, cursor, newest, limit))
}

use super::PullEntry as Entry;

/// `Err(NoSuchStore)` unless the store exists, so a report on a mistyped id is an error
/// and not a page of zeros.
pub(super) fn store_exists(c: &Connection, store: Uuid) -> Result<(), StorageError> {
    c.prepare_cached("SELECT 1 FROM stores WHERE id = ?1")?
        .query_row([store.to_string()], |_| Ok(()))
        .optional()?
        .ok_or(StorageError::NoSuchStore(store))
}

#[async_trait]
impl Storage for SqliteStorage {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn create_store(&self, name: &str, timezone: &str) -> Result<Uuid, StorageError> {
        let id = Uuid::now_v7();
        let config = serde_json::to_string(&super::new_store_survey(name))
            .map_err(|e| StorageError::Corrupt(e.to_string()))?;
        let (name, timezone) = (name.to_owned(), timezone.to_owned());
        self.write(move |c| {
            c.execute(
                "INSERT INTO stores (id, name, timezone, config, config_version, created_at) \
                 VALUES (?1, ?2, ?3, ?4, 1, ?5)",
                params![id.to_string(), name, timezone, config, now()],
            )?;
            Ok(id)
        })
        .await
    }

    async fn store(&self, id: Uuid) -> Result<Option<StoreRecord>, StorageError> {
        self.read(move |c| {
            let row = c
                .query_row(
                    "SELECT name, timezone, config_version, config, regulars_scope \
                     FROM stores WHERE id = ?1",
                    [id.to_string()],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, i64>(2)?,
                            r.get::<_, String>(3)?,
                            r.get::<_, String>(4)?,
                        ))
                    },
                )
                .optional()?;
            row.map(|(name, timezone, version, config, scope)| {
                Ok(StoreRecord {
                    regulars_scope: scope.parse().map_err(StorageError::Corrupt)?,
                    id,
                    name,
                    timezone,
                    config_version: version as u64,
                    config: serde_json::from_str(&config)
                        .map_err(|e| StorageError::Corrupt(format!("store config: {e}")))?,
                })
            })
            .transpose()
        })
        .await
    }

    async fn set_regulars_scope(
        &self,
        store_id: Uuid,
        scope: RegularsScope,
    ) -> Result<(), StorageError> {
        self.write(move |c| {
            let n = c.execute(
                "UPDATE stores SET regulars_scope = ?1 WHERE id = ?2",
                params![scope.as_str(), store_id.to_string()],
            )?;
            if n == 0 {
                return Err(StorageError::NoSuchStore(store_id));
            }
            Ok(())
        })
        .await
    }

    async fn pull_regulars(
        &self,
        store_id: Uuid,
        cursor: u64,
        limit: usize,
    ) -> Result<RegularsPage, StorageError> {
        self.read(move |c| pull_tx(c, store_id, cursor, limit))
            .await
    }

    async fn regulars_report(
        &self,
        query: &RegularsReportQuery,
    ) -> Result<RegularsTally, StorageError> {
        let query = query.clone();
        self.read(move |c| {
            if let Some(store) = query.store_id {
                store_exists(c, store)?;
            }
            let sql = super::regulars_report_sql(&query, |n| format!("?{n}"));
            let mut params: Vec<String> = vec![query.from.to_string(), query.to.to_string()];
            if let Some(s) = query.store_id {
                params.push(s.to_string());
            }
            let t = c.prepare_cached(&sql)?.query_row(
                rusqlite::params_from_iter(params.iter()),
                |r| {
                    let n = |i: usize| -> rusqlite::Result<u64> { Ok(r.get::<_, i64>(i)? as u64) };
                    Ok(RegularsTally {
                        regulars: n(0)?,
                        new_regulars: n(1)?,
                        visits: n(2)?,
                        unhappy_visits: n(3)?,
                        erasures: n(4)?,
                    })
                },
            )?;
            Ok(t)
        })
        .await
    }

    async fn set_config(&self, store_id: Uuid, config: &SurveyConfig) -> Result<u64, StorageError> {
        let mut config = config.clone();
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let current: Option<i64> = tx
                .query_row(
                    "SELECT config_version FROM stores WHERE id = ?1",
                    [store_id.to_string()],
                    |r| r.get(0),
                )
                .optional()?;
            let next = current.ok_or(StorageError::NoSuchStore(store_id))? + 1;
            config.version = next as u32;
            let json =
                serde_json::to_string(&config).map_err(|e| StorageError::Corrupt(e.to_string()))?;
            tx.execute(
                "UPDATE stores SET config = ?1, config_version = ?2 WHERE id = ?3",
                params![json, next, store_id.to_string()],
            )?;
            tx.commit()?;
            Ok(next as u64)
        })
        .await
    }

    async fn create_enroll_code(
        &self,
        store_id: Uuid,
        code_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let code_hash = code_hash.to_owned();
        self.write(move |c| {
            c.execute(
                "INSERT INTO enroll_codes (code_hash, store_id, expires_at, created_at) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![code_hash, store_id.to_string(), ts(expires_at), now()],
            )?;
            Ok(())
        })
        .await
    }

    async fn redeem_enroll_code(
        &self,
        code_hash: &str,
        now: DateTime<Utc>,
        device_id: Uuid,
        device_name: Option<&str>,
        token_hash: &str,
    ) -> Result<Redeemed, StorageError> {
        let (code_hash, token_hash) = (code_hash.to_owned(), token_hash.to_owned());
        let device_name = device_name.map(str::to_owned);
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let row: Option<(String, String, Option<String>)> = tx
                .query_row(
                    "SELECT store_id, expires_at, used_at FROM enroll_codes WHERE code_hash = ?1",
                    [&code_hash],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let code = row
                .map(|(store_id, expires_at, used_at)| {
                    Ok::<_, StorageError>(rules::EnrollCode {
                        store_id: parse_uuid(&store_id)?,
                        expires_at: parse_time(&expires_at)?,
                        used: used_at.is_some(),
                    })
                })
                .transpose()?;
            let store_id = match rules::redeem(code.as_ref(), now) {
                Ok(store_id) => store_id,
                Err(refused) => return Ok(refused),
            };
            tx.execute(
                "UPDATE enroll_codes SET used_at = ?1 WHERE code_hash = ?2",
                params![ts(now), code_hash],
            )?;
            tx.execute(
                "INSERT INTO devices (id, store_id, name, token_hash, enrolled_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    device_id.to_string(),
                    store_id.to_string(),
                    device_name,
                    token_hash,
                    ts(now)
                ],
            )?;
            tx.commit()?;
            Ok(Redeemed::Enrolled { store_id })
        })
        .await
    }

    async fn device_by_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<DeviceRecord>, StorageError> {
        let token_hash = token_hash.to_owned();
        self.read(move |c| {
            let row: Option<(String, String, String, bool)> = c
                .prepare_cached(
                    "SELECT d.id, d.store_id, s.timezone, d.revoked_at IS NOT NULL \
                     FROM devices d JOIN stores s ON s.id = d.store_id WHERE d.token_hash = ?1",
                )?
                .query_row([token_hash], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .optional()?;
            row.map(|(id, store, tz, revoked)| {
                Ok(DeviceRecord {
                    id: parse_uuid(&id)?,
                    store_id: parse_uuid(&store)?,
                    store_timezone: tz,
                    revoked,
                })
            })
            .transpose()
        })
        .await
    }

    async fn revoke_device(&self, device_id: Uuid) -> Result<bool, StorageError> {
        self.write(move |c| {
            let n = c.execute(
                "UPDATE devices SET revoked_at = COALESCE(revoked_at, ?1) WHERE id = ?2",
                params![now(), device_id.to_string()],
            )?;
            Ok(n > 0)
        })
        .await
    }

    async fn create_api_token(&self, name: &str, token_hash: &str) -> Result<Uuid, StorageError> {
        let id = Uuid::now_v7();
        let (name, token_hash) = (name.to_owned(), token_hash.to_owned());
        self.write(move |c| {
            c.execute(
                "INSERT INTO api_tokens (id, name, token_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![id.to_string(), name, token_hash, now()],
            )?;
            Ok(id)
        })
        .await
    }

    async fn api_token_state(&self, token_hash: &str) -> Result<TokenState, StorageError> {
        let token_hash = token_hash.to_owned();
        self.read(move |c| {
            let revoked: Option<bool> = c
                .prepare_cached(
                    "SELECT revoked_at IS NOT NULL FROM api_tokens WHERE token_hash = ?1",
                )?
                .query_row([token_hash], |r| r.get(0))
                .optional()?;
            Ok(match revoked {
                None => TokenState::Unknown,
                Some(true) => TokenState::Revoked,
                Some(false) => TokenState::Valid,
            })
        })
        .await
    }

    async fn revoke_api_token(&self, id: Uuid) -> Result<bool, StorageError> {
        self.write(move |c| {
            let n = c.execute(
                "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?1) WHERE id = ?2",
                params![now(), id.to_string()],
            )?;
            Ok(n > 0)
        })
        .await
    }

    async fn ingest(
        &self,
        device: &DeviceRecord,
        items: Vec<IngestItem>,
    ) -> Result<Vec<Stored>, StorageError> {
        let device = device.clone();
        self.write(move |c| ingest_tx(c, &device, &items)).await
    }

    async fn report(&self, query: &ReportQuery) -> Result<Vec<Tally>, StorageError> {
        if let Some(store) = query.store_id {
            self.read(move |c| store_exists(c, store)).await?;
        }
        let sql = super::analytics::report_sql(&super::analytics::SQLITE, query);
        Ok(super::analytics::tallies(self.cells(sql).await?))
    }

    async fn count_events(&self) -> Result<u64, StorageError> {
        self.read(|c| {
            let n: i64 = c.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))?;
            Ok(n as u64)
        })
        .await
    }

    async fn ping(&self) -> Result<(), StorageError> {
        self.read(|c| {
            c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?;
            Ok(())
        })
        .await
    }
}
