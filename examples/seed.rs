//! Fills a kiosk database with synthetic ratings, for start-up and scale benchmarks.
//!
//! `cargo run --release --example seed -- DATA_DIR 1000000 [--pending]`
//!
//! With `--pending` the ratings wait in the outbox as if never synced (a backlog);
//! otherwise they are marked as acknowledged by HQ.
//!
//! It opens the database through the real store (so the schema is current), then bulk
//! inserts ratings and their outbox rows in one transaction. Not a kiosk code path: a tap
//! commits one rating at a time.

use anyhow::{Context, Result};
use rusqlite::params;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().context("usage: seed DATA_DIR COUNT")?;
    let count: i64 = args.next().context("usage: seed DATA_DIR COUNT")?.parse()?;
    let state = if args.next().as_deref() == Some("--pending") {
        "pending"
    } else {
        "acked"
    };
    let path = std::path::Path::new(&dir).join("countertop.db");
    drop(countertop::store::Store::open(&path)?);

    let mut conn = rusqlite::Connection::open(&path)?;
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF;")?;
    let tx = conn.transaction()?;
    let first: i64 = tx.query_row("SELECT next_seq FROM device", [], |r| r.get(0))?;
    let start = chrono::Utc::now() - chrono::Duration::days(365);
    {
        let mut rating = tx.prepare(
            "INSERT INTO ratings (id, seq, recorded_at, utc_offset_minutes, survey_version,
                                  touchpoint, scale, score, suspected_repeat)
             VALUES (?1, ?2, ?3, 420, 1, 'visit', 5, ?4, 0)",
        )?;
        let mut outbox = tx.prepare(
            "INSERT INTO outbox (seq, event_id, kind, device_time, utc_offset_minutes, body, state,
                                 rating_id)
             VALUES (?1, ?2, 'rating', ?3, 420, ?4, ?5, ?2)",
        )?;
        for i in 0..count {
            let seq = first + i;
            let id = uuid::Uuid::now_v7().to_string();
            let at = (start + chrono::Duration::seconds(i * 31_536_000 / count.max(1)))
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            let score = i % 5 + 1;
            rating.execute(params![id, seq, at, score])?;
            let body = format!(
                r#"{{"score":{score},"scale":5,"touchpoint":"visit","survey_version":1,"suspected_repeat":false}}"#
            );
            outbox.execute(params![seq, id, at, body, state])?;
        }
    }
    tx.execute("UPDATE device SET next_seq = ?1", [first + count])?;
    tx.commit()?;
    println!("{count} ratings in {}", path.display());
    Ok(())
}
