//! Versioned schema migrations, tracked in `PRAGMA user_version`.
//!
//! Each entry upgrades the schema by one version inside a transaction, and the version
//! bump is part of that same transaction: a power cut mid-upgrade leaves the file at the
//! version before, and the next start runs the interrupted entry again from its start.
//! Entries are never edited once released; a change is a new entry at the end.

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
    // 4: regulars. `key` is a compact integer that the search tables point at; `folded`
    // holds the name's words folded (no case, no diacritics) for the search's checks.
    // `regular_words` drives prefix search on name words and `regular_phones` holds every
    // suffix of each phone's digits, so "ends with" is an exact match and "contains" a
    // prefix range, both by index. `last_seen` orders results by the latest visit.
    // Visits keep the id of their `visit` event, so visits pulled back from HQ dedupe by
    // id. Tombstones carry only the id and the time. `outbox.regular_id` names the regular
    // an event carries, so an erasure finds every copy of its data in the queue by index.
    "CREATE TABLE regulars (
        key INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        hlc TEXT NOT NULL,
        name TEXT NOT NULL,
        phone TEXT,
        usual TEXT NOT NULL DEFAULT '{}',
        dietary TEXT,
        consent TEXT NOT NULL,
        folded TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        last_seen TEXT NOT NULL
     );
     CREATE INDEX regulars_by_seen ON regulars (last_seen);
     CREATE TABLE regular_words (
        word TEXT NOT NULL,
        regular INTEGER NOT NULL,
        PRIMARY KEY (word, regular)
     ) WITHOUT ROWID;
     CREATE TABLE regular_phones (
        suffix TEXT NOT NULL,
        regular INTEGER NOT NULL,
        PRIMARY KEY (suffix, regular)
     ) WITHOUT ROWID;
     CREATE TABLE visits (
        id TEXT PRIMARY KEY,
        regular_id TEXT NOT NULL,
        at TEXT NOT NULL,
        rating_id TEXT,
        unhappy INTEGER
     ) WITHOUT ROWID;
     CREATE INDEX visits_by_regular ON visits (regular_id, at);
     CREATE TABLE regular_tombstones (
        regular_id TEXT PRIMARY KEY,
        erased_at TEXT NOT NULL
     ) WITHOUT ROWID;
     CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
     ) WITHOUT ROWID;
     ALTER TABLE device ADD COLUMN last_hlc TEXT;
     ALTER TABLE sync_state ADD COLUMN regulars_cursor INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE outbox ADD COLUMN regular_id TEXT;
     CREATE INDEX outbox_by_regular ON outbox (regular_id) WHERE regular_id IS NOT NULL;",
    // privacy: the argon2id hash of the personal code a regular chooses when joining, which
    // proves it is them before "I'm already a regular" opens their record. NULL for
    // regulars who joined before codes: staff open their record with a PIN.
    "ALTER TABLE regulars ADD COLUMN code_hash TEXT;",
    // search: instant search at a million regulars. `regular_search` is a narrow copy of
    // each regular (folded name, phone digits) kept in last-seen order by triggers, so a
    // search walks it from the most recent and stops after a page of matches.
    // `regular_vocab` counts the regulars of each name word (by trigger), so a query's
    // plan needs no counting. `regular_pairs` holds every pair of a name's words, so two
    // words that are common alone but rare together are found by one index range.
    "CREATE TABLE regular_search (
        last_seen TEXT NOT NULL,
        key INTEGER NOT NULL,
        folded TEXT NOT NULL,
        phone TEXT,
        PRIMARY KEY (last_seen, key)
     ) WITHOUT ROWID;
     INSERT INTO regular_search (last_seen, key, folded, phone)
         SELECT last_seen, key, folded, phone FROM regulars;
     CREATE TRIGGER regular_search_insert AFTER INSERT ON regulars BEGIN
         INSERT INTO regular_search (last_seen, key, folded, phone)
             VALUES (new.last_seen, new.key, new.folded, new.phone);
     END;
     CREATE TRIGGER regular_search_update AFTER UPDATE OF last_seen, folded, phone ON regulars
     BEGIN
         DELETE FROM regular_search WHERE last_seen = old.last_seen AND key = old.key;
         INSERT INTO regular_search (last_seen, key, folded, phone)
             VALUES (new.last_seen, new.key, new.folded, new.phone);
     END;
     CREATE TRIGGER regular_search_delete AFTER DELETE ON regulars BEGIN
         DELETE FROM regular_search WHERE last_seen = old.last_seen AND key = old.key;
     END;
     CREATE TABLE regular_vocab (
        word TEXT PRIMARY KEY,
        regulars INTEGER NOT NULL
     ) WITHOUT ROWID;
     INSERT INTO regular_vocab (word, regulars)
         SELECT word, count(*) FROM regular_words GROUP BY word;
     CREATE TRIGGER regular_vocab_insert AFTER INSERT ON regular_words BEGIN
         INSERT OR IGNORE INTO regular_vocab (word, regulars) VALUES (new.word, 0);
         UPDATE regular_vocab SET regulars = regulars + 1 WHERE word = new.word;
     END;
     CREATE TRIGGER regular_vocab_delete AFTER DELETE ON regular_words BEGIN
         UPDATE regular_vocab SET regulars = regulars - 1 WHERE word = old.word;
         DELETE FROM regular_vocab WHERE word = old.word AND regulars <= 0;
     END;
     CREATE TABLE regular_pairs (
        pair TEXT NOT NULL,
        regular INTEGER NOT NULL,
        PRIMARY KEY (pair, regular)
     ) WITHOUT ROWID;
     CREATE INDEX migration_words_by_regular ON regular_words (regular, word);
     INSERT INTO regular_pairs (pair, regular)
         SELECT a.word || ' ' || b.word, a.regular
         FROM regular_words a JOIN regular_words b ON b.regular = a.regular AND b.word > a.word;
     DROP INDEX migration_words_by_regular;",
    // search: at a million regulars, candidates come out of the index rows in last-seen
    // order with no lookup into the 800 MB `regulars` table. `seen` is `last_seen` as
    // milliseconds (its text is always RFC 3339 UTC with milliseconds), computed from it,
    // so it cannot drift. Every index row carries its regular's `seen`: a prefix range of
    // words, pairs or phone suffixes yields (seen, key) pairs to sort, and one exact token
    // (a phone's last digits) reads its most recent regulars first and stops after a
    // page. `regular_search` is keyed by (seen, key) so a candidate's check is one lookup
    // close to the previous one. Rows are rebuilt here for databases that have regulars.
    "ALTER TABLE regulars ADD COLUMN seen INTEGER GENERATED ALWAYS AS
         (unixepoch(last_seen) * 1000 + CAST(substr(last_seen, 21, 3) AS INTEGER)) VIRTUAL;
     DROP TRIGGER regular_search_insert;
     DROP TRIGGER regular_search_update;
     DROP TRIGGER regular_search_delete;
     DROP TABLE regular_search;
     CREATE TABLE regular_search (
        seen INTEGER NOT NULL,
        key INTEGER NOT NULL,
        folded TEXT NOT NULL,
        phone TEXT,
        last_seen TEXT NOT NULL,
        PRIMARY KEY (seen, key)
     ) WITHOUT ROWID;
     INSERT INTO regular_search (seen, key, folded, phone, last_seen)
         SELECT seen, key, folded, phone, last_seen FROM regulars;
     CREATE TRIGGER regular_search_insert AFTER INSERT ON regulars BEGIN
         INSERT INTO regular_search (seen, key, folded, phone, last_seen)
             VALUES (new.seen, new.key, new.folded, new.phone, new.last_seen);
     END;
     CREATE TRIGGER regular_search_update AFTER UPDATE OF last_seen, folded, phone ON regulars
     BEGIN
         DELETE FROM regular_search WHERE seen = old.seen AND key = old.key;
         INSERT INTO regular_search (seen, key, folded, phone, last_seen)
             VALUES (new.seen, new.key, new.folded, new.phone, new.last_seen);
     END;
     CREATE TRIGGER regular_search_delete AFTER DELETE ON regulars BEGIN
         DELETE FROM regular_search WHERE seen = old.seen AND key = old.key;
     END;
     CREATE TABLE regular_words_seen (
        word TEXT NOT NULL,
        seen INTEGER NOT NULL,
        regular INTEGER NOT NULL,
        PRIMARY KEY (word, seen, regular)
     ) WITHOUT ROWID;
     INSERT INTO regular_words_seen (word, seen, regular)
         SELECT w.word, r.seen, w.regular FROM regular_words w JOIN regulars r ON r.key = w.regular;
     DROP TABLE regular_words;
     ALTER TABLE regular_words_seen RENAME TO regular_words;
     CREATE TRIGGER regular_vocab_insert AFTER INSERT ON regular_words BEGIN
         INSERT OR IGNORE INTO regular_vocab (word, regulars) VALUES (new.word, 0);
         UPDATE regular_vocab SET regulars = regulars + 1 WHERE word = new.word;
     END;
     CREATE TRIGGER regular_vocab_delete AFTER DELETE ON regular_words BEGIN
         UPDATE regular_vocab SET regulars = regulars - 1 WHERE word = old.word;
         DELETE FROM regular_vocab WHERE word = old.word AND regulars <= 0;
     END;
     CREATE TABLE regular_pairs_seen (
        pair TEXT NOT NULL,
        seen INTEGER NOT NULL,
        regular INTEGER NOT NULL,
        PRIMARY KEY (pair, seen, regular)
     ) WITHOUT ROWID;
     INSERT INTO regular_pairs_seen (pair, seen, regular)
         SELECT p.pair, r.seen, p.regular FROM regular_pairs p JOIN regulars r ON r.key = p.regular;
     DROP TABLE regular_pairs;
     ALTER TABLE regular_pairs_seen RENAME TO regular_pairs;
     CREATE TABLE regular_phones_seen (
        suffix TEXT NOT NULL,
        seen INTEGER NOT NULL,
        regular INTEGER NOT NULL,
        PRIMARY KEY (suffix, seen, regular)
     ) WITHOUT ROWID;
     INSERT INTO regular_phones_seen (suffix, seen, regular)
         SELECT p.suffix, r.seen, p.regular FROM regular_phones p JOIN regulars r ON r.key = p.regular;
     DROP TABLE regular_phones;
     ALTER TABLE regular_phones_seen RENAME TO regular_phones;",
];

