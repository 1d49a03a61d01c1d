//! The two schemas cannot drift: both backends are opened fresh and their tables,
//! columns, (normalised) types, nullability, keys and indexes compared. PostgreSQL uses
//! real types (`date`, `boolean`, `uuid`, `timestamptz`); SQLite keeps its affinities.
//! Also: a database written by a newer HQ is refused at start, on both backends, and an
//! old PostgreSQL database migrates forward to the real types with its data.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use countertop_hq::{open_storage, StorageError};

/// A column as both backends can describe it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Column {
    /// `text` or `integer`: the SQLite affinity, or what a PostgreSQL type maps to.
    kind: String,
    not_null: bool,
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Schema {
    /// table → column → description
    tables: BTreeMap<String, BTreeMap<String, Column>>,
    /// table → primary key columns, in order
    primary_keys: BTreeMap<String, Vec<String>>,
    /// (table, columns) of unique constraints other than the primary key
    uniques: BTreeSet<(String, Vec<String>)>,
    /// index name → (table, columns), for named indexes
    indexes: BTreeMap<String, (String, Vec<String>)>,
}

/// Tables one backend has for its own bookkeeping, which the other does without.
const SQLITE_ONLY: &[&str] = &["regulars_clock"]; // PostgreSQL uses a sequence
const POSTGRES_ONLY: &[&str] = &["schema_migrations"]; // SQLite uses PRAGMA user_version

fn sqlite_kind(declared: &str) -> String {
    match declared.to_ascii_uppercase().as_str() {
        "TEXT" => "text".into(),
        "INTEGER" => "integer".into(),
        other => format!("unexpected SQLite type {other}"),
    }
}

fn postgres_kind(data_type: &str) -> String {
    match data_type {
        "text" | "uuid" | "date" | "timestamp with time zone" | "jsonb" => "text".into(),
        "smallint" | "integer" | "bigint" | "boolean" => "integer".into(),
        other => format!("unexpected PostgreSQL type {other}"),
    }
}

fn sqlite_schema(path: &std::path::Path) -> Schema {
    let c = rusqlite::Connection::open(path).expect("open");
    let mut s = Schema::default();
    let tables: Vec<String> = c
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             ORDER BY name",
        )
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("tables")
        .collect::<Result<_, _>>()
        .expect("tables");
    for t in tables
        .into_iter()
        .filter(|t| !SQLITE_ONLY.contains(&t.as_str()))
    {
        let mut cols = BTreeMap::new();
        let mut pk: Vec<(i64, String)> = Vec::new();
        let mut stmt = c
            .prepare("SELECT name, type, \"notnull\", pk FROM pragma_table_info(?1)")
            .expect("prepare");
        let rows = stmt
            .query_map([&t], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, bool>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })
            .expect("columns");
        for row in rows {
            let (name, ty, not_null, pk_pos) = row.expect("column");
            if pk_pos > 0 {
                pk.push((pk_pos, name.clone()));
            }
            // A primary key column is NOT NULL in PostgreSQL; in SQLite only when said.
            let not_null = not_null || pk_pos > 0;
            cols.insert(
                name,
                Column {
                    kind: sqlite_kind(&ty),
                    not_null,
                },
            );
        }
        pk.sort();
        s.primary_keys
            .insert(t.clone(), pk.into_iter().map(|(_, n)| n).collect());
        let mut stmt = c
            .prepare("SELECT name, origin FROM pragma_index_list(?1)")
            .expect("prepare");
        let indexes: Vec<(String, String)> = stmt
            .query_map([&t], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("indexes")
            .collect::<Result<_, _>>()
            .expect("indexes");
        for (index, origin) in indexes {
            let columns: Vec<String> = c
                .prepare("SELECT name FROM pragma_index_info(?1) ORDER BY seqno")
                .expect("prepare")
                .query_map([&index], |r| r.get(0))
                .expect("index columns")
                .collect::<Result<_, _>>()
                .expect("index columns");
            match origin.as_str() {
                "u" => {
                    s.uniques.insert((t.clone(), columns));
                }
                "c" => {
                    s.indexes.insert(index, (t.clone(), columns));
                }
                _ => {} // "pk": compared as the primary key
            }
        }
        s.tables.insert(t, cols);
    }
    s
}

