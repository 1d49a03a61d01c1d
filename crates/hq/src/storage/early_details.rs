//! Details that reached HQ before their rating: which ratings they name.
//!
//! A kiosk sends a rating before its details, so nearly always the rating is stored when
//! its details come. When they come first (a rating retried after its details were
//! accepted, or the two pushed to two HQ processes), their reasons and comment are stored
//! under the rating's id and wait for it; when it comes, the rollups count those reasons
//! and the comments feed adds its row. Finding them used to cost a lookup in
//! `rating_reasons` and one in `rating_comments` for every new rating of every batch,
//! about a fifth of ingest's time. `early_details` names only the ratings details reached
//! first ([`super::rules::Plan::early`]), so a batch looks its new ratings up in a table
//! that is nearly always empty, and deletes the markers it finds in the same statement.

/// Marks the ratings that stored details name before they are stored themselves: what
/// the migrations fill the table with.
macro_rules! fill_sql {
    () => {
        "INSERT INTO early_details (rating_id) \
         SELECT x.rating_id FROM rating_reasons x \
         WHERE NOT EXISTS (SELECT 1 FROM ratings r WHERE r.id = x.rating_id) \
         UNION \
         SELECT c.rating_id FROM rating_comments c \
         WHERE NOT EXISTS (SELECT 1 FROM ratings r WHERE r.id = c.rating_id);\n"
    };
}

/// The fill statement, for a database whose raw rows were written around ingest.
pub const FILL_SQL: &str = fill_sql!();

/// SQLite migration 9: the table, filled from the rows so far.
pub(crate) const SQLITE_MIGRATION: &str = concat!(
    "CREATE TABLE early_details (rating_id TEXT PRIMARY KEY) WITHOUT ROWID;\n",
    fill_sql!()
);

/// PostgreSQL migration 10: the table, filled from the rows so far.
pub(crate) const POSTGRES_MIGRATION: &str = concat!(
    "CREATE TABLE early_details (rating_id uuid PRIMARY KEY);\n",
    fill_sql!()
);

/// SQLite: takes the markers of the new ratings in `?1` (a JSON array of ids), returning
/// the ids that had one.
pub(super) const SQLITE_TAKE: &str = "DELETE FROM early_details \
     WHERE rating_id IN (SELECT value FROM json_each(?1)) RETURNING rating_id";

/// SQLite: marks the ratings in `?1` (a JSON array of ids).
pub(super) const SQLITE_MARK: &str =
    "INSERT OR IGNORE INTO early_details (rating_id) SELECT value FROM json_each(?1)";

/// PostgreSQL: marks the ratings in `$1`.
pub(super) const POSTGRES_MARK: &str = "INSERT INTO early_details (rating_id) \
     SELECT * FROM UNNEST($1::uuid[]) ON CONFLICT DO NOTHING";