/// The schema version this build writes.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

pub fn apply(conn: &mut Connection) -> Result<()> {
    apply_until(conn, LATEST)
}

/// Applies the migrations up to schema `version` (tests build older files with it).
pub(super) fn apply_until(conn: &mut Connection, version: i64) -> Result<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > LATEST {
        return Err(StoreError::NewerSchema {
            found: current,
            known: LATEST,
        });
    }
    let wanted = (version - current).max(0) as usize;
    for (index, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(current as usize)
        .take(wanted)
    {
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
        pause_for_test(version);
        tx.commit()?;
    }
    Ok(())
}

/// The schema version whose migration starts with `sql`, for tests of one migration.
#[cfg(test)]
pub(super) fn version_starting(sql: &str) -> Option<i64> {
    MIGRATIONS
        .iter()
        .position(|m| m.starts_with(sql))
        .map(|i| i as i64 + 1)
}

/// Test hook for the power-cut test (`tests/never_bricks.rs`): with
/// `COUNTERTOP_TEST_PAUSE_IN_MIGRATION=N`, the process stops inside migration N's
/// transaction, after its changes and the version bump, before the commit, and says so on
/// stderr, so the test can SIGKILL it there. Unset, it costs one environment lookup.
fn pause_for_test(version: i64) {
    let pause = std::env::var("COUNTERTOP_TEST_PAUSE_IN_MIGRATION")
        .ok()
        .and_then(|v| v.parse::<i64>().ok());
    if pause == Some(version) {
        eprintln!("paused in migration {version}, before its commit");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}