async fn postgres_schema(url: &str) -> Schema {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    let mut s = Schema::default();
    for r in client
        .query(
            "SELECT table_name::text, column_name::text, data_type::text, is_nullable = 'NO' \
             FROM information_schema.columns WHERE table_schema = 'public' \
             ORDER BY table_name, ordinal_position",
            &[],
        )
        .await
        .expect("columns")
    {
        let table: String = r.get(0);
        if POSTGRES_ONLY.contains(&table.as_str()) {
            continue;
        }
        s.tables.entry(table).or_default().insert(
            r.get(1),
            Column {
                kind: postgres_kind(r.get(2)),
                not_null: r.get(3),
            },
        );
    }
    for r in client
        .query(
            "SELECT t.relname::text, i.relname::text, ix.indisprimary, \
             EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ix.indexrelid \
                     AND c.contype = 'u'), \
             ARRAY(SELECT a.attname::text FROM unnest(ix.indkey) WITH ORDINALITY AS k(n, o) \
                   JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.n \
                   ORDER BY k.o) \
             FROM pg_index ix \
             JOIN pg_class i ON i.oid = ix.indexrelid \
             JOIN pg_class t ON t.oid = ix.indrelid \
             JOIN pg_namespace n ON n.oid = t.relnamespace \
             WHERE n.nspname = 'public'",
            &[],
        )
        .await
        .expect("indexes")
    {
        let (table, index): (String, String) = (r.get(0), r.get(1));
        if POSTGRES_ONLY.contains(&table.as_str()) {
            continue;
        }
        let columns: Vec<String> = r.get(4);
        if r.get::<_, bool>(2) {
            s.primary_keys.insert(table, columns);
        } else if r.get::<_, bool>(3) {
            s.uniques.insert((table, columns));
        } else {
            s.indexes.insert(index, (table, columns));
        }
    }
    for t in s.tables.keys() {
        s.primary_keys.entry(t.clone()).or_default();
    }
    s
}

