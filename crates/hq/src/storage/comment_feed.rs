//! The comments feed's narrow table, `comment_feed`, kept at ingest in the batch's own
//! transaction (like the rollups), so a store page finds its newest comments without
//! reading every rating of its range.
//!
//! Why: the feed used to walk `ratings (store_id, occurred_at)` newest first and stop at a
//! full page, which is quick when comments are common but reads a store's whole range when
//! it has none (40–125 ms for a quarter at 10,000,000 ratings, 6 s at p99 under load).
//! Only about one rating in ten carries a comment, so a table of just those, keyed the way
//! the feed reads (store, time, id), is a tenth the size and every row it walks is a hit.
//!
//! The invariant: every rating whose comment is not NULL (its own, or one added by
//! details: `COALESCE(rating_comments.comment, ratings.comment)`) has a row here. A row
//! carries the rating's local date, score and repeat flag, which never change after
//! ingest, so the range and those two filters need nothing else (and PostgreSQL, whose
//! estimate for filters spread over two joined tables was a handful of rows, then plans
//! a walk of the key that stops at a full page instead of a sort of the whole range). Rows are never deleted; the feed query still joins the
//! rating and checks its comment, so a superset would stay correct. A batch keeps it
//! with one statement after its ratings and comments went in ([`SQLITE_KEEP`],
//! [`POSTGRES_KEEP`]), for the ids [`candidates`] picks:
//! - a new rating with its own comment;
//! - a rating named by a details comment (if it is stored yet);
//! - a new rating without its own comment that details reached first, if they stored a
//!   comment for it (`early_details.rs`).

use uuid::Uuid;

use super::rules::Plan;

/// Builds `comment_feed` from the raw rows (both backends): what the migrations run after
/// creating the table, and (through [`FILL_SQL`]) what the benchmark runs after seeding
/// raw rows in bulk.
macro_rules! fill_sql {
    () => {
        "INSERT INTO comment_feed (store_id, occurred_at, rating_id, local_date, score, \
         suspected_repeat) \
         SELECT r.store_id, r.occurred_at, r.id, r.local_date, r.score, r.suspected_repeat \
         FROM ratings r \
         WHERE r.comment IS NOT NULL \
         OR EXISTS (SELECT 1 FROM rating_comments c WHERE c.rating_id = r.id);\n"
    };
}

/// The fill statement, for a database whose raw rows were written around ingest.
pub const FILL_SQL: &str = fill_sql!();

/// SQLite migration 8: the table, filled from the rows so far.
pub(crate) const SQLITE_MIGRATION: &str = concat!(
    r#"
CREATE TABLE comment_feed (
    store_id TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    rating_id TEXT NOT NULL,
    local_date TEXT NOT NULL,
    score INTEGER NOT NULL,
    suspected_repeat INTEGER NOT NULL,
    PRIMARY KEY (store_id, occurred_at, rating_id)
) WITHOUT ROWID;
"#,
    fill_sql!()
);

/// PostgreSQL migration 9: the table, filled from the rows so far.
pub(crate) const POSTGRES_MIGRATION: &str = concat!(
    r#"
CREATE TABLE comment_feed (
    store_id uuid NOT NULL,
    occurred_at timestamptz NOT NULL,
    rating_id uuid NOT NULL,
    local_date date NOT NULL,
    score int4 NOT NULL,
    suspected_repeat boolean NOT NULL,
    PRIMARY KEY (store_id, occurred_at, rating_id)
);
"#,
    fill_sql!()
);

/// The ids a batch may add feed rows for: `(named, early)`. `named`: new ratings with
/// their own comment, and ratings a details comment names (added if stored); `early`: new
/// ratings without one that details reached first (`hits`, see `early_details.rs`: added
/// if those details left a comment).
pub(super) fn candidates(plan: &Plan<'_>, hits: &[Uuid]) -> (Vec<Uuid>, Vec<Uuid>) {
    let mut named: Vec<Uuid> = plan
        .ratings
        .iter()
        .filter(|(_, r)| r.comment.is_some())
        .map(|(id, _)| *id)
        .chain(plan.comments.iter().map(|(id, _)| *id))
        .collect();
    named.sort_unstable();
    named.dedup();
    let early = hits
        .iter()
        .copied()
        .filter(|id| named.binary_search(id).is_err())
        .collect();
    (named, early)
}

/// SQLite's upkeep statement: `?1` and `?2` are JSON arrays of the [`candidates`].
pub(super) const SQLITE_KEEP: &str = "INSERT OR IGNORE INTO comment_feed (store_id, \
     occurred_at, rating_id, local_date, score, suspected_repeat) \
     SELECT r.store_id, r.occurred_at, r.id, r.local_date, r.score, r.suspected_repeat \
     FROM ratings r \
     WHERE r.id IN (SELECT value FROM json_each(?1)) \
     UNION ALL \
     SELECT r.store_id, r.occurred_at, r.id, r.local_date, r.score, r.suspected_repeat \
     FROM rating_comments c JOIN ratings r ON r.id = c.rating_id \
     WHERE c.rating_id IN (SELECT value FROM json_each(?2))";

/// PostgreSQL's upkeep statement: `$1` and `$2` are `uuid[]`s of the [`candidates`].
pub(super) const POSTGRES_KEEP: &str = "INSERT INTO comment_feed (store_id, occurred_at, \
     rating_id, local_date, score, suspected_repeat) \
     SELECT r.store_id, r.occurred_at, r.id, r.local_date, r.score, r.suspected_repeat \
     FROM ratings r WHERE r.id = ANY($1) \
     UNION ALL \
     SELECT r.store_id, r.occurred_at, r.id, r.local_date, r.score, r.suspected_repeat \
     FROM rating_comments c JOIN ratings r ON r.id = c.rating_id \
     WHERE c.rating_id = ANY($2) \
     ON CONFLICT DO NOTHING";
