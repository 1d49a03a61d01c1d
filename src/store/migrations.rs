//! Versioned schema migrations, tracked in `PRAGMA user_version`.
//!
//! Each entry upgrades the schema by one version inside a transaction. Entries are never
//! edited once released; a change is a new entry at the end.

use rusqlite::Connection;

use super::{Result, StoreError};

const MIGRATIONS: &[&str] = &[
    // 1: ratings, the per-device sequence, and the outbox that sync drains.
    "CREATE TABLE device (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        device_uuid TEXT NOT NULL,
        next_seq INTEGER NOT NULL
     );
     CREATE TABLE ratings (
        id TEXT PRIMARY KEY,
        seq INTEGER NOT NULL UNIQUE,
        recorded_at TEXT NOT NULL,
        utc_offset_minutes INTEGER NOT NULL,
        survey_version INTEGER NOT NULL,
        touchpoint TEXT NOT NULL,
        scale INTEGER NOT NULL CHECK (scale IN (4, 5)),
        score INTEGER NOT NULL CHECK (score BETWEEN 1 AND scale),
        reasons TEXT NOT NULL DEFAULT '[]',
        comment TEXT CHECK (comment IS NULL OR length(comment) <= 500),
        suspected_repeat INTEGER NOT NULL DEFAULT 0
     ) WITHOUT ROWID;
     CREATE INDEX ratings_by_time ON ratings (recorded_at);
     CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY,
        event_id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        device_time TEXT NOT NULL,
        utc_offset_minutes INTEGER NOT NULL,
        body TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending'
            CHECK (state IN ('pending', 'acked', 'quarantined')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT
     );
     CREATE INDEX outbox_pending ON outbox (state, seq);",
    // 2: the link to head office, sync bookkeeping, and the survey HQ pushed down.
    "CREATE TABLE hq_link (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        hq_url TEXT NOT NULL,
        device_id TEXT NOT NULL,
        store_id TEXT NOT NULL,
        device_token TEXT NOT NULL,
        enrolled_at TEXT NOT NULL
     );
     CREATE TABLE sync_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        config_cursor INTEGER NOT NULL DEFAULT 0,
        clock_offset_ms INTEGER,
        last_success TEXT,
        last_error TEXT,
        last_health TEXT
     );
     INSERT INTO sync_state (id) VALUES (1);
     CREATE TABLE hq_survey (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        config TEXT NOT NULL
     );
     ALTER TABLE outbox ADD COLUMN settled_at TEXT;
     -- The rating an event is about (its own id for `rating`), so pruning finds a
     -- rating's events by index instead of scanning the outbox.
     ALTER TABLE outbox ADD COLUMN rating_id TEXT;
     UPDATE outbox SET rating_id = CASE kind
         WHEN 'rating' THEN event_id
         WHEN 'rating_details' THEN json_extract(body, '$.rating_id') END;
     CREATE INDEX outbox_by_rating ON outbox (rating_id) WHERE rating_id IS NOT NULL;",
    // 3: staff PIN hashes (argon2, PHC strings) and the PIN pad's lockout, which
    // survives a restart. A role without a row still has its default PIN.
    "CREATE TABLE staff_pins (
        role TEXT PRIMARY KEY CHECK (role IN ('barista', 'manager')),
        hash TEXT NOT NULL
     );
     CREATE TABLE pin_lockout (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        failed_attempts INTEGER NOT NULL DEFAULT 0,
        locked_until TEXT
     );
     INSERT INTO pin_lockout (id) VALUES (1);",
];

/// The schema version this build writes.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

pub fn apply(conn: &mut Connection) -> Result<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > LATEST {
        return Err(StoreError::NewerSchema {
            found: current,
            known: LATEST,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = index as i64 + 1;
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        if version == 1 {
            tx.execute(
                "INSERT INTO device (id, device_uuid, next_seq) VALUES (1, ?1, 1)",
                [uuid::Uuid::now_v7().to_string()],
            )?;
        }
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
    }
    Ok(())
}