/// PostgreSQL column types, for the real-types policy.
async fn postgres_types(url: &str) -> BTreeMap<(String, String), String> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
        .query(
            "SELECT table_name::text, column_name::text, data_type::text \
             FROM information_schema.columns WHERE table_schema = 'public'",
            &[],
        )
        .await
        .expect("columns")
        .iter()
        .map(|r| ((r.get(0), r.get(1)), r.get(2)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_schemas_have_the_same_tables_columns_types_and_indexes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("hq.db");
    drop(
        open_storage(&format!("sqlite:{}", path.display()))
            .await
            .expect("sqlite opens"),
    );
    let pg = common::pg::shared().fresh_database().await;
    drop(open_storage(&pg).await.expect("postgres opens"));

    let lite = sqlite_schema(&path);
    let post = postgres_schema(&pg).await;
    assert!(lite.tables.len() >= 11, "read the SQLite schema: {lite:?}");
    let names = |s: &Schema| s.tables.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&lite), names(&post), "the same tables");
    for (table, columns) in &lite.tables {
        assert_eq!(
            Some(columns),
            post.tables.get(table),
            "table {table}: the same columns, normalised types and nullability \
             (left SQLite, right PostgreSQL)"
        );
    }
    assert_eq!(
        lite.primary_keys, post.primary_keys,
        "the same primary keys"
    );
    assert_eq!(lite.uniques, post.uniques, "the same unique constraints");
    assert_eq!(lite.indexes, post.indexes, "the same named indexes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_uses_real_types_for_ids_times_dates_and_flags() {
    let pg = common::pg::shared().fresh_database().await;
    drop(open_storage(&pg).await.expect("postgres opens"));
    let types = postgres_types(&pg).await;
    let mut wrong = Vec::new();
    for ((table, column), ty) in &types {
        let want = if column == "id" && table != "schema_migrations" || column.ends_with("_id") {
            "uuid"
        } else if column.ends_with("_at") {
            "timestamp with time zone"
        } else if column.ends_with("_date") {
            "date"
        } else if ["satisfied", "suspected_repeat", "unhappy"].contains(&column.as_str()) {
            "boolean"
        } else {
            continue;
        };
        if ty != want {
            wrong.push(format!("{table}.{column} is {ty}, want {want}"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert_eq!(types[&("ratings".into(), "local_date".into())], "date");
    assert_eq!(types[&("ratings".into(), "satisfied".into())], "boolean");
}

fn newer(result: Result<std::sync::Arc<dyn countertop_hq::Storage>, StorageError>) -> String {
    match result {
        Err(e @ StorageError::NewerSchema { found: 99, .. }) => e.to_string(),
        Err(other) => panic!("expected a newer-schema error, got {other}"),
        Ok(_) => panic!("a database from a newer HQ was opened"),
    }
}

#[tokio::test]
async fn sqlite_written_by_a_newer_hq_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("hq.db");
    let url = format!("sqlite:{}", path.display());
    drop(open_storage(&url).await.expect("opens"));
    let c = rusqlite::Connection::open(&path).expect("open");
    c.pragma_update(None, "user_version", 99)
        .expect("set version");
    drop(c);
    let message = newer(open_storage(&url).await);
    assert!(message.contains("newer countertop-hq"), "{message}");
    let c = rusqlite::Connection::open(&path).expect("open");
    let v: i64 = c
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("version");
    assert_eq!(v, 99, "the refused database is not rewritten");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_written_by_a_newer_hq_is_refused() {
    let pg = common::pg::shared().fresh_database().await;
    drop(open_storage(&pg).await.expect("opens"));
    let (client, conn) = tokio_postgres::connect(&pg, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
        .execute("INSERT INTO schema_migrations (version) VALUES (99)", &[])
        .await
        .expect("newer version");
    let message = newer(open_storage(&pg).await);
    assert!(message.contains("newer countertop-hq"), "{message}");
}

#[test]
fn serve_on_a_database_from_a_newer_hq_exits_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("hq.db");
    let c = rusqlite::Connection::open(&path).expect("open");
    c.pragma_update(None, "user_version", 99)
        .expect("set version");
    drop(c);
    let out = common::process::run(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            &format!("sqlite:{}", path.display()),
        ],
        dir.path(),
        &[],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("schema version 99") && stderr.contains("newer countertop-hq"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_postgres_database_migrates_to_real_types_keeping_its_ratings() {
    use countertop_hq::storage::{postgres_migrations, ReportQuery};
    let pg = common::pg::shared().fresh_database().await;
    let (client, conn) = tokio_postgres::connect(&pg, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    // The database as HQ left it at schema version 2: text dates, int4 flags.
    client
        .batch_execute("CREATE TABLE schema_migrations (version int8 PRIMARY KEY)")
        .await
        .expect("versions");
    for (i, sql) in postgres_migrations()[..2].iter().enumerate() {
        client.batch_execute(sql).await.expect("old migration");
        client
            .execute(
                "INSERT INTO schema_migrations (version) VALUES ($1)",
                &[&(i as i64 + 1)],
            )
            .await
            .expect("version");
    }
    let store = uuid::Uuid::now_v7();
    client
        .batch_execute(&format!(
            "INSERT INTO stores (id, name, timezone, config, config_version) \
             VALUES ('{store}', 'Old Shop', 'UTC', '{{}}', 1); \
             INSERT INTO ratings (id, store_id, device_id, occurred_at, local_date, local_hour, \
             touchpoint, survey_version, scale, score, satisfied, nps, suspected_repeat) VALUES \
             ('{r1}', '{store}', '{store}', now(), '2026-11-20', 9, 'visit', 1, 5, 5, 1, NULL, false), \
             ('{r2}', '{store}', '{store}', now(), '2026-11-20', 9, 'visit', 1, 5, 2, 0, NULL, false); \
             INSERT INTO regular_tombstones (regular_id, erased_at, home_store_id, local_date, \
             change_seq) VALUES ('{store}', now(), '{store}', '2026-11-20', 1);",
            r1 = uuid::Uuid::now_v7(),
            r2 = uuid::Uuid::now_v7(),
        ))
        .await
        .expect("old rows");

    let storage = open_storage(&pg).await.expect("migrates");
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).expect("date");
    let tally = storage
        .report(&ReportQuery {
            from: day,
            to: day,
            store_id: Some(store),
            group_by: None,
            include_repeats: false,
        })
        .await
        .expect("report");
    assert_eq!((tally[0].count, tally[0].satisfied), (2, 1));
    let types = postgres_types(&pg).await;
    assert_eq!(types[&("ratings".into(), "local_date".into())], "date");
    assert_eq!(types[&("ratings".into(), "satisfied".into())], "boolean");
    assert_eq!(
        types[&("regular_tombstones".into(), "local_date".into())],
        "date"
    );
}
